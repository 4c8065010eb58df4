"""civgrid.distributed (issue 21): a city's shards on a dask LocalCluster of worker processes give
civgrid.partition's result, also when a worker is killed in the middle of the run."""
import os
import re
import signal
import threading
import time

import geopandas as gpd
import pandas as pd
import pytest

distributed = pytest.importorskip("distributed")

import civgrid  # noqa: E402
import civgrid.distributed  # noqa: E402

from conftest import run_cli  # noqa: E402


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    """60,000 households: one district of two streets and 24 communities."""
    path = tmp_path_factory.mktemp("province") / "city.gpkg"
    run_cli("synth", "--households", "60000", "--seed", "3", "-o", str(path))
    return path


@pytest.fixture(scope="module")
def single(city):
    return civgrid.partition(str(city), progress=False)


def assert_same_micro_grids(one, other, columns):
    """The same micro-grids (`columns`, exact geometry) and the same micro-grid for every building."""
    pd.testing.assert_frame_equal(one.micro_grids[columns].reset_index(drop=True),
                                  other.micro_grids[columns].reset_index(drop=True))
    assert one.micro_grids.geometry.reset_index(drop=True).geom_equals_exact(
        other.micro_grids.geometry.reset_index(drop=True), tolerance=0).all()
    pd.testing.assert_series_equal(one.buildings.micro_grid_id.reset_index(drop=True),
                                   other.buildings.micro_grid_id.reset_index(drop=True))


def assert_same_result(one, other):
    assert len(one.micro_grids) > 500
    assert_same_micro_grids(one, other, ["micro_grid_id", "grid_id", "community_code", "households", "buildings",
                                         "target", "deviation"])
    assert list(one.grids.grid_id) == list(other.grids.grid_id)
    pd.testing.assert_frame_equal(one.assignments.reset_index(drop=True), other.assignments.reset_index(drop=True))
    for key, value in other.report.items():
        if isinstance(value, (int, float)) and "seconds" not in key:
            assert one.report[key] == pytest.approx(value), key


@pytest.mark.parametrize("level", ["", "community"])
def test_the_shards_on_a_cluster_give_the_single_machine_result(city, cluster, single, level, tmp_path):
    _, client = cluster
    plan = civgrid.distributed.plan(str(city), shard_level=level)
    assert len(plan["shards"]) == (2 if level == "" else 24)
    assert plan["level"] == ("street" if level == "" else "community")
    output = tmp_path / "out.gpkg"
    result = civgrid.distributed.partition(str(city), client=client, shard_level=level, progress=False,
                                           output=str(output))
    assert_same_result(single, result)
    assert output.exists()
    written = civgrid.report(str(output))
    assert written["micro_grids"] == len(single.micro_grids)
    assert written["barrier_crossings"] == 0 and written["non_contiguous"] == 0


def test_a_worker_killed_in_the_middle_changes_nothing(city, cluster, single, tmp_path):
    """SIGKILL to a worker process while it computes a shard: the scheduler runs its tasks again
    elsewhere (the nanny restarts the worker), and the file written is the single machine's."""
    local, client = cluster
    outcome = {}
    output = tmp_path / "out.gpkg"

    def run():
        try:
            outcome["result"] = civgrid.distributed.partition(str(city), client=client, shard_level="community",
                                                              progress=False, output=str(output))
        except BaseException as error:  # noqa: BLE001 - reported below
            outcome["error"] = error

    thread = threading.Thread(target=run)
    thread.start()
    killed = None
    deadline = time.monotonic() + 60
    finished_before = None
    while killed is None and time.monotonic() < deadline and thread.is_alive():
        busy = [address for address, tasks in client.processing().items()
                if any(str(task).startswith("civgrid-shard") for task in tasks)]
        if busy:
            pid = client.run(os.getpid, workers=[busy[0]])[busy[0]]
            finished_before = sum(1 for key, state in client.run_on_scheduler(
                lambda dask_scheduler: {k: t.state for k, t in dask_scheduler.tasks.items()}).items()
                if str(key).startswith("civgrid-shard") and state == "memory")
            os.kill(pid, signal.SIGKILL)
            killed = pid
        time.sleep(0.05)
    thread.join(600)
    assert killed is not None, "no worker was busy to be killed"
    assert finished_before is not None and finished_before < 24, "killed after the last shard"
    assert "error" not in outcome, outcome.get("error")
    assert_same_result(single, outcome["result"])
    # The file written is the single machine's, layer by layer.
    single_file = tmp_path / "single.gpkg"
    single.to_gpkg(str(single_file), progress=False)
    for layer in ("micro_grids", "grids", "buildings", "communities", "barriers", "worker_assignments",
                  "service_assignments", "stations"):
        one, other = gpd.read_file(single_file, layer=layer), gpd.read_file(output, layer=layer)
        assert len(one) == len(other) and (layer != "micro_grids" or len(one) > 500), layer
        pd.testing.assert_frame_equal(pd.DataFrame(one.drop(columns="geometry", errors="ignore")),
                                      pd.DataFrame(other.drop(columns="geometry", errors="ignore")), obj=layer)
        if one.geometry.notna().any():  # not an attribute table
            assert one.geometry.geom_equals_exact(other.geometry, tolerance=0).all(), layer
    client.wait_for_workers(2, timeout=60)  # the nanny starts it again


