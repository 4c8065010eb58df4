"""The Processing provider, run headless by qgis_process: each algorithm gives what the CLI gives."""
import subprocess

from osgeo import ogr

from conftest import QGIS_PROCESS, qgis_process, run_cli


def micro_grids_of(path, layer="micro_grids"):
    """{micro_grid_id: (households, geometry WKB)} of an output."""
    source = ogr.Open(str(path))
    assert source is not None, path
    rows = {}
    for feature in source.GetLayerByName(layer):
        rows[feature.GetField("micro_grid_id")] = (feature.GetField("households"),
                                                   bytes(feature.GetGeometryRef().ExportToIsoWkb()))
    return rows


def test_plugin_loads_and_lists_its_algorithms(qgis_env):
    plugins = subprocess.run([QGIS_PROCESS, "plugins"], env=qgis_env, capture_output=True, text=True, timeout=300)
    assert plugins.returncode == 0
    assert "* civgrid_qgis" in plugins.stdout  # loaded, with a Processing provider
    listed = subprocess.run([QGIS_PROCESS, "list"], env=qgis_env, capture_output=True, text=True, timeout=300)
    for algorithm in ("partition", "repartition", "check", "report"):
        assert f"civgrid:{algorithm}" in listed.stdout
    # Loading the plugin prints no Python error (QGIS shows plugin exceptions on stderr).
    assert "Traceback" not in plugins.stderr + listed.stderr
    assert "civgrid" not in "".join(line for line in listed.stderr.splitlines() if "rror" in line)


def test_plugin_help_has_the_cli_parameters(qgis_env):
    helped = subprocess.run([QGIS_PROCESS, "help", "civgrid:partition"], env=qgis_env, capture_output=True,
                            text=True, timeout=300)
    assert helped.returncode == 0, helped.stderr
    for parameter in ("BUILDINGS", "HOUSEHOLDS_FIELD", "COMMUNITY_CODE_FIELD", "HARD_BARRIERS", "MODE",
                      "TARGET_HOUSEHOLDS", "MICRO_GRIDS", "COUNT_FIELD", "UNITS", "STAFFING", "OUTPUT"):
        assert parameter in helped.stdout


def test_partition_gives_the_cli_micro_grids(qgis_env, city, cli_output, tmp_path):
    out = tmp_path / "qgis.gpkg"
    answer = qgis_process(qgis_env, "partition", CITY=city, OUTPUT=out)
    assert answer["results"]["OUTPUT"] == str(out)
    expected, got = micro_grids_of(cli_output), micro_grids_of(out)
    assert len(expected) > 20
    assert got.keys() == expected.keys()  # the same codes
    assert got == expected  # households and polygons, byte for byte
    assert answer["results"]["MICRO_GRID_COUNT"] == len(expected)
    assert answer["results"]["MICRO_GRIDS"] == f"{out}|layername=micro_grids"


def test_partition_from_layers_and_fields_gives_the_cli_micro_grids(qgis_env, city, tmp_path):
    """Layers given one by one (a renamed households field chosen by name) and count mode."""
    renamed = tmp_path / "buildings.gpkg"
    subprocess.run(["ogr2ogr", "-f", "GPKG", str(renamed), str(city), "-sql",
                    "SELECT *, households AS hh FROM buildings", "-nln", "buildings"], check=True)
    cli_out, qgis_out = tmp_path / "cli.gpkg", tmp_path / "qgis.gpkg"
    run_cli("partition", city, "--buildings", f"{renamed}:buildings", "--households-field", "hh", "--micro-grids", 30,
            "--no-staffing", "-o", cli_out, "--quiet")
    qgis_process(qgis_env, "partition", CITY=city, BUILDINGS=f"{renamed}|layername=buildings",
                 HOUSEHOLDS_FIELD="hh", MODE=1, MICRO_GRIDS=30, STAFFING="false", OUTPUT=qgis_out)
    expected = micro_grids_of(cli_out)
    assert 25 <= len(expected) <= 35
    assert micro_grids_of(qgis_out) == expected


def test_repartition_gives_the_cli_micro_grids(qgis_env, cli_output, changed_city, cli_rerun, tmp_path):
    out = tmp_path / "qgis-rerun.gpkg"
    qgis_process(qgis_env, "repartition", PREVIOUS=cli_output, CITY=changed_city, OUTPUT=out)
    assert micro_grids_of(out) == micro_grids_of(cli_rerun)
    def statuses(path):
        source = ogr.Open(str(path))  # kept while its layer is read (GDAL's Python needs it)
        return sorted((f.GetField("micro_grid_id"), f.GetField("status")) for f in source.GetLayerByName("changes"))

    assert statuses(out) == statuses(cli_rerun)
    assert any(status == "new" for _, status in statuses(out))


