"""The release gate: a worse model is never promoted."""

import mlflow
import pandas as pd
import pytest
from conftest import RIDE
from mlflow import MlflowClient
from sklearn.pipeline import Pipeline

from {{ cookiecutter.package_name }} import registry, tracking
from {{ cookiecutter.package_name }}.gate import decide, release
from {{ cookiecutter.package_name }}.train import train


def test_decide__the_first_model_needs_only_the_floor() -> None:
    assert decide(5.0, None, margin=0.01, max_rmse=6.0) == (
        True,
        "first model: RMSE 5.0000 is within the floor 6.0",
    )


def test_decide__the_first_model_above_the_floor_is_rejected() -> None:
    promoted, reason = decide(6.5, None, margin=0.01, max_rmse=6.0)
    assert not promoted
    assert reason == "RMSE 6.5000 is worse than the floor 6.0"


@pytest.mark.parametrize(
    ("challenger", "champion", "promoted"),
    [(4.0, 5.0, True), (4.99, 5.0, True), (4.995, 5.0, False), (5.0, 5.0, False), (5.5, 5, False)],
)
def test_decide__promotes_only_when_better_by_the_margin(
    challenger: float, champion: float, promoted: bool
) -> None:
    assert decide(challenger, champion, margin=0.01, max_rmse=6.0)[0] is promoted


def test_decide__a_better_model_above_the_floor_is_still_rejected() -> None:
    promoted, reason = decide(6.5, 7.0, margin=0.01, max_rmse=6.0)
    assert not promoted
    assert "floor" in reason


def logged(model: Pipeline) -> str:
    """Log the model as the train stage does (its requirements named: inferring them is slow)."""
    with mlflow.start_run():
        return tracking.log_model(model, pd.DataFrame([RIDE]))


def test_release__the_first_model_is_promoted_then_only_a_better_one(
    store: str, rides: pd.DataFrame
) -> None:
    first = release(logged(train(rides, alpha=1.0)), rides, "tiny", margin=0.01, max_rmse=60.0)
    assert first.promoted
    assert first.champion_version is None

    worse = train(rides, alpha=1e6)  # all but the mean, shrunk away
    second = release(logged(worse), rides, "tiny", 0.01, 60.0, tags={"source": "test"})
    assert not second.promoted
    assert second.champion_version == first.challenger_version
    assert second.champion_rmse is not None
    assert second.challenger_rmse > second.champion_rmse
    assert registry.version_for(registry.CHAMPION) == first.challenger_version
    assert registry.version_for(registry.CHALLENGER) == second.challenger_version
    tags = MlflowClient().get_model_version(registry.MODEL_NAME, second.challenger_version).tags
    assert tags["source"] == "test"
    assert tags["gate.promoted"] == "False"
    assert tags["gate.reason"] == second.reason  # the decision is recorded on the version
