"""The civgrid Python API: a thin layer over the engine the CLI runs (load_city, partition_city,
assign_staff, assess, write_result, report_file), through the ``civgrid._core`` module."""

from __future__ import annotations

import contextlib
import html
import os
import tempfile
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Union

import geopandas as gpd
import pandas as pd

from . import _core
from ._frames import frame_from_layer, memory_source
from ._progress import Progress, Reporter

PathLike = Union[str, "os.PathLike[str]"]
Source = Union[PathLike, gpd.GeoDataFrame]

#: The layers a partition reads, by role (the CLI's --buildings, --roads, ...): engine::kInputRoles.
ROLES = tuple(_core.input_roles())
#: The layers an output holds and their fields, in the order written (engine/output_schema.hpp; the
#: CLI's `civgrid schema`): layer -> {"spatial": bool, "meaning": str, "fields": {field: (type, meaning)}}.
#: `buildings` holds the input's own attributes before these fields.
OUTPUT_SCHEMA = {
    layer: {
        "spatial": geometry != "none",
        "meaning": meaning,
        "fields": {field: (kind, what) for field, kind, what in fields},
    }
    for layer, geometry, meaning, fields in _core.output_schema()
}
_STAFF_ROLES = ("workers", "stations", "facilities", "work_areas")

# The CLI's option names that differ from the engine's configuration fields.
_ALIASES = {
    "level": "region_level",
    "crs": "working_crs",
    "micro_grids": "micro_grid_count",
    "grids": "grid_count",
    "split_households": "split_piece_households",
    "id_field": "building_id_field",
}
_CONFIG_FIELDS = frozenset(
    name for name in dir(_core.Config)
    if not name.startswith("_") and name not in ("set_source", "source", "set_layer_setting"))


class City(Mapping[str, gpd.GeoDataFrame]):
    """A city's layers as GeoDataFrames, by name (``city["buildings"]`` or ``city.buildings``).

    Pass it to :func:`partition` as it is: each standard layer it holds plays its role.
    """

    def __init__(self, layers: Mapping[str, gpd.GeoDataFrame], source: Optional[str] = None) -> None:
        self._layers: Dict[str, gpd.GeoDataFrame] = dict(layers)
        #: The file it was read from, if any.
        self.source = source

    def __getitem__(self, name: str) -> gpd.GeoDataFrame:
        return self._layers[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._layers)

    def __len__(self) -> int:
        return len(self._layers)

    def __getattr__(self, name: str) -> gpd.GeoDataFrame:
        layers = self.__dict__.get("_layers", {})
        if name in layers:
            return layers[name]
        raise AttributeError(f"the city has no layer {name!r} (layers: {', '.join(layers)})")

    def __repr__(self) -> str:
        sizes = ", ".join(f"{name}: {len(frame)}" for name, frame in self._layers.items())
        return f"City({sizes})"

    def to_files(self, folder: PathLike, driver: str = "ESRI Shapefile", suffix: str = ".shp") -> Dict[str, str]:
        """Writes each layer to ``folder/<name><suffix>`` (Shapefiles by default); returns the paths."""
        os.makedirs(folder, exist_ok=True)
        paths = {}
        for name, frame in self._layers.items():
            path = os.path.join(os.fspath(folder), name + suffix)
            frame.to_file(path, driver=driver)
            paths[name] = path
        return paths


