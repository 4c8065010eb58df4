"""civgrid (Python): civgrid.repartition, the rerun of `civgrid repartition --previous`."""
import geopandas as gpd
import pandas as pd
import pytest

import civgrid
from conftest import run_cli

CHURN_KEYS = {"micro_grids_unchanged", "micro_grids_redrawn", "micro_grids_new", "micro_grids_retired", "zones",
              "buildings_moved", "buildings_new", "buildings_removed", "households_moved", "households_new",
              "households_removed", "building_churn", "household_churn", "micro_grid_churn"}


@pytest.fixture(scope="module")
def previous_run(sample_city, tmp_path_factory):
    """The sample city partitioned by the CLI: the previous run of a rerun."""
    path = tmp_path_factory.mktemp("previous") / "previous.gpkg"
    run_cli("partition", str(sample_city), "-o", str(path), "--quiet")
    return path


@pytest.fixture(scope="module")
def changed_city(tmp_path_factory):
    """A city and the same city with a new estate, the CLI's partition of the first, and its rerun."""
    folder = tmp_path_factory.mktemp("changed")
    before, after = folder / "a.gpkg", folder / "b.gpkg"
    run_cli("synth", "--households", "20000", "--seed", "4", "-o", str(before))
    run_cli("synth", "--households", "20000", "--seed", "4", "--change", "estate", "--change-seed", "2", "-o",
            str(after))
    previous = folder / "previous.gpkg"
    run_cli("partition", str(before), "-o", str(previous), "--quiet")
    rerun = folder / "rerun.gpkg"
    run_cli("repartition", "--previous", str(previous), str(after), "-o", str(rerun), "--quiet")
    return {"city": after, "previous": previous, "cli": rerun}


def test_rerun_of_an_unchanged_city_keeps_every_micro_grid(sample_city, previous_run):
    result = civgrid.repartition(str(previous_run), str(sample_city), progress=False)
    count = len(gpd.read_file(previous_run, layer="micro_grids"))
    assert set(result.churn) == CHURN_KEYS
    assert result.churn["micro_grids_unchanged"] == count == len(result.micro_grids)
    assert result.churn["micro_grids_new"] == result.churn["micro_grids_retired"] == 0
    assert result.churn["household_churn"] == 0 and result.churn["building_churn"] == 0
    assert (result.changes.status == "unchanged").all()
    assert set(result.changes.micro_grid_id) == set(gpd.read_file(previous_run, layer="micro_grids").micro_grid_id)
    # Each micro-grid is its own previous self in the lineage.
    assert (result.lineage.previous_id == result.lineage.new_id).all()


def test_a_result_written_before_can_be_the_previous_run(sample_city, tmp_path):
    first = civgrid.partition(str(sample_city), progress=False)
    with pytest.raises(civgrid.ConfigError, match="to_gpkg"):
        civgrid.repartition(first, str(sample_city), progress=False)
    first.to_gpkg(tmp_path / "first.gpkg", progress=False)
    assert first.path == str(tmp_path / "first.gpkg")
    rerun = civgrid.repartition(first, str(sample_city), progress=False)
    assert rerun.churn["micro_grids_unchanged"] == len(first.micro_grids)
    assert list(rerun.micro_grids.micro_grid_id) == list(first.micro_grids.micro_grid_id)
    assert first.churn is None and first.changes is None and first.lineage is None


def test_changed_city_matches_the_cli(changed_city):
    result = civgrid.repartition(str(changed_city["previous"]), str(changed_city["city"]), progress=False)
    cli = changed_city["cli"]
    cli_grids = gpd.read_file(cli, layer="micro_grids")
    assert list(cli_grids.micro_grid_id) == list(result.micro_grids.micro_grid_id)
    cli_changes = gpd.read_file(cli, layer="changes")
    assert list(cli_changes.micro_grid_id) == list(result.changes.micro_grid_id)
    assert list(cli_changes.status) == list(result.changes.status)
    assert list(cli_changes.previous_ids.fillna("")) == list(result.changes.previous_ids.fillna(""))
    cli_buildings = gpd.read_file(cli, layer="buildings")
    assert list(cli_buildings.building_id) == list(result.buildings.building_id)
    assert list(cli_buildings.micro_grid_id.fillna("")) == list(result.buildings.micro_grid_id.fillna(""))
    cli_lineage = gpd.read_file(cli, layer="lineage")
    pd.testing.assert_frame_equal(pd.DataFrame(cli_lineage.drop(columns="geometry", errors="ignore")).fillna(""),
                                  result.lineage.fillna(""), check_dtype=False)
    # The run_info section the CLI wrote is the one the Python run made (but the file path).
    cli_info = gpd.read_file(cli, layer="run_info")
    section = cli_info[(cli_info.section == "repartition") & (cli_info.key != "previous")]
    ours = result.run_info[(result.run_info.section == "repartition") & (result.run_info.key != "previous")]
    assert list(zip(section.key, section.value)) == list(zip(ours.key, ours.value))

    # A real change: some micro-grids kept, some not; the churn is the changes' own count.
    churn = result.churn
    statuses = result.changes.status.value_counts()
    assert 0 < churn["micro_grids_unchanged"] < len(result.micro_grids)
    assert statuses.get("unchanged", 0) == churn["micro_grids_unchanged"]
    assert statuses.get("redrawn", 0) == churn["micro_grids_redrawn"]
    assert statuses.get("retired", 0) == churn["micro_grids_retired"]
    # "new" counts every micro-grid with a new code: new, split, merged, regrouped.
    assert sum(statuses.get(status, 0) for status in ("new", "split", "merged", "regrouped")) == \
        churn["micro_grids_new"] > 0
    assert churn["buildings_new"] > 0 and 0 < churn["household_churn"] < 1
    # Lineage and changes agree: the households reaching each new id are its households.
    reaching = result.lineage.dropna(subset=["new_id"]).groupby("new_id").households.sum()
    households = result.micro_grids.set_index("micro_grid_id").households
    assert reaching.reindex(households.index, fill_value=0).tolist() == households.tolist()
    current = result.changes[result.changes.status != "retired"].set_index("micro_grid_id")
    assert current.households.reindex(households.index).tolist() == households.tolist()
    assert result.lineage.households.sum() >= households.sum()


