"""Scoring service: the registry's champion behind FastAPI (predict, health, model, reload).
Level 4: every prediction is logged, and ground truth comes back through /feedback."""

import asyncio
import json
import logging
import threading
import uuid
import weakref
from collections.abc import Callable
from contextlib import asynccontextmanager
from typing import Annotated

import pandas as pd
from fastapi import FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from sklearn.compose import ColumnTransformer
from sklearn.linear_model._base import LinearModel
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder
from sqlalchemy.exc import SQLAlchemyError

from . import registry
from .predlog import PredictionLog
from .simulate import N_ZONES

MAX_BATCH = 1000  # rides per request; larger batches get a 422
log = logging.getLogger(__name__)


class Ride(BaseModel):
    """One ride to score: the trip-record fields that the model uses."""

    model_config = ConfigDict(extra="forbid", strict=True)
    PULocationID: int = Field(ge=1, le=N_ZONES, description="pick-up TLC taxi zone")
    DOLocationID: int = Field(ge=1, le=N_ZONES, description="drop-off TLC taxi zone")
    trip_distance: float = Field(ge=0, le=500, description="miles")


class Predictions(BaseModel):
    """Predicted durations in minutes, in the order of the rides sent."""

    predictions: list[float]
    model_version: str
    request_id: str  # with the row number, what /feedback joins the actual duration to


class Feedback(BaseModel):
    """The actual duration of a ride that was predicted, once it is known."""

    model_config = ConfigDict(extra="forbid", strict=True)
    request_id: str = Field(min_length=1, max_length=36)
    row: int = Field(default=0, ge=0, description="the ride's position in its request")
    duration: float = Field(gt=0, le=1440, description="minutes")


ONE_RIDE = TypeAdapter(Ride)
BATCH = TypeAdapter(Annotated[list[Ride], Field(min_length=1, max_length=MAX_BATCH)])
ONE_FEEDBACK = TypeAdapter(Feedback)
FEEDBACKS = TypeAdapter(Annotated[list[Feedback], Field(min_length=1, max_length=MAX_BATCH)])


def parse(body: bytes, one: TypeAdapter, many: TypeAdapter) -> list:
    """One item (a JSON object) or a batch (a JSON array); HTTP 422 with the reasons if not."""
    try:
        payload = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise HTTPException(422, f"the body is not valid JSON: {error}") from None
    try:
        if isinstance(payload, list):
            return many.validate_python(payload)
        return [one.validate_python(payload)]
    except ValidationError as error:
        details = error.errors(include_url=False, include_input=False, include_context=False)
        raise HTTPException(422, details) from None


def parse_rides(body: bytes) -> list[Ride]:
    return parse(body, ONE_RIDE, BATCH)


class Champion:
    """The release being served. A reload loads the new model first, then swaps it in whole,
    so every request is scored by exactly one model, old or new."""

    def __init__(self) -> None:
        self.release: registry.Release | None = None
        self.info: dict = {}
        self._reloading = threading.Lock()

    def reload(self) -> tuple[str | None, str]:
        """Load the current champion; returns the previous and the new version."""
        with self._reloading:
            release = registry.load(registry.CHAMPION)
            client = MlflowClient()
            version = client.get_model_version(release.name, release.version)
            info = {
                "name": release.name,
                "version": release.version,
                "alias": release.alias,
                "run_id": release.run_id,
                "metrics": client.get_run(release.run_id).data.metrics,
                "gate": {k: v for k, v in version.tags.items() if k.startswith("gate.")},
            }
            scorer_for(release.model)  # compiled before it serves its first request
            previous = self.release.version if self.release else None
            self.release, self.info = release, info
        return previous, release.version


Scorer = Callable[[list[Ride]], list[float]]
_scorers: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # model -> its scorer


def linear_scorer(model: Pipeline) -> Scorer | None:
    """The same predictions as `model.predict` by lookups, for one-hot columns and
    passthrough numbers into a linear model; None for any other pipeline. A one-row pandas
    frame through scikit-learn's ColumnTransformer costs milliseconds; lookups, microseconds."""
    steps = dict(model.steps) if isinstance(model, Pipeline) else {}
    encode, regressor = steps.get("features"), steps.get("regressor")
    if not isinstance(encode, ColumnTransformer) or not isinstance(regressor, LinearModel):
        return None
    coef, offset = regressor.coef_.ravel(), 0
    lookups: dict[str, dict] = {}
    weights: dict[str, float] = {}
    for _, transformer, columns in encode.transformers_:
        if transformer == "drop":
            continue
        if transformer == "passthrough" or (  # fitted, it is an identity FunctionTransformer
            isinstance(transformer, FunctionTransformer) and transformer.func is None
        ):
            for column in columns:
                weights[column], offset = float(coef[offset]), offset + 1
        elif (
            isinstance(transformer, OneHotEncoder)
            and transformer.drop is None
            and transformer.handle_unknown == "ignore"
            and not getattr(transformer, "_infrequent_enabled", False)
        ):
            for column, categories in zip(columns, transformer.categories_, strict=True):
                values = coef[offset : offset + len(categories)].tolist()
                lookups[column], offset = (
                    dict(zip(categories.tolist(), values, strict=True)),
                    (offset + len(categories)),
                )
        else:
            return None
    if offset != len(coef):
        return None
    intercept = float(regressor.intercept_)

    def score(rides: list[Ride]) -> list[float]:
        return [
            intercept
            + sum(table.get(getattr(ride, column), 0.0) for column, table in lookups.items())
            + sum(weight * getattr(ride, column) for column, weight in weights.items())
            for ride in rides
        ]

    return score


