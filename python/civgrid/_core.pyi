"""Type stubs of civgrid._core, the pybind11 module over the engine. Use the civgrid package."""

from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np

__version__: str

_Progress = Optional[Callable[[str, int, int], None]]
_Layer = Dict[str, Any]  # {"name", "crs", "geometry": list of WKB bytes or None, "columns": [...]}

class Error(Exception):
    exit_code: int

class ConfigError(Error, ValueError): ...
class InputError(Error, ValueError): ...
class IoError(Error, OSError): ...
class InfeasibleError(Error): ...
class InternalError(Error, RuntimeError): ...

class Config:
    """engine::PartitionConfig, field by field."""

    city: str
    staffing: bool
    strict: bool
    facility_area_field: str
    residents_field: str
    persons_per_household: float
    worker_id_field: str
    worker_kind_field: str
    worker_capacity_field: str
    station_id_field: str
    utility_field: str
    station_capacity_field: str
    worker_candidates: int
    building_id_field: str
    households_field: str
    units_field: str
    community_code_field: str
    street_code_field: str
    district_code_field: str
    name_field: str
    working_crs: str
    assume_crs: str
    coordinate_grid: float
    region_level: str
    target_households: float
    count_field: str
    micro_grid_count: int
    tolerance: float
    min_households: float
    max_households: float
    hard_min_households: float
    grid_households: float
    grid_count: int
    grid_count_field: str
    split_piece_households: int
    soft_barrier_weight: float
    compactness: float
    seed: int
    threads: int
    network_distance: bool
    dwelling_area: float
    floors_field: str
    max_building_households: int
    hard_roads: str
    hard_rivers: str
    hard_railways: str
    def __init__(self) -> None: ...
    def set_source(self, role: str, path: str, layer: str = "") -> None: ...
    def set_layer_setting(self, role: str, setting: str, value: str) -> None: ...
    def source(self, role: str) -> Tuple[str, str]: ...

class MemorySource:
    """A layer from Python in GDAL's in-memory file system (/vsimem/), readable like a file."""

    def __init__(self, name: str, crs: str, wkb: np.ndarray, offsets: np.ndarray,
                 columns: List[Tuple[str, str, Any, Optional[np.ndarray]]]) -> None: ...
    @property
    def path(self) -> str: ...
    @property
    def layer(self) -> str: ...

class Run:
    """A partition in memory: the engine's City, PartitionResult and Staffing."""

    @property
    def crs(self) -> str: ...
    @property
    def region_level(self) -> str: ...
    @property
    def config(self) -> Config: ...
    @property
    def timings(self) -> List[Tuple[str, float]]: ...
    @property
    def report(self) -> List[Tuple[str, str]]: ...
    @property
    def report_text(self) -> str: ...
    @property
    def staffed(self) -> bool: ...
    @property
    def warnings(self) -> List[str]: ...
    @property
    def churn(self) -> Optional[Dict[str, Any]]: ...
    @property
    def previous(self) -> Optional[str]: ...
    def layers(self) -> List[_Layer]: ...
    def write(self, path: str, progress: _Progress = None) -> None: ...
    def assign(self, config: Config, progress: _Progress = None) -> "Run": ...

def versions() -> Dict[str, str]: ...
def partition(config: Config, progress: _Progress = None) -> Run: ...
def repartition(config: Config, previous: str, locked: List[str] = ..., progress: _Progress = None) -> Run: ...
def check_output(config: Config, path: str, previous: str = "") -> None: ...
def list_layers(path: str) -> List[str]: ...
def read_layer(path: str, layer: str = "") -> _Layer: ...
def synth_city(households: int, seed: int, crs: str = "") -> List[_Layer]: ...
def report(path: str, threads: int = 0) -> Tuple[List[Tuple[str, str]], str]: ...
def report_html(path: str, html: str, threads: int = 0) -> Tuple[List[Tuple[str, str]], str]: ...
