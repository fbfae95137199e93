"""Retraining policy: monitor; when drift or live error crosses its threshold, retrain on
recent labelled production rides and release only through the level-3 gate.

Safe to kill: the registry is written only after the challenger is trained and scored, and a
run killed part-way is cleaned up by the next one. One run at a time (a lock in the log DB).
`reset_demo` undoes what the loop did, so that a workshop can play it again."""

import json
import shutil
import tempfile
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import sqlalchemy as sa
from mlflow import MlflowClient
from mlflow.entities import RunStatus

from . import dashboard, monitor, registry, tracking
from .config import Settings
from .deploy import LOCAL_URL, call, deploy, stop_local
from .evaluate import scores
from .gate import Decision, release
from .predict import predict
from .predlog import PredictionLog, url_from_env
from .schema import MAX_MINUTES, MIN_MINUTES, TARGET
from .train import train

LOCK = "retraining"
SOURCE_TAG = ("source", "retraining")  # on model versions and runs that retraining creates


@dataclass(frozen=True)
class Outcome:
    """What one retraining run decided, with the figures behind it."""

    action: str  # "no action", "waiting", "retrained and promoted", "retrained and rejected"
    reason: str
    figures: dict[str, Any]
    decision: dict[str, Any] | None = None
    deployed: str | None = None


def recover(client: MlflowClient) -> list[str]:
    """Undo what a killed retraining left: versions it registered but never decided on, and
    runs still marked running. Returns a line per thing cleaned up."""
    cleaned = []
    for version in client.search_model_versions(f"name = '{registry.MODEL_NAME}'"):
        tags = version.tags
        if tags.get(SOURCE_TAG[0]) == SOURCE_TAG[1] and "gate.decided_at" not in tags:
            client.delete_model_version(registry.MODEL_NAME, version.version)
            cleaned.append(f"deleted undecided version {version.version}")
    experiment = client.get_experiment_by_name(tracking.EXPERIMENT)
    if experiment:
        running = client.search_runs(
            [experiment.experiment_id],
            f"tags.{SOURCE_TAG[0]} = '{SOURCE_TAG[1]}' and attributes.status = 'RUNNING'",
        )
        for run in running:
            client.set_terminated(run.info.run_id, RunStatus.to_string(RunStatus.KILLED))
            cleaned.append(f"marked run {run.info.run_id} as killed")
    return cleaned


