from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import NUMERICAL_FEATURE

from {{ cookiecutter.package_name }} import schema
from {{ cookiecutter.package_name }}.simulate import SCENARIOS, invent, simulate_month, write_month

PICKUP, DROPOFF = schema.PICKUP.name, schema.DROPOFF.name


def test_simulate_month__writes_the_schema_s_columns_in_their_ranges(
    raw_rides: pd.DataFrame,
) -> None:
    for timestamp in (PICKUP, DROPOFF):
        assert pd.api.types.is_datetime64_any_dtype(raw_rides[timestamp]), timestamp
    for column in schema.FEATURES:
        present = raw_rides[column.name].dropna()  # real records miss some values: so may these
        assert len(present) > 0.9 * len(raw_rides), column.name
        assert column.within(present).all(), column.name


def test_simulate_month__same_month_same_rides() -> None:
    first = simulate_month("2024-03", rides=300)
    again = simulate_month("2024-03", rides=300)
    pd.testing.assert_frame_equal(first, again)


def test_simulate_month__another_month_other_rides_in_that_month() -> None:
    march = simulate_month("2024-03", rides=300)
    april = simulate_month("2024-04", rides=300)
    assert not march[NUMERICAL_FEATURE.name].equals(april[NUMERICAL_FEATURE.name])
    assert (april[PICKUP].dt.month == 4).all()


def test_simulate_month__congestion_slows_rides() -> None:
    usual = simulate_month("2024-03", rides=2_000)
    congested = simulate_month("2024-03", rides=2_000, scenario="congestion")
    minutes = {
        name: (f[DROPOFF] - f[PICKUP]).dt.total_seconds().median() / 60
        for name, f in (("usual", usual), ("congested", congested))
    }
    assert minutes["congested"] > 1.3 * minutes["usual"], minutes


def test_simulate_month__unknown_scenario_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown scenario 'rain'"):
        simulate_month("2024-03", scenario="rain")
    assert "congestion" in SCENARIOS


def test_write_month__writes_the_schema_s_file_name(tmp_path: Path) -> None:
    path = write_month("2024-05", tmp_path / "data", rides=50)
    assert path == tmp_path / "data" / schema.file_name("2024-05")
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
