"""Monitoring: drift and live error measured on small frames, and a decision that names what it
measured (an unmeasured live error is never "within bounds")."""

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import RIDE

from {{ cookiecutter.package_name }}.config import load_settings, override
from {{ cookiecutter.package_name }}.data import clean
from {{ cookiecutter.package_name }}.monitor import (
    COLUMN_SCORE,
    Figures,
    add_decision,
    judge,
    measure,
    served_version,
)
from {{ cookiecutter.package_name }}.schema import TARGET
from {{ cookiecutter.package_name }}.simulate import simulate_month

# The thresholds of params.yaml, named here so that a tuned params.yaml leaves the tests alone.
SETTINGS = override(
    load_settings(Path(__file__).parents[1] / "params.yaml"),
    {"monitor.min_labelled": 200, "monitor.drift_share": 0.5, "monitor.max_live_rmse": 6.0},
)
FEATURES = list(RIDE)  # the prediction log holds every feature of the schema


def traffic(month: str, scenario: str = "none", error: float = 0.0) -> pd.DataFrame:
    """Logged predictions as the prediction log holds them: the ride, what was predicted (the
    actual duration, off by `error` minutes), and the actual duration."""
    rides = clean(simulate_month(month, rides=5000, scenario=scenario))
    return rides[FEATURES].assign(
        prediction=rides[TARGET].to_numpy() + error,
        duration=rides[TARGET].to_numpy(),
        id=np.arange(len(rides)),
        model_version="1",
    )


@pytest.fixture(scope="module")
def reference() -> pd.DataFrame:
    return traffic("2024-01", error=2.0).drop(columns=["id", "model_version"])


def test_measure__same_traffic_with_ground_truth_no_drift_and_a_live_rmse(
    reference: pd.DataFrame,
) -> None:
    window = traffic("2024-02", error=2.0)
    figures, _ = measure(window, window, reference, "1", SETTINGS)
    assert not figures.data_drift
    assert figures.drift_share < 0.5
    assert figures.live_rmse == pytest.approx(2.0)
    assert figures.labelled_rows == figures.window_rows > 4000
    assert not figures.live_error
    assert judge(figures, SETTINGS).action == "no action"


def test_measure__congested_traffic_drifts_and_its_error_calls_for_retraining(
    reference: pd.DataFrame,
) -> None:
    window = traffic("2024-04", scenario="congestion", error=9.0)
    figures, _ = measure(window, window, reference, "1", SETTINGS)
    assert figures.data_drift
    assert figures.column_scores["duration"] > 0.1
    assert figures.live_error
    assert figures.live_rmse == pytest.approx(9.0)
    verdict = judge(figures, SETTINGS)
    assert verdict.action == "retrain"
    assert "live RMSE 9.00 of version 1 is above 6.0" in verdict.reason
    assert f"and drift (drift share {figures.drift_share:.2f}, threshold 0.5)" in verdict.reason


def test_measure__without_ground_truth_the_live_error_is_not_measured(
    reference: pd.DataFrame,
) -> None:
    window = traffic("2024-02", error=2.0).assign(duration=np.nan)
    labelled = window.dropna(subset=["duration"])
    figures, _ = measure(window, labelled, reference, "1", SETTINGS)
    assert figures.live_rmse is None
    assert not figures.live_error
    assert figures.labelled_rows == 0
    verdict = judge(figures, SETTINGS)
    assert verdict.action == "waiting"
    assert verdict.reason.startswith("only 0 of 200 labelled rides answered by version 1")
    assert "within" not in verdict.reason


def test_judge__drift_without_ground_truth_waits_for_it() -> None:
    figures = Figures("3", 5000, 12, 20000, 0.75, {}, True, None, False)
    verdict = judge(figures, SETTINGS)
    assert verdict.action == "waiting"
    assert "only 12 of 200 labelled rides" in verdict.reason


def test_judge__says_what_it_measured_when_nothing_is_wrong() -> None:
    figures = Figures("2", 5000, 900, 20000, 0.25, {}, False, 4.66, False)
    assert judge(figures, SETTINGS).reason == (
        "no drift (drift share 0.25, threshold 0.5) and the live RMSE 4.66 of version 2 "
        "is within 6.0 (900 labelled rides)"
    )
    assert judge(replace(figures, drift_share=0.5, data_drift=True), SETTINGS).action == "retrain"


def test_served_version__is_the_version_of_the_newest_logged_answer() -> None:
    window = pd.DataFrame({"id": [7, 3, 9, 5], "model_version": ["2", "1", "1", "2"]})
    assert served_version(window) == "1"


def test_add_decision__puts_the_trigger_at_the_top_of_the_report(tmp_path: Path) -> None:
    page = tmp_path / "report.html"
    page.write_text("<html><head></head><body class='x'><div>drift report</div></body></html>")
    figures = Figures("2", 5000, 900, 20000, 0.2, {"duration": 0.3}, False, 10.12, True)
    add_decision(page, figures, judge(figures, SETTINGS), SETTINGS)
    text = page.read_text()
    assert text.index('<section id="decision"') < text.index("drift report")
    for shown in ("Decision: retrain", "10.12 minutes (retrain above 6.0)", "0.20", ">2<"):
        assert shown in text
    json.dumps(text)  # still one text page


@pytest.mark.parametrize("column", ["trip_distance", "pick-up zone", "Fahrt.Dauer"])
def test_column_score__reads_any_column_name_evidently_reports(column: str) -> None:
    match = COLUMN_SCORE.match(f"ValueDrift(column={column},method=K-S p_value,threshold=0.05)")
    assert match is not None
    assert match["column"] == column
