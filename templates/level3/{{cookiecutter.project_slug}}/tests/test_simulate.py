from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from {{ cookiecutter.package_name }} import schema
from {{ cookiecutter.package_name }}.simulate import SCENARIOS, invent, simulate_month, write_month

TLC_GREEN_COLUMNS = [
    "VendorID", "lpep_pickup_datetime", "lpep_dropoff_datetime", "store_and_fwd_flag",
    "RatecodeID", "PULocationID", "DOLocationID", "passenger_count", "trip_distance",
    "fare_amount", "extra", "mta_tax", "tip_amount", "tolls_amount", "ehail_fee",
    "improvement_surcharge", "total_amount", "payment_type", "trip_type", "congestion_surcharge",
]  # fmt: skip


def test_simulate_month__has_the_tlc_green_schema(raw_rides: pd.DataFrame) -> None:
    assert list(raw_rides.columns) == TLC_GREEN_COLUMNS
    assert pd.api.types.is_datetime64_any_dtype(raw_rides["lpep_pickup_datetime"])
    assert raw_rides["PULocationID"].between(1, 265).all()


def test_simulate_month__same_month_same_rides() -> None:
    first = simulate_month("2024-03", rides=300)
    again = simulate_month("2024-03", rides=300)
    pd.testing.assert_frame_equal(first, again)


def test_simulate_month__another_month_other_rides_in_that_month() -> None:
    march = simulate_month("2024-03", rides=300)
    april = simulate_month("2024-04", rides=300)
    assert not march["trip_distance"].equals(april["trip_distance"])
    assert (april["lpep_pickup_datetime"].dt.month == 4).all()


def test_simulate_month__congestion_slows_rides() -> None:
    usual = simulate_month("2024-03", rides=2_000)
    congested = simulate_month("2024-03", rides=2_000, scenario="congestion")
    minutes = {
        name: (f.lpep_dropoff_datetime - f.lpep_pickup_datetime).dt.total_seconds().median() / 60
        for name, f in (("usual", usual), ("congested", congested))
    }
    assert minutes["congested"] > 1.3 * minutes["usual"], minutes


def test_simulate_month__unknown_scenario_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown scenario 'rain'"):
        simulate_month("2024-03", scenario="rain")
    assert "congestion" in SCENARIOS


def test_write_month__writes_the_tlc_file_name(tmp_path: Path) -> None:
    path = write_month("2024-05", tmp_path / "data", rides=50)
    assert path.name == "green_tripdata_2024-05.parquet"
    assert len(pd.read_parquet(path)) == 50


def test_simulate_month__invents_a_feature_it_does_not_know(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    wheels = schema.Column("wheels", "integer", "per car", minimum=3, maximum=4)
    weight = schema.Column("weight", "number", "tons", minimum=1, maximum=2)
    monkeypatch.setattr(schema, "FEATURES", (*schema.FEATURES, wheels, weight))
    rides = simulate_month("2024-03", rides=200)
    assert set(rides["wheels"]) == {3, 4}
    assert rides["weight"].between(1, 2).all()


def test_invent__refuses_a_type_it_cannot_make_up() -> None:
    when = schema.Column("booked_at", "datetime", "when the ride was booked")
    with pytest.raises(ValueError, match="cannot invent values for the datetime column"):
        invent(when, np.random.default_rng(0), 3)
