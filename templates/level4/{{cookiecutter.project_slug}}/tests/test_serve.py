"""The scoring service: predictions, health, model info, reload, and clear 4xx on bad input."""

import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request

import mlflow
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from mlflow import MlflowClient
from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from sklearn.tree import DecisionTreeRegressor

from {{ cookiecutter.package_name }} import registry, tracking
from {{ cookiecutter.package_name }}.deploy import deploy, stop_local
from {{ cookiecutter.package_name }}.predict import predict
from {{ cookiecutter.package_name }}.predlog import PredictionLog
from {{ cookiecutter.package_name }}.serve import (
    MAX_BATCH,
    Ride,
    create_app,
    linear_scorer,
    pandas_scorer,
)
from {{ cookiecutter.package_name }}.train import train

RIDE = {"PULocationID": 74, "DOLocationID": 75, "trip_distance": 2.5}


@pytest.fixture(scope="module")
def tracking_uri(tmp_path_factory):
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


def register(model, alias: str = registry.CHAMPION) -> str:
    tracking.start("serve-tests")  # in this store (its artifacts beside it), whatever was active
    with mlflow.start_run():
        info = mlflow.sklearn.log_model(model, name="model")
    version = str(mlflow.register_model(info.model_uri, registry.MODEL_NAME).version)
    MlflowClient().set_registered_model_alias(registry.MODEL_NAME, alias, version)
    return version


@pytest.fixture(scope="module")
def model(rides, tracking_uri):
    fitted = train(rides, alpha=1.0)
    register(fitted)
    return fitted


@pytest.fixture
def client(model):
    with TestClient(create_app()) as test_client:
        yield test_client


def test_predict__one_ride_equals_the_offline_prediction(client, model, rides):
    ride = rides.iloc[[0]][["PULocationID", "DOLocationID", "trip_distance"]]
    answer = client.post("/predict", json=ride.to_dict(orient="records")[0])
    assert answer.status_code == 200
    assert answer.json()["predictions"] == pytest.approx(predict(model, ride).tolist())


def test_predict__a_batch_keeps_its_order(client, model, rides):
    sample = rides.head(50)[["PULocationID", "DOLocationID", "trip_distance"]]
    answer = client.post("/predict", json=sample.to_dict(orient="records"))
    assert answer.json()["predictions"] == pytest.approx(predict(model, sample).tolist())


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"PULocationID": 74', "not valid JSON"),
        ({"PULocationID": 74, "DOLocationID": 75}, "Field required"),
        ({**RIDE, "fare": 12.5}, "Extra inputs are not permitted"),
        ({**RIDE, "PULocationID": "74"}, "valid integer"),
        ({**RIDE, "trip_distance": -1.0}, "greater than or equal to 0"),
        ({**RIDE, "DOLocationID": 999}, "less than or equal to 265"),
        ([RIDE] * (MAX_BATCH + 1), f"at most {MAX_BATCH} items"),
        ([], "at least 1 item"),
        ("a ride", "valid dictionary"),
    ],
    ids=["malformed", "missing", "extra", "type", "negative", "zone", "oversize", "empty", "str"],
)
def test_predict__bad_input_gets_a_clear_422_and_the_service_stays_up(client, body, message):
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    answer = client.post("/predict", content=content)
    assert answer.status_code == 422
    assert message in json.dumps(answer.json())
    assert client.post("/predict", json=RIDE).status_code == 200


def test_health_and_model__say_what_is_served(client):
    assert client.get("/health").json() == {"status": "ok", "model_version": "1"}
    info = client.get("/model").json()
    assert (info["name"], info["version"], info["alias"]) == (registry.MODEL_NAME, "1", "champion")


def test_health__503_until_a_champion_exists(tracking_uri, monkeypatch, tmp_path):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'empty.db'}")
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'empty.db'}")
    try:
        with TestClient(create_app()) as empty:
            assert empty.get("/health").status_code == 503
            assert empty.post("/predict", json=RIDE).status_code == 503
            assert empty.post("/reload").status_code == 409
    finally:
        mlflow.set_tracking_uri(tracking_uri)