def test_inputs_workers_cannot_read_and_city_wide_counts_are_refused(city, cluster):
    _, client = cluster
    frame = civgrid.read_city(str(city)).buildings
    with pytest.raises(TypeError, match="workers read their shard from files"):
        civgrid.distributed.partition(frame, client=client, progress=False)
    with pytest.raises(civgrid.ConfigError, match="not by shard"):
        civgrid.distributed.partition(str(city), client=client, progress=False, micro_grids=600)


def test_the_signature_is_civgrid_partition_s_plus_the_cluster():
    import inspect
    own = inspect.signature(civgrid.distributed.partition).parameters
    base = inspect.signature(civgrid.partition).parameters
    assert [name for name in own if name not in ("client", "shard_level", "output_per_district")] == list(base)


def test_a_bad_shard_fails_as_the_single_machine_run_and_writes_nothing(city, cluster, tmp_path):
    _, client = cluster
    with pytest.raises(civgrid.InputError) as single_error:
        civgrid.partition(str(city), households_field="dwellings", progress=False)
    output = tmp_path / "out.gpkg"
    with pytest.raises(civgrid.InputError) as shard_error:
        civgrid.distributed.partition(str(city), client=client, households_field="dwellings", progress=False,
                                      output=str(output))
    assert str(shard_error.value) == str(single_error.value)
    assert "dwellings" in str(shard_error.value) and "buildings" in str(shard_error.value)
    assert list(tmp_path.iterdir()) == []


def test_the_cli_runs_on_a_scheduler_and_writes_the_single_machine_micro_grids(city, cluster, tmp_path):
    import json

    import geopandas as gpd

    local, _ = cluster
    single = tmp_path / "single.gpkg"
    run_cli("partition", str(city), "-o", str(single), "--quiet")
    output = tmp_path / "cluster.gpkg"
    completed = run_cli("partition", str(city), "-o", str(output), "--scheduler", local.scheduler_address, "--json")
    printed = json.loads(completed.stdout)
    assert printed["output"] == str(output) and printed["scheduler"] == local.scheduler_address
    assert printed["quality"]["barrier_crossings"] == 0
    one = gpd.read_file(single, layer="micro_grids")
    other = gpd.read_file(output, layer="micro_grids")
    assert len(one) == printed["quality"]["micro_grids"] > 500
    assert list(one.micro_grid_id) == list(other.micro_grid_id)
    assert list(one.households) == list(other.households)
    assert one.geometry.geom_equals_exact(other.geometry, tolerance=0).all()
    shown = run_cli("partition", str(city), "-o", str(tmp_path / "text.gpkg"), "--scheduler", local.scheduler_address,
                    "--shard-level", "community", "--progress-json")
    assert f"shards on {local.scheduler_address}" in shown.stdout and "Quality report" in shown.stdout
    steps = [json.loads(line) for line in shown.stderr.splitlines() if line.startswith("{")]
    assert {"stage": "shards", "done": 24, "total": 24} in steps
    # A bad input: the single-machine exit code and message, and no output.
    bad_single = run_cli("partition", str(city), "-o", str(tmp_path / "bad1.gpkg"), "--households-field", "x",
                         check=False)
    bad = run_cli("partition", str(city), "-o", str(tmp_path / "bad2.gpkg"), "--households-field", "x",
                  "--scheduler", local.scheduler_address, check=False)
    assert bad.returncode == bad_single.returncode == 3
    assert bad.stderr.strip().splitlines()[-1] == bad_single.stderr.strip().splitlines()[-1]
    assert not (tmp_path / "bad2.gpkg").exists()
    assert not [name for name in os.listdir("/tmp") if name == f"civgrid-config-{os.getpid()}.bin"]


def test_a_config_travels_whole():
    """Tasks carry the config pickled as engine::encode_config's bytes: every field comes back."""
    import pickle

    from civgrid import _core

    config = _core.Config()
    changed = {}
    for name in dir(config):
        if name.startswith("_") or callable(getattr(config, name)):
            continue
        value = getattr(config, name)
        new = (not value if isinstance(value, bool) else value + 3 if isinstance(value, int)
               else value + 0.25 if isinstance(value, float) else f"{value}-{name}")
        setattr(config, name, new)
        changed[name] = new
    assert len(changed) > 40
    for index, role in enumerate(civgrid.ROLES):
        config.set_source(role, f"/data/{role}.gpkg", f"layer{index}")
    copy = pickle.loads(pickle.dumps(config))
    for name, value in changed.items():
        assert getattr(copy, name) == value, name
    for index, role in enumerate(civgrid.ROLES):
        assert copy.source(role) == (f"/data/{role}.gpkg", f"layer{index}")
    with pytest.raises(civgrid.InputError):
        _core.decode_config(b"civgrid-config-1 truncated")


