"""civgrid (Python): hostile GeoDataFrames are kept and reported as the CLI keeps and reports the same
rows read from a file, or refused with a civgrid error naming the frame, column and option."""
import re

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import Polygon

import civgrid
from conftest import run_cli


def counts_by_reason(warnings):
    """{reason: number of features} from warning lines ("... 3 dropped (null_geometry): ...")."""
    found = {}
    for line in warnings:
        match = re.search(r": (\d+) \w+ \((\w+)\)", line)
        if match:
            found[match.group(2)] = int(match.group(1))
    return found


def cli_warnings(city, tmp_path):
    completed = run_cli("partition", str(city), "-o", str(tmp_path / "cli.gpkg"))
    return [line[len("warning: "):] for line in completed.stdout.splitlines() if line.startswith("warning: ")]


def test_null_and_empty_geometries_are_kept_and_reported_as_by_the_cli(sample_city, tmp_path):
    city = civgrid.read_city(sample_city)
    buildings = city.buildings.copy()
    buildings.loc[buildings.index[:20], "geometry"] = None
    buildings.loc[buildings.index[20:35], "geometry"] = Polygon()
    # The same rows written to a file, for the CLI.
    altered = tmp_path / "altered.gpkg"
    for name, layer in city.items():
        (buildings if name == "buildings" else layer).to_file(altered, layer=name, driver="GPKG")
    expected = counts_by_reason(cli_warnings(altered, tmp_path))
    assert expected.get("null_geometry") == 35

    result = civgrid.partition(buildings, communities=city.communities, roads=city.roads, rivers=city.rivers,
                               workers=city.workers, stations=city.stations, progress=False)
    assert len(result.buildings) == len(buildings)  # every row kept, as the CLI keeps them
    assert counts_by_reason(result.warnings) == expected
    assert any("GeoDataFrame 'buildings'" in line and "null_geometry" in line for line in result.warnings)


def test_text_and_fractional_households_are_reported_as_by_the_cli(sample_city, tmp_path):
    city = civgrid.read_city(sample_city)
    buildings = city.buildings.copy()
    buildings["households"] = buildings["households"].astype(object)
    buildings.loc[buildings.index[3], "households"] = "many"
    fractional = city.buildings.copy()
    fractional["households"] = fractional["households"].astype(float)
    fractional.loc[fractional.index[3], "households"] = 12.7

    result = civgrid.partition(buildings, communities=city.communities, staffing=False, progress=False)
    assert counts_by_reason(result.warnings).get("invalid_households") == 1
    result = civgrid.partition(fractional, communities=city.communities, staffing=False, progress=False)
    assert counts_by_reason(result.warnings).get("fractional_households") == 1


def test_a_boolean_households_column_is_refused(sample_city):
    city = civgrid.read_city(sample_city)
    buildings = city.buildings.copy()
    buildings["households"] = buildings["households"] > 10
    with pytest.raises(civgrid.InputError, match=r"field 'households': a true/false field"):
        civgrid.partition(buildings, communities=city.communities, staffing=False, progress=False)


def test_duplicate_columns_name_the_frame_and_column(sample_city):
    city = civgrid.read_city(sample_city)
    buildings = city.buildings.copy()
    doubled = gpd.GeoDataFrame(
        np.column_stack([buildings["households"], buildings["households"]]).tolist(),
        columns=["households", "households"], geometry=buildings.geometry.values, crs=buildings.crs)
    with pytest.raises(civgrid.ConfigError, match=r"GeoDataFrame 'buildings': columns 'households' appear more"):
        civgrid.partition(doubled, communities=city.communities, staffing=False, progress=False)


def test_an_empty_frame_gets_the_engine_message_not_a_format_error(sample_city):
    city = civgrid.read_city(sample_city)
    with pytest.raises(civgrid.InputError) as raised:
        civgrid.partition(city.buildings.iloc[:0], communities=city.communities, staffing=False, progress=False)
    assert "GeoDataFrame 'buildings'" in str(raised.value)
    assert "supported file format" not in str(raised.value)


@pytest.mark.parametrize("option, value, expected", [
    ("target_households", "eighty", r"target_households='eighty': expected float, not str"),
    ("micro_grids", True, r"micro_grids=True: expected int, not bool"),
    ("strict", "yes", r"strict='yes': expected True or False"),
    ("micro_grids", 2_000_000_000, r"--micro-grids 2000000000 is out of range"),
    ("id_field", 7, r"id_field=7: expected str, not int"),
])
def test_wrong_option_types_and_ranges_are_config_errors(sample_city, option, value, expected):
    with pytest.raises(civgrid.ConfigError, match=expected):
        civgrid.partition(str(sample_city), progress=False, **{option: value})


def test_writing_over_an_input_is_refused(sample_city, tmp_path):
    city_copy = tmp_path / "city.gpkg"
    city_copy.write_bytes(sample_city.read_bytes())
    before = city_copy.read_bytes()
    result = civgrid.partition(str(city_copy), progress=False)
    with pytest.raises(civgrid.ConfigError, match="is the city input"):
        result.to_gpkg(city_copy)
    with pytest.raises(civgrid.ConfigError, match="is the city input"):
        civgrid.partition(str(city_copy), output=city_copy, progress=False)
    assert city_copy.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["city.gpkg"]
