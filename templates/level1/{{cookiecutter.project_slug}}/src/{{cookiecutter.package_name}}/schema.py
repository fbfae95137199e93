"""What a ride record holds: the raw columns, their types and valid ranges, the features, the
target and the monthly file naming. Every other module derives what it needs from here.

To use your own data, edit this module (the README's "Bring your own data" says what else the
project expects of it).
"""

from dataclasses import dataclass
from typing import Literal

import pandas as pd

Dtype = Literal["integer", "number", "datetime"]


@dataclass(frozen=True)
class Column:
    """One column of the raw records: its name, type, valid range and meaning. A categorical
    column's values are labels (one-hot encoded), a numerical one's are amounts."""

    name: str
    dtype: Dtype
    description: str
    minimum: float | None = None  # the smallest valid value; None: no bound
    maximum: float | None = None  # the largest valid value; None: no bound
    categorical: bool = False
    example: float | None = None  # a typical value, shown in the service's examples

    def __post_init__(self) -> None:
        if self.minimum is not None and self.maximum is not None and self.minimum > self.maximum:
            raise ValueError(f"column {self.name}: minimum {self.minimum} > maximum {self.maximum}")

    def within(self, values: pd.Series) -> pd.Series:
        """Which values are present and within the column's range."""
        valid = values.notna()
        if self.minimum is not None:
            valid &= values >= self.minimum
        if self.maximum is not None:
            valid &= values <= self.maximum
        return valid

    @property
    def typical(self) -> float:
        """Its example, else the middle of its range (rounded for an integer column)."""
        if self.example is not None:
            return self.example
        low = 0.0 if self.minimum is None else self.minimum
        high = low if self.maximum is None else self.maximum
        middle = (low + high) / 2
        return round(middle) if self.dtype == "integer" else middle


N_ZONES = 265  # TLC taxi zones are numbered 1..N_ZONES

PICKUP = Column("lpep_pickup_datetime", "datetime", "when the meter was engaged")
DROPOFF = Column("lpep_dropoff_datetime", "datetime", "when the meter was disengaged")
FEATURES = (
    Column("PULocationID", "integer", "pick-up TLC taxi zone", 1, N_ZONES, True, example=74),
    Column("DOLocationID", "integer", "drop-off TLC taxi zone", 1, N_ZONES, True, example=75),
    Column("trip_distance", "number", "miles", 0, 500, example=2.5),
)
CATEGORICAL = tuple(column.name for column in FEATURES if column.categorical)
NUMERICAL = tuple(column.name for column in FEATURES if not column.categorical)

TARGET = "duration"  # minutes from PICKUP to DROPOFF: what the model predicts
MIN_MINUTES, MAX_MINUTES = 1, 60  # rides outside this range are glitches, not rides

FILE_PREFIX = "green_tripdata"  # a month is the file FILE_PREFIX_YYYY-MM.parquet


def file_name(month: str) -> str:
    """The file name of a month such as "2024-01"."""
    return f"{FILE_PREFIX}_{month}.parquet"


def feature(name: str) -> Column:
    """The feature column called `name`; a name the schema does not hold is a clear error."""
    for column in FEATURES:
        if column.name == name:
            return column
    names = [column.name for column in FEATURES]
    raise ValueError(f"{name!r} is not a feature of the schema; choose from {names}")
