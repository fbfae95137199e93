"""The prediction log: no prediction lost under concurrent writes, requests that arrive
together committed together, feedback stored all or nothing, and the retraining lock: one
holder at a time, taken over only when abandoned."""

import os
import socket
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from conftest import RIDE
from sqlalchemy.exc import IntegrityError

from {{ cookiecutter.package_name }} import predlog
from {{ cookiecutter.package_name }}.predlog import Locked, PredictionLog, rows_of

HOUR = timedelta(hours=1)


@pytest.fixture
def log(tmp_path: Path) -> PredictionLog:
    return PredictionLog(f"sqlite:///{tmp_path / 'predictions.db'}")


def held_by(log: PredictionLog, owner: str, age: timedelta) -> None:
    """The lock as another process left it, `age` ago."""
    with log.engine.begin() as connection:
        row = {"name": "retrain", "owner": owner, "acquired_at": predlog.now() - age}
        connection.execute(predlog.locks.insert(), [row])


def a_finished_process() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    return int(done.stdout)


def test_lock__one_holder_at_a_time_until_released(log: PredictionLog) -> None:
    owner, abandoned_by = log.acquire("retrain", HOUR)
    assert abandoned_by is None
    assert owner == f"{socket.gethostname()}:{os.getpid()}"
    with pytest.raises(Locked, match=f"retrain is held by {owner}"):
        log.acquire("retrain", HOUR)
    log.release("retrain", owner)
    assert log.acquire("retrain", HOUR) == (owner, None)


def test_lock__a_live_holder_on_this_host_keeps_it(log: PredictionLog) -> None:
    held_by(log, f"{socket.gethostname()}:{os.getppid()}", timedelta(0))
    with pytest.raises(Locked):
        log.acquire("retrain", HOUR)


def test_lock__a_holder_that_died_on_this_host_is_taken_over_at_once(log: PredictionLog) -> None:
    dead = f"{socket.gethostname()}:{a_finished_process()}"
    held_by(log, dead, timedelta(0))
    assert log.acquire("retrain", HOUR)[1] == dead


def test_lock__liveness_does_not_need_proc(
    log: PredictionLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    """macOS has no /proc: a live holder must not look dead there."""
    exists = os.path.exists
    monkeypatch.setattr(os.path, "exists", lambda p: not str(p).startswith("/proc") and exists(p))
    held_by(log, f"{socket.gethostname()}:{os.getppid()}", timedelta(0))
    with pytest.raises(Locked):
        log.acquire("retrain", HOUR)


def test_lock__another_host_s_holder_is_judged_by_the_lock_s_age(log: PredictionLog) -> None:
    held_by(log, "another-host:1", timedelta(minutes=5))
    with pytest.raises(Locked, match="another-host:1"):
        log.acquire("retrain", HOUR)  # we cannot see its processes: 5 minutes is not stale
    assert log.acquire("retrain", timedelta(minutes=1))[1] == "another-host:1"


def test_record__concurrent_writers_lose_no_prediction(tmp_path: Path) -> None:
    """Threads of two writers (as two service workers would be) log at once: every row lands."""
    url = f"sqlite:///{tmp_path / 'predictions.db'}"
    writers = [PredictionLog(url), PredictionLog(url)]

    def serve(worker: int) -> None:
        for number in range(20):
            writers[worker % 2].record(f"w{worker}-{number}", "1", [RIDE] * 3, [1.0, 2.0, 3.0])

    threads = [threading.Thread(target=serve, args=(worker,)) for worker in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    logged = PredictionLog(url).window(1000)
    expected = {(f"w{worker}-{number}", row)
                for worker in range(6) for number in range(20) for row in range(3)}  # fmt: skip
    assert len(logged) == len(expected)
    assert set(zip(logged["request_id"], logged["row"], strict=True)) == expected


def test_add_feedback__is_all_or_nothing(log: PredictionLog) -> None:
    log.record("known", "1", [RIDE, RIDE], [10.0, 11.0])
    items = [{"request_id": "known", "row": 0, "duration": 9.0},
             {"request_id": "known", "row": 5, "duration": 9.0}]  # fmt: skip
    assert log.add_feedback(items).unknown == [1]  # no such row: the whole batch is refused
    assert log.window(10, labelled=True).empty
    outcome = log.add_feedback(items[:1])
    assert (outcome.stored, outcome.unknown, outcome.conflicts) == (1, [], {})
    assert log.window(10, labelled=True)["duration"].tolist() == [9.0]


def commits(log: PredictionLog) -> list[int]:
    """Counts the transactions committed on the log from now on."""
    counted: list[int] = []
    sa.event.listen(log.engine, "commit", lambda _connection: counted.append(1))
    return counted


def test_record_group__many_requests_in_one_transaction(log: PredictionLog) -> None:
    counted = commits(log)
    group = [rows_of(f"r{number}", "1", [RIDE, RIDE], [1.0, 2.0]) for number in range(50)]
    assert log.record_group(group) == [None] * 50
    assert len(counted) == 1
    assert log.count() == 100


def test_record_group__a_bad_request_fails_alone(log: PredictionLog) -> None:
    log.record("taken", "1", [RIDE], [1.0])
    group = [rows_of(request, "1", [RIDE], [1.0]) for request in ("first", "taken", "last")]
    first, twice, last = log.record_group(group)  # (taken, 0) is logged already
    assert first is None
    assert last is None
    assert isinstance(twice, IntegrityError)
    assert sorted(log.window(10)["request_id"]) == ["first", "last", "taken"]
    with pytest.raises(IntegrityError):
        log.record("taken", "1", [RIDE], [1.0])
