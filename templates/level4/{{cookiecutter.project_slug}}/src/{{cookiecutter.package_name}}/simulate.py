"""Stand-in for the NYC TLC trip-record website: simulated green-taxi rides.

THIS IS NOT REAL DATA. The simulator is offline and deterministic (seeded by
month) so that every run, every level and every workshop laptop sees the same
numbers. It writes files named and shaped like the real ones
(https://www.nyc.gov/site/tlc/about/tlc-trip-record-data.page), so a real
`green_tripdata_YYYY-MM.parquet` dropped into the data folder is used unchanged.
The file names and the columns the project reads are the schema's (`schema.py`);
a feature column the simulator does not know gets invented values in its range.

Named drift scenarios (`SCENARIOS`) change the world on purpose; the
monitoring of maturity level 4 is meant to notice them.
"""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from . import schema
from .schema import N_ZONES

SERVED_ZONES = 60  # zones that see regular green-taxi traffic
NEW_ZONES = (1, 2, 3, 4, 5)  # zones that only the "new_zone" scenario serves


@dataclass(frozen=True)
class Scenario:
    """How a drift scenario bends the simulated world."""

    description: str
    speed_factor: float = 1.0
    distance_factor: float = 1.0
    new_zone_share: float = 0.0


SCENARIOS = {
    "none": Scenario("the usual traffic"),
    "congestion": Scenario("congestion slows every ride by 40%", speed_factor=0.6),
    "long_trips": Scenario("trips get 80% longer", distance_factor=1.8),
    "new_zone": Scenario("30% of rides start in zones never seen", new_zone_share=0.3),
}


def _city(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Zone ids, coordinates (miles), traffic weights and speed factors; fixed by seed."""
    rng = np.random.default_rng(seed)
    candidates = np.setdiff1d(np.arange(6, N_ZONES + 1), NEW_ZONES)
    zones = np.sort(rng.choice(candidates, size=SERVED_ZONES, replace=False))
    zones = np.concatenate([zones, NEW_ZONES])
    xy = rng.uniform(0.0, 5.0, size=(len(zones), 2))
    weights = rng.gamma(2.0, 1.0, size=len(zones))
    speed = rng.uniform(0.6, 1.4, size=len(zones))
    return zones, xy, weights, speed


def simulate_month(
    month: str, rides: int = 20_000, scenario: str = "none", seed: int = 42
) -> pd.DataFrame:
    """Simulate one month of green-taxi trip records in the TLC schema."""
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; choose one of {sorted(SCENARIOS)}")
    drift = SCENARIOS[scenario]
    start = pd.Timestamp(f"{month}-01")
    seconds_in_month = (start + pd.offsets.MonthBegin(1) - start).total_seconds()
    rng = np.random.default_rng([seed, start.year, start.month, list(SCENARIOS).index(scenario)])

    zones, xy, weights, speed = _city(seed)
    served = weights[:SERVED_ZONES] / weights[:SERVED_ZONES].sum()
    pu = rng.choice(SERVED_ZONES, size=rides, p=served)
    new = rng.random(rides) < drift.new_zone_share
    pu[new] = rng.integers(SERVED_ZONES, len(zones), size=new.sum())
    do = rng.choice(SERVED_ZONES, size=rides, p=served)

    straight = np.hypot(*(xy[pu] - xy[do]).T)
    distance = (1.3 * straight + 0.3) * rng.lognormal(0.0, 0.25, rides) * drift.distance_factor
    pickup = start + pd.to_timedelta(rng.uniform(0, seconds_in_month, rides), unit="s")
    hour = pickup.hour.to_numpy()
    rush = np.where(((hour >= 7) & (hour < 10)) | ((hour >= 16) & (hour < 19)), 0.7, 1.0)
    mph = 14.0 * np.sqrt(speed[pu] * speed[do]) * rush * rng.lognormal(0.0, 0.15, rides)
    minutes = 2.0 + 60.0 * distance / (mph * drift.speed_factor) + rng.normal(0.0, 1.5, rides)
    # Real trip records hold meters left running and cancelled rides; cleaning must cope.
    glitch = rng.random(rides)
    minutes = np.where(glitch < 0.02, minutes + rng.uniform(60, 600, rides), minutes)
    minutes = np.where(glitch > 0.99, rng.uniform(0.05, 0.95, rides), minutes)
    dropoff = pickup + pd.to_timedelta(np.round(minutes * 60), unit="s")

    distance = distance.round(2)
    fare = (3.0 + 2.5 * distance + 0.5 * minutes.clip(0, 60)).round(2)
    tip = np.where(rng.random(rides) < 0.6, (fare * rng.uniform(0.1, 0.25, rides)).round(2), 0.0)
    congestion = np.where(rng.random(rides) < 0.3, 2.75, 0.0)
    passengers = rng.choice([1.0, 1.0, 1.0, 1.0, 2.0, 2.0, 3.0, 5.0], size=rides)
    passengers[rng.random(rides) < 0.03] = np.nan
    frame = pd.DataFrame(
        {
            "VendorID": rng.choice([1, 2], size=rides, p=[0.2, 0.8]).astype("int32"),
            schema.PICKUP.name: pickup.astype("datetime64[us]"),
            schema.DROPOFF.name: dropoff.astype("datetime64[us]"),
            "store_and_fwd_flag": np.where(rng.random(rides) < 0.005, "Y", "N"),
            "RatecodeID": 1.0,
            "PULocationID": zones[pu].astype("int32"),
            "DOLocationID": zones[do].astype("int32"),
            "passenger_count": passengers,
            "trip_distance": distance,
            "fare_amount": fare,
            "extra": 1.0,
            "mta_tax": 0.5,
            "tip_amount": tip,
            "tolls_amount": 0.0,
            "ehail_fee": np.nan,
            "improvement_surcharge": 1.0,
            "total_amount": (fare + 2.5 + tip + congestion).round(2),
            "payment_type": np.where(tip > 0, 1.0, 2.0),
            "trip_type": 1.0,
            "congestion_surcharge": congestion,
        }
    )
    for column in schema.FEATURES:  # a feature of your own schema that no ride here holds
        if column.name not in frame.columns:
            frame[column.name] = invent(column, rng, rides)
    return frame.sort_values(schema.PICKUP.name, ignore_index=True)


def invent(column: schema.Column, rng: np.random.Generator, rides: int) -> np.ndarray:
    """Values for a column the simulator knows nothing about: uniform in its range."""
    low = 0.0 if column.minimum is None else column.minimum
    high = low + 1.0 if column.maximum is None else column.maximum
    if column.dtype == "integer":
        return rng.integers(int(low), int(high), size=rides, endpoint=True)
    if column.dtype == "number":
        return rng.uniform(low, high, size=rides).round(2)
    raise ValueError(f"cannot invent values for the {column.dtype} column {column.name}")


def write_month(
    month: str, data_dir: Path, rides: int = 20_000, scenario: str = "none", seed: int = 42
) -> Path:
    """Simulate a month and write it where the real monthly file would go."""
    path = Path(data_dir) / schema.file_name(month)
    path.parent.mkdir(parents=True, exist_ok=True)
    simulate_month(month, rides=rides, scenario=scenario, seed=seed).to_parquet(path, index=False)
    return path
