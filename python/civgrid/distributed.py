"""civgrid on a cluster: the same partition as :func:`civgrid.partition`, its shards computed by
dask.distributed workers.

::

    from dask.distributed import Client
    import civgrid.distributed
    client = Client("tcp://scheduler:8786")          # or Client(LocalCluster(n_workers=4))
    result = civgrid.distributed.partition("province.gpkg", client=client, output="out.gpkg")

The client plans the shards (districts, else streets, else communities: ``engine::plan_shards``
reads the region layer only); each worker reads its shard's features alone (GDAL spatial and
attribute filters), partitions them with the GIL released and returns them encoded
(``engine::encode_shard``); the client merges them in feature-id order, assigns workers and
utility stations on the merged city and computes the quality report. A region's micro-grids
depend only on its own inputs and its feature id, so the result equals :func:`civgrid.partition`'s
micro-grid by micro-grid, whichever worker computed a shard and in whatever order. A task whose
worker dies is run again elsewhere by the scheduler. Inputs must be files every worker can read
(a shared file system, or any GDAL path such as ``/vsis3/...``).
"""

from __future__ import annotations

import inspect
import os
import pickle
from typing import Any, Callable, Dict, List, Optional, Tuple

import geopandas as gpd

from . import _api, _core
from ._api import City, Result
from ._progress import Reporter

__all__ = ["partition", "plan", "repartition"]

_PARTITION = inspect.signature(_api.partition)
_REPARTITION = inspect.signature(_api.repartition)


def _compute_shard(config: "_core.Config", working_crs: str, region_level: str,
                   shard: Tuple[str, str, Tuple[float, float, float, float], int]) -> bytes:
    """One task: a shard's load and partition on a worker (C++, GIL released). The config travels
    pickled as engine::encode_config's bytes."""
    field, value, box, _regions = shard
    return _core.compute_shard(config, working_crs, region_level, field, value, box)


def _compute_rerun_shard(config: "_core.Config", working_crs: str, region_level: str,
                         shard: Tuple[str, str, Tuple[float, float, float, float], int], previous: str,
                         locked: List[str]) -> bytes:
    """One task of a rerun: a shard's load and rerun against the previous output's micro-grids of
    that shard, on a worker (C++, GIL released)."""
    field, value, box, _regions = shard
    return _core.compute_repartition_shard(config, working_crs, region_level, field, value, box, previous, locked)


def _refuse_frames(role: str, source: Any) -> None:
    if isinstance(source, (gpd.GeoDataFrame, City)):
        raise TypeError(f"civgrid.distributed: {role}: workers read their shard from files; pass a path every "
                        f"worker can read (a shared file system or a GDAL path such as /vsis3/...), not a "
                        f"{type(source).__name__}")


def _inputs(args: Tuple[Any, ...], kwargs: Dict[str, Any]) -> Tuple[Dict[str, Any], "_api._Inputs"]:
    """civgrid.partition's arguments, bound by its own signature, and the config they make."""
    bound = _PARTITION.bind(*args, **kwargs)
    bound.apply_defaults()
    arguments = bound.arguments
    settings = dict(arguments.pop("options"))
    settings.update(target_households=arguments["target_households"], tolerance=arguments["tolerance"],
                    grid_households=arguments["grid_households"], seed=arguments["seed"],
                    threads=arguments["threads"] or 0, staffing=arguments["staffing"])
    given = {role: arguments[role] for role in _api.ROLES if role != "buildings"}
    for role, source in [("buildings", arguments["buildings"])] + list(given.items()):
        _refuse_frames(role, source)
    return arguments, _api._city_inputs("python.distributed", arguments["buildings"], given, settings)


def plan(buildings: Any, *, shard_level: str = "", **options: Any) -> Dict[str, Any]:
    """The shards a distributed run of this city would compute: ``working_crs``, ``region_level``,
    ``level`` and ``shards`` (field, value, box in the working CRS, regions)."""
    _arguments, inputs = _inputs((buildings,), options)
    with _api._readable_errors(inputs.names):
        return _core.plan_shards(inputs.config, shard_level)