def test_check_gives_the_cli_import_report(qgis_env, city, tmp_path):
    text = tmp_path / "check.txt"
    answer = qgis_process(qgis_env, "check", CITY=city, OUTPUT=text)
    expected = run_cli("check", city).stdout
    assert answer["results"]["REPORT"] == expected
    assert text.read_text(encoding="utf-8") == expected
    assert "buildings" in expected


def test_report_gives_the_cli_quality_report(qgis_env, cli_output, tmp_path):
    html = tmp_path / "report.html"
    answer = qgis_process(qgis_env, "report", INPUT=cli_output, REPORT_HTML=html)
    # The CLI's report word for word, then the line naming the HTML page written.
    assert answer["results"]["REPORT"] == run_cli("report", cli_output).stdout + f"wrote {html} (HTML report)\n"
    assert "micro-grids (requested)" in answer["results"]["REPORT"]
    assert html.stat().st_size > 100_000 and "<html" in html.read_text(encoding="utf-8")[:2000].lower()


def test_a_failing_run_names_the_field(qgis_env, city, tmp_path):
    arguments = [QGIS_PROCESS, "run", "civgrid:partition", f"--CITY={city}", "--HOUSEHOLDS_FIELD=no_such_field",
                 f"--OUTPUT={tmp_path / 'x.gpkg'}"]
    completed = subprocess.run(arguments, env=qgis_env, capture_output=True, text=True, timeout=300)
    assert completed.returncode != 0
    assert "no_such_field" in completed.stdout + completed.stderr
    assert not (tmp_path / "x.gpkg").exists()


def test_count_field_and_barrier_filters_give_the_cli_micro_grids(qgis_env, city, tmp_path):
    """Count mode from a community field of another file, and the hard-barrier filters."""
    communities = tmp_path / "communities.gpkg"
    subprocess.run(["ogr2ogr", "-f", "GPKG", str(communities), str(city), "-sql",
                    "SELECT *, 5 + fid AS wanted FROM communities", "-nln", "communities"], check=True)
    cli_out, qgis_out = tmp_path / "cli.gpkg", tmp_path / "qgis.gpkg"
    run_cli("partition", city, "--communities", f"{communities}:communities", "--count-field", "wanted",
            "--hard-barriers", "roads:class = 'major'", "--hard-barriers", "railways:none", "--no-staffing",
            "-o", cli_out, "--quiet")
    qgis_process(qgis_env, "partition", CITY=city, COMMUNITIES=f"{communities}|layername=communities", MODE=2,
                 COUNT_FIELD="wanted", HARD_BARRIERS="roads:class = 'major'\nrailways:none", STAFFING="false",
                 OUTPUT=qgis_out)
    expected = micro_grids_of(cli_out)
    source = ogr.Open(str(communities))
    assert len(expected) == sum(f.GetField("wanted") for f in source.GetLayerByName("communities"))
    assert micro_grids_of(qgis_out) == expected



def parcels_cut(parcels, output):
    """(parcels checked, fids of those not lying in exactly one micro-grid of `output`): more than
    0.01 % of a parcel's area in a second micro-grid (output coordinates are rounded) cuts it."""
    grids = [ogr.CreateGeometryFromWkb(wkb) for _, wkb in micro_grids_of(output).values()]
    source = ogr.Open(str(parcels))
    checked, cut = 0, []
    for feature in source.GetLayerByName("buildings"):
        parcel = feature.GetGeometryRef().MakeValid()
        area = parcel.GetArea()
        holding = [grid.Intersection(parcel).GetArea() for grid in grids if grid.Intersects(parcel)]
        holding = [part for part in holding if part > 1e-4 * area]
        if len(holding) != 1 or holding[0] < 0.9999 * area:
            cut.append(feature.GetFID())
        checked += 1
    return checked, cut