class Result:
    """A partition: the output layers as (Geo)DataFrames and the quality report as a dict.

    The layers are those ``civgrid partition`` writes, with the same columns; see the README.
    """

    #: micro-grid polygons: micro_grid_id, grid_id, community_code, households, deviation, flags, ...
    micro_grids: gpd.GeoDataFrame
    #: grid (网格) polygons, each whole micro-grids of one community (empty with grid_households=0)
    grids: gpd.GeoDataFrame
    #: the input buildings with every attribute, plus micro_grid_id, grid_id, community_code, split_micro_grids
    buildings: gpd.GeoDataFrame
    #: per region: households, buildings, requested and made micro-grids, staffing standards
    communities: gpd.GeoDataFrame
    #: the hard barrier lines used
    barriers: gpd.GeoDataFrame
    #: building to micro-grid: the building id (when the id field exists), micro_grid_id, grid_id, ...
    assignments: pd.DataFrame
    #: worker_id to micro_grid_id (or grid_id for mobile workers); None without workers
    worker_assignments: Optional[pd.DataFrame]
    #: micro_grid_id, utility, station_id; None without stations
    service_assignments: Optional[pd.DataFrame]
    #: stations with their load; None without stations
    stations: Optional[gpd.GeoDataFrame]
    #: the run_info table: parameters, inputs, versions, timings, quality, warnings
    run_info: pd.DataFrame
    #: the quality report, key by key as in run_info (numbers as int or float)
    report: Dict[str, Union[int, float, str]]
    #: the report as the CLI prints it
    report_text: str
    #: the working CRS
    crs: str
    warnings: List[str]
    #: seconds per stage
    timings: Dict[str, float]
    #: the GeoPackage it was last written to (``output=`` or :meth:`to_gpkg`), else None
    path: Optional[str]
    #: the districts' files of a split output (:meth:`to_gpkg_per_district`), each a dict with
    #: district_code, path, micro_grids, grids, buildings, households; else None
    parts: Optional[List[Dict[str, Any]]]
    #: a rerun's micro-grids, each with its status (unchanged, redrawn, split, merged, regrouped, new,
    #: retired), previous_ids, next_ids, households, buildings; None for a partition
    changes: Optional[gpd.GeoDataFrame]
    #: a rerun's (previous_id, new_id, households, buildings) pairs; None for a partition
    lineage: Optional[pd.DataFrame]
    #: a rerun's churn counts and shares (micro_grids_unchanged, household_churn, ...); None for a partition
    churn: Optional[Dict[str, Union[int, float]]]

    def __init__(self, run: "_core.Run", names: Optional[Dict[str, str]] = None) -> None:
        self._run = run
        self._names = dict(names or {})
        with _readable_errors(self._names):
            layers = {layer["name"]: frame_from_layer(layer) for layer in run.layers()}
        self.layers: Dict[str, pd.DataFrame] = layers
        self.micro_grids = layers["micro_grids"]
        self.grids = layers["grids"]
        self.buildings = layers["buildings"]
        self.communities = layers["communities"]
        self.barriers = layers["barriers"]
        self.worker_assignments = layers.get("worker_assignments")
        self.service_assignments = layers.get("service_assignments")
        self.stations = layers.get("stations")
        self.run_info = layers["run_info"]
        id_field = run.config.building_id_field
        keep = [name for name in self.buildings.columns if name.lower() == id_field.lower()]
        keep += ["micro_grid_id", "grid_id", "community_code", "split_micro_grids"]
        self.assignments = pd.DataFrame(self.buildings[keep])
        self.report = _report_dict(run.report)
        self.report_text = run.report_text
        self.crs = run.crs
        # Warnings name a GeoDataFrame given as input by its role, as errors do.
        self.warnings = [_named(warning, self._names) for warning in run.warnings]
        self.timings = dict(run.timings)
        self.path = None
        self.parts = None
        self.changes = layers.get("changes")
        self.lineage = layers.get("lineage")
        self.churn = run.churn

    def to_gpkg(self, path: PathLike, progress: Progress = True) -> None:
        """Writes the GeoPackage ``civgrid partition`` writes, atomically: Ctrl-C or an error leaves
        no file (an older file at ``path`` stays as it was)."""
        with Reporter(progress) as callback, _readable_errors(self._names):
            self._run.write(os.fspath(path), callback)
        self.path = os.fspath(path)

    def to_gpkg_per_district(self, path: PathLike, progress: Progress = True) -> List[Dict[str, Any]]:
        """Writes the output as one GeoPackage per district plus an index at ``path`` (``civgrid
        partition --split-output``): each row of each layer in its district's file
        (``STEM-<district code>.gpkg`` beside ``path``); rows of no district (barriers, workers,
        stations, buildings outside every region) and the ``parts`` layer (a row per district: its
        file, counts and box) in the index; run_info in every file. Atomic as :meth:`to_gpkg`: no
        file is renamed into place before all are complete. Returns the parts (``district_code``,
        ``path``, ``micro_grids``, ``grids``, ``buildings``, ``households``)."""
        with Reporter(progress) as callback, _readable_errors(self._names):
            parts = self._run.write_per_district(os.fspath(path), callback)
        self.path = os.fspath(path)
        self.parts = parts
        return parts

    def report_html(self, html: PathLike, basemap: Optional[str] = None) -> None:
        """Writes the self-contained HTML report (``civgrid report OUT.gpkg --html``): a map of the
        micro-grids by deviation, the quality report, a histogram, the tables. It is made from the
        GeoPackage this result was written to (:meth:`to_gpkg` or ``output=``), else from a
        temporary one, so the page shows what the file holds. ``basemap``: a tile server's URL
        template (``https://tile.openstreetmap.org/{z}/{x}/{y}.png``) drawn under the map; the page
        then fetches its tiles (without, it fetches nothing)."""
        if self.path is not None:
            report_html(self.path, html, basemap=basemap)
            return
        with tempfile.TemporaryDirectory(prefix="civgrid-report-") as folder:
            written = os.path.join(folder, "result.gpkg")
            with Reporter(False) as callback, _readable_errors(self._names):
                self._run.write(written, callback)
            report_html(written, html, basemap=basemap)

    #: above this many micro-grids Jupyter shows the text repr instead of the map (the page grows by
    #: about 1.2 KB per micro-grid, and a notebook keeps it)
    REPR_HTML_MAX_MICRO_GRIDS = 5000

    def _repr_html_(self) -> Optional[str]:
        """Jupyter's view: the HTML report in a frame (``srcdoc``, nothing fetched), for results of
        up to REPR_HTML_MAX_MICRO_GRIDS micro-grids; None (the text repr) above."""
        if len(self.micro_grids) > self.REPR_HTML_MAX_MICRO_GRIDS:
            return None
        with tempfile.TemporaryDirectory(prefix="civgrid-view-") as folder:
            page = os.path.join(folder, "report.html")
            self.report_html(page)
            with open(page, encoding="utf-8") as text:
                document = text.read()
        return (f'<iframe title="{html.escape(repr(self))}" style="width:100%;height:760px;border:1px solid #ccc" '
                f'sandbox="allow-scripts" srcdoc="{html.escape(document, quote=True)}"></iframe>')

    def __repr__(self) -> str:
        rerun = "" if self.churn is None else f", rerun: {self.churn['micro_grids_unchanged']} unchanged"
        return (f"Result({len(self.micro_grids)} micro-grids, {len(self.grids)} grids, "
                f"{len(self.buildings)} buildings, CRS {self.crs}{rerun})")


