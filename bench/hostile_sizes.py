#!/usr/bin/python3
"""Hostile sizes (issue 14, item 8): a city against the same city with one huge boundary or building.

    /usr/bin/python3 bench/hostile_sizes.py [--build DIR] [--households N] [--seed S]
        [--vertices N ...] [--jag METRES] [--timeout SECONDS] [--workdir DIR] [--json FILE]

Generates a city (`civgrid synth`), then copies of it where the first community's boundary is the
same polygon densified to N vertices (straight: the extra vertices on its edges; jagged: every other
one moved inwards by --jag, a few centimetres, away from the corners) and one where the largest
building's footprint is densified to N vertices. Runs `civgrid partition` on each in turn, in the
same run, and prints wall time and peak RSS (GNU time) against the plain
city. Needs Debian's /usr/bin/python3 (GDAL's osgeo bindings). See bench/README.md.
"""

import argparse
import json
import math
import os
import pathlib
import shutil
import signal
import subprocess
import sys
import tempfile
import time

from osgeo import gdal, ogr

gdal.UseExceptions()
REPO = pathlib.Path(__file__).resolve().parent.parent


def densified_ring(points, vertices, jag):
    """The closed ring through `points` with about `vertices` vertices on its edges; every other
    new vertex moved `jag` metres to the left of its edge (inwards for a counter-clockwise ring),
    except within 5 * jag of the original vertices, so the ring stays simple."""
    edges = [(points[i], points[i + 1]) for i in range(len(points) - 1)]
    perimeter = sum(math.dist(a, b) for a, b in edges)
    step = perimeter / vertices
    out = []
    for (x0, y0), (x1, y1) in edges:
        length = math.dist((x0, y0), (x1, y1))
        if length == 0:
            continue
        count = max(1, round(length / step))
        nx, ny = -(y1 - y0) / length, (x1 - x0) / length
        for j in range(count):
            t = j / count
            x, y = x0 + t * (x1 - x0), y0 + t * (y1 - y0)
            if jag and j % 2 == 1 and min(t, 1 - t) * length > 5 * jag:
                x, y = x + nx * jag, y + ny * jag
            out.append((x, y))
    out.append(out[0])
    return out


def ccw(points):
    area = sum(points[i][0] * points[i + 1][1] - points[i + 1][0] * points[i][1] for i in range(len(points) - 1))
    return points if area > 0 else points[::-1]


def densify(source, target, layer_name, pick, vertices, jag):
    """Copies `source` to `target` with one feature's outer ring densified; returns its id."""
    shutil.copy(source, target)
    dataset = ogr.Open(str(target), 1)
    layer = dataset.GetLayerByName(layer_name)
    feature = pick(layer)
    geometry = feature.GetGeometryRef()
    polygon = geometry.GetGeometryRef(0) if geometry.GetGeometryType() == ogr.wkbMultiPolygon else geometry
    ring_points = ccw([p[:2] for p in polygon.GetGeometryRef(0).GetPoints()])
    ring = ogr.Geometry(ogr.wkbLinearRing)
    for x, y in densified_ring(ring_points, vertices, jag):
        ring.AddPoint_2D(x, y)
    new = ogr.Geometry(ogr.wkbPolygon)
    new.AddGeometry(ring)
    if not new.IsValid():
        sys.exit(f"the densified {layer_name} feature {feature.GetFID()} is not valid")
    feature.SetGeometry(new)
    layer.SetFeature(feature)
    fid = feature.GetFID()
    dataset = None
    return fid


def first_feature(layer):
    layer.ResetReading()
    return layer.GetNextFeature()


def largest_feature(layer):
    best = None
    for feature in layer:
        if best is None or feature.GetGeometryRef().GetArea() > best.GetGeometryRef().GetArea():
            best = feature
    return best


def run(command, timeout):
    """(wall seconds, peak RSS MB, exit code, output), measured by GNU time (/usr/bin/time): a child
    forked from this process would count this process's own memory in its peak."""
    with tempfile.NamedTemporaryFile(mode="r") as measured:
        # Its own process group, so a timeout stops civgrid too, not only GNU time.
        child = subprocess.Popen(["/usr/bin/time", "-o", measured.name, "-f", "%e %M"] + command,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
        try:
            text, _ = child.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            text, _ = child.communicate()
            return timeout, float("nan"), "timeout", text
        wall, rss_kb = measured.read().split()[-2:]
    return float(wall), float(rss_kb) / 1024, child.returncode, text


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--build", default=str(REPO / "build"))
    parser.add_argument("--households", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--vertices", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--jag", type=float, default=0.03, help="zig-zag of the jagged variant, metres")
    parser.add_argument("--timeout", type=float, default=900, help="per run, seconds")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--workdir")
    parser.add_argument("--json")
    args = parser.parse_args()
    civgrid = pathlib.Path(args.build) / "engine" / "civgrid"
    workdir = pathlib.Path(args.workdir or tempfile.mkdtemp(prefix="civgrid-hostile-"))
    workdir.mkdir(parents=True, exist_ok=True)
    plain = workdir / "city.gpkg"
    subprocess.run([str(civgrid), "synth", "--households", str(args.households), "--seed", str(args.seed),
                    "-o", str(plain)], check=True, capture_output=True)
    cases = [("plain", plain, 0)]
    for n in args.vertices:
        for name, jag in (("boundary", 0.0), ("boundary-jagged", args.jag)):
            path = workdir / f"city-{name}-{n}.gpkg"
            densify(plain, path, "communities", first_feature, n, jag)
            cases.append((name, path, n))
        path = workdir / f"city-building-{n}.gpkg"
        densify(plain, path, "buildings", largest_feature, n, 0.0)
        cases.append(("building", path, n))

    print(f"civgrid partition, {args.households} households, seed {args.seed}, threads {args.threads or 'all'}, "
          f"{time.strftime('%Y-%m-%d %H:%M')}, load {os.getloadavg()[0]:.2f}")
    print(f"{'case':<18}{'vertices':>11}{'wall s':>9}{'RSS MB':>9}{'x wall':>8}{'+RSS MB':>9}  exit")
    results = []
    for name, path, n in cases:
        wall, rss, code, text = run([str(civgrid), "partition", str(path), "-o", str(workdir / f"out-{path.name}"),
                                     "--threads", str(args.threads)], args.timeout)
        quality = {}
        for line in text.splitlines():
            for label in ("gap / overlap area", "outside their community", "non-contiguous"):
                if line.strip().startswith(label):
                    quality[label] = line.strip()[len(label):].strip()
        base = results[0] if results else {"wall": wall, "rss": rss}
        results.append({"case": name, "vertices": n, "wall": wall, "rss": rss, "exit": code, "quality": quality})
        print(f"{name:<18}{n:>11,}{wall:>9.2f}{rss:>9.0f}{wall / base['wall']:>8.1f}{rss - base['rss']:>9.0f}  {code}"
              + ("" if code == 0 else "\n" + text[-2000:]))
        sys.stdout.flush()
    if args.json:
        pathlib.Path(args.json).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
