"""The corpus of bad inputs: every kind of bad file, layer, feature, field and option civgrid has met,
each run through the CLI and through Python.

For every case, on a copy of a generated city altered as the case says:
- the CLI exits with the expected code (never 1: no input, however malformed, is an internal error);
- its message (or, for a quirk with a policy, its warnings) names what it should: file, layer,
  feature and field where they apply;
- after a failure no output and no temporary file is left; the inputs are byte-identical afterwards;
- Python, given the same inputs, raises the error class of that exit code with the CLI's message, or
  returns the CLI's warnings, word for word (what the CLI keeps and reports, Python does too).
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

import pytest
from osgeo import gdal, ogr

import civgrid

gdal.UseExceptions()
CIVGRID = os.environ.get("CIVGRID_CLI", "build/engine/civgrid")

# ---- The generated inputs -----------------------------------------------------------------------


@pytest.fixture(scope="session")
def pristine(tmp_path_factory) -> Dict[str, Path]:
    """A generated city (3,000 households, seed 1) and its partition, made once per session."""
    base = tmp_path_factory.mktemp("pristine")
    city, out = base / "city.gpkg", base / "out.gpkg"
    subprocess.run([CIVGRID, "synth", "--households", "3000", "--seed", "1", "-o", str(city)], check=True,
                   capture_output=True)
    subprocess.run([CIVGRID, "partition", str(city), "-o", str(out), "-q"], check=True, capture_output=True)
    return {"city": city, "out": out}


def sql(path: Path, statement: str) -> None:
    """Runs one SQLite statement on a GeoPackage (attribute edits)."""
    dataset = gdal.OpenEx(str(path), gdal.OF_VECTOR | gdal.OF_UPDATE)
    result = dataset.ExecuteSQL(statement, dialect="SQLITE")
    if result is not None:
        dataset.ReleaseResultSet(result)
    dataset = None


def set_geometry(path: Path, layer: str, fids: Sequence[int], wkt: Optional[str]) -> None:
    """Replaces the geometry of features `fids` (None: a null geometry)."""
    dataset = gdal.OpenEx(str(path), gdal.OF_VECTOR | gdal.OF_UPDATE)
    target = dataset.GetLayerByName(layer)
    for fid in fids:
        feature = target.GetFeature(fid)
        feature.SetGeometry(None if wkt is None else ogr.CreateGeometryFromWkt(wkt))
        target.SetFeature(feature)
        del feature
    del target
    dataset = None


def geometry_wkt(path: Path, layer: str, fid: int) -> str:
    # Every OGR object kept in a name: the bindings crash when a dataset is collected first.
    dataset = gdal.OpenEx(str(path), gdal.OF_VECTOR)
    source = dataset.GetLayerByName(layer)
    feature = source.GetFeature(fid)
    wkt = feature.GetGeometryRef().ExportToWkt()
    del feature, source, dataset
    return wkt


def first_building_corner(path: Path) -> Tuple[float, float]:
    envelope = ogr.CreateGeometryFromWkt(geometry_wkt(path, "buildings", 1)).GetEnvelope()
    return envelope[0], envelope[2]


def translate(path: Path, layer: str, target: Path, *options: str) -> None:
    """ogr2ogr of one layer into another file (Shapefile, GeoJSON, ...)."""
    gdal.VectorTranslate(str(target), str(path), options=[*options, layer])


def shifted(wkt: str, dx: float, dy: float) -> str:
    geometry = ogr.CreateGeometryFromWkt(wkt)
    for i in range(geometry.GetGeometryCount()):
        ring = geometry.GetGeometryRef(i)
        if ring.GetGeometryCount() > 0:  # a multipolygon's polygon
            for j in range(ring.GetGeometryCount()):
                inner = ring.GetGeometryRef(j)
                for k in range(inner.GetPointCount()):
                    inner.SetPoint_2D(k, inner.GetX(k) + dx, inner.GetY(k) + dy)
        else:
            for k in range(ring.GetPointCount()):
                ring.SetPoint_2D(k, ring.GetX(k) + dx, ring.GetY(k) + dy)
    return geometry.ExportToWkt()


# ---- The corpus -----------------------------------------------------------------------------------

Prepared = Tuple[List[str], Optional[Dict[str, Any]]]  # CLI arguments (without -o), Python kwargs


@dataclass
class Case:
    name: str
    prepare: Callable[[Path], Prepared]  # alters the copy in the folder; None kwargs: CLI only
    exit: int
    names: Tuple[str, ...] = ()  # substrings of the message (or warnings); {d} is the case folder
    command: str = "partition"
    python_too: bool = True


PYTHON_ROLES = ("buildings", "roads", "rivers", "railways", "communities", "streets", "districts", "workers",
                "stations", "facilities", "work_areas")


def layer_names(path: Path) -> List[str]:
    dataset = gdal.OpenEx(str(path), gdal.OF_VECTOR)
    names = [dataset.GetLayer(i).GetName() for i in range(dataset.GetLayerCount())]
    del dataset
    return names


def city_args(d: Path, *options: str) -> Prepared:
    """The city file of the folder plus CLI options, and the same as Python keyword arguments."""
    kwargs: Dict[str, Any] = {"buildings": str(d / "city.gpkg")}
    items = list(options)
    while items:
        option = items.pop(0)
        assert option.startswith("--")
        key = option[2:].replace("-", "_")
        if key in ("strict", "network_distance"):
            kwargs[key] = True
            continue
        if key == "no_staffing":
            kwargs["staffing"] = False
            continue
        value: Any = items.pop(0)
        if key == "hard_barriers":
            role, _, rule = value.partition(":")
            kwargs.setdefault("hard_barriers", {})[role] = rule
            continue
        if key == "buildings":  # Python: the buildings layer first, the city's other layers by name
            city = d / "city.gpkg"
            kwargs["buildings"] = value
            if city.exists():
                for role in layer_names(city):
                    if role in PYTHON_ROLES and role != "buildings":
                        kwargs[role] = f"{city}:{role}"
            continue
        if key in ("datum", "encoding"):
            role, equals, setting = value.partition("=")
            kwargs[key] = {role: setting} if equals else value
            continue
        for convert in (int, float):
            try:
                value = convert(value)
                break
            except ValueError:
                pass
        kwargs[key] = value
    return [str(d / "city.gpkg"), *options], kwargs


def edit(statement: str, *options: str) -> Callable[[Path], Prepared]:
    def prepare(d: Path) -> Prepared:
        sql(d / "city.gpkg", statement)
        return city_args(d, *options)

    return prepare


def geometry(layer: str, fids: Sequence[int], wkt: Optional[str], *options: str) -> Callable[[Path], Prepared]:
    def prepare(d: Path) -> Prepared:
        set_geometry(d / "city.gpkg", layer, fids, wkt)
        return city_args(d, *options)

    return prepare


def options(*given: str) -> Callable[[Path], Prepared]:
    return lambda d: city_args(d, *given)


def separate(role: str, driver: str, suffix: str, remove: Sequence[str] = (), *extra: str) -> Callable[[Path], Prepared]:
    """The role's layer taken out of the city into its own file (then parts of it removed)."""

    def prepare(d: Path) -> Prepared:
        target = d / f"{role}{suffix}"
        translate(d / "city.gpkg", role, target, "-f", driver)
        for part in remove:
            (d / f"{role}{part}").unlink()
        args, kwargs = city_args(d, f"--{role}", str(target), *extra)
        return args, kwargs

    return prepare


