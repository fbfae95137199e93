"""Monitoring job: the served traffic against the champion's training reference (data drift
per feature, prediction drift, target drift), and the live error on labelled predictions."""

import json
import re
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.presets import DataDriftPreset
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from . import registry, tracking
from .config import Settings
from .data import TARGET
from .predict import predict
from .predlog import PredictionLog

CATEGORICAL = ["PULocationID", "DOLocationID"]
NUMERICAL = ["trip_distance", "prediction"]
REFERENCE_ARTIFACT = "reference/rides.parquet"  # logged by retraining; else the prepared month
COLUMN_SCORE = re.compile(r"ValueDrift\(column=(?P<column>\w+),")
EXPERIMENT = f"{tracking.EXPERIMENT}-monitoring"  # a run per monitoring job, with its report


@dataclass(frozen=True)
class Figures:
    """What one monitoring run measured, and whether it calls for retraining."""

    model_version: str
    window_rows: int
    labelled_rows: int
    reference_rows: int
    drift_share: float
    column_scores: dict[str, float]
    data_drift: bool
    live_rmse: float | None
    live_error: bool

    @property
    def retrain_needed(self) -> bool:
        return self.data_drift or self.live_error


def reference(release: registry.Release, settings: Settings) -> pd.DataFrame:
    """The rides the champion was trained on, with its predictions and the actual durations."""
    try:
        path = MlflowClient().download_artifacts(release.run_id, REFERENCE_ARTIFACT)
    except (MlflowException, OSError):
        path = settings.train_path
    rides = pd.read_parquet(path)
    return rides[CATEGORICAL + ["trip_distance"]].assign(
        prediction=predict(release.model, rides).to_numpy(), duration=rides[TARGET].to_numpy()
    )


def measure(
    window: pd.DataFrame,
    labelled: pd.DataFrame,
    ref: pd.DataFrame,
    version: str,
    settings: Settings,
):
    """Figures and the Evidently snapshot for the newest predictions, and the newest labelled
    ones (fetched apart: under heavy traffic, ground truth lags behind the newest requests)."""
    enough = len(labelled) >= settings.min_labelled
    # With enough ground truth, the labelled rides show target drift too.
    current, numerical = (labelled, [*NUMERICAL, "duration"]) if enough else (window, NUMERICAL)
    columns = CATEGORICAL + numerical
    definition = DataDefinition(numerical_columns=numerical, categorical_columns=CATEGORICAL)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        preset = DataDriftPreset(columns=columns, drift_share=settings.drift_share)
        snapshot = Report([preset]).run(
            Dataset.from_pandas(
                current[columns].reset_index(drop=True), data_definition=definition
            ),
            Dataset.from_pandas(ref[columns].reset_index(drop=True), data_definition=definition),
        )
    share, scores = 0.0, {}
    for metric in snapshot.dict()["metrics"]:
        if metric["metric_name"].startswith("DriftedColumnsCount"):
            share = float(metric["value"]["share"])
        elif match := COLUMN_SCORE.match(metric["metric_name"]):
            scores[match["column"]] = round(float(metric["value"]), 4)
    errors = labelled["prediction"] - labelled["duration"]
    live_rmse = float(np.sqrt((errors**2).mean())) if enough else None
    figures = Figures(
        model_version=version,
        window_rows=len(window),
        labelled_rows=len(labelled),
        reference_rows=len(ref),
        drift_share=share,
        column_scores=scores,
        data_drift=share >= settings.drift_share,
        live_rmse=live_rmse,
        live_error=live_rmse is not None and live_rmse > settings.max_live_rmse,
    )
    return figures, snapshot


def run(settings: Settings, log: PredictionLog) -> Figures:
    """Measure the newest window of traffic; write the HTML report and the JSON summary, and
    record the figures in the log database and in MLflow, for trends."""
    tracking.connect()
    window = log.window(settings.window)
    if window.empty:
        raise LookupError("the prediction log is empty: serve some traffic first")
    release = registry.load(registry.CHAMPION)
    # The live error is the champion's own: answers of the versions before it do not count.
    labelled = window[window["model_version"] == release.version].dropna(subset=["duration"])
    if len(labelled) < settings.min_labelled:  # heavy traffic hides the ground truth: look back
        labelled = log.window(settings.window, labelled=True, version=release.version)
    ref = reference(release, settings)
    figures, snapshot = measure(window, labelled, ref, release.version, settings)

    out = Path(settings.monitoring_dir)
    out.mkdir(parents=True, exist_ok=True)
    snapshot.save_html(str(out / "report.html"))
    summary = {**asdict(figures), "retrain_needed": figures.retrain_needed}
    (out / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    log.record_figures(summary)
    log.figures().to_csv(out / "trend.csv", index=False)

    mlflow.set_experiment(EXPERIMENT)
    with mlflow.start_run(run_name=f"monitor v{release.version}"):
        mlflow.log_metrics(
            {
                "drift_share": figures.drift_share,
                "labelled_rows": figures.labelled_rows,
                **({"live_rmse": figures.live_rmse} if figures.live_rmse is not None else {}),
            }
        )
        mlflow.log_artifact(str(out / "report.html"))
    return figures
