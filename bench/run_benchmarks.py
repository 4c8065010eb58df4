#!/usr/bin/python3
"""Runs civgrid_bench, keeps its JSON for tracking over time and prints a summary table.

    bench/run_benchmarks.py [OUTDIR] [--build DIR] [--quick | --filter REGEX] [--repetitions N] [-- BENCH_OPTIONS]
    bench/run_benchmarks.py --summary FILE.json      # the table of an earlier run

The JSON goes to OUTDIR (default bench/results/, not committed) as
YYYYMMDD-HHMMSS_<commit>[-dirty]_<set>.json, where <commit> is `git rev-parse --short HEAD`,
-dirty marks a working tree with uncommitted changes and <set> is all, quick or filtered. The
commit, the set, the binary's build time and the load average before the run are also written into
the JSON's context.
Standard library only. See bench/README.md.
"""

import argparse
import datetime
import json
import os
import pathlib
import subprocess
import sys
import time

REPO = pathlib.Path(__file__).resolve().parent.parent
# What --quick leaves out: the whole-city size and the whole-city-sized grid graph.
BIG = r"/city(/|$)|/side:640(/|$)"
# Name components that are run settings, not sizes.
SETTINGS = ("real_time", "process_time", "iterations:", "repeats:", "threads:", "min_time:")


def git(*args):
    try:
        done = subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True, check=True)
        return done.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def load_average():
    try:
        with open("/proc/loadavg", encoding="ascii") as f:
            return float(f.read().split()[0])
    except OSError:
        return 0.0


def wait_for_quiet(limit, max_seconds):
    """Waits (up to max_seconds) until the 1-minute load average is at most `limit`."""
    start = time.monotonic()
    while load_average() > limit and time.monotonic() - start < max_seconds:
        print(f"load average {load_average():.2f} > {limit}: waiting", file=sys.stderr, flush=True)
        time.sleep(30)


def split_name(run_name):
    """'BM_GraphBuild/city/iterations:1/real_time' -> ('GraphBuild', 'city')."""
    parts = [p for p in run_name.split("/") if not p.startswith(SETTINGS)]
    family = parts[0][3:] if parts[0].startswith("BM_") else parts[0]
    size = "/".join(parts[1:]) or "-"
    return family, size


def seconds(value, unit):
    return value * {"ns": 1e-9, "us": 1e-6, "ms": 1e-3, "s": 1.0}[unit]


def show_time(value):
    """Three significant digits, in s from 1 s, else in ms."""
    scaled, unit = (value, "s") if value >= 1.0 else (value * 1e3, "ms")
    text = f"{scaled:.0f}" if scaled >= 100 else f"{scaled:#.3g}"
    return f"{text} {unit}"


def rows_of(report):
    """One row per benchmark: the median when there are repetitions, else the run itself."""
    runs = report.get("benchmarks", [])
    medians = {b["run_name"] for b in runs if b.get("run_type") == "aggregate" and b.get("aggregate_name") == "median"}
    rows = []
    for b in runs:
        if b.get("error_occurred"):
            rows.append((b["run_name"], None, None, b))
            continue
        if b["run_name"] in medians:
            if b.get("run_type") != "aggregate" or b.get("aggregate_name") != "median":
                continue
        elif b.get("run_type") == "aggregate":
            continue
        unit = b.get("time_unit", "ns")
        rows.append((b["run_name"], seconds(b["real_time"], unit), seconds(b["cpu_time"], unit), b))
    return rows


