"""The default schema, the TLC's green-taxi records, pinned on purpose: the other tests derive
what they need from `schema.py` and hold for your schema too. This module describes the default
schema: rewrite it for yours."""

import pandas as pd
import pytest

from {{ cookiecutter.package_name }} import schema
from {{ cookiecutter.package_name }}.schema import Column
from {{ cookiecutter.package_name }}.simulate import simulate_month

TLC_GREEN_COLUMNS = [
    "VendorID", "lpep_pickup_datetime", "lpep_dropoff_datetime", "store_and_fwd_flag",
    "RatecodeID", "PULocationID", "DOLocationID", "passenger_count", "trip_distance",
    "fare_amount", "extra", "mta_tax", "tip_amount", "tolls_amount", "ehail_fee",
    "improvement_surcharge", "total_amount", "payment_type", "trip_type", "congestion_surcharge",
]  # fmt: skip


def test_features__split_into_categorical_and_numerical() -> None:
    assert schema.CATEGORICAL == ("PULocationID", "DOLocationID")
    assert schema.NUMERICAL == ("trip_distance",)
    assert schema.TARGET not in schema.CATEGORICAL + schema.NUMERICAL


def test_file_name__is_the_tlc_monthly_file() -> None:
    assert schema.file_name("2024-01") == "green_tripdata_2024-01.parquet"


def test_simulate_month__has_the_tlc_green_layout() -> None:
    rides = simulate_month("2024-01", rides=100)
    assert list(rides.columns) == TLC_GREEN_COLUMNS
    assert [schema.PICKUP.name, schema.DROPOFF.name] == TLC_GREEN_COLUMNS[1:3]


def test_within__present_and_inside_the_range_inclusive() -> None:
    column = Column("passengers", "integer", "people", minimum=0, maximum=9)
    values = pd.Series([0, 9, -1, 10, None])
    assert column.within(values).tolist() == [True, True, False, False, False]


def test_within__an_unbounded_side_takes_any_value() -> None:
    column = Column("tip", "number", "dollars", minimum=0)
    assert column.within(pd.Series([0.0, 1e9, -0.5])).tolist() == [True, True, False]


def test_column__an_empty_range_is_refused() -> None:
    with pytest.raises(ValueError, match="minimum 5 > maximum 1"):
        Column("x", "number", "nothing fits", minimum=5, maximum=1)


@pytest.mark.parametrize(
    ("column", "typical"),
    [
        (Column("zone", "integer", "", 1, 265, example=74), 74),
        (Column("zone", "integer", "", 1, 264), 132),
        (Column("miles", "number", "", 0, 5), 2.5),
        (Column("miles", "number", "", 3), 3.0),
        (Column("miles", "number", ""), 0.0),
    ],
)
def test_typical__the_example_else_the_middle_of_the_range(column: Column, typical: float) -> None:
    assert column.typical == typical


def test_feature__by_name_or_a_clear_error() -> None:
    assert schema.feature("trip_distance").dtype == "number"
    with pytest.raises(ValueError, match="'fare' is not a feature of the schema"):
        schema.feature("fare")
