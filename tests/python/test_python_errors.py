"""civgrid (Python): errors are exceptions with the CLI's messages (file, layer, feature, field)."""
import geopandas as gpd
import pytest
from shapely.geometry import LineString

import civgrid
from conftest import run_cli


def cli_error(*args):
    """The CLI's message (without the 'civgrid: ' prefix) and exit code for a failing partition."""
    completed = run_cli("partition", *args, check=False)
    assert completed.returncode != 0
    prefix = "civgrid: "
    assert completed.stderr.startswith(prefix)
    return completed.stderr[len(prefix):].strip(), completed.returncode


def test_missing_field_is_an_input_error_with_the_cli_message(sample_city, tmp_path):
    message, code = cli_error(str(sample_city), "-o", str(tmp_path / "x.gpkg"), "--households-field", "hh")
    with pytest.raises(civgrid.InputError) as raised:
        civgrid.partition(str(sample_city), households_field="hh", progress=False)
    assert str(raised.value) == message
    assert "layer 'buildings'" in message and "'hh'" in message
    assert raised.value.exit_code == code == 3
    assert isinstance(raised.value, ValueError) and isinstance(raised.value, civgrid.Error)
    assert not (tmp_path / "x.gpkg").exists()


def test_bad_option_is_a_config_error_with_the_cli_message(sample_city, tmp_path):
    message, code = cli_error(str(sample_city), "-o", str(tmp_path / "x.gpkg"), "--tolerance", "1.5")
    with pytest.raises(civgrid.ConfigError) as raised:
        civgrid.partition(str(sample_city), tolerance=1.5, progress=False)
    assert str(raised.value) == message and raised.value.exit_code == code == 2


def test_unreadable_file_is_an_io_error_with_the_cli_message(tmp_path):
    missing = str(tmp_path / "nowhere.gpkg")
    message, code = cli_error("--buildings", missing, "-o", str(tmp_path / "x.gpkg"))
    with pytest.raises(civgrid.IoError) as raised:
        civgrid.partition(missing, progress=False)
    assert str(raised.value) == message and raised.value.exit_code == code == 4
    assert isinstance(raised.value, OSError) and missing in message


def test_wrong_geometry_is_dropped_and_named_by_geodataframe_and_row(sample_city):
    buildings = gpd.read_file(sample_city, layer="buildings")
    buildings.loc[7, "geometry"] = LineString([(480100, 3540100), (480110, 3540110)])
    result = civgrid.partition(buildings, progress=False)
    # The import policy: a feature of another type is dropped and reported, like the CLI's.
    reported = [w for w in result.warnings if "wrong_geometry_type" in w]
    assert reported, result.warnings
    assert "GeoDataFrame 'buildings'" in reported[0] and "7" in reported[0]
    assert "/vsimem/" not in reported[0]
    assert len(result.buildings) == len(buildings)  # kept in the output, with its note
    assert result.buildings.loc[result.buildings["micro_grid_id"].isna()].shape[0] >= 1


def test_missing_field_in_a_geodataframe_names_it(sample_city):
    buildings = gpd.read_file(sample_city, layer="buildings").drop(columns="households")
    with pytest.raises(civgrid.InputError, match="GeoDataFrame 'buildings'.*no field 'households'"):
        civgrid.partition(buildings, progress=False)


def test_layers_without_crs_need_assume_crs(sample_city, tmp_path):
    buildings = gpd.read_file(sample_city, layer="buildings")
    bare = gpd.GeoDataFrame(buildings.drop(columns="geometry"), geometry=list(buildings.geometry))
    assert bare.crs is None
    shapefile = tmp_path / "bare.shp"
    bare[["building_id", "households", "geometry"]].to_file(shapefile)  # short names: nothing cut
    assert not (tmp_path / "bare.prj").exists()
    message, code = cli_error("--buildings", str(shapefile), "-o", str(tmp_path / "x.gpkg"))
    with pytest.raises(civgrid.InputError) as from_file:
        civgrid.partition(str(shapefile), progress=False)
    assert str(from_file.value) == message and code == 3
    with pytest.raises(civgrid.InputError):
        civgrid.partition(bare, progress=False)
    assumed = civgrid.partition(bare, assume_crs=4549, progress=False)
    reference = civgrid.partition(buildings, progress=False)
    assert list(assumed.micro_grids.households) == list(reference.micro_grids.households)


def test_unknown_option_and_wrong_input_type_are_type_errors(sample_city):
    with pytest.raises(TypeError, match="target_household"):
        civgrid.partition(str(sample_city), target_household=80, progress=False)
    with pytest.raises(TypeError, match="GeoDataFrame"):
        civgrid.partition(42, progress=False)


def test_infeasible_under_strict(sample_city):
    # Far too few workers: with strict=True an unstaffed micro-grid is an error (exit code 5 in the CLI).
    city = civgrid.read_city(sample_city)
    workers = city.workers.iloc[:3]
    with pytest.raises(civgrid.InfeasibleError) as raised:
        civgrid.partition(city, workers=workers, strict=True, progress=False)
    assert raised.value.exit_code == 5 and "without a worker" in str(raised.value)
