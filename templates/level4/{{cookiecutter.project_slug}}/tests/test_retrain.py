"""Retraining: the split of recent rides, the clean-up after a killed run, and the whole policy
(monitor, retrain, release through the gate, deploy) against a SQLite MLflow and a SQLite
prediction log in tmp_path."""

import json
import socket
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any, cast

import mlflow
import numpy as np
import pandas as pd
import pytest
from conftest import NUMERICAL_FEATURE
from mlflow import MlflowClient
from mlflow.entities import RunStatus
from sklearn.pipeline import Pipeline
from starlette.types import ASGIApp

from {{ cookiecutter.package_name }} import monitor, predlog, registry, tracking
from {{ cookiecutter.package_name }}.cli import main
from {{ cookiecutter.package_name }}.config import Settings, load_settings, override
from {{ cookiecutter.package_name }}.data import clean
from {{ cookiecutter.package_name }}.deploy import call
from {{ cookiecutter.package_name }}.gate import release
from {{ cookiecutter.package_name }}.predict import predict
from {{ cookiecutter.package_name }}.predlog import PredictionLog, url_from_env
from {{ cookiecutter.package_name }}.retrain import (
    LOCK,
    SOURCE_TAG,
    recover,
    reset_demo,
    retrain_if_needed,
    split,
)
from {{ cookiecutter.package_name }}.schema import CATEGORICAL, MAX_MINUTES, MIN_MINUTES, NUMERICAL
from {{ cookiecutter.package_name }}.serve import create_app
from {{ cookiecutter.package_name }}.simulate import simulate_month
from {{ cookiecutter.package_name }}.train import train

Live = Callable[[ASGIApp], str]  # the `live` fixture: serves an app, returns its URL

# The thresholds of params.yaml, named here so that a tuned params.yaml leaves the tests alone.
SETTINGS = override(
    load_settings(Path(__file__).parents[1] / "params.yaml"),
    {"monitor.window": 5000, "monitor.min_labelled": 200, "monitor.drift_share": 0.5,
     "monitor.max_live_rmse": 6.0, "retrain.rides": 3000, "retrain.holdout_share": 0.3,
     "retrain.max_rmse": 12.0, "gate.margin": 0.01},
)  # fmt: skip

PARAMS = ["--params", str(Path(__file__).parents[1] / "params.yaml")]


def test_split__the_newest_labelled_rides_the_oldest_of_them_to_train_the_newest_to_the_gate() -> (
    None
):
    window = pd.DataFrame(
        {
            "id": [5, 1, 4, 2, 6, 3, 7, 8, 9],
            "duration": [5.0, 1.0, np.nan, 2.0, 6.0, 3.0, 7.0, MAX_MINUTES + 240, MIN_MINUTES / 2],
        }
    )
    rides, holdout = split(window, rides=5, holdout_share=0.4)
    # 4 has no ground truth, 8 and 9 are glitches the pipeline's cleaning drops, 1 is too old
    assert rides["id"].tolist() == [2, 3, 5]
    assert holdout["id"].tolist() == [6, 7]
    assert holdout["duration"].tolist() == [6.0, 7.0]


def logged(model: Pipeline, rides: pd.DataFrame) -> str:
    with mlflow.start_run():
        return tracking.log_model(model, rides[[*CATEGORICAL, *NUMERICAL]].head(5))


def test_recover__undoes_what_a_killed_retraining_left(store: str, rides: pd.DataFrame) -> None:
    client = MlflowClient()
    uri = logged(train(rides, alpha=1.0), rides)
    tags = dict([SOURCE_TAG])
    decided = release(uri, rides, "2024-01", 0.01, 60.0, tags=tags).challenger_version
    undecided = mlflow.register_model(uri, registry.MODEL_NAME, tags=tags).version  # then killed
    pipeline_s = mlflow.register_model(uri, registry.MODEL_NAME).version  # not retraining's
    experiment = client.create_experiment(tracking.EXPERIMENT)
    running = client.create_run(experiment, tags=tags).info.run_id  # killed while it trained
    finished = client.create_run(experiment, tags=tags).info.run_id
    client.set_terminated(finished)

    assert recover(client) == [
        f"deleted undecided version {undecided}",
        f"marked run {running} as killed",
    ]
    left = {str(v.version) for v in client.search_model_versions(f"name = '{registry.MODEL_NAME}'")}
    assert left == {decided, str(pipeline_s)}
    assert client.get_run(running).info.status == RunStatus.to_string(RunStatus.KILLED)
    assert client.get_run(finished).info.status == "FINISHED"
    assert recover(client) == []


