"""Checks a month of trip records must pass before anything trains on it: the columns, types and
ranges that schema.py declares."""

import pandas as pd

from .schema import DROPOFF, FEATURES, PICKUP, Column

EXPECTED = {
    "datetime": ("a datetime", pd.api.types.is_datetime64_any_dtype),
    "integer": ("an integer", pd.api.types.is_integer_dtype),
    "number": ("a number", pd.api.types.is_numeric_dtype),
}
COLUMNS = (PICKUP, DROPOFF, *FEATURES)


def _valid_range(column: Column) -> str:
    low = "" if column.minimum is None else f"{column.minimum:g}"
    high = "" if column.maximum is None else f"{column.maximum:g}"
    return f"missing or outside {low}..{high}" if low or high else "missing"


def problems(rides: pd.DataFrame, month: str, min_rows: int, max_bad_share: float) -> list[str]:
    """Everything wrong with a batch: schema, types, ranges, row count. Empty when valid."""
    missing = [column.name for column in COLUMNS if column.name not in rides.columns]
    if missing:
        return [f"missing columns {missing}"]
    found = [
        f"column {column.name} has type {rides[column.name].dtype}, expected {expected}"
        for column in COLUMNS
        for expected, check in [EXPECTED[column.dtype]]
        if not check(rides[column.name])
    ]
    if found:
        return found
    if len(rides) < min_rows:
        found.append(f"{len(rides)} rows, fewer than ingest.min_rows={min_rows}")
    start = pd.Timestamp(f"{month}-01")
    checks = {
        f"a {PICKUP.name} outside the month": ~rides[PICKUP.name].between(
            start, start + pd.offsets.MonthBegin(1), inclusive="left"
        ),
        **{
            f"a {column.name} {_valid_range(column)}": ~column.within(rides[column.name])
            for column in FEATURES
        },
    }
    for what, bad in checks.items():
        if bad.mean() > max_bad_share:
            found.append(
                f"{bad.mean():.1%} of rides have {what}, more than "
                f"ingest.max_bad_share={max_bad_share:.1%}"
            )
    return found
