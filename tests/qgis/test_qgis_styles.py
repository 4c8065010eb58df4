"""The output opens styled in QGIS: each layer's default style from the file's layer_styles table,
a screenshot rendered by QGIS's map renderer, and GDAL's GeoPackage validator still passes."""
import subprocess
import sys
from collections import Counter

import pytest
from osgeo import gdal, ogr

from conftest import SCREENSHOT_DIR

# layer: (renderer, field it colours by or None, labels, the field or expression labelled)
EXPECTED = {
    "micro_grids": ("graduatedSymbol", "deviation", True, "micro_grid_id"),
    "grids": ("singleSymbol", None, False, None),
    "communities": ("singleSymbol", None, True, 'coalesce("name", "community_code")'),
    "streets": ("singleSymbol", None, True, "street_code"),
    "barriers": ("singleSymbol", None, False, None),
    "buildings": ("singleSymbol", None, False, None),
    "stations": ("categorizedSymbol", "utility", False, None),
    "workers": ("categorizedSymbol", "role", False, None),
}
VALIDATOR = "/usr/lib/python3/dist-packages/osgeo_utils/samples/validate_gpkg.py"


def open_layer(path, name):
    from qgis.core import QgsVectorLayer
    layer = QgsVectorLayer(f"{path}|layername={name}", name, "ogr")  # loads the default style, as QGIS does
    assert layer.isValid(), f"{path}: layer {name}"
    return layer


def check_style(layer, renderer_kind, field, labelled, label_field):
    renderer = layer.renderer()
    assert renderer.type() == renderer_kind, layer.name()
    if field is not None:
        assert renderer.classAttribute() == field, layer.name()
    assert layer.labelsEnabled() == labelled, layer.name()
    if labelled:
        settings = layer.labeling().settings()
        assert settings.fieldName == label_field
        assert settings.scaleVisibility  # labels at large scales only


def test_every_layer_opens_with_its_default_style(qgis_app, cli_output):
    from qgis.core import QgsGraduatedSymbolRenderer
    for name, expected in EXPECTED.items():
        check_style(open_layer(cli_output, name), *expected)
    micro_grids = open_layer(cli_output, "micro_grids")
    renderer = micro_grids.renderer()
    assert renderer.graduatedMethod() == QgsGraduatedSymbolRenderer.GraduatedColor
    # A diverging legend: blue below the target, white on it (+-10 %), red above.
    ranges = renderer.ranges()
    assert [r.label() for r in ranges][3] == "within +-10 %"
    assert ranges[3].lowerValue() == pytest.approx(-0.1) and ranges[3].upperValue() == pytest.approx(0.1)
    colors = [r.symbol().color() for r in ranges]
    assert colors[0].blue() > colors[0].red() and colors[-1].red() > colors[-1].blue()
    assert len(micro_grids.renderer().legendSymbolItems()) == 7
    # Every micro-grid falls in a class (no deviation outside the ranges).
    for feature in micro_grids.getFeatures():
        assert renderer.rangeForValue(feature["deviation"]) is not None, feature["micro_grid_id"]
    # Flagged micro-grids are hatched: the hatch layer is on exactly when `flags` is set.
    hatch = ranges[0].symbol().symbolLayer(1)
    assert hatch.layerType() == "LinePatternFill"
    assert '"flags" IS NOT NULL' in hatch.dataDefinedProperties().property(hatch.PropertyLayerEnabled).expressionString()
    labels = micro_grids.labeling().settings()
    assert labels.minimumScale >= 5000 and labels.maximumScale <= 1


def test_the_rerun_changes_layer_is_styled_by_kind(qgis_app, cli_rerun):
    changes = open_layer(cli_rerun, "changes")
    check_style(changes, "categorizedSymbol", "status", False, None)
    categories = {c.value() for c in changes.renderer().categories()}
    assert {"unchanged", "redrawn", "split", "merged", "new", "retired"} <= categories
    present = {f["status"] for f in changes.getFeatures()}
    assert present <= categories  # every change drawn in its own colour
    check_style(open_layer(cli_rerun, "micro_grids"), *EXPECTED["micro_grids"])


