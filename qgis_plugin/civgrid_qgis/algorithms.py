"""The Processing algorithms: civgrid partition, repartition, check and report.

Their parameters are the CLI's options (README, The CLI): layers from the project or files, fields
picked from those layers, the hard-barrier filters, target or count mode, staffing. Each algorithm
turns them into the CLI's arguments and runs the civgrid program (cli.py); the engine does the work.
"""
import json
import os

from qgis.core import (QgsProcessing, QgsProcessingAlgorithm, QgsProcessingContext, QgsProcessingException,
                       QgsProcessingOutputFile, QgsProcessingOutputNumber, QgsProcessingOutputString,
                       QgsProcessingOutputVectorLayer, QgsProcessingParameterBoolean,
                       QgsProcessingParameterDefinition, QgsProcessingParameterEnum, QgsProcessingParameterFeatureSource,
                       QgsProcessingParameterField, QgsProcessingParameterFile, QgsProcessingParameterFileDestination,
                       QgsProcessingParameterNumber, QgsProcessingParameterString, QgsProcessingUtils)

from . import cli

# Input layers (role, CLI option, geometry types, help).
LAYERS = [
    ("BUILDINGS", "--buildings", [QgsProcessing.TypeVectorPolygon, QgsProcessing.TypeVectorPoint],
     "Buildings (polygons or points with households)"),
    ("ROADS", "--roads", [QgsProcessing.TypeVectorLine], "Roads (centre lines)"),
    ("RIVERS", "--rivers", [QgsProcessing.TypeVectorPolygon, QgsProcessing.TypeVectorLine], "Rivers"),
    ("RAILWAYS", "--railways", [QgsProcessing.TypeVectorLine], "Railways"),
    ("COMMUNITIES", "--communities", [QgsProcessing.TypeVectorPolygon], "Communities"),
    ("STREETS", "--streets", [QgsProcessing.TypeVectorPolygon], "Streets"),
    ("DISTRICTS", "--districts", [QgsProcessing.TypeVectorPolygon], "Districts"),
    ("WORKERS", "--workers", [QgsProcessing.TypeVectorPoint], "Workers (home points)"),
    ("STATIONS", "--stations", [QgsProcessing.TypeVectorPoint, QgsProcessing.TypeVectorPolygon], "Utility stations"),
    ("FACILITIES", "--facilities", [QgsProcessing.TypeVectorAnyGeometry], "Service facilities"),
    ("WORK_AREAS", "--work-areas", [QgsProcessing.TypeVectorAnyGeometry], "Mobile workers' work areas"),
]
# Fields (parameter, CLI option, parent layer, help).
FIELDS = [
    ("ID_FIELD", "--id-field", "BUILDINGS", "Building id field (default building_id)"),
    ("HOUSEHOLDS_FIELD", "--households-field", "BUILDINGS", "Households field (default households)"),
    ("UNITS_FIELD", "--units-field", "BUILDINGS", "Entrances field (default units)"),
    ("FLOORS_FIELD", "--floors-field", "BUILDINGS", "Floors field (with --dwelling-area)"),
    ("COMMUNITY_CODE_FIELD", "--community-code-field", "COMMUNITIES", "Community code field (default community_code)"),
    ("STREET_CODE_FIELD", "--street-code-field", "COMMUNITIES", "Street code field (default street_code)"),
    ("DISTRICT_CODE_FIELD", "--district-code-field", "COMMUNITIES", "District code field (default district_code)"),
    ("NAME_FIELD", "--name-field", "COMMUNITIES", "Region name field (default name)"),
]
MODES = ["Households per micro-grid (--target-households)", "Micro-grids for the whole city (--micro-grids)",
         "Micro-grids per community from a field (--count-field)"]
LEVELS = ["(the finest admin layer given)", "community", "street", "district", "city"]
# --units: the CLI's values, in the order of UNIT_CHOICES.
UNITS = ["buildings", "areas"]
UNIT_CHOICES = ["Buildings (Voronoi cells of their points; the default)",
                "Areas kept whole (parcels, census areas, blocks: micro-grids are unions of them)"]
# Layers of an output GeoPackage loaded into the project when the run ends (when present).
OUTPUT_LAYERS = ["micro_grids", "grids", "communities", "streets", "barriers", "stations", "workers", "changes"]


def layer_argument(algorithm, parameters, name, context, feedback):
    """FILE[:LAYER] for a feature-source parameter: the layer's own file when OGR reads it as it is
    (GeoPackage, Shapefile, ...), else a temporary GeoPackage Processing writes (memory layers,
    databases, selections)."""
    if not parameters.get(name):
        return None
    path, layer = algorithm.parameterAsCompatibleSourceLayerPathAndLayerName(
        parameters, name, context, ["gpkg", "shp", "geojson", "fgb", "sqlite"], "gpkg", feedback)
    if not path:
        return None
    return f"{path}:{layer}" if layer else path


