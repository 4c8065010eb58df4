"""civgrid: balanced governance micro-grids (微网格) for a city, from Python.

A thin layer over the same engine as the ``civgrid`` CLI::

    import civgrid
    result = civgrid.partition("city.gpkg", target_households=83)
    result.micro_grids.plot(column="deviation")
    result.to_gpkg("out.gpkg")
    rerun = civgrid.repartition("out.gpkg", "city-2025.gpkg")   # keeps what still holds
    print(rerun.churn["household_churn"])

See python/README.md.
"""

from ._core import (
    ConfigError,
    Error,
    InfeasibleError,
    InputError,
    InternalError,
    IoError,
    __version__,
    versions,
)
from ._api import OUTPUT_SCHEMA, ROLES, City, Result, assign, partition, read_city, repartition, report, report_html, synth_city
from ._progress import ProgressCallback

__all__ = [
    "City",
    "ConfigError",
    "Error",
    "InfeasibleError",
    "InputError",
    "InternalError",
    "IoError",
    "OUTPUT_SCHEMA",
    "ProgressCallback",
    "ROLES",
    "Result",
    "__version__",
    "assign",
    "partition",
    "read_city",
    "repartition",
    "report",
    "report_html",
    "synth_city",
    "versions",
]
