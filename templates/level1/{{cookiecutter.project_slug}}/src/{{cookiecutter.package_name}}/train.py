"""Fit the pipeline on a month of clean rides, and save or load it."""

import pickle
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from sklearn.pipeline import Pipeline

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
