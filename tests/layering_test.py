"""The folders' rules (DEVELOPER-NOTES.md, "Layering rules"), checked on the sources: a rule that
is only written down drifts."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def sources(folder, suffixes=(".cpp", ".hpp")):
    return [p for p in (ROOT / folder).rglob("*") if p.suffix in suffixes]


def offenders(folder, pattern):
    regex = re.compile(pattern)
    found = []
    for path in sources(folder):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            code = line.split("//", 1)[0]
            if regex.search(code):
                found.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    return found


def test_algorithms_never_touch_gdal_or_proj():
    assert offenders("algorithms", r'#include\s*[<"](gdal|ogr_|cpl_|proj)') == []


def test_io_holds_no_algorithm():
    assert offenders("io", r'#include\s*<civgrid/algorithms/') == []


def test_the_engine_composes_and_calls_no_raw_geos():
    # Geometry belongs in algorithms/ (geos.hpp wraps what the engine needs).
    assert offenders("engine/src", r"\bGEOS\w*_r\s*\(") == []


def test_one_place_turns_a_thread_count_into_parallelism():
    found = [o for folder in ("algorithms", "engine", "io", "python/src")
             for o in offenders(folder, r"tbb::task_arena\b")]
    assert [o for o in found if not o.startswith("algorithms/include/civgrid/algorithms/parallel.hpp")] == []
