#!/usr/bin/python3
"""Importing a layer of parcels against GDAL reading it, measured side by side (issue 15).

    bench/parcel_load.py [--build DIR] [--parcels N[,N...]] [--dense-vertices V] [--seed S] [--workdir DIR]

For each size it generates parcels that tile the ground (`civgrid synth --parcels N`: neighbours
share their edges vertex for vertex, 1 % of parcels have about 4,000 vertices, 0.2 % are invalid
bow-ties), then in the same run times GDAL's own read of the layer (`ogr2ogr -f Memory`, every
feature and geometry decoded) and civgrid's import of it (`civgrid check`: the read plus every
import check: repairs, duplicates, overlaps, gaps), each in its own process, and prints the ratio
(issue 15's goal: at most 3, whatever the shapes) and the import's peak RSS.

Standard library only; a measurement, not a test (the machine is shared and noisy).
"""

import argparse
import os
import pathlib
import sys
import time

REPO = pathlib.Path(__file__).resolve().parent.parent


def run_child(command):
    """Runs `command` with its output discarded: (wall seconds, peak RSS in MB)."""
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        try:
            os.execvp(command[0], command)
        finally:
            os._exit(127)
    _, status, usage = os.wait4(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"failed ({os.waitstatus_to_exitcode(status)}): {' '.join(command)}")
    return time.monotonic() - start, usage.ru_maxrss / 1024.0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", default=str(REPO / "build"))
    parser.add_argument("--parcels", default="10000,100000")
    parser.add_argument("--dense-vertices", type=int, default=4000, help="vertices of the 1 %% dense parcels")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", default=str(REPO / "bench" / "results" / "parcels"))
    args = parser.parse_args()
    civgrid = str(pathlib.Path(args.build) / "engine" / "civgrid")
    workdir = pathlib.Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)

    print(f"{'parcels':>9} {'GDAL read':>10} {'civgrid import':>15} {'ratio':>6} {'peak RSS':>9}")
    for parcels in (int(size) for size in args.parcels.split(",")):
        layer = workdir / f"parcels-{parcels}-{args.seed}-{args.dense_vertices}.gpkg"
        if not layer.exists():
            run_child([civgrid, "synth", "--parcels", str(parcels), "--dense-vertices", str(args.dense_vertices),
                       "--seed", str(args.seed), "-o", str(layer)])
        gdal_wall, _ = run_child(["ogr2ogr", "-f", "Memory", "/vsimem/read", str(layer), "buildings"])
        import_wall, import_rss = run_child([civgrid, "check", str(layer)])
        print(f"{parcels:>9,} {gdal_wall:>9.2f}s {import_wall:>14.2f}s {import_wall / gdal_wall:>6.1f} "
              f"{import_rss:>7.0f}MB")


if __name__ == "__main__":
    main()
