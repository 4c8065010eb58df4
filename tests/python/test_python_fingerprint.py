"""Behaviour unchanged: a full run (partition with staffing, then a rerun) of a generated city gives
the outputs recorded in tests/python/fingerprint.json, layer by layer. A refactoring must leave them
as they are; a change meant to alter outputs updates the record in the same commit, with the reason
in its message:

    CIVGRID_UPDATE_FINGERPRINT=1 ... pytest tests/python/test_python_fingerprint.py
"""
import hashlib
import json
import os
from pathlib import Path

import pytest
from osgeo import ogr

from conftest import run_cli

RECORD = Path(__file__).with_name("fingerprint.json")
# Per layer: the fields that identify a row and the fields compared (geometry by area and vertices).
LAYERS = {
    "micro_grids": ("micro_grid_id", ["grid_id", "community_code", "households", "buildings", "flags"]),
    "grids": ("grid_id", ["community_code", "households", "micro_grids", "multipart"]),
    "buildings": ("building_id", ["micro_grid_id", "split_micro_grids", "split_households"]),
    "communities": ("community_code", ["micro_grids", "grids", "within_10", "best_within_10"]),
    "worker_assignments": (None, ["worker_id", "micro_grid_id", "grid_id", "role"]),
    "service_assignments": (None, ["micro_grid_id", "utility", "station_id"]),
    "changes": ("micro_grid_id", ["status", "previous_ids", "next_ids", "households"]),
    "lineage": (None, ["previous_id", "new_id", "households", "buildings"]),
}


def layer_digest(path, name):
    key, fields = LAYERS[name]
    source = ogr.Open(str(path))  # held: the layer dies with its dataset
    layer = source.GetLayerByName(name)
    if layer is None:
        return None
    rows = []
    for feature in layer:
        row = [feature.GetField(key)] if key else []
        row += [feature.GetField(f) for f in fields]
        geometry = feature.GetGeometryRef()
        if geometry is not None and name != "buildings":
            row += [round(geometry.GetArea(), 2), geometry.GetGeometryCount()]
        rows.append(json.dumps(row, default=str))
    rows.sort()
    return {"rows": len(rows), "sha256": hashlib.sha256("\n".join(rows).encode()).hexdigest()}


@pytest.fixture(scope="module")
def fingerprint(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fingerprint")
    city, first = folder / "city.gpkg", folder / "first.gpkg"
    changed, second = folder / "changed.gpkg", folder / "second.gpkg"
    run_cli("synth", "--households", "12000", "--seed", "5", "-o", str(city))
    run_cli("synth", "--households", "12000", "--seed", "5", "--change", "estate", "-o", str(changed))
    run_cli("partition", str(city), "-o", str(first), "--quiet")
    run_cli("repartition", "--previous", str(first), str(changed), "-o", str(second), "--quiet")
    found = {}
    for run, path in (("partition", first), ("repartition", second)):
        for name in LAYERS:
            digest = layer_digest(path, name)
            if digest is not None:
                found[f"{run}/{name}"] = digest
    return found


def test_a_full_run_gives_the_recorded_outputs(fingerprint):
    if os.environ.get("CIVGRID_UPDATE_FINGERPRINT") == "1":
        RECORD.write_text(json.dumps(fingerprint, indent=1, sort_keys=True) + "\n")
    recorded = json.loads(RECORD.read_text())
    changed = {layer: (recorded.get(layer), now) for layer, now in fingerprint.items() if recorded.get(layer) != now}
    missing = set(recorded) - set(fingerprint)
    assert not changed and not missing, (
        f"outputs differ from {RECORD.name} in {sorted(changed) + sorted(missing)}: a refactoring must keep "
        "them; a change meant to alter them updates the record (CIVGRID_UPDATE_FINGERPRINT=1) and says why")
    # The record covers both runs and the rerun's own layers.
    assert {"partition/micro_grids", "partition/worker_assignments", "repartition/changes",
            "repartition/lineage"} <= set(recorded)
