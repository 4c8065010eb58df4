#!/usr/bin/python3
"""Importing a layer of parcels against GDAL reading it, measured side by side (issue 15).

    bench/parcel_load.py [--build DIR] [--parcels N[,N...]] [--dense-vertices V] [--seed S] [--workdir DIR]
                         [--gaps SHARE] [--overlaps SHARE] [--units areas] [--partition]

For each size it generates parcels that tile the ground (`civgrid synth --parcels N`: neighbours
share their edges vertex for vertex, 1 % of parcels have about 4,000 vertices, 0.2 % are invalid
bow-ties), then in the same run times GDAL's own read of the layer (`ogr2ogr -f Memory`, every
feature and geometry decoded) and civgrid's import of it (`civgrid check`: the read plus every
import check: repairs, duplicates, overlaps, gaps), each in its own process, and prints the ratio
(issue 15's goal: at most 3, whatever the shapes) and the import's peak RSS.

With --gaps / --overlaps the parcels are dirty (`civgrid synth --gaps --overlaps`: that share of
parcels shrunk / grown by 0.5 m); with --units areas the import also cleans them (units mode's
coverage cleaning); with --partition it also times a whole `civgrid partition` (--units as given).

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
    parser.add_argument("--gaps", type=float, default=0.0, help="share of parcels shrunk by 0.5 m")
    parser.add_argument("--overlaps", type=float, default=0.0, help="share of parcels grown by 0.5 m")
    parser.add_argument("--units", default="", help="passed to civgrid check (areas: the coverage cleaning too)")
    parser.add_argument("--partition", action="store_true", help="also time civgrid partition")
    args = parser.parse_args()
    civgrid = str(pathlib.Path(args.build) / "engine" / "civgrid")
    workdir = pathlib.Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)

    units = ["--units", args.units] if args.units else []
    print(f"{'parcels':>9} {'GDAL read':>10} {'civgrid import':>15} {'ratio':>6} {'peak RSS':>9}"
          + (f" {'partition':>10} {'peak RSS':>9}" if args.partition else ""))
    for parcels in (int(size) for size in args.parcels.split(",")):
        dirt = f"-g{args.gaps}-o{args.overlaps}" if args.gaps or args.overlaps else ""
        layer = workdir / f"parcels-{parcels}-{args.seed}-{args.dense_vertices}{dirt}.gpkg"
        if not layer.exists():
            run_child([civgrid, "synth", "--parcels", str(parcels), "--dense-vertices", str(args.dense_vertices),
                       "--seed", str(args.seed), "--gaps", str(args.gaps), "--overlaps", str(args.overlaps),
                       "-o", str(layer)])
        gdal_wall, _ = run_child(["ogr2ogr", "-f", "Memory", "/vsimem/read", str(layer), "buildings"])
        import_wall, import_rss = run_child([civgrid, "check", str(layer)] + units)
        line = (f"{parcels:>9,} {gdal_wall:>9.2f}s {import_wall:>14.2f}s {import_wall / gdal_wall:>6.1f} "
                f"{import_rss:>7.0f}MB")
        if args.partition:
            out = workdir / f"out-{layer.stem}.gpkg"
            if out.exists():
                out.unlink()
            partition_wall, partition_rss = run_child([civgrid, "partition", str(layer), "-o", str(out)] + units)
            line += f" {partition_wall:>9.2f}s {partition_rss:>7.0f}MB"
        print(line)


if __name__ == "__main__":
    main()
