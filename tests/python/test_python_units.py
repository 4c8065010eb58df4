"""civgrid (Python): units="areas" keeps parcels whole, as `civgrid partition --units areas` does (issue 17)."""
import re

import geopandas as gpd
import pytest

import civgrid

from conftest import run_cli


@pytest.fixture(scope="module")
def parcels(tmp_path_factory):
    path = tmp_path_factory.mktemp("parcels") / "parcels.gpkg"
    run_cli("synth", "--parcels", "900", "--dense-vertices", "200", "--seed", "2", "-o", str(path))
    return path


def test_units_areas_keeps_every_parcel_whole_in_one_micro_grid(parcels):
    result = civgrid.partition(str(parcels), units="areas", progress=False)
    grids = result.micro_grids.set_index("micro_grid_id")
    buildings = result.buildings
    assert buildings.micro_grid_id.notna().all()
    assert not buildings.split_micro_grids.fillna("").astype(bool).any()
    # Each micro-grid is the union of its parcels: every parcel lies in its own, and the areas add up.
    owner = gpd.GeoSeries(grids.geometry.loc[buildings.micro_grid_id].values, index=buildings.index,
                          crs=buildings.crs)
    inside = buildings.geometry.intersection(owner).area
    assert (inside >= 0.9999 * buildings.geometry.area).all()
    areas = buildings.geometry.area.groupby(buildings.micro_grid_id.values).sum()
    assert ((grids.geometry.area.loc[areas.index] - areas).abs() <= 1e-6 * areas).all()
    assert result.micro_grids.households.sum() == buildings.households.clip(lower=0).sum()
    # Several parts only where a parcel has them (the generator's few bow-ties, made valid), flagged.
    assert result.report["non_contiguous"] == result.report["flagged_multipart"] <= 0.01 * len(buildings)
    # The CLI writes the same micro-grids.
    out = parcels.parent / "cli.gpkg"
    run_cli("partition", str(parcels), "-o", str(out), "--units", "areas", "-q")
    cli = gpd.read_file(out, layer="micro_grids")
    assert list(cli.micro_grid_id) == list(result.micro_grids.micro_grid_id)
    assert list(cli.households) == list(result.micro_grids.households)


def test_a_bad_units_value_is_a_config_error(parcels):
    with pytest.raises(civgrid.ConfigError, match="--units must be buildings or areas"):
        civgrid.partition(str(parcels), units="blocks", progress=False)


def test_repartition_of_areas_keeps_units_whole_and_is_the_clis(parcels, tmp_path):
    """civgrid.repartition(units="areas") after households changed: parcels stay whole, micro-grids
    without a change keep their codes, and the CLI's rerun is the same."""
    previous = tmp_path / "previous.gpkg"
    civgrid.partition(str(parcels), units="areas", progress=False, output=str(previous))
    changed = gpd.read_file(parcels, layer="buildings")
    changed.loc[changed.index[:30], "households"] += 20
    changed_path = tmp_path / "changed.gpkg"
    changed.to_file(changed_path, layer="buildings", driver="GPKG")
    rerun = civgrid.repartition(str(previous), str(changed_path), units="areas", progress=False)
    buildings = rerun.buildings
    assert buildings.micro_grid_id.notna().all()
    assert not buildings.split_micro_grids.fillna("").astype(bool).any()
    assert rerun.micro_grids.households.sum() == changed.households.clip(lower=0).sum()
    statuses = rerun.changes.status.value_counts()
    assert statuses.get("unchanged", 0) >= 0.7 * len(gpd.read_file(previous, layer="micro_grids"))
    assert statuses.drop("unchanged", errors="ignore").sum() > 0
    before = gpd.read_file(previous, layer="buildings").set_index("building_id").micro_grid_id
    after = buildings.set_index("building_id").micro_grid_id
    moved = int((before.loc[after.index] != after).sum())
    assert 0 < moved <= 0.2 * len(after)
    out = tmp_path / "cli.gpkg"
    run_cli("repartition", "--previous", str(previous), str(changed_path), "-o", str(out), "--units", "areas", "-q")
    cli = gpd.read_file(out, layer="micro_grids")
    assert list(cli.micro_grid_id) == list(rerun.micro_grids.micro_grid_id)
    assert list(cli.households) == list(rerun.micro_grids.households)


