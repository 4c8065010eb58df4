#!/usr/bin/python3
"""The whole city end to end against GDAL copying its buildings, measured side by side (issue 15).

    bench/end_to_end.py [--build DIR] [--households N[,N...]] [--seed S] [--workdir DIR] [--json FILE]

For each size it generates the city (`civgrid synth`, once: an existing file of the same size and
seed is reused), then, in the same run, times `ogr2ogr -f GPKG copy.gpkg city.gpkg buildings` and
`civgrid partition city.gpkg -o out.gpkg --json` (default options, staffing included), each in its
own process, with the process's peak RSS (wait4). It prints the wall times, their ratio (issue 15's
goal: at most 1.55), the peak RSS (goal: at most 1 GB at 3.4 M households) and the CLI's stages
with wall and CPU seconds (CPU above wall: both cores busy; below: one idles). With several sizes it
fits time ~ households^k and memory ~ households^k by least squares on the logarithms and prints
both exponents (goal: at most 1.1).

Standard library only. This is a measurement, not a test: the machine is shared and noisy, so run
it in a quiet spell and compare ratios measured in the same run. See bench/README.md.
"""

import argparse
import json
import math
import os
import pathlib
import subprocess
import sys
import time

REPO = pathlib.Path(__file__).resolve().parent.parent


def run_child(command):
    """Runs `command` as a child of its own so its rusage is its alone: (wall s, peak MB, stdout)."""
    start = time.monotonic()
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(read_end)
        os.dup2(write_end, 1)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        try:
            os.execvp(command[0], command)
        finally:
            os._exit(127)
    os.close(write_end)
    chunks = []
    with os.fdopen(read_end, "r") as pipe:
        chunks.append(pipe.read())
    _, status, usage = os.wait4(pid, 0)
    wall = time.monotonic() - start
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"failed ({os.waitstatus_to_exitcode(status)}): {' '.join(command)}")
    return wall, usage.ru_maxrss / 1024.0, "".join(chunks)


def fit_exponent(sizes, values):
    """k of values ~ sizes^k, least squares on the logarithms."""
    xs = [math.log(s) for s in sizes]
    ys = [math.log(v) for v in values]
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    return sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys)) / sum((x - mean_x) ** 2 for x in xs)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", default=str(REPO / "build"))
    parser.add_argument("--households", default="3400000", help="one size or several, comma separated")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", default=str(REPO / "bench" / "results" / "end_to_end"))
    parser.add_argument("--json", help="also write the figures here")
    args = parser.parse_args()
    civgrid = str(pathlib.Path(args.build) / "engine" / "civgrid")
    workdir = pathlib.Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    sizes = [int(size) for size in args.households.split(",")]

    rows = []
    for households in sizes:
        city = workdir / f"city-{households}-{args.seed}.gpkg"
        if not city.exists():
            run_child([civgrid, "synth", "--households", str(households), "--seed", str(args.seed), "-o",
                       str(city)])
        copy, out = workdir / "copy.gpkg", workdir / "out.gpkg"
        for stale in (copy, out):
            stale.unlink(missing_ok=True)
        copy_wall, copy_rss, _ = run_child(["ogr2ogr", "-f", "GPKG", str(copy), str(city), "buildings"])
        cli_wall, cli_rss, stdout = run_child([civgrid, "partition", str(city), "-o", str(out), "--json"])
        result = json.loads(stdout)
        rows.append({"households": households, "ogr2ogr_s": copy_wall, "ogr2ogr_rss_mb": copy_rss,
                     "civgrid_s": cli_wall, "civgrid_rss_mb": cli_rss, "ratio": cli_wall / copy_wall,
                     "micro_grids": result["quality"].get("micro_grids"), "timings": result["timings"],
                     "cpu_timings": result.get("cpu_timings", {}), "overlapped": result.get("overlapped", {})})

    print(f"{'households':>11} {'ogr2ogr':>9} {'civgrid':>9} {'ratio':>6} {'peak RSS':>9} {'micro-grids':>11}")
    for row in rows:
        print(f"{row['households']:>11,} {row['ogr2ogr_s']:>8.2f}s {row['civgrid_s']:>8.2f}s {row['ratio']:>6.2f} "
              f"{row['civgrid_rss_mb']:>7.0f}MB {row['micro_grids']:>11,}")
    for row in rows:
        print(f"\nstages at {row['households']:,} households (wall / CPU seconds):")
        for stage, seconds in row["timings"].items():
            if stage == "total":
                continue
            cpu = row["cpu_timings"].get(stage)
            print(f"  {stage:<18} {seconds:7.2f}" + (f" / {cpu:7.2f}" if cpu is not None else ""))
        for side, seconds in row["overlapped"].items():  # inside assess_and_write, each side alone
            print(f"    {side + ' alone':<16} {seconds:7.2f}")
    if len(rows) > 1:
        time_exponent = fit_exponent(sizes, [row["civgrid_s"] for row in rows])
        memory_exponent = fit_exponent(sizes, [row["civgrid_rss_mb"] for row in rows])
        print(f"\nfitted exponents: time {time_exponent:.2f}, memory {memory_exponent:.2f} (goal: at most 1.1)")
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(rows, indent=1))


if __name__ == "__main__":
    main()
