"""Predict ride durations for trip records."""

import pandas as pd
from sklearn.pipeline import Pipeline

PREDICTION = "predicted_duration"


def predict(model: Pipeline, rides: pd.DataFrame) -> pd.Series:
    """Predicted duration in minutes, one per ride, aligned with the input rows."""
    features = list(model.feature_names_in_)
    missing = sorted(set(features) - set(rides.columns))
    if missing:
        raise ValueError(f"rides lack the feature columns {missing}")
    return pd.Series(model.predict(rides[features]), index=rides.index, name=PREDICTION)
