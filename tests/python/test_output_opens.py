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


def test_every_layer_opens_in_gdal_and_geopandas_with_the_styles_table(output):
    """The QGIS styles (layer_styles) are one more attribute table: every layer, it included, reads
    in GDAL and GeoPandas as before, and the styled layers are the file's spatial layers."""
    import fiona
    from osgeo import ogr
    layers = fiona.listlayers(str(output))
    assert {"micro_grids", "grids", "buildings", "communities", "streets", "barriers", "workers", "stations",
            "run_info", "layer_styles"} <= set(layers)
    source = ogr.Open(str(output))
    spatial = set()
    for name in layers:
        layer = source.GetLayerByName(name)
        assert layer is not None and layer.GetFeatureCount() >= 0, name
        if layer.GetGeomType() != ogr.wkbNone:
            spatial.add(name)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            frame = gpd.read_file(output, layer=name)
        assert len(frame) == layer.GetFeatureCount(), name
    styles = gpd.read_file(output, layer="layer_styles")
    assert set(styles.f_table_name) <= spatial
    assert {"micro_grids", "grids", "communities", "streets", "barriers", "stations", "workers"} <= \
        set(styles.f_table_name)
    assert styles.styleQML.str.startswith("<!DOCTYPE qgis").all()
    # streets are the communities merged: the same households, street by street.
    streets = gpd.read_file(output, layer="streets")
    communities = gpd.read_file(output, layer="communities")
    assert streets.set_index("street_code").households.to_dict() == \
        communities.groupby("street_code").households.sum().to_dict()
    assert abs(streets.area.sum() - communities.area.sum()) < 1.0
    # workers: every worker of worker_assignments has a home point with its count.
    workers = gpd.read_file(output, layer="workers")
    assignments = gpd.read_file(output, layer="worker_assignments")
    counts = assignments.groupby("worker_id").size().to_dict()
    assert {w: c for w, c in zip(workers.worker_id, workers.assigned) if c > 0} == counts
