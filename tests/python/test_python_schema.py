"""One schema of output layers and fields (engine/output_schema.hpp): the files civgrid writes hold
exactly its layers and fields, in its order and types; `civgrid schema --json` and Python's
civgrid.OUTPUT_SCHEMA are the same table; the QGIS styles and the QGIS plugin name only what it has."""
import ast
import json
import re
from xml.etree import ElementTree
from pathlib import Path

import pytest
from osgeo import ogr

import civgrid
from conftest import run_cli

REPO = Path(__file__).resolve().parents[2]
OGR_TYPES = {ogr.OFTInteger: "integer", ogr.OFTInteger64: "integer", ogr.OFTReal: "real", ogr.OFTString: "text"}


@pytest.fixture(scope="module")
def outputs(tmp_path_factory):
    """A partition with staffing of a generated city, a rerun of it after households changed, and
    the index and a district's file of --split-output."""
    folder = tmp_path_factory.mktemp("schema")
    city, first, second = folder / "city.gpkg", folder / "first.gpkg", folder / "second.gpkg"
    run_cli("synth", "--households", "8000", "--seed", "4", "-o", str(city))
    run_cli("partition", str(city), "-o", str(first), "--quiet")
    source = ogr.Open(str(city), 1)
    layer = source.GetLayerByName("buildings")
    for feature in layer:
        if feature.GetFID() % 7 == 0:
            feature.SetField("households", feature.GetField("households") + 40)
            layer.SetFeature(feature)
    source = None
    run_cli("repartition", "--previous", str(first), str(city), "-o", str(second), "--quiet")
    index = folder / "split" / "index.gpkg"
    index.parent.mkdir()
    run_cli("partition", str(city), "-o", str(index), "--split-output", "--quiet")
    part = next(path for path in index.parent.iterdir() if path.name.startswith("index-"))
    return {"partition": first, "repartition": second, "split index": index, "split part": part}


def layers_of(path):
    source = ogr.Open(str(path))
    found = {}
    for i in range(source.GetLayerCount()):
        layer = source.GetLayerByIndex(i)
        definition = layer.GetLayerDefn()
        fields = [(definition.GetFieldDefn(j).GetName(), OGR_TYPES.get(definition.GetFieldDefn(j).GetType(), "other"))
                  for j in range(definition.GetFieldCount())]
        found[layer.GetName()] = (layer.GetGeomType() != ogr.wkbNone, fields)
    return found


def test_outputs_hold_the_schemas_layers_and_fields(outputs):
    written = set()
    for run, path in outputs.items():
        for name, (spatial, fields) in layers_of(path).items():
            if name == "layer_styles":  # QGIS's own table (io::GeoPackageWriter::add_styles)
                continue
            assert name in civgrid.OUTPUT_SCHEMA, f"{run}: layer {name} is not in the schema"
            schema = civgrid.OUTPUT_SCHEMA[name]
            expected = [(field, kind) for field, (kind, _) in schema["fields"].items()]
            # buildings: the input's attributes first, then the schema's.
            got = fields[-len(expected):] if name == "buildings" else fields
            assert got == expected, f"{run}: layer {name}"
            assert spatial == schema["spatial"], f"{run}: layer {name}"
            written.add(name)
    # Every layer of the schema is written by one of the runs: the schema lists nothing stale.
    assert written == set(civgrid.OUTPUT_SCHEMA)


def test_cli_and_python_print_the_same_schema():
    printed = json.loads(run_cli("schema", "--json").stdout)
    assert list(printed) == list(civgrid.OUTPUT_SCHEMA)
    for name, layer in printed.items():
        assert [(f["name"], f["type"], f["meaning"]) for f in layer["fields"]] == \
            [(field, kind, meaning) for field, (kind, meaning) in civgrid.OUTPUT_SCHEMA[name]["fields"].items()]
        assert (layer["geometry"] != "none") == civgrid.OUTPUT_SCHEMA[name]["spatial"]
        assert layer["meaning"] == civgrid.OUTPUT_SCHEMA[name]["meaning"]
    text = run_cli("schema").stdout
    for name in civgrid.OUTPUT_SCHEMA:
        assert re.search(rf"^{name} \(", text, re.M)
    assert run_cli("schema", "--bogus", check=False).returncode == 2


def test_qgis_styles_use_only_the_fields_of_their_layer():
    styles = sorted((REPO / "engine" / "styles").glob("*.qml"))
    assert styles
    for style in styles:
        assert style.stem in civgrid.OUTPUT_SCHEMA, style.name
        fields = set(civgrid.OUTPUT_SCHEMA[style.stem]["fields"])
        named = set()
        # Fields are named by a renderer's attr, a label's fieldName and rules' filters: a bare name
        # or an expression with "quoted" names.
        for element in ElementTree.parse(style).iter():
            for key in ("attr", "fieldName", "filter", "expression"):
                value = element.get(key)
                if not value:
                    continue
                if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", value):
                    named.add(value)
                named |= set(re.findall(r'"([A-Za-z_][A-Za-z0-9_]*)"', value))
        if style.stem in ("micro_grids", "changes", "stations", "workers", "streets", "communities"):
            assert named, style.name  # these styles do name fields: the parse above found them
        assert named - fields == set(), style.name


def test_qgis_plugin_loads_only_layers_of_the_schema():
    source = (REPO / "qgis_plugin" / "civgrid_qgis" / "algorithms.py").read_text()
    assigned = {node.targets[0].id: node.value for node in ast.parse(source).body
                if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name)}
    names = ast.literal_eval(assigned["OUTPUT_LAYERS"])
    assert names and set(names) <= set(civgrid.OUTPUT_SCHEMA)


def test_readme_documents_every_layer_and_field():
    readme = (REPO / "README.md").read_text()
    section = readme[readme.index("## Output (GeoPackage)"):]
    section = section[:section.index("\n#", 5)]
    rows = dict(re.findall(r"^\| `(\w+)` \| (.*) \|$", section, re.M))
    for name, layer in civgrid.OUTPUT_SCHEMA.items():
        assert name in rows, f"README has no row for layer {name}"
        missing = [field for field in layer["fields"] if f"`{field}`" not in rows[name]]
        assert not missing, f"README's row for {name} lacks {missing}"