def test_split_large_units_cuts_a_unit_over_the_bound(parcels, tmp_path):
    """split_large_units=True (--split-large-units): a parcel of 700 households is cut into pieces
    that micro-grids take; without it the parcel is one micro-grid, flagged large_building."""
    frame = gpd.read_file(parcels, layer="buildings")
    frame.loc[frame.index[450], "households"] = 700
    path = tmp_path / "large.gpkg"
    frame.to_file(path, layer="buildings", driver="GPKG")
    whole = civgrid.partition(str(path), units="areas", progress=False)
    alone = whole.micro_grids.set_index("micro_grid_id").loc[whole.buildings.micro_grid_id.iloc[450]]
    assert "large_building" in alone["flags"] and alone.households == 700
    split = civgrid.partition(str(path), units="areas", split_large_units=True, progress=False)
    pieces = split.buildings.split_micro_grids.iloc[450].split(";")
    assert 2 <= len(pieces) <= 8
    assert not split.micro_grids["flags"].fillna("").str.contains("large_building").any()
    assert split.micro_grids.households.sum() == frame.households.clip(lower=0).sum()
    # The pieces' micro-grids cover the parcel once.
    parcel = split.buildings.geometry.iloc[450]
    holding = split.micro_grids[split.micro_grids.micro_grid_id.isin(pieces)].geometry
    assert holding.intersection(parcel).area.sum() == pytest.approx(parcel.area, rel=1e-4)
    with pytest.raises(civgrid.ConfigError, match="--split-large-units"):
        civgrid.partition(str(path), split_large_units=True, progress=False)


def parts_of(geometry):
    """The polygons of an OGR Polygon, MultiPolygon or collection."""
    from osgeo import ogr

    kind = ogr.GT_Flatten(geometry.GetGeometryType())
    if kind == ogr.wkbPolygon:
        return [geometry]
    if kind in (ogr.wkbMultiPolygon, ogr.wkbGeometryCollection):
        return [p for k in range(geometry.GetGeometryCount()) for p in parts_of(geometry.GetGeometryRef(k))]
    return []


def area_of(geometry):
    return sum(p.GetArea() for p in parts_of(geometry))


def holes_of(geometry):
    """The holes of an OGR (Multi)Polygon, each as a polygon."""
    from osgeo import ogr

    holes = []
    for polygon in parts_of(geometry):
        for r in range(1, polygon.GetGeometryCount()):
            hole = ogr.Geometry(ogr.wkbPolygon)
            hole.AddGeometry(polygon.GetGeometryRef(r))
            holes.append(hole)
    return holes


