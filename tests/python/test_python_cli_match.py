"""civgrid (Python): the same input and options give the CLI's results."""
import geopandas as gpd
import pandas as pd
import pytest

import civgrid
from conftest import run_cli


@pytest.mark.parametrize("cli_options,python_options", [
    ([], {}),
    (["--target-households", "120", "--grid-households", "0", "--seed", "4"],
     {"target_households": 120, "grid_households": 0, "seed": 4}),
    (["--micro-grids", "25", "--level", "street", "--no-staffing"],
     {"micro_grids": 25, "level": "street", "staffing": False}),
])
def test_python_and_cli_give_the_same_output(sample_city, tmp_path, cli_options, python_options):
    cli_out = tmp_path / "cli.gpkg"
    run_cli("partition", str(sample_city), "-o", str(cli_out), "--quiet", *cli_options)
    result = civgrid.partition(str(sample_city), progress=False, **python_options)

    cli_grids = gpd.read_file(cli_out, layer="micro_grids")
    ours = result.micro_grids
    pd.testing.assert_frame_equal(pd.DataFrame(cli_grids.drop(columns="geometry")),
                                  pd.DataFrame(ours.drop(columns="geometry")), check_dtype=False)
    assert cli_grids.geom_equals_exact(ours.geometry, tolerance=0).all()
    cli_buildings = gpd.read_file(cli_out, layer="buildings")
    assert list(cli_buildings.micro_grid_id.fillna("")) == list(result.buildings.micro_grid_id.fillna(""))
    assert len(gpd.read_file(cli_out, layer="grids")) == len(result.grids)
    # The quality report the CLI wrote is the one the Python run made.
    run_info = gpd.read_file(cli_out, layer="run_info")
    quality = run_info[run_info.section == "quality"].set_index("key").value
    assert {key: str(value) for key, value in quality.items()} == \
        {key: str(value) for key, value in result.run_info[result.run_info.section == "quality"]
         .set_index("key").value.items()}
    # Staffing, when on, matches too.
    layers = set(civgrid._core.list_layers(str(cli_out)))
    if result.worker_assignments is not None:
        assert "worker_assignments" in layers
        cli_workers = gpd.read_file(cli_out, layer="worker_assignments")
        assert list(cli_workers.worker_id) == list(result.worker_assignments.worker_id)
        assert list(cli_workers.micro_grid_id.fillna("")) == list(result.worker_assignments.micro_grid_id.fillna(""))
    else:
        assert "worker_assignments" not in layers


def test_report_matches_civgrid_report(sample_city, tmp_path):
    out = tmp_path / "cli.gpkg"
    run_cli("partition", str(sample_city), "-o", str(out), "--quiet")
    text = run_cli("report", str(out)).stdout
    report = civgrid.report(out)
    _rows, core_text = civgrid._core.report(str(out))
    assert core_text == text
    assert report["micro_grids"] == len(gpd.read_file(out, layer="micro_grids"))
