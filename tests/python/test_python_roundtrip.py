"""civgrid (Python): file -> partition -> GeoDataFrames -> GeoPackage, and back."""
import warnings

import geopandas as gpd
import pandas as pd
import pytest

import civgrid


@pytest.fixture(scope="module")
def result(sample_city):
    return civgrid.partition(str(sample_city), progress=False)


def test_partition_of_a_file_gives_geodataframes_that_tile_the_communities(sample_city, result):
    buildings_in = gpd.read_file(sample_city, layer="buildings")
    communities_in = gpd.read_file(sample_city, layer="communities")
    grids = result.micro_grids
    assert isinstance(grids, gpd.GeoDataFrame)
    assert grids.crs.to_epsg() == 4549 and result.crs == "EPSG:4549"
    assert grids.micro_grid_id.is_unique
    assert grids.households.sum() == buildings_in.households.sum()
    assert result.report["micro_grids"] == len(grids) == result.report["requested"]
    assert result.report["non_contiguous"] == 0 and result.report["barrier_crossings"] == 0
    # Every building with households is in a micro-grid of its community; the assignments say which.
    assignments = result.assignments.merge(buildings_in[["building_id", "households"]], on="building_id")
    assert len(assignments) == len(buildings_in)
    housed = assignments[assignments.households > 0]
    assert housed.micro_grid_id.notna().all()
    assert set(housed.micro_grid_id) <= set(grids.micro_grid_id)
    # A large building split across micro-grids is listed with the one holding most of it; every
    # other micro-grid holds exactly the households of its buildings.
    shared = {code for codes in housed.split_micro_grids.dropna() for code in codes.split(";")}
    assert shared, "the sample city has split buildings"
    whole = housed[~housed.micro_grid_id.isin(shared)].groupby("micro_grid_id").households.sum()
    assert len(whole) >= 10
    assert whole.to_dict() == grids.set_index("micro_grid_id").households[whole.index].to_dict()
    # Micro-grids tile their communities.
    areas = grids.assign(area=grids.area).groupby("community_code").area.sum()
    for code, area in areas.items():
        community = communities_in[communities_in.community_code == code].iloc[0]
        assert area == pytest.approx(community.geometry.area, abs=1.0)
    # Grids are whole micro-grids.
    assert (grids.groupby("grid_id").households.sum() == result.grids.set_index("grid_id").households).all()


def test_to_gpkg_writes_what_the_result_holds(tmp_path, result):
    path = tmp_path / "out.gpkg"
    result.to_gpkg(path, progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        grids = gpd.read_file(path, layer="micro_grids")
        buildings = gpd.read_file(path, layer="buildings")
    assert list(grids.micro_grid_id) == list(result.micro_grids.micro_grid_id)
    assert list(grids.households) == list(result.micro_grids.households)
    assert grids.geom_equals_exact(result.micro_grids.geometry, tolerance=0).all()
    assert list(buildings.micro_grid_id.fillna("")) == list(result.buildings.micro_grid_id.fillna(""))
    # The report recomputed from the file is the one the run made.
    recomputed = civgrid.report(path)
    for key, value in result.report.items():
        assert recomputed[key] == pytest.approx(value, rel=1e-6, abs=1e-6), key
    # And the file is a partition output the GeoPackage round trip keeps: partitioning its
    # buildings and communities again (as GeoDataFrames) gives the same micro-grids.
    again = civgrid.partition(buildings.drop(columns=["micro_grid_id", "grid_id", "split_micro_grids"]),
                              communities=gpd.read_file(path, layer="communities"),
                              roads=gpd.read_file(result_city_path(result), layer="roads"),
                              rivers=gpd.read_file(result_city_path(result), layer="rivers"),
                              railways=gpd.read_file(result_city_path(result), layer="railways"),
                              progress=False, staffing=False)
    assert list(again.micro_grids.micro_grid_id) == list(result.micro_grids.micro_grid_id)
    assert list(again.micro_grids.households) == list(result.micro_grids.households)


def result_city_path(result):
    inputs = result.run_info[result.run_info.section == "inputs"].set_index("key").value
    return inputs["buildings"].split(":buildings")[0]


def test_read_city_and_synth_city_give_the_file_s_city(sample_city, result):
    city = civgrid.read_city(sample_city)
    assert {"buildings", "roads", "rivers", "railways", "communities"} <= set(city)
    synthetic = civgrid.synth_city(3000, seed=1)
    assert list(synthetic) == list(city)
    for name in city:
        assert len(synthetic[name]) == len(city[name]), name
    assert list(synthetic.buildings.households) == list(city.buildings.households)
    from_city = civgrid.partition(city, progress=False)
    from_memory = civgrid.partition(synthetic, progress=False)
    for other in (from_city, from_memory):
        assert list(other.micro_grids.micro_grid_id) == list(result.micro_grids.micro_grid_id)
        assert other.micro_grids.geom_equals_exact(result.micro_grids.geometry, tolerance=1e-6).all()
        pd.testing.assert_frame_equal(other.assignments.reset_index(drop=True),
                                      result.assignments.reset_index(drop=True))


def test_options_change_the_partition(sample_city, result):
    larger = civgrid.partition(str(sample_city), target_households=150, grid_households=0, progress=False)
    assert len(larger.micro_grids) < len(result.micro_grids)
    assert len(larger.grids) == 0 and larger.micro_grids.grid_id.isna().all()
    assert larger.micro_grids.target.eq(150).any()
    counted = civgrid.partition(str(sample_city), micro_grids=20, progress=False)
    assert len(counted.micro_grids) == 20
