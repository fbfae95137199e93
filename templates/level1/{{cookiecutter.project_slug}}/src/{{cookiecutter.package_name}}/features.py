"""The model: pick-up and drop-off zones plus distance, into a linear regressor."""

from sklearn.compose import ColumnTransformer
from sklearn.linear_model import Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

CATEGORICAL = ["PULocationID", "DOLocationID"]
NUMERICAL = ["trip_distance"]
FEATURES = CATEGORICAL + NUMERICAL


def build_pipeline(alpha: float) -> Pipeline:
    """An unfitted pipeline; zones never seen in training are ignored, not errors."""
    encode = ColumnTransformer(
        [
            ("zones", OneHotEncoder(handle_unknown="ignore"), CATEGORICAL),
            ("distance", "passthrough", NUMERICAL),
        ]
    )
    return Pipeline([("features", encode), ("regressor", Ridge(alpha=alpha))])
