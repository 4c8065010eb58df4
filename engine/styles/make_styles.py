#!/usr/bin/python3
"""Writes the QGIS styles (QML) of civgrid's output layers into this folder.

The .qml files are committed and embedded into the engine at build time (engine/CMakeLists.txt);
engine::layer_styles picks one per layer written and io::GeoPackageWriter::add_styles stores them
in the output's layer_styles table, where QGIS finds each layer's default style. This script is
only needed to change a style: edit it, run it with Debian's PyQGIS and commit the .qml files:

    QT_HASH_SEED=0 QT_QPA_PLATFORM=offscreen /usr/bin/python3 engine/styles/make_styles.py

(QT_HASH_SEED=0 keeps the order of XML attributes, so the files change only where a style does.)

Styles are built through the QGIS API (not written by hand) so that QGIS 3.22 reads them back
exactly; tests/qgis/test_qgis_styles.py checks each one on a real output.
"""
import os
import sys

from qgis.core import (QgsApplication, QgsCategorizedSymbolRenderer, QgsFillSymbol, QgsGraduatedSymbolRenderer,
                       QgsLineSymbol, QgsMarkerSymbol, QgsPalLayerSettings, QgsProperty, QgsReadWriteContext,
                       QgsRendererCategory, QgsRendererRange, QgsSingleSymbolRenderer, QgsSymbolLayer,
                       QgsTextBufferSettings, QgsTextFormat, QgsVectorLayer, QgsVectorLayerSimpleLabeling,
                       QgsLinePatternFillSymbolLayer, QgsMapLayer)
from qgis.PyQt.QtGui import QColor, QFont
from qgis.PyQt.QtXml import QDomDocument

HERE = os.path.dirname(os.path.abspath(__file__))

# Deviation from the target, (households - target) / target: fixed classes around the quality
# report's +-10 % and the default balance bounds (+-20 %, --tolerance 0.2), diverging from blue
# (below target) through white (on target) to red (above), as the HTML report's map.
DEVIATION_CLASSES = [
    (-1e9, -0.4, "below -40 %", "#2166ac"),
    (-0.4, -0.2, "-40 % to -20 %", "#67a9cf"),
    (-0.2, -0.1, "-20 % to -10 %", "#d1e5f0"),
    (-0.1, 0.1, "within +-10 %", "#f7f7f7"),
    (0.1, 0.2, "+10 % to +20 %", "#fddbc7"),
    (0.2, 0.4, "+20 % to +40 %", "#ef8a62"),
    (0.4, 1e9, "above +40 %", "#b2182b"),
]
MICRO_GRID_OPACITY = 0.8
CHANGE_STATUSES = [
    ("unchanged", "#d9d9d9"), ("redrawn", "#80b1d3"), ("split", "#fb8072"), ("merged", "#bebada"),
    ("regrouped", "#fdb462"), ("new", "#b3de69"), ("retired", "#969696"),
]
UTILITIES = [("electricity", "#ffd92f", "triangle"), ("water", "#377eb8", "circle"), ("gas", "#e41a1c", "diamond"),
             ("telecom", "#4daf4a", "square")]


def memory_layer(geometry, fields):
    layer = QgsVectorLayer(f"{geometry}?crs=EPSG:4549&" + "&".join(f"field={f}" for f in fields), "style", "memory")
    assert layer.isValid()
    return layer


def labels(field, max_scale_denominator, size=8, bold=False, expression=False):
    """Labels of `field` shown only at scales larger than 1:max_scale_denominator."""
    settings = QgsPalLayerSettings()
    settings.fieldName = field
    settings.isExpression = expression
    settings.placement = QgsPalLayerSettings.OverPoint
    settings.scaleVisibility = True
    settings.minimumScale = max_scale_denominator  # the most zoomed-out scale that still shows them
    settings.maximumScale = 1
    text = QgsTextFormat()
    font = QFont("DejaVu Sans")
    font.setBold(bold)
    text.setFont(font)
    text.setSize(size)
    buffer = QgsTextBufferSettings()
    buffer.setEnabled(True)
    buffer.setSize(0.8)
    buffer.setColor(QColor("white"))
    text.setBuffer(buffer)
    settings.setFormat(text)
    return QgsVectorLayerSimpleLabeling(settings)


def outline(color, width, style="solid"):
    return QgsFillSymbol.createSimple({"style": "no", "outline_color": color, "outline_width": str(width),
                                       "outline_style": style, "joinstyle": "round"})


