"""The model: the categorical features one-hot encoded, the numerical ones as they are, into a
linear regressor. The defaults are the schema's features."""

from collections.abc import Sequence

from sklearn.compose import ColumnTransformer
from sklearn.linear_model import Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder

from .schema import CATEGORICAL, NUMERICAL


def build_pipeline(
    alpha: float, categorical: Sequence[str] = CATEGORICAL, numerical: Sequence[str] = NUMERICAL
) -> Pipeline:
    """An unfitted pipeline; categories never seen in training are ignored, not errors."""
    encode = ColumnTransformer(
        [
            ("categorical", OneHotEncoder(handle_unknown="ignore"), list(categorical)),
            ("numerical", "passthrough", list(numerical)),
        ]
    )
    return Pipeline([("features", encode), ("regressor", Ridge(alpha=alpha))])
