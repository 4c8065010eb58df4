"""The HTML report in a real browser: Debian's Chromium, headless, with every network request sent to
a local proxy that records it. The page must draw one path per micro-grid once its scripts ran, hold
the quality report, the histogram and one table row per community, open a micro-grid's figures on a
click, and ask nothing of the network. Chromium is installed by the Makefile (APT_PACKAGES): when it
is missing this test fails, it is not skipped."""
import html
import json
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import threading

import pytest

from conftest import run_cli

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


class RecordingProxy:
    """A TCP listener given to Chromium as its proxy: every request the page makes arrives here."""

    def __init__(self):
        self.server = socket.socket()
        self.server.bind(("127.0.0.1", 0))
        self.server.listen(16)
        self.server.settimeout(0.2)
        self.port = self.server.getsockname()[1]
        self.requests = []
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while self.running:
            try:
                connection, _ = self.server.accept()
            except OSError:
                continue
            with connection:
                connection.settimeout(1)
                try:
                    data = connection.recv(4096)
                    # Closed without a byte: a preconnect Chromium dropped at exit, not a request.
                    if data:
                        self.requests.append(data.decode("latin-1").split("\r\n", 1)[0])
                except OSError:
                    self.requests.append("<connection without a request line>")

    def close(self):
        self.running = False
        self.thread.join()
        self.server.close()


# Chromium's own services, which it calls whatever page it shows (component updates, sign-in): not
# the page's requests. Any other request fails the test.
BROWSER_SERVICES = re.compile(r"^(CONNECT |[A-Z]+ https?://)(update\.googleapis\.com|accounts\.google\.com|"
                              r"clients\d*\.google\.com|[a-z0-9.-]*\.gvt1\.com|www\.googleapis\.com)[:/]")


def page_requests(proxy):
    return [r for r in proxy.requests if not BROWSER_SERVICES.match(r)]


def dump_dom(page, tmp_path, proxy):
    assert CHROMIUM, "Debian's chromium is not installed (make deps installs it: APT_PACKAGES in the Makefile)"
    completed = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-default-apps", "--disable-client-side-phishing-detection", "--disable-domain-reliability",
         "--no-pings", "--disable-breakpad", "--metrics-recording-only", "--safebrowsing-disable-auto-update",
         "--disable-features=NetworkTimeServiceQuerying,OptimizationHints,MediaRouter,Translate,AutofillServerCommunication",
         f"--user-data-dir={tmp_path / 'chromium-profile'}",
         f"--proxy-server=http://127.0.0.1:{proxy.port}", "--proxy-bypass-list=<-loopback>",
         "--window-size=1280,2000", "--virtual-time-budget=5000", "--dump-dom", page.as_uri()],
        capture_output=True, text=True, timeout=180)
    assert completed.returncode == 0, completed.stderr[-3000:]
    return completed.stdout


def offline_dom(page, tmp_path):
    """The DOM Chromium made of `page` behind a recording proxy; fails when the page asked the
    network for anything."""
    proxy = RecordingProxy()
    try:
        dom = dump_dom(page, tmp_path, proxy)
    finally:
        proxy.close()
    assert page_requests(proxy) == [], f"the page asked the network for {page_requests(proxy)}"
    return dom


def layer_counts(gpkg):
    with sqlite3.connect(gpkg) as db:
        micro_grids = db.execute("SELECT COUNT(*) FROM micro_grids").fetchone()[0]
        communities = db.execute("SELECT COUNT(*) FROM communities").fetchone()[0]
    return micro_grids, communities


@pytest.fixture(scope="module")
def report(sample_city, tmp_path_factory):
    folder = tmp_path_factory.mktemp("html")
    out, page = folder / "out.gpkg", folder / "report.html"
    completed = run_cli("partition", str(sample_city), "-o", str(out), "--report", str(page))
    assert f"wrote {page} (HTML report)" in completed.stdout
    return out, page


