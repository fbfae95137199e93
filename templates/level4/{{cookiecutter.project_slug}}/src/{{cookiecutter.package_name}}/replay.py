"""Workshop replayer: simulated traffic for a month (optionally drifted) sent to the running
service, then its ground truth, so a class can watch drift, retraining and recovery."""

import json
import math
import os
import urllib.error
import urllib.request
from typing import Any

from .data import clean
from .schema import CATEGORICAL, NUMERICAL, TARGET
from .simulate import simulate_month


def post(url: str, payload: object) -> dict[str, Any]:
    """POST JSON; with SERVICE_TOKEN set, as the bearer token that /feedback then needs."""
    if not url.startswith(("http://", "https://")):  # urlopen would also read file: URLs
        raise ValueError(f"{url} is not an http:// or https:// URL")
    headers = {"Content-Type": "application/json"}
    if token := os.environ.get("SERVICE_TOKEN"):
        headers["Authorization"] = f"Bearer {token}"
    body = json.dumps(payload).encode()
    request = urllib.request.Request(url, data=body, headers=headers)  # noqa: S310 (checked)
    try:
        with urllib.request.urlopen(request, timeout=60) as answer:  # noqa: S310 (as above)
            answered: dict[str, Any] = json.loads(answer.read())
    except urllib.error.HTTPError as error:
        detail = error.read().decode(errors="replace")[:300]
        raise ValueError(f"{url} answered {error.code}: {detail}") from None
    except OSError as error:  # URLError too: nothing listens, or the host is unknown
        reason = getattr(error, "reason", error)
        raise ValueError(f"no service answers at {url} ({reason}): start it (make serve)") from None
    return answered


def replay(
    url: str,
    month: str,
    scenario: str = "none",
    rides: int = 2000,
    batch: int = 100,
    feedback: bool = True,
    seed: int = 42,
) -> dict[str, Any]:
    """Send a month of rides in batches, then their actual durations; returns the live RMSE
    of what was served and the model versions that served it."""
    frame = clean(simulate_month(month, rides=rides, scenario=scenario, seed=seed))
    records = frame[[*CATEGORICAL, *NUMERICAL]].to_dict(orient="records")
    actual = frame[TARGET].tolist()
    sent, squared, versions, truth = 0, 0.0, set(), []
    step = max(1, len(records) // batch // 10)
    for number, start in enumerate(range(0, len(records), batch)):
        answer = post(f"{url}/predict", records[start : start + batch])
        versions.add(answer["model_version"])
        for row, minutes in enumerate(answer["predictions"]):
            squared += (minutes - actual[start + row]) ** 2
            truth.append({"request_id": answer["request_id"], "row": row,
                          "duration": actual[start + row]})  # fmt: skip
        sent += len(answer["predictions"])
        if number % step == 0 or sent == len(records):
            live = math.sqrt(squared / sent)
            print(f"{month} ({scenario}): {sent}/{len(records)} rides, live RMSE {live:.2f} min")
    if feedback:
        for start in range(0, len(truth), 1000):
            post(f"{url}/feedback", truth[start : start + 1000])
        print(f"sent the actual durations of {len(truth)} rides")
    return {"rides": sent, "live_rmse": math.sqrt(squared / sent), "versions": sorted(versions)}
