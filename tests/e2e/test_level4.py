"""Level 4: production traffic is logged, monitored, and retrains the model through the gate.

The story runs against one copy of the session's first run and one running service, as a class
would see it: normal traffic (a), then congestion with a sabotaged challenger (c), a retraining
killed part-way (d), and the retraining that recovers the error (b). Each chapter is a fixture
that needs the one before, so any test also passes alone: `-k test_b` plays a, c and d first."""

import json
import os
import queue
import re
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pages
import pytest
from gha import run_workflow
from pytest import TempPathFactory
from runs import git_commit_all, in_project, set_param
from services import (
    create_database,
    free_port,
    fuzz,
    http,
    mlflow_server,
    postgres,
    scoring_service,
)

from mlops_ladder import ladder

pytestmark = [pytest.mark.levels(4), pytest.mark.xdist_group("level4")]

RIDE = {"PULocationID": 74, "DOLocationID": 75, "trip_distance": 2.5}
TOKEN = "an-e2e-token"  # the service's SERVICE_TOKEN: POST /reload and /feedback need it
VERSIONS = """
from mlflow import MlflowClient
from {package} import registry, tracking
tracking.connect()
found = MlflowClient().search_model_versions("name = '{package}'")
print(sorted(int(v.version) for v in found), registry.version_for(registry.CHAMPION))
"""


@pytest.fixture(scope="module")
def level4(module_copy: Callable[[int], Path]) -> Path:
    project = module_copy(4)
    git_commit_all(project)
    return project


@pytest.fixture(scope="module")
def env(level4: Path) -> dict[str, str]:
    """The project's environment; SERVICE_TOKEN, which the replayer and deploy send."""
    tracking_uri = f"sqlite:///{level4 / 'mlflow.db'}"
    return {**ladder.project_env(), "MLFLOW_TRACKING_URI": tracking_uri, "SERVICE_TOKEN": TOKEN}


@pytest.fixture(scope="module")
def service(level4: Path, env: dict[str, str]) -> Iterator[str]:
    with scoring_service(level4, env["MLFLOW_TRACKING_URI"], token=TOKEN) as url:
        yield url


def cli(
    project: Path, env: dict[str, str], *args: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        ["uv", "run", "python", "-m", project.name, *args],
        cwd=project, env=env, capture_output=True, text=True,
    )  # fmt: skip
    if check:
        assert done.returncode == 0, done.stdout + done.stderr
    return done


def replay(
    project: Path,
    env: dict[str, str],
    url: str,
    month: str,
    scenario: str = "none",
    rides: int = 2000,
) -> dict[str, Any]:
    done = cli(project, env, "replay", month, "--scenario", scenario, "--rides", str(rides),
               "--url", url)  # fmt: skip
    assert "live RMSE" in done.stdout, "the replayer shows its progress"
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


LOOP_RUNS = """
from mlflow import MlflowClient
from {package} import monitor, registry, tracking
tracking.connect()
client = MlflowClient()
runs = 0
for name, query in ((tracking.EXPERIMENT, "tags.source = 'retraining'"), (monitor.EXPERIMENT, "")):
    experiment = client.get_experiment_by_name(name)
    runs += len(client.search_runs([experiment.experiment_id], query)) if experiment else 0
print(runs, registry.version_for(registry.CHALLENGER))
"""


def registry_state(project: Path, env: dict[str, str]) -> tuple[list[int], str]:
    printed = in_project(project, VERSIONS.format(package=project.name), env).strip()
    versions, _, champion = printed.splitlines()[-1].rpartition("] ")
    return json.loads(versions + "]"), champion


def served_version(url: str) -> str:
    version: str = http(f"{url}/model")[1]["version"]
    return version


@pytest.fixture(scope="module")
def chapter_a(level4: Path, env: dict[str, str], service: str) -> str:
    """Normal traffic with its ground truth, then the scheduled check: what it printed."""
    replay(level4, env, service, "2024-03")
    return cli(level4, env, "retrain-if-needed", "--url", service).stdout