class CivgridAlgorithm(QgsProcessingAlgorithm):
    """What partition, repartition and check share: the inputs and options of a run."""

    def group(self):
        return "civgrid"

    def groupId(self):  # noqa: N802
        return "civgrid"

    def createInstance(self):  # noqa: N802
        return type(self)()

    def add_input_parameters(self, staffing=True, options=True):
        self.addParameter(QgsProcessingParameterFile(
            "CITY", "City GeoPackage with the standard layers (buildings, roads, communities, ...)",
            extension="gpkg", optional=True))
        for name, _, types, description in LAYERS:
            self.addParameter(QgsProcessingParameterFeatureSource(
                name, f"{description}, instead of the city file's layer", types, optional=True))
        for name, _, parent, description in FIELDS:
            self.addParameter(QgsProcessingParameterField(name, description, parentLayerParameterName=parent,
                                                          optional=True))
        if not options:
            return
        self.addParameter(QgsProcessingParameterEnum("MODE", "How many micro-grids", MODES, defaultValue=0))
        self.addParameter(QgsProcessingParameterNumber(
            "TARGET_HOUSEHOLDS", "Households per micro-grid", QgsProcessingParameterNumber.Double, 83, minValue=1))
        self.addParameter(QgsProcessingParameterNumber(
            "MICRO_GRIDS", "Micro-grids for the whole city (count mode)", QgsProcessingParameterNumber.Integer, 0,
            optional=True, minValue=0))
        self.addParameter(QgsProcessingParameterField(
            "COUNT_FIELD", "Community field with its number of micro-grids (count mode)",
            parentLayerParameterName="COMMUNITIES", type=QgsProcessingParameterField.Numeric, optional=True))
        self.addParameter(QgsProcessingParameterNumber(
            "TOLERANCE", "Balance tolerance (bounds: target x (1 +- T))", QgsProcessingParameterNumber.Double, 0.2,
            minValue=0, maxValue=1))
        self.addParameter(QgsProcessingParameterNumber(
            "GRID_HOUSEHOLDS", "Households per grid (0 = no grid level)", QgsProcessingParameterNumber.Double, 400,
            minValue=0))
        self.addParameter(QgsProcessingParameterEnum("LEVEL", "Regions split", LEVELS, defaultValue=0))
        self.addParameter(QgsProcessingParameterEnum("UNITS", "Micro-grids made of (--units)", UNIT_CHOICES,
                                                     defaultValue=0))
        self.addParameter(QgsProcessingParameterNumber(
            "COVERAGE_TOLERANCE", "Areas: gaps up to this wide closed, overlaps cut (m; 0 = as read)",
            QgsProcessingParameterNumber.Double, 1.0, minValue=0, maxValue=100))
        self.addParameter(QgsProcessingParameterString(
            "HARD_BARRIERS", "Hard barriers, one LAYER:FILTER a line (OGR SQL; e.g. roads:class IN ('major','trunk'))",
            multiLine=True, optional=True))
        if staffing:
            self.addParameter(QgsProcessingParameterBoolean("STAFFING", "Assign workers and stations", True))
            self.addParameter(QgsProcessingParameterBoolean(
                "NETWORK_DISTANCE", "Workers' distances along the roads", False))
        self.addParameter(QgsProcessingParameterBoolean(
            "STRICT", "Strict: every import warning is an error", False))
        advanced = [
            QgsProcessingParameterNumber("SEED", "Random seed", QgsProcessingParameterNumber.Integer, 0, minValue=0),
            QgsProcessingParameterNumber("THREADS", "Threads (0 = all cores)", QgsProcessingParameterNumber.Integer,
                                         0, minValue=0),
            QgsProcessingParameterString("CRS", "Working CRS (EPSG code, WKT, PROJ; empty = chosen from the data)",
                                         optional=True),
            QgsProcessingParameterString("EXTRA", "More civgrid options, as on the command line", optional=True),
        ]
        for parameter in advanced:
            parameter.setFlags(parameter.flags() | QgsProcessingParameterDefinition.FlagAdvanced)
            self.addParameter(parameter)

    def input_arguments(self, parameters, context, feedback, options=True):
        arguments = []
        city = self.parameterAsFile(parameters, "CITY", context)
        if city:
            arguments.append(city)
        given = False
        for name, option, _, _ in LAYERS:
            value = layer_argument(self, parameters, name, context, feedback)
            if value:
                arguments += [option, value]
                given = True
        if not city and not given:
            raise QgsProcessingException("civgrid: give a city GeoPackage or the input layers")
        for name, option, _, _ in FIELDS:
            field = self.parameterAsString(parameters, name, context)
            if field:
                arguments += [option, field]
        if not options:
            return arguments
        mode = self.parameterAsEnum(parameters, "MODE", context)
        if mode == 0:
            arguments += ["--target-households", repr(self.parameterAsDouble(parameters, "TARGET_HOUSEHOLDS", context))]
        elif mode == 1:
            count = self.parameterAsInt(parameters, "MICRO_GRIDS", context)
            if count <= 0:
                raise QgsProcessingException("civgrid: count mode needs a number of micro-grids above 0")
            arguments += ["--micro-grids", str(count)]
        else:
            field = self.parameterAsString(parameters, "COUNT_FIELD", context)
            if not field:
                raise QgsProcessingException("civgrid: count mode from a field needs the community field")
            arguments += ["--count-field", field]
        arguments += ["--tolerance", repr(self.parameterAsDouble(parameters, "TOLERANCE", context))]
        arguments += ["--grid-households", repr(self.parameterAsDouble(parameters, "GRID_HOUSEHOLDS", context))]
        level = self.parameterAsEnum(parameters, "LEVEL", context)
        if level > 0:
            arguments += ["--level", LEVELS[level]]
        units = UNITS[self.parameterAsEnum(parameters, "UNITS", context)]
        if units != "buildings":  # the CLI's default, left unsaid so its import suggests areas where they tile
            arguments += ["--units", units]
            # Only areas are cleaned into a coverage; buildings may overlap their neighbours.
            arguments += ["--coverage-tolerance", repr(self.parameterAsDouble(parameters, "COVERAGE_TOLERANCE", context))]
        for line in (self.parameterAsString(parameters, "HARD_BARRIERS", context) or "").splitlines():
            if line.strip():
                arguments += ["--hard-barriers", line.strip()]
        if "STAFFING" in parameters and not self.parameterAsBoolean(parameters, "STAFFING", context):
            arguments.append("--no-staffing")
        if self.parameterAsBoolean(parameters, "NETWORK_DISTANCE", context):
            arguments.append("--network-distance")
        if self.parameterAsBoolean(parameters, "STRICT", context):
            arguments.append("--strict")
        arguments += ["--seed", str(self.parameterAsInt(parameters, "SEED", context)),
                      "--threads", str(self.parameterAsInt(parameters, "THREADS", context))]
        crs = self.parameterAsString(parameters, "CRS", context)
        if crs:
            arguments += ["--crs", crs]
        extra = self.parameterAsString(parameters, "EXTRA", context)
        if extra:
            import shlex
            arguments += shlex.split(extra)
        return arguments

    def add_output_parameters(self):
        self.addParameter(QgsProcessingParameterFileDestination(
            "OUTPUT", "Output GeoPackage", "GeoPackage (*.gpkg)"))
        self.addParameter(QgsProcessingParameterFileDestination(
            "REPORT_HTML", "HTML report (map and figures, one offline page)", "HTML files (*.html)", optional=True,
            createByDefault=False))
        self.addOutput(QgsProcessingOutputVectorLayer("MICRO_GRIDS", "Micro-grids"))
        self.addOutput(QgsProcessingOutputNumber("MICRO_GRID_COUNT", "Number of micro-grids"))
        self.addOutput(QgsProcessingOutputString("QUALITY", "Quality report (JSON)"))

    def run_and_load(self, command, arguments, parameters, context, feedback):
        output = self.parameterAsFileOutput(parameters, "OUTPUT", context)
        arguments = [command] + arguments + ["-o", output, "--json"]
        html = self.parameterAsFileOutput(parameters, "REPORT_HTML", context)
        if html:
            arguments += ["--report", html]
        result = json.loads(cli.run(arguments, feedback))
        for warning in result.get("warnings", []):
            feedback.pushWarning(f"civgrid: {warning}")
        quality = result.get("quality", {})
        for key, value in quality.items():
            feedback.pushInfo(f"{key}: {value}")
        if "rerun" in result:
            feedback.pushInfo("rerun: " + json.dumps(result["rerun"]))
        # The output's layers go into the project when the algorithm ends; QGIS applies each one's
        # default style from the file's layer_styles table as it loads it.
        from qgis.core import QgsVectorLayer
        loaded = {}
        for name in OUTPUT_LAYERS:
            uri = f"{output}|layername={name}"
            if not QgsVectorLayer(uri, name, "ogr").isValid():
                continue
            loaded[name] = uri
            context.addLayerToLoadOnCompletion(uri, QgsProcessingContext.LayerDetails(
                name, context.project(), name, QgsProcessingUtils.LayerHint.Vector))
        micro_grids = int(quality.get("micro_grids", 0) or 0)
        return {"OUTPUT": output, "REPORT_HTML": html or None, "MICRO_GRIDS": loaded.get("micro_grids"),
                "MICRO_GRID_COUNT": micro_grids, "QUALITY": json.dumps(quality)}


