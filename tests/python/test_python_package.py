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


def _stub_parameters(function: ast.FunctionDef):
    """(name, default as source text or None) of a stub's parameters, self excluded."""
    arguments = function.args
    positional = arguments.posonlyargs + arguments.args
    defaults = [None] * (len(positional) - len(arguments.defaults)) + list(arguments.defaults)
    out = [(a.arg, None if d is None else ast.unparse(d)) for a, d in zip(positional, defaults)]
    if arguments.vararg is not None:
        out.append(("*" + arguments.vararg.arg, None))
    out += [(a.arg, None if d is None else ast.unparse(d)) for a, d in zip(arguments.kwonlyargs, arguments.kw_defaults)]
    if arguments.kwarg is not None:
        out.append(("**" + arguments.kwarg.arg, None))
    return [(name, default) for name, default in out if name != "self"]


def test_stubs_match_the_implementation_parameter_for_parameter():
    """The stubs restate the signatures by hand (issue 18): each public function and method must have
    the implementation's parameters, in its order, with its defaults."""
    import inspect

    stub = ast.parse((PACKAGE / "__init__.pyi").read_text())
    checked = 0

    def compare(function: ast.FunctionDef, implementation, where: str):
        nonlocal checked
        star = {inspect.Parameter.VAR_POSITIONAL: "*", inspect.Parameter.VAR_KEYWORD: "**"}
        real = [(star.get(p.kind, "") + name, None if p.default is inspect.Parameter.empty else repr(p.default))
                for name, p in inspect.signature(implementation).parameters.items() if name != "self"]
        declared = _stub_parameters(function)
        assert [n for n, _ in declared] == [n for n, _ in real], where
        for (name, stub_default), (_, real_default) in zip(declared, real):
            if stub_default == "...":  # a stub may elide a default, never invent or drop one
                assert real_default is not None, f"{where}: {name}"
                continue
            assert (stub_default is None) == (real_default is None), f"{where}: {name}"
            if stub_default is not None:
                assert ast.literal_eval(stub_default) == eval(real_default), f"{where}: {name}"  # noqa: S307
        checked += 1

    for node in stub.body:
        if isinstance(node, ast.FunctionDef) and not node.name.startswith("_"):
            compare(node, getattr(civgrid, node.name), node.name)
        elif isinstance(node, ast.ClassDef) and hasattr(civgrid, node.name):
            cls = getattr(civgrid, node.name)
            for member in node.body:
                if isinstance(member, ast.FunctionDef) and (not member.name.startswith("_") or member.name == "__init__"):
                    if any(isinstance(d, ast.Name) and d.id == "property" for d in member.decorator_list):
                        continue
                    compare(member, getattr(cls, member.name), f"{node.name}.{member.name}")
    assert checked >= 8


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