def test_the_report_draws_every_micro_grid_offline(report, tmp_path):
    out, page = report
    micro_grids, communities = layer_counts(out)
    dom = offline_dom(page, tmp_path)
    # The map: Leaflet ran and drew one interactive SVG path per micro-grid (communities are not
    # interactive), and the page's own script reached its end.
    drawn = re.findall(r'<path[^>]*class="[^"]*leaflet-interactive', dom)
    assert len(drawn) == micro_grids > 0
    assert f'data-rendered="{micro_grids}"' in dom
    assert len(re.findall(r"<path[^>]*", dom)) >= micro_grids + communities
    assert 'class="leaflet-pane leaflet-overlay-pane"' in dom
    assert "linear-gradient" in dom  # the legend's scale was painted
    # The figures and the tables.
    assert "<td>best_share_within_10pct</td>" in dom and "<td>share_within_10pct</td>" in dom
    assert '<svg id="histogram"' in dom and dom.count('class="bar"') > 3
    table = dom.split('<table id="communities"', 1)[1].split("</table>", 1)[0]
    assert table.count("<tr>") == communities + 1  # the header and one row per community
    with sqlite3.connect(out) as db:
        flagged = db.execute("SELECT COUNT(*) FROM micro_grids WHERE flags IS NOT NULL AND flags != ''").fetchone()[0]
        stations = db.execute("SELECT COUNT(*) FROM stations").fetchone()[0]
        worker_standard = db.execute("SELECT COUNT(*) FROM communities WHERE meets_worker_standard IS NOT NULL"
                                     ).fetchone()[0]
    assert stations > 0 and worker_standard == communities  # the sample city is staffed
    station_rows = dom.split('<table id="stations"', 1)[1].split("</table>", 1)[0]
    assert station_rows.count("<tr>") == stations + 1
    assert len(re.findall(r'class="(pass|fail)">[0-9.]+ (pass|fail)</td>', table)) >= communities
    if flagged:
        listed = dom.split('<table id="flagged"', 1)[1].split("</table>", 1)[0]
        assert listed.count("<tr>") == flagged + 1
    else:
        assert "No micro-grid is flagged." in dom