def _report_dict(rows: List[tuple]) -> Dict[str, Union[int, float, str]]:
    report: Dict[str, Union[int, float, str]] = {}
    for key, text in rows:
        value: Union[int, float, str] = text
        try:
            value = int(text)
        except ValueError:
            try:
                value = float(text)
            except ValueError:
                pass
        report[key] = value
    return report


def _named(message: str, names: Mapping[str, str]) -> str:
    """The message with every in-memory path replaced by the GeoDataFrame's name."""
    for path, label in names.items():
        message = message.replace(path, label)
    return message


@contextlib.contextmanager
def _readable_errors(names: Mapping[str, str]) -> Iterator[None]:
    """Errors name a GeoDataFrame given as input by its role instead of its in-memory path."""
    try:
        yield
    except _core.Error as error:
        message = _named(str(error), names)
        if message == str(error):
            raise
        raise type(error)(message) from None


def _config(options: Dict[str, Any]) -> "_core.Config":
    config = _core.Config()
    for key, value in options.items():
        if key in ("datum", "encoding"):
            # One value for every layer, or {role: value} (as the CLI's --datum [LAYER=]VALUE).
            settings = dict(value) if isinstance(value, Mapping) else {role: value for role in ROLES}
            for role, setting in settings.items():
                if role not in ROLES:
                    raise _core.ConfigError(f"python.config: {key}: unknown layer {role!r}")
                config.set_layer_setting(role, key, str(setting))
            continue
        if key == "hard_barriers":
            for role, rule in dict(value).items():
                if role not in ("roads", "rivers", "railways"):
                    raise _core.ConfigError(
                        f"python.config: hard_barriers: the layer must be roads, rivers or railways, not {role!r}")
                setattr(config, "hard_" + role, "none" if rule is None else str(rule))
            continue
        name = _ALIASES.get(key, key)
        if name not in _CONFIG_FIELDS:
            raise TypeError(f"unexpected option {key!r}")
        if value is None:
            continue
        if name in ("working_crs", "assume_crs") and not isinstance(value, str):
            value = _crs_text(value)
        _set_option(config, key, name, value)
    return config


