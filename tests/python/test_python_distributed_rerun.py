"""civgrid.distributed.repartition (issue 21): a rerun's shards on a dask LocalCluster of worker
processes give civgrid.repartition's result micro-grid by micro-grid, with its changes, lineage,
churn and kept assignments; a building that moved between shards is refused, not miscounted."""
import pandas as pd
import pytest

distributed = pytest.importorskip("distributed")

import civgrid  # noqa: E402
import civgrid.distributed  # noqa: E402

from conftest import run_cli  # noqa: E402
from test_python_distributed import assert_same_result  # noqa: E402


@pytest.fixture(scope="module")
def cities(tmp_path_factory):
    """60,000 households in two districts (two streets, 24 communities), its previous run, and two
    changes of it: a new estate of 3,000 households, and a strip moved between two communities of a street."""
    folder = tmp_path_factory.mktemp("rerun")
    paths = {name: folder / f"{name}.gpkg" for name in ("before", "estate", "boundary", "previous")}
    base = ["synth", "--households", "60000", "--seed", "3", "--districts", "2"]
    run_cli(*base, "-o", str(paths["before"]))
    run_cli(*base, "--change", "estate", "--change-seed", "2", "-o", str(paths["estate"]))
    run_cli(*base, "--change", "boundary", "--change-seed", "2", "-o", str(paths["boundary"]))
    run_cli("partition", str(paths["before"]), "-o", str(paths["previous"]), "--quiet")
    return paths


def assert_same_rerun(one, other):
    assert_same_result(one, other)
    columns = ["micro_grid_id", "status", "previous_ids", "next_ids", "households", "buildings"]
    pd.testing.assert_frame_equal(one.changes[columns].reset_index(drop=True),
                                  other.changes[columns].reset_index(drop=True))
    assert one.changes.geometry.reset_index(drop=True).geom_equals_exact(
        other.changes.geometry.reset_index(drop=True), tolerance=0).all()
    pd.testing.assert_frame_equal(one.lineage.reset_index(drop=True), other.lineage.reset_index(drop=True))
    assert one.churn == other.churn
    pd.testing.assert_frame_equal(one.worker_assignments.reset_index(drop=True),
                                  other.worker_assignments.reset_index(drop=True))
    pd.testing.assert_frame_equal(one.service_assignments.reset_index(drop=True),
                                  other.service_assignments.reset_index(drop=True))


@pytest.mark.parametrize("change,level,shards", [("boundary", "", 2), ("estate", "community", 24)])
def test_the_rerun_shards_on_a_cluster_give_the_single_machine_rerun(cities, cluster, change, level, shards,
                                                                     tmp_path):
    _, client = cluster
    plan = civgrid.distributed.plan(str(cities[change]), shard_level=level)
    assert len(plan["shards"]) == shards
    single = civgrid.repartition(str(cities["previous"]), str(cities[change]), progress=False)
    # A real change: some micro-grids kept, some redrawn.
    assert 0 < single.churn["micro_grids_unchanged"] < len(single.micro_grids)
    output = tmp_path / "out.gpkg"
    result = civgrid.distributed.repartition(str(cities["previous"]), str(cities[change]), client=client,
                                             shard_level=level, progress=False, output=str(output))
    assert_same_rerun(single, result)
    written = civgrid.report(str(output))
    assert written["micro_grids"] == len(single.micro_grids)
    assert {"changes", "lineage"} <= set(civgrid._core.list_layers(str(output)))


def test_a_building_moved_between_shards_is_refused(cities, cluster):
    _, client = cluster
    # The boundary change moves buildings between two communities: community shards cannot see it.
    with pytest.raises(civgrid.ConfigError, match="moved from the shard community_code = .* to the shard "
                                                  "community_code = .*coarser shard level"):
        civgrid.distributed.repartition(str(cities["previous"]), str(cities["boundary"]), client=client,
                                        shard_level="community", progress=False)