class PartitionAlgorithm(CivgridAlgorithm):
    def name(self):
        return "partition"

    def displayName(self):  # noqa: N802
        return "Partition into micro-grids"

    def shortHelpString(self):  # noqa: N802
        return ("Divides every community into balanced, contiguous micro-grids that never cross a hard barrier, "
                "groups them into grids and assigns workers and utility stations, as `civgrid partition`. "
                "The output GeoPackage's layers are loaded styled.")

    def initAlgorithm(self, config=None):  # noqa: N802
        self.add_input_parameters()
        self.add_output_parameters()

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        arguments = self.input_arguments(parameters, context, feedback)
        return self.run_and_load("partition", arguments, parameters, context, feedback)


class RepartitionAlgorithm(CivgridAlgorithm):
    def name(self):
        return "repartition"

    def displayName(self):  # noqa: N802
        return "Repartition after the city changed"

    def shortHelpString(self):  # noqa: N802
        return ("Reruns a partition on new inputs, keeping every previous micro-grid that is still valid with its "
                "code, as `civgrid repartition --previous`. The output has a `changes` layer (styled by status).")

    def initAlgorithm(self, config=None):  # noqa: N802
        self.addParameter(QgsProcessingParameterFile("PREVIOUS", "Previous civgrid output", extension="gpkg"))
        self.addParameter(QgsProcessingParameterString(
            "LOCK", "Micro-grid or grid ids kept untouched (comma-separated)", optional=True))
        self.add_input_parameters()
        self.add_output_parameters()

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        arguments = ["--previous", self.parameterAsFile(parameters, "PREVIOUS", context)]
        for lock in (self.parameterAsString(parameters, "LOCK", context) or "").split(","):
            if lock.strip():
                arguments += ["--lock", lock.strip()]
        arguments += self.input_arguments(parameters, context, feedback)
        return self.run_and_load("repartition", arguments, parameters, context, feedback)


