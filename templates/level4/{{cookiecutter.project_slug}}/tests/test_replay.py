"""The workshop replayer against the service on a loopback port: its rides are served and
logged, their ground truth stored, and the live error it reports is the served model's."""

import socket
from collections.abc import Callable
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from sklearn.pipeline import Pipeline
from starlette.types import ASGIApp

from {{ cookiecutter.package_name }} import tracking
from {{ cookiecutter.package_name }}.cli import main
from {{ cookiecutter.package_name }}.data import clean
from {{ cookiecutter.package_name }}.evaluate import rmse
from {{ cookiecutter.package_name }}.gate import release
from {{ cookiecutter.package_name }}.predlog import PredictionLog
from {{ cookiecutter.package_name }}.replay import replay
from {{ cookiecutter.package_name }}.schema import CATEGORICAL, NUMERICAL
from {{ cookiecutter.package_name }}.serve import create_app
from {{ cookiecutter.package_name }}.simulate import simulate_month
from {{ cookiecutter.package_name }}.train import train

Live = Callable[[ASGIApp], str]  # the `live` fixture: serves an app, returns its URL


@pytest.fixture
def champion(store: str, rides: pd.DataFrame) -> Pipeline:
    model = train(rides, alpha=1.0)
    with mlflow.start_run():
        uri = tracking.log_model(model, rides[[*CATEGORICAL, *NUMERICAL]].head(5))
    assert release(uri, rides, "2024-01", margin=0.01, max_rmse=60.0).promoted
    return model


@pytest.fixture
def log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> PredictionLog:
    """The service's prediction log in tmp_path; the commands open it too."""
    url = f"sqlite:///{tmp_path / 'predictions.db'}"
    monkeypatch.setenv("PREDICTION_LOG_URL", url)
    return PredictionLog(url)


def test_replay__every_ride_is_served_logged_and_labelled(
    champion: Pipeline, log: PredictionLog, live: Live, capsys: pytest.CaptureFixture[str]
) -> None:
    url = live(create_app(prediction_log=log))

    summary = replay(url, "2024-03", rides=300, batch=40)

    month = clean(simulate_month("2024-03", rides=300))  # what the replayer sent
    assert summary == {
        "rides": len(month),
        "live_rmse": pytest.approx(rmse(champion, month)),
        "versions": ["1"],
    }
    labelled = log.window(1000, labelled=True)
    assert len(labelled) == log.count() == len(month)
    assert labelled["duration"].tolist() == pytest.approx(month["duration"].tolist())
    printed = capsys.readouterr().out
    assert f"2024-03 (none): {len(month)}/{len(month)} rides, live RMSE" in printed
    assert f"sent the actual durations of {len(month)} rides" in printed


def test_cli__replay_without_feedback_then_the_ground_truth_from_a_file(
    champion: Pipeline,
    log: PredictionLog,
    live: Live,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = live(create_app(prediction_log=log))
    main(["replay", "2024-04", "--scenario", "congestion", "--rides", "200", "--no-feedback",
          "--url", url])  # fmt: skip
    assert '"versions": ["1"]' in capsys.readouterr().out
    logged = log.window(1000)
    assert logged["duration"].isna().all()

    truth = logged[["request_id", "row"]].assign(duration=12.5)
    truth.to_csv(tmp_path / "truth.csv", index=False)
    main(["feedback", str(tmp_path / "truth.csv")])
    assert f"stored the actual durations of {len(truth)} predictions" in capsys.readouterr().out
    assert (log.window(1000, labelled=True)["duration"] == 12.5).all()

    unknown = pd.DataFrame({"request_id": ["no-such-request"], "row": [0], "duration": [3.0]})
    unknown.to_parquet(tmp_path / "unknown.parquet")
    with pytest.raises(SystemExit) as stop:
        main(["feedback", str(tmp_path / "unknown.parquet")])
    assert stop.value.code == 1
    assert "1 rows match no logged prediction" in capsys.readouterr().err


def test_cli__replay_to_no_service_or_a_refusing_one_is_one_line(
    champion: Pipeline, log: PredictionLog, live: Live, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as probe:  # a free port on which nothing listens
        probe.bind(("127.0.0.1", 0))
        nothing = f"http://127.0.0.1:{probe.getsockname()[1]}"
    with pytest.raises(SystemExit) as stop:
        main(["replay", "2024-04", "--rides", "50", "--url", nothing])
    assert stop.value.code == 1
    assert capsys.readouterr().err.startswith(f"error: no service answers at {nothing}/predict")

    url = live(create_app(prediction_log=log))
    with pytest.raises(SystemExit) as stop:
        main(["replay", "2024-04", "--rides", "1200", "--batch", "1001", "--url", url])
    assert stop.value.code == 1
    assert f"error: {url}/predict answered 422: " in capsys.readouterr().err
