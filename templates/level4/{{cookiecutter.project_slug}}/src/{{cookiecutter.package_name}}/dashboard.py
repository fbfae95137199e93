"""The monitoring dashboard: one self-contained HTML page, charts drawn as inline SVG, nothing
loaded from the network. Over time it shows the live RMSE against its threshold, the drift
share against its threshold, the model version that served, and every retraining decision
with its reason. Built from the prediction log's monitoring runs and reports/retraining.jsonl."""

import html
import json
import math
import string
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from .config import Settings
from .predlog import PredictionLog

WIDTH, HEIGHT, LEFT, RIGHT, TOP, BOTTOM = 760, 210, 56, 24, 28, 34
COLORS = {"retrained and promoted": "#1a7f37", "retrained and rejected": "#bc4c00"}
PAGE = string.Template("""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${title}</title>
<style>
body { font: 14px/1.5 system-ui, sans-serif; margin: 24px; color: #1f2328; max-width: 62em }
h1 { font-size: 22px; margin: 0 0 4px } h2 { font-size: 17px; margin: 24px 0 4px }
.decision { padding: 10px 14px; border-left: 5px solid ${color}; background: #f6f8fa }
table { border-collapse: collapse; margin-top: 6px }
td, th { padding: 3px 10px; border-bottom: 1px solid #d0d7de; text-align: left;
  vertical-align: top }
svg text { font: 11px system-ui, sans-serif; fill: #57606a }
</style></head><body>
<h1>${title}</h1>
<p>${runs} monitoring runs, ${first} to ${last} (UTC). Built ${built}.</p>
<div class="decision"><b>Latest: ${action}</b>: ${reason}</div>
${charts}
<h2>Retraining decisions</h2>
${decisions}
<h2>Monitoring runs, newest first</h2>
${table}
</body></html>
""")


def _ticks(top: float, whole: bool) -> list[float]:
    """Five ticks from 0 to `top`; for `whole` numbers (versions), whole ones only."""
    if whole:
        step = max(1, math.ceil(top / 5))
        return [float(tick) for tick in range(0, math.floor(top) + 1, step)]
    return [top * share for share in (0, 0.25, 0.5, 0.75, 1)]


def chart(
    title: str,
    times: list[datetime],
    values: list[float | None],
    threshold: float | None = None,
    events: Sequence[tuple[datetime, str, str]] = (),
    digits: int = 2,
    step: bool = False,
) -> str:
    """A line chart as inline SVG: `values` over `times` (a gap where a value is None), a
    dashed `threshold`, and `events` (time, label, color) as vertical lines. A `step` line
    holds each value until the next (for the served version)."""
    moments = [*times, *(moment for moment, _, _ in events)]
    start, span = min(moments), (max(moments) - min(moments)).total_seconds() or 1.0
    known = [value for value in values if value is not None]
    top = max([*known, threshold or 0.0, 1e-9]) * 1.15
    inner_width, inner_height = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(moment: datetime) -> float:
        return LEFT + inner_width * (moment - start).total_seconds() / span

    def y(value: float) -> float:
        return TOP + inner_height * (1 - value / top)

    parts = [f'<text x="{LEFT}" y="16" style="font-weight:600;fill:#1f2328">{title}</text>']
    parts.extend(
        f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(tick):.1f}" y2="{y(tick):.1f}" '
        f'stroke="#eaeef2"/><text x="{LEFT - 6}" y="{y(tick) + 4:.1f}" '
        f'text-anchor="end">{tick:.{digits}f}</text>'
        for tick in _ticks(top, whole=digits == 0)
    )
    for moment, stamp in ((start, min(moments)), (max(moments), max(moments))):
        anchor = "start" if moment == start else "end"
        parts.append(
            f'<text x="{x(moment):.1f}" y="{HEIGHT - 12}" text-anchor="{anchor}">'
            f"{stamp:%Y-%m-%d %H:%M:%S}</text>"
        )
    if threshold is not None:
        parts.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(threshold):.1f}" '
            f'y2="{y(threshold):.1f}" stroke="#cf222e" stroke-dasharray="6 4"/>'
            f'<text x="{LEFT + 4}" y="{y(threshold) - 5:.1f}" '
            f'style="fill:#cf222e">threshold {threshold}</text>'
        )
    for moment, label, color in events:
        parts.append(
            f'<line x1="{x(moment):.1f}" x2="{x(moment):.1f}" y1="{TOP}" '
            f'y2="{HEIGHT - BOTTOM}" stroke="{color}" stroke-width="2"/>'
            f'<text x="{x(moment) + 4:.1f}" y="{TOP + 10}" style="fill:{color}">'
            f"{html.escape(label)}</text>"
        )
    segment: list[str] = []
    for at, value in [*zip(times, values, strict=True), (None, None)]:
        if value is None or at is None:  # not measured (or the end): the line breaks
            if len(segment) > 1:
                parts.append(
                    f'<polyline points="{" ".join(segment)}" fill="none" stroke="#0969da" '
                    'stroke-width="2"/>'
                )
            segment = []
            continue
        if step and segment:  # across at the old value, then up or down to the new one
            segment.append(f"{x(at):.1f},{segment[-1].split(',')[1]}")
        segment.append(f"{x(at):.1f},{y(value):.1f}")
        parts.append(
            f'<circle cx="{x(at):.1f}" cy="{y(value):.1f}" r="3.5" fill="#0969da">'
            f"<title>{at:%Y-%m-%d %H:%M:%S}: {value:.{digits}f}</title></circle>"
        )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{title}">'
        + "".join(parts)
        + "</svg>"
    )