def partition(*args: Any, client: Any = None, shard_level: str = "", output_per_district: bool = False,
              **kwargs: Any) -> Result:
    """:func:`civgrid.partition` with its shards on a dask.distributed cluster: the same parameters
    and the same :class:`civgrid.Result`, plus ``client`` (a ``dask.distributed.Client``; None uses
    the current one, ``distributed.get_client()``), ``shard_level`` ("district", "street",
    "community"; "" chooses the coarsest level with two shards or more) and
    ``output_per_district``: ``output`` is then an index and each district gets its own GeoPackage
    beside it (:meth:`civgrid.Result.to_gpkg_per_district`; ``result.parts`` lists them).

    Inputs must be file paths the workers can read. ``--micro-grids`` / ``--grids`` (one count
    shared over the whole city) are refused: give counts per region instead. Each shard task runs
    on one thread (``threads`` applies to the client's merge, staffing and report).
    """
    import distributed

    arguments, inputs = _inputs(args, kwargs)
    _check_per_district(output_per_district, arguments["output"])
    client = client if client is not None else distributed.get_client()
    with Reporter(arguments["progress"]) as callback, _api._readable_errors(inputs.names):
        run, parts = _run(inputs.config, client, shard_level, arguments["output"], callback, output_per_district)
        result = Result(run, inputs.names)
    if arguments["output"] is not None:
        result.path = os.fspath(arguments["output"])
        result.parts = parts
    return result


def _check_per_district(per_district: Any, output: Any) -> None:
    if not isinstance(per_district, bool):
        raise _core.ConfigError(f"python.distributed: output_per_district={per_district!r}: expected bool, not "
                                f"{type(per_district).__name__}")
    if per_district and output is None:
        raise _core.ConfigError("python.distributed: output_per_district=True needs output= (the index file; each "
                                "district's GeoPackage is written beside it)")


def _write(run: "_core.Run", output: str, callback: Any, per_district: bool) -> Optional[List[Dict[str, Any]]]:
    """One GeoPackage, or one per district and the index: the parts, or None."""
    if per_district:
        return run.write_per_district(output, callback)
    run.write(output, callback)
    return None


def _run(config: "_core.Config", client: Any, shard_level: str, output: Any, callback: Any,
         per_district: bool = False) -> Tuple["_core.Run", Optional[List[Dict[str, Any]]]]:
    """Plan, the shards on the cluster, merged as they come, and `output` when given (one file, or
    one per district and the index): the run of a prepared config, as the engine's Run (the CLI's
    driver needs no GeoDataFrames), and the parts written per district.

    The client holds no shard's bytes longer than it takes to decode them. With one file per
    district and district shards, each district is written as soon as its shard comes and only
    what staffing and the quality report need is kept (engine::ShardMerge); with one file, the
    decoded shards until the merge."""
    if output is not None:  # refused before any work, as the CLI refuses it
        _core.check_output(config, os.fspath(output))
    shard_plan = _core.plan_shards(config, shard_level)
    split_index = os.fspath(output) if output is not None and per_district else ""
    merge = _core.ShardMerge(config, shard_plan["level"], split_index)
    try:
        _shard_tasks(client, _compute_shard, "civgrid-shard", config, shard_plan, (), callback, merge.add)
        run, parts = merge.finish(callback)
    finally:
        merge.discard()  # a failed run's temporary files go now
    if output is not None and not per_district:
        run.write(os.fspath(output), callback)
    return run, parts


def _shard_tasks(client: Any, compute: Any, key: str, config: "_core.Config", shard_plan: Dict[str, Any],
                 extra: Tuple[Any, ...], callback: Any, take: Callable[[bytes, int], Any]) -> None:
    """Runs compute(config, working_crs, region_level, shard, *extra) for every shard of the plan
    as a task of one thread on the cluster and hands each result to take(bytes, position in the
    plan) as it comes, then lets it go (the worker's copy goes with the last reference to its
    future); reports progress as tasks finish. A failed shard raises its own error; what is left
    is cancelled on the way out."""
    import distributed

    task_config = pickle.loads(pickle.dumps(config))
    task_config.threads = 1  # one core per task: the cluster's parallelism is its tasks
    shards: List[Tuple[str, str, Tuple[float, float, float, float], int]] = shard_plan["shards"]
    count = len(shards)
    columns = [[task_config] * count, [shard_plan["working_crs"]] * count, [shard_plan["region_level"]] * count,
               shards] + [[value] * count for value in extra]
    futures: List[Any] = client.map(compute, *columns,
                                    key=[f"{key}-{index}-{shard[1]}" for index, shard in enumerate(shards)],
                                    pure=False)
    position = {future.key: index for index, future in enumerate(futures)}
    try:
        done = 0
        for future in distributed.as_completed(list(futures)):
            index = position[future.key]
            take(future.result(), index)  # a failed task raises its error here
            futures[index] = None
            future.release()
            done += 1
            if callback is not None:
                callback("shards", done, count)
    finally:
        client.cancel([future for future in futures if future is not None])