def test_locks_are_checked_against_the_whole_previous_run(cities, cluster):
    _, client = cluster
    with pytest.raises(civgrid.ConfigError) as single:
        civgrid.repartition(str(cities["previous"]), str(cities["estate"]), lock=["nope"], progress=False)
    with pytest.raises(civgrid.ConfigError) as sharded:
        civgrid.distributed.repartition(str(cities["previous"]), str(cities["estate"]), lock=["nope"],
                                        client=client, progress=False)
    assert str(sharded.value) == str(single.value)
    # A lock in one district's shard is kept there, as one machine keeps it.
    kept = civgrid.repartition(str(cities["previous"]), str(cities["estate"]), progress=False)
    redrawn = kept.changes[kept.changes.status != "unchanged"]
    locked = [identifier for identifier in redrawn.previous_ids.dropna() if identifier and ";" not in identifier][:1]
    assert locked
    single_locked = civgrid.repartition(str(cities["previous"]), str(cities["estate"]), lock=locked,
                                        progress=False)
    assert locked[0] in set(single_locked.micro_grids.micro_grid_id)
    sharded_locked = civgrid.distributed.repartition(str(cities["previous"]), str(cities["estate"]),
                                                     lock=locked, client=client, progress=False)
    assert_same_rerun(single_locked, sharded_locked)


def test_the_signature_is_civgrid_repartition_s_plus_the_cluster():
    import inspect
    own = inspect.signature(civgrid.distributed.repartition).parameters
    base = inspect.signature(civgrid.repartition).parameters
    assert [name for name in own if name not in ("client", "shard_level", "output_per_district")] == list(base)


def test_a_city_given_as_frames_is_refused(cities, cluster):
    _, client = cluster
    frame = civgrid.read_city(str(cities["estate"])).buildings
    with pytest.raises(TypeError, match="workers read their shard from files"):
        civgrid.distributed.repartition(str(cities["previous"]), frame, client=client, progress=False)


def test_the_cli_reruns_on_a_scheduler_as_on_one_machine(cities, cluster, tmp_path):
    """civgrid repartition --scheduler: the one-machine rerun's micro-grids, changes and counts, with
    a lock passed on; one file per district with --split-output; the previous output is refused as
    the output before any work."""
    import json

    import geopandas as gpd

    local, _ = cluster
    previous, estate = str(cities["previous"]), str(cities["estate"])
    kept = civgrid.repartition(previous, estate, progress=False)
    redrawn = kept.changes[kept.changes.status != "unchanged"].previous_ids.dropna()
    locked = [identifier for identifier in redrawn if identifier and ";" not in identifier][0]
    common = ["repartition", "--previous", previous, estate, "--lock", locked, "--json"]
    one = json.loads(run_cli(*common, "-o", str(tmp_path / "one.gpkg")).stdout)
    other = json.loads(run_cli(*common, "-o", str(tmp_path / "cluster.gpkg"), "--scheduler",
                               local.scheduler_address).stdout)
    assert other["scheduler"] == local.scheduler_address
    assert other["rerun"] == pytest.approx(one["rerun"], rel=1e-5) and one["rerun"]["new"] > 0  # the CLI rounds
    assert other["quality"]["micro_grids"] == one["quality"]["micro_grids"]
    for layer, columns in (("micro_grids", ["micro_grid_id", "households"]),
                           ("changes", ["micro_grid_id", "status", "previous_ids", "households"])):
        a = gpd.read_file(tmp_path / "one.gpkg", layer=layer)
        b = gpd.read_file(tmp_path / "cluster.gpkg", layer=layer)
        pd.testing.assert_frame_equal(a[columns], b[columns], obj=layer)
        assert a.geometry.geom_equals_exact(b.geometry, tolerance=0).all(), layer
    assert locked in set(gpd.read_file(tmp_path / "cluster.gpkg", layer="micro_grids").micro_grid_id)
    text = run_cli("repartition", "--previous", previous, estate, "-o", str(tmp_path / "split.gpkg"),
                   "--scheduler", local.scheduler_address, "--split-output")
    assert f"Rerun against {previous}:" in text.stdout and "wrote 2 district files beside it" in text.stdout
    parts = gpd.read_file(tmp_path / "split.gpkg", layer="parts")
    assert parts.micro_grids.sum() == len(kept.micro_grids)  # without the lock
    changes = sum(len(gpd.read_file(tmp_path / name, layer="changes")) for name in parts.file)
    changes += len(gpd.read_file(tmp_path / "split.gpkg", layer="changes"))
    assert changes == len(kept.changes)
    alone = json.loads(run_cli("repartition", "--previous", previous, estate, "-o", str(tmp_path / "alone.gpkg"),
                               "--split-output", "--json").stdout)  # one machine, split the same way
    assert [part["micro_grids"] for part in alone["parts"]] == list(parts.micro_grids)
    assert [part["households"] for part in alone["parts"]] == list(parts.households)
    refused = run_cli("repartition", "--previous", previous, estate, "-o", previous, "--scheduler",
                      local.scheduler_address, check=False)
    assert refused.returncode == 2 and "previous" in refused.stderr