class CheckAlgorithm(CivgridAlgorithm):
    def name(self):
        return "check"

    def displayName(self):  # noqa: N802
        return "Check the inputs (import report)"

    def shortHelpString(self):  # noqa: N802
        return ("Reads and validates the inputs as a partition would and reports, per layer, the CRS, encoding, "
                "datum and every feature repaired, dropped, derived or reported, with its id (`civgrid check`).")

    def initAlgorithm(self, config=None):  # noqa: N802
        self.add_input_parameters(staffing=False, options=True)
        self.addParameter(QgsProcessingParameterFileDestination(
            "OUTPUT", "Import report (text)", "Text files (*.txt)", optional=True, createByDefault=False))
        self.addOutput(QgsProcessingOutputString("REPORT", "Import report"))

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        arguments = ["check"] + self.input_arguments(parameters, context, feedback)
        text = cli.run(arguments, feedback, progress=False)
        for line in text.splitlines():
            feedback.pushInfo(line)
        output = self.parameterAsFileOutput(parameters, "OUTPUT", context)
        if output:
            with open(output, "w", encoding="utf-8") as f:
                f.write(text)
        return {"REPORT": text, "OUTPUT": output or None}


class ReportAlgorithm(CivgridAlgorithm):
    def name(self):
        return "report"

    def displayName(self):  # noqa: N802
        return "Quality report of an output"

    def shortHelpString(self):  # noqa: N802
        return ("Recomputes the quality report of a civgrid output from its geometry (`civgrid report`) and, "
                "optionally, writes the HTML page with the map and figures.")

    def initAlgorithm(self, config=None):  # noqa: N802
        self.addParameter(QgsProcessingParameterFile("INPUT", "civgrid output GeoPackage", extension="gpkg"))
        self.addParameter(QgsProcessingParameterFileDestination(
            "REPORT_HTML", "HTML report", "HTML files (*.html)", optional=True, createByDefault=False))
        self.addOutput(QgsProcessingOutputString("REPORT", "Quality report"))
        self.addOutput(QgsProcessingOutputFile("HTML", "HTML report"))

    def processAlgorithm(self, parameters, context, feedback):  # noqa: N802
        path = self.parameterAsFile(parameters, "INPUT", context)
        arguments = ["report", path]
        html = self.parameterAsFileOutput(parameters, "REPORT_HTML", context)
        if html:
            arguments += ["--html", html]
        text = cli.run(arguments, feedback, progress=False)
        for line in text.splitlines():
            feedback.pushInfo(line)
        return {"REPORT": text, "HTML": html or None, "REPORT_HTML": html or None}