@pytest.fixture
def log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> PredictionLog:
    """The prediction log in tmp_path; the commands open it too (PREDICTION_LOG_URL)."""
    url = f"sqlite:///{tmp_path / 'predictions.db'}"
    monkeypatch.setenv("PREDICTION_LOG_URL", url)
    return PredictionLog(url)


@pytest.fixture
def champion(store: str, rides: pd.DataFrame) -> Pipeline:
    """Version 1, released as the pipeline releases it: trained on the January rides that the
    prepare stage left in data/prepared/train.parquet (monitoring's reference)."""
    SETTINGS.paths.train.parent.mkdir(parents=True)
    rides.to_parquet(SETTINGS.paths.train, index=False)
    model = train(rides, alpha=1.0)
    assert release(logged(model, rides), rides, "2024-01", 0.01, 6.0).promoted
    return model


def served(log: PredictionLog, model: Pipeline, month: str, scenario: str = "none") -> int:
    """What the service logs for a month of rides answered by version 1, with the ground truth
    that arrives later; returns the number of rides."""
    rides = clean(simulate_month(month, rides=1500, scenario=scenario))
    frame = rides[[*CATEGORICAL, *NUMERICAL]]
    records = cast(list[dict[str, Any]], frame.to_dict(orient="records"))  # str column names
    minutes, actual = predict(model, rides).tolist(), rides["duration"].tolist()
    for start in range(0, len(records), 100):
        request = f"{month}-{start}"
        log.record(request, "1", records[start : start + 100], minutes[start : start + 100])
        truth = actual[start : start + 100]
        log.add_feedback([{"request_id": request, "row": row, "duration": duration}
                          for row, duration in enumerate(truth)])  # fmt: skip
    return len(records)


def decisions(settings: Settings = SETTINGS) -> list[dict[str, Any]]:
    return [json.loads(line) for line in settings.paths.retraining.read_text().splitlines()]


def test_retrain_if_needed__congestion_is_retrained_promoted_and_served(
    champion: Pipeline, log: PredictionLog, live: Live
) -> None:
    url = live(create_app(prediction_log=log))
    rides = served(log, champion, "2024-04", scenario="congestion")

    outcome = retrain_if_needed(SETTINGS, log, url)

    assert outcome.action == "retrained and promoted", outcome
    assert outcome.figures["action"] == "retrain"
    assert outcome.figures["live_rmse"] > 6.0
    assert outcome.figures["model_version"] == "1"
    assert outcome.figures["labelled_rows"] == rides
    decision = outcome.decision
    assert decision is not None
    assert (decision["champion_version"], decision["challenger_version"]) == ("1", "2")
    assert decision["challenger_rmse"] < decision["champion_rmse"] - SETTINGS.gate.margin
    assert outcome.deployed == f"reloaded {url}: version 1 -> 2; serving champion version 2"
    status, model = call(f"{url}/model")  # the retrained version's figures, as the pipeline's
    assert status == 200
    assert model["version"] == "2"
    assert model["metrics"]["val_rmse"] == pytest.approx(decision["challenger_rmse"])
    holdout = model["metrics"]["val_rides"]  # the newest rides, rounded either way
    assert holdout == pytest.approx(rides * SETTINGS.retrain.holdout_share, abs=1)
    assert registry.version_for(registry.CHAMPION) == "2"
    version = MlflowClient().get_model_version(registry.MODEL_NAME, "2")
    assert version.tags["source"] == "retraining"
    assert version.tags["gate.promoted"] == "True"
    # The new champion's reference is what it learnt from: the older 70% of the rides.
    reference = monitor.reference(registry.load(registry.CHAMPION), SETTINGS)
    assert len(reference) == rides - holdout
    assert decisions()[-1]["action"] == "retrained and promoted"
    assert log.acquire(LOCK, timedelta(hours=1))[1] is None, "the lock was released"