def test_a_dirty_tiling_comes_out_a_coverage_by_an_ogr_check(tmp_path):
    """Parcels with gaps and overlaps (`civgrid synth --gaps --overlaps`: 3 % shrunk, 3 % grown by
    0.5 m): checked with GDAL/OGR alone, the micro-grids' areas add up to their union's (no overlap),
    every parcel is in exactly one micro-grid, each shrunk parcel (apart from every other parcel in
    the input) is in a micro-grid of one part, and the report's counts are the overlapping pairs and
    the parcels apart that OGR finds in the input."""
    from osgeo import ogr

    ogr.UseExceptions()
    path = tmp_path / "dirty.gpkg"
    run_cli("synth", "--parcels", "1600", "--dense-vertices", "200", "--seed", "5", "--gaps", "0.03",
            "--overlaps", "0.03", "-o", str(path))
    source = ogr.Open(str(path))
    layer = source.GetLayerByName("buildings")
    parcels = {}
    for feature in layer:
        geometry = feature.GetGeometryRef().Clone()
        parcels[feature.GetField("building_id")] = geometry if geometry.IsValid() else geometry.MakeValid()
    ids = sorted(parcels)
    # Pairs overlapping by more than a square centimetre, and parcels more than 10 cm from all others.
    overlapping_pairs, apart = 0, []
    envelopes = {i: parcels[i].GetEnvelope() for i in ids}
    for n, i in enumerate(ids):
        x0, x1, y0, y1 = envelopes[i]
        near = [j for j in ids if j != i and envelopes[j][0] <= x1 + 1 and envelopes[j][1] >= x0 - 1
                and envelopes[j][2] <= y1 + 1 and envelopes[j][3] >= y0 - 1]
        overlapping_pairs += sum(1 for j in near if j > i and parcels[i].Intersects(parcels[j])
                                 and area_of(parcels[i].Intersection(parcels[j])) > 1e-4)
        if all(parcels[i].Distance(parcels[j]) > 0.1 for j in near):
            apart.append(i)
    assert overlapping_pairs >= 4 * 10 and len(apart) >= 10

    out = tmp_path / "out.gpkg"
    run_cli("partition", str(path), "-o", str(out), "--units", "areas", "-q")
    output = ogr.Open(str(out))
    grids = {}
    union = ogr.Geometry(ogr.wkbMultiPolygon)
    total = 0.0
    for feature in output.GetLayerByName("micro_grids"):
        geometry = feature.GetGeometryRef().Clone()
        grids[feature.GetField("micro_grid_id")] = geometry
        total += geometry.GetArea()
        for part in parts_of(geometry):
            union.AddGeometry(part)
    united = union.UnionCascaded()
    assert total == pytest.approx(united.GetArea(), rel=1e-9, abs=1e-3)
    # The holes left are the input's own wide ones (where a bow-tie made valid leaves a triangle of
    # its parcel uncovered), not the rings of gap around the parcels apart.
    source_union = ogr.Geometry(ogr.wkbMultiPolygon)
    for geometry in parcels.values():
        for part in parts_of(geometry):
            source_union.AddGeometry(part)
    inside_apart = [parcels[i].PointOnSurface() for i in apart]
    # (OGR's union of the overlapping input leaves specks of holes where grown corners cross: over
    # a square metre only.)
    source_holes = [hole for hole in holes_of(source_union.UnionCascaded()) if hole.GetArea() > 1]
    expected = sorted(hole.GetArea() for hole in source_holes
                      if not any(hole.Contains(point) for point in inside_apart))
    assert sorted(hole.GetArea() for hole in holes_of(united)) == pytest.approx(expected, abs=0.5)
    assert len(source_holes) == len(expected) + len(apart)
    grid_of = {}
    for feature in output.GetLayerByName("buildings"):
        assert feature.GetField("building_id") not in grid_of
        grid_of[feature.GetField("building_id")] = feature.GetField("micro_grid_id")
    assert sorted(grid_of) == ids and all(grid_of[i] for i in ids)
    bow_tie_grids = {grid_of[i] for i in ids if parcels[i].GetGeometryType() == ogr.wkbMultiPolygon}
    for i in apart:
        if grid_of[i] not in bow_tie_grids:
            assert len(parts_of(grids[grid_of[i]])) == 1, i

    info = output.GetLayerByName("run_info")
    imported = {f.GetField("key"): f.GetField("value") for f in info if f.GetField("section") == "import"}
    gaps = imported["buildings.repaired.units_gap_closed"]
    assert gaps.startswith(f"warning: {len(apart)} features;")
    closed = re.findall(r"(\d+) \(", gaps.split("feature ids:", 1)[1])
    assert sorted(int(i) for i in closed) == apart
    assert imported["buildings.repaired.units_overlap_removed"].startswith(f"warning: {overlapping_pairs} features;")


def test_coverage_tolerance_reaches_the_engine_from_python(tmp_path):
    """coverage_tolerance (as --coverage-tolerance): the default cleans a dirty tiling, so no land is
    in two micro-grids; 0 partitions the units as read, overlaps and all."""
    path = tmp_path / "dirty.gpkg"
    run_cli("synth", "--parcels", "900", "--dense-vertices", "200", "--seed", "4", "--overlaps", "0.05",
            "-o", str(path))
    cleaned = civgrid.partition(str(path), units="areas", progress=False)
    raw = civgrid.partition(str(path), units="areas", coverage_tolerance=0, progress=False)
    assert cleaned.report["overlap_area_m2"] < 1e-3
    assert raw.report["overlap_area_m2"] > 10
