"""Level 3: ingest, registry and gate, a tested scoring service, CD; also in team mode.

Each test works on its own copy of the session's first run of level 3 (see conftest.py)."""

import json
import shlex
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from gha import run_workflow
from runs import (
    clone_and_pull,
    commit,
    git_commit_all,
    in_project,
    make,
    readme_commands,
    set_param,
)
from services import (
    background,
    free_port,
    fuzz,
    http,
    mlflow_server,
    postgres,
    scoring_service,
    sshd,
    wait_for,
)

from mlops_ladder import ladder

pytestmark = pytest.mark.levels(3)  # each test has its own copy: any worker can take it

FIRST_ALPHA, WORSE_ALPHA, BETTER_ALPHA = "300", "100000.0", "1.0"  # RMSE ≈ 4.84, 7.37, 4.69
OFFLINE = """
import json, pandas as pd
from {package} import registry, tracking
from {package}.predict import predict
tracking.connect()
champion = registry.load(registry.CHAMPION)
rides = pd.read_parquet("data/prepared/val.parquet").head(40)
features = rides[["PULocationID", "DOLocationID", "trip_distance"]]
print(json.dumps({{"version": champion.version, "rides": features.to_dict(orient="records"),
                  "predictions": predict(champion.model, features).tolist()}}))
"""
BAD_PAYLOADS = [
    b'{"PULocationID": 74',
    {"PULocationID": 74, "DOLocationID": 75},
    {"PULocationID": 74, "DOLocationID": 75, "trip_distance": 2.5, "fare": 9},
    {"PULocationID": "x", "DOLocationID": 75, "trip_distance": 2.5},
    {"PULocationID": 74, "DOLocationID": 75, "trip_distance": -3},
    {"PULocationID": 74, "DOLocationID": 999, "trip_distance": 2.5},
    [{"PULocationID": 74, "DOLocationID": 75, "trip_distance": 2.5}] * 1001,
    b"[" * 100_000 + b"]" * 100_000,  # nested too deep to parse
    b'{"PULocationID": 74, "DOLocationID": 75, "trip_distance": NaN}',
    b'{"PULocationID": 74, "DOLocationID": "\xff", "trip_distance": 2.5}',  # not UTF-8
]
TOKEN = "an-e2e-token"  # the service's SERVICE_TOKEN: POST /reload needs it


def with_mediocre_champion(project: Path) -> Path:
    """The project with a new, empty registry, and alpha=300 for a deliberately mediocre first
    champion; the data ingested by the first run stays. DVC's run cache goes too: it would
    restore models trained for the old registry, unknown to the new one."""
    made_by_the_first_run = (
        "mlflow.db", "mlruns", ".dvc/cache/runs", "reports/gate.json", "reports/decisions.jsonl"
    )  # fmt: skip
    for made in made_by_the_first_run:
        path = project / made
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    set_param(project, "alpha", FIRST_ALPHA)
    git_commit_all(project)
    return project


def repro(project: Path, env: dict[str, str]) -> dict[str, Any]:
    """`dvc repro`; returns the gate's decision."""
    ladder.run("uv run dvc repro", project, env={**ladder.project_env(), **env})
    decision: dict[str, Any] = json.loads((project / "reports" / "gate.json").read_text())
    return decision


def offline(project: Path, env: dict[str, str]) -> dict[str, Any]:
    printed = in_project(project, OFFLINE.format(package=project.name), env)
    champion: dict[str, Any] = json.loads(printed.splitlines()[-1])
    return champion


