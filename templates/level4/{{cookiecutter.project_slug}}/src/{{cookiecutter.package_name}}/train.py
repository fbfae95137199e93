"""Fit the pipeline on a month of clean rides, and save or load it."""

import json
import pickle
from collections.abc import Sequence
from pathlib import Path

import mlflow
import pandas as pd
from sklearn.pipeline import Pipeline

from . import tracking
from .config import PARAMS_FILE, Settings, run_stage
from .features import build_pipeline
from .schema import CATEGORICAL, NUMERICAL, TARGET


def train(
    rides: pd.DataFrame,
    alpha: float,
    categorical: Sequence[str] = CATEGORICAL,
    numerical: Sequence[str] = NUMERICAL,
) -> Pipeline:
    """Fit a fresh pipeline on clean rides."""
    features = [*categorical, *numerical]
    if missing := sorted(set(features) - set(rides.columns)):
        raise ValueError(f"rides lack the feature columns {missing}")
    return build_pipeline(alpha, categorical, numerical).fit(rides[features], rides[TARGET])


def save_model(model: Pipeline, path: Path) -> Path:
    """Pickle the fitted pipeline, creating the folder if needed."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        pickle.dump(model, out)
    return path


def load_model(path: Path) -> Pipeline:
    """Load a pipeline written by `save_model` (only load files you trust)."""
    with Path(path).open("rb") as model_file:
        return pickle.load(model_file)  # noqa: S301 (a model file this project wrote)


def main(settings: Settings) -> None:
    """DVC stage `train`: fit on the prepared month, save the model, track the run in MLflow."""
    rides = pd.read_parquet(settings.paths.train)
    model = train(rides, settings.train.alpha, settings.train.categorical, settings.train.numerical)
    save_model(model, settings.paths.model)

    uri = tracking.start()
    with mlflow.start_run() as run:
        mlflow.log_params(tracking.flat_params(PARAMS_FILE))
        mlflow.set_tags(tracking.data_version(settings.paths.raw, [settings.paths.train]))
        model_uri = tracking.log_model(model, rides[list(model.feature_names_in_)].head(5))
    record = {"run_id": run.info.run_id, "model_uri": model_uri, "tracking_uri": uri}
    settings.paths.run.write_text(json.dumps(record))
    print(f"trained on {len(rides)} rides; MLflow run {run.info.run_id} in {uri}")


if __name__ == "__main__":
    run_stage(main)
