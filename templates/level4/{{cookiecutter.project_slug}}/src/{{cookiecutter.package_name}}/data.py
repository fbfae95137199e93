"""Read monthly trip records and turn them into clean training rows."""

from pathlib import Path

import pandas as pd

from .schema import DROPOFF, FEATURES, MAX_MINUTES, MIN_MINUTES, PICKUP, TARGET, file_name


def month_path(data_dir: Path, month: str) -> Path:
    """Where the trip records of a month live (real or simulated)."""
    return Path(data_dir) / file_name(month)


def read_month(path: Path) -> pd.DataFrame:
    """Read one month of TLC trip records, with a clear error when it is missing."""
    if not Path(path).exists():
        raise FileNotFoundError(
            f"{path} does not exist: simulate it (`simulate`) or download the real TLC file"
        )
    return pd.read_parquet(path)


def clean(rides: pd.DataFrame) -> pd.DataFrame:
    """Add the ride duration in minutes; keep the rides from MIN_MINUTES to MAX_MINUTES long
    whose features are present and within the schema's ranges (what the service accepts)."""
    if missing := [name for name in (PICKUP.name, DROPOFF.name) if name not in rides.columns]:
        raise ValueError(f"rides lack the timestamp columns {missing}")
    elapsed = rides[DROPOFF.name] - rides[PICKUP.name]
    rides = rides.assign(**{TARGET: elapsed.dt.total_seconds() / 60})
    kept = rides[TARGET].between(MIN_MINUTES, MAX_MINUTES)
    for column in FEATURES:
        if column.name in rides.columns:
            kept &= column.within(rides[column.name])
    return rides[kept].reset_index(drop=True)
