"""pip install for civgrid: scikit-build (Debian's python3-skbuild) runs the project's CMake build
from the repository root and installs the civgrid package with its _core module.

    /usr/bin/python3 -m pip install --no-build-isolation --break-system-packages ./python

Offline: every build requirement is a Debian package (see python/README.md).
"""

import sys

from skbuild import setup

setup(
    name="civgrid",
    version="0.1.0",
    description="Balanced governance micro-grids for a city (pybind11 bindings of the civgrid engine)",
    license="MIT",
    python_requires=">=3.9",
    packages=["civgrid"],
    package_data={"civgrid": ["*.pyi", "py.typed"]},
    install_requires=["numpy", "pandas", "geopandas", "shapely"],
    extras_require={"progress": ["tqdm"], "examples": ["matplotlib"]},
    cmake_source_dir="..",
    cmake_install_dir=".",
    cmake_args=[
        f"-DPython3_EXECUTABLE={sys.executable}",
        "-DBUILD_TESTING=OFF",
        "-DCIVGRID_BUILD_BENCH=OFF",
        "-DCMAKE_BUILD_TYPE=Release",
    ],
    cmake_install_target="install",
)