def near_first_building(fid: int, make_wkt: Callable[[float, float], str]) -> Callable[[Path], Prepared]:
    """Feature `fid`'s geometry replaced by make_wkt(x, y), near the first building's corner."""

    def prepare(d: Path) -> Prepared:
        x, y = first_building_corner(d / "city.gpkg")
        set_geometry(d / "city.gpkg", "buildings", [fid], make_wkt(x, y))
        return city_args(d)

    return prepare


bowtie = near_first_building(1, lambda x, y: f"POLYGON(({x} {y},{x + 20} {y + 20},{x + 20} {y},{x} {y + 20},{x} {y}))")
far_building = near_first_building(
    2, lambda x, y: f"POLYGON(({x - 3000} {y},{x - 2990} {y},{x - 2990} {y + 10},{x - 3000} {y + 10},{x - 3000} {y}))")
point_building = near_first_building(3, lambda x, y: f"POINT({x + 1} {y + 1})")
line_building = near_first_building(3, lambda x, y: f"LINESTRING({x} {y},{x + 10} {y})")
flat_building = near_first_building(3, lambda x, y: f"POLYGON(({x} {y},{x + 10} {y},{x + 20} {y},{x} {y}))")


def copy_of_building(d: Path) -> Prepared:
    sql(d / "city.gpkg", "INSERT INTO buildings (geom, building_id, households, floors, units, kind) "
                         "SELECT geom, building_id || '-copy', households, floors, units, kind FROM buildings "
                         "WHERE fid = 5")
    return city_args(d)


