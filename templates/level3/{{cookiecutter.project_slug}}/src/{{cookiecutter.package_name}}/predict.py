"""Predict ride durations for trip records."""

import pandas as pd
from sklearn.pipeline import Pipeline

PREDICTION = "predicted_duration"


def predict(model: Pipeline, rides: pd.DataFrame) -> pd.Series:
    """Predicted duration in minutes, one per ride, aligned with the input rows. A ride that
    lacks a feature's value (real records miss some) cannot be scored: its prediction is NaN."""
    features = list(model.feature_names_in_)
    missing = sorted(set(features) - set(rides.columns))
    if missing:
        raise ValueError(f"rides lack the feature columns {missing}")
    complete = rides[features].notna().all(axis="columns")
    predicted = pd.Series(float("nan"), index=rides.index, name=PREDICTION)
    if complete.any():
        predicted[complete] = model.predict(rides.loc[complete, features])
    return predicted
