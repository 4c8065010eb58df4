"""The report's counts against an independent check of the written output (issue 17, item 6 and the
last goal): flags against the flagged features, non-contiguous against the multipart polygons, gap,
overlap and outside against a shapely union-difference per community, duplicate_id against the
features sharing an id, and a roads layer of polygons reported with its feature counts. Each city is
generated (`civgrid synth`), altered with GeoPandas and read back from the GeoPackage civgrid wrote;
nothing here trusts civgrid's own geometry code."""
import json
import re

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import MultiPolygon, box
from shapely.ops import unary_union
from shapely.validation import make_valid

from conftest import run_cli

HARD = ("major", "trunk", "primary", "motorway")
LAYERS = ("districts", "streets", "communities", "roads", "railways", "rivers", "buildings")


def flag_counts(micro_grids: gpd.GeoDataFrame) -> dict:
    flags = micro_grids["flags"].fillna("")
    forced = flags.str.contains("forced_by_boundaries|large_building|no_households")
    return {"flagged": int(forced.sum()),
            "flagged_out_of_bounds": int(flags.str.contains("out_of_bounds").sum()),
            "flagged_multipart": int(flags.str.contains("multipart").sum())}


def parts(geometry) -> int:
    return len(geometry.geoms) if geometry.geom_type == "MultiPolygon" else 1


def coverage(micro_grids: gpd.GeoDataFrame, communities: gpd.GeoDataFrame):
    """(gap, overlap, outside) per the report's definitions, by shapely: per community, its area not
    covered by its micro-grids, the area its micro-grids cover twice, and micro-grids reaching outside it."""
    gap = overlap = 0.0
    outside = 0
    for code, community in communities.set_index("community_code").geometry.items():
        own = micro_grids[micro_grids.community_code == code].geometry
        united = unary_union(list(own))
        gap += community.difference(united).area
        overlap += max(0.0, own.area.sum() - united.area)
        outside += int(sum(g.difference(community).area > max(0.01, 1e-9 * g.area) for g in own))
    return gap, overlap, outside


def expect_report_matches_output(quality: dict, out, region_layer="communities"):
    micro_grids = gpd.read_file(out, layer="micro_grids")
    communities = gpd.read_file(out, layer=region_layer)
    buildings = gpd.read_file(out, layer="buildings", ignore_geometry=True)
    assert quality["micro_grids"] == len(micro_grids)
    for key, value in flag_counts(micro_grids).items():
        assert quality[key] == value, key
    assert quality["non_contiguous"] == int((micro_grids.geometry.apply(parts) > 1).sum())
    # Every multipart micro-grid says so in its flags.
    assert quality["non_contiguous"] <= quality["flagged_multipart"]
    gap, overlap, outside = coverage(micro_grids, communities)
    assert quality["gap_area_m2"] == pytest.approx(gap, abs=0.01, rel=1e-6)
    assert quality["overlap_area_m2"] == pytest.approx(overlap, abs=0.01, rel=1e-6)
    assert quality["outside_region"] == outside
    assert quality["buildings_unassigned"] == int(buildings.micro_grid_id.isna().sum())
    return micro_grids, gap, overlap


@pytest.fixture(scope="module")
def city_with_quirks(tmp_path_factory):
    """The sample city with roads as polygons (4 m each side), 19 buildings sharing 6 ids, and an
    island (60 m square, 200 m off the coast) in the easternmost community with a hut of no households."""
    folder = tmp_path_factory.mktemp("quirks")
    run_cli("synth", "--households", "3000", "--seed", "1", "-o", str(folder / "city.gpkg"))
    layers = {name: gpd.read_file(folder / "city.gpkg", layer=name) for name in LAYERS}
    layers["roads"]["geometry"] = layers["roads"].buffer(4, cap_style=2)
    buildings = layers["buildings"]
    ids = []
    for size in (2, 3, 3, 4, 4, 3):
        ids += [int(buildings.building_id.iloc[len(ids)])] * size
    buildings.loc[buildings.index[:len(ids)], "building_id"] = ids
    communities = layers["communities"]
    east = communities.geometry.bounds.maxx.idxmax()
    x, y = communities.total_bounds[2] + 200, communities.geometry[east].centroid.y
    island = box(x, y, x + 60, y + 60)
    communities["geometry"] = [MultiPolygon([g, island]) if i == east else g
                               for i, g in zip(communities.index, communities.geometry)]
    hut = buildings.iloc[[0]].copy()
    hut["geometry"] = [box(x + 20, y + 20, x + 30, y + 30)]
    hut["building_id"] = 999999
    hut["households"] = 0
    layers["buildings"] = pd.concat([buildings, hut], ignore_index=True)
    path = folder / "quirks.gpkg"
    for name, frame in layers.items():
        frame.to_file(path, layer=name, driver="GPKG")
    return path, layers