def overlapping_building(d: Path) -> Prepared:
    wkt = shifted(geometry_wkt(d / "city.gpkg", "buildings", 5), 3.0, 0.0)
    sql(d / "city.gpkg", "INSERT INTO buildings (building_id, households, floors, units, kind) "
                         "VALUES ('overlapper', 12, 3, 1, 'residential')")
    dataset = gdal.OpenEx(str(d / "city.gpkg"), gdal.OF_VECTOR)
    result = dataset.ExecuteSQL("SELECT max(fid) FROM buildings")
    row = result.GetNextFeature()
    fid = row.GetField(0)
    del row
    dataset.ReleaseResultSet(result)
    dataset = None
    set_geometry(d / "city.gpkg", "buildings", [fid], wkt)
    return city_args(d)


def overlapping_communities(d: Path) -> Prepared:
    wkt = shifted(geometry_wkt(d / "city.gpkg", "communities", 1), 40.0, 0.0)
    set_geometry(d / "city.gpkg", "communities", [1], wkt)
    return city_args(d)


def far_roads(d: Path) -> Prepared:
    sql(d / "city.gpkg", "UPDATE roads SET geom = ST_Translate(geom, 100000, 0, 0)")
    return city_args(d)


def without_crs(d: Path, assume: Optional[str] = None) -> Prepared:
    target = d / "buildings.geojson"
    translate(d / "city.gpkg", "buildings", target, "-f", "GeoJSON", "-a_srs", "None", "-lco", "WRITE_NAME=NO")
    text = target.read_text()
    target.write_text(text.replace('"crs"', '"crs_removed"'))
    extra = ["--assume-crs", assume] if assume else []
    return city_args(d, "--buildings", str(target), *extra)


def zone_prefixed(d: Path) -> Prepared:
    """Eastings with the zone number in front (40,480,000 m) declared as CGCS2000 CM 120E without it."""
    target = d / "buildings.gpkg"
    translate(d / "city.gpkg", "buildings", target, "-f", "GPKG", "-dialect", "SQLITE", "-sql",
              "SELECT ST_Translate(geom, 40000000, 0, 0) AS geom, building_id, households FROM buildings",
              "-nln", "buildings", "-a_srs", "EPSG:4549")
    return city_args(d, "--buildings", str(target))


def file_of(content: bytes, name: str = "city.gpkg") -> Callable[[Path], Prepared]:
    def prepare(d: Path) -> Prepared:
        (d / name).write_bytes(content)
        return city_args(d)

    return prepare