def test_reload__serves_the_new_champion_without_a_restart(client, rides):
    before = client.get("/health").json()["model_version"]
    new_version = register(train(rides, alpha=50.0))
    answer = client.post("/reload").json()
    assert answer == {"previous_version": before, "version": new_version}
    assert client.post("/predict", json=RIDE).json()["model_version"] == new_version


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_real_server__http_predictions_equal_the_champions_offline_ones(
    model, rides, tracking_uri, tmp_path
):
    port, pid_file = free_port(), tmp_path / "serve.pid"
    server = subprocess.Popen(
        [sys.executable, "-m", "{{ cookiecutter.package_name }}", "serve", "--port", str(port),
         "--pid-file", str(pid_file)],
        env={**os.environ, "MLFLOW_TRACKING_URI": tracking_uri},
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
        sample = rides.head(20)[["PULocationID", "DOLocationID", "trip_distance"]]
        request = urllib.request.Request(
            f"{url}/predict",
            data=json.dumps(sample.to_dict(orient="records")).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as answer:
            served = json.loads(answer.read())
        champion = registry.load(registry.CHAMPION)
        assert served["model_version"] == champion.version
        assert served["predictions"] == pytest.approx(predict(champion.model, sample).tolist())

        assert pid_file.read_text().strip() == str(server.pid), "the service wrote its PID"
        assert stop_local(pid_file) == f"stopped the local service (PID {server.pid})"
        assert server.wait(timeout=10) == 0, "stopped as by Ctrl+C, not killed"
        assert not pid_file.exists()
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_stop__leaves_a_process_that_is_not_the_service_alone(tmp_path):
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


def test_predict__every_ride_is_logged_with_its_request_id(client):
    log = PredictionLog()
    before = log.count()
    answer = client.post("/predict", json=[RIDE, {**RIDE, "trip_distance": 7.0}]).json()
    assert log.count() == before + 2
    logged = log.window(2)
    assert logged["request_id"].tolist() == [answer["request_id"]] * 2
    assert logged["row"].tolist() == [0, 1]
    assert logged["prediction"].tolist() == pytest.approx(answer["predictions"])


def test_feedback__joins_actual_durations_by_request_id_and_row(client):
    answer = client.post("/predict", json=[RIDE, RIDE]).json()
    request_id = answer["request_id"]
    truth = [{"request_id": request_id, "row": row, "duration": 11.0 + row} for row in (0, 1)]
    assert client.post("/feedback", json=truth).json() == {"stored": 2}
    assert PredictionLog().window(2)["duration"].tolist() == [11.0, 12.0]


def test_feedback__an_unknown_request_is_404_and_nothing_is_stored(client):
    answer = client.post("/predict", json=RIDE).json()
    truth = [{"request_id": answer["request_id"], "duration": 9.0},
             {"request_id": "no-such-request", "duration": 9.0}]  # fmt: skip
    reply = client.post("/feedback", json=truth)
    assert reply.status_code == 404 and "no-such-request" in reply.text
    assert PredictionLog().window(1)["duration"].isna().all()


@pytest.mark.parametrize(
    "body", [{"request_id": "x", "duration": -1.0}, {"duration": 3.0}, [], b"{"]
)
def test_feedback__bad_input_gets_a_422(client, body):
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    assert client.post("/feedback", content=content).status_code == 422


def test_predict__a_failing_log_is_a_503_never_a_silent_answer(model, tmp_path):
    broken = PredictionLog(f"sqlite:///{tmp_path / 'log.db'}")
    with TestClient(create_app(prediction_log=broken)) as test_client:
        broken.engine.dispose()
        (tmp_path / "log.db").unlink()
        (tmp_path / "log.db").mkdir()  # the database file is now a folder: writes fail
        answer = test_client.post("/predict", json=RIDE)
    assert answer.status_code == 503
    assert "prediction log is unavailable" in answer.text


def test_deploy__refuses_to_reload_another_projects_service():
    """Another project's service on the port is left alone, with a clear error."""
    requests = []

    class OtherService(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (the handler's API)
            requests.append(("GET", self.path))
            body = json.dumps({"name": "another_project", "version": "1"}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def do_POST(self):  # noqa: N802
            requests.append(("POST", self.path))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    with http.server.HTTPServer(("127.0.0.1", 0), OtherService) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_address[1]}"
        with pytest.raises(RuntimeError, match="serves 'another_project', not"):
            deploy("1", url)
        server.shutdown()
    assert ("POST", "/reload") not in requests


def test_linear_scorer__equals_the_pipeline_on_known_and_unseen_zones(rides):
    model = train(rides, alpha=1.0)
    scorer = linear_scorer(model)
    assert scorer is not None
    sample = rides[["PULocationID", "DOLocationID", "trip_distance"]].head(300)
    sample = pd.concat([sample, sample.head(5).assign(PULocationID=264, DOLocationID=1)])
    rides_in = [Ride(**record) for record in sample.to_dict(orient="records")]
    assert scorer(rides_in) == pytest.approx(pandas_scorer(model)(rides_in), rel=1e-9)


def test_linear_scorer__declines_other_pipelines(rides):
    forest = Pipeline(
        [("features", ColumnTransformer([("d", "passthrough", ["trip_distance"])])),
         ("regressor", DecisionTreeRegressor(max_depth=3))]
    ).fit(rides[["trip_distance"]], rides["duration"])  # fmt: skip
    assert linear_scorer(forest) is None


def test_window__labelled_rides_stay_in_view_behind_newer_unlabelled_traffic(tmp_path):
    log = PredictionLog(f"sqlite:///{tmp_path / 'log.db'}")
    log.record("early", "1", [RIDE], [10.0])
    log.add_feedback([{"request_id": "early", "row": 0, "duration": 12.0}])
    for number in range(5):
        log.record(f"late-{number}", "1", [RIDE], [10.0])
    assert log.window(3)["duration"].isna().all()
    labelled = log.window(3, labelled=True)
    assert labelled["request_id"].tolist() == ["early"] and labelled["duration"].tolist() == [12.0]


def test_window__of_one_model_version_leaves_the_others_out(tmp_path):
    log = PredictionLog(f"sqlite:///{tmp_path / 'log.db'}")
    for version in ("1", "2", "1"):
        log.record(f"v{version}-{len(log.window(10))}", version, [RIDE], [10.0])
    log.add_feedback([{"request_id": "v2-1", "row": 0, "duration": 12.0}])
    assert log.window(10, version="1")["request_id"].tolist() == ["v1-0", "v1-2"]
    assert log.window(10, labelled=True, version="2")["duration"].tolist() == [12.0]
    assert log.window(10, labelled=True, version="1").empty