def split(
    window: pd.DataFrame, rides: int, holdout_share: float
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The newest `rides` labelled rides that the pipeline's cleaning keeps (a meter left
    running is no ride to learn from or to judge by): the oldest of them for training, the
    newest `holdout_share` for the gate."""
    labelled = window[window["duration"].between(MIN_MINUTES, MAX_MINUTES)]
    labelled = labelled.sort_values("id").tail(rides)
    labelled = labelled.rename(columns={"duration": TARGET})
    cut = int(len(labelled) * (1 - holdout_share))
    return labelled.iloc[:cut], labelled.iloc[cut:]


def retrain(settings: Settings, window: pd.DataFrame) -> Decision:
    """Train a challenger on recent rides, then gate it against the champion on the newest."""
    rides, holdout = split(window, settings.retrain.rides, settings.retrain.holdout_share)
    tracking.start()
    with mlflow.start_run(run_name="retraining", tags=dict([SOURCE_TAG])):
        print(f"retraining: training a challenger on {len(rides)} recent rides", flush=True)
        mlflow.log_params(
            {"train.alpha": settings.train.alpha, "retrain.rides": settings.retrain.rides,
             "retrain.holdout_share": settings.retrain.holdout_share,
             "window.first_id": int(window["id"].min()), "window.last_id": int(window["id"].max()),
             "rides": len(rides), "holdout": len(holdout)}
        )  # fmt: skip
        model = train(
            rides, settings.train.alpha, settings.train.categorical, settings.train.numerical
        )
        model_uri = tracking.log_model(model, rides[list(model.feature_names_in_)].head(5))
        # The same figures as the pipeline's evaluate stage: /model shows them for any version.
        measured = scores(holdout, predict(model, holdout))
        mlflow.log_metrics({f"val_{name}": value for name, value in measured.items()})
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / Path(monitor.REFERENCE_ARTIFACT).name
            rides.to_parquet(path, index=False)
            mlflow.log_artifact(str(path), Path(monitor.REFERENCE_ARTIFACT).parent.as_posix())
    # Only now is the registry touched, by the same release path as the pipeline's gate.
    holdout_name = f"production rides {int(holdout['id'].min())}..{int(holdout['id'].max())}"
    return release(
        model_uri, holdout, holdout_name, settings.gate.margin, settings.retrain.max_rmse,
        tags=dict([SOURCE_TAG]),
    )  # fmt: skip


def retrain_if_needed(
    settings: Settings, log: PredictionLog, url: str | None = None, port: int = 8000
) -> Outcome:
    """Monitor, then retrain and release through the gate only when a threshold is crossed."""
    owner, abandoned_by = log.acquire(LOCK, timedelta(minutes=settings.retrain.lock_minutes))
    if abandoned_by:
        print(f"recovered: took over the {LOCK} lock that {abandoned_by} left")
    try:
        tracking.connect()
        client = MlflowClient()
        for line in recover(client):
            print(f"recovered: {line}")
        figures, verdict = monitor.run(settings, log)
        summary = monitor.summary(figures, verdict)
        if verdict.action != "retrain":
            outcome = Outcome(verdict.action, verdict.reason, summary)
        else:
            labelled = log.window(settings.monitor.window, labelled=True)
            decision = retrain(settings, labelled)
            deployed = None
            if decision.promoted:  # the promotion stands; the service also polls the registry
                try:
                    deployed = deploy(decision.challenger_version, url, port)
                except RuntimeError as error:
                    deployed = f"not deployed: {error}"
            action = "retrained and promoted" if decision.promoted else "retrained and rejected"
            outcome = Outcome(action, decision.reason, summary, asdict(decision), deployed)
    finally:
        log.release(LOCK, owner)
    settings.paths.retraining.parent.mkdir(parents=True, exist_ok=True)
    with settings.paths.retraining.open("a") as decisions:
        entry = {"at": datetime.now(UTC).isoformat(timespec="seconds"), **asdict(outcome)}
        decisions.write(json.dumps(entry) + "\n")
    if outcome.figures:  # a monitoring run happened: the dashboard shows it, and the decision
        dashboard.build(settings, log)
    return outcome


def forget(client: MlflowClient) -> list[str]:
    """Undo the loop in MLflow: delete the runs of monitoring and retraining and the versions
    that retraining registered, and point `challenger` and `champion` back at the pipeline's
    newest and newest promoted versions. Returns a line per change."""
    done = []
    versions = client.search_model_versions(f"name = '{registry.MODEL_NAME}'")
    ours = sorted(
        (v for v in versions if v.tags.get(SOURCE_TAG[0]) == SOURCE_TAG[1]),
        key=lambda v: int(v.version),
    )
    for version in ours:
        client.delete_model_version(registry.MODEL_NAME, version.version)
        done.append(f"deleted version {version.version}, which retraining registered")
    for name, query in (
        (tracking.EXPERIMENT, f"tags.{SOURCE_TAG[0]} = '{SOURCE_TAG[1]}'"),
        (monitor.EXPERIMENT, ""),
    ):
        experiment = client.get_experiment_by_name(name)
        runs = client.search_runs([experiment.experiment_id], query) if experiment else []
        for run in runs:
            client.delete_run(run.info.run_id)
        if runs:
            done.append(f"deleted {len(runs)} run(s) of the experiment {name}")
    pipeline = sorted((v for v in versions if v not in ours), key=lambda v: int(v.version))
    promoted = [v for v in pipeline if v.tags.get("gate.promoted") == "True"]
    for alias, candidates in ((registry.CHALLENGER, pipeline), (registry.CHAMPION, promoted)):
        if candidates and registry.version_for(alias, client) != candidates[-1].version:
            client.set_registered_model_alias(registry.MODEL_NAME, alias, candidates[-1].version)
            done.append(f"{alias} is version {candidates[-1].version} again")
    return done


def reset_demo(settings: Settings, port: int = 8000) -> list[str]:
    """Bring the demo back to where the pipeline left it: stop the local service, undo every
    retraining, delete the prediction log and the monitoring and retraining reports. Only for
    local SQLite stores. Returns a line per step."""
    tracking_uri, log_url = tracking.connect(), url_from_env()
    shared = [uri for uri in (tracking_uri, log_url) if not uri.startswith("sqlite:")]
    if shared:
        raise ValueError(
            f"reset-demo resets the local demo only, not {shared[0]}: unset "
            "MLFLOW_TRACKING_URI and PREDICTION_LOG_URL, or point them at local SQLite files"
        )
    done = [stop_local()]
    url = LOCAL_URL.format(port=port)
    status, served = call(f"{url}/model", timeout=2)
    if status and served.get("name", registry.MODEL_NAME) == registry.MODEL_NAME:
        raise ValueError(f"a service still answers at {url}, without serve.pid: stop it first")
    log = PredictionLog(log_url)
    # No retraining runs meanwhile.
    log.acquire(LOCK, timedelta(minutes=settings.retrain.lock_minutes))
    done += forget(MlflowClient())
    log.engine.dispose()
    database = sa.engine.make_url(log_url).database  # None for an in-memory database
    log_files = [Path(f"{database}{end}") for end in ("", "-wal", "-shm", "-journal")]
    for path in [*(log_files if database else []), settings.paths.retraining]:
        if path.exists():
            path.unlink()
            done.append(f"deleted {path}")
    if settings.paths.monitoring.exists():
        shutil.rmtree(settings.paths.monitoring)
        done.append(f"deleted {settings.paths.monitoring}/")
    return done
