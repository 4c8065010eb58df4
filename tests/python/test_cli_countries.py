"""Data outside China (issue 17, item 3): the generated sample city moved, in WGS84 lon/lat, to Osaka,
Seoul, Singapore and Paris gets the UTM zone of its centre (not a Chinese Gauss-Kruger zone) and
partitions as at home; in Singapore without admin layers beside the sea, no micro-grid lies on the
water and the region is the settled land, not the bounding box."""
import json

import geopandas as gpd
import pytest
from shapely.affinity import translate
from shapely.geometry import box
from shapely.ops import unary_union

from conftest import run_cli

LAYERS = ("districts", "streets", "communities", "roads", "railways", "rivers", "buildings")
PLACES = {  # lon, lat of the city's centre -> the working CRS expected
    "osaka": ((135.50, 34.69), "EPSG:32653"),
    "seoul": ((126.98, 37.57), "EPSG:32652"),
    "singapore": ((103.82, 1.35), "EPSG:32648"),
    "paris": ((2.35, 48.85), "EPSG:32631"),
}


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    folder = tmp_path_factory.mktemp("countries")
    path = folder / "city.gpkg"
    run_cli("synth", "--households", "3000", "--seed", "1", "-o", str(path))
    layers = {name: gpd.read_file(path, layer=name).to_crs("EPSG:4326") for name in LAYERS}
    return folder, layers


def moved(layers, lon, lat):
    centre = unary_union(list(layers["communities"].geometry)).centroid
    return {name: frame.set_geometry(frame.geometry.apply(translate, xoff=lon - centre.x, yoff=lat - centre.y))
            for name, frame in layers.items()}


def partition(folder, name, layers, *options):
    path = folder / f"{name}.gpkg"
    for layer, frame in layers.items():
        frame.to_file(path, layer=layer, driver="GPKG")
    out = folder / f"{name}-out.gpkg"
    result = json.loads(run_cli("partition", str(path), "-o", str(out), "--json", "--no-staffing", *options).stdout)
    return result, out


@pytest.mark.parametrize("place", sorted(PLACES))
def test_a_city_abroad_gets_its_utm_zone_and_partitions_as_at_home(home, place):
    folder, layers = home
    (lon, lat), expected = PLACES[place]
    at_home, _ = partition(folder, "home", layers)
    result, out = partition(folder, place, moved(layers, lon, lat))
    assert expected in result["crs"], result["crs"]
    assert not any("outside of projection domain" in w for w in result["warnings"])
    quality = result["quality"]
    assert quality["micro_grids"] == at_home["quality"]["micro_grids"]
    for key in ("non_contiguous", "barrier_crossings", "invalid_polygons", "buildings_unassigned"):
        assert quality[key] == 0, key
    assert quality["max_region_gap_overlap_m2"] < 1.0
    assert quality["share_within_20pct"] >= 0.9
    info = gpd.read_file(out, layer="run_info", ignore_geometry=True)
    assert expected in info[info.key == "buildings.working crs"].value.iloc[0]


def test_singapore_beside_the_sea_without_admin_layers(home):
    """Only buildings, roads and the sea (a `rivers` polygon) east of the city: micro-grids cover the
    land near the buildings and none lies on the water."""
    folder, layers = home
    city = moved(layers, 103.82, 1.35)
    west, south, east, north = city["buildings"].total_bounds
    sea = gpd.GeoDataFrame({"name": ["sea"]}, geometry=[box(east + 0.0005, south - 0.05, east + 0.2, north + 0.05)],
                           crs="EPSG:4326")
    inputs = {"buildings": city["buildings"], "roads": city["roads"], "rivers": sea}
    result, out = partition(folder, "singapore-sea", inputs)
    assert "EPSG:32648" in result["crs"]
    quality = result["quality"]
    assert quality["buildings_unassigned"] == 0
    assert quality["barrier_crossings"] == 0
    micro_grids = gpd.read_file(out, layer="micro_grids")
    water = sea.to_crs(micro_grids.crs).geometry.iloc[0]
    assert micro_grids.geometry.intersection(water).area.sum() < 1.0
    # The settled land: well inside the box of the buildings widened by the sea's margin.
    land = unary_union(list(micro_grids.geometry))
    frame = box(*city["buildings"].to_crs(micro_grids.crs).total_bounds).buffer(350)  # cells of 100 m within 200 m
    assert land.area < frame.area
    assert land.within(frame)
    info = gpd.read_file(out, layer="run_info", ignore_geometry=True)
    assert "the settled land" in info[info.key == "buildings.region"].value.iloc[0]