def test_report_counts_agree_with_the_output_and_the_inputs(city_with_quirks, tmp_path):
    path, layers = city_with_quirks
    out = tmp_path / "out.gpkg"
    result = json.loads(run_cli("partition", str(path), "-o", str(out), "--json", "--no-staffing").stdout)
    quality = result["quality"]
    micro_grids, gap, overlap = expect_report_matches_output(quality, out)
    # The island's micro-grid has two parts (its hut has no households: it joins a neighbour across
    # the water), and the summary says so.
    assert quality["non_contiguous"] >= 1
    assert gap < 1.0 and overlap < 1.0

    info = gpd.read_file(out, layer="run_info", ignore_geometry=True)
    imported = dict(zip(info[info.section == "import"].key, info[info.section == "import"].value))
    # duplicate_id: the count stated is the features listed, which are the features sharing an id.
    buildings = layers["buildings"]
    sharing = buildings[buildings.building_id.duplicated(keep=False)]
    finding = imported["buildings.reported.duplicate_id"]
    stated = int(re.search(r"(\d+) features", finding).group(1))
    listed = re.findall(r"(\d+) \('", finding.split("feature ids:", 1)[1])
    assert stated == len(listed) == len(sharing) == 19
    assert len(set(listed)) == len(listed)
    # The report's warning says the same count.
    assert any("19 reported (duplicate_id)" in w for w in result["warnings"])

    # Roads as polygons: the layer's count is its hard features, and the soft ones are said with the total.
    roads = layers["roads"]
    hard = int(roads["class"].isin(HARD).sum())
    assert 0 < hard < len(roads)
    assert imported["roads"].endswith(f"{hard} features")
    assert imported["roads.soft barriers"].startswith(f"{len(roads) - hard} of the layer's {len(roads)} features")
    # The hard ones are barriers of the output: each road polygon's outline, with the river's and
    # the railway's.
    barriers = gpd.read_file(out, layer="barriers")
    polygons = hard + int(layers["rivers"].geom_type.isin(["Polygon", "MultiPolygon"]).sum())
    assert int((barriers.source == "area_outline").sum()) == polygons
    assert len(barriers) == polygons + len(layers["railways"]) + int(
        layers["rivers"].geom_type.isin(["LineString", "MultiLineString"]).sum())

    # `civgrid check` prints the same counts.
    check = run_cli("check", str(path)).stdout
    assert "warning: 19 reported (duplicate_id)" in check
    assert f"layer 'roads', {hard} features" in check
    # `civgrid report` recomputes the same figures from the file.
    text = run_cli("report", str(out)).stdout
    assert re.search(rf"flagged: forced by data +{quality['flagged']} \(out of bounds "
                     rf"{quality['flagged_out_of_bounds']}, multipart {quality['flagged_multipart']}\)", text)
    assert re.search(rf"non-contiguous +{quality['non_contiguous']}\n", text)
    assert re.search(rf"outside their community +{quality['outside_region']}\n", text)
    assert re.search(rf"gap / overlap area +{gap:.3f} m2 / {overlap:.3f} m2", text)

def test_units_mode_gaps_and_parts_agree_with_the_output(tmp_path):
    """Units mode with communities that cut through parcels and reach 30 m beyond them: real gaps,
    units straddling the boundary, bow-tie parcels of two parts; the report's figures are the file's."""
    parcels = tmp_path / "parcels.gpkg"
    run_cli("synth", "--parcels", "900", "--dense-vertices", "200", "--seed", "2", "-o", str(parcels))
    units = gpd.read_file(parcels, layer="buildings")
    min_x, min_y, max_x, max_y = units.total_bounds
    middle = (min_x + max_x) / 2 + 7  # off the lattice: the line cuts parcels
    communities = gpd.GeoDataFrame(
        {"community_code": ["320102001001", "320102001002"], "street_code": ["320102001"] * 2,
         "district_code": ["320102"] * 2, "name": ["A", "B"]},
        geometry=[box(min_x - 30, min_y - 30, middle, max_y + 30), box(middle, min_y - 30, max_x + 30, max_y + 30)],
        crs=units.crs)
    communities.to_file(parcels, layer="communities", driver="GPKG")
    out = tmp_path / "out.gpkg"
    quality = json.loads(run_cli("partition", str(parcels), "-o", str(out), "--units", "areas", "--json",
                                 "--no-staffing").stdout)["quality"]
    micro_grids, gap, overlap = expect_report_matches_output(quality, out)
    frame = sum(c.area for c in communities.geometry) - units.geometry.area.sum()
    assert gap >= 0.9 * frame  # the 30 m frame at least, less what straddling units cover next door
    assert quality["outside_region"] > 0  # units across the line belong to the community of their point
    # A micro-grid has several parts only where one of its units has.
    assert quality["non_contiguous"] > 0
    owner = gpd.read_file(out, layer="buildings", ignore_geometry=True).micro_grid_id
    multipart_units = set(owner[units.geometry.apply(lambda g: parts(make_valid(g))) > 1])
    assert set(micro_grids.micro_grid_id[micro_grids.geometry.apply(parts) > 1]) <= multipart_units
