"""civgrid (Python): the same city given in EPSG:4326, EPSG:4490 and EPSG:4549 gives the same micro-grids."""
import pytest

import civgrid


@pytest.fixture(scope="module")
def city(sample_city):
    return civgrid.read_city(sample_city)  # as generated: EPSG:4549


@pytest.fixture(scope="module")
def reference(city):
    return civgrid.partition(city, progress=False)


@pytest.mark.parametrize("epsg", [4326, 4490, 4549])
def test_geodataframes_in_any_crs_give_the_same_micro_grids(city, reference, epsg):
    reprojected = civgrid.City({name: frame.to_crs(epsg) for name, frame in city.items()})
    assert reprojected.buildings.crs.to_epsg() == epsg
    result = civgrid.partition(reprojected, progress=False)
    assert result.crs == reference.crs == "EPSG:4549"  # the engine chose the same working CRS
    # The same buildings in the same micro-grids ...
    membership = reference.assignments.merge(result.assignments, on="building_id", suffixes=("", "_other"))
    assert len(membership) == len(reference.assignments)
    assert (membership.micro_grid_id.fillna("") == membership.micro_grid_id_other.fillna("")).all()
    # ... with the same codes, households and shapes (to the coordinate grid the engine rounds to).
    assert list(result.micro_grids.micro_grid_id) == list(reference.micro_grids.micro_grid_id)
    assert list(result.micro_grids.households) == list(reference.micro_grids.households)
    difference = result.micro_grids.geometry.symmetric_difference(reference.micro_grids.geometry).area
    assert difference.max() < 0.01  # m2