def test_retrain_if_needed__after_a_killed_run_cleans_up_and_carries_on(
    champion: Pipeline, log: PredictionLog, capsys: pytest.CaptureFixture[str]
) -> None:
    two_hours_ago = predlog.now() - timedelta(hours=2)
    killed = {"name": LOCK, "owner": "worker-7:4242", "acquired_at": two_hours_ago}
    with log.engine.begin() as connection:  # the lock of a run killed on another host
        connection.execute(predlog.locks.insert(), [killed])
    run_id = MlflowClient().get_model_version(registry.MODEL_NAME, "1").run_id
    # Version 2: registered by that run, which was killed before the gate decided.
    mlflow.register_model(f"runs:/{run_id}/model", registry.MODEL_NAME, tags=dict([SOURCE_TAG]))
    served(log, champion, "2024-04", scenario="congestion")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{probe.getsockname()[1]}"  # the service is down

    outcome = retrain_if_needed(SETTINGS, log, url)

    printed = capsys.readouterr().out
    assert "recovered: took over the retraining lock that worker-7:4242 left" in printed
    assert "recovered: deleted undecided version 2" in printed
    assert outcome.action == "retrained and promoted"
    assert outcome.deployed == f"not deployed: no service answers at {url}"
    assert registry.version_for(registry.CHAMPION) == "3", "the promotion stands"


def test_retrain_if_needed__normal_traffic_needs_nothing(
    champion: Pipeline, log: PredictionLog, capsys: pytest.CaptureFixture[str]
) -> None:
    served(log, champion, "2024-02")

    outcome = retrain_if_needed(SETTINGS, log)

    assert outcome.action == "no action", outcome
    assert outcome.decision is None, outcome
    assert outcome.reason.startswith("no drift (drift share")
    assert "of version 1 is within 6.0" in outcome.reason
    versions = MlflowClient().search_model_versions(f"name = '{registry.MODEL_NAME}'")
    assert [str(v.version) for v in versions] == ["1"], "nothing was trained"
    assert decisions() == [{**decisions()[0], "action": "no action", "deployed": None}]
    for report in ("report.html", "summary.json", "trend.csv"):
        assert (SETTINGS.paths.monitoring / report).is_file()
    trend = pd.read_csv(SETTINGS.paths.monitoring / "trend.csv")  # valid CSV, JSON where it nests
    scored = set(json.loads(trend["column_scores"].iloc[-1]))
    assert scored >= {NUMERICAL_FEATURE.name, "prediction"}

    main([*PARAMS, "monitor"])
    assert '"action": "no action"' in capsys.readouterr().out
    main([*PARAMS, "retrain-if-needed"])
    assert capsys.readouterr().out.startswith("no action: no drift")


def test_retrain_if_needed__waits_while_another_retraining_runs(
    log: PredictionLog, capsys: pytest.CaptureFixture[str]
) -> None:
    owner, _ = log.acquire(LOCK, timedelta(hours=1))  # held by this process, which is alive
    with pytest.raises(SystemExit) as stop:
        main([*PARAMS, "retrain-if-needed"])
    assert stop.value.code == 3
    assert f"another retraining is running: {LOCK} is held by {owner}" in capsys.readouterr().err


def test_reset_demo__undoes_the_loop_and_keeps_what_the_pipeline_made(
    champion: Pipeline, log: PredictionLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    served(log, champion, "2024-04", scenario="congestion")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # no service there: nothing to deploy to, nothing to stop
    url = f"http://127.0.0.1:{port}"
    assert retrain_if_needed(SETTINGS, log, url).action == "retrained and promoted"
    assert registry.version_for(registry.CHAMPION) == "2"
    log.engine.dispose()

    with monkeypatch.context() as shared:
        shared.setenv("PREDICTION_LOG_URL", "postgresql+psycopg2://team@db.example/log")
        with pytest.raises(ValueError, match="resets the local demo only"):
            reset_demo(SETTINGS, port)
    assert registry.version_for(registry.CHAMPION) == "2", "a refused reset changes nothing"

    done = reset_demo(SETTINGS, port)

    assert done[0] == "no local service to stop (no serve.pid)"
    assert "deleted version 2, which retraining registered" in done
    assert "champion is version 1 again" in done
    assert "challenger is version 1 again" in done
    versions = MlflowClient().search_model_versions(f"name = '{registry.MODEL_NAME}'")
    assert [str(v.version) for v in versions] == ["1"]
    assert not SETTINGS.paths.retraining.exists()
    assert not SETTINGS.paths.monitoring.exists()
    assert not PredictionLog(url_from_env()).count(), "the prediction log starts again empty"
    assert SETTINGS.paths.train.is_file(), "what the pipeline made stays"