def release_flow(project: Path, tracking_uri: str) -> None:
    """First champion -> serve -> a worse challenger is rejected -> a better one is promoted,
    deployed by reload and served; bad payloads never break the service."""
    env = {"MLFLOW_TRACKING_URI": tracking_uri}
    first = repro(project, env)
    assert first["promoted"] and first["challenger_version"] == "1", first

    with scoring_service(project, tracking_uri, token=TOKEN) as url:
        expected = offline(project, env)
        status, served = http(f"{url}/predict", expected["rides"])
        assert status == 200 and served["model_version"] == "1"
        assert served["predictions"] == pytest.approx(expected["predictions"])

        for payload in BAD_PAYLOADS:
            status, body = http(f"{url}/predict", payload)
            assert 400 <= status < 500, (payload, status, body)
        assert http(f"{url}/health") == (200, {"status": "ok", "model_version": "1"})
        assert http(f"{url}/reload", method="POST")[0] == 401, "writes need the token"
        contract = http(f"{url}/openapi.json")[1]["paths"]["/predict"]["post"]
        assert "examples" in contract["requestBody"]["content"]["application/json"]
        assert "Tested: 4" in fuzz(project, url, TOKEN), "every operation was fuzzed"

        set_param(project, "alpha", WORSE_ALPHA)
        worse = repro(project, env)
        assert not worse["promoted"] and worse["challenger_version"] == "2", worse
        assert offline(project, env)["version"] == "1"
        assert http(f"{url}/model")[1]["version"] == "1"

        set_param(project, "alpha", BETTER_ALPHA)
        better = repro(project, env)
        assert better["promoted"] and better["challenger_version"] == "3", better
        assert better["challenger_rmse"] < better["champion_rmse"] - 0.01
        assert http(f"{url}/model")[1]["version"] == "1", "no reload yet"

        port = url.rsplit(":", 1)[1]
        deploy_env = {**ladder.project_env(), **env, "SERVE_PORT": port, "SERVICE_TOKEN": TOKEN}
        ladder.run("make deploy", project, env=deploy_env)
        expected = offline(project, env)
        status, served = http(f"{url}/predict", expected["rides"])
        assert (status, served["model_version"]) == (200, "3")
        assert served["predictions"] == pytest.approx(expected["predictions"])
        assert http(f"{url}/model")[1]["gate"]["gate.promoted"] == "True"

    decisions = (project / "reports" / "decisions.jsonl").read_text().splitlines()
    assert [json.loads(line)["promoted"] for line in decisions] == [True, False, True]


@pytest.fixture
def level3(committed_copy: Callable[[int], Path]) -> Path:
    return committed_copy(3)


def test_release_flow__gate_rejects_worse_promotes_better_and_the_service_follows(
    level3: Path,
) -> None:
    project = with_mediocre_champion(level3)
    release_flow(project, f"sqlite:///{project / 'mlflow.db'}")


def test_ingest__a_bad_batch_is_refused_and_nothing_downstream_runs(
    level3: Path, tmp_path: Path
) -> None:
    source = tmp_path / "source"
    env = {**ladder.project_env(), "MLFLOW_TRACKING_URI": f"sqlite:///{level3 / 'mlflow.db'}"}
    in_project(
        level3,
        f"from {level3.name}.simulate import simulate_month, write_month\n"
        f"write_month('2024-01', {str(source)!r})\n"
        f"simulate_month('2024-02').assign(trip_distance=-1.0)"
        f".to_parquet({str(source / 'green_tripdata_2024-02.parquet')!r})",
    )
    gate_before = (level3 / "reports" / "gate.json").read_text()
    raw_before = {p.name: p.read_bytes() for p in (level3 / "data" / "raw").iterdir()}
    set_param(level3, "source", str(source))
    try:
        failed = subprocess.run(
            ["uv", "run", "dvc", "repro"], cwd=level3, env=env, capture_output=True, text=True
        )
        assert failed.returncode != 0
        assert "refused green_tripdata_2024-02.parquet" in failed.stdout + failed.stderr
        assert "a trip_distance missing or outside 0..500" in failed.stdout + failed.stderr
        assert "Running stage 'prepare'" not in failed.stdout
        assert (level3 / "reports" / "gate.json").read_text() == gate_before
        assert {p.name: p.read_bytes() for p in (level3 / "data" / "raw").iterdir()} == raw_before
    finally:
        set_param(level3, "source", "simulator")


