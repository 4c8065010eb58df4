#!/usr/bin/python3
"""Balance against the best the data allows, over city styles and seeds (issue 16).

    bench/balance_cities.py [--build DIR] [--styles organic,planned] [--seeds 1-5]
        [--households N] [--workdir DIR] [--json FILE]

For each style and seed it generates a city (`civgrid synth --style STYLE`), partitions it with
default options (`civgrid partition --json`) and prints one row: the share of micro-grids within
+-10 % of the target, the best share the same counts allow (the quality report's upper bound:
nested, never crossing a hard barrier), the gap in points, the mean Polsby-Popper compactness,
non-contiguous micro-grids, barrier crossings, micro-grids beyond the balance bounds ("beyond") and
the wall time; "in bounds" is the bound for plans that keep every micro-grid within the balance
bounds where its piece allows. Issue 16's goal: a gap of at
most 3 points and a mean Polsby-Popper of at least 0.65 on every city.

Standard library only; a measurement, not a test. See bench/README.md.
"""

import argparse
import json
import hashlib
import pathlib
import shlex
import subprocess
import sys
import time

REPO = pathlib.Path(__file__).resolve().parent.parent


def seeds_of(text):
    """'1-5', '1,3,7' or '1-12,21-30' -> list of ints."""
    seeds = []
    for item in text.split(","):
        if "-" in item:
            first, last = item.split("-")
            seeds.extend(range(int(first), int(last) + 1))
        else:
            seeds.append(int(item))
    return seeds


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", default=str(REPO / "build"))
    parser.add_argument("--styles", default="organic,planned")
    parser.add_argument("--seeds", default="1-5")
    parser.add_argument("--households", type=int, default=100000)
    parser.add_argument("--workdir", default=str(REPO / "bench" / "results" / "balance_cities"))
    parser.add_argument("--json", help="also write the rows here")
    parser.add_argument("--partition-args", default="",
                        help="extra options for civgrid partition, e.g. '--grid-households 0'")
    args = parser.parse_args()
    civgrid = str(pathlib.Path(args.build) / "engine" / "civgrid")
    workdir = pathlib.Path(args.workdir)
    workdir.mkdir(parents=True, exist_ok=True)

    rows = []
    print(f"{'city':>22} {'within 10%':>10} {'best':>7} {'gap pts':>7} {'in bounds':>9} {'PP mean':>7} "
          f"{'non-contig':>10} {'crossings':>9} {'beyond':>6} {'time s':>7}")
    for style in args.styles.split(","):
        for seed in seeds_of(args.seeds):
            city = workdir / f"{style}-{args.households}-{seed}.gpkg"
            if not city.exists():
                subprocess.run([civgrid, "synth", "--style", style, "--households", str(args.households),
                                "--seed", str(seed), "-o", str(city)], check=True, stdout=subprocess.DEVNULL)
            # Outputs of different options side by side, so runs with other options can go alongside.
            tag = hashlib.sha1(args.partition_args.encode()).hexdigest()[:8] if args.partition_args else "default"
            out = workdir / f"{style}-{args.households}-{seed}-out-{tag}.gpkg"
            start = time.monotonic()
            done = subprocess.run([civgrid, "partition", str(city), "-o", str(out), "--json",
                                   *shlex.split(args.partition_args)], check=True,
                                  capture_output=True, text=True)
            seconds = time.monotonic() - start
            quality = json.loads(done.stdout)["quality"]
            share, best = quality["share_within_10pct"], quality["best_share_within_10pct"]
            best_in_bounds = quality.get("best_share_within_10pct_in_bounds") or best
            row = {"style": style, "seed": seed, "households": args.households, "share_within_10": share,
                   "best_share_within_10": best, "gap_points": 100 * (best - share),
                   "best_share_within_10_in_bounds": best_in_bounds,
                   "polsby_popper_mean": quality["polsby_popper_mean"],
                   "non_contiguous": quality["non_contiguous"], "barrier_crossings": quality["barrier_crossings"],
                   "micro_grids": quality["micro_grids"],
                   "beyond_bounds": round(quality["micro_grids"] * (1 - quality["share_within_bounds"])),
                   "seconds": seconds}
            rows.append(row)
            print(f"{style + ' seed ' + str(seed):>22} {100 * share:>9.1f}% {100 * best:>6.1f}% "
                  f"{row['gap_points']:>7.1f} {100 * best_in_bounds:>8.1f}% {row['polsby_popper_mean']:>7.3f} {row['non_contiguous']:>10} "
                  f"{row['barrier_crossings']:>9} {row['beyond_bounds']:>6} {seconds:>7.2f}")
            sys.stdout.flush()
    worst = max(rows, key=lambda r: r["gap_points"])
    print(f"largest gap: {worst['gap_points']:.1f} points ({worst['style']} seed {worst['seed']}); "
          f"lowest Polsby-Popper mean: {min(r['polsby_popper_mean'] for r in rows):.3f}")
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main()
