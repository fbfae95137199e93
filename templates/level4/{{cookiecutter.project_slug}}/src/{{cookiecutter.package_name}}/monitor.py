"""Monitoring job: the served traffic against the champion's training reference (data drift
per feature, prediction drift, target drift), and the live error on labelled predictions."""

import html
import json
import re
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import mlflow
import numpy as np
import pandas as pd
from evidently import DataDefinition, Dataset, Report
from evidently.core.report import Snapshot
from evidently.presets import DataDriftPreset
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from . import registry, tracking
from .config import Settings
from .predict import predict
from .predlog import PredictionLog
from .schema import CATEGORICAL, NUMERICAL, TARGET

REFERENCE_ARTIFACT = "reference/rides.parquet"  # logged by retraining; else the prepared month
COLUMN_SCORE = re.compile(r"ValueDrift\(column=(?P<column>[^,]+),")  # any column name
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


@dataclass(frozen=True)
class Verdict:
    """What the figures call for, and why, in words that name what was measured."""

    action: str  # "no action", "waiting" (too little ground truth to judge), or "retrain"
    reason: str


def judge(figures: Figures, settings: Settings) -> Verdict:
    """Retrain when a threshold is crossed; without enough ground truth, say so and wait:
    an unmeasured live error is never "within bounds"."""
    drift = f"drift share {figures.drift_share:.2f}, threshold {settings.monitor.drift_share}"
    counted = (
        f"{figures.labelled_rows} of {settings.monitor.min_labelled} labelled rides answered by "
        f"version {figures.model_version}"
    )
    if figures.live_rmse is None:
        if figures.data_drift:
            return Verdict("waiting", f"drift ({drift}), but only {counted}: waiting for them")
        return Verdict("waiting", f"only {counted}; no drift ({drift}) in {figures.window_rows}")
    live = f"live RMSE {figures.live_rmse:.2f} of version {figures.model_version}"
    crossed = [
        *([f"{live} is above {settings.monitor.max_live_rmse}"] if figures.live_error else []),
        *([f"drift ({drift})"] if figures.data_drift else []),
    ]
    if crossed:
        return Verdict("retrain", " and ".join(crossed))
    within = f"within {settings.monitor.max_live_rmse} ({figures.labelled_rows} labelled rides)"
    return Verdict("no action", f"no drift ({drift}) and the {live} is {within}")


def summary(figures: Figures, verdict: Verdict) -> dict[str, Any]:
    """The figures and the decision, as summary.json, the trend and the report hold them."""
    return {**asdict(figures), "retrain_needed": figures.retrain_needed, **asdict(verdict)}


def served_version(window: pd.DataFrame) -> str:
    """The model version that answered the newest logged request: what the service serves,
    whatever the registry's champion is now."""
    return str(window.sort_values("id")["model_version"].iloc[-1])


def reference(release: registry.Release, settings: Settings) -> pd.DataFrame:
    """The rides the champion was trained on, with its predictions and the actual durations."""
    try:
        path: str | Path = MlflowClient().download_artifacts(release.run_id, REFERENCE_ARTIFACT)
    except (MlflowException, OSError):
        path = settings.paths.train
    rides = pd.read_parquet(path)
    return rides[[*CATEGORICAL, *NUMERICAL]].assign(
        prediction=predict(release.model, rides).to_numpy(), duration=rides[TARGET].to_numpy()
    )


def measure(
    window: pd.DataFrame,
    labelled: pd.DataFrame,
    ref: pd.DataFrame,
    version: str,
    settings: Settings,
) -> tuple[Figures, Snapshot]:
    """Figures and the Evidently snapshot for the newest predictions, and the newest labelled
    ones (fetched apart: under heavy traffic, ground truth lags behind the newest requests)."""
    enough = len(labelled) >= settings.monitor.min_labelled
    # With enough ground truth, the labelled rides show target drift too.
    numerical = [*NUMERICAL, "prediction", *(["duration"] if enough else [])]
    current = labelled if enough else window
    columns = [*CATEGORICAL, *numerical]
    definition = DataDefinition(numerical_columns=numerical, categorical_columns=[*CATEGORICAL])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        preset = DataDriftPreset(columns=columns, drift_share=settings.monitor.drift_share)
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
        data_drift=share >= settings.monitor.drift_share,
        live_rmse=live_rmse,
        live_error=live_rmse is not None and live_rmse > settings.monitor.max_live_rmse,
    )
    return figures, snapshot