def test_layer_styles_is_the_table_qgis_writes(cli_output):
    source = ogr.Open(str(cli_output))
    table = source.GetLayerByName("layer_styles")
    assert table is not None and table.GetGeomType() == ogr.wkbNone
    names = [table.GetLayerDefn().GetFieldDefn(i).GetName() for i in range(table.GetLayerDefn().GetFieldCount())]
    assert names == ["f_table_catalog", "f_table_schema", "f_table_name", "f_geometry_column", "styleName",
                     "styleQML", "styleSLD", "useAsDefault", "description", "owner", "ui", "update_time"]
    styled = {f.GetField("f_table_name"): f for f in table}
    assert set(styled) == set(EXPECTED) - set() and all(f.GetField("useAsDefault") == 1 for f in styled.values())
    assert all(f.GetField("f_geometry_column") == "geom" for f in styled.values())
    contents = source.ExecuteSQL("SELECT data_type FROM gpkg_contents WHERE table_name = 'layer_styles'")
    assert [f.GetField(0) for f in contents] == ["attributes"]
    source.ReleaseResultSet(contents)


def test_gdal_validator_passes(cli_output, cli_rerun):
    for path in (cli_output, cli_rerun):
        completed = subprocess.run([sys.executable, VALIDATOR, str(path)], capture_output=True, text=True)
        assert completed.returncode == 0, completed.stdout + completed.stderr
        assert "WARNING" not in completed.stdout + completed.stderr


def test_screenshot_of_the_styled_output(qgis_app, cli_output):
    """QGIS's map renderer draws the styled layers into a PNG kept in the build folder."""
    from qgis.core import QgsMapRendererParallelJob, QgsMapSettings
    from qgis.PyQt.QtCore import QSize
    from qgis.PyQt.QtGui import QColor
    names = ["buildings", "micro_grids", "grids", "streets", "communities", "barriers", "stations", "workers"]
    layers = {name: open_layer(cli_output, name) for name in names}
    settings = QgsMapSettings()
    settings.setLayers([layers[name] for name in reversed(names)])  # first = drawn on top
    settings.setDestinationCrs(layers["micro_grids"].crs())
    extent = layers["micro_grids"].extent()
    extent.scale(1.02)
    settings.setExtent(extent)
    settings.setOutputSize(QSize(1600, 1200))
    settings.setBackgroundColor(QColor("white"))
    settings.setOutputDpi(96)
    job = QgsMapRendererParallelJob(settings)
    job.start()
    job.waitForFinished()
    image = job.renderedImage()
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    png = SCREENSHOT_DIR / "styled-output.png"
    assert image.save(str(png), "PNG")
    # Labels are on at this scale (1:~2,500-10,000), below the micro-grids' 1:15,000.
    assert settings.scale() < 15000
    counts = Counter(image.pixel(x, y) & 0xFFFFFF for x in range(0, 1600, 4) for y in range(0, 1200, 4))
    assert len(counts) > 50  # not blank: many colours (classes, outlines, symbols, anti-aliased labels)
    # The deviation classes' fills are there: at least three of the seven colours (drawn at the
    # symbol's opacity over the white background) cover 0.5 % of the image each.
    total = sum(counts.values())

    def share_near(color):
        near = lambda pixel: all(abs(((pixel >> s) & 255) - ((color >> s) & 255)) <= 3 for s in (0, 8, 16))  # noqa
        return sum(n for pixel, n in counts.items() if near(pixel)) / total

    covered = []
    for r in layers["micro_grids"].renderer().ranges():
        fill, alpha = r.symbol().color(), r.symbol().opacity()
        blended = [round(alpha * c + (1 - alpha) * 255) for c in (fill.red(), fill.green(), fill.blue())]
        covered.append(share_near(blended[0] << 16 | blended[1] << 8 | blended[2]))
    assert sum(1 for share in covered if share > 0.005) >= 3, covered
    assert counts[0xFFFFFF] < 0.5 * total
    # Buildings show through the micro-grids: their grey over the micro-grids' fills.
    assert layers["micro_grids"].renderer().ranges()[0].symbol().opacity() < 1