def _set_option(config: "_core.Config", key: str, name: str, value: Any) -> None:
    """Sets one option, turning pybind11's "incompatible function arguments" into a ConfigError
    that names the option, the value and the type it takes."""
    expected = type(getattr(config, name))
    if expected is not bool and isinstance(value, bool):  # True is an int to Python, not a count
        raise _core.ConfigError(f"python.config: {key}={value!r}: expected {expected.__name__}, not bool")
    if expected is bool and not isinstance(value, bool):
        raise _core.ConfigError(f"python.config: {key}={value!r}: expected True or False")
    if expected is int and isinstance(value, float) and value.is_integer():
        value = int(value)
    try:
        setattr(config, name, value)
    except TypeError:
        raise _core.ConfigError(f"python.config: {key}={value!r}: expected {expected.__name__}, "
                                f"not {type(value).__name__}") from None


def _crs_text(crs: Any) -> str:
    if isinstance(crs, int):
        return f"EPSG:{crs}"
    to_wkt = getattr(crs, "to_wkt", None)
    return to_wkt() if callable(to_wkt) else str(crs)


class _Inputs:
    """Sets each role's source in a config: a file path as the CLI takes it, or a GeoDataFrame as
    an in-memory layer kept alive as long as this object."""

    def __init__(self, config: "_core.Config") -> None:
        self.config = config
        self.sources: List["_core.MemorySource"] = []
        self.names: Dict[str, str] = {}

    def add(self, role: str, source: Optional[Source]) -> None:
        if source is None:
            return
        if isinstance(source, gpd.GeoDataFrame):
            memory = memory_source(source, role)
            self.sources.append(memory)
            self.names[memory.path] = f"GeoDataFrame '{role}'"
            self.config.set_source(role, memory.path, memory.layer)
        elif isinstance(source, pd.DataFrame):
            raise TypeError(f"{role}: a DataFrame without geometry; pass a GeoDataFrame")
        elif isinstance(source, (str, os.PathLike)):
            self.config.set_source(role, os.fspath(source), "")
        else:
            raise TypeError(f"{role}: expected a file path or a GeoDataFrame, not {type(source).__name__}")


def _is_city_file(path: str) -> bool:
    """A source holding a layer named 'buildings' (and perhaps the other standard layers), or
    several layers: a city file, as the CLI's first argument (without 'buildings' the engine then
    says so, as the CLI does, instead of taking its first layer for the buildings)."""
    if not os.path.exists(path):
        return False
    try:
        layers = _core.list_layers(path)
    except _core.Error:
        return False
    return "buildings" in layers or len(layers) > 1


def partition(buildings: Union[Source, City],
              roads: Optional[Source] = None,
              rivers: Optional[Source] = None,
              communities: Optional[Source] = None,
              *,
              railways: Optional[Source] = None,
              streets: Optional[Source] = None,
              districts: Optional[Source] = None,
              workers: Optional[Source] = None,
              stations: Optional[Source] = None,
              facilities: Optional[Source] = None,
              work_areas: Optional[Source] = None,
              target_households: float = 83,
              tolerance: float = 0.2,
              grid_households: float = 400,
              seed: int = 0,
              threads: Optional[int] = None,
              progress: Progress = True,
              output: Optional[PathLike] = None,
              staffing: bool = True,
              **options: Any) -> Result:
    """Divides a city into micro-grids, as ``civgrid partition`` does.

    Every layer is a file path (``"city.gpkg"``, ``"roads.shp"``, ``"admin.gpkg:communities"``) or
    a GeoDataFrame in any CRS. ``buildings`` may also be a whole city: a file with the standard
    layers (as ``civgrid partition city.gpkg``; layers given here override its own) or a
    :class:`City`. ``options`` are the CLI's other options with ``_`` for ``-``
    (``level``, ``units="areas"``, ``micro_grids``, ``count_field``, ``hard_min_households``, ``households_field``,
    ``crs``, ``assume_crs``, ``strict``, ``hard_barriers={"roads": "class = 'major'"}``, ...).

    ``threads`` None uses every core; the result is the same for any count. ``progress`` True
    shows a bar (tqdm) for long runs, False nothing, or a callable ``f(stage, done, total)``.
    Ctrl-C stops the run and raises KeyboardInterrupt. With ``output`` the result is also written
    there as a GeoPackage (atomically). Errors raise :class:`civgrid.Error` subclasses with the
    CLI's messages.
    """
    settings = dict(options)
    settings.update(target_households=target_households, tolerance=tolerance, grid_households=grid_households,
                    seed=seed, threads=threads or 0, staffing=staffing)
    given = dict(roads=roads, rivers=rivers, communities=communities, railways=railways, streets=streets,
                 districts=districts, workers=workers, stations=stations, facilities=facilities,
                 work_areas=work_areas)
    inputs = _city_inputs("python.partition", buildings, given, settings)
    with Reporter(progress) as callback, _readable_errors(inputs.names):
        if output is not None:  # refused before any work, as the CLI refuses it
            _core.check_output(inputs.config, os.fspath(output))
        run = _core.partition(inputs.config, callback)
        result = Result(run, inputs.names)
        if output is not None:
            run.write(os.fspath(output), callback)
            result.path = os.fspath(output)
    return result


