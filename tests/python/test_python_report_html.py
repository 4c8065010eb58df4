"""civgrid (Python): the HTML report, the same page the CLI writes (civgrid report OUT.gpkg --html)."""
import json
import re

import pytest

import civgrid
from conftest import run_cli


@pytest.fixture(scope="module")
def result(sample_city):
    return civgrid.partition(str(sample_city), progress=False)


def inlined_data(page):
    return json.loads(re.search(r'<script type="application/json" id="civgrid-data">(.*?)</script>', page,
                                re.S).group(1))


def test_a_result_not_written_yet_gives_its_report(result, tmp_path):
    page = tmp_path / "result.html"
    assert result.path is None
    result.report_html(page)
    text = page.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    data = inlined_data(text)
    assert len(data["micro_grids"]["features"]) == len(result.micro_grids)
    codes = {f["properties"]["code"] for f in data["micro_grids"]["features"]}
    assert codes == set(result.micro_grids.micro_grid_id)
    assert len(data["communities"]["features"]) == len(result.communities)
    assert result.path is None and not list(tmp_path.glob("*.gpkg"))  # its temporary GeoPackage is gone


def test_the_module_function_writes_the_page_the_cli_writes(result, tmp_path):
    out = tmp_path / "out.gpkg"
    result.to_gpkg(out, progress=False)
    from_python, from_cli = tmp_path / "python.html", tmp_path / "cli.html"
    figures = civgrid.report_html(out, from_python)
    run_cli("report", str(out), "--html", str(from_cli))
    assert figures == civgrid.report(out) == result.report
    assert from_python.read_bytes() == from_cli.read_bytes()
    result.report_html(tmp_path / "from_result.html")  # written, so made from its file
    assert (tmp_path / "from_result.html").read_bytes() == from_cli.read_bytes()
    with pytest.raises(civgrid.ConfigError, match="out.gpkg"):
        civgrid.report_html(out, out)


def test_jupyter_shows_the_report_in_a_sandboxed_frame(result):
    import html

    shown = result._repr_html_()
    assert shown.startswith("<iframe") and 'sandbox="allow-scripts"' in shown
    document = html.unescape(re.search(r'srcdoc="([^"]*)"', shown).group(1))
    assert document.startswith("<!DOCTYPE html>")
    assert len(inlined_data(document)["micro_grids"]["features"]) == len(result.micro_grids)


def test_jupyter_shows_text_for_a_large_result(result, monkeypatch):
    monkeypatch.setattr(type(result), "REPR_HTML_MAX_MICRO_GRIDS", len(result.micro_grids) - 1)
    assert result._repr_html_() is None


def test_a_basemap_from_python_is_the_clis(result, tmp_path):
    out = tmp_path / "out.gpkg"
    result.to_gpkg(out, progress=False)
    template = "https://{s}.tile.example.org/{z}/{x}/{y}.png"
    from_python, from_cli = tmp_path / "python.html", tmp_path / "cli.html"
    civgrid.report_html(out, from_python, basemap=template)
    run_cli("report", str(out), "--html", str(from_cli), "--basemap", template)
    assert from_python.read_bytes() == from_cli.read_bytes()
    assert inlined_data(from_python.read_text(encoding="utf-8"))["basemap"] == template
    result.report_html(tmp_path / "result.html", basemap=template)
    assert (tmp_path / "result.html").read_bytes() == from_cli.read_bytes()
    with pytest.raises(civgrid.ConfigError, match="basemap URL template"):
        civgrid.report_html(out, tmp_path / "bad.html", basemap="ftp://x/{z}/{x}/{y}")
    assert not (tmp_path / "bad.html").exists()