def test_a_click_and_a_search_show_a_micro_grids_figures_and_a_header_sorts(report, tmp_path):
    out, page = report
    with sqlite3.connect(out) as db:
        searched, searched_households = db.execute(
            "SELECT micro_grid_id, households FROM micro_grids ORDER BY fid DESC LIMIT 1").fetchone()
    # The same page with a script that clicks the first micro-grid and a column header, as a person would.
    clicking = tmp_path / "clicking.html"
    clicking.write_text(page.read_text(encoding="utf-8").replace("</body>", """<script>
setTimeout(function(){
  var path=document.querySelector('path.leaflet-interactive'),box=path.getBoundingClientRect();
  var at={bubbles:true,cancelable:true,view:window,clientX:box.left+box.width/2,clientY:box.top+box.height/2};
  path.dispatchEvent(new MouseEvent('mousedown',at));path.dispatchEvent(new MouseEvent('mouseup',at));
  path.dispatchEvent(new MouseEvent('click',at));
  var shown=document.querySelector('.leaflet-popup-content');
  document.body.setAttribute('data-clicked',shown?shown.innerHTML:'no popup');
  document.querySelectorAll('#communities th')[1].click();
  document.querySelectorAll('#communities th')[1].click();
  // Search by code: the file's last micro-grid, typed in the box.
  document.getElementById('code').value=SEARCH;
  document.getElementById('find').dispatchEvent(new Event('submit',{cancelable:true}));
  document.body.setAttribute('data-resources',JSON.stringify(
    performance.getEntriesByType('resource').map(function(e){return e.name;})));
},500);
</script></body>""".replace("SEARCH", json.dumps(searched))), encoding="utf-8")
    dom = offline_dom(clicking, tmp_path)
    # The page's own account of what it loaded (Resource Timing, file:// included): nothing.
    assert 'data-resources="[]"' in dom
    # The click's popup (kept on <body>, escaped by the DOM dump): the figures the file has for it.
    clicked = html.unescape(re.search(r'data-clicked="([^"]*)"', dom).group(1))
    shown_code = re.search(r"<b>([^<]*)</b>", clicked).group(1)
    shown_households = int(re.search(r"<td>households</td><td>(\d+)</td>", clicked).group(1))
    with sqlite3.connect(out) as db:
        assert db.execute("SELECT households FROM micro_grids WHERE micro_grid_id = ?",
                          (shown_code,)).fetchone() == (shown_households,)
        workers = [w for (w,) in db.execute("SELECT worker_id FROM worker_assignments WHERE micro_grid_id = ?",
                                             (shown_code,))]
        stations = db.execute("SELECT utility, station_id FROM service_assignments WHERE micro_grid_id = ?",
                              (shown_code,)).fetchall()
    # The sample city is staffed: its worker(s) and its station of each utility.
    assert workers and stations
    shown_workers = re.search(r"<td>workers</td><td>([^<]*)</td>", clicked).group(1)
    assert sorted(shown_workers.split("; ")) == sorted(workers)
    shown_stations = re.search(r"<td>stations</td><td>([^<]*)</td>", clicked).group(1)
    assert sorted(shown_stations.split("; ")) == sorted(f"{u}: {s}" for u, s in stations)
    # Then the search's popup (Leaflet shows one at a time).
    popup = dom.split('class="leaflet-popup-content"', 1)[1].split("</table>", 1)[0]
    assert "deviation" in popup and "target" in popup and "community" in popup
    assert f"<b>{searched}</b>" in popup and f"<td>households</td><td>{searched_households}</td>" in popup
    # Two clicks on 'households': sorted descending.
    rows = dom.split('<table id="communities"', 1)[1].split("<tbody>", 1)[1].split("</tbody>", 1)[0]
    values = [int(v) for v in re.findall(r'<tr><td data-value="[^"]*">.*?</td><td data-value="(-?\d+)"', rows)]
    assert values == sorted(values, reverse=True) and len(values) > 1
    assert 'class="desc"' in dom


def test_report_html_from_a_file_and_refusals(report, tmp_path):
    out, _ = report
    page = tmp_path / "again.html"
    completed = run_cli("report", str(out), "--html", str(page))
    assert "share within +-10 %" in completed.stdout or "within" in completed.stdout
    text = page.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and 'id="civgrid-data"' in text
    assert not list(tmp_path.glob("*.tmp-*"))  # written atomically, no temporary left
    # The report never overwrites the file it reports on.
    refused = run_cli("report", str(out), "--html", str(out), check=False)
    assert refused.returncode == 2 and str(out) in refused.stderr


def test_partition_refuses_a_report_over_an_input_or_its_output_before_any_work(sample_city, tmp_path):
    out = tmp_path / "out.gpkg"
    for report in (sample_city, out):
        refused = run_cli("partition", str(sample_city), "-o", str(out), "--report", str(report), check=False)
        assert refused.returncode == 2 and str(report) in refused.stderr, refused.stderr
        assert not out.exists()


def test_a_rerun_writes_its_report_with_the_run(report, sample_city, tmp_path):
    previous, _ = report
    out, page = tmp_path / "rerun.gpkg", tmp_path / "rerun.html"
    run_cli("repartition", "--previous", str(previous), str(sample_city), "-o", str(out), "-q", "--report", str(page))
    micro_grids, communities = layer_counts(out)
    dom = offline_dom(page, tmp_path)
    assert len(re.findall(r'<path[^>]*class="[^"]*leaflet-interactive', dom)) == micro_grids > 0
    table = dom.split('<table id="communities"', 1)[1].split("</table>", 1)[0]
    assert table.count("<tr>") == communities + 1


