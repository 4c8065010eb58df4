"""Shared fixtures of the pytest suites: the CLI, and sample cities it generates."""
import os
import subprocess
from pathlib import Path

import pytest

CIVGRID = os.environ.get("CIVGRID_CLI", "build/engine/civgrid")


def run_cli(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Runs the civgrid CLI; returns the completed process (text output)."""
    return subprocess.run([CIVGRID, *args], check=check, capture_output=True, text=True)


@pytest.fixture(scope="session")
def sample_city(tmp_path_factory) -> Path:
    """The small sample city of the test suite: 3,000 households, seed 1, as `civgrid synth` writes it."""
    path = tmp_path_factory.mktemp("sample") / "city.gpkg"
    run_cli("synth", "--households", "3000", "--seed", "1", "-o", str(path))
    return path


@pytest.fixture(scope="module")
def cluster():
    """A dask LocalCluster of two worker processes (one thread each) and its client, per test module;
    the module is skipped where dask.distributed is missing."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=50) as local, distributed.Client(local) as client:
        yield local, client
