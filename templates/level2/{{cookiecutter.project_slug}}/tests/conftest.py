"""Small simulated frames shared by the tests, and the schema's features as the tests use them:
derived from `schema.py`, so that the tests hold for your schema too."""

import pandas as pd
import pytest

from {{ cookiecutter.package_name }} import schema
from {{ cookiecutter.package_name }}.data import clean
from {{ cookiecutter.package_name }}.simulate import simulate_month

# One ride as the model takes it: every feature at its typical value.
RIDE = {column.name: column.typical for column in schema.FEATURES}
# A feature of each kind, for the tests about that kind: labels, and amounts with a range.
CATEGORICAL_FEATURE = next(column for column in schema.FEATURES if column.categorical)
NUMERICAL_FEATURE = next(
    column
    for column in schema.FEATURES
    if not column.categorical and column.minimum is not None and column.maximum is not None
)


def outside(column: schema.Column) -> tuple[float, float]:
    """A value just below the column's range and one just above it."""
    assert column.minimum is not None, f"{column.name} has no minimum"
    assert column.maximum is not None, f"{column.name} has no maximum"
    return column.minimum - 1, column.maximum + 1


def unseen(column: schema.Column, rides: pd.DataFrame) -> int:
    """The highest label within the column's range that none of `rides` has."""
    low, high = outside(column)
    seen = set(rides[column.name])
    return next(label for label in range(int(high) - 1, int(low), -1) if label not in seen)


@pytest.fixture(scope="session")
def raw_rides() -> pd.DataFrame:
    return simulate_month("2024-01", rides=2_000)


@pytest.fixture(scope="session")
def rides(raw_rides: pd.DataFrame) -> pd.DataFrame:
    return clean(raw_rides)
