"""The scoring service: predictions, health, model info, reload, and clear 4xx on bad input;
its declared contract, hostile bodies, the size limit and the token on writes."""

import asyncio
import dataclasses
import http.client
import http.server
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
import pytest
import schemathesis
import sqlalchemy
from conftest import CATEGORICAL_FEATURE, NUMERICAL_FEATURE, RIDE, outside, unseen
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, settings
from mlflow import MlflowClient
from schemathesis import Case
from sklearn.compose import ColumnTransformer
from sklearn.linear_model import Lasso, LinearRegression
from sklearn.pipeline import Pipeline
from sklearn.tree import DecisionTreeRegressor
from sqlalchemy.exc import IntegrityError
from starlette.types import Message, Scope

from {{ cookiecutter.package_name }} import registry, tracking
from {{ cookiecutter.package_name }}.cli import main
from {{ cookiecutter.package_name }}.deploy import deploy, stop_local, wait_healthy
from {{ cookiecutter.package_name }}.predict import predict
from {{ cookiecutter.package_name }}.predlog import PredictionLog, rows_of
from {{ cookiecutter.package_name }}.schema import TARGET
from {{ cookiecutter.package_name }}.serve import (
    MAX_BATCH,
    MAX_BODY_BYTES,
    Champion,
    GroupCommit,
    Problem,
    Ride,
    create_app,
    linear_scorer,
    open_writes_problem,
    pandas_scorer,
)
from {{ cookiecutter.package_name }}.train import train

FEATURES = list(RIDE)  # what a request holds: every feature of the schema
LABEL, AMOUNT = CATEGORICAL_FEATURE.name, NUMERICAL_FEATURE.name
JSON = {"Content-Type": "application/json"}
TOKEN = "a-test-token"  # noqa: S105 (not a secret)
ALL_INTERFACES = "0.0.0.0"  # noqa: S104 (where the service must refuse open writes)


