"""Issue 16: a city given as building points with their dwelling counts, one region, no barriers
(as a housing authority's geocoded blocks come): nearly every micro-grid can be within +-10 %, and
civgrid must come within 3 points of the quality report's bound. Before the window-aware
refinement and the finer tower pieces, such a city (blocks of about 100 dwellings) reached 83.6 %
against a bound of 100 %.

The city is generated (`civgrid synth --style organic`), reduced to its buildings' centroids with
six times their households (blocks of 6-180 dwellings, about 100 on average), for two seeds.
"""
import json

import geopandas as gpd
import pytest

from conftest import run_cli


@pytest.mark.parametrize("seed", [1, 2])
def test_building_points_in_one_region_come_near_the_bound(tmp_path, seed):
    city = tmp_path / "city.gpkg"
    run_cli("synth", "--style", "organic", "--households", "20000", "--seed", str(seed), "-o", str(city))
    buildings = gpd.read_file(city, layer="buildings")
    points = gpd.GeoDataFrame({"households": buildings["households"].to_numpy() * 6},
                              geometry=buildings.geometry.centroid, crs=buildings.crs)
    blocks = tmp_path / "blocks.gpkg"
    points.to_file(blocks, layer="buildings", driver="GPKG")

    out = tmp_path / "out.gpkg"
    done = run_cli("partition", str(blocks), "-o", str(out), "--json")
    quality = json.loads(done.stdout)["quality"]
    assert quality["micro_grids"] == quality["requested"]
    assert quality["non_contiguous"] == 0
    assert quality["best_share_within_10pct"] >= 0.99  # no barriers: the counts allow nearly all
    assert quality["share_within_10pct"] >= quality["best_share_within_10pct"] - 0.03, quality

    # The file says the same as the run: micro-grids within +-10 % of their target, counted here.
    grids = gpd.read_file(out, layer="micro_grids", ignore_geometry=True)
    within = ((grids["households"] - grids["target"]).abs() <= 0.1 * grids["target"] + 1e-9).mean()
    assert within == pytest.approx(quality["share_within_10pct"], abs=1e-3)
    assert grids["households"].sum() == points["households"].sum()