def repartition(*args: Any, client: Any = None, shard_level: str = "", output_per_district: bool = False,
                **kwargs: Any) -> Result:
    """:func:`civgrid.repartition` with its shards on a dask.distributed cluster: the same parameters
    and the same :class:`civgrid.Result` (``changes``, ``lineage``, ``churn``), plus ``client`` and
    ``shard_level`` as :func:`partition` takes them.

    A rerun's zones nest in communities (kept micro-grids, zones, codes and grids are a
    community's), so each shard (districts, else streets, else communities) is rerun on a worker
    against the previous output's micro-grids, grids, communities and buildings of that shard; the
    client merges them, checks the ``lock`` ids against the whole previous run, keeps the previous
    run's valid worker and station assignments and solves the rest on the merged city, and
    computes the quality report. The previous output and the inputs must be files every worker can
    read. ``output_per_district`` as :func:`partition` takes it. A building that moved to another shard between the runs counts as removed from one and
    new in the other (one machine counts it as moved).
    """
    import distributed

    bound = _REPARTITION.bind(*args, **kwargs)
    bound.apply_defaults()
    arguments = bound.arguments
    previous_path = _api._previous_path(arguments["previous"])
    _check_per_district(output_per_district, arguments["output"])
    if arguments["buildings"] is None:
        raise _core.ConfigError("python.repartition: no city: pass the city as it is now (a city file, a City, "
                                "or its buildings layer)")
    lock = arguments["lock"]
    locked = [str(item) for item in ([lock] if isinstance(lock, str) else lock)]
    settings = dict(arguments.pop("options"))
    settings.update(target_households=arguments["target_households"], tolerance=arguments["tolerance"],
                    grid_households=arguments["grid_households"], seed=arguments["seed"],
                    threads=arguments["threads"] or 0, staffing=arguments["staffing"])
    given = {role: arguments[role] for role in _api.ROLES if role != "buildings" and role in arguments}
    for role, source in [("buildings", arguments["buildings"])] + list(given.items()):
        _refuse_frames(role, source)
    inputs = _api._city_inputs("python.repartition", arguments["buildings"], given, settings)
    client = client if client is not None else distributed.get_client()
    output = arguments["output"]
    with Reporter(arguments["progress"]) as callback, _api._readable_errors(inputs.names):
        run, parts = _rerun(inputs.config, client, shard_level, previous_path, locked, output, callback,
                            output_per_district)
        result = Result(run, inputs.names)
    if output is not None:
        result.path = os.fspath(output)
        result.parts = parts
    return result


def _rerun(config: "_core.Config", client: Any, shard_level: str, previous_path: str, locked: List[str],
           output: Any, callback: Any, per_district: bool = False) -> Tuple["_core.Run", Optional[List[Dict[str, Any]]]]:
    """A rerun's plan (in the previous run's CRS), its shards on the cluster, the merge, and
    `output` when given: as :func:`_run` for a partition."""
    if output is not None:  # refused before any work, as the CLI refuses it
        _core.check_output(config, os.fspath(output), previous_path)
    if not config.working_crs:  # a rerun works in the previous run's CRS
        config.working_crs = _core.previous_crs(previous_path)
    shard_plan = _core.plan_shards(config, shard_level)
    encoded: List[bytes] = [b""] * len(shard_plan["shards"])

    def take(shard: bytes, position: int) -> None:
        encoded[position] = shard

    _shard_tasks(client, _compute_rerun_shard, "civgrid-rerun-shard", config, shard_plan, (previous_path, locked),
                 callback, take)
    run = _core.merge_repartition_shards(config, previous_path, locked, encoded, callback)
    del encoded
    parts = _write(run, os.fspath(output), callback, per_district) if output is not None else None
    return run, parts


