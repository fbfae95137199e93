"""The same seed, data and model give the same numbers at every level: the first runs agree."""

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from projects import FirstRun
from runs import printed_by, rmse_in


@pytest.mark.levels(0, 1)
def test_rmse__level0_notebook_equals_level1_cli(level0: Path, level1_train_output: str) -> None:
    level0_rmse = rmse_in(printed_by(level0 / "duration-prediction.ipynb"))
    assert level0_rmse == rmse_in(level1_train_output)


@pytest.mark.levels(1, 2)
def test_rmse__level2_pipeline_equals_level1_cli(
    first_run: Callable[[int], FirstRun], level1_train_output: str
) -> None:
    metrics = first_run(2).project / "metrics.json"
    level2_rmse = json.loads(metrics.read_text())["rmse"]
    assert f"{level2_rmse:.4f}" == rmse_in(level1_train_output)  # the digits level 1 prints