def pandas_scorer(model: Pipeline) -> Scorer:
    """Any pipeline: the rides as a frame, through `model.predict`."""

    def score(rides: list[Ride]) -> list[float]:
        frame = pd.DataFrame(
            {
                "PULocationID": [ride.PULocationID for ride in rides],
                "DOLocationID": [ride.DOLocationID for ride in rides],
                "trip_distance": [ride.trip_distance for ride in rides],
            }
        )
        return [float(minutes) for minutes in model.predict(frame)]

    return score


def scorer_for(model: Pipeline) -> Scorer:
    """The fastest exact scorer for a model, compiled once per model."""
    scorer = _scorers.get(model)
    if scorer is None:
        scorer = _scorers[model] = linear_scorer(model) or pandas_scorer(model)
    return scorer


def predict_minutes(release: registry.Release, rides: list[Ride]) -> list[float]:
    """Score rides with one release's model."""
    return scorer_for(release.model)(rides)


async def _poll(champion: Champion, seconds: float) -> None:
    """Reload whenever the registry's champion alias moves (when RELOAD_SECONDS > 0)."""
    while True:
        await asyncio.sleep(seconds)
        try:
            current = await asyncio.to_thread(registry.version_for, registry.CHAMPION)
            if current and (champion.release is None or current != champion.release.version):
                previous, new = await asyncio.to_thread(champion.reload)
                log.warning("champion reloaded: version %s -> %s", previous, new)
        except (LookupError, MlflowException, OSError) as error:
            log.warning("champion poll failed, still serving the loaded model: %s", error)


def create_app(
    champion: Champion | None = None,
    reload_seconds: float = 0,
    prediction_log: PredictionLog | None = None,
) -> FastAPI:
    """The service; it starts even without a champion, and is healthy once one is loaded."""
    champion = champion or Champion()
    prediction_log = prediction_log or PredictionLog()

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if champion.release is None:
            try:
                await asyncio.to_thread(champion.reload)
            except (LookupError, MlflowException, OSError) as error:
                log.warning("no champion loaded yet: %s", error)
        poll = asyncio.create_task(_poll(champion, reload_seconds)) if reload_seconds else None
        yield
        if poll:
            poll.cancel()

    app = FastAPI(title=f"{registry.MODEL_NAME} scoring service", lifespan=lifespan)
    app.state.champion = champion

    def serving() -> registry.Release:
        release = champion.release
        if release is None:
            raise HTTPException(503, "no champion model is loaded yet")
        return release

    @app.post("/predict", response_model=Predictions)
    async def predict(request: Request) -> Predictions:
        """Predicted durations (minutes) for one ride (a JSON object with PULocationID,
        DOLocationID and trip_distance) or a batch (a JSON array of up to MAX_BATCH of them)."""
        rides = parse_rides(await request.body())
        release = serving()
        # Scored in the event loop: a few milliseconds of CPU, cheaper than a thread hop.
        minutes = predict_minutes(release, rides)
        request_id = uuid.uuid4().hex
        logged = [ride.model_dump() for ride in rides]
        # The answer leaves only once its log rows are committed. In the event loop, like the
        # scoring: a SQLite commit in WAL mode takes ~0.1 ms, less than a thread hop.
        try:
            prediction_log.record(request_id, release.version, logged, minutes)
        except SQLAlchemyError as error:
            log.error("prediction %s not logged: %s", request_id, error)
            raise HTTPException(503, "the prediction log is unavailable; nothing served") from None
        version = release.version
        return Predictions(predictions=minutes, model_version=version, request_id=request_id)

    @app.post("/feedback")
    async def add_feedback(request: Request) -> dict:
        """Actual durations for logged predictions: one object or a list of
        {request_id, row, duration}. All are stored, or none when one matches no prediction."""
        items = [item.model_dump() for item in parse(await request.body(), ONE_FEEDBACK, FEEDBACKS)]
        try:
            unknown = await asyncio.to_thread(prediction_log.add_feedback, items)
        except SQLAlchemyError as error:
            raise HTTPException(503, f"the prediction log is unavailable: {error}") from None
        if unknown:
            raise HTTPException(404, {"no logged prediction for": unknown})
        return {"stored": len(items)}

    @app.get("/health")
    def health() -> JSONResponse:
        """200 once a champion is loaded, 503 before."""
        if champion.release is None:
            return JSONResponse({"status": "no model loaded"}, status_code=503)
        return JSONResponse({"status": "ok", "model_version": champion.release.version})

    @app.get("/model")
    def model() -> dict:
        """Name, version, alias, run, metrics and gate decision of the model being served."""
        serving()
        return champion.info

    @app.post("/reload")
    def reload() -> dict:
        """Load the registry's current champion without a restart."""
        try:
            previous, version = champion.reload()
        except LookupError as error:
            raise HTTPException(409, str(error)) from None
        except (MlflowException, OSError) as error:
            raise HTTPException(503, f"registry unavailable: {error}") from None
        return {"previous_version": previous, "version": version}

    return app
