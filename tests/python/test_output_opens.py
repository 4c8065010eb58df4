"""The output GeoPackage opens in GeoPandas without a warning, with the documented layers."""
import os
import subprocess
import warnings

import geopandas as gpd
import pytest

CIVGRID = os.environ.get("CIVGRID_CLI", "build/engine/civgrid")


@pytest.fixture(scope="module")
def output(tmp_path_factory):
    folder = tmp_path_factory.mktemp("civgrid")
    city, out = folder / "city.gpkg", folder / "out.gpkg"
    subprocess.run([CIVGRID, "synth", "--households", "20000", "--seed", "3", "-o", str(city)], check=True)
    subprocess.run([CIVGRID, "partition", str(city), "-o", str(out), "--quiet"], check=True)
    return out


def test_layers_open_without_warnings(output):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        grids = gpd.read_file(output, layer="micro_grids")
        buildings = gpd.read_file(output, layer="buildings")
        communities = gpd.read_file(output, layer="communities")
        run_info = gpd.read_file(output, layer="run_info")
    assert grids.crs.to_epsg() == 4549
    assert grids.micro_grid_id.is_unique
    assert (grids.households > 0).all()
    assert set(buildings.micro_grid_id) <= set(grids.micro_grid_id)
    assert grids.households.sum() == buildings.households.sum()
    # Micro-grids tile their communities: areas add up per community.
    per_community = grids.assign(area=grids.area).groupby("community_code").area.sum()
    for code, area in per_community.items():
        community = communities[communities.community_code == code].iloc[0]
        assert abs(area - community.geometry.area) < 1.0
    quality = run_info[run_info.section == "quality"].set_index("key").value
    assert quality["barrier_crossings"] == "0"
    assert quality["non_contiguous"] == "0"
