"""The CLI for people and for scripts: stage progress on a terminal (never a second of silence),
nothing with --quiet or without a terminal, and --json with the quality report and timings."""
import json
import shutil
import subprocess

import pytest

from conftest import CIVGRID, run_cli


def test_json_holds_the_report_the_file_gives_and_the_timings(sample_city, tmp_path):
    out = tmp_path / "out.gpkg"
    completed = run_cli("partition", str(sample_city), "-o", str(out), "--json")
    result = json.loads(completed.stdout)  # the whole of stdout is one JSON object
    assert result["output"] == str(out) and result["crs"].startswith("EPSG:")
    assert set(result["timings"]) >= {"load", "partition", "assess_and_write", "total"}
    assert result["timings"]["total"] == pytest.approx(
        sum(v for k, v in result["timings"].items() if k != "total"), abs=1e-3)
    assert result["staffing"]["unstaffed"] == 0
    # Each side of the overlapped stage alone: real work (> 0), and no side longer than the stage.
    overlapped = result["overlapped"]
    assert set(overlapped) == {"staffing", "assess", "writing"}
    stage = result["timings"]["assess_and_write"]
    for side, seconds in overlapped.items():
        assert 0 < seconds <= stage + 1e-3, (side, seconds, stage)
    assert overlapped["staffing"] + overlapped["assess"] <= stage + 1e-3  # one thread, one after the other
    report = run_cli("report", str(out)).stdout
    micro_grids = result["quality"]["micro_grids"]
    assert isinstance(micro_grids, int) and micro_grids > 0
    assert f"micro-grids (requested)           {micro_grids} " in report
    assert completed.stderr == ""  # no terminal: no progress


def test_a_rerun_reports_its_churn_in_json(sample_city, tmp_path):
    first = tmp_path / "first.gpkg"
    run_cli("partition", str(sample_city), "-o", str(first), "-q")
    completed = run_cli("repartition", "--previous", str(first), str(sample_city), "-o", str(tmp_path / "b.gpkg"),
                        "--json")
    rerun = json.loads(completed.stdout)["rerun"]
    assert rerun["household_churn"] == 0 and rerun["new"] == 0 and rerun["unchanged"] > 0


@pytest.mark.skipif(shutil.which("script") is None, reason="util-linux 'script' (a pseudo-terminal) is missing")
def test_progress_on_a_terminal_shows_every_stage_and_quiet_silences_it(sample_city, tmp_path):
    def on_terminal(*args):
        command = " ".join([CIVGRID, *args])
        return subprocess.run(["script", "-qec", command, "/dev/null"], capture_output=True, text=True,
                              check=True).stdout

    shown = on_terminal("partition", str(sample_city), "-o", str(tmp_path / "a.gpkg"))
    for stage in ("load", "partition", "assess_and_write"):
        assert f"  {stage}" in shown and "done" in shown, shown
    assert "/" in shown.split("partition", 1)[1]  # regions counted: "12/36"
    quiet = on_terminal("partition", str(sample_city), "-o", str(tmp_path / "b.gpkg"), "-q")
    assert quiet.strip() == ""