def test_a_no_drift__monitoring_finds_nothing_and_nothing_is_retrained(
    level4: Path, env: dict[str, str], service: str, chapter_a: str
) -> None:
    summary = json.loads((level4 / "reports" / "monitoring" / "summary.json").read_text())
    assert summary["retrain_needed"] is False and summary["live_rmse"] < 6.0
    assert summary["action"] == "no action" and summary["model_version"] == "1"
    assert f"no action: no drift (drift share {summary['drift_share']:.2f}" in chapter_a
    assert f"live RMSE {summary['live_rmse']:.2f} of version 1 is within 6.0" in chapter_a
    assert (level4 / "reports" / "monitoring" / "report.html").stat().st_size > 10_000
    assert registry_state(level4, env) == ([1], "1") and served_version(service) == "1"
    truth = {"request_id": "0" * 32, "duration": 9.0}
    assert http(f"{service}/feedback", truth)[0] == 401, "ground truth needs the token"


@pytest.fixture(scope="module")
def monitoring_pages(
    level4: Path, env: dict[str, str], chapter_a: str, tmp_path_factory: TempPathFactory
) -> list[Path]:
    """The drift report of chapter a, and its trend plot drawn by DVC as the README says."""
    folder = tmp_path_factory.mktemp("trend")
    subprocess.run(
        ["uv", "run", "dvc", "plots", "show", "reports/monitoring/trend.csv", "-y", "live_rmse",
         "--x-label", "monitoring run", "-o", str(folder)],
        cwd=level4, env=env, check=True, capture_output=True,
    )  # fmt: skip
    return [level4 / "reports" / "monitoring" / "report.html", folder / "index.html"]


def test_a_pages__the_drift_report_and_the_trend_plot_load_nothing_from_the_network(
    monitoring_pages: list[Path],
) -> None:
    for page in monitoring_pages:
        assert not pages.external_references(page.read_text()), page


@pages.needs_chromium
def test_a_pages__both_draw_in_a_browser_with_no_network(monitoring_pages: list[Path]) -> None:
    report, trend = (pages.offline_dom(page) for page in monitoring_pages)
    assert "Dataset Drift" in report and "<canvas" in report, "Evidently drew no report"
    assert re.search(r'<canvas [^>]*class="marks"', trend), "Vega drew no trend"


@pytest.fixture(scope="module")
def chapter_c(
    level4: Path, env: dict[str, str], service: str, chapter_a: str
) -> tuple[dict[str, Any], str]:
    """Congested traffic, and a retraining whose challenger is sabotaged (alpha 100000)."""
    drifted = replay(level4, env, service, "2024-04", "congestion", rides=3000)
    set_param(level4, "alpha", "100000.0")
    try:
        done = cli(level4, env, "retrain-if-needed", "--url", service)
    finally:
        set_param(level4, "alpha", "1.0")
    return drifted, done.stdout


def test_c_drift_with_a_sabotaged_challenger__rejected_the_champion_keeps_serving(
    level4: Path, env: dict[str, str], service: str, chapter_c: tuple[dict[str, Any], str]
) -> None:
    drifted, printed = chapter_c
    assert drifted["live_rmse"] > 10, drifted
    assert "retrained and rejected" in printed, printed
    summary = json.loads((level4 / "reports" / "monitoring" / "summary.json").read_text())
    assert summary["live_error"] is True and summary["column_scores"]["duration"] > 0.1
    assert registry_state(level4, env) == ([1, 2], "1") and served_version(service) == "1"


@pytest.fixture(scope="module")
def chapter_d(
    level4: Path, env: dict[str, str], service: str, chapter_c: tuple[dict[str, Any], str]
) -> tuple[list[int], str]:
    """A retraining killed with SIGKILL while it trains; the registry as it was before."""
    before = registry_state(level4, env)
    process = subprocess.Popen(
        ["uv", "run", "python", "-m", level4.name, "retrain-if-needed", "--url", service],
        cwd=level4, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        start_new_session=True,
    )  # fmt: skip
    assert process.stdout is not None  # stdout=PIPE
    for line in process.stdout:
        if line.startswith("retraining: training a challenger"):
            break
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    return before


def test_d_a_retraining_killed_part_way__changes_nothing(
    level4: Path, env: dict[str, str], service: str, chapter_d: tuple[list[int], str]
) -> None:
    assert registry_state(level4, env) == chapter_d
    assert served_version(service) == "1"
    assert http(f"{service}/predict", RIDE)[0] == 200


