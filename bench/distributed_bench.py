#!/usr/bin/python3
"""A synthetic province on dask.distributed (issue 21): wall time, per-worker and client peak memory,
and the speed-up against the single-machine CLI on the same province, measured in one run.

    /usr/bin/python3 bench/distributed_bench.py [--households 30000000] [--districts 100]
        [--workers 1 2 4] [--memory-limit 2GB] [--city province.gpkg] [--split-output]

Each distributed run is `civgrid partition --scheduler` against a LocalCluster (started in a fresh
process) of worker processes, one thread each, with the given memory limit per worker; the client's
peak is the driver's (GNU time), and its micro-grids are compared with the CLI's (codes and
households). Per-shard task times from dask's
task stream are printed, for extrapolating to a national run (see README, "A province on a cluster"),
and the client's own stages (merge, staffing, assess, write) from the driver's --json timings.
With --split-output every run (the CLI's too) writes one file per district and an index, and the
client writes each district as its shard comes (README, "What the client holds").
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BUILD = Path(os.environ.get("CIVGRID_BUILD", ROOT / "build"))
CLI = os.environ.get("CIVGRID_CLI", str(BUILD / "engine" / "civgrid"))


def timed(command, json_output=False):
    """Wall seconds and peak RSS (MB) of a command, by GNU time; with json_output, also the JSON
    object it prints last (civgrid's --json)."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as report:
        start = time.monotonic()
        completed = subprocess.run(["/usr/bin/time", "-f", "%M", "-o", report.name, *command], check=True,
                                   stdout=subprocess.PIPE if json_output else subprocess.DEVNULL, text=True)
        wall = time.monotonic() - start
        peak = int(report.read().strip().splitlines()[-1]) / 1024
    if json_output:
        return wall, peak, json.loads(completed.stdout.strip().splitlines()[-1])
    return wall, peak


def micro_grids_of(output, split):
    """The run's micro-grids (id, households), from its file or its districts' files."""
    import geopandas as gpd
    import pandas as pd

    if not split:
        frame = gpd.read_file(output, layer="micro_grids", ignore_geometry=True)
    else:
        parts = gpd.read_file(output, layer="parts", ignore_geometry=True)
        folder = Path(output).parent
        frame = pd.concat([gpd.read_file(folder / name, layer="micro_grids", ignore_geometry=True)
                           for name in parts.file], ignore_index=True)
    return frame.sort_values("micro_grid_id")


def one_run(city, workers, memory_limit, output, level, split):
    """In this process: a LocalCluster of `workers` processes, then `civgrid partition --scheduler`
    against it (the CLI's own path: the driver is a separate process, timed by GNU time), figures."""
    sys.path.insert(0, str(BUILD / "python"))
    import distributed

    with distributed.LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, memory_limit=memory_limit,
                                  dashboard_address=None, silence_logs=50) as cluster, \
            distributed.Client(cluster) as client:
        command = [CLI, "partition", city, "-o", output, "--json", "--scheduler", cluster.scheduler_address]
        if level:
            command += ["--shard-level", level]
        if split:
            command += ["--split-output"]
        with distributed.get_task_stream(client) as stream:
            wall, driver_peak, printed = timed(command, json_output=True)
        worker_peaks = client.run(lambda: resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
        tasks = [task for task in stream.data if str(task.get("key", "")).startswith("civgrid-shard")]
        compute = [sum(s["stop"] - s["start"] for s in task["startstops"] if s["action"] == "compute")
                   for task in tasks]
    micro_grids = micro_grids_of(output, split)
    return {
        "workers": workers, "wall_s": wall, "client_peak_mb": driver_peak, "client_timings_s": printed["timings"],
        "worker_peak_mb": max(worker_peaks.values()), "shards": len(compute),
        "shard_compute_s": {"sum": sum(compute), "mean": sum(compute) / max(1, len(compute)),
                            "max": max(compute, default=0)},
        "micro_grids": len(micro_grids), "households": int(micro_grids.households.sum()),
        "ids": list(micro_grids.micro_grid_id), "households_by_id": [int(h) for h in micro_grids.households],
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--households", type=int, default=30_000_000)
    parser.add_argument("--districts", type=int, default=100)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--memory-limit", default="2GB")
    parser.add_argument("--level", default="", help="shard level (default: districts)")
    parser.add_argument("--city", help="an existing province file (default: generated in a temporary folder)")
    parser.add_argument("--split-output", action="store_true", help="one file per district and an index")
    parser.add_argument("--folder", help="where the outputs go (default: a temporary folder)")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--output", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.one:
        figures = one_run(arguments.city, arguments.one, arguments.memory_limit, arguments.output, arguments.level,
                          arguments.split_output)
        print(json.dumps(figures))
        return

    folder = Path(arguments.folder or tempfile.mkdtemp(prefix="civgrid-distributed-"))
    folder.mkdir(parents=True, exist_ok=True)
    city = arguments.city or str(folder / "province.gpkg")
    if not arguments.city:
        wall, peak = timed([CLI, "synth", "--households", str(arguments.households), "--districts",
                            str(arguments.districts), "--seed", "1", "-o", city])
        print(f"synth {arguments.households:,} households, {arguments.districts} districts: {wall:.1f} s, "
              f"{peak:.0f} MB", flush=True)
    load = os.getloadavg()
    split = ["--split-output"] if arguments.split_output else []
    (folder / "single").mkdir(exist_ok=True)
    single_output = str(folder / "single" / "out.gpkg")
    single_wall, single_peak = timed([CLI, "partition", city, "-o", single_output, "--quiet", *split])
    print(f"single machine (civgrid partition, 2 threads): {single_wall:.1f} s, peak {single_peak:.0f} MB", flush=True)
    sys.path.insert(0, str(BUILD / "python"))
    single = micro_grids_of(single_output, arguments.split_output)
    rows = []
    for workers in arguments.workers:
        (folder / f"distributed-{workers}").mkdir(exist_ok=True)
        output = str(folder / f"distributed-{workers}" / "out.gpkg")
        completed = subprocess.run([sys.executable, __file__, "--one", str(workers), "--city", city, "--memory-limit",
                                    arguments.memory_limit, "--output", output, "--level", arguments.level, *split],
                                   check=True, capture_output=True, text=True)
        figures = json.loads(completed.stdout.strip().splitlines()[-1])
        same = figures.pop("ids") == list(single.micro_grid_id) and \
            figures.pop("households_by_id") == list(single.households) and \
            figures["households"] == int(single.households.sum())
        figures["same_as_single"] = same
        rows.append(figures)
        print(f"{workers} worker(s): {figures['wall_s']:.1f} s, speed-up {single_wall / figures['wall_s']:.2f}x, "
              f"worker peak {figures['worker_peak_mb']:.0f} MB, client peak {figures['client_peak_mb']:.0f} MB, "
              f"{figures['shards']} shards (compute mean {figures['shard_compute_s']['mean']:.2f} s, max "
              f"{figures['shard_compute_s']['max']:.2f} s, sum {figures['shard_compute_s']['sum']:.1f} s), "
              f"same micro-grids as the CLI: {same}; client stages "
              + ", ".join(f"{stage} {seconds:.1f} s" for stage, seconds in figures["client_timings_s"].items()),
              flush=True)
    print(json.dumps({"city": arguments.city or f"synth {arguments.households} households, {arguments.districts} districts",
                      "single": {"wall_s": single_wall, "peak_mb": single_peak}, "distributed": rows,
                      "load_average_before": load, "load_average_after": os.getloadavg()}))
    if not all(row["same_as_single"] for row in rows):
        sys.exit(1)


if __name__ == "__main__":
    main()
