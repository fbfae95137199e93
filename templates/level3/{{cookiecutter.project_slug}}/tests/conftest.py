"""Small simulated frames shared by the tests, and the schema's features as the tests use them:
derived from `schema.py`, so that the tests hold for your schema too. A registry and a live
service of a test's own."""

import contextlib
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest
from starlette.types import ASGIApp

from {{ cookiecutter.package_name }} import schema
from {{ cookiecutter.package_name }}.data import clean
from {{ cookiecutter.package_name }}.simulate import simulate_month

# One ride as the model takes it: every feature at its typical value.
RIDE = {column.name: column.typical for column in schema.FEATURES}
# A feature of each kind, for the tests about that kind: labels, and amounts with a range.
CATEGORICAL_FEATURE = next(column for column in schema.FEATURES if column.categorical)
NUMERICAL_FEATURE = next(
    column
    for column in schema.FEATURES
    if not column.categorical and column.minimum is not None and column.maximum is not None
)


def outside(column: schema.Column) -> tuple[float, float]:
    """A value just below the column's range and one just above it."""
    assert column.minimum is not None, f"{column.name} has no minimum"
    assert column.maximum is not None, f"{column.name} has no maximum"
    return column.minimum - 1, column.maximum + 1


def unseen(column: schema.Column, rides: pd.DataFrame) -> int:
    """The highest label within the column's range that none of `rides` has."""
    low, high = outside(column)
    seen = set(rides[column.name])
    return next(label for label in range(int(high) - 1, int(low), -1) if label not in seen)


@pytest.fixture(scope="session")
def raw_rides() -> pd.DataFrame:
    return simulate_month("2024-01", rides=2_000)


@pytest.fixture(scope="session")
def rides(raw_rides: pd.DataFrame) -> pd.DataFrame:
    return clean(raw_rides)


@pytest.fixture(scope="session")
def empty_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An MLflow SQLite file with its tables made: making them takes seconds, copying them not."""
    from mlflow import MlflowClient  # imported here: the tests without MLflow start faster

    folder: Path = tmp_path_factory.mktemp("empty-store")
    with contextlib.chdir(folder):  # any default artifact folder lands here
        MlflowClient(f"sqlite:///{folder / 'mlflow.db'}").search_experiments()
    return folder / "mlflow.db"


@pytest.fixture
def store(empty_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """An empty tracking store and registry of this test's own, in tmp_path, which is also the
    working folder (for the artifacts and whatever the code under test writes)."""
    import mlflow

    monkeypatch.chdir(tmp_path)
    shutil.copyfile(empty_store, tmp_path / "mlflow.db")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    mlflow.set_tracking_uri(uri)
    mlflow.set_experiment("tests")  # in this store, whatever an earlier test made active
    yield uri
    mlflow.set_tracking_uri("")


@pytest.fixture
def live() -> Iterator[Callable[[ASGIApp], str]]:
    """Serve an app over HTTP as uvicorn does, on a free loopback port, in a thread: call it with
    the app, get its URL. Every service it started stops when the test ends."""
    import uvicorn

    started: list[tuple[uvicorn.Server, threading.Thread]] = []

    def serve(app: ASGIApp) -> str:
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        started.append((server, thread))
        deadline = time.monotonic() + 60
        while not server.started:
            assert thread.is_alive(), "the service stopped before it started"
            assert time.monotonic() < deadline, "the service did not start within 60 s"
            time.sleep(0.02)
        port: int = server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    yield serve
    for server, thread in started:
        server.should_exit = True
        thread.join(timeout=30)