def _table(header: list[str], rows: Sequence[Sequence[object]]) -> str:
    if not rows:
        return "<p>None yet.</p>"
    head = "".join(f"<th>{html.escape(name)}</th>" for name in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(cell))}</td>" for cell in row) + "</tr>"
        for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def retrainings(path: Path) -> list[dict[str, Any]]:
    """The retraining runs that trained a challenger, from reports/retraining.jsonl."""
    if not Path(path).exists():
        return []
    entries = [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
    return [entry for entry in entries if entry["action"] in COLORS]


def build(settings: Settings, log: PredictionLog, title: str = "Monitoring") -> Path:
    """Write the dashboard next to the monitoring report; returns its path."""
    runs = log.figures()
    if runs.empty:
        raise LookupError("no monitoring run yet: run `make monitor` or `make retrain-if-needed`")
    times = [moment.to_pydatetime() for moment in pd.to_datetime(runs["run_at"])]
    live = [None if pd.isna(value) else float(value) for value in runs["live_rmse"]]
    decided = retrainings(settings.paths.retraining)
    events = [
        (
            datetime.fromisoformat(entry["at"]).replace(tzinfo=None),
            f"v{entry['decision']['challenger_version']} "
            + entry["action"].removeprefix("retrained and "),
            COLORS[entry["action"]],
        )
        for entry in decided
    ]
    charts = [
        chart("Live RMSE (minutes), labelled rides of the served version", times, live,
              settings.monitor.max_live_rmse, events),
        chart("Drift share (drifted columns / columns)", times,
              [float(value) for value in runs["drift_share"]], settings.monitor.drift_share,
              events),
        chart("Model version that served", times,
              [float(value) for value in runs["model_version"]], None, events, digits=0,
              step=True),
    ]  # fmt: skip
    decision_rows = [
        [f"{datetime.fromisoformat(entry['at']):%Y-%m-%d %H:%M:%S}", entry["figures"]["reason"],
         entry["action"], entry["decision"]["reason"], entry["deployed"] or ""]
        for entry in reversed(decided)
    ]  # fmt: skip
    run_rows = [
        [f"{moment:%Y-%m-%d %H:%M:%S}", row.model_version, row.labelled_rows,
         "" if rmse is None else f"{rmse:.2f}", f"{row.drift_share:.2f}", row.action, row.reason]
        for moment, rmse, row in zip(times, live, runs.itertuples(), strict=True)
    ][::-1]  # fmt: skip
    latest = runs.iloc[-1]
    page = PAGE.substitute(
        title=html.escape(title),
        runs=len(runs),
        first=f"{times[0]:%Y-%m-%d %H:%M:%S}",
        last=f"{times[-1]:%Y-%m-%d %H:%M:%S}",
        built=f"{datetime.now(UTC):%Y-%m-%d %H:%M:%S}",
        color={"retrain": "#cf222e", "waiting": "#bf8700"}.get(latest["action"], "#1a7f37"),
        action=html.escape(str(latest["action"])),
        reason=html.escape(str(latest["reason"])),
        charts="\n".join(f"<p>{svg}</p>" for svg in charts),
        decisions=_table(
            ["at (UTC)", "triggered by", "decision", "the gate's reason", "deployed"],
            decision_rows,
        ),
        table=_table(
            ["run at (UTC)", "version", "labelled", "live RMSE", "drift share", "action", "why"],
            run_rows,
        ),
    )
    out = Path(settings.paths.monitoring) / "dashboard.html"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(page)
    return out
