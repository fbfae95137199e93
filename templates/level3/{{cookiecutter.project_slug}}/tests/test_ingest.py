"""A month is validated before anything trains on it; a bad batch is refused whole."""

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest

from {{ cookiecutter.package_name }} import ingest as ingest_module
from {{ cookiecutter.package_name }}.config import Settings, load_settings, override
from {{ cookiecutter.package_name }}.ingest import BatchRefused, ingest
from {{ cookiecutter.package_name }}.simulate import simulate_month, write_month
from {{ cookiecutter.package_name }}.validate import problems

PROJECT = Path(__file__).parents[1]


def settings_for(raw: Path, source: Path) -> Settings:
    """The project's settings, ingesting from source into raw."""
    changes = {"paths.raw": raw, "ingest.source": str(source), "ingest.min_rows": 1000}
    return override(load_settings(PROJECT / "params.yaml"), changes)


def test_problems__a_simulated_month_is_valid(raw_rides: pd.DataFrame) -> None:
    assert problems(raw_rides, "2024-01", min_rows=1000, max_bad_share=0.01) == []


@pytest.mark.parametrize(
    ("spoil", "expected"),
    [
        (lambda r: r.drop(columns="trip_distance"), "missing columns ['trip_distance']"),
        (lambda r: r.assign(PULocationID=r.PULocationID.astype(str)), "expected an integer"),
        (lambda r: r.head(10), "10 rows, fewer than ingest.min_rows=1000"),
        (lambda r: r.assign(DOLocationID=999), "have a DOLocationID missing or outside 1..265"),
        (lambda r: r.assign(trip_distance=-r.trip_distance), "trip_distance missing or outside"),
        (lambda r: r.assign(trip_distance=float("nan")), "trip_distance missing or outside 0..500"),
        (
            lambda r: r.assign(lpep_pickup_datetime=r.lpep_pickup_datetime - pd.Timedelta(days=40)),
            "a lpep_pickup_datetime outside the month",
        ),
    ],
)
def test_problems__names_what_is_wrong(
    raw_rides: pd.DataFrame, spoil: Callable[[pd.DataFrame], pd.DataFrame], expected: str
) -> None:
    found = problems(spoil(raw_rides), "2024-01", min_rows=1000, max_bad_share=0.01)
    assert any(expected in problem for problem in found), found


def test_ingest__a_bad_batch_leaves_the_data_already_there(tmp_path: Path) -> None:
    source, raw = tmp_path / "source", tmp_path / "raw"
    kept = write_month("2024-01", raw, rides=1500)
    before = kept.read_bytes()
    write_month("2024-01", source, rides=1500)
    simulate_month("2024-02", rides=1500).drop(columns="trip_distance").to_parquet(
        source / "green_tripdata_2024-02.parquet"
    )
    settings = settings_for(raw, source)
    with pytest.raises(BatchRefused, match=r"refused green_tripdata_2024-02.parquet"):
        ingest(settings)
    assert kept.read_bytes() == before
    assert not (raw / "green_tripdata_2024-02.parquet").exists()


def test_ingest__from_a_folder_source(tmp_path: Path) -> None:
    source = tmp_path / "source"
    for month in ("2024-01", "2024-02"):
        write_month(month, source, rides=1200)
    settings = settings_for(tmp_path / "raw", source)
    written = ingest(settings)
    assert [path.name for path in written] == [
        "green_tripdata_2024-01.parquet",
        "green_tripdata_2024-02.parquet",
    ]


@pytest.mark.parametrize(
    "spoil",
    [lambda data: data[: len(data) // 2], lambda data: b"", lambda data: b"month,rides\n1,2\n"],
    ids=["truncated", "empty", "not-parquet"],
)
def test_ingest__an_unreadable_month_is_refused_in_one_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    spoil: Callable[[bytes], bytes],
) -> None:
    source, raw = tmp_path / "source", tmp_path / "raw"
    kept = write_month("2024-01", raw, rides=1500)
    before = kept.read_bytes()
    write_month("2024-01", source, rides=1500)
    month = write_month("2024-02", source, rides=1500)
    month.write_bytes(spoil(month.read_bytes()))
    settings = settings_for(raw, source)
    with pytest.raises(BatchRefused, match=r"refused green_tripdata_2024-02.parquet .*unreadable"):
        ingest(settings)
    assert kept.read_bytes() == before  # nothing already there changes
    assert not (raw / "green_tripdata_2024-02.parquet").exists()

    with pytest.raises(SystemExit) as stopped:
        ingest_module.main(settings)
    message = str(stopped.value)
    assert message.startswith("ingest: refused green_tripdata_2024-02.parquet from ")
    assert "\n" not in message
    assert "Traceback" not in capsys.readouterr().err
