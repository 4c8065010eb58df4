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
