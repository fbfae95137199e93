"""The model: pick-up and drop-off zones plus distance, into a linear regressor."""

from collections.abc import Sequence

from sklearn.compose import ColumnTransformer
from sklearn.linear_model import Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

CATEGORICAL = ("PULocationID", "DOLocationID")
NUMERICAL = ("trip_distance",)


def build_pipeline(
    alpha: float, categorical: Sequence[str] = CATEGORICAL, numerical: Sequence[str] = NUMERICAL
) -> Pipeline:
    """An unfitted pipeline; zones never seen in training are ignored, not errors."""
    encode = ColumnTransformer(
        [
            ("zones", OneHotEncoder(handle_unknown="ignore"), list(categorical)),
            ("distance", "passthrough", list(numerical)),
        ]
    )
    return Pipeline([("features", encode), ("regressor", Ridge(alpha=alpha))])
