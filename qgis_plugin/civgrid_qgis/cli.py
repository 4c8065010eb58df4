"""Runs the civgrid command (the engine's CLI) for the algorithms: finding it, progress, cancel.

The plugin holds no partitioning logic: every algorithm builds the CLI's arguments and runs
`civgrid` as a subprocess, reading its `--progress-json` lines (stderr) for the progress bar and its
`--json` result (stdout). Cancelling terminates the process (SIGTERM), whose handler removes the
temporary output file, so a cancelled run leaves nothing behind.
"""
import json
import os
import queue
import shutil
import subprocess
import threading

from qgis.core import QgsProcessingException, QgsSettings

SETTING = "civgrid/cli"
HERE = os.path.dirname(os.path.abspath(__file__))

# Share of the progress bar per stage of a run (partition, then a rerun's stages).
STAGE_SPANS = {
    "load": (0, 10), "partition": (10, 80), "assess_and_write": (80, 100),
    "repartition": (10, 70), "staffing": (70, 80), "assess": (80, 90), "write": (90, 100),
}


def find_cli():
    """The civgrid executable: $CIVGRID_CLI, the QGIS setting civgrid/cli, the file `civgrid_cli`
    beside the plugin (written by `make qgis-plugin`), else `civgrid` on the PATH."""
    candidates = [os.environ.get("CIVGRID_CLI", ""), str(QgsSettings().value(SETTING, "") or "")]
    beside = os.path.join(HERE, "civgrid_cli")
    if os.path.isfile(beside):
        with open(beside, encoding="utf-8") as f:
            candidates.append(f.read().strip())
    candidates.append(shutil.which("civgrid") or "")
    for candidate in candidates:
        if candidate and os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            return candidate
    raise QgsProcessingException(
        "civgrid: the civgrid program was not found: set CIVGRID_CLI, the QGIS setting 'civgrid/cli', "
        "install the plugin with `make qgis-plugin`, or put civgrid on the PATH")


def _reader(stream, lines):
    for line in iter(stream.readline, ""):
        lines.put(line)
    lines.put(None)


def run(arguments, feedback, progress=True):
    """Runs `civgrid ARGUMENTS`, showing its progress and stderr in `feedback`; returns stdout.

    Raises QgsProcessingException with the CLI's own message (which names the file, layer, feature
    and field) when it fails, and when the user cancels."""
    command = [find_cli()] + [str(a) for a in arguments]
    if progress:
        command.append("--progress-json")
    feedback.pushCommandInfo(" ".join(_quote(a) for a in command))
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               encoding="utf-8", errors="replace")
    lines = queue.Queue()
    stdout = []
    errors = []
    threading.Thread(target=_reader, args=(process.stderr, lines), daemon=True).start()
    out_thread = threading.Thread(target=lambda: stdout.extend(iter(process.stdout.readline, "")), daemon=True)
    out_thread.start()
    finished = False
    while not finished:
        if feedback.isCanceled():
            process.terminate()
            process.wait()
            if process.returncode != 0:
                raise QgsProcessingException("civgrid: cancelled; no output was written")
            # The run had ended, its output committed, before the signal came: the result is whole
            # and kept (saying "nothing was written" would be false).
            feedback.pushWarning("civgrid: the run had finished before it could be cancelled; its output is kept")
            while lines.get() is not None:
                pass
            finished = True
            continue
        try:
            line = lines.get(timeout=0.1)
        except queue.Empty:
            continue
        if line is None:
            finished = True
            continue
        line = line.rstrip("\n")
        if line.startswith("{\"stage\""):
            _show_progress(json.loads(line), feedback)
        elif line.strip():
            errors.append(line)
            feedback.pushWarning(line)
    process.wait()
    out_thread.join()
    if process.returncode != 0:
        message = "\n".join(errors) or f"civgrid exited with code {process.returncode}"
        raise QgsProcessingException(f"civgrid failed (exit code {process.returncode}): {message}")
    feedback.setProgress(100)
    return "".join(stdout)


def _show_progress(state, feedback):
    stage = state.get("stage", "")
    low, high = STAGE_SPANS.get(stage, (0, 100))
    total = state.get("total", 0)
    share = min(state.get("done", 0), total) / total if total else 0.0
    feedback.setProgressText(f"civgrid: {stage}")
    feedback.setProgress(low + (high - low) * share)


def _quote(text):
    return text if text and all(c.isalnum() or c in "-_./:=," for c in text) else "'" + text.replace("'", "'\\''") + "'"
