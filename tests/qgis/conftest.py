"""Shared set-up of the QGIS tests: the sample city, the CLI's outputs, a headless QGIS.

Debian's QGIS 3.22 (qgis, python3-qgis, qgis-providers; APT_PACKAGES in the Makefile) must be
installed: without it these tests fail, they are not skipped. Everything runs without a display
(QT_QPA_PLATFORM=offscreen) in a temporary HOME, whose QGIS profile has the plugin enabled."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PLUGIN_DIR = REPO / "qgis_plugin"
CIVGRID = os.environ.get("CIVGRID_CLI", str(REPO / "build" / "engine" / "civgrid"))
# Where the rendered screenshot is kept for a reviewer (CTest sets it to build/qgis).
SCREENSHOT_DIR = Path(os.environ.get("CIVGRID_QGIS_OUTPUT_DIR", REPO / "build" / "qgis"))
# Debian's /usr/bin/qgis_process is a wrapper that passes QGIS_OPTS='--noversioncheck' from
# /etc/default/qgis, an option qgis_process 3.22 refuses ("Command --noversioncheck not known!"):
# the binary itself is run instead.
QGIS_PROCESS = shutil.which("qgis_process.bin", path="/usr/bin") or shutil.which("qgis_process")


def run_cli(*arguments, check=True):
    return subprocess.run([CIVGRID, *map(str, arguments)], capture_output=True, text=True, check=check)


@pytest.fixture(scope="session")
def qgis_env(tmp_path_factory):
    """Environment of a headless QGIS with a fresh profile in which the civgrid plugin is enabled."""
    assert QGIS_PROCESS, "Debian's QGIS is not installed (make deps installs it: APT_PACKAGES in the Makefile)"
    home = tmp_path_factory.mktemp("qgis-home")
    runtime = home / "runtime"
    runtime.mkdir(mode=0o700)
    env = dict(os.environ, HOME=str(home), XDG_RUNTIME_DIR=str(runtime), QT_QPA_PLATFORM="offscreen",
               QGIS_PLUGINPATH=str(PLUGIN_DIR), CIVGRID_CLI=CIVGRID)
    # qgis_process 3.22 loads only the plugins enabled in the profile: `plugins enable` enables one.
    enabled = subprocess.run([QGIS_PROCESS, "plugins", "enable", "civgrid_qgis"], env=env, capture_output=True,
                             text=True, timeout=300)
    assert enabled.returncode == 0, enabled.stdout + enabled.stderr
    return env


def qgis_process(env, algorithm, **parameters):
    """Runs `qgis_process run civgrid:ALGORITHM --json`; returns its JSON answer."""
    arguments = [QGIS_PROCESS, "run", f"civgrid:{algorithm}", "--json"]
    arguments += [f"--{name}={value}" for name, value in parameters.items()]
    completed = subprocess.run(arguments, env=env, capture_output=True, text=True, timeout=900)
    assert completed.returncode == 0, f"{' '.join(arguments)}\n{completed.stdout}\n{completed.stderr}"
    return json.loads(completed.stdout)


@pytest.fixture(scope="session")
def city(tmp_path_factory):
    folder = tmp_path_factory.mktemp("city")
    path = folder / "city.gpkg"
    run_cli("synth", "--households", 3000, "--seed", 1, "-o", path)
    return path


@pytest.fixture(scope="session")
def changed_city(tmp_path_factory):
    folder = tmp_path_factory.mktemp("city2")
    path = folder / "city-estate.gpkg"
    run_cli("synth", "--households", 3000, "--seed", 1, "--change", "estate", "-o", path)
    return path


@pytest.fixture(scope="session")
def cli_output(city, tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "out.gpkg"
    run_cli("partition", city, "-o", out, "--quiet")
    return out


@pytest.fixture(scope="session")
def cli_rerun(cli_output, changed_city, tmp_path_factory):
    out = tmp_path_factory.mktemp("cli-rerun") / "rerun.gpkg"
    run_cli("repartition", "--previous", cli_output, changed_city, "-o", out, "--quiet")
    return out


@pytest.fixture(scope="session")
def qgis_app():
    """One QgsApplication for the in-process PyQGIS tests."""
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from qgis.core import QgsApplication
    app = QgsApplication([], False)
    app.initQgis()
    yield app
    app.exitQgis()
