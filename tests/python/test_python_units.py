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
