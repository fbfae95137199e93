"""Score a model on clean rides."""

import pandas as pd
from sklearn.metrics import root_mean_squared_error
from sklearn.pipeline import Pipeline

from .predict import predict
from .schema import TARGET


def rmse(model: Pipeline, rides: pd.DataFrame) -> float:
    """Root mean squared error of the predicted duration, in minutes."""
    return float(root_mean_squared_error(rides[TARGET], predict(model, rides)))