def test_cd_workflow__runnable_steps_pass_and_deploy_reloads_the_service(level3: Path) -> None:
    tracking_uri = f"sqlite:///{level3 / 'mlflow.db'}"
    with scoring_service(level3, tracking_uri, token=TOKEN) as url:
        assert http(f"{url}/model")[1]["version"] == "1"
        # A pushed change that the gate promotes: alpha 10 beats alpha 1 by a hair (margin 0).
        before = head(level3)
        set_param(level3, "alpha", "10.0")
        set_param(level3, "margin", "0.0")
        commit(level3, "Release alpha 10")
        run = run_workflow(
            level3 / ".github" / "workflows" / "cd.yml",
            level3,
            {"MLFLOW_TRACKING_URI": tracking_uri, "BEFORE": before, "DEPLOY_URL": url,
             "SERVICE_TOKEN": TOKEN},
        )  # fmt: skip
        # A model-only release: no image, no rollout; the service reloads the new champion.
        assert run.outputs["release-model"] == {"code": "false", "promoted": "true", "version": "2"}
        assert "image: skipped, `if: needs.release-model.outputs.code == 'true'` is false" in (
            run.log
        )
        assert "deploy: ran Reload the production service with the new champion" in run.log
        assert http(f"{url}/model")[1]["version"] == "2"


def head(project: Path) -> str:
    """The project's current commit."""
    done = ladder.run("git rev-parse HEAD", project, capture_output=True, text=True)
    commit: str = done.stdout.strip()
    return commit


STAND_IN_DOCKER = """#!/bin/sh
# Stands in for docker on the deploy host, whose service is the project's local one here:
# `compose up -d scorer` replaces it by the code $IMAGE_TAG, as a container of that image would.
{exports}
case "$*" in
  "compose pull scorer") echo "pulled $SCORER_IMAGE:$IMAGE_TAG" ;;
  "compose up -d scorer") make stop && CODE_VERSION="$IMAGE_TAG" make deploy ;;
  *) echo "docker $*: not a step of the rollout" >&2; exit 2 ;;
esac
"""


def test_cd_workflow__new_code_is_rolled_out_over_ssh_then_the_champion_reloaded(
    copy_of: Callable[[int], Path], tmp_path: Path
) -> None:
    """A push that changes the service's code: the deploy job runs `make deploy URL=… TAG=…`,
    which reaches the host over real ssh (a loopback sshd) and runs docker compose there; the
    host's docker is a stand-in that restarts the local service with the new CODE_VERSION."""
    project = copy_of(3)
    commit(project, "First release")
    port, tracking_uri = free_port(), f"sqlite:///{project / 'mlflow.db'}"
    url = f"http://127.0.0.1:{port}"
    env = {**ladder.project_env(), "MLFLOW_TRACKING_URI": tracking_uri, "SERVE_PORT": str(port),
           "SERVICE_TOKEN": TOKEN, "SCORER_IMAGE": "ghcr.io/owner/repo"}  # fmt: skip
    docker = tmp_path / "host-bin" / "docker"
    docker.parent.mkdir()
    exports = "\n".join(f"export {k}={shlex.quote(v)}" for k, v in env.items())
    docker.write_text(STAND_IN_DOCKER.format(exports=exports))
    docker.chmod(0o755)
    with sshd([docker.parent]) as host:
        try:
            ladder.run("make deploy", project, env={**env, "CODE_VERSION": "0ld"})
            assert http(f"{url}/health")[1]["code_version"] == "0ld"
            before = head(project)
            serve = next((project / "src").glob("*/serve.py"))
            serve.write_text(serve.read_text() + "\n# A fix that must reach production.\n")
            commit(project, "Fix the service")
            run = run_workflow(
                project / ".github" / "workflows" / "cd.yml",
                project,
                {"MLFLOW_TRACKING_URI": tracking_uri, "BEFORE": before, "DEPLOY_URL": url,
                 "SERVICE_TOKEN": TOKEN, "IMAGE_TAG": head(project), "DEPLOY_HOST": host.host,
                 "DEPLOY_DIR": str(project), "DEPLOY_KNOWN_HOSTS": host.known_hosts,
                 "DEPLOY_SSH_KEY": host.key},
            )  # fmt: skip
            health = http(f"{url}/health")
        finally:
            ladder.run("make stop", project, env=env)
    assert run.outputs["release-model"]["code"] == "true"
    assert "image: skipped docker/build-push-action (needs a Docker engine and ghcr.io)" in run.log
    rolled = "deploy: ran Roll the new image out, then load the champion and check both are served"
    assert rolled in run.log
    assert any(line.startswith("deploy: skipped, `if: ") for line in run.log), run.log
    assert health == (200, {"status": "ok", "model_version": "1", "code_version": head(project)})