def _city_inputs(stage: str, buildings: Union[Source, City], given: Dict[str, Optional[Source]],
                 settings: Dict[str, Any]) -> _Inputs:
    """The config of a run on the city ``buildings`` (a layer, a city file or a City) and the
    layers ``given`` by role, which override a city's own."""
    config = _config(settings)
    inputs = _Inputs(config)
    given = dict(given)
    if isinstance(buildings, City):
        for role in ROLES:
            if given.get(role) is None and role in buildings:
                given[role] = buildings[role]
        if "buildings" not in buildings:
            raise _core.ConfigError(f"{stage}: the city has no layer 'buildings'")
        inputs.add("buildings", buildings["buildings"])
    elif isinstance(buildings, (str, os.PathLike)) and _is_city_file(os.fspath(buildings)):
        config.city = os.fspath(buildings)
    else:
        inputs.add("buildings", buildings)
    for role, source in given.items():
        inputs.add(role, source)
    return inputs


def _previous_path(previous: Union[PathLike, "Result"]) -> str:
    """The GeoPackage of a previous run given as a path or a written Result (repartition's
    `previous`, on one machine or on a cluster)."""
    if isinstance(previous, Result):
        if previous.path is None:
            raise _core.ConfigError("python.repartition: the previous Result was never written; write it with "
                                    "to_gpkg() (or partition(..., output=...)) first, or pass its GeoPackage")
        return previous.path
    if isinstance(previous, (str, os.PathLike)):
        return os.fspath(previous)
    raise TypeError(f"previous: expected a file path or a Result, not {type(previous).__name__}")


def repartition(previous: Union[PathLike, Result],
                buildings: Optional[Union[Source, City]] = None,
                roads: Optional[Source] = None,
                rivers: Optional[Source] = None,
                communities: Optional[Source] = None,
                *,
                lock: Iterable[str] = (),
                railways: Optional[Source] = None,
                streets: Optional[Source] = None,
                districts: Optional[Source] = None,
                workers: Optional[Source] = None,
                stations: Optional[Source] = None,
                facilities: Optional[Source] = None,
                work_areas: Optional[Source] = None,
                target_households: float = 83,
                tolerance: float = 0.2,
                grid_households: float = 400,
                seed: int = 0,
                threads: Optional[int] = None,
                progress: Progress = True,
                output: Optional[PathLike] = None,
                staffing: bool = True,
                **options: Any) -> Result:
    """Reruns a partition on a changed city, as ``civgrid repartition --previous`` does.

    ``previous`` is a civgrid output GeoPackage, or a :class:`Result` written to one (``output=``
    or :meth:`Result.to_gpkg`). Every previous micro-grid that still holds is kept with its code
    (and its workers and stations where still valid); only the zones that must change are
    partitioned again. ``lock`` names micro-grid or grid ids kept whatever happens; an id the
    previous run lacks is a :class:`civgrid.ConfigError`. The city and the options are those of
    :func:`partition`; the working CRS is the previous run's unless ``crs`` is given.

    Returns a :class:`Result` with ``changes`` (a GeoDataFrame: each micro-grid's status),
    ``lineage`` (a DataFrame) and ``churn`` (a dict); its GeoPackage has the CLI's ``changes`` and
    ``lineage`` layers and run_info section ``repartition``.
    """
    previous_path = _previous_path(previous)
    if buildings is None:
        raise _core.ConfigError("python.repartition: no city: pass the city as it is now (a city file, a City, "
                                "or its buildings layer)")
    if isinstance(lock, str):
        lock = [lock]
    locked = [str(item) for item in lock]
    settings = dict(options)
    settings.update(target_households=target_households, tolerance=tolerance, grid_households=grid_households,
                    seed=seed, threads=threads or 0, staffing=staffing)
    given = dict(roads=roads, rivers=rivers, communities=communities, railways=railways, streets=streets,
                 districts=districts, workers=workers, stations=stations, facilities=facilities,
                 work_areas=work_areas)
    inputs = _city_inputs("python.repartition", buildings, given, settings)
    with Reporter(progress) as callback, _readable_errors(inputs.names):
        if output is not None:
            _core.check_output(inputs.config, os.fspath(output), previous_path)
        run = _core.repartition(inputs.config, previous_path, locked, callback)
        result = Result(run, inputs.names)
        if output is not None:
            run.write(os.fspath(output), callback)
            result.path = os.fspath(output)
    return result