def micro_grids():
    layer = memory_layer("MultiPolygon", ["micro_grid_id:string", "deviation:double", "flags:string"])
    ranges = []
    for lower, upper, label, color in DEVIATION_CLASSES:
        symbol = QgsFillSymbol.createSimple({"color": color, "outline_color": "#7f7f7f", "outline_width": "0.15"})
        symbol.setOpacity(MICRO_GRID_OPACITY)  # buildings drawn below show through
        # Flagged micro-grids (a reason the data forces, or missed bounds) are hatched.
        hatch = QgsLinePatternFillSymbolLayer()
        hatch.setLineAngle(45)
        hatch.setDistance(1.2)
        hatch.setLineWidth(0.2)
        hatch.setColor(QColor("#000000"))
        hatch.subSymbol().setColor(QColor("#000000"))
        hatch.setDataDefinedProperty(QgsSymbolLayer.PropertyLayerEnabled,
                                     QgsProperty.fromExpression('"flags" IS NOT NULL AND "flags" <> \'\''))
        symbol.appendSymbolLayer(hatch)
        ranges.append(QgsRendererRange(lower, upper, symbol, label))
    renderer = QgsGraduatedSymbolRenderer("deviation", ranges)
    renderer.setGraduatedMethod(QgsGraduatedSymbolRenderer.GraduatedColor)
    layer.setRenderer(renderer)
    layer.setLabeling(labels("micro_grid_id", 15000))
    layer.setLabelsEnabled(True)
    return layer


def grids():
    layer = memory_layer("MultiPolygon", ["grid_id:string"])
    layer.setRenderer(QgsSingleSymbolRenderer(outline("#303030", 0.5)))
    return layer


def communities():
    layer = memory_layer("MultiPolygon", ["community_code:string", "name:string"])
    layer.setRenderer(QgsSingleSymbolRenderer(outline("#000000", 0.9)))
    layer.setLabeling(labels('coalesce("name", "community_code")', 60000, size=10, bold=True, expression=True))
    layer.setLabelsEnabled(True)
    return layer


def streets():
    layer = memory_layer("MultiPolygon", ["street_code:string"])
    layer.setRenderer(QgsSingleSymbolRenderer(outline("#000000", 1.6, "dash")))
    layer.setLabeling(labels("street_code", 150000, size=12, bold=True))
    layer.setLabelsEnabled(True)
    return layer


def barriers():
    layer = memory_layer("MultiLineString", ["source:string"])
    layer.setRenderer(QgsSingleSymbolRenderer(
        QgsLineSymbol.createSimple({"line_color": "#7b3294", "line_width": "0.6", "line_style": "dash"})))
    return layer


def buildings():
    layer = memory_layer("MultiPolygon", ["micro_grid_id:string"])
    layer.setRenderer(QgsSingleSymbolRenderer(
        QgsFillSymbol.createSimple({"color": "#bdbdbd", "outline_color": "#8c8c8c", "outline_width": "0.05"})))
    layer.setMinimumScale(25000)  # thousands of footprints: shown from 1:25,000 in
    layer.setScaleBasedVisibility(True)
    return layer


def categorized(geometry, field, categories, make_symbol):
    layer = memory_layer(geometry, [f"{field}:string"])
    cats = [QgsRendererCategory(value, make_symbol(color, *rest), value) for value, color, *rest in categories]
    cats.append(QgsRendererCategory(None, make_symbol("#ffffff", *categories[0][2:]), "other"))
    layer.setRenderer(QgsCategorizedSymbolRenderer(field, cats))
    return layer


def marker(color, shape="circle", size=3.0):
    return QgsMarkerSymbol.createSimple({"name": shape, "color": color, "outline_color": "#000000",
                                         "outline_width": "0.3", "size": str(size)})


def stations():
    return categorized("Point", "utility", UTILITIES, lambda color, shape: marker(color, shape, 4.0))


def workers():
    return categorized("Point", "role", [("micro_grid_worker", "#1b9e77", "circle"), ("mobile_worker", "#d95f02", "star")],
                       lambda color, shape: marker(color, shape, 2.6))


def changes():
    return categorized("MultiPolygon", "status", [(s, c) for s, c in CHANGE_STATUSES],
                       lambda color: QgsFillSymbol.createSimple({"color": color, "outline_color": "#404040",
                                                                 "outline_width": "0.2"}))


STYLES = {"micro_grids": micro_grids, "grids": grids, "communities": communities, "streets": streets,
          "barriers": barriers, "buildings": buildings, "stations": stations, "workers": workers, "changes": changes}


def main():
    app = QgsApplication([], False)
    app.initQgis()
    for name, make in STYLES.items():
        layer = make()
        document = QDomDocument()
        error = layer.exportNamedStyle(document, QgsReadWriteContext(),
                                       QgsMapLayer.Symbology | QgsMapLayer.Labeling | QgsMapLayer.Rendering)
        if error:
            sys.exit(f"{name}: {error}")
        with open(os.path.join(HERE, f"{name}.qml"), "w", encoding="utf-8") as out:
            out.write(document.toString(1))
    app.exitQgis()


if __name__ == "__main__":
    main()