def test_push__refuses_the_uncommitted_first_run_then_a_clone_pulls_it_whole(
    copy_of: Callable[[int], Path],
) -> None:
    project = copy_of(3)  # as `make run` leaves it: dvc.lock staged, the run not committed
    refused = make(project, "push")
    assert refused.returncode != 0, "a clone would get no dvc.lock: Checkout failed"
    assert "dvc.lock" in refused.stdout and "make push: commit" in refused.stderr

    commit(project, "First tracked run")  # as the README says
    pushed = make(project, "push")
    assert pushed.returncode == 0, pushed.stdout + pushed.stderr
    clone = clone_and_pull(project)
    status = ladder.run("uv run dvc status", clone, capture_output=True, text=True).stdout
    assert "Data and pipelines are up to date." in status
    for path in ("models/model.pkl", "data/prepared/val.parquet"):
        assert (clone / path).read_bytes() == (project / path).read_bytes(), path


def test_team_mode__the_release_flow_against_postgresql_and_mlflow_server(
    copy_of: Callable[[int], Path],
) -> None:
    project = copy_of(3)
    ladder.run("uv sync --locked --quiet --inexact --group team", project)
    with postgres() as database, mlflow_server(project, database) as tracking_uri:
        project = with_mediocre_champion(project)
        release_flow(project, tracking_uri)
        assert not (project / "mlflow.db").exists(), "team mode must not touch SQLite"


IDENTITY = {"GIT_AUTHOR_NAME": "e2e", "GIT_AUTHOR_EMAIL": "e2e@example.com",
            "GIT_COMMITTER_NAME": "e2e", "GIT_COMMITTER_EMAIL": "e2e@example.com"}  # fmt: skip


def make_printed(project: Path, env: dict[str, str], target: str) -> str:
    """`make TARGET` in the project; returns what it printed."""
    done = ladder.run(f"make {target}", project, env=env, capture_output=True, text=True)
    printed: str = done.stdout
    return printed


def test_readme_gate__a_better_model_is_promoted_deployed_and_make_stop_stops_it(
    level3: Path,
) -> None:
    """The README's gate section, pasted line by line: a worse model is rejected, more data
    makes a better one that the gate promotes and `make deploy` serves, and the release is
    committed. `make stop` then stops that service, and one that `make serve` started."""
    port = free_port()
    env = {**ladder.project_env(), **IDENTITY, "SERVE_PORT": str(port)}
    url = f"http://127.0.0.1:{port}"
    try:
        for command in readme_commands(level3, "The gate"):
            ladder.run(command, level3, env=env)
        decisions = (level3 / "reports" / "decisions.jsonl").read_text().splitlines()
        # The rejection went with the workspace it was made in (`git checkout .`): only the
        # committed history remains, the first run's promotion and the release's.
        assert [json.loads(line)["promoted"] for line in decisions] == [True, True]
        assert "promoted=true\nversion=3" in make_printed(level3, env, "decision")
        assert http(f"{url}/health") == (200, {"status": "ok", "model_version": "3"})
        assert ladder.run("git status --porcelain", level3, capture_output=True).stdout == b""
        pid = (level3 / "serve.pid").read_text().strip()
    finally:
        stopped = make_printed(level3, env, "stop")
    assert f"stopped the local service (PID {pid})" in stopped
    assert http(f"{url}/health")[0] == 0 and not (level3 / "serve.pid").exists()

    with background(["make", "serve"], level3, env, level3.parent / "serve.out") as serving:
        wait_for(f"{url}/health", serving)
        assert "stopped the local service (PID " in make_printed(level3, env, "stop")
        assert serving.wait(timeout=30) == 0, "make serve ends as by Ctrl+C"
    assert "no local service to stop (no serve.pid)" in make_printed(level3, env, "stop")
