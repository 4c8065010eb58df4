"""civgrid (Python): the package's public API, its type stubs, and the planner's walk-through."""
import ast
import csv
import os
import subprocess
import sys
from pathlib import Path

import matplotlib.image

import civgrid

PACKAGE = Path(civgrid.__file__).parent
EXAMPLE = Path(__file__).resolve().parents[2] / "python" / "examples" / "planner_walkthrough.py"


def test_stubs_declare_the_public_api():
    assert (PACKAGE / "py.typed").exists()
    stub = ast.parse((PACKAGE / "__init__.pyi").read_text())
    declared = set()
    for node in stub.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            declared.add(node.name)
        elif isinstance(node, ast.ImportFrom):
            declared.update(alias.asname or alias.name for alias in node.names)
        elif isinstance(node, (ast.AnnAssign, ast.Assign)):
            targets = [node.target] if isinstance(node, ast.AnnAssign) else node.targets
            declared.update(t.id for t in targets if isinstance(t, ast.Name))
    assert set(civgrid.__all__) <= declared
    core = ast.parse((PACKAGE / "_core.pyi").read_text())
    core_names = {node.name for node in core.body if isinstance(node, (ast.FunctionDef, ast.ClassDef))}
    public = {name for name in dir(civgrid._core) if not name.startswith("_")}
    assert public <= core_names


def test_planner_walkthrough_runs_on_the_sample_city(tmp_path):
    environment = dict(os.environ, MPLBACKEND="Agg")
    completed = subprocess.run([sys.executable, str(EXAMPLE), "--out", str(tmp_path)], env=environment,
                               capture_output=True, text=True, timeout=600)
    assert completed.returncode == 0, completed.stderr
    for target in ("83", "120"):
        image = matplotlib.image.imread(tmp_path / f"deviation_{target}.png")
        assert image.shape[0] > 200 and image.shape[1] > 200
        assert civgrid.report(tmp_path / f"micro_grids_{target}.gpkg")["barrier_crossings"] == 0
    with open(tmp_path / "comparison.csv") as file:
        rows = list(csv.DictReader(file))
    assert [float(row["target_households"]) for row in rows] == [83, 120]
    counts = [int(row["micro_grids"]) for row in rows]
    assert counts[0] > counts[1] > 0  # a larger target, fewer micro-grids
    assert all(abs(float(row["mean_households"]) - float(row["target_households"])) < 5 for row in rows)