def assign(result: Result,
           workers: Optional[Source] = None,
           stations: Optional[Source] = None,
           *,
           facilities: Optional[Source] = None,
           work_areas: Optional[Source] = None,
           strict: bool = False,
           progress: Progress = True,
           **options: Any) -> Result:
    """Staffs a partition again, with other workers and / or utility stations.

    Only the layers given here are used. Returns a new :class:`Result` with the same micro-grids
    and new ``worker_assignments``, ``service_assignments``, ``stations`` and ``communities``.
    ``options`` are the staffing field names (``worker_id_field``, ``utility_field``, ...).
    """
    config = result._run.config
    config.city = ""
    for role in _STAFF_ROLES:
        config.set_source(role, "", "")
    config.strict = strict
    for key, value in options.items():
        if key not in _CONFIG_FIELDS or not (key.endswith("_field") or key == "worker_candidates"):
            raise TypeError(f"unexpected option {key!r}")
        setattr(config, key, value)
    inputs = _Inputs(config)
    for role, source in (("workers", workers), ("stations", stations), ("facilities", facilities),
                         ("work_areas", work_areas)):
        inputs.add(role, source)
    names = {**result._names, **inputs.names}
    with Reporter(progress) as callback, _readable_errors(names):
        run = result._run.assign(config, callback)
        return Result(run, names)


def read_city(path: PathLike) -> City:
    """Every layer of a file (as stored, in its own CRS), through the engine's reader."""
    source = os.fspath(path)
    layers = {}
    for name in _core.list_layers(source):
        layers[name] = frame_from_layer(_core.read_layer(source, name))
    return City(layers, source)


def synth_city(households: int = 30000, seed: int = 1, crs: Optional[str] = None) -> City:
    """The synthetic city of ``civgrid synth`` (same size and seed, same city), in memory."""
    return City({layer["name"]: frame_from_layer(layer)
                 for layer in _core.synth_city(int(households), int(seed), crs or "")})


def report(path: PathLike, threads: Optional[int] = None) -> Dict[str, Union[int, float, str]]:
    """The quality report of a civgrid output file, recomputed from its geometry (``civgrid report``)."""
    rows, _text = _core.report(os.fspath(path), threads or 0)
    return _report_dict(rows)


def report_html(path: PathLike, html: PathLike, threads: Optional[int] = None,
                basemap: Optional[str] = None) -> Dict[str, Union[int, float, str]]:
    """Writes the self-contained HTML report of a civgrid output file to ``html`` (``civgrid report
    OUT.gpkg --html``, atomically; refused when ``html`` is the file itself) and returns its
    quality report. ``basemap``: a tile server's URL template drawn under the map (``--basemap``;
    http or https with {z} {x} {y}, else ConfigError); without it the page fetches nothing."""
    rows, _text = _core.report_html(os.fspath(path), os.fspath(html), threads or 0, basemap or "")
    return _report_dict(rows)
