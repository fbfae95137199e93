"""The monitoring dashboard: one page that holds the figures of every monitoring run and every
retraining decision, and loads nothing from the network."""

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from {{ cookiecutter.package_name }}.cli import main
from {{ cookiecutter.package_name }}.config import Settings, load_settings, override
from {{ cookiecutter.package_name }}.dashboard import build, chart
from {{ cookiecutter.package_name }}.predlog import PredictionLog

# What a page would load from elsewhere: a script, a style sheet, a font, an image, a frame.
LOADS = re.compile(r"<script|<link|<img|<iframe|\ssrc=|\shref=|url\(|@import", re.IGNORECASE)

PARAMS = ["--params", str(Path(__file__).parents[1] / "params.yaml")]


def run(
    version: str, live_rmse: float | None, drift_share: float, action: str, reason: str
) -> dict[str, Any]:
    return {"model_version": version, "labelled_rows": 0 if live_rmse is None else 900,
            "live_rmse": live_rmse, "drift_share": drift_share, "action": action,
            "reason": reason}  # fmt: skip


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.chdir(tmp_path)
    return override(
        load_settings(Path(__file__).parents[1] / "params.yaml"),
        {
            "paths.monitoring": tmp_path / "reports" / "monitoring",
            "paths.retraining": tmp_path / "reports" / "retraining.jsonl",
        },
    )


@pytest.fixture
def log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> PredictionLog:
    url = f"sqlite:///{tmp_path / 'predictions.db'}"
    monkeypatch.setenv("PREDICTION_LOG_URL", url)
    return PredictionLog(url)


def test_build__the_congestion_story_error_up_retraining_error_down(
    settings: Settings, log: PredictionLog
) -> None:
    """Normal traffic, too little ground truth, congestion, the retraining, then recovery."""
    log.record_figures(run("1", None, 0.0, "waiting", "only 0 of 200 labelled rides"))
    log.record_figures(run("1", 4.21, 0.25, "no action", "the live RMSE 4.21 is within 6.0"))
    log.record_figures(run("1", 9.87, 0.75, "retrain", "live RMSE 9.87 of version 1 is above"))
    settings.paths.retraining.parent.mkdir(parents=True)
    decision = {"challenger_version": "2", "reason": "RMSE 4.4000 beats the champion's 9.8700"}
    retrained = {"at": "2030-01-01T00:00:00+00:00", "action": "retrained and promoted",
                 "reason": decision["reason"], "figures": {"reason": "live RMSE 9.87 is above"},
                 "decision": decision, "deployed": "reloaded: version 1 -> 2"}  # fmt: skip
    waited: dict[str, Any] = {"at": "2030-01-01T00:00:01+00:00", "action": "no action",
                              "reason": "fine", "figures": {}, "decision": None,
                              "deployed": None}  # fmt: skip
    lines = [json.dumps(entry) for entry in (retrained, waited)]
    settings.paths.retraining.write_text("\n".join(lines) + "\n")
    log.record_figures(run("2", 4.40, 0.5, "no action", "the live RMSE 4.40 is within 6.0"))

    page = build(settings, log).read_text()

    assert LOADS.search(page) is None, "the page loads nothing"
    assert page.count("<svg") == 3
    assert "4 monitoring runs" in page
    for value in ("4.21", "9.87", "4.40"):  # the error rising, then falling
        assert f": {value}</title>" in page
    assert "threshold 6.0" in page
    assert "threshold 0.5" in page
    assert "v2 promoted" in page
    assert "reloaded: version 1 -&gt; 2" in page
    assert "RMSE 4.4000 beats the champion&#x27;s 9.8700" in page
    assert "Latest: no action</b>: the live RMSE 4.40 is within 6.0" in page
    assert "only 0 of 200 labelled rides" in page, "the waiting run is in the table"


def test_chart__an_unmeasured_value_breaks_the_line() -> None:
    start = datetime(2024, 1, 1, tzinfo=UTC)
    times = [start + timedelta(minutes=minute) for minute in range(5)]
    svg = chart("Live RMSE", times, [4.0, 5.0, None, 7.0, 8.0], threshold=6.0)
    assert svg.count("<polyline") == 2
    assert svg.count("<circle") == 4
    assert chart("Live RMSE", times, [None] * 5).count("<circle") == 0


def test_dashboard_cli__writes_the_page_or_says_what_to_run_first(
    settings: Settings, log: PredictionLog, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as refused:
        main([*PARAMS, "dashboard"])
    assert refused.value.code == 1
    assert "no monitoring run yet: run `make monitor`" in capsys.readouterr().err
    log.record_figures(run("1", 4.21, 0.25, "no action", "within bounds"))
    main([*PARAMS, "dashboard"])
    page = settings.paths.monitoring / "dashboard.html"
    assert capsys.readouterr().out.strip() == f"dashboard -> {page.relative_to(page.parents[2])}"
    assert "within bounds" in page.read_text()