def test_a_screenshot_of_the_map_is_not_blank(report, tmp_path):
    from PIL import Image  # python3-pil, in APT_PACKAGES

    _, page = report
    shot = tmp_path / "shot.png"
    completed = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         f"--user-data-dir={tmp_path / 'chromium-profile'}", "--proxy-server=http://127.0.0.1:9",
         "--window-size=1200,900", "--virtual-time-budget=5000", f"--screenshot={shot}", page.as_uri()],
        capture_output=True, text=True, timeout=180)
    assert completed.returncode == 0 and shot.exists(), completed.stderr[-3000:]
    image = Image.open(shot).convert("RGB")
    # The map's box (below the heading, the search line): micro-grids in many colours, not one fill.
    map_area = image.crop((40, 200, 1100, 700))
    colours = map_area.getcolors(maxcolors=1_000_000)
    assert len(colours) > 50, f"{len(colours)} colours in the map's area"
    most = max(count for count, _ in colours)
    assert most < 0.8 * map_area.width * map_area.height  # no single colour fills it



@pytest.fixture(scope="module")
def changed_rerun(tmp_path_factory):
    """A real rerun: a generated city partitioned, then the same city with a new estate (the rerun
    tests' scenario) repartitioned against it, with its report."""
    folder = tmp_path_factory.mktemp("html-rerun")
    before, after, previous = folder / "a.gpkg", folder / "b.gpkg", folder / "previous.gpkg"
    run_cli("synth", "--households", "20000", "--seed", "4", "-o", str(before))
    run_cli("synth", "--households", "20000", "--seed", "4", "--change", "estate", "--change-seed", "2", "-o",
            str(after))
    run_cli("partition", str(before), "-o", str(previous), "--quiet", "--no-staffing")
    out, page = folder / "rerun.gpkg", folder / "rerun.html"
    run_cli("repartition", "--previous", str(previous), str(after), "-o", str(out), "--quiet", "--no-staffing",
            "--report", str(page))
    return out, page


def test_a_reruns_report_draws_what_changed_as_the_file_has_it(changed_rerun, tmp_path):
    out, page = changed_rerun
    # The page with a script that switches the map to its "what changed" view, as a person would.
    switching = tmp_path / "switching.html"
    switching.write_text(page.read_text(encoding="utf-8").replace("</body>", """<script>
setTimeout(function(){
  var views=document.querySelectorAll('.leaflet-control-layers-base input');
  document.body.setAttribute('data-views',String(views.length));
  views[1].click();
},500);
</script></body>"""), encoding="utf-8")
    dom = offline_dom(switching, tmp_path)
    assert 'data-views="2"' in dom  # deviation and what changed
    with sqlite3.connect(out) as db:
        expected = dict(db.execute("SELECT status, COUNT(*) FROM changes GROUP BY status").fetchall())
        lineage_moved = db.execute("SELECT COUNT(*) FROM lineage WHERE previous_id IS NOT new_id").fetchone()[0]
        compared, moved, new, removed = db.execute(
            "SELECT SUM(CASE WHEN previous_id IS NOT NULL AND new_id IS NOT NULL THEN households ELSE 0 END), "
            "SUM(CASE WHEN previous_id IS NOT NULL AND new_id IS NOT NULL AND previous_id != new_id "
            "THEN households ELSE 0 END), SUM(CASE WHEN previous_id IS NULL THEN households ELSE 0 END), "
            "SUM(CASE WHEN new_id IS NULL THEN households ELSE 0 END) FROM lineage").fetchone()
        recorded = dict(db.execute("SELECT key, value FROM run_info WHERE section = 'repartition'").fetchall())
    # The estate changed something: more than one class, some of them new micro-grids.
    assert len(expected) > 1 and expected.get("new", 0) > 0, expected
    # The changes view: one path per feature of the changes layer, its class its status.
    drawn = {}
    for status in re.findall(r'<path[^>]*class="change change-([a-z]+)', dom):
        drawn[status] = drawn.get(status, 0) + 1
    assert drawn == expected
    # The deviation view is gone from the map, the outlines stay.
    assert not re.search(r'<path[^>]*class="leaflet-interactive"', dom)
    # The legend counts each status as the file has it.
    legend = dom.split('id="changes-legend"', 1)[1].split("</div>", 1)[0]
    for status, count in expected.items():
        assert f'data-status="{status}" data-count="{count}"' in legend
    # The lineage table lists every row that moved something; the churn is the file's.
    table = dom.split('<table id="lineage"', 1)[1].split("</table>", 1)[0]
    assert table.count("<tr>") == lineage_moved + 1
    churn = dom.split('<table id="churn"', 1)[1].split("</table>", 1)[0]
    share = 100 * (moved + new + removed) / (compared + new + removed)
    assert f"<td>household_churn</td><td>{share:.2f} %</td>" in churn
    assert abs(share - 100 * float(recorded["household_churn"])) < 0.01
    assert f"<td>households_moved</td><td>{moved}</td>" in churn
    assert f"<td>micro_grids_new</td><td>{expected['new']}</td>" in churn
    record = dom.split('<table id="rerun-record"', 1)[1].split("</table>", 1)[0]
    assert f"<td>micro_grids_new</td><td>{recorded['micro_grids_new']}</td>" in record


