"""A month is validated before anything trains on it; a bad batch is refused whole."""

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
from conftest import CATEGORICAL_FEATURE, NUMERICAL_FEATURE, outside

from {{ cookiecutter.package_name }} import ingest as ingest_module
from {{ cookiecutter.package_name }} import schema
from {{ cookiecutter.package_name }}.config import Settings, load_settings, override
from {{ cookiecutter.package_name }}.ingest import BatchRefused, ingest
from {{ cookiecutter.package_name }}.simulate import simulate_month, write_month
from {{ cookiecutter.package_name }}.validate import problems

PROJECT = Path(__file__).parents[1]
MAX_BAD_SHARE = load_settings(PROJECT / "params.yaml").ingest.max_bad_share
LABEL, AMOUNT, PICKUP = CATEGORICAL_FEATURE.name, NUMERICAL_FEATURE.name, schema.PICKUP.name
FEBRUARY = schema.file_name("2024-02")


def valid_range(column: schema.Column) -> str:
    return f"{column.minimum:g}..{column.maximum:g}"


def settings_for(raw: Path, source: Path) -> Settings:
    """The project's settings, ingesting from source into raw."""
    changes = {"paths.raw": raw, "ingest.source": str(source), "ingest.min_rows": 1000}
    return override(load_settings(PROJECT / "params.yaml"), changes)


def test_problems__a_simulated_month_is_valid(raw_rides: pd.DataFrame) -> None:
    assert problems(raw_rides, "2024-01", min_rows=1000, max_bad_share=MAX_BAD_SHARE) == []


@pytest.mark.parametrize(
    ("spoil", "expected"),
    [
        (lambda r: r.drop(columns=AMOUNT), f"missing columns [{AMOUNT!r}]"),
        (lambda r: r.assign(**{LABEL: r[LABEL].astype(str)}), "expected an integer"),
        (lambda r: r.head(10), "10 rows, fewer than ingest.min_rows=1000"),
        (
            lambda r: r.assign(**{LABEL: int(outside(CATEGORICAL_FEATURE)[1])}),
            f"have a {LABEL} missing or outside {valid_range(CATEGORICAL_FEATURE)}",
        ),
        (
            lambda r: r.assign(**{AMOUNT: outside(NUMERICAL_FEATURE)[0]}),
            f"{AMOUNT} missing or outside",
        ),
        (
            lambda r: r.assign(**{AMOUNT: float("nan")}),
            f"{AMOUNT} missing or outside {valid_range(NUMERICAL_FEATURE)}",
        ),
        (
            lambda r: r.assign(**{PICKUP: r[PICKUP] - pd.Timedelta(days=40)}),
            f"a {PICKUP} outside the month",
        ),
    ],
)
def test_problems__names_what_is_wrong(
    raw_rides: pd.DataFrame, spoil: Callable[[pd.DataFrame], pd.DataFrame], expected: str
) -> None:
    found = problems(spoil(raw_rides), "2024-01", min_rows=1000, max_bad_share=MAX_BAD_SHARE)
    assert any(expected in problem for problem in found), found


def test_ingest__a_bad_batch_leaves_the_data_already_there(tmp_path: Path) -> None:
    source, raw = tmp_path / "source", tmp_path / "raw"
    kept = write_month("2024-01", raw, rides=1500)
    before = kept.read_bytes()
    write_month("2024-01", source, rides=1500)
    simulate_month("2024-02", rides=1500).drop(columns=AMOUNT).to_parquet(source / FEBRUARY)
    settings = settings_for(raw, source)
    with pytest.raises(BatchRefused, match=f"refused {FEBRUARY}"):
        ingest(settings)
    assert kept.read_bytes() == before
    assert not (raw / FEBRUARY).exists()


def test_ingest__from_a_folder_source(tmp_path: Path) -> None:
    source = tmp_path / "source"
    for month in ("2024-01", "2024-02"):
        write_month(month, source, rides=1200)
    settings = settings_for(tmp_path / "raw", source)
    written = ingest(settings)
    assert [path.name for path in written] == [schema.file_name("2024-01"), FEBRUARY]


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
    with pytest.raises(BatchRefused, match=f"refused {FEBRUARY} .*unreadable"):
        ingest(settings)
    assert kept.read_bytes() == before  # nothing already there changes
    assert not (raw / FEBRUARY).exists()

    with pytest.raises(SystemExit) as stopped:
        ingest_module.main(settings)
    message = str(stopped.value)
    assert message.startswith(f"ingest: refused {FEBRUARY} from ")
    assert "\n" not in message
    assert "Traceback" not in capsys.readouterr().err
