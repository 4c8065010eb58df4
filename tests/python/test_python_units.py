"""civgrid (Python): units="areas" keeps parcels whole, as `civgrid partition --units areas` does (issue 17)."""
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