def _main(argv: Optional[List[str]] = None) -> int:
    """``civgrid partition --scheduler ADDRESS`` (and ``civgrid repartition --scheduler``, with
    ``--previous`` and ``--lock``): the CLI parses its options, hands them over as
    engine::encode_config bytes in a file (removed here) and becomes this driver."""
    import argparse
    import json
    import sys

    import distributed

    parser = argparse.ArgumentParser(prog="civgrid partition --scheduler")
    parser.add_argument("--scheduler", required=True)
    parser.add_argument("--config", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--shard-level", default="")
    parser.add_argument("--report")
    parser.add_argument("--basemap", default=None)
    parser.add_argument("--quiet", action="store_true")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--progress-json", action="store_true")
    parser.add_argument("--split-output", action="store_true")
    parser.add_argument("--previous", help="a rerun: the previous run's output")
    parser.add_argument("--lock", action="append", default=[])
    arguments = parser.parse_args(argv)
    try:
        with open(arguments.config, "rb") as handoff:
            config = _core.decode_config(handoff.read())
        os.remove(arguments.config)
        progress: Any = not arguments.quiet and not arguments.json and sys.stderr.isatty()
        if arguments.progress_json:  # as the CLI's --progress-json: a JSON object per line on stderr

            def progress(stage: str, done: int, total: int) -> None:
                print(json.dumps({"stage": stage, "done": done, "total": total}), file=sys.stderr, flush=True)

        with Reporter(progress) as callback, distributed.Client(arguments.scheduler, timeout="60s") as client:
            if arguments.previous is None:
                run, parts = _run(config, client, arguments.shard_level, arguments.output, callback,
                                  arguments.split_output)
            else:
                run, parts = _rerun(config, client, arguments.shard_level, arguments.previous, arguments.lock,
                                    arguments.output, callback, arguments.split_output)
        if arguments.report:
            _api.report_html(arguments.output, arguments.report, basemap=arguments.basemap)
    except _core.Error as error:
        print(f"civgrid: {error}", file=sys.stderr)  # as the CLI prints its errors
        return error.exit_code
    except OSError as error:  # the scheduler unreachable, the handoff file gone
        print(f"civgrid: cli: --scheduler {arguments.scheduler}: {error}", file=sys.stderr)
        return 4
    if arguments.json:
        printed = {"output": arguments.output, "crs": run.crs, "warnings": list(run.warnings),
                   "quality": _api._report_dict(run.report), "timings": dict(run.timings),
                   "scheduler": arguments.scheduler, "parts": parts}
        churn = run.churn
        if churn is not None:  # as the CLI's "rerun"
            printed["rerun"] = {"unchanged": churn["micro_grids_unchanged"], "redrawn": churn["micro_grids_redrawn"],
                                "new": churn["micro_grids_new"], "retired": churn["micro_grids_retired"],
                                "household_churn": churn["household_churn"]}
        print(json.dumps(printed))
    elif not arguments.quiet:
        churn = run.churn
        if churn is not None:
            print(f"Rerun against {arguments.previous}: {churn['micro_grids_unchanged']} micro-grids unchanged, "
                  f"{churn['micro_grids_redrawn']} redrawn (same code), {churn['micro_grids_new']} new, "
                  f"{churn['micro_grids_retired']} retired, in {churn['zones']} zones")
        for warning in run.warnings:
            print(f"warning: {warning}")
        print(f"wrote {arguments.output} (shards on {arguments.scheduler})")
        if parts is not None:
            print(f"wrote {len(parts)} district files beside it, listed in its layer 'parts'")
        if arguments.report:
            print(f"wrote {arguments.report} (HTML report)")
        print(run.report_text, end="")
    return 0


def _with_cluster_keywords(signature: inspect.Signature) -> inspect.Signature:
    """The one-machine function's signature plus ``client``, ``shard_level`` and
    ``output_per_district``, for help()."""
    return inspect.Signature(
        [p for p in signature.parameters.values() if p.kind != inspect.Parameter.VAR_KEYWORD]
        + [inspect.Parameter("client", inspect.Parameter.KEYWORD_ONLY, default=None),
           inspect.Parameter("shard_level", inspect.Parameter.KEYWORD_ONLY, default=""),
           inspect.Parameter("output_per_district", inspect.Parameter.KEYWORD_ONLY, default=False),
           inspect.Parameter("options", inspect.Parameter.VAR_KEYWORD)],
        return_annotation=Result)


partition.__signature__ = _with_cluster_keywords(_PARTITION)  # type: ignore[attr-defined]
repartition.__signature__ = _with_cluster_keywords(_REPARTITION)  # type: ignore[attr-defined]


if __name__ == "__main__":
    import sys

    # Tasks must name civgrid.distributed's functions, not this __main__'s: workers import the package.
    from civgrid.distributed import _main as _package_main

    sys.exit(_package_main())
