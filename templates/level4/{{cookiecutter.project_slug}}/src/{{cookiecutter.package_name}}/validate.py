"""Checks a month of trip records must pass before anything trains on it."""

import pandas as pd

from .simulate import N_ZONES

DATETIME = ("a datetime", pd.api.types.is_datetime64_any_dtype)
INTEGER = ("an integer", pd.api.types.is_integer_dtype)
NUMBER = ("a number", pd.api.types.is_numeric_dtype)
COLUMNS = {
    "lpep_pickup_datetime": DATETIME,
    "lpep_dropoff_datetime": DATETIME,
    "PULocationID": INTEGER,
    "DOLocationID": INTEGER,
    "trip_distance": NUMBER,
}


def problems(rides: pd.DataFrame, month: str, min_rows: int, max_bad_share: float) -> list[str]:
    """Everything wrong with a batch: schema, types, ranges, row count. Empty when valid."""
    missing = [column for column in COLUMNS if column not in rides.columns]
    if missing:
        return [f"missing columns {missing}"]
    found = [
        f"column {column} has type {rides[column].dtype}, expected {expected}"
        for column, (expected, check) in COLUMNS.items()
        if not check(rides[column])
    ]
    if found:
        return found
    if len(rides) < min_rows:
        found.append(f"{len(rides)} rows, fewer than ingest.min_rows={min_rows}")
    for column in ("PULocationID", "DOLocationID"):
        unknown = ~rides[column].between(1, N_ZONES)
        if unknown.any():
            found.append(f"{unknown.sum()} rides with a {column} outside the zones 1..{N_ZONES}")
    start = pd.Timestamp(f"{month}-01")
    checks = {
        "a pick-up outside the month": ~rides["lpep_pickup_datetime"].between(
            start, start + pd.offsets.MonthBegin(1), inclusive="left"
        ),
        "a negative or missing trip_distance": ~(rides["trip_distance"] >= 0),
    }
    for what, bad in checks.items():
        if bad.mean() > max_bad_share:
            found.append(
                f"{bad.mean():.1%} of rides have {what}, more than "
                f"ingest.max_bad_share={max_bad_share:.1%}"
            )
    return found