def test_a_bad_changes_layer_is_refused_naming_it(changed_rerun, tmp_path):
    out, _ = changed_rerun
    edited = tmp_path / "edited.gpkg"
    shutil.copy(out, edited)
    with sqlite3.connect(edited) as db:
        # The GeoPackage's update triggers call SpatiaLite's ST_ functions: plain sqlite3 lacks them.
        for name in ("ST_IsEmpty", "ST_MinX", "ST_MaxX", "ST_MinY", "ST_MaxY"):
            db.create_function(name, 1, lambda geometry: None)
        fid = db.execute("SELECT fid FROM changes ORDER BY fid LIMIT 1").fetchone()[0]
        db.execute("UPDATE changes SET status = 'moved' WHERE fid = ?", (fid,))
    refused = run_cli("report", str(edited), "--html", str(tmp_path / "r.html"), check=False)
    assert refused.returncode == 3, refused.stderr  # an input error, as every bad file (README, exit codes)
    assert str(edited) in refused.stderr and "layer 'changes'" in refused.stderr
    assert f"feature {fid}" in refused.stderr and "'status'" in refused.stderr and "'moved'" in refused.stderr
    assert not (tmp_path / "r.html").exists()


def test_streets_and_districts_drawn_tabled_and_zoomed_to(changed_rerun, tmp_path):
    out, page = changed_rerun
    with sqlite3.connect(out) as db:
        streets = db.execute(
            "SELECT m.street_code, m.district_code, COUNT(*), SUM(m.households), "
            "(SELECT SUM(requested) FROM communities c WHERE c.street_code = m.street_code) "
            "FROM micro_grids m GROUP BY m.street_code ORDER BY m.street_code").fetchall()
        districts = db.execute("SELECT district_code, COUNT(*), SUM(households) FROM micro_grids GROUP BY 1").fetchall()
        street_features = db.execute("SELECT COUNT(*) FROM streets").fetchone()[0]
    assert len(streets) > 1 and street_features == len(streets)
    # A script that picks a community in the zoom list, as a person would, and sorts a column.
    zooming = tmp_path / "zooming.html"
    zooming.write_text(page.read_text(encoding="utf-8").replace("</body>", """<script>
setTimeout(function(){
  // The page keeps the map's view (zoom, centre) on its element.
  var shown=document.getElementById('map'),before=shown.getAttribute('data-view');
  var select=document.getElementById('zoom-select');
  select.value=select.querySelector('option[value^="community:"]').value;
  select.dispatchEvent(new Event('change'));
  setTimeout(function(){var after=shown.getAttribute('data-view');
    document.body.setAttribute('data-zoomed',String(!!before&&after!==before&&
      parseFloat(after.split(',')[0])>parseFloat(before.split(',')[0])));},1000);
  document.querySelectorAll('#streets th')[5].click();
  document.querySelectorAll('#streets th')[5].click();
},500);
</script></body>"""), encoding="utf-8")
    dom = offline_dom(zooming, tmp_path)
    # Drawn: the streets in black dashes, the districts wide in dark red.
    assert len(re.findall(r'<path[^>]*stroke-dasharray="10 6"', dom)) == len(streets)
    assert len(re.findall(r'<path[^>]*stroke="#7f0000"', dom)) == len(districts)
    # The tables: one row per street and per district, the file's figures.
    table = dom.split('<table id="streets"', 1)[1].split("</table>", 1)[0]
    assert table.count("<tr>") == len(streets) + 1
    for code, district, made, households, requested in streets:
        row = re.search(rf'<tr><td data-value="{code}">.*?</tr>', table).group(0)
        values = re.findall(r'<td data-value="([^"]*)"', row)
        assert values[1] == district and int(values[3]) == requested and int(values[4]) == made
        assert int(values[5]) == households
    listed = dom.split('<table id="districts"', 1)[1].split("</table>", 1)[0]
    assert listed.count("<tr>") == len(districts) + 1
    for code, made, households in districts:
        assert re.search(rf'data-code="{code}">{code}</a></td><td data-value="\d+">\d+</td><td data-value="-?\d+">'
                         rf'-?\d+</td><td data-value="{made}">{made}</td><td data-value="{households}">', listed)
    # Two clicks on 'households': sorted descending.
    shown = [int(v) for v in re.findall(r'<tr><td data-value="[^"]*">.*?</td>(?:<td data-value="[^"]*">[^<]*</td>){4}'
                                         r'<td data-value="(\d+)"', table)]
    assert shown == sorted((h for *_, h, _r in streets), reverse=True)
    # The list holds every district, street and community, and picking one zoomed the map in.
    options = re.search(r'<select id="zoom-select">.*?</select>', dom, re.S).group(0)
    with sqlite3.connect(out) as db:
        communities = db.execute("SELECT COUNT(*) FROM communities").fetchone()[0]
    assert options.count("<option") == 1 + len(districts) + len(streets) + communities
    assert 'data-zoomed="true"' in dom