@pytest.fixture(scope="module")
def chapter_b(
    level4: Path, env: dict[str, str], service: str, chapter_d: tuple[list[int], str]
) -> dict[str, Any]:
    """Congestion with its ground truth: the retraining that recovers the error, with requests
    in flight while the service reloads; then a month served by the new champion."""
    old = replay(level4, env, service, "2024-05", "congestion", rides=1500)
    failures, stop = [], threading.Event()

    def traffic() -> None:  # requests in flight while the service reloads
        while not stop.is_set():
            status, _ = http(f"{service}/predict", RIDE)
            if status != 200:
                failures.append(status)

    load = threading.Thread(target=traffic)
    load.start()
    try:
        done = cli(level4, env, "retrain-if-needed", "--url", service)
    finally:
        stop.set()
        load.join()
    state = {"old": old, "printed": done.stdout, "failures": failures}
    state["registry"], state["served"] = registry_state(level4, env), served_version(service)
    state["new"] = replay(level4, env, service, "2024-06", "congestion", rides=1500)
    return state


def test_b_drift_with_ground_truth__retrained_promoted_and_served_without_downtime(
    chapter_b: dict[str, Any],
) -> None:
    printed, old, new = chapter_b["printed"], chapter_b["old"], chapter_b["new"]
    assert "recovered: took over the retraining lock" in printed, printed
    assert "recovered: marked run" in printed, "the killed run is cleaned up"
    assert "retrained and promoted" in printed, printed
    assert chapter_b["failures"] == [], "no request failed while the champion changed"
    assert chapter_b["registry"] == ([1, 2, 3], "3") and chapter_b["served"] == "3"
    assert new["versions"] == ["3"]
    assert new["live_rmse"] < old["live_rmse"] - 2, (old, new)


def test_b_dashboard__the_error_rising_the_retrainings_and_the_error_falling(
    level4: Path, env: dict[str, str], chapter_b: dict[str, Any]
) -> None:
    cli(level4, env, "monitor")  # judges June, served by version 3
    printed = ladder.run("make dashboard", level4, env=env, capture_output=True, text=True)
    page = level4 / "reports" / "monitoring" / "dashboard.html"
    assert printed.stdout.strip().endswith("dashboard -> reports/monitoring/dashboard.html")
    text = page.read_text()
    assert not pages.external_references(text) and "<script" not in text
    assert "v2 rejected" in text and "v3 promoted" in text, "both retraining decisions"
    assert "RMSE" in text and "beats the champion" in text, "with the gate's reasons"
    live = [float(value) for value in re.findall(r": (\d+\.\d+)</title>", text.split("<svg")[1])]
    peak = live.index(max(live))
    assert live[0] < 6.0 < live[peak] and live[-1] < live[peak] - 2, live  # up, then down
    summary = json.loads((level4 / "reports" / "monitoring" / "summary.json").read_text())
    assert summary["model_version"] == "3" and f": {summary['live_rmse']:.2f}</title>" in text
    if pages.CHROMIUM:
        drawn = pages.offline_dom(page)
        assert drawn.count("<svg") == 3 and "v3 promoted" in drawn


