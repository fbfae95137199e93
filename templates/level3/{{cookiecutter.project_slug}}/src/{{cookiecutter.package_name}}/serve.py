"""Scoring service: the registry's champion behind FastAPI (predict, health, model, reload).
Its contract is declared: typed bodies and answers, one shape for every error, a size limit, and
a token on the write endpoint; /docs and /openapi.json show it."""

import asyncio
import hmac
import ipaddress
import logging
import threading
import weakref
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import pandas as pd
from fastapi import Body, Depends, FastAPI, HTTPException, Request, params
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Discriminator,
    Field,
    Tag,
    create_model,
)
from pydantic.config import JsonDict
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import ElasticNet, LinearRegression, Ridge
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from . import registry, schema

MAX_BATCH = 1000  # rides per request; larger batches get a 422
MAX_BODY_BYTES = 1_000_000  # a larger request body gets a 413 before it is read whole
EXAMPLE_RIDE: JsonDict = {column.name: column.typical for column in schema.FEATURES}
EXAMPLE_MISSING = schema.FEATURES[0].name  # the error examples: a ride sent without it
log = logging.getLogger(__name__)


def whole(value: Any) -> Any:
    """A float with no fraction, such as 74.0, is the integer 74 to JSON Schema (and to
    JavaScript), so to the contract too; a string such as "74" stays an error."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


Whole = Annotated[int, BeforeValidator(whole)]


def ride_field(column: schema.Column) -> tuple[Any, Any]:
    """The request field of a feature column: its type, valid range and meaning."""
    low, high, description = column.minimum, column.maximum, column.description
    if column.dtype == "integer":
        return Whole, Field(ge=low, le=high, description=description)
    if column.dtype == "number":
        return float, Field(ge=low, le=high, allow_inf_nan=False, description=description)
    raise TypeError(f"feature {column.name}: the service takes integers and numbers only")


if TYPE_CHECKING:  # the type checker sees a model; its fields are schema.FEATURES at run time
    Ride = BaseModel
else:
    Ride = create_model(
        "Ride",
        __doc__="One ride to score: the trip-record fields that the model uses.",
        __config__=ConfigDict(
            extra="forbid", strict=True, json_schema_extra={"examples": [EXAMPLE_RIDE]}
        ),
        **{column.name: ride_field(column) for column in schema.FEATURES},
    )


def one_or_many(value: Any) -> str:
    """Which form a body takes: a JSON array is a batch, anything else one item."""
    return "batch" if isinstance(value, list) else "one"


Item = TypeVar("Item", bound=BaseModel)
# The body type of one item (a JSON object) or a batch (a JSON array of 1 to MAX_BATCH items).
# The discriminator picks the form first: a bad body gets its own form's errors only.
OneOrBatch = Annotated[
    Annotated[Item, Tag("one")]
    | Annotated[list[Item], Field(min_length=1, max_length=MAX_BATCH), Tag("batch")],
    Discriminator(one_or_many),
]
Rides = OneOrBatch[Ride]


class Predictions(BaseModel):
    """Predicted durations in minutes, in the order of the rides sent."""

    predictions: list[float]
    model_version: str


class Health(BaseModel):
    status: str = Field(examples=["ok"])
    model_version: str
    code_version: str | None = Field(
        default=None, description="the commit the image was built from; absent without one"
    )


class ModelInfo(BaseModel):
    """The model being served, as the registry records it."""

    name: str
    version: str
    alias: str
    run_id: str
    metrics: dict[str, float] = Field(description="the training run's metrics")
    gate: dict[str, str] = Field(description="the gate's decision, as tagged on the version")


class Reloaded(BaseModel):
    previous_version: str | None
    version: str


class Violation(BaseModel):
    """One thing wrong with a request: where, what, and its kind."""

    loc: list[str | int] = Field(examples=[["body", "one", EXAMPLE_MISSING]])
    msg: str = Field(examples=["Field required"])
    type: str = Field(examples=["missing"])


class Problem(BaseModel):
    """Every error answer: its status, what is wrong in one sentence, and for a request that
    breaks the contract, each violation."""

    status: int = Field(examples=[422])
    detail: str = Field(examples=[f"body.one.{EXAMPLE_MISSING}: Field required"])
    errors: list[Violation] = []


def problem(
    status: int,
    detail: str,
    errors: list[Violation] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """The JSON answer of an error."""
    body = Problem(status=status, detail=detail, errors=errors or [])
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


def _where(loc: Sequence[str | int]) -> str:
    return ".".join(str(part) for part in loc)


def invalid_request(_request: Request, error: RequestValidationError) -> JSONResponse:
    """A 422 naming every violation; a body that is not JSON says so first."""
    found = error.errors()
    for item in found:
        if item["type"] == "json_invalid":
            reason = item.get("ctx", {}).get("error", "malformed")
            where = item["loc"][-1]
            return problem(422, f"the body is not valid JSON: {reason} (at character {where})")
    violations = [
        Violation(loc=list(item["loc"]), msg=item["msg"], type=item["type"]) for item in found
    ]
    detail = "; ".join(f"{_where(v.loc)}: {v.msg}" for v in violations[:3])
    if len(violations) > 3:
        detail += f"; and {len(violations) - 3} more"
    return problem(422, detail, violations)


def http_error(_request: Request, error: StarletteHTTPException) -> JSONResponse:
    """Every other error in the one shape. A body that JSON cannot parse (invalid UTF-8,
    nesting deeper than the parser's recursion limit) is a 422, as malformed JSON is."""
    cause = error.__cause__
    if isinstance(cause, UnicodeDecodeError):
        return problem(422, f"the body is not valid JSON: not UTF-8 ({cause.reason})")
    if isinstance(cause, RecursionError):
        return problem(422, "the body is not valid JSON: it nests too deeply to parse")
    if isinstance(cause, ValueError) and error.status_code == 400:
        return problem(422, f"the body is not valid JSON: {cause}")
    return problem(error.status_code, str(error.detail), headers=error.headers)


def internal_error(_request: Request, error: Exception) -> JSONResponse:
    """A bug's 500, in the one shape too; the server logs its traceback."""
    return problem(500, f"internal error ({type(error).__name__}): see the service's log")


class BodyLimit:
    """ASGI middleware: a request body over `limit` bytes gets a 413, on its Content-Length
    before anything is read, or as soon as what streams in (chunked) passes the limit."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = f"the body is larger than MAX_BODY_BYTES = {self.limit} bytes"
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.limit:
            await problem(413, too_large)(scope, receive, send)
            return
        received = 0

        async def counting() -> Message:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.limit:
                raise HTTPException(413, too_large)  # answered by http_error, like any error
            return message

        await self.app(scope, counting, send)


async def json_body(request: Request) -> None:
    """Bodies are JSON: anything else gets a 415 that says which header to send. (Async: a
    plain function would run in a worker thread, a hop that costs more than the check.)"""
    content_type = request.headers.get("content-type", "")
    media = content_type.split(";")[0].strip().lower()
    json_type = media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )
    if not json_type:
        got = f"Content-Type {content_type!r}" if content_type else "no Content-Type"
        raise HTTPException(415, f"send JSON with Content-Type: application/json (got {got})")


def write_access(token: str | None) -> list[params.Depends]:
    """The dependency that guards the write endpoints: none without a token, else a bearer
    token compared in constant time (401 without one, 403 when it is wrong)."""
    if not token:
        return []
    bearer = HTTPBearer(auto_error=False, description="the service's SERVICE_TOKEN")

    async def check(
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> None:
        if credentials is None:
            raise HTTPException(
                401,
                "this endpoint needs the header Authorization: Bearer <SERVICE_TOKEN>",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if not hmac.compare_digest(credentials.credentials.encode(), token.encode()):
            raise HTTPException(403, "the bearer token is not the service's SERVICE_TOKEN")

    return [Depends(check)]


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def open_writes_problem(host: str, token: str | None, allow_open_writes: bool) -> str | None:
    """Why the service must not start: write endpoints open to a network; None when it may."""
    if token or allow_open_writes or is_loopback(host):
        return None
    return (
        f"refusing to serve on {host} with POST /reload open to anyone who reaches it: "
        "set SERVICE_TOKEN (writes then need the header Authorization: Bearer <token>), "
        "or set ALLOW_OPEN_WRITES=1 to serve them open on purpose"
    )


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI description of an endpoint's error answers."""
    meaning = {
        401: "no bearer token (when SERVICE_TOKEN is set)",
        403: "a wrong bearer token",
        409: "the registry has no champion yet",
        413: f"a body over MAX_BODY_BYTES (default {MAX_BODY_BYTES} bytes)",
        415: "a body that is not sent as application/json",
        422: "a body that breaks the contract: not JSON, or not the schema",
        503: "no champion model is loaded yet, or the registry is unavailable",
    }
    return {status: {"model": Problem, "description": meaning[status]} for status in statuses}


BODY_ERRORS = (413, 415, 422)


class Champion:
    """The release being served. A reload loads the new model first, then swaps it in whole,
    so every request is scored by exactly one model, old or new."""

    def __init__(self) -> None:
        self.release: registry.Release | None = None
        self.info: dict[str, Any] = {}
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

    def serving(self) -> registry.Release:
        """The release to score with; before one is loaded, a 503."""
        if self.release is None:
            raise HTTPException(503, "no champion model is loaded yet")
        return self.release


Scorer = Callable[[list[Ride]], list[float]]
Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]
# Regressors whose prediction is X @ coef_ + intercept_ (Lasso is an ElasticNet).
LINEAR = (LinearRegression, Ridge, ElasticNet)
# model -> its scorer
_scorers: weakref.WeakKeyDictionary[Pipeline, Scorer] = weakref.WeakKeyDictionary()