def test_staffing_figures_are_the_files_and_an_unstaffed_micro_grid_is_listed(report, tmp_path):
    out, _ = report
    # The output edited: one micro-grid's workers removed, so it is unstaffed.
    edited = tmp_path / "edited.gpkg"
    shutil.copy(out, edited)
    with sqlite3.connect(edited) as db:
        removed = db.execute("SELECT micro_grid_id FROM worker_assignments WHERE micro_grid_id IS NOT NULL "
                             "ORDER BY micro_grid_id LIMIT 1").fetchone()[0]
        db.execute("DELETE FROM worker_assignments WHERE micro_grid_id = ?", (removed,))
        per_grid = dict(db.execute(
            "SELECT m.micro_grid_id, (SELECT COUNT(*) FROM worker_assignments w WHERE w.micro_grid_id = "
            "m.micro_grid_id) FROM micro_grids m").fetchall())
        distances = db.execute("SELECT COUNT(*), AVG(distance_m), MAX(distance_m) FROM worker_assignments "
                               "WHERE role = 'micro_grid_worker'").fetchone()
        utilities = db.execute("SELECT utility, COUNT(*), AVG(distance_m), MAX(distance_m) FROM service_assignments "
                               "GROUP BY utility").fetchall()
    page = tmp_path / "edited.html"
    run_cli("report", str(edited), "--html", str(page))
    dom = offline_dom(page, tmp_path)
    # Workers per micro-grid: the distribution the file has.
    table = dom.split('<table id="workers-per-micro-grid"', 1)[1].split("</table>", 1)[0]
    shown = {int(w): int(n) for w, n in re.findall(r'<tr><td data-value="(\d+)">\d+</td><td data-value="(\d+)"', table)}
    expected = {}
    for count in per_grid.values():
        expected[count] = expected.get(count, 0) + 1
    assert shown == expected and shown.get(0, 0) >= 1
    # The unstaffed: the micro-grid whose workers were removed among them, each a link to the map.
    unstaffed = dom.split('<table id="unstaffed"', 1)[1].split("</table>", 1)[0]
    listed = re.findall(r'class="zoom" data-code="([^"]*)"', unstaffed)
    assert sorted(listed) == sorted(code for code, n in per_grid.items() if n == 0) and removed in listed
    # Distances: the micro-grid workers' and each utility's, mean and max as the file has them.
    rows = dom.split('<table id="distances"', 1)[1].split("</table>", 1)[0]

    def shown_row(who):
        row = re.search(rf'<tr><td data-value="{who}">.*?</tr>', rows).group(0)
        return [float(v) for v in re.findall(r'<td data-value="(-?[0-9.]+)"', row)]

    count, mean, longest = distances
    figures = shown_row("micro-grid workers")
    assert figures[0] == count and abs(figures[3] - mean) < 0.01 and abs(figures[6] - longest) < 0.01
    assert len(utilities) == 4
    for utility, count, mean, longest in utilities:
        figures = shown_row(utility)
        assert figures[0] == count and figures[2] == 0 and abs(figures[3] - mean) < 0.01
        assert abs(figures[6] - longest) < 0.01
    # A distance that is not one is refused, naming the file, layer, feature and field.
    with sqlite3.connect(edited) as db:
        fid = db.execute("SELECT fid FROM worker_assignments LIMIT 1").fetchone()[0]
        db.execute("UPDATE worker_assignments SET distance_m = -5 WHERE fid = ?", (fid,))
    refused = run_cli("report", str(edited), "--html", str(tmp_path / "bad.html"), check=False)
    assert refused.returncode == 3, refused.stderr
    assert str(edited) in refused.stderr and "layer 'worker_assignments'" in refused.stderr
    assert f"feature {fid}" in refused.stderr and "'distance_m'" in refused.stderr


