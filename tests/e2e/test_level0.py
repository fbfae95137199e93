"""Level 0: the notebook runs headless with the project's own kernel and venv."""

from pathlib import Path

import nbformat
import pytest
from runs import in_project, notebook_outputs, printed_by, rmse_in

pytestmark = [pytest.mark.levels(0), pytest.mark.xdist_group("level0")]


def test_notebook__every_cell_ran_without_error(level0: Path) -> None:
    notebook = nbformat.read(level0 / "duration-prediction.ipynb", as_version=4)
    code_cells = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert all(cell.execution_count for cell in code_cells)
    outputs = notebook_outputs(level0 / "duration-prediction.ipynb")
    assert not [output for output in outputs if output["output_type"] == "error"]


def test_notebook__prints_the_rmse_and_draws_plots(level0: Path) -> None:
    notebook = level0 / "duration-prediction.ipynb"
    assert float(rmse_in(printed_by(notebook))) < 10
    plots = [o for o in notebook_outputs(notebook) if "image/png" in o.get("data", {})]
    assert len(plots) >= 2


def test_notebook__saves_a_model_that_predicts(level0: Path) -> None:
    printed = in_project(
        level0,
        "import pickle, pandas as pd\n"
        "model = pickle.load(open('models/model.pkl', 'rb'))\n"
        "ride = pd.DataFrame({'PULocationID': [74], 'DOLocationID': [75], "
        "'trip_distance': [2.0]})\n"
        "print(sorted(model.feature_names_in_), float(model.predict(ride)[0]))",
    )
    features, _, minutes = printed.rpartition(" ")
    assert features == "['DOLocationID', 'PULocationID', 'trip_distance']"
    assert 1 < float(minutes) < 60


def test_notebook__wrote_the_simulated_months_under_tlc_names(level0: Path) -> None:
    written = sorted(path.name for path in (level0 / "data" / "raw").glob("*.parquet"))
    assert written == ["green_tripdata_2024-01.parquet", "green_tripdata_2024-02.parquet"]
