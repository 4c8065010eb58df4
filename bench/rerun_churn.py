#!/usr/bin/python3
"""Reruns against fresh runs on the generator's four changes: churn and time, measured side by side.

    bench/rerun_churn.py [--build DIR] [--households N] [--seed S] [--workdir DIR] [--json FILE]

For each change (households: 1 % of buildings +-30 %; estate: 3,000 new households; demolition:
every building within 120 m; boundary: a strip moves between communities) it generates the city
before and after (`civgrid synth --change`), partitions the first, then partitions the second
both ways: `civgrid repartition --previous` and a fresh `civgrid partition`. It reads the
buildings layers back and measures, the same way for both, the share of households whose
micro-grid code differs from the first run's (a new building counts as changed, a removed one
too), and prints it against the share the change touches directly. Issue 7 asks churn to stay
within twice the direct share and far below a fresh run's.

Standard library only (the GeoPackages are read as SQLite). See bench/README.md.
"""

import argparse
import json
import pathlib
import re
import sqlite3
import subprocess
import sys
import time

REPO = pathlib.Path(__file__).resolve().parent.parent
CHANGES = ("households", "estate", "demolition", "boundary")


def run(command):
    start = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"failed ({done.returncode}): {' '.join(command)}\n{done.stdout}\n{done.stderr}")
    return done.stdout, time.monotonic() - start


def parts(path):
    """building_id -> (households, {micro-grid code: households}) from an output's buildings layer."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        columns = [row[1] for row in db.execute("PRAGMA table_info(buildings)")]
        split = "split_households" in columns
        query = ("SELECT building_id, households, micro_grid_id, split_micro_grids"
                 + (", split_households" if split else ", NULL") + " FROM buildings")
        result = {}
        for building, households, code, split_codes, split_households in db.execute(query):
            households = max(int(households or 0), 0)
            if split_codes and split_households:
                shares = {c: int(h) for c, h in zip(split_codes.split(";"), split_households.split(";"))}
            else:
                shares = {code: households} if code else {}
            result[building] = (households, shares)
        return result


def churn(before, after):
    """Share of households whose micro-grid differs: moved parts, new and removed buildings."""
    changed = total = 0
    for building, (households, shares) in after.items():
        total += households
        if building not in before:
            changed += households
            continue
        old_households, old_shares = before[building]
        scale = households / old_households if old_households else 0.0
        stayed = sum(min(h, old_shares.get(code, 0) * scale) for code, h in shares.items())
        changed += households - stayed
    for building, (households, _) in before.items():
        if building not in after:
            changed += households
            total += households
    return changed / total if total else 0.0, total


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default=str(REPO / "build"))
    parser.add_argument("--households", type=int, default=300_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workdir", default="/tmp/civgrid-rerun")
    parser.add_argument("--json", help="write the measurements here too")
    args = parser.parse_args()
    civgrid = str(pathlib.Path(args.build) / "engine" / "civgrid")
    work = pathlib.Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)

    city, first = work / "city.gpkg", work / "first.gpkg"
    run([civgrid, "synth", "--households", str(args.households), "--seed", str(args.seed), "-o", str(city)])
    _, first_seconds = run([civgrid, "partition", str(city), "-o", str(first), "-q"])
    before = parts(first)
    rows = []
    for change in CHANGES:
        changed = work / f"{change}.gpkg"
        out, _ = run([civgrid, "synth", "--households", str(args.households), "--seed", str(args.seed),
                      "--change", change, "-o", str(changed)])
        found = re.search(r"changed: (.*) \((\d+) buildings, (\d+) households directly affected\)", out)
        description, direct_households = found.group(1), int(found.group(3))
        _, rerun_seconds = run([civgrid, "repartition", "--previous", str(first), str(changed),
                                "-o", str(work / f"{change}-rerun.gpkg"), "-q"])
        _, fresh_seconds = run([civgrid, "partition", str(changed), "-o", str(work / f"{change}-fresh.gpkg"), "-q"])
        rerun_share, total = churn(before, parts(work / f"{change}-rerun.gpkg"))
        fresh_share, _ = churn(before, parts(work / f"{change}-fresh.gpkg"))
        direct = direct_households / total
        rows.append({"change": change, "description": description, "direct": direct, "rerun": rerun_share,
                     "fresh": fresh_share, "rerun_seconds": rerun_seconds, "fresh_seconds": fresh_seconds,
                     "within_twice_direct": rerun_share <= 2 * direct, "below_fresh": rerun_share < fresh_share})

    print(f"{args.households:,} households (seed {args.seed}); first run {first_seconds:.1f} s")
    print(f"{'change':<11} {'direct':>8} {'rerun':>8} {'fresh':>8} {'rerun/direct':>12} {'fresh/rerun':>11}"
          f" {'rerun s':>8} {'fresh s':>8}")
    for row in rows:
        ratio = row["rerun"] / row["direct"] if row["direct"] else float("inf")
        fresh_ratio = row["fresh"] / row["rerun"] if row["rerun"] else float("inf")
        print(f"{row['change']:<11} {100 * row['direct']:7.3f}% {100 * row['rerun']:7.3f}% {100 * row['fresh']:7.3f}%"
              f" {ratio:12.2f} {fresh_ratio:11.1f} {row['rerun_seconds']:8.1f} {row['fresh_seconds']:8.1f}")
    for row in rows:
        print(f"  {row['change']}: {row['description']}")
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps({"households": args.households, "seed": args.seed,
                                                       "rows": rows}, indent=2))
    failed = [row["change"] for row in rows if not (row["within_twice_direct"] and row["below_fresh"])]
    if failed:
        print("not within twice the direct share, or not below a fresh run: " + ", ".join(failed))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