def test_a_basemap_is_fetched_from_its_host_only_when_asked_for(report, sample_city, tmp_path):
    out, _ = report
    page = tmp_path / "basemap.html"
    template = "http://tiles.civgrid-test.invalid/{z}/{x}/{y}.png"
    run_cli("report", str(out), "--html", str(page), "--basemap", template)
    proxy = RecordingProxy()
    try:
        dom = dump_dom(page, tmp_path, proxy)
    finally:
        proxy.close()
    asked = page_requests(proxy)
    # Tiles of the template, through the proxy, and nothing else.
    tiles = [r for r in asked if re.match(r"^GET http://tiles\.civgrid-test\.invalid/\d+/\d+/\d+\.png HTTP/", r)]
    assert tiles and tiles == asked, asked
    assert 'class="leaflet-tile' in dom
    assert len(re.findall(r'<path[^>]*class="[^"]*leaflet-interactive', dom)) == layer_counts(out)[0]


@pytest.mark.parametrize("template", [
    "ftp://tiles.example.org/{z}/{x}/{y}.png",        # not http(s)
    "file:///tmp/{z}/{x}/{y}.png",                   # a local file
    "javascript:alert(1)//{z}/{x}/{y}",               # a script
    "https://tiles.example.org/{z}/{x}.png",          # no {y}
    "https://tiles.example.org/{z}/{x}/{y}/{key}",    # a placeholder Leaflet cannot fill
    "https:///{z}/{x}/{y}.png",                       # no host
    "https://tiles.example.org/{z}/{x}/{y}.png x",   # a space
])
def test_a_bad_basemap_template_is_refused_before_any_work(report, sample_city, tmp_path, template):
    out, _ = report
    page = tmp_path / "refused.html"
    refused = run_cli("report", str(out), "--html", str(page), "--basemap", template, check=False)
    assert refused.returncode == 2 and "basemap URL template" in refused.stderr, refused.stderr
    assert template[:30] in refused.stderr and not page.exists()
    written = tmp_path / "out.gpkg"
    refused = run_cli("partition", str(sample_city), "-o", str(written), "--report", str(page), "--basemap", template,
                      check=False)
    assert refused.returncode == 2 and "basemap URL template" in refused.stderr, refused.stderr
    assert not written.exists() and not page.exists()