def linear_scorer(model: Pipeline) -> Scorer | None:
    """The same predictions as `model.predict` by lookups, for one-hot columns and
    passthrough numbers into a linear model; None for any other pipeline. A one-row pandas
    frame through scikit-learn's ColumnTransformer costs milliseconds; lookups, microseconds."""
    steps = dict(model.steps) if isinstance(model, Pipeline) else {}
    encode, regressor = steps.get("features"), steps.get("regressor")
    if not isinstance(encode, ColumnTransformer) or not isinstance(regressor, LINEAR):
        return None
    coef, offset = regressor.coef_.ravel(), 0
    lookups: dict[str, dict[object, float]] = {}
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
        frame = pd.DataFrame([ride.model_dump() for ride in rides])
        columns = list(getattr(model, "feature_names_in_", frame.columns))  # in the fit's order
        return [float(minutes) for minutes in model.predict(frame[columns])]

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


def keep_loaded(champion: Champion, reload_seconds: float) -> Lifespan:
    """The service's lifespan: load the champion at start (when there is one), and with
    `reload_seconds` > 0, poll the registry for a new one until the service stops."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if champion.release is None:
            try:
                await asyncio.to_thread(champion.reload)
            except (LookupError, MlflowException, OSError) as error:
                log.warning("no champion loaded yet: %s", error)
        poll = asyncio.create_task(_poll(champion, reload_seconds)) if reload_seconds else None
        yield
        if poll:
            poll.cancel()

    return lifespan


def create_app(
    champion: Champion | None = None,
    reload_seconds: float = 0,
    token: str | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
    code_version: str | None = None,
) -> FastAPI:
    """The service; it starts even without a champion, and is healthy once one is loaded.
    With a `token`, POST /reload needs it as a bearer token. /health names the `code_version`
    (the image's commit), so a rollout can check that it took effect."""
    champion = champion or Champion()

    app = FastAPI(
        title=f"{registry.MODEL_NAME} scoring service",
        description=__doc__,
        lifespan=keep_loaded(champion, reload_seconds),
    )
    app.add_middleware(BodyLimit, limit=max_body_bytes)
    app.state.champion = champion
    app.exception_handler(RequestValidationError)(invalid_request)
    app.exception_handler(StarletteHTTPException)(http_error)
    app.add_exception_handler(Exception, internal_error)
    writes = write_access(token)

    @app.post("/predict", dependencies=[Depends(json_body)], responses=errors(*BODY_ERRORS, 503))
    async def predict(
        rides: Annotated[
            Rides,
            Body(
                openapi_examples={
                    "one ride": {"value": EXAMPLE_RIDE},
                    "a batch": {"value": [EXAMPLE_RIDE, EXAMPLE_RIDE]},
                }
            ),
        ],
    ) -> Predictions:
        """Predicted durations (minutes) for one ride (a JSON object) or a batch (a JSON array
        of 1 to MAX_BATCH rides), in the order sent."""
        batch = rides if isinstance(rides, list) else [rides]
        release = champion.serving()
        # Scored in the event loop: a few milliseconds of CPU, cheaper than a thread hop.
        minutes = predict_minutes(release, batch)
        return Predictions(predictions=minutes, model_version=release.version)

    @app.get("/health", responses=errors(503), response_model_exclude_none=True)
    def health() -> Health:
        """200 once a champion is loaded, 503 before."""
        return Health(
            status="ok", model_version=champion.serving().version, code_version=code_version
        )

    @app.get("/model", responses=errors(503))
    def model() -> ModelInfo:
        """Name, version, alias, run, metrics and gate decision of the model being served."""
        champion.serving()
        return ModelInfo(**champion.info)

    @app.post("/reload", dependencies=writes, responses=errors(401, 403, 409, 503))
    def reload() -> Reloaded:
        """Load the registry's current champion without a restart."""
        try:
            previous, version = champion.reload()
        except LookupError as error:
            raise HTTPException(409, str(error)) from None
        except (MlflowException, OSError) as error:
            raise HTTPException(503, f"registry unavailable: {error}") from None
        return Reloaded(previous_version=previous, version=version)

    return app
