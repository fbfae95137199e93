"""Small simulated frames shared by the tests."""

import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.data import clean
from {{ cookiecutter.package_name }}.simulate import simulate_month


@pytest.fixture(scope="session")
def raw_rides() -> pd.DataFrame:
    return simulate_month("2024-01", rides=2_000)


@pytest.fixture(scope="session")
def rides(raw_rides: pd.DataFrame) -> pd.DataFrame:
    return clean(raw_rides)