def test_unknown_lock_is_a_config_error(sample_city, previous_run):
    with pytest.raises(civgrid.ConfigError, match="no-such-id"):
        civgrid.repartition(str(previous_run), str(sample_city), lock=["no-such-id"], progress=False)


def test_lock_is_recorded(sample_city, previous_run):
    first_id = gpd.read_file(previous_run, layer="micro_grids").micro_grid_id.iloc[0]
    result = civgrid.repartition(str(previous_run), str(sample_city), lock=[first_id], progress=False)
    info = result.run_info[result.run_info.section == "repartition"]
    assert list(info[info.key == "locked"].value) == [first_id]


def test_to_gpkg_writes_changes_and_lineage(changed_city, tmp_path):
    result = civgrid.repartition(changed_city["previous"], changed_city["city"], progress=False)
    out = tmp_path / "rerun.gpkg"
    result.to_gpkg(out, progress=False)
    layers = set(civgrid._core.list_layers(str(out)))
    assert {"micro_grids", "buildings", "changes", "lineage", "run_info"} <= layers
    changes = gpd.read_file(out, layer="changes")
    assert list(changes.columns) == ["micro_grid_id", "status", "previous_ids", "next_ids", "households",
                                     "buildings", "geometry"]
    assert list(changes.micro_grid_id) == list(result.changes.micro_grid_id)
    assert changes.geometry.notna().all() and changes.is_valid.all()
    lineage = gpd.read_file(out, layer="lineage")
    assert list(lineage.columns[:4]) == ["previous_id", "new_id", "households", "buildings"]
    assert len(lineage) == len(result.lineage)
    info = gpd.read_file(out, layer="run_info")
    section = info[info.section == "repartition"].set_index("key").value
    assert int(section["micro_grids_unchanged"]) == result.churn["micro_grids_unchanged"]
    assert float(section["household_churn"]) == pytest.approx(result.churn["household_churn"], abs=1e-6)
    # The file is a civgrid output: the previous run of another rerun, which keeps every micro-grid
    # (each split building's parts name the micro-grids that hold them).
    again = civgrid.repartition(out, changed_city["city"], progress=False, output=tmp_path / "again.gpkg")
    assert again.churn["micro_grids_unchanged"] == len(result.micro_grids) == len(again.micro_grids)
    assert again.churn["micro_grids_retired"] == 0 and again.churn["household_churn"] == 0
    assert again.path == str(tmp_path / "again.gpkg")
    assert "changes" in civgrid._core.list_layers(str(again.path))


def test_progress_reports_the_rerun_stages(sample_city, previous_run):
    seen = []
    civgrid.repartition(previous_run, sample_city, progress=lambda stage, done, total: seen.append(stage))
    stages = list(dict.fromkeys(seen))
    assert stages == ["load", "repartition", "staffing", "assess"]


def test_previous_must_be_a_path_or_a_result(sample_city):
    with pytest.raises(TypeError, match="previous"):
        civgrid.repartition(42, sample_city, progress=False)
    with pytest.raises(civgrid.InputError):
        civgrid.repartition(sample_city, sample_city, progress=False)  # a city, not a civgrid output


def test_staffing_a_rerun_again_keeps_the_previous_assignments(sample_city, previous_run):
    rerun = civgrid.repartition(str(previous_run), str(sample_city), staffing=False, progress=False)
    assert rerun.worker_assignments is None
    city = civgrid.read_city(sample_city)
    staffed = civgrid.assign(rerun, workers=city.workers, stations=city.stations, progress=False)
    info = staffed.run_info
    kept = info[(info.section == "repartition") & (info.key == "kept_worker_assignments")].value.astype(int)
    # Nothing changed: every worker keeps the micro-grid (or grid) the previous run gave them.
    before = gpd.read_file(previous_run, layer="worker_assignments")
    assert kept.tolist() == [len(before)]
    ours = staffed.worker_assignments[["worker_id", "micro_grid_id", "grid_id"]].fillna("")
    theirs = before[["worker_id", "micro_grid_id", "grid_id"]].fillna("")
    assert sorted(map(tuple, ours.values.tolist())) == sorted(map(tuple, theirs.values.tolist()))
