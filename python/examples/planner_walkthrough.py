#!/usr/bin/python3
"""A planner's walk-through: load shapefiles, partition, map the deviation, try another target.

    /usr/bin/python3 python/examples/planner_walkthrough.py --out walkthrough/

With --shapefiles DIR it reads DIR/buildings.shp, roads.shp, rivers.shp, railways.shp and
communities.shp; without, it first writes the sample city (civgrid synth --households 30000
--seed 1) as such shapefiles, so it runs anywhere. Shapefiles cut field names to 10 characters,
so the field options name the cut names. It writes, into --out:
    deviation_<target>.png       micro-grids coloured by household deviation from the target
    micro_grids_<target>.gpkg    the whole result, as `civgrid partition` writes it (opens in QGIS)
    comparison.csv               the two runs side by side
"""

from __future__ import annotations

import argparse
import os
import warnings
from typing import Dict

import geopandas as gpd
import matplotlib

matplotlib.use("Agg")  # files only: no display needed
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

import civgrid  # noqa: E402

LAYERS = ("buildings", "roads", "rivers", "railways", "communities")
# What the shapefile driver makes of the standard field names (at most 10 characters).
SHAPEFILE_FIELDS = dict(id_field="building_i", community_code_field="community_", street_code_field="street_cod",
                        district_code_field="district_c")


def load_shapefiles(folder: str) -> Dict[str, gpd.GeoDataFrame]:
    return {name: gpd.read_file(os.path.join(folder, name + ".shp")) for name in LAYERS}


def deviation_map(result: civgrid.Result, roads: gpd.GeoDataFrame, target: float, path: str) -> None:
    figure, axes = plt.subplots(figsize=(9, 9))
    result.micro_grids.plot(ax=axes, column="deviation", cmap="RdBu_r", vmin=-0.3, vmax=0.3, edgecolor="white",
                            linewidth=0.3, legend=True, legend_kwds={"label": "(households - target) / target",
                                                                     "shrink": 0.6})
    result.grids.boundary.plot(ax=axes, color="black", linewidth=0.8)
    roads.to_crs(result.crs).plot(ax=axes, color="grey", linewidth=0.4, alpha=0.6)
    axes.set_title(f"{len(result.micro_grids)} micro-grids of about {target:g} households")
    axes.set_axis_off()
    figure.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(figure)


def summary(result: civgrid.Result, target: float) -> Dict[str, float]:
    report = result.report
    return {
        "target_households": target,
        "micro_grids": len(result.micro_grids),
        "grids": len(result.grids),
        "mean_households": float(result.micro_grids.households.mean()),
        "share_within_10pct": float(report["share_within_10pct"]),
        "share_within_20pct": float(report["share_within_20pct"]),
        "polsby_popper_mean": float(report["polsby_popper_mean"]),
        "non_contiguous": int(report["non_contiguous"]),
        "barrier_crossings": int(report["barrier_crossings"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--shapefiles", help="folder with buildings.shp, roads.shp, rivers.shp, ...")
    parser.add_argument("--out", default="walkthrough", help="folder for the maps and results")
    parser.add_argument("--households", type=int, default=30000, help="size of the sample city (no --shapefiles)")
    parser.add_argument("--targets", type=float, nargs=2, default=(83, 120), metavar=("FIRST", "SECOND"))
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)

    # 1. Load shapefiles (the sample city's, written first when none are given).
    folder = args.shapefiles
    if folder is None:
        folder = os.path.join(args.out, "shapefiles")
        city = civgrid.synth_city(args.households, seed=1)
        with warnings.catch_warnings():  # the cut field names are expected (SHAPEFILE_FIELDS)
            warnings.filterwarnings("ignore", message="Column names longer than 10 characters")
            civgrid.City({name: city[name] for name in LAYERS}).to_files(folder)
    layers = load_shapefiles(folder)
    print("loaded", ", ".join(f"{name} ({len(frame)})" for name, frame in layers.items()))

    # 2-4. Partition, map the deviation, and again with another target.
    rows = []
    for target in args.targets:
        result = civgrid.partition(layers["buildings"], roads=layers["roads"], rivers=layers["rivers"],
                                   railways=layers["railways"], communities=layers["communities"],
                                   target_households=target, progress=False, **SHAPEFILE_FIELDS)
        deviation_map(result, layers["roads"], target, os.path.join(args.out, f"deviation_{target:g}.png"))
        result.to_gpkg(os.path.join(args.out, f"micro_grids_{target:g}.gpkg"), progress=False)
        rows.append(summary(result, target))
        print(result)

    # 5. Compare.
    comparison = pd.DataFrame(rows).set_index("target_households")
    comparison.to_csv(os.path.join(args.out, "comparison.csv"))
    print(comparison.T.to_string())


if __name__ == "__main__":
    main()