def test_lock__an_overlapping_retraining_is_refused(level4: Path, env: dict[str, str]) -> None:
    holder = subprocess.Popen(
        [str(level4 / ".venv" / "bin" / "python"), "-c",
         f"import time; from {level4.name}.predlog import PredictionLog; from datetime import "
         "timedelta; PredictionLog().acquire('retraining', timedelta(hours=1)); "
         "print('held', flush=True); time.sleep(120)"],
        cwd=level4, env=env, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None  # stdout=PIPE
        assert holder.stdout.readline().strip() == "held"
        done = cli(level4, env, "retrain-if-needed", check=False)
        assert done.returncode == 3
        assert "another retraining is running" in done.stderr
    finally:
        holder.kill()
        holder.wait()


LOGGED_IDS = """
import json
from {package}.predlog import PredictionLog
log = PredictionLog()
print(log.count(), json.dumps(sorted(set(log.window(100_000)["request_id"]))))
"""
ANOTHER_HOST = """
import socket, time
from datetime import timedelta
socket.gethostname = lambda: "scorer-b.example"  # a process of another host, as the lock sees it
from {package}.predlog import PredictionLog
print(PredictionLog().acquire("retraining", timedelta(hours=1))[0], flush=True)
time.sleep(120)
"""


@pytest.mark.xdist_group("level4-team")  # on its own copy: the other worker may take it
def test_team_scale__two_services_share_a_postgresql_log_and_lose_no_row(
    copy_of: Callable[[int], Path],
) -> None:
    """Two service processes on one prediction log in PostgreSQL, with MLflow on its tracking
    server: 10,000 requests from 32 clients across both leave exactly one row per answer. The
    retraining lock lives there too: held by another host's process, it refuses a retraining."""
    project = copy_of(4)
    ladder.run("uv sync --locked --quiet --inexact --group team", project)
    for made in ("mlflow.db", "mlruns", ".dvc/cache/runs", "reports/gate.json"):  # a new registry
        path = project / made
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    with postgres() as database, mlflow_server(project, database) as tracking_uri:
        log_url = create_database(database, "predictions")
        env = {**ladder.project_env(), "MLFLOW_TRACKING_URI": tracking_uri,
               "PREDICTION_LOG_URL": log_url}  # fmt: skip
        ladder.run("uv run dvc repro --force", project, env=env)  # a champion on the server
        assert not (project / "mlflow.db").exists(), "team mode must not touch SQLite"
        shared = {"PREDICTION_LOG_URL": log_url}
        with (
            scoring_service(project, tracking_uri, extra_env=shared) as one,
            scoring_service(project, tracking_uri, extra_env=shared) as two,
        ):
            work: queue.Queue[str] = queue.Queue()
            for number in range(10_000):
                work.put((one, two)[number % 2])
            answered: list[str] = []
            statuses: list[int] = []

            def client() -> None:
                while True:
                    try:
                        url = work.get_nowait()
                    except queue.Empty:
                        return
                    status, body = http(f"{url}/predict", RIDE)
                    statuses.append(status)
                    if status == 200:
                        answered.append(body["request_id"])

            clients = [threading.Thread(target=client) for _ in range(32)]
            for thread in clients:
                thread.start()
            for thread in clients:
                thread.join()
        assert statuses.count(200) == 10_000, set(statuses)
        printed = in_project(project, LOGGED_IDS.format(package=project.name), env)
        count, logged = printed.strip().splitlines()[-1].split(" ", 1)
        assert int(count) == 10_000 and json.loads(logged) == sorted(answered)

        holder = subprocess.Popen(
            [str(project / ".venv" / "bin" / "python"), "-c",
             ANOTHER_HOST.format(package=project.name)],
            cwd=project, env=env, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            assert holder.stdout is not None  # stdout=PIPE
            assert holder.stdout.readline().startswith("scorer-b.example:")
            done = cli(project, env, "retrain-if-needed", check=False)
        finally:
            holder.kill()
            holder.wait()
        assert done.returncode == 3, done.stdout + done.stderr
        assert "retraining is held by scorer-b.example:" in done.stderr


def test_e_prediction_log__32_clients_10000_requests_10000_rows(
    level4: Path, env: dict[str, str], service: str
) -> None:
    count = "from {p}.predlog import PredictionLog; print(PredictionLog().count())"
    before = int(in_project(level4, count.format(p=level4.name), env).split()[-1])
    work: queue.Queue[dict[str, float]] = queue.Queue()
    for _ in range(10_000):
        work.put(RIDE)
    statuses: list[int] = []

    def client() -> None:
        while True:
            try:
                body = work.get_nowait()
            except queue.Empty:
                return
            statuses.append(http(f"{service}/predict", body)[0])

    started = time.monotonic()
    clients = [threading.Thread(target=client) for _ in range(32)]
    for thread in clients:
        thread.start()
    for thread in clients:
        thread.join()
    print(f"10,000 logged requests from 32 clients in {time.monotonic() - started:.1f} s")
    assert statuses.count(200) == 10_000
    after = int(in_project(level4, count.format(p=level4.name), env).split()[-1])
    assert after - before == 10_000


def test_retrain_workflow__runnable_steps_pass(
    level4: Path, env: dict[str, str], service: str, chapter_a: str
) -> None:
    run = run_workflow(
        level4 / ".github" / "workflows" / "retrain.yml",
        level4,
        {
            "MLFLOW_TRACKING_URI": env["MLFLOW_TRACKING_URI"],
            "PREDICTION_LOG_URL": f"sqlite:///{level4 / 'predictions.db'}",
            "DEPLOY_URL": service,
            "SERVICE_TOKEN": TOKEN,
        },
    )
    assert "retrain: ran Monitor, then retrain, gate, promote and deploy when needed" in run.log
    assert "## Monitoring" in run.summary and "retrain_needed" in run.summary


def test_blind__monitoring_judges_the_version_served_not_the_registry_s(
    committed_copy: Callable[[int], Path],
) -> None:
    """An experiment promotes version 2 that the service never loads; the decision after the
    replay demo's first month names what it measured on version 1, the one that answered."""
    project = committed_copy(4)
    env = {**ladder.project_env(), "MLFLOW_TRACKING_URI": f"sqlite:///{project / 'mlflow.db'}"}
    with scoring_service(project, env["MLFLOW_TRACKING_URI"]) as url:
        ladder.run("uv run dvc exp run -S train.alpha=10 -S gate.margin=0", project, env=env)
        assert registry_state(project, env) == ([1, 2], "2") and served_version(url) == "1"
        replay(project, env, url, "2024-03", rides=800)
        printed = cli(project, env, "retrain-if-needed", "--url", url).stdout
        # An outside client that knows only the published schema: no input gets a 5xx.
        contract = http(f"{url}/openapi.json")[1]["paths"]
        assert all("requestBody" in contract[path]["post"] for path in ("/predict", "/feedback"))
        assert "Tested: 5" in fuzz(project, url), "every operation was fuzzed"
    summary = json.loads((project / "reports" / "monitoring" / "summary.json").read_text())
    assert summary["model_version"] == "1" and summary["labelled_rows"] >= 200, summary
    assert summary["live_rmse"] < 6.0 and summary["action"] == "no action"
    assert f"the live RMSE {summary['live_rmse']:.2f} of version 1 is within 6.0" in printed
    report = (project / "reports" / "monitoring" / "report.html").read_text()
    assert "Decision: no action" in report and f"{summary['live_rmse']:.2f} minutes" in report


@pytest.mark.xdist_group("level4-reset")  # on its own copy: the other worker may take it
def test_reset_demo__undoes_the_loop_and_keeps_what_the_pipeline_made(
    copy_of: Callable[[int], Path],
) -> None:
    project = copy_of(4)
    port = free_port()
    env = {**ladder.project_env(), "SERVE_PORT": str(port)}
    url = f"http://127.0.0.1:{port}"
    made_by_the_pipeline = ("metrics.json", "reports/gate.json", "reports/decisions.jsonl")
    before = {path: (project / path).read_bytes() for path in made_by_the_pipeline}
    try:
        ladder.run("make deploy", project, env=env)
        replay(project, env, url, "2024-04", "congestion", rides=3500)
        assert "retrained and promoted" in cli(project, env, "retrain-if-needed").stdout
        assert registry_state(project, env) == ([1, 2], "2") and served_version(url) == "2"

        shared = {**env, "PREDICTION_LOG_URL": "postgresql+psycopg2://team@db.example/log"}
        refused = subprocess.run(["make", "reset-demo"], cwd=project, env=shared,
                                 capture_output=True, text=True)  # fmt: skip
        assert refused.returncode != 0 and "resets the local demo only" in refused.stderr
        assert served_version(url) == "2", "a refused reset changes nothing"

        done = ladder.run("make reset-demo", project, env=env, capture_output=True, text=True)
    finally:
        ladder.run("make stop", project, env=env)
    assert "stopped the local service (PID" in done.stdout
    assert "deleted version 2, which retraining registered" in done.stdout
    assert http(f"{url}/health")[0] == 0, "the service is stopped"
    left = ["serve.pid", "predictions.db", "reports/monitoring", "reports/retraining.jsonl"]
    assert [path for path in left if (project / path).exists()] == []
    assert registry_state(project, env) == ([1], "1")
    assert in_project(project, LOOP_RUNS.format(package=project.name), env).split() == ["0", "1"]
    assert {path: (project / path).read_bytes() for path in made_by_the_pipeline} == before

    try:  # the demo starts again where the first run left it
        deployed = ladder.run("make deploy", project, env=env, capture_output=True, text=True)
        assert "serving champion version 1" in deployed.stdout
        assert replay(project, env, url, "2024-03", rides=200)["versions"] == ["1"]
    finally:
        ladder.run("make stop", project, env=env)