def run(settings: Settings, log: PredictionLog) -> tuple[Figures, Verdict]:
    """Measure the newest window of traffic against the version that served it; write the HTML
    report and the JSON summary, and record the figures in the log database and in MLflow."""
    tracking.connect()
    window = log.window(settings.monitor.window)
    if window.empty:
        raise LookupError("the prediction log is empty: serve some traffic first")
    version = served_version(window)
    release = registry.load_version(version)
    # The live error is the served version's own: answers of other versions do not count.
    labelled = window[window["model_version"] == version].dropna(subset=["duration"])
    # Heavy traffic hides the ground truth: look back.
    if len(labelled) < settings.monitor.min_labelled:
        labelled = log.window(settings.monitor.window, labelled=True, version=version)
    ref = reference(release, settings)
    figures, snapshot = measure(window, labelled, ref, version, settings)
    verdict = judge(figures, settings)
    figures_and_verdict = summary(figures, verdict)

    out = Path(settings.paths.monitoring)
    out.mkdir(parents=True, exist_ok=True)
    snapshot.save_html(str(out / "report.html"))
    add_decision(out / "report.html", figures, verdict, settings)
    (out / "summary.json").write_text(json.dumps(figures_and_verdict, indent=2) + "\n")
    log.record_figures(figures_and_verdict)
    trend = log.figures()
    for column in trend.columns[trend.map(lambda v: isinstance(v, dict | list)).any()]:
        trend[column] = trend[column].map(json.dumps)  # valid CSV: nested values as JSON
    trend.to_csv(out / "trend.csv", index=False)

    tracking.start(EXPERIMENT)
    with mlflow.start_run(run_name=f"monitor v{version}", tags={"action": verdict.action}):
        mlflow.log_metrics(
            {
                "drift_share": figures.drift_share,
                "labelled_rows": figures.labelled_rows,
                **({"live_rmse": figures.live_rmse} if figures.live_rmse is not None else {}),
            }
        )
        mlflow.log_artifact(str(out / "report.html"))
    return figures, verdict


DECISION = """<section id="decision" style="font: 15px/1.5 system-ui, sans-serif; margin: 16px;
 padding: 12px 16px; border: 2px solid {color}; border-radius: 8px; max-width: 60em">
<h2 style="margin: 0 0 8px">Decision: {action}</h2><p style="margin: 0 0 8px">{reason}</p>
<table style="border-collapse: collapse">{rows}</table>
<p style="margin: 8px 0 0; color: #555">The drift report below compares the newest {window}
 predictions with the rides version {version} was trained on.</p></section>"""


def add_decision(page: Path, figures: Figures, verdict: Verdict, settings: Settings) -> None:
    """Put what triggers retraining at the top of the report: the live error against its
    threshold, the drift share, the version served, and the decision."""
    live = "not measured" if figures.live_rmse is None else f"{figures.live_rmse:.2f} minutes"
    monitoring = settings.monitor
    cells = [
        ("Model version served", figures.model_version),
        ("Live RMSE", f"{live} (retrain above {monitoring.max_live_rmse})"),
        ("Labelled rides", f"{figures.labelled_rows} (at least {monitoring.min_labelled} needed)"),
        ("Drift share", f"{figures.drift_share:.2f} (drift at {monitoring.drift_share} or more)"),
    ]
    rows = "".join(
        f'<tr><th style="text-align: left; padding-right: 1em">{html.escape(name)}</th>'
        f"<td>{html.escape(str(value))}</td></tr>"
        for name, value in cells
    )
    color = {"retrain": "#c62828", "waiting": "#ef6c00"}.get(verdict.action, "#2e7d32")
    section = DECISION.format(
        color=color, action=html.escape(verdict.action), reason=html.escape(verdict.reason),
        rows=rows, window=figures.window_rows, version=html.escape(figures.model_version),
    )  # fmt: skip
    text = page.read_text(encoding="utf-8")
    body = re.search(r"<body[^>]*>", text)
    at = body.end() if body else 0
    page.write_text(text[:at] + section + text[at:], encoding="utf-8")
