"""The prediction log: every prediction the service makes, the ground truth that arrives
later, the monitoring figures, and the retraining lock. SQLite (WAL) by default; any
SQLAlchemy URL, such as PostgreSQL, through PREDICTION_LOG_URL."""

import os
import socket
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError

from .schema import FEATURES

DEFAULT_URL = "sqlite:///predictions.db"
SQL_TYPES = {"integer": sa.Integer, "number": sa.Float, "datetime": sa.DateTime}
metadata = sa.MetaData()
predictions = sa.Table(
    "predictions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("request_id", sa.String(36), nullable=False, index=True),
    sa.Column("row", sa.Integer, nullable=False),
    sa.Column("logged_at", sa.DateTime, nullable=False),
    sa.Column("model_version", sa.String(32), nullable=False),
    *(sa.Column(column.name, SQL_TYPES[column.dtype], nullable=False) for column in FEATURES),
    sa.Column("prediction", sa.Float, nullable=False),
    sa.UniqueConstraint("request_id", "row"),
)
feedback = sa.Table(
    "feedback",
    metadata,
    sa.Column("request_id", sa.String(36), primary_key=True),
    sa.Column("row", sa.Integer, primary_key=True),
    sa.Column("duration", sa.Float, nullable=False),
    sa.Column("received_at", sa.DateTime, nullable=False),
)
monitoring = sa.Table(
    "monitoring",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("run_at", sa.DateTime, nullable=False),
    sa.Column("figures", sa.JSON, nullable=False),
)
locks = sa.Table(
    "locks",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("owner", sa.String(128), nullable=False),
    sa.Column("acquired_at", sa.DateTime, nullable=False),
)


class Locked(Exception):
    """Another process holds the lock."""


@dataclass(frozen=True)
class FeedbackOutcome:
    """What `add_feedback` did with a batch: nothing at all when an item is unknown or in
    conflict. Items are named by their position in the batch."""

    stored: int = 0  # new actual durations
    already_stored: int = 0  # sent again with the duration already stored: nothing to do
    corrected: int = 0  # a stored duration replaced, on purpose
    unknown: list[int] = field(default_factory=list)  # match no logged prediction
    conflicts: dict[int, float] = field(default_factory=dict)  # -> the duration already there


def url_from_env() -> str:
    return os.environ.get("PREDICTION_LOG_URL") or DEFAULT_URL


def now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def rows_of(
    request_id: str, version: str, rides: list[dict[str, Any]], minutes: list[float]
) -> list[dict[str, Any]]:
    """The log's rows for one request: each ride with its prediction."""
    logged_at = now()
    return [
        {**ride, "request_id": request_id, "row": row, "logged_at": logged_at,
         "model_version": version, "prediction": prediction}
        for row, (ride, prediction) in enumerate(zip(rides, minutes, strict=True))
    ]  # fmt: skip


