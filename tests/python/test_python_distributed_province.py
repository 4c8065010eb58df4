"""civgrid.distributed on a province of three districts (issue 21): bad data in one district fails
as on one machine and writes nothing; one GeoPackage per district plus an index, whose parts
together are the single file; the CLI's --split-output, on one machine and with --scheduler."""
import json
import os

import geopandas as gpd
import pandas as pd
import pytest
from osgeo import gdal

distributed = pytest.importorskip("distributed")

import civgrid  # noqa: E402
import civgrid.distributed  # noqa: E402

from conftest import run_cli  # noqa: E402

# Layers whose rows belong to a district (the rest of the rows, e.g. barriers, go to the index).
SPLIT_LAYERS = ["micro_grids", "grids", "buildings", "communities", "streets", "worker_assignments",
                "service_assignments", "barriers", "workers", "stations"]


@pytest.fixture(scope="module")
def province(tmp_path_factory):
    """30,000 households in three districts (fewer households give fewer superblocks than districts)."""
    path = tmp_path_factory.mktemp("province") / "province.gpkg"
    run_cli("synth", "--households", "30000", "--districts", "3", "--seed", "7", "-o", str(path))
    return path


@pytest.fixture(scope="module")
def single_file(province, tmp_path_factory):
    path = tmp_path_factory.mktemp("single") / "single.gpkg"
    run_cli("partition", str(province), "-o", str(path), "--quiet")
    return path


def read(path, layer):
    """A layer as a GeoDataFrame, or a DataFrame for an attribute table."""
    dataset = gdal.OpenEx(str(path), gdal.OF_VECTOR)
    spatial = dataset.GetLayerByName(layer).GetGeometryColumn() != ""
    dataset = None
    if spatial:
        return gpd.read_file(path, layer=layer)
    return pd.DataFrame(gpd.read_file(path, layer=layer, ignore_geometry=True))


def same_rows(parts, whole, layer):
    """The rows of `parts` (frames) together are `whole`'s, each once: compared sorted by every column."""
    union = pd.concat(parts, ignore_index=True)
    assert len(union) == len(whole), layer
    if len(whole) == 0:
        return
    spatial = "geometry" in whole
    columns = [c for c in whole.columns if c != "geometry"]
    key = columns + (["_wkb"] if spatial else [])

    def ordered(frame):
        if spatial:
            frame = frame.assign(_wkb=gpd.GeoSeries(frame.geometry).to_wkb())
        return frame.sort_values(key).reset_index(drop=True)

    a, b = ordered(union), ordered(whole)
    pd.testing.assert_frame_equal(a[columns], b[columns], check_dtype=False, obj=layer)
    if spatial:
        assert gpd.GeoSeries(a.geometry).geom_equals_exact(gpd.GeoSeries(b.geometry), tolerance=0).all(), layer


def assert_split_equals(index, single):
    """The index lists each district's file with its counts; the parts and the index's own rows
    together are the single file's rows, layer by layer."""
    parts = read(index, "parts")
    micro_grids = read(single, "micro_grids")
    districts = sorted(micro_grids.district_code.unique())
    assert len(districts) == 3
    assert list(parts.district_code) == districts
    folder = os.path.dirname(index)
    stem = os.path.splitext(os.path.basename(index))[0]
    assert list(parts.file) == [f"{stem}-{code}.gpkg" for code in districts]
    for row in parts.itertuples():
        path = os.path.join(folder, row.file)
        own = read(path, "micro_grids")
        assert len(own) == row.micro_grids > 0
        assert set(own.district_code) == {row.district_code}
        assert own.households.sum() == row.households
        assert len(read(path, "grids")) == row.grids
        assert len(read(path, "buildings")) == row.buildings
        # The box of its micro-grids.
        minx, miny, maxx, maxy = own.total_bounds
        assert row.geometry.bounds == pytest.approx((minx, miny, maxx, maxy))
        info = read(path, "run_info")
        assert ("output", "district", row.district_code) in set(zip(info.section, info.key, info.value))
        # civgrid report recomputes a district's quality report from its file alone.
        report = civgrid.report(path)
        assert report["micro_grids"] == report["requested"] == row.micro_grids
        assert report["non_contiguous"] == 0
    assert parts.households.sum() == micro_grids.households.sum()
    files = [os.path.join(folder, name) for name in parts.file]
    for layer in SPLIT_LAYERS:
        listed = civgrid._core.list_layers(str(single))
        if layer not in listed:
            continue
        whole = read(single, layer)
        pieces = [read(path, layer) for path in files] + [read(index, layer)]
        same_rows(pieces, whole, layer)
    assert len(read(index, "micro_grids")) == 0  # every micro-grid is a district's
    assert len(read(index, "barriers")) == len(read(single, "barriers"))  # barriers belong to none