def table(header, lines):
    widths = [max(len(str(c)) for c in column) for column in zip(header, *lines)]
    out = ["| " + " | ".join(str(c).ljust(w) for c, w in zip(header, widths)) + " |",
           "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += ["| " + " | ".join(str(c).ljust(w) for c, w in zip(line, widths)) + " |" for line in lines]
    return "\n".join(out)


def summary(report):
    """Pivot tables: a row per stage, a column per size; cells are wall (CPU) time."""
    context = report.get("context", {})
    out = []
    head = [context.get("date", "")]
    if "commit" in context:
        head.append(f"commit {context['commit']}" + (" (dirty)" if context.get("dirty") == "yes" else ""))
    if "set" in context:
        head.append(f"set {context['set']}")
    if "binary_built" in context:
        head.append(f"binary built {context['binary_built']}")
    if "load_before" in context:
        head.append(f"load before {context['load_before']}")
    out.append(", ".join(h for h in head if h))
    # Families with the same sizes share a table, in the order they ran.
    groups = {}
    sizes_seen = {}
    counters = {}
    for run_name, wall, cpu, b in rows_of(report):
        family, size = split_name(run_name)
        sizes_seen.setdefault(family, [])
        if size not in sizes_seen[family]:
            sizes_seen[family].append(size)
        cell = "error" if wall is None else f"{show_time(wall)} ({show_time(cpu)})"
        groups.setdefault(family, {})[size] = cell
        if family == "GraphBuild":
            counters[size] = b
    by_sizes = {}
    for family, sizes in sizes_seen.items():
        by_sizes.setdefault(tuple(sizes), []).append(family)
    for sizes, families in by_sizes.items():
        lines = [[family] + [groups[family].get(s, "") for s in sizes] for family in families]
        out.append("")
        out.append(table(["wall (cpu)"] + list(sizes), lines))
    if counters:
        out.append("")
        keys = ["regions", "vertices", "edges", "micro_grids", "households"]
        lines = [[size] + [f"{int(b[k]):,}" if k in b else "" for k in keys] for size, b in counters.items()]
        out.append(table(["size"] + keys, lines))
    return "\n".join(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("outdir", nargs="?", default=str(REPO / "bench" / "results"), help="where the JSON goes (default bench/results)")
    parser.add_argument("--build", default=str(REPO / "build"), help="build directory holding bench/civgrid_bench (default build)")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--quick", action="store_true", help="leave out the whole-city size and the 640x640 grid graph")
    which.add_argument("--filter", help="Google Benchmark filter regex (a leading '-' excludes)")
    parser.add_argument("--repetitions", type=int, default=1, help="repetitions per benchmark; the table shows medians")
    parser.add_argument("--wait-quiet", type=float, default=0, metavar="SECONDS",
                        help="first wait up to SECONDS for the load average to fall to 1.5")
    parser.add_argument("--summary", metavar="FILE", help="print the table of an earlier run's JSON and exit")
    argv = sys.argv[1:]
    bench_args = argv[argv.index("--") + 1:] if "--" in argv else []  # after --: more civgrid_bench options
    args = parser.parse_args(argv[:len(argv) - len(bench_args) - (1 if "--" in argv else 0)])

    if args.summary:
        with open(args.summary, encoding="utf-8") as f:
            print(summary(json.load(f)))
        return 0

    binary = pathlib.Path(args.build) / "bench" / "civgrid_bench"
    if not binary.is_file():
        print(f"run_benchmarks: {binary} not found; build it with "
              f"cmake --build {args.build} --target civgrid_bench", file=sys.stderr)
        return 4
    outdir = pathlib.Path(args.outdir)
    outdir.mkdir(parents=True, exist_ok=True)

    commit = git("rev-parse", "--short", "HEAD") or "nogit"
    # --no-optional-locks: status must not refresh the index (read-only).
    dirty = bool(git("--no-optional-locks", "status", "--porcelain", "--untracked-files=no"))
    # The commit is the working tree's at run time; the binary's time tells which build ran.
    built = datetime.datetime.fromtimestamp(binary.stat().st_mtime).strftime("%Y-%m-%dT%H:%M:%S")
    which_set = "filtered" if args.filter else "quick" if args.quick else "all"
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    out = outdir / f"{stamp}_{commit}{'-dirty' if dirty else ''}_{which_set}.json"

    if args.wait_quiet > 0:
        wait_for_quiet(1.5, args.wait_quiet)
    load = load_average()
    if load > 1.5:
        print(f"run_benchmarks: load average {load:.2f} before the run: times will be noisy", file=sys.stderr)
    command = [str(binary), f"--benchmark_out={out}", "--benchmark_out_format=json",
               f"--benchmark_context=commit={commit},dirty={'yes' if dirty else 'no'},set={which_set},load_before={load:.2f},"
               f"binary_built={built}"]
    if args.filter:
        command.append(f"--benchmark_filter={args.filter}")
    elif args.quick:
        command.append(f"--benchmark_filter=-{BIG}")
    if args.repetitions > 1:
        command += [f"--benchmark_repetitions={args.repetitions}", "--benchmark_display_aggregates_only=true"]
    command += bench_args
    print(" ".join(command), flush=True)
    start = time.monotonic()
    code = subprocess.call(command)
    if code != 0:
        print(f"run_benchmarks: civgrid_bench failed (exit {code}); partial output in {out}", file=sys.stderr)
        return 1
    with open(out, encoding="utf-8") as f:
        report = json.load(f)
    print()
    print(summary(report))
    print(f"\n{len(rows_of(report))} benchmarks in {time.monotonic() - start:.0f} s; JSON: {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