class PredictionLog:
    """Durable records; a write returns only once it is committed, or raises."""

    def __init__(self, url: str | None = None, existing: bool = False) -> None:
        """With `existing` (a command that adds to what the service logged), a local log that
        is not there is an error, not a new empty one: run from another folder, every ride
        would be unknown."""
        url = url or url_from_env()
        local = Path(url.removeprefix("sqlite:///"))
        if existing and url == DEFAULT_URL and not local.exists():
            raise FileNotFoundError(
                f"no {local} in {Path.cwd()}: run this in the project's folder, where the service "
                "logs its predictions, or set PREDICTION_LOG_URL"
            )
        self.engine = sa.create_engine(url, connect_args=self._connect_args(url))
        if self.engine.dialect.name == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_wal)
        metadata.create_all(self.engine)
        self._writing = threading.Lock()  # SQLite has one writer; queue ours in-process

    @staticmethod
    def _connect_args(url: str) -> dict[str, Any]:
        return {"timeout": 30, "check_same_thread": False} if url.startswith("sqlite") else {}

    def record(
        self, request_id: str, version: str, rides: list[dict[str, Any]], minutes: list[float]
    ) -> None:
        """Log one request's rides and predictions, committed before this returns."""
        error = self.record_group([rows_of(request_id, version, rides, minutes)])[0]
        if error is not None:
            raise error

    def record_group(self, requests: list[list[dict[str, Any]]]) -> list[Exception | None]:
        """Log the rows of several requests in one transaction (a group commit); returns, for
        each request, None once its rows are committed, or the error that kept them out. When
        the group fails, each request is tried alone: one bad request fails no other."""
        try:
            with self._writing, self.engine.begin() as connection:
                connection.execute(predictions.insert(), [row for rows in requests for row in rows])
        except SQLAlchemyError as error:
            if len(requests) == 1:
                return [error]
            return [self.record_group([rows])[0] for rows in requests]
        return [None] * len(requests)

    def add_feedback(self, items: list[dict[str, Any]], correct: bool = False) -> FeedbackOutcome:
        """Store actual durations for logged predictions, all or none. A (request_id, row)
        that already has another duration is a conflict, and then nothing is stored, unless
        `correct` says to replace it; the same duration again changes nothing."""
        try:
            return self._store_feedback(items, correct)
        except (IntegrityError, OperationalError):  # another process wrote one meanwhile
            return self._store_feedback(items, correct)  # look again

    def _store_feedback(self, items: list[dict[str, Any]], correct: bool) -> FeedbackOutcome:
        request_ids = {item["request_id"] for item in items}
        with self._writing, self.engine.begin() as connection:
            logged = sa.select(predictions.c.request_id, predictions.c.row).where(
                predictions.c.request_id.in_(request_ids)
            )
            known = {(r.request_id, r.row) for r in connection.execute(logged)}
            labelled = sa.select(feedback).where(feedback.c.request_id.in_(request_ids))
            stored = {(r.request_id, r.row): r.duration for r in connection.execute(labelled)}
            outcome, writes = _sort_feedback(items, known, stored, correct)
            if writes and not (outcome.unknown or outcome.conflicts):
                # Only corrections replace a row; a new one that another process stored
                # meanwhile fails on the primary key, and the batch is looked at again.
                if corrections := [key for key in writes if key in stored]:
                    key = sa.tuple_(feedback.c.request_id, feedback.c.row)
                    connection.execute(feedback.delete().where(key.in_(corrections)))
                received_at = now()
                connection.execute(
                    feedback.insert(),
                    [{"request_id": request_id, "row": row, "duration": duration,
                      "received_at": received_at}
                     for (request_id, row), duration in writes.items()],
                )  # fmt: skip
        return outcome

    def window(self, size: int, labelled: bool = False, version: str | None = None) -> pd.DataFrame:
        """The newest `size` predictions, with the actual duration where it has arrived; or,
        when `labelled`, the newest `size` predictions whose actual duration has arrived.
        With a `version`, only the predictions that model version made."""
        match = (predictions.c.request_id == feedback.c.request_id) & (
            predictions.c.row == feedback.c.row
        )
        rows = sa.select(predictions, feedback.c.duration).select_from(
            predictions.join(feedback, match, isouter=not labelled)
        )
        if version is not None:
            rows = rows.where(predictions.c.model_version == version)
        newest = rows.order_by(predictions.c.id.desc()).limit(size).subquery()
        query = sa.select(newest).order_by(newest.c.id)
        with self.engine.connect() as connection:
            frame = pd.read_sql(query, connection)
        # SQLAlchemy's quoted names are not plain str, and scikit-learn wants str column names.
        return frame.rename(columns=str)

    def count(self) -> int:
        with self.engine.connect() as connection:
            return connection.execute(
                sa.select(sa.func.count()).select_from(predictions)
            ).scalar_one()

    def record_figures(self, figures: dict[str, Any]) -> None:
        with self._writing, self.engine.begin() as connection:
            connection.execute(monitoring.insert(), [{"run_at": now(), "figures": figures}])

    def figures(self) -> pd.DataFrame:
        """Every monitoring run's figures, oldest first: the trend."""
        with self.engine.connect() as connection:
            rows = connection.execute(sa.select(monitoring).order_by(monitoring.c.id)).all()
        return pd.DataFrame([{"run_at": row.run_at, **row.figures} for row in rows])

    def acquire(self, name: str, stale_after: timedelta) -> tuple[str, str | None]:
        """Take the named lock, or raise Locked; returns our owner id and, when we took it over,
        the owner that abandoned it (it died on this host, or held it past `stale_after`)."""
        owner, abandoned_by = f"{socket.gethostname()}:{os.getpid()}", None
        for _ in range(2):
            try:
                with self.engine.begin() as connection:
                    connection.execute(
                        locks.insert(), [{"name": name, "owner": owner, "acquired_at": now()}]
                    )
                return owner, abandoned_by
            except IntegrityError:
                with self.engine.begin() as connection:
                    held = connection.execute(sa.select(locks).where(locks.c.name == name)).one()
                    if not _abandoned(held.owner, held.acquired_at, stale_after):
                        message = f"{name} is held by {held.owner} since {held.acquired_at}"
                        raise Locked(message) from None
                    connection.execute(
                        locks.delete().where((locks.c.name == name) & (locks.c.owner == held.owner))
                    )
                    abandoned_by = held.owner
        raise Locked(f"{name}: could not take over an abandoned lock")

    def release(self, name: str, owner: str) -> None:
        with self.engine.begin() as connection:
            connection.execute(
                locks.delete().where((locks.c.name == name) & (locks.c.owner == owner))
            )


def _sort_feedback(
    items: list[dict[str, Any]],
    known: set[tuple[str, int]],
    stored: dict[tuple[str, int], float],
    correct: bool,
) -> tuple[FeedbackOutcome, dict[tuple[str, int], float]]:
    """What to do with each item, given the logged keys and the durations stored for them;
    returns the outcome and the durations to write by key."""
    writes: dict[tuple[str, int], float] = {}
    unknown, conflicts, already = [], {}, 0
    for position, item in enumerate(items):
        key, duration = (item["request_id"], item["row"]), item["duration"]
        current = writes.get(key, stored.get(key))
        if key not in known:
            unknown.append(position)
        elif current is None:
            writes[key] = duration
        elif current == duration:
            already += 1
        elif correct and key not in writes:
            writes[key] = duration
        else:
            conflicts[position] = current
    corrected = sum(1 for key in writes if key in stored)
    outcome = FeedbackOutcome(len(writes) - corrected, already, corrected, unknown, conflicts)
    return outcome, writes


def _abandoned(owner: str, acquired_at: datetime, stale_after: timedelta) -> bool:
    """A holder on this host is asked whether it still runs; one on another host, whose
    processes we cannot see, only by the lock's age."""
    host, _, pid = owner.rpartition(":")
    if host == socket.gethostname() and pid.isdigit() and not _running(int(pid)):
        return True
    return now() - acquired_at > stale_after


def _running(pid: int) -> bool:
    """Whether process `pid` exists on this host (signal 0 checks, and sends nothing)."""
    if os.name == "nt":  # signal 0 would be Ctrl+C there: trust the lock's age instead
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, and belongs to another user
        return True
    return True


def _sqlite_wal(connection: DBAPIConnection, _record: object) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")  # durable across process crashes in WAL mode
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()