def test_bad_data_in_one_district_fails_as_one_machine_and_writes_nothing(province, cluster, tmp_path):
    """A building of the last district with households 'many' (a GeoPackage keeps text in an
    INTEGER column): under strict, the single machine's InputError, word for word, from the
    cluster, and no output file or temporary left."""
    _, client = cluster
    bad = tmp_path / "inputs" / "bad.gpkg"
    bad.parent.mkdir()
    bad.write_bytes(province.read_bytes())
    communities = gpd.read_file(bad, layer="communities")
    last = sorted(communities.district_code.unique())[-1]
    buildings = gpd.read_file(bad, layer="buildings", fid_as_index=True)
    area = communities[communities.district_code == last].geometry.unary_union
    inside = buildings.index[buildings.representative_point().within(area)]
    assert 0 < len(inside) < len(buildings) * 0.8  # one district of three
    fid = int(inside[len(inside) // 2])
    dataset = gdal.OpenEx(str(bad), gdal.OF_VECTOR | gdal.OF_UPDATE)  # GDAL: the GeoPackage's triggers
    dataset.ExecuteSQL(f"UPDATE buildings SET households = 'many' WHERE fid = {fid}", dialect="SQLITE")
    dataset = None
    outputs = tmp_path / "outputs"
    outputs.mkdir()
    with pytest.raises(civgrid.InputError) as single_error:
        civgrid.partition(str(bad), strict=True, progress=False, output=str(outputs / "single.gpkg"))
    message = str(single_error.value)
    assert "--strict" in message and f"{fid}" in message and "many" in message
    plan = civgrid.distributed.plan(str(bad), shard_level="district")
    assert [shard[1] for shard in plan["shards"]] == sorted(communities.district_code.unique())
    for index, per_district in ((outputs / "cluster.gpkg", False), (outputs / "index.gpkg", True)):
        with pytest.raises(civgrid.InputError) as shard_error:
            civgrid.distributed.partition(str(bad), client=client, shard_level="district", strict=True,
                                          progress=False, output=str(index), output_per_district=per_district)
        assert str(shard_error.value) == message
    assert list(outputs.iterdir()) == []
    # Without strict the same data is a warning, and the run goes through on the cluster.
    result = civgrid.distributed.partition(str(bad), client=client, shard_level="district", progress=False)
    assert any("many" in warning for warning in result.warnings)


def test_one_file_per_district_and_an_index_equal_the_single_file(province, cluster, single_file, tmp_path):
    _, client = cluster
    index = tmp_path / "province.gpkg"
    result = civgrid.distributed.partition(str(province), client=client, progress=False, output=str(index),
                                           output_per_district=True)
    assert result.path == str(index)
    assert [part["district_code"] for part in result.parts] == sorted(result.micro_grids.district_code.unique())
    assert sum(part["micro_grids"] for part in result.parts) == len(result.micro_grids)
    # The buildings went to the districts' files as their shards came; the Result holds none.
    assert len(result.buildings) == 0
    assert sum(part["buildings"] for part in result.parts) == \
        int(read(single_file, "buildings").community_code.notna().sum())
    assert_split_equals(str(index), str(single_file))
    # Everything written was renamed: no temporary file left beside them.
    assert sorted(os.listdir(tmp_path)) == sorted(["province.gpkg"] + [os.path.basename(p["path"])
                                                                       for p in result.parts])
    with pytest.raises(civgrid.ConfigError, match="needs output="):
        civgrid.distributed.partition(str(province), client=client, progress=False, output_per_district=True)


def test_the_cli_splits_the_output_on_one_machine_and_on_a_scheduler(province, cluster, single_file, tmp_path):
    local, _ = cluster
    one = tmp_path / "one" / "out.gpkg"
    one.parent.mkdir()
    printed = json.loads(run_cli("partition", str(province), "-o", str(one), "--split-output", "--json").stdout)
    assert [part["path"] for part in printed["parts"]] == [str(one.parent / f"out-{part['district_code']}.gpkg")
                                                           for part in printed["parts"]]
    assert sum(part["micro_grids"] for part in printed["parts"]) == printed["quality"]["micro_grids"]
    assert_split_equals(str(one), str(single_file))
    on_cluster = tmp_path / "cluster" / "out.gpkg"
    on_cluster.parent.mkdir()
    shown = run_cli("partition", str(province), "-o", str(on_cluster), "--split-output", "--scheduler",
                    local.scheduler_address)
    assert "wrote 3 district files beside it" in shown.stdout
    assert_split_equals(str(on_cluster), str(single_file))
    refused = run_cli("partition", str(province), "-o", str(tmp_path / "r.gpkg"), "--split-output", "--report",
                      str(tmp_path / "r.html"), check=False)
    assert refused.returncode == 2 and "--split-output" in refused.stderr
    assert not (tmp_path / "r.gpkg").exists()


def test_the_client_writes_each_district_as_its_shard_comes(province, cluster, single_file, tmp_path, monkeypatch):
    """With one file per district, the client's merge (engine::ShardMerge) takes each district as its
    shard comes and writes it at once: after each shard it holds no shard whole and no building's
    geometry or attributes, and that district's file is on disk (its temporary, renamed when the
    run is complete); the files are still the single file's. With one file, it holds the decoded
    shards (their bytes dropped) until the merge."""
    _, client = cluster
    real = civgrid._core.ShardMerge
    seen = []

    class Watched:
        """The engine's merge, seen after each shard."""

        def __init__(self, *args, **kwargs):
            self.merge = real(*args, **kwargs)

        def add(self, shard, position):
            written = self.merge.add(shard, position)
            seen.append((written, self.merge.held, sorted(os.listdir(folder))))
            return written

        def finish(self, progress):
            return self.merge.finish(progress)

        def discard(self):
            self.merge.discard()

    monkeypatch.setattr(civgrid._core, "ShardMerge", Watched)
    folder = tmp_path / "split"
    folder.mkdir()
    index = folder / "out.gpkg"
    result = civgrid.distributed.partition(str(province), client=client, progress=False, output=str(index),
                                           output_per_district=True)
    districts = sorted(read(single_file, "micro_grids").district_code.unique())
    assert sorted(written for written, _, _ in seen) == [[code] for code in districts]
    came = []
    for step, (written, held, files) in enumerate(seen):
        came += written
        assert held == {"whole_shards": 0, "districts_written": step + 1, "building_rows": 0}
        for code in districts:
            temporary = [name for name in files if name.startswith(f"out-{code}.gpkg.tmp-")]
            assert len(temporary) == (1 if code in came else 0), (step, code, files)
            assert f"out-{code}.gpkg" not in files
    assert len(result.buildings) == 0  # in the districts' files
    assert len(result.micro_grids) == len(read(single_file, "micro_grids"))
    with pytest.raises(civgrid.ConfigError, match="districts' files"):
        result.to_gpkg(str(tmp_path / "again.gpkg"), progress=False)
    assert_split_equals(str(index), str(single_file))

    seen.clear()
    one = tmp_path / "one.gpkg"
    civgrid.distributed.partition(str(province), client=client, progress=False, output=str(one))
    assert [held["whole_shards"] for _, held, _ in seen] == [1, 2, 3]
    assert all(held["districts_written"] == 0 for _, held, _ in seen)
    assert seen[-1][1]["building_rows"] == int(read(single_file, "buildings").community_code.notna().sum())
