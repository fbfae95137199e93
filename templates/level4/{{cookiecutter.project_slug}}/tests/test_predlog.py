"""The prediction log's retraining lock: one holder at a time, taken over only when abandoned."""

import os
import socket
import subprocess
import sys
from datetime import timedelta

import pytest

from {{ cookiecutter.package_name }} import predlog
from {{ cookiecutter.package_name }}.predlog import Locked, PredictionLog

HOUR = timedelta(hours=1)


@pytest.fixture
def log(tmp_path) -> PredictionLog:
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


def test_lock__one_holder_at_a_time_until_released(log):
    owner, abandoned_by = log.acquire("retrain", HOUR)
    assert abandoned_by is None and owner == f"{socket.gethostname()}:{os.getpid()}"
    with pytest.raises(Locked, match=f"retrain is held by {owner}"):
        log.acquire("retrain", HOUR)
    log.release("retrain", owner)
    assert log.acquire("retrain", HOUR) == (owner, None)


def test_lock__a_live_holder_on_this_host_keeps_it(log):
    held_by(log, f"{socket.gethostname()}:{os.getppid()}", timedelta(0))
    with pytest.raises(Locked):
        log.acquire("retrain", HOUR)


def test_lock__a_holder_that_died_on_this_host_is_taken_over_at_once(log):
    dead = f"{socket.gethostname()}:{a_finished_process()}"
    held_by(log, dead, timedelta(0))
    assert log.acquire("retrain", HOUR)[1] == dead


def test_lock__liveness_does_not_need_proc(log, monkeypatch):
    """macOS has no /proc: a live holder must not look dead there."""
    exists = os.path.exists
    monkeypatch.setattr(os.path, "exists", lambda p: not str(p).startswith("/proc") and exists(p))
    held_by(log, f"{socket.gethostname()}:{os.getppid()}", timedelta(0))
    with pytest.raises(Locked):
        log.acquire("retrain", HOUR)


def test_lock__another_host_s_holder_is_judged_by_the_lock_s_age(log):
    held_by(log, "another-host:1", timedelta(minutes=5))
    with pytest.raises(Locked, match="another-host:1"):
        log.acquire("retrain", HOUR)  # we cannot see its processes: 5 minutes is not stale
    assert log.acquire("retrain", timedelta(minutes=1))[1] == "another-host:1"
