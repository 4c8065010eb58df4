#!/usr/bin/python3
"""Two civgrid outputs compared: the same micro-grids, grids, communities and buildings (every
attribute, geometry identical after normalising) and the same quality report (run_info).

    /usr/bin/python3 bench/compare_outputs.py A.gpkg B.gpkg

Prints what differs and SAME or DIFFERENT (exit 0 / 1). Used to check that a change keeps everyday
inputs on exactly the same paths (README, Hostile sizes). Needs Debian's GDAL bindings.
"""
import sys

from osgeo import gdal, ogr

gdal.UseExceptions()


def layer_rows(dataset, name, key):
    rows = {}
    layer = dataset.GetLayerByName(name)
    definition = layer.GetLayerDefn()
    fields = [definition.GetFieldDefn(i).GetName() for i in range(definition.GetFieldCount())]
    for feature in layer:
        geometry = feature.GetGeometryRef()
        if geometry is not None:
            geometry = geometry.Clone()
            geometry.Normalize()
        rows[feature.GetField(key) if key else feature.GetFID()] = ({n: feature.GetField(n) for n in fields}, geometry)
    return rows


def quality(dataset):
    return {(f.GetField("section"), f.GetField("key")): f.GetField("value")
            for f in dataset.GetLayerByName("run_info") if f.GetField("section") == "quality"}


def main():
    a_ds, b_ds = ogr.Open(sys.argv[1]), ogr.Open(sys.argv[2])
    bad = 0
    for layer, key in [("micro_grids", "micro_grid_id"), ("grids", "grid_id"), ("communities", None), ("buildings", None)]:
        a, b = layer_rows(a_ds, layer, key), layer_rows(b_ds, layer, key)
        if a.keys() != b.keys():
            print(layer, "ids differ", len(a), len(b))
            bad += 1
            continue
        for k in a:
            (fa, ga), (fb, gb) = a[k], b[k]
            if fa != fb:
                print(layer, k, "attributes", {n: (fa[n], fb.get(n)) for n in fa if fa[n] != fb.get(n)})
                bad += 1
            if (ga is None) != (gb is None) or (ga is not None and ga.ExportToWkb() != gb.ExportToWkb()):
                print(layer, k, "geometry differs")
                bad += 1
        print(f"{layer}: {len(a)} compared")
    qa, qb = quality(a_ds), quality(b_ds)
    for k in sorted(set(qa) | set(qb)):
        if qa.get(k) != qb.get(k):
            print("run_info", k, qa.get(k), qb.get(k))
            bad += 1
    print(f"quality: {len(qa)} rows compared")
    print("SAME" if bad == 0 else f"DIFFERENT ({bad})")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
