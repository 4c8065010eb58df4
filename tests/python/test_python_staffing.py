"""civgrid.assign: staffing a partition again gives what a partition with those layers gives."""
import civgrid


def test_assign_equals_staffing_in_the_partition(sample_city):
    city = civgrid.read_city(sample_city)
    staffed = civgrid.partition(city, progress=False)
    bare = civgrid.partition(city, staffing=False, progress=False)
    assert staffed.worker_assignments is not None and len(staffed.worker_assignments) > 0
    assert bare.worker_assignments is None and bare.service_assignments is None
    assigned = civgrid.assign(bare, workers=city.workers, stations=f"{sample_city}:stations", progress=False)
    assert list(assigned.micro_grids.micro_grid_id) == list(bare.micro_grids.micro_grid_id)
    for name in ("worker_assignments", "service_assignments"):
        ours, theirs = getattr(assigned, name), getattr(staffed, name)
        assert ours.fillna("").astype(str).values.tolist() == theirs.fillna("").astype(str).values.tolist(), name
    # Every micro-grid has a micro-grid worker (the sample city has enough of them).
    roles = assigned.worker_assignments
    assert set(roles[roles.role == "micro_grid_worker"].micro_grid_id) == set(assigned.micro_grids.micro_grid_id)
    # Stations only: no worker assignments.
    stations_only = civgrid.assign(bare, stations=city.stations, progress=False)
    assert stations_only.worker_assignments is None and len(stations_only.service_assignments) > 0


def test_network_distance_and_layer_settings_reach_the_engine(sample_city):
    straight = civgrid.partition(sample_city, progress=False)
    roads = civgrid.partition(sample_city, network_distance=True, progress=False)
    info = roads.run_info
    assert info[(info.section == "staffing") & (info.key == "distance")].value.tolist() == ["along the roads"]
    # Along the roads is never shorter than the straight line, and the partition is the same.
    assert list(roads.micro_grids.micro_grid_id) == list(straight.micro_grids.micro_grid_id)
    assert roads.worker_assignments.distance_m.sum() > straight.worker_assignments.distance_m.sum()
    # Per-layer settings as the CLI's --datum [LAYER=]VALUE: an unknown layer or datum is an error.
    import pytest
    with pytest.raises(civgrid.ConfigError):
        civgrid.partition(sample_city, datum={"lakes": "gcj02"}, progress=False)
    with pytest.raises(civgrid.Error):
        civgrid.partition(sample_city, datum="martian", progress=False)