def test_partition_of_areas_keeps_every_parcel_whole(qgis_env, tmp_path):
    """UNITS = areas runs `--units areas`: every parcel lies in exactly one micro-grid, as the CLI's."""
    parcels = tmp_path / "parcels.gpkg"
    run_cli("synth", "--parcels", 400, "--dense-vertices", 40, "--seed", 2, "-o", parcels)
    cli_out, qgis_out = tmp_path / "cli.gpkg", tmp_path / "qgis.gpkg"
    run_cli("partition", parcels, "--units", "areas", "--no-staffing", "-o", cli_out, "--quiet")
    qgis_process(qgis_env, "partition", CITY=parcels, UNITS=1, STAFFING="false", OUTPUT=qgis_out)
    assert micro_grids_of(qgis_out) == micro_grids_of(cli_out)
    assert 20 <= len(micro_grids_of(qgis_out)) <= 200
    checked, cut = parcels_cut(parcels, qgis_out)
    assert checked >= 350
    assert cut == []
    # The default (buildings) cuts parcels by Voronoi cells: the parameter is what keeps them whole.
    buildings_out = tmp_path / "qgis-buildings.gpkg"
    qgis_process(qgis_env, "partition", CITY=parcels, STAFFING="false", OUTPUT=buildings_out)
    assert len(parcels_cut(parcels, buildings_out)[1]) > 10


def area_sum_and_union(path):
    """Sum of the micro-grids' areas and the area of their union (differing where they overlap)."""
    source = ogr.Open(str(path))
    total, union = 0.0, None
    for feature in source.GetLayerByName("micro_grids"):
        geometry = feature.GetGeometryRef().Clone()
        total += geometry.GetArea()
        union = geometry if union is None else union.Union(geometry)
    return total, union.GetArea()


def test_coverage_tolerance_of_areas_gives_the_cli_cleaning(qgis_env, tmp_path):
    """COVERAGE_TOLERANCE runs `--coverage-tolerance`: dirty parcels (gaps and overlaps of 0.5 m)
    come out a coverage by default and overlapping with 0, each as the CLI's."""
    parcels = tmp_path / "dirty.gpkg"
    run_cli("synth", "--parcels", 400, "--gaps", 0.03, "--overlaps", 0.03, "--seed", 2, "-o", parcels)
    outputs = {}
    for tolerance in (None, 0):
        cli_out, qgis_out = tmp_path / f"cli-{tolerance}.gpkg", tmp_path / f"qgis-{tolerance}.gpkg"
        cli_options = [] if tolerance is None else ["--coverage-tolerance", tolerance]
        run_cli("partition", parcels, "--units", "areas", "--no-staffing", *cli_options, "-o", cli_out, "--quiet")
        qgis_options = {} if tolerance is None else {"COVERAGE_TOLERANCE": tolerance}
        qgis_process(qgis_env, "partition", CITY=parcels, UNITS=1, STAFFING="false", OUTPUT=qgis_out,
                     **qgis_options)
        assert micro_grids_of(qgis_out) == micro_grids_of(cli_out)
        outputs[tolerance] = area_sum_and_union(qgis_out)
    cleaned_total, cleaned_union = outputs[None]
    assert abs(cleaned_total - cleaned_union) < 1e-3 * cleaned_union  # no overlap left
    raw_total, raw_union = outputs[0]
    assert raw_total - raw_union > 1.0  # overlaps as read: square metres covered twice


def test_repartition_of_areas_gives_the_cli_rerun(qgis_env, tmp_path):
    """UNITS = areas on repartition runs `repartition --units areas`: the CLI's rerun, parcels whole."""
    parcels = tmp_path / "parcels.gpkg"
    run_cli("synth", "--parcels", 400, "--dense-vertices", 40, "--seed", 2, "-o", parcels)
    previous = tmp_path / "previous.gpkg"
    run_cli("partition", parcels, "--units", "areas", "--no-staffing", "-o", previous, "--quiet")
    changed = tmp_path / "changed.gpkg"
    source = ogr.Open(str(parcels))
    ogr.GetDriverByName("GPKG").CopyDataSource(source, str(changed))
    source = None
    target = ogr.Open(str(changed), 1)
    target.ExecuteSQL("UPDATE buildings SET households = households + 20 WHERE fid <= 30")
    target = None
    cli_out, qgis_out = tmp_path / "cli.gpkg", tmp_path / "qgis.gpkg"
    run_cli("repartition", "--previous", previous, changed, "--units", "areas", "-o", cli_out, "--quiet")
    qgis_process(qgis_env, "repartition", PREVIOUS=previous, CITY=changed, UNITS=1, OUTPUT=qgis_out)
    assert micro_grids_of(qgis_out) == micro_grids_of(cli_out)
    checked, cut = parcels_cut(changed, qgis_out)
    assert checked >= 350
    assert cut == []