@pytest.fixture(scope="module")
def tracking_uri(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A registry in a temporary SQLite file whose champion is a model trained on a tiny frame."""
    uri = f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"
    previous = os.environ.get("MLFLOW_TRACKING_URI")
    os.environ["MLFLOW_TRACKING_URI"] = uri
    log_url = f"sqlite:///{tmp_path_factory.mktemp('log') / 'predictions.db'}"
    os.environ["PREDICTION_LOG_URL"] = log_url
    mlflow.set_tracking_uri(uri)
    yield uri
    mlflow.set_tracking_uri(previous or "")
    os.environ.pop("MLFLOW_TRACKING_URI") if previous is None else None


def register(model: Pipeline, alias: str = registry.CHAMPION) -> str:
    tracking.start("serve-tests")  # in this store (its artifacts beside it), whatever was active
    with mlflow.start_run():
        info = mlflow.sklearn.log_model(model, name="model")
    version = str(mlflow.register_model(info.model_uri, registry.MODEL_NAME).version)
    MlflowClient().set_registered_model_alias(registry.MODEL_NAME, alias, version)
    return version


@pytest.fixture(scope="module")
def model(rides: pd.DataFrame, tracking_uri: str) -> Pipeline:
    fitted = train(rides, alpha=1.0)
    register(fitted)
    return fitted


@pytest.fixture
def client(model: Pipeline) -> Iterator[TestClient]:
    with TestClient(create_app()) as test_client:
        yield test_client


def test_predict__one_ride_equals_the_offline_prediction(
    client: TestClient, model: Pipeline, rides: pd.DataFrame
) -> None:
    ride = rides.iloc[[0]][FEATURES]
    answer = client.post("/predict", json=ride.to_dict(orient="records")[0])
    assert answer.status_code == 200
    assert answer.json()["predictions"] == pytest.approx(predict(model, ride).tolist())


def test_predict__a_batch_keeps_its_order(
    client: TestClient, model: Pipeline, rides: pd.DataFrame
) -> None:
    sample = rides.head(50)[FEATURES]
    answer = client.post("/predict", json=sample.to_dict(orient="records"))
    assert answer.json()["predictions"] == pytest.approx(predict(model, sample).tolist())


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (json.dumps(RIDE).encode()[:-1], "not valid JSON"),
        ({k: v for k, v in RIDE.items() if k != AMOUNT}, "Field required"),
        ({**RIDE, "fare": 12.5}, "Extra inputs are not permitted"),
        ({**RIDE, LABEL: str(RIDE[LABEL])}, "valid integer"),
        (
            {**RIDE, AMOUNT: outside(NUMERICAL_FEATURE)[0]},
            f"greater than or equal to {NUMERICAL_FEATURE.minimum}",
        ),
        (
            {**RIDE, LABEL: int(outside(CATEGORICAL_FEATURE)[1])},
            f"less than or equal to {CATEGORICAL_FEATURE.maximum}",
        ),
        ([RIDE] * (MAX_BATCH + 1), f"at most {MAX_BATCH} items"),
        ([], "at least 1 item"),
        ("a ride", "valid dictionary"),
    ],
    ids=["malformed", "missing", "extra", "type", "negative", "zone", "oversize", "empty", "str"],
)
def test_predict__bad_input_gets_a_clear_422_and_the_service_stays_up(
    client: TestClient, body: object, message: str
) -> None:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    answer = client.post("/predict", content=content, headers=JSON)
    assert answer.status_code == 422
    assert message in answer.json()["detail"], "the one-line detail says what is wrong"
    assert client.post("/predict", json=RIDE).status_code == 200


def test_health_and_model__say_what_is_served(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok", "model_version": "1"}
    info = client.get("/model").json()
    assert (info["name"], info["version"], info["alias"]) == (registry.MODEL_NAME, "1", "champion")


def test_health__503_until_a_champion_exists(
    tracking_uri: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'empty.db'}")
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        with TestClient(create_app()) as empty:
            assert empty.get("/health").status_code == 503
            assert empty.post("/predict", json=RIDE).status_code == 503
            assert empty.post("/reload").status_code == 409
    finally:
        mlflow.set_tracking_uri(tracking_uri)


def test_reload__serves_the_new_champion_without_a_restart(
    client: TestClient, rides: pd.DataFrame
) -> None:
    before = client.get("/health").json()["model_version"]
    new_version = register(train(rides, alpha=50.0))
    answer = client.post("/reload").json()
    assert answer == {"previous_version": before, "version": new_version}
    assert client.post("/predict", json=RIDE).json()["model_version"] == new_version


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_real_server__http_predictions_equal_the_champions_offline_ones_and_deploy_sends_the_token(
    model: Pipeline,
    rides: pd.DataFrame,
    tracking_uri: str,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    port, pid_file = free_port(), tmp_path / "serve.pid"
    server = subprocess.Popen(
        [sys.executable, "-m", "{{ cookiecutter.package_name }}", "serve", "--port", str(port),
         "--pid-file", str(pid_file)],
        env={**os.environ, "MLFLOW_TRACKING_URI": tracking_uri, "SERVICE_TOKEN": TOKEN},
    )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=1) as health:
                    if health.status == 200:
                        break
            except OSError:
                time.sleep(0.3)
        sample = rides.head(20)[FEATURES]
        body = json.dumps(sample.to_dict(orient="records")).encode()
        request = urllib.request.Request(f"{url}/predict", data=body, headers=JSON)
        with urllib.request.urlopen(request, timeout=10) as answer:
            served = json.loads(answer.read())
        champion = registry.load(registry.CHAMPION)
        assert served["model_version"] == champion.version
        assert served["predictions"] == pytest.approx(predict(champion.model, sample).tolist())

        monkeypatch.delenv("SERVICE_TOKEN", raising=False)
        with pytest.raises(RuntimeError, match=r"answered 401.*set SERVICE_TOKEN"):
            deploy(champion.version, url)
        monkeypatch.setenv("SERVICE_TOKEN", TOKEN)
        assert "serving champion version" in deploy(champion.version, url)
        assert pid_file.read_text().strip() == str(server.pid), "the service wrote its PID"
        assert stop_local(pid_file) == f"stopped the local service (PID {server.pid})"
        assert server.wait(timeout=10) == 0, "stopped as by Ctrl+C, not killed"
        assert not pid_file.exists()
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_group_commit__requests_of_one_loop_turn_share_a_commit_and_a_bad_one_fails_alone(
    tmp_path: Path,
) -> None:
    log = PredictionLog(f"sqlite:///{tmp_path / 'log.db'}")
    log.record("taken", "1", [RIDE], [1.0])
    commits: list[int] = []
    sqlalchemy.event.listen(log.engine, "commit", lambda _connection: commits.append(1))
    group = GroupCommit(log)

    async def burst(requests: list[str]) -> list[BaseException | None]:
        return await asyncio.gather(
            *(group.record(rows_of(request, "1", [RIDE], [9.0])) for request in requests),
            return_exceptions=True,
        )

    assert asyncio.run(burst([f"a{number}" for number in range(50)])) == [None] * 50
    assert len(commits) == 1, "50 requests, one commit"
    assert log.count() == 51
    answers = asyncio.run(burst(["b0", "taken", "b1"]))  # (taken, 0) is logged already
    assert answers[0] is None
    assert answers[2] is None
    assert isinstance(answers[1], IntegrityError)
    assert log.count() == 53


def test_real_server__killed_under_load_has_logged_every_prediction_it_answered(
    model: Pipeline, tracking_uri: str, tmp_path: Path
) -> None:
    """SIGKILL while 8 clients send requests: an answer leaves only after its group commit,
    so every request that got a 200 has its row in the log."""
    port, log_url = free_port(), f"sqlite:///{tmp_path / 'predictions.db'}"
    server = subprocess.Popen(
        [sys.executable, "-m", "{{ cookiecutter.package_name }}", "serve", "--port", str(port)],
        env={**os.environ, "MLFLOW_TRACKING_URI": tracking_uri, "PREDICTION_LOG_URL": log_url},
    )  # fmt: skip
    answered: list[str] = []
    body = json.dumps(RIDE).encode()

    def client() -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        while True:
            try:
                connection.request("POST", "/predict", body, JSON)
                answer = connection.getresponse()
                content = answer.read()
            except (OSError, http.client.HTTPException):  # the service is gone
                return
            assert answer.status == 200, content
            answered.append(json.loads(content)["request_id"])

    try:
        wait_healthy(f"http://127.0.0.1:{port}", seconds=60)
        clients = [threading.Thread(target=client) for _ in range(8)]
        for thread in clients:
            thread.start()
        deadline = time.monotonic() + 60
        while len(answered) < 500 and time.monotonic() < deadline:
            time.sleep(0.01)
        # Another writer holds the database for a while: commits wait, requests pile up.
        blocker = sqlite3.connect(tmp_path / "predictions.db", isolation_level=None)
        blocker.execute("BEGIN IMMEDIATE")
        time.sleep(1)
        server.send_signal(signal.SIGKILL)  # mid-load: requests are queued and in flight
        blocker.rollback()
        blocker.close()
        for thread in clients:
            thread.join(timeout=30)
    finally:
        server.kill()
        server.wait(timeout=10)
    logged = set(PredictionLog(log_url).window(1_000_000)["request_id"])
    assert len(answered) >= 500, "the load ran"
    assert set(answered) <= logged, f"{len(set(answered) - logged)} answered but not logged"


def test_stop__leaves_a_process_that_is_not_the_service_alone(tmp_path: Path) -> None:
    pid_file = tmp_path / "serve.pid"
    assert stop_local(pid_file) == f"no local service to stop (no {pid_file})"
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        for pid in (other.pid, 999_999_999):  # another process; a PID that no process has
            pid_file.write_text(f"{pid}\n")
            assert stop_local(pid_file).startswith("no local service to stop: PID")
            assert not pid_file.exists(), "a PID file that names no service is removed"
        assert other.poll() is None, "a process that is not the service is never signalled"
    finally:
        other.kill()
        other.wait()


def test_predict__every_ride_is_logged_with_its_request_id(client: TestClient) -> None:
    log = PredictionLog()
    before = log.count()
    answer = client.post("/predict", json=[RIDE, {**RIDE, AMOUNT: RIDE[AMOUNT] + 1}]).json()
    assert log.count() == before + 2
    logged = log.window(2)
    assert logged["request_id"].tolist() == [answer["request_id"]] * 2
    assert logged["row"].tolist() == [0, 1]
    assert logged["prediction"].tolist() == pytest.approx(answer["predictions"])


def test_feedback__joins_actual_durations_by_request_id_and_row(client: TestClient) -> None:
    answer = client.post("/predict", json=[RIDE, RIDE]).json()
    request_id = answer["request_id"]
    truth = [{"request_id": request_id, "row": row, "duration": 11.0 + row} for row in (0, 1)]
    assert client.post("/feedback", json=truth).json() == {"stored": 2, "already_stored": 0}
    assert PredictionLog().window(2)["duration"].tolist() == [11.0, 12.0]


def test_feedback__an_unknown_request_is_404_and_nothing_is_stored(client: TestClient) -> None:
    answer = client.post("/predict", json=RIDE).json()
    truth = [{"request_id": answer["request_id"], "duration": 9.0},
             {"request_id": "no-such-request", "duration": 9.0}]  # fmt: skip
    reply = client.post("/feedback", json=truth)
    assert reply.status_code == 404
    assert "no-such-request" in reply.text
    assert PredictionLog().window(1)["duration"].isna().all()


@pytest.mark.parametrize(
    "body", [{"request_id": "x", "duration": -1.0}, {"duration": 3.0}, [], b"{"]
)
def test_feedback__bad_input_gets_a_422(client: TestClient, body: object) -> None:
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    assert client.post("/feedback", content=content, headers=JSON).status_code == 422


def test_feedback__a_second_value_is_a_409_and_nothing_in_the_batch_is_stored(
    client: TestClient,
) -> None:
    request_id = client.post("/predict", json=[RIDE, RIDE]).json()["request_id"]
    first = {"request_id": request_id, "row": 0, "duration": 11.0}
    assert client.post("/feedback", json=first).json() == {"stored": 1, "already_stored": 0}
    second = [{**first, "duration": 12.0}, {"request_id": request_id, "row": 1, "duration": 13.0}]
    reply = client.post("/feedback", json=second)
    assert reply.status_code == 409
    assert reply.json()["errors"][0]["loc"] == ["body", 0]
    assert "already has the duration 11.0 min, not 12.0" in reply.json()["errors"][0]["msg"]
    logged = PredictionLog().window(2)
    assert logged["duration"].tolist()[0] == 11.0, "the stored value is kept"
    assert pd.isna(logged["duration"].tolist()[1]), "and the new one in the batch is not stored"


def test_feedback__the_same_value_sent_again_changes_nothing(client: TestClient) -> None:
    request_id = client.post("/predict", json=RIDE).json()["request_id"]
    truth = {"request_id": request_id, "duration": 11.0}
    assert client.post("/feedback", json=truth).json() == {"stored": 1, "already_stored": 0}
    assert client.post("/feedback", json=truth).json() == {"stored": 0, "already_stored": 1}


def test_feedback__two_writers_racing_for_one_ride_store_one_value(tmp_path: Path) -> None:
    """Two logs on one database, as two processes: one value wins, the other is a conflict."""
    url = f"sqlite:///{tmp_path / 'log.db'}"
    PredictionLog(url).record("race", "1", [RIDE], [10.0])
    start, outcomes = threading.Barrier(2), []

    def writer(duration: float) -> None:
        log = PredictionLog(url)
        start.wait()
        outcomes.append(log.add_feedback([{"request_id": "race", "row": 0, "duration": duration}]))

    threads = [threading.Thread(target=writer, args=(minutes,)) for minutes in (11.0, 12.0)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcome.stored for outcome in outcomes) == [0, 1]
    assert sorted(len(outcome.conflicts) for outcome in outcomes) == [0, 1]
    winner = next(outcome for outcome in outcomes if outcome.conflicts).conflicts[0]
    assert PredictionLog(url).window(1)["duration"].tolist() == [winner]


def test_feedback_cli__refuses_to_overwrite_and_corrects_on_purpose(
    client: TestClient, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    request_id = client.post("/predict", json=RIDE).json()["request_id"]
    client.post("/feedback", json={"request_id": request_id, "duration": 11.0})
    corrections = tmp_path / "corrections.csv"
    correction = {"request_id": request_id, "row": 0, "duration": 21.0}
    pd.DataFrame([correction]).to_csv(corrections, index=False)
    with pytest.raises(SystemExit) as refused:
        main(["feedback", str(corrections)])
    assert refused.value.code == 1
    assert "already have another actual duration" in capsys.readouterr().err
    assert main(["feedback", str(corrections), "--correct"]) == 0
    assert "corrected 1" in capsys.readouterr().out
    labelled = PredictionLog().window(1)
    assert labelled["request_id"].tolist() == [request_id]
    assert labelled["duration"].tolist() == [21.0]


@pytest.mark.parametrize(
    ("headers", "status"),
    [({}, 401), ({"Authorization": "Bearer not-the-token"}, 403)],
)
def test_feedback__with_a_service_token_needs_it(
    guarded: TestClient, headers: dict[str, str], status: int
) -> None:
    request_id = guarded.post("/predict", json=RIDE).json()["request_id"]
    truth = {"request_id": request_id, "duration": 11.0}
    assert guarded.post("/feedback", json=truth, headers=headers).status_code == status
    assert PredictionLog().window(1)["duration"].isna().all(), "nothing stored"
    authorized = {"Authorization": f"Bearer {TOKEN}"}
    assert guarded.post("/feedback", json=truth, headers=authorized).status_code == 200


def test_predict__a_failing_log_is_a_503_never_a_silent_answer(
    model: Pipeline, tmp_path: Path
) -> None:
    broken = PredictionLog(f"sqlite:///{tmp_path / 'log.db'}")
    with TestClient(create_app(prediction_log=broken)) as test_client:
        broken.engine.dispose()
        (tmp_path / "log.db").unlink()
        (tmp_path / "log.db").mkdir()  # the database file is now a folder: writes fail
        answer = test_client.post("/predict", json=RIDE)
    assert answer.status_code == 503
    assert "prediction log is unavailable" in answer.text


def test_deploy__refuses_to_reload_another_projects_service() -> None:
    """Another project's service on the port is left alone, with a clear error."""
    requests: list[tuple[str, str]] = []

    class OtherService(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # the handler's API names it
            requests.append(("GET", self.path))
            body = json.dumps({"name": "another_project", "version": "1"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self) -> None:
            requests.append(("POST", self.path))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    with http.server.HTTPServer(("127.0.0.1", 0), OtherService) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}"
        with pytest.raises(RuntimeError, match="serves 'another_project', not"):
            deploy("1", url)
        server.shutdown()
    assert ("POST", "/reload") not in requests


def test_openapi__declares_the_ride_body_with_an_example_and_every_error(
    client: TestClient,
) -> None:
    spec = client.get("/openapi.json").json()
    predict = spec["paths"]["/predict"]["post"]
    assert predict["requestBody"]["required"] is True
    ride = spec["components"]["schemas"]["Ride"]
    assert ride["examples"] == [RIDE]
    assert set(ride["required"]) == set(FEATURES)
    for status in ("413", "415", "422", "503"):
        schema = predict["responses"][status]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/Problem"}, status
    assert predict["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/Predictions"
    }


@pytest.mark.parametrize(
    ("method", "path", "body", "headers", "status"),
    [
        ("POST", "/predict", b"{", JSON, 422),
        ("POST", "/predict", json.dumps(RIDE).encode(), {"Content-Type": "text/plain"}, 415),
        ("GET", "/no-such-path", None, {}, 404),
        ("GET", "/predict", None, {}, 405),
    ],
)
def test_errors__share_one_json_shape_that_says_what_is_wrong(
    client: TestClient,
    method: str,
    path: str,
    body: bytes | None,
    headers: dict[str, str],
    status: int,
) -> None:
    answer = client.request(method, path, content=body, headers=headers)
    assert answer.status_code == status
    problem = Problem.model_validate(answer.json())
    assert problem.status == status
    assert problem.detail


def test_errors__a_bug_is_a_500_in_the_same_shape(model: Pipeline) -> None:
    champion = Champion()
    champion.reload()
    unfitted = Pipeline([("regressor", DecisionTreeRegressor())])  # predict raises
    assert champion.release is not None
    champion.release = dataclasses.replace(champion.release, model=unfitted)
    with TestClient(create_app(champion), raise_server_exceptions=False) as test_client:
        answer = test_client.post("/predict", json=RIDE)
    assert answer.status_code == 500
    assert "internal error (NotFittedError)" in Problem.model_validate(answer.json()).detail


NESTED = b"[" * 100_000 + b"]" * 100_000
RIDE_BYTES = json.dumps(RIDE).encode()


def ride_bytes(name: str, value: object) -> bytes:
    """RIDE as JSON with one value changed (json.dumps writes NaN and Infinity as JavaScript)."""
    return json.dumps({**RIDE, name: value}).encode()


FORM = {"Content-Type": "application/x-www-form-urlencoded"}  # what `curl -d` sends


@pytest.mark.parametrize(
    ("body", "headers", "status", "message"),
    [
        (NESTED, JSON, 422, "nests too deeply"),
        (ride_bytes(AMOUNT, float("nan")), JSON, 422, "finite number"),
        (ride_bytes(AMOUNT, float("inf")), JSON, 422, "finite number"),
        (b"[" + ride_bytes(AMOUNT, float("-inf")) + b"]", JSON, 422, "finite number"),
        (ride_bytes(LABEL, "?").replace(b'"?"', b'"\xff\xfe"'), JSON, 422, "not UTF-8"),
        (RIDE_BYTES, FORM, 415, "Content-Type: application/json"),
        (RIDE_BYTES, {}, 415, "no Content-Type"),
        (b" " * (MAX_BODY_BYTES + 1), JSON, 413, "larger than MAX_BODY_BYTES"),
    ],
    ids=["deep", "nan", "infinity", "-infinity", "utf8", "form", "no-type", "oversize"],
)
def test_predict__hostile_bodies_get_a_4xx_that_says_why(
    client: TestClient, body: bytes, headers: dict[str, str], status: int, message: str
) -> None:
    answer = client.post("/predict", content=body, headers=headers)
    assert answer.status_code == status
    assert message in answer.json()["detail"]
    assert client.post("/predict", json=RIDE).status_code == 200


def send_streaming(
    app: FastAPI, path: str, content_length: int | None, chunk: int = 65_536
) -> tuple[int, int]:
    """POST a body to the app in process that never ends: 64 KB chunks for as long as the app
    reads. Returns the status of the answer and how many bytes the app read."""
    read = 0

    async def receive() -> Message:
        nonlocal read
        read += chunk
        return {"type": "http.request", "body": b" " * chunk, "more_body": True}

    sent: list[Message] = []

    async def send(message: Message) -> None:
        sent.append(message)

    headers = [(b"content-type", b"application/json")]
    if content_length is not None:
        headers.append((b"content-length", str(content_length).encode()))
    scope: Scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST",
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "headers": headers, "client": ("127.0.0.1", 1),
        "server": ("127.0.0.1", 80),
    }  # fmt: skip
    asyncio.run(app(scope, receive, send))
    start = next(message for message in sent if message["type"] == "http.response.start")
    return start["status"], read - chunk if read else 0


def test_size_limit__an_oversized_body_is_refused_before_it_is_read_whole(model: Pipeline) -> None:
    app = create_app(max_body_bytes=200_000)
    status, read = send_streaming(app, "/predict", content_length=None)
    assert status == 413, "counted while streaming, then refused"
    assert read <= 200_000 + 65_536, "counted while streaming, then refused"
    status, read = send_streaming(app, "/predict", content_length=10**9)
    assert (status, read) == (413, 0), "refused on its Content-Length, before reading"


@pytest.fixture
def guarded(model: Pipeline) -> Iterator[TestClient]:
    with TestClient(create_app(token=TOKEN)) as test_client:
        yield test_client


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"Authorization": TOKEN}, 401),
        ({"Authorization": "Bearer not-the-token"}, 403),
        ({"Authorization": f"Bearer {TOKEN}"}, 200),
    ],
    ids=["none", "not-bearer", "wrong", "right"],
)
def test_reload__with_a_service_token_needs_it_as_a_bearer_token(
    guarded: TestClient, headers: dict[str, str], status: int
) -> None:
    answer = guarded.post("/reload", headers=headers)
    assert answer.status_code == status, answer.text
    if status == 401:
        assert answer.headers["WWW-Authenticate"] == "Bearer"
        assert "Authorization: Bearer" in answer.json()["detail"]


