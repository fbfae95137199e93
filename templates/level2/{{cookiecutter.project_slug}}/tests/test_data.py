from pathlib import Path

import pandas as pd
import pytest
from conftest import NUMERICAL_FEATURE, outside

from {{ cookiecutter.package_name }}.data import clean, read_month
from {{ cookiecutter.package_name }}.schema import DROPOFF, PICKUP, TARGET, file_name


def rides_lasting(*minutes: float) -> pd.DataFrame:
    pickup = pd.Timestamp("2024-01-01 08:00")
    return pd.DataFrame(
        {
            PICKUP.name: [pickup] * len(minutes),
            DROPOFF.name: [pickup + pd.Timedelta(minutes=m) for m in minutes],
        }
    )


def test_clean__computes_the_duration_in_minutes() -> None:
    cleaned = clean(rides_lasting(1.5, 30))
    assert cleaned[TARGET].tolist() == [1.5, 30.0]


def test_clean__keeps_rides_between_1_and_60_minutes_inclusive() -> None:
    cleaned = clean(rides_lasting(0.5, 1, 59.9, 60, 61, -3))
    assert cleaned[TARGET].tolist() == [1.0, 59.9, 60.0]


def test_clean__leaves_its_input_alone() -> None:
    raw = rides_lasting(0.5, 10)
    clean(raw)
    assert TARGET not in raw.columns
    assert len(raw) == 2


def test_read_month__missing_file_says_how_to_get_it(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="simulate it"):
        read_month(tmp_path / file_name("2024-01"))


def test_clean__drops_rides_whose_features_are_missing_or_out_of_range() -> None:
    feature, typical = NUMERICAL_FEATURE.name, NUMERICAL_FEATURE.typical
    below, above = outside(NUMERICAL_FEATURE)
    values = [typical, below, float("nan"), above]
    rides = rides_lasting(10, 10, 10, 10).assign(**{feature: values})
    assert clean(rides)[feature].tolist() == [typical]


def test_clean__rides_without_a_timestamp_column_are_one_clear_error() -> None:
    with pytest.raises(ValueError, match=rf"rides lack the timestamp columns \['{DROPOFF.name}'\]"):
        clean(rides_lasting(10).drop(columns=DROPOFF.name))
