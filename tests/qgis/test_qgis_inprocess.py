"""The plugin inside a QGIS process (PyQGIS): it loads as QGIS loads plugins, takes a project layer
that is no file (a memory layer), reports progress, loads the outputs styled, and cancels."""
import sys

import pytest

from conftest import CIVGRID, PLUGIN_DIR, run_cli
from test_qgis_plugin import micro_grids_of


@pytest.fixture(scope="module")
def plugin(qgis_app, monkeypatch_module):
    import qgis.utils
    from qgis.core import QgsApplication
    monkeypatch_module.setenv("CIVGRID_CLI", CIVGRID)
    sys.path.insert(0, str(PLUGIN_DIR))
    qgis.utils.plugin_paths.append(str(PLUGIN_DIR))
    qgis.utils.updateAvailablePlugins()
    assert qgis.utils.loadPlugin("civgrid_qgis")
    assert qgis.utils.startPlugin("civgrid_qgis")  # False, with the traceback in the log, on any error
    provider = QgsApplication.processingRegistry().providerById("civgrid")
    assert provider is not None
    yield provider
    qgis.utils.unloadPlugin("civgrid_qgis")


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as patch:
        yield patch


def run_algorithm(name, parameters, feedback=None):
    from qgis.core import QgsApplication, QgsProcessingContext, QgsProcessingFeedback, QgsProject
    algorithm = QgsApplication.processingRegistry().createAlgorithmById(f"civgrid:{name}")
    context = QgsProcessingContext()
    context.setProject(QgsProject.instance())
    feedback = feedback or QgsProcessingFeedback()
    results, ok = algorithm.run(parameters, context, feedback)
    return results, ok, context


def test_the_plugin_registers_its_algorithms(plugin):
    assert sorted(a.name() for a in plugin.algorithms()) == ["check", "partition", "repartition", "report"]


def test_a_memory_layer_of_the_project_is_an_input_and_outputs_load_styled(plugin, city, cli_output, tmp_path):
    from qgis.core import QgsFeatureRequest, QgsProcessingFeedback, QgsProject, QgsVectorLayer
    buildings = QgsVectorLayer(f"{city}|layername=buildings", "buildings", "ogr").materialize(QgsFeatureRequest())
    assert buildings.dataProvider().name() == "memory"
    QgsProject.instance().addMapLayer(buildings)
    progress = []
    feedback = QgsProcessingFeedback()
    feedback.progressChanged.connect(progress.append)
    out = tmp_path / "from-memory.gpkg"
    results, ok, context = run_algorithm("partition", {"CITY": str(city), "BUILDINGS": buildings.id(),
                                                       "OUTPUT": str(out)}, feedback)
    assert ok, results
    assert micro_grids_of(out) == micro_grids_of(cli_output)
    # Progress came from the CLI's --progress-json lines (a run this small may show only its last
    # stage) and ends at 100.
    assert len(progress) >= 2 and progress[-1] == 100 and sorted(progress) == progress
    # The output's layers go into the project when the run ends, with their default styles.
    to_load = context.layersToLoadOnCompletion()
    assert f"{out}|layername=micro_grids" in to_load and f"{out}|layername=communities" in to_load
    loaded = QgsVectorLayer(f"{out}|layername=micro_grids", "micro_grids", "ogr")
    assert loaded.renderer().type() == "graduatedSymbol" and loaded.labelsEnabled()
    QgsProject.instance().removeMapLayer(buildings.id())


@pytest.fixture(scope="module")
def larger_city(tmp_path_factory):
    """A city whose run takes long enough to be cancelled while it runs: its first progress line
    comes in the partition stage, about a second before the end (30,000 households ran in 0.3 s,
    their first line coming as the output was committed)."""
    path = tmp_path_factory.mktemp("larger") / "city.gpkg"
    run_cli("synth", "--households", 300000, "--seed", 2, "-o", path)
    return path


def test_cancel_stops_the_run_and_writes_nothing(plugin, larger_city, tmp_path):
    from qgis.core import QgsProcessingFeedback

    class Recorder(QgsProcessingFeedback):
        errors = []

        def reportError(self, error, fatal=False):  # noqa: N802 (QGIS's name)
            self.errors.append(error)

    feedback = Recorder()
    progress = []
    feedback.progressChanged.connect(progress.append)
    feedback.progressChanged.connect(lambda value: feedback.cancel())  # at the first progress line
    out = tmp_path / "cancelled.gpkg"
    results, ok, _ = run_algorithm("partition", {"CITY": str(larger_city), "OUTPUT": str(out)}, feedback)
    assert not ok and progress and progress[0] < 100
    assert any("cancelled" in error for error in feedback.errors), feedback.errors
    assert list(tmp_path.iterdir()) == []  # no output, no temporary file left