def truncated(d: Path) -> Prepared:
    data = (d / "city.gpkg").read_bytes()
    (d / "city.gpkg").write_bytes(data[: len(data) // 3])
    return city_args(d)


def osm_roads(d: Path) -> Prepared:
    target = d / "roads.gpkg"
    translate(d / "city.gpkg", "roads", target, "-f", "GPKG", "-sql", "SELECT geom, name FROM roads", "-nln", "roads")
    return city_args(d, "--roads", str(target))


def with_output(d: Path, statement: Optional[str]) -> Path:
    """A copy of the partition of the folder's city as `result.gpkg`, altered by `statement`."""
    output = d / "result.gpkg"
    subprocess.run([CIVGRID, "partition", str(d / "city.gpkg"), "-o", str(output), "-q"], check=True,
                   capture_output=True)
    if statement:
        sql(output, statement)
    return output


def rerun(statement: Optional[str], *options: str) -> Callable[[Path], Prepared]:
    """`civgrid repartition --previous result.gpkg city.gpkg`, the previous output altered."""

    def prepare(d: Path) -> Prepared:
        previous = with_output(d, statement)
        args, kwargs = city_args(d, *options)
        kwargs["previous"] = str(previous)
        return ["--previous", str(previous), *args], kwargs

    return prepare


def report(statement: Optional[str]) -> Callable[[Path], Prepared]:
    """`civgrid report result.gpkg` on an altered output."""
    return lambda d: ([str(with_output(d, statement))], {"path": str(d / "result.gpkg")})


# Each case: the alteration, the exit code, and what the message must name.
CITY = "{d}/city.gpkg"
CASES: List[Case] = [
    # Files that cannot be read.
    Case("missing_city", lambda d: (os.remove(d / "city.gpkg"), city_args(d))[1], 4, (CITY,)),
    Case("text_file", file_of(b"not a GIS file\n"), 4, (CITY,)),
    Case("empty_file", file_of(b""), 4, (CITY,)),
    Case("truncated_geopackage", truncated, 4, (CITY,)),
    Case("directory_as_city", lambda d: (os.remove(d / "city.gpkg"), os.mkdir(d / "city.gpkg"), city_args(d))[2], 4,
         (CITY,)),
    Case("no_buildings_layer", edit("DROP TABLE buildings"), 2, (CITY, "'buildings'")),
    Case("missing_layer", lambda d: ([str(d / "city.gpkg"), "--buildings", f"{d}/city.gpkg:houses"],
                                     {"buildings": str(d / "city.gpkg"), "buildings_layer": "houses"}), 3,
         (CITY, "houses"), python_too=False),
    Case("shapefile_without_dbf", separate("buildings", "ESRI Shapefile", ".shp", [".dbf"]), 3,
         ("{d}/buildings.shp", "{d}/buildings.dbf", "attributes")),
    Case("shapefile_without_shx", separate("buildings", "ESRI Shapefile", ".shp", [".shx"]), 3,
         ("{d}/buildings.shp", "{d}/buildings.shx")),
    # Fields.
    Case("households_field_missing", options("--households-field", "hh"), 3, (CITY, "'buildings'", "'hh'")),
    Case("id_field_typo", options("--id-field", "bld"), 3, (CITY, "'buildings'", "'bld'", "--id-field")),
    Case("units_field_typo", options("--units-field", "entrances"), 3, (CITY, "'entrances'", "--units-field")),
    Case("floors_field_missing", options("--floors-field", "storeys", "--dwelling-area", "90"), 3,
         (CITY, "'storeys'", "--floors-field")),
    Case("community_code_field_missing", options("--community-code-field", "code"), 3,
         (CITY, "'communities'", "'code'")),
    Case("count_field_missing", options("--count-field", "wanted"), 3, (CITY, "'communities'", "'wanted'")),
    Case("households_boolean", lambda d: boolean_households(d), 3, ("'buildings'", "field 'households'", "true/false")),
    Case("households_dropped_no_floors", edit("ALTER TABLE buildings DROP COLUMN households"), 3,
         (CITY, "'households'", "--dwelling-area")),
    # Attribute values with a policy: kept and reported, by feature.
    Case("households_text", edit("UPDATE buildings SET households = 'many' WHERE fid IN (3, 4)"), 0,
         ("invalid_households", "3 ('many')", "4 ('many')")),
    Case("households_negative", edit("UPDATE buildings SET households = -5 WHERE fid = 3"), 0,
         ("invalid_households", "3 ('-5')")),
    Case("households_null", edit("UPDATE buildings SET households = NULL WHERE fid = 3"), 0,
         ("invalid_households", "'households'")),
    Case("households_fractional", edit("UPDATE buildings SET households = 12.7 WHERE fid = 3"), 0,
         ("fractional_households", "3 (12.7")),
    Case("households_absurd", edit("UPDATE buildings SET households = 999999999999 WHERE fid = 3"), 0,
         ("absurd_households", "3 (999999999999)")),
    Case("households_huge_text", edit("UPDATE buildings SET households = '1e308' WHERE fid = 3"), 0,
         ("households", "3 (")),
    Case("null_community_code", edit("UPDATE communities SET community_code = NULL WHERE fid = 2"), 0,
         ("missing_code", "'communities'", "F2")),
    Case("duplicate_community_code",
         edit("UPDATE communities SET community_code = (SELECT community_code FROM communities WHERE fid = 1) "
              "WHERE fid = 2"), 0, ("duplicate_code",)),
    Case("duplicate_building_ids", edit("UPDATE buildings SET building_id = 'same' WHERE fid IN (3, 4)"), 0,
         ("duplicate_id", "'same'")),
    Case("count_field_not_positive", edit("ALTER TABLE communities ADD COLUMN wanted INTEGER", "--count-field",
                                          "wanted"), 0, ("no_positive_count",)),
    # Geometry quirks with a policy.
    Case("null_geometry_buildings", geometry("buildings", [3, 4, 5], None), 0, ("null_geometry", "3, 4, 5")),
    Case("empty_geometry_buildings", geometry("buildings", [3], "POLYGON EMPTY"), 0, ("null_geometry",)),
    Case("bowtie_building", bowtie, 0, ("'buildings'", "1")),
    Case("nan_coordinates", geometry("buildings", [3], "POLYGON((nan 0,1 0,1 1,nan 0))"), 0, ("'buildings'", "3")),
    Case("point_among_polygons", point_building, 0, ("point_in_polygon_layer",)),
    Case("line_among_buildings", line_building, 0, ("wrong_geometry_type",)),
    Case("zero_area_building", flat_building, 0, ("'buildings'", "3")),
    Case("z_coordinates", lambda d: z_building(d), 0),  # info only: no warning
    Case("copy_of_a_building", copy_of_building, 0, ("duplicate_building", "copy of 5")),
    Case("overlapping_buildings", overlapping_building, 0, ("overlapping_buildings",)),
    Case("building_outside_every_region", far_building, 0, ("outside_every_region", "2")),
    Case("overlapping_communities", overlapping_communities, 0, ("'communities'",)),
    Case("null_geometry_community", geometry("communities", [2], None), 0, ("'communities'", "null_geometry")),
    Case("roads_far_away", far_roads, 0, ("far_from_buildings", "roads")),
    # Geometry that cannot be used.
    Case("no_building_geometry", edit("UPDATE buildings SET geom = NULL"), 3, (CITY, "'buildings'", "no usable polygon or point")),
    Case("communities_are_points", lambda d: points_as_communities(d), 3, ("'communities'", "polygon")),
    # One absurd building no longer decides the working CRS (the middle half of the features' positions
    # does, issue 17): it is left out by id, as NaN ones are.
    Case("infinite_coordinates", geometry("buildings", [3], "POLYGON((1e300 1e300,-1e300 1e300,0 -1e300,"
                                                            "1e300 1e300))"), 0, ("invalid_coordinates", "3")),
    # CRS.
    Case("layer_without_crs", separate("buildings", "ESRI Shapefile", ".shp", [".prj"]), 3,
         ("{d}/buildings.shp", "no CRS", "--assume-crs")),
    Case("assumed_geographic_on_projected",
         separate("buildings", "ESRI Shapefile", ".shp", [".prj"], "--assume-crs", "EPSG:4326"), 3,
         ("{d}/buildings.shp", "EPSG:4326", "--assume-crs")),
    Case("geojson_projected_coordinates", without_crs, 3, ("{d}/buildings.geojson", "EPSG:4326", "longitudes")),
    Case("zone_prefix_mismatch", zone_prefixed, 3, ("{d}/buildings.gpkg", "EPSG:")),
    Case("invalid_working_crs", options("--crs", "EPSG:0"), 2, ("EPSG:0",)),
    Case("invalid_assumed_crs", options("--assume-crs", "nonsense"), 2, ("--assume-crs", "nonsense")),
    # Options outside their range, or not what they must be.
    Case("micro_grids_absurd", options("--micro-grids", "2000000000"), 2, ("--micro-grids", "2000000000", "10000000")),
    Case("micro_grids_above_households", options("--micro-grids", "5000"), 2, ("--micro-grids 5000", "3000")),
    Case("tolerance_above_one", options("--tolerance", "1.5"), 2, ("--tolerance",)),
    Case("target_zero", options("--target-households", "0"), 2, ("--target-households",)),
    Case("threads_negative", options("--threads", "-1"), 2, ("--threads",)),
    Case("grid_households_negative", options("--grid-households", "-400"), 2, ("--grid-households",)),
    Case("compactness_huge", options("--compactness", "1e9"), 2, ("--compactness",)),
    Case("split_households_negative", options("--split-households", "-3"), 2, ("--split-households",)),
    Case("min_above_max", options("--min-households", "90", "--max-households", "85"), 2,
         ("--min-households", "--max-households")),
    Case("level_unknown", options("--level", "county"), 2, ("--level", "county")),
    Case("units_unknown", options("--units", "parcels"), 2, ("--units", "parcels", "buildings or areas")),
    Case("units_areas_on_points", lambda d: points_as_buildings(d, "--units", "areas"), 3,
         ("{d}/buildings.gpkg", "--units areas", "not a polygon")),
    Case("level_without_layer", edit("DROP TABLE streets", "--level", "street"), 2, ("--level street", "streets")),
    Case("barrier_filter_injection", options("--hard-barriers", "roads:1=1; DROP TABLE x"), 2,
         ("--hard-barriers", "DROP TABLE", "';'")),
    Case("barrier_filter_unbalanced", options("--hard-barriers", "roads:class = 'major"), 2,
         ("--hard-barriers", "quotes")),
    Case("barrier_filter_unknown_field", options("--hard-barriers", "roads:kind = 'x'"), 2,
         ("'roads'", "kind = 'x'")),
    Case("barrier_layer_unknown", lambda d: ([str(d / "city.gpkg"), "--hard-barriers", "lakes:x"], None), 2,
         ("lakes",)),
    Case("roads_without_class", osm_roads, 2, ("{d}/roads.gpkg", "class", "--hard-barriers")),
    Case("datum_unknown", options("--datum", "nad27"), 2, ("nad27",)),
    Case("encoding_unknown", lambda d: shapefile_with_encoding(d), 2, ("{d}/buildings.shp", "--encoding", "KLINGON")),
    Case("network_distance_without_roads", edit("DROP TABLE roads", "--network-distance"), 2,
         ("--network-distance",)),
    Case("strict_with_warnings", edit("UPDATE buildings SET households = -5 WHERE fid = 3", "--strict"), 3,
         ("invalid_households",)),
    Case("dwelling_area_negative", options("--dwelling-area", "-1"), 2, ("--dwelling-area",)),
    # Staffing layers.
    Case("workers_capacity_text", edit("UPDATE workers SET max_micro_grids = 'lots' WHERE fid = 2"), 0,
         ("'workers'", "max_micro_grids", "'lots'")),
    Case("stations_capacity_negative", edit("UPDATE stations SET capacity_households = -100 WHERE fid = 1"), 3,
         (CITY, "'stations'", "feature 1", "'capacity_households'")),
    Case("workers_null_geometry", geometry("workers", [1, 2], None), 0, ("'workers'", "null_geometry")),
    # Reading an output back: civgrid report.
    Case("report_missing_file", lambda d: ([str(d / "nowhere.gpkg")], {"path": str(d / "nowhere.gpkg")}), 4,
         ("{d}/nowhere.gpkg",), command="report"),
    Case("report_of_a_city", lambda d: ([str(d / "city.gpkg")], {"path": str(d / "city.gpkg")}), 3,
         (CITY, "not a civgrid output"), command="report"),
    Case("report_field_renamed", report("ALTER TABLE micro_grids RENAME COLUMN households TO hh"), 3,
         ("{d}/result.gpkg", "'micro_grids'", "'households'"), command="report"),
    Case("report_households_text", report("UPDATE micro_grids SET households = 'many' WHERE fid = 1"), 3,
         ("'micro_grids'", "feature 1", "'households'", "'many'"), command="report"),
    Case("report_null_community_geometry", report("UPDATE communities SET geom = NULL WHERE fid = 2"), 3,
         ("'communities'", "feature 2"), command="report"),
    Case("report_run_info_dropped", report("DROP TABLE run_info"), 3, ("{d}/result.gpkg", "'run_info'"),
         command="report"),
    Case("report_target_garbled", report("UPDATE run_info SET value = 'x' WHERE key = 'effective_target'"), 3,
         ("{d}/result.gpkg", "run_info"), command="report"),
    # Reading an output back: civgrid repartition --previous.
    Case("rerun_previous_missing", lambda d: (["--previous", str(d / "nowhere.gpkg"), str(d / "city.gpkg")],
                                              {"previous": str(d / "nowhere.gpkg"), "buildings": str(d / "city.gpkg")}),
         4, ("{d}/nowhere.gpkg",), command="repartition"),
    Case("rerun_previous_is_a_city", lambda d: (["--previous", str(d / "city.gpkg"), str(d / "city.gpkg")],
                                                {"previous": str(d / "city.gpkg"), "buildings": str(d / "city.gpkg")}),
         3, (CITY, "not a civgrid output"), command="repartition"),
    Case("rerun_lock_unknown", rerun(None, "--lock", "nope"), 2, ("nope",), command="repartition",
         python_too=False),
    Case("rerun_previous_field_dropped", rerun("ALTER TABLE micro_grids DROP COLUMN community_code"), 3,
         ("{d}/result.gpkg", "'micro_grids'", "community_code"), command="repartition"),
    Case("rerun_previous_null_geometry", rerun("UPDATE micro_grids SET geom = NULL WHERE fid = 3"), 3,
         ("{d}/result.gpkg", "'micro_grids'", "feature 3"), command="repartition"),
]


# Cases that need a helper defined after the table.
def boolean_households(d: Path) -> Prepared:
    """households as a true/false field (OGR's boolean subtype), as a careless export makes it."""
    target = d / "buildings.gpkg"
    translate(d / "city.gpkg", "buildings", target, "-f", "GPKG", "-sql",
              "SELECT geom, building_id FROM buildings", "-dialect", "SQLITE", "-nln", "buildings")
    dataset = gdal.OpenEx(str(target), gdal.OF_VECTOR | gdal.OF_UPDATE)
    layer = dataset.GetLayer(0)
    definition = ogr.FieldDefn("households", ogr.OFTInteger)
    definition.SetSubType(ogr.OFSTBoolean)
    layer.CreateField(definition)
    for feature in layer:
        feature.SetField("households", 1)
        layer.SetFeature(feature)
        del feature
    del layer, dataset
    return city_args(d, "--buildings", str(target))


def z_building(d: Path) -> Prepared:
    target = d / "buildings.geojson"
    translate(d / "city.gpkg", "buildings", target, "-f", "GeoJSON", "-dim", "XYZ")
    return city_args(d, "--buildings", str(target))


def points_as_communities(d: Path) -> Prepared:
    target = d / "communities.gpkg"
    translate(d / "city.gpkg", "communities", target, "-f", "GPKG", "-dialect", "SQLITE", "-sql",
              "SELECT ST_PointOnSurface(geom) AS geom, community_code FROM communities", "-nln", "communities")
    return city_args(d, "--communities", str(target))


def points_as_buildings(d: Path, *extra: str) -> Prepared:
    target = d / "buildings.gpkg"
    translate(d / "city.gpkg", "buildings", target, "-f", "GPKG", "-dialect", "SQLITE", "-sql",
              "SELECT ST_PointOnSurface(geom) AS geom, building_id, households FROM buildings", "-nln", "buildings")
    return city_args(d, "--buildings", str(target), *extra)


def shapefile_with_encoding(d: Path) -> Prepared:
    target = d / "buildings.shp"
    translate(d / "city.gpkg", "buildings", target, "-f", "ESRI Shapefile")
    return city_args(d, "--buildings", str(target), "--encoding", "buildings=KLINGON")


assert len(CASES) >= 60, len(CASES)
assert len({case.name for case in CASES}) == len(CASES)


# ---- Running a case --------------------------------------------------------------------------------


def digests(folder: Path) -> Dict[str, str]:
    """Every input file's SHA-256 (the outputs of the case excluded)."""
    found = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.name.startswith("out") and path.name != "log.txt":
            found[str(path.relative_to(folder))] = hashlib.sha256(path.read_bytes()).hexdigest()
    return found


def leftovers(folder: Path) -> List[str]:
    return sorted(p.name for p in folder.iterdir() if ".tmp-" in p.name or p.name.startswith("out"))


def warning_lines(stdout: str) -> List[str]:
    return [line[len("warning: "):] for line in stdout.splitlines() if line.startswith("warning: ")]


def python_call(case: Case, kwargs: Dict[str, Any], output: Path) -> Any:
    kwargs = dict(kwargs)
    if case.command == "report":
        return civgrid.report(kwargs["path"])
    if case.command == "repartition":
        previous = kwargs.pop("previous")
        return civgrid.repartition(previous, output=str(output), progress=False, **kwargs)
    return civgrid.partition(output=str(output), progress=False, **kwargs)


@pytest.mark.parametrize("case", CASES, ids=[case.name for case in CASES])
def test_bad_input(case: Case, pristine, tmp_path):
    shutil.copy(pristine["city"], tmp_path / "city.gpkg")
    args, kwargs = case.prepare(tmp_path)
    names = [name.replace("{d}", str(tmp_path)) for name in case.names]
    before = digests(tmp_path)

    output = tmp_path / "out.gpkg"
    writes = case.command != "report"
    completed = subprocess.run([CIVGRID, case.command, *args, *(["-o", str(output)] if writes else [])],
                               capture_output=True, text=True)
    assert completed.returncode == case.exit, completed.stdout + completed.stderr
    assert completed.returncode != 1
    if case.exit == 0:
        warnings = warning_lines(completed.stdout)
        text = "\n".join(warnings)
        assert output.exists() or not writes
    else:
        assert completed.stderr.startswith("civgrid: "), completed.stderr
        text = completed.stderr[len("civgrid: "):].strip()
        assert leftovers(tmp_path) == [], "left behind after a failure"
    for name in names:
        assert name in text, f"{name!r} not named in:\n{text}"
    assert digests(tmp_path) == before, "an input changed"

    if not case.python_too or kwargs is None:
        return
    python_output = tmp_path / "out-python.gpkg"
    if case.exit == 0:
        result = python_call(case, kwargs, python_output)
        if writes:
            assert result.warnings == warnings  # word for word, in the same order
            assert python_output.exists()
    else:
        with pytest.raises(civgrid.Error) as raised:
            python_call(case, kwargs, python_output)
        assert raised.value.exit_code == case.exit, str(raised.value)
        assert str(raised.value) == text
        assert not python_output.exists()
    assert digests(tmp_path) == before, "Python changed an input"
