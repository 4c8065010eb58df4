"""Type stubs of the civgrid public API."""

import os
from typing import Any, Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Tuple, Union

import geopandas as gpd
import pandas as pd

from ._core import ConfigError as ConfigError
from ._core import Error as Error
from ._core import InfeasibleError as InfeasibleError
from ._core import InputError as InputError
from ._core import InternalError as InternalError
from ._core import IoError as IoError
from ._core import versions as versions

__version__: str

PathLike = Union[str, os.PathLike[str]]
Source = Union[PathLike, gpd.GeoDataFrame]
ProgressCallback = Callable[[str, int, int], None]
Progress = Union[bool, ProgressCallback, None]
ReportValue = Union[int, float, str]

ROLES: Tuple[str, ...]
OUTPUT_SCHEMA: Dict[str, Dict[str, Any]]

class City(Mapping[str, gpd.GeoDataFrame]):
    source: Optional[str]
    def __init__(self, layers: Mapping[str, gpd.GeoDataFrame], source: Optional[str] = None) -> None: ...
    def __getitem__(self, name: str) -> gpd.GeoDataFrame: ...
    def __iter__(self) -> Iterator[str]: ...
    def __len__(self) -> int: ...
    def __getattr__(self, name: str) -> gpd.GeoDataFrame: ...
    def to_files(self, folder: PathLike, driver: str = "ESRI Shapefile", suffix: str = ".shp") -> Dict[str, str]: ...

class Result:
    layers: Dict[str, pd.DataFrame]
    micro_grids: gpd.GeoDataFrame
    grids: gpd.GeoDataFrame
    buildings: gpd.GeoDataFrame
    communities: gpd.GeoDataFrame
    barriers: gpd.GeoDataFrame
    assignments: pd.DataFrame
    worker_assignments: Optional[pd.DataFrame]
    service_assignments: Optional[pd.DataFrame]
    stations: Optional[gpd.GeoDataFrame]
    run_info: pd.DataFrame
    report: Dict[str, ReportValue]
    report_text: str
    crs: str
    warnings: List[str]
    timings: Dict[str, float]
    path: Optional[str]
    parts: Optional[List[Dict[str, Any]]]
    changes: Optional[gpd.GeoDataFrame]
    lineage: Optional[pd.DataFrame]
    churn: Optional[Dict[str, Union[int, float]]]
    def to_gpkg(self, path: PathLike, progress: Progress = True) -> None: ...
    def to_gpkg_per_district(self, path: PathLike, progress: Progress = True) -> List[Dict[str, Any]]: ...
    def report_html(self, html: PathLike, basemap: Optional[str] = None) -> None: ...
    REPR_HTML_MAX_MICRO_GRIDS: int
    def _repr_html_(self) -> Optional[str]: ...

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
              **options: Any) -> Result: ...
def assign(result: Result,
           workers: Optional[Source] = None,
           stations: Optional[Source] = None,
           *,
           facilities: Optional[Source] = None,
           work_areas: Optional[Source] = None,
           strict: bool = False,
           progress: Progress = True,
           **options: Any) -> Result: ...
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
                **options: Any) -> Result: ...
def read_city(path: PathLike) -> City: ...
def synth_city(households: int = 30000, seed: int = 1, crs: Optional[str] = None) -> City: ...
def report(path: PathLike, threads: Optional[int] = None) -> Dict[str, ReportValue]: ...
def report_html(path: PathLike, html: PathLike, threads: Optional[int] = None,
                basemap: Optional[str] = None) -> Dict[str, ReportValue]: ...
