"""civgrid (Python): progress reports, and Ctrl-C stops a run without leaving a file."""
import os
import signal

import pytest

import civgrid


def test_progress_callback_sees_every_stage_in_order(sample_city, tmp_path):
    calls = []
    civgrid.partition(str(sample_city), progress=lambda *call: calls.append(call),
                      output=tmp_path / "out.gpkg")
    stages = [stage for stage, _, _ in calls]
    assert list(dict.fromkeys(stages)) == ["load", "partition", "staffing", "assess", "write"]
    communities = len(civgrid.read_city(sample_city).communities)
    for stage, done, total in calls:
        assert 0 <= done and (total == 0 or done <= total)
        if stage == "partition" and total:
            assert total == communities  # regions are the steps
    assert (tmp_path / "out.gpkg").exists()


def interrupt(*_call):
    """A progress callback that presses Ctrl-C at its first call."""
    os.kill(os.getpid(), signal.SIGINT)


def test_ctrl_c_stops_partition_without_output(sample_city, tmp_path):
    with pytest.raises(KeyboardInterrupt):
        civgrid.partition(str(sample_city), progress=interrupt, output=tmp_path / "out.gpkg")
    assert os.listdir(tmp_path) == []  # neither the output nor a temporary file


def test_ctrl_c_while_writing_leaves_the_old_file(sample_city, tmp_path):
    result = civgrid.partition(str(sample_city), progress=False)
    path = tmp_path / "out.gpkg"
    path.write_bytes(b"previous")
    with pytest.raises(KeyboardInterrupt):
        result.to_gpkg(path, progress=interrupt)
    assert os.listdir(tmp_path) == ["out.gpkg"] and path.read_bytes() == b"previous"
    result.to_gpkg(path, progress=False)  # the run is still whole: it can be written afterwards
    assert civgrid.report(path)["micro_grids"] == len(result.micro_grids)


def test_an_exception_in_the_callback_stops_the_run(sample_city):
    def fail(*_call):
        raise RuntimeError("stop here")

    with pytest.raises(RuntimeError, match="stop here"):
        civgrid.partition(str(sample_city), progress=fail)


def test_default_progress_runs_with_tqdm_or_lines(sample_city, capsys):
    result = civgrid.partition(str(sample_city))  # progress=True: a bar (tqdm) only for long runs
    assert len(result.micro_grids) > 0