def test_basemap_needs_a_page(report, tmp_path):
    out, _ = report
    refused = run_cli("report", str(out), "--basemap", "https://t.example.org/{z}/{x}/{y}.png", check=False)
    assert refused.returncode == 2 and "--basemap without --html" in refused.stderr


def inlined(page):
    text = page.read_text(encoding="utf-8")
    return json.loads(re.search(r'<script type="application/json" id="civgrid-data">(.*?)</script>', text,
                                re.S).group(1))


def test_a_large_citys_overview_is_simplified_without_gaps_or_overlaps(changed_rerun, tmp_path):
    """Above 5,000 micro-grids the page draws them simplified, each shared edge once; the threshold
    is lowered here (CIVGRID_REPORT_SIMPLIFY_ABOVE) so that a city of a test's size is simplified."""
    from shapely.geometry import shape
    from shapely.ops import unary_union

    out, full_page = changed_rerun
    page = tmp_path / "simplified.html"
    env = dict(os.environ, CIVGRID_REPORT_SIMPLIFY_ABOVE="0")
    completed = subprocess.run([os.environ.get("CIVGRID_CLI", "build/engine/civgrid"), "report", str(out), "--html",
                                str(page)], env=env, capture_output=True, text=True)
    assert completed.returncode == 0, completed.stderr
    full, simplified = inlined(full_page), inlined(page)
    assert 'id="simplified"' in page.read_text(encoding="utf-8")
    assert 'id="simplified"' not in full_page.read_text(encoding="utf-8")  # 277 micro-grids: drawn in full
    before = [shape(f["geometry"]) for f in full["micro_grids"]["features"]]
    after = [shape(f["geometry"]) for f in simplified["micro_grids"]["features"]]
    assert len(after) == len(before)
    assert [f["properties"] for f in simplified["micro_grids"]["features"]] == \
        [f["properties"] for f in full["micro_grids"]["features"]]
    vertices = lambda polygons: sum(len(ring.coords) for p in polygons for part in getattr(p, "geoms", [p])  # noqa
                                    for ring in [part.exterior, *part.interiors])
    assert vertices(after) < 0.8 * vertices(before)
    # No new overlap (the union's area short of the sum of the areas) and no new gap (holes in the
    # union) between neighbours. The full micro-grids on the page have a few already, each below a
    # few square metres: none in the file's own CRS, they come with the rounding to 1e-6 degrees.
    # The rounding can also make a full micro-grid's ring touch itself (a vertex a few centimetres
    # from another edge of it): GEOS cannot unite such a polygon, so the reference is made valid.
    from shapely.validation import make_valid
    before = [p if p.is_valid else make_valid(p) for p in before]
    united, united_before = unary_union(after), unary_union(before)
    overlap = sum(p.area for p in after) - united.area
    overlap_before = sum(p.area for p in before) - united_before.area
    assert overlap <= max(overlap_before, 0) + 1e-9 * united.area, (overlap, overlap_before)
    parts = lambda g: list(getattr(g, "geoms", [g]))  # noqa: E731
    assert len(parts(united)) == len(parts(united_before))
    assert sum(len(p.interiors) for p in parts(united)) <= sum(len(p.interiors) for p in parts(united_before))
    assert abs(united.area - united_before.area) < 1e-3 * united_before.area
    # And it draws, one path per micro-grid, offline.
    dom = offline_dom(page, tmp_path)
    assert len(re.findall(r'<path[^>]*class="[^"]*leaflet-interactive', dom)) == len(after)
