"""The same seed, data and model give the same numbers at every level."""

import json

import pytest
from runs import printed_by, rmse_in

pytestmark = pytest.mark.xdist_group("across")


@pytest.mark.levels(0, 1)
def test_rmse__level0_notebook_equals_level1_cli(level0, level1_train_output):
    level0_rmse = rmse_in(printed_by(level0 / "duration-prediction.ipynb"))
    assert level0_rmse == rmse_in(level1_train_output)


@pytest.mark.levels(1, 2)
def test_rmse__level2_pipeline_equals_level1_cli(level2, level1_train_output):
    level2_rmse = json.loads((level2 / "metrics.json").read_text())["rmse"]
    assert f"{level2_rmse:.6f}" == rmse_in(level1_train_output)