def test_reads__stay_open_when_writes_need_a_token(guarded: TestClient) -> None:
    assert guarded.post("/predict", json=RIDE).status_code == 200
    for path in ("/health", "/model", "/docs", "/openapi.json"):
        assert guarded.get(path).status_code == 200, path
    security = guarded.get("/openapi.json").json()["paths"]["/reload"]["post"]["security"]
    assert security == [{"HTTPBearer": []}], "/docs shows that /reload needs the token"


@pytest.mark.parametrize(
    ("host", "token", "allow"),
    [
        ("127.0.0.1", None, False),
        ("::1", None, False),
        ("localhost", None, False),
        (ALL_INTERFACES, TOKEN, False),
        (ALL_INTERFACES, None, True),
    ],
)
def test_open_writes__allowed_on_loopback_with_a_token_or_on_purpose(
    host: str, token: str | None, allow: bool
) -> None:
    assert open_writes_problem(host, token, allow) is None


def test_serve__refuses_to_start_on_a_network_without_a_token(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("SERVICE_TOKEN", raising=False)
    monkeypatch.delenv("ALLOW_OPEN_WRITES", raising=False)
    with pytest.raises(SystemExit) as stopped:
        main(["serve", "--host", ALL_INTERFACES])
    assert stopped.value.code == 1
    said = capsys.readouterr().err
    assert "refusing to serve on 0.0.0.0" in said
    assert "set SERVICE_TOKEN" in said
    assert "ALLOW_OPEN_WRITES=1" in said


# The contract as the service declares it (its OpenAPI document), driving requests at the app
# in process. Built at import, as schemathesis needs; the test's fixture loads the champion.
# (from_dict, not from_asgi: that would start the app, which would look for a champion now.
# schemathesis.pytest.from_fixture would build it in a fixture, but fails on pytest 9.2.)
FUZZ_LOG = tempfile.TemporaryDirectory()  # removed at exit
FUZZED_APP = create_app(
    FUZZED := Champion(),
    token=TOKEN,
    prediction_log=PredictionLog(f"sqlite:///{FUZZ_LOG.name}/log.db"),
)
contract = schemathesis.openapi.from_dict(FUZZED_APP.openapi())
contract.app = FUZZED_APP


@pytest.fixture
def fuzzed(model: Pipeline) -> None:
    FUZZED.reload()


@contract.parametrize()
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_fuzz__no_request_gets_a_server_error_and_every_answer_keeps_the_contract(
    case: Case[Any], fuzzed: None
) -> None:
    """Schemathesis sends what the schema allows and what it forbids (negative cases), and
    checks each answer against the declared responses."""
    case.call_and_validate(headers={"Authorization": f"Bearer {TOKEN}"})


@pytest.mark.parametrize(
    "regressor", [None, LinearRegression(), Lasso(alpha=0.01)], ids=["Ridge", "OLS", "Lasso"]
)
def test_linear_scorer__equals_the_pipeline_on_known_and_unseen_zones(
    rides: pd.DataFrame, regressor: object
) -> None:
    model = train(rides, alpha=1.0)  # Ridge, or another linear regressor in its place
    if regressor is not None:
        features = model.named_steps["features"].feature_names_in_
        model.set_params(regressor=regressor).fit(rides[features], rides[TARGET])
    scorer = linear_scorer(model)
    assert scorer is not None
    sample = rides[FEATURES].head(300)
    unknown = sample.head(5).assign(**{LABEL: unseen(CATEGORICAL_FEATURE, rides)})
    sample = pd.concat([sample, unknown])
    rides_in = [Ride.model_validate(record) for record in sample.to_dict(orient="records")]
    assert scorer(rides_in) == pytest.approx(pandas_scorer(model)(rides_in), rel=1e-9)


def test_linear_scorer__declines_other_pipelines(rides: pd.DataFrame) -> None:
    forest = Pipeline(
        [("features", ColumnTransformer([("d", "passthrough", [AMOUNT])])),
         ("regressor", DecisionTreeRegressor(max_depth=3))]
    ).fit(rides[[AMOUNT]], rides[TARGET])  # fmt: skip
    assert linear_scorer(forest) is None


def test_window__labelled_rides_stay_in_view_behind_newer_unlabelled_traffic(
    tmp_path: Path,
) -> None:
    log = PredictionLog(f"sqlite:///{tmp_path / 'log.db'}")
    log.record("early", "1", [RIDE], [10.0])
    log.add_feedback([{"request_id": "early", "row": 0, "duration": 12.0}])
    for number in range(5):
        log.record(f"late-{number}", "1", [RIDE], [10.0])
    assert log.window(3)["duration"].isna().all()
    labelled = log.window(3, labelled=True)
    assert labelled["request_id"].tolist() == ["early"]
    assert labelled["duration"].tolist() == [12.0]


def test_window__of_one_model_version_leaves_the_others_out(tmp_path: Path) -> None:
    log = PredictionLog(f"sqlite:///{tmp_path / 'log.db'}")
    for version in ("1", "2", "1"):
        log.record(f"v{version}-{len(log.window(10))}", version, [RIDE], [10.0])
    log.add_feedback([{"request_id": "v2-1", "row": 0, "duration": 12.0}])
    assert log.window(10, version="1")["request_id"].tolist() == ["v1-0", "v1-2"]
    assert log.window(10, labelled=True, version="2")["duration"].tolist() == [12.0]
    assert log.window(10, labelled=True, version="1").empty