def parcels_in_four_communities(parcels, *synth_options):
    """1,600 generated parcels (`civgrid synth --parcels`, the options given) and four communities,
    quadrants whose lines cut through parcels off their centre, written into the same file."""
    from shapely.geometry import box
    run_cli("synth", "--parcels", "1600", "--dense-vertices", "200", *synth_options, "-o", str(parcels))
    units = gpd.read_file(parcels, layer="buildings")
    x0, y0, x1, y1 = units.total_bounds
    mx, my = (x0 + x1) / 2 + 7, (y0 + y1) / 2 - 5
    quadrants = [box(x0 - 1, y0 - 1, mx, my), box(mx, y0 - 1, x1 + 1, my), box(x0 - 1, my, mx, y1 + 1),
                 box(mx, my, x1 + 1, y1 + 1)]
    gpd.GeoDataFrame({"community_code": [f"32010200100{i}" for i in range(1, 5)],
                      "street_code": ["320102001"] * 4, "district_code": ["320102"] * 4,
                      "name": list("ABCD")}, geometry=quadrants, crs=units.crs).to_file(
        parcels, layer="communities", driver="GPKG")
    return units


def test_units_mode_cleaning_of_dirty_parcels_is_the_same_in_shards(cluster, tmp_path):
    """units="areas" on a dirty tiling (issue 17: 2 % of parcels grown and 2 % shrunk by half a
    metre): the coverage cleaning (overlaps cut from the smaller unit, gaps given to a neighbour)
    should see each unit's neighbours in its shard too, also across the community lines that cut
    the shards, so that the micro-grids, their flags and the report are the single machine's."""

    _, client = cluster
    parcels = tmp_path / "dirty.gpkg"
    parcels_in_four_communities(parcels, "--seed", "5", "--gaps", "0.02", "--overlaps", "0.02")
    single = civgrid.partition(str(parcels), units="areas", progress=False)
    assert any("coverage cleaning" in str(warning) or "units_overlap_removed" in str(warning)
               for warning in single.warnings), single.warnings
    result = civgrid.distributed.partition(str(parcels), client=client, shard_level="community", units="areas",
                                           progress=False)
    columns = ["micro_grid_id", "community_code", "households", "flags"]
    assert len(single.micro_grids) > 100
    assert_same_micro_grids(single, result, columns)
    for key in ("non_contiguous", "gap_area_m2", "overlap_area_m2", "outside_region", "best_share_within_10pct",
                "flagged"):
        if key in single.report:
            assert result.report[key] == pytest.approx(single.report[key]), key
    # The import report counts each overlap and gap once, though two shards read the units beside
    # their common line (and each reads the units within reach of its own).
    cleaning = re.compile(r"(\d+) \w+ \((units_overlap_removed|units_gap_closed|overlapping_buildings)\)")

    def counted(run):
        return sorted(found.groups() for found in (cleaning.search(str(w)) for w in run.warnings) if found)
    assert len(counted(single)) == 3, single.warnings
    assert counted(result) == counted(single)


def test_units_mode_shards_give_the_single_machine_result(cluster, tmp_path):
    """units="areas" (issue 17): parcels in four communities whose lines cut through parcels, one
    shard each; every parcel goes whole to the community of its point, as on one machine; and a
    rerun after households changed and parcels were removed is civgrid.repartition's."""
    import geopandas as gpd

    _, client = cluster
    parcels = tmp_path / "parcels.gpkg"
    units = parcels_in_four_communities(parcels, "--seed", "4")
    single = civgrid.partition(str(parcels), units="areas", progress=False)
    assert len(civgrid.distributed.plan(str(parcels), shard_level="community")["shards"]) == 4
    result = civgrid.distributed.partition(str(parcels), client=client, shard_level="community", units="areas",
                                           progress=False)
    columns = ["micro_grid_id", "community_code", "households", "flags"]
    assert len(single.micro_grids) > 100
    assert_same_micro_grids(single, result, columns)
    assert not result.buildings.split_micro_grids.fillna("").astype(bool).any()
    for key in ("non_contiguous", "gap_area_m2", "outside_region", "best_share_within_10pct", "flagged"):
        assert result.report[key] == pytest.approx(single.report[key]), key
    # A rerun in units mode, sharded by community: civgrid.repartition's result.
    previous = tmp_path / "previous.gpkg"
    single.to_gpkg(str(previous))
    changed = units.copy()
    changed.loc[changed.index[:60], "households"] += 15
    changed = changed.drop(index=changed.index[700:712])
    changed_path = tmp_path / "changed.gpkg"
    changed.to_file(changed_path, layer="buildings", driver="GPKG")
    gpd.read_file(parcels, layer="communities").to_file(changed_path, layer="communities", driver="GPKG")
    one = civgrid.repartition(str(previous), str(changed_path), units="areas", progress=False)
    sharded = civgrid.distributed.repartition(str(previous), str(changed_path), client=client,
                                              shard_level="community", units="areas", progress=False)
    assert (one.changes.status != "unchanged").sum() > 0
    assert_same_micro_grids(one, sharded, columns)
    assert list(one.changes.micro_grid_id) == list(sharded.changes.micro_grid_id)
    assert list(one.changes.status) == list(sharded.changes.status)
    assert one.churn == sharded.churn
