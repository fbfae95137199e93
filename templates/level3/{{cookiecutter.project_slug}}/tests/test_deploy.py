"""Deploying the champion: a running service is reloaded and checked, the local one is started
when none runs, new code is rolled out first, and every failure is one clear error. Real
services on loopback ports; the rollout's target is the local service, restarted by a command of
the test's own in place of docker compose over ssh; code changes are read from a real git repo."""

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from starlette.types import ASGIApp

from {{ cookiecutter.package_name }} import tracking
from {{ cookiecutter.package_name }}.cli import main
from {{ cookiecutter.package_name }}.deploy import (
    call,
    code_changed,
    deploy,
    rollout,
    rollout_command,
    settled,
    stop_local,
    wait_healthy,
)
from {{ cookiecutter.package_name }}.gate import Decision, release
from {{ cookiecutter.package_name }}.schema import CATEGORICAL, NUMERICAL
from {{ cookiecutter.package_name }}.serve import create_app
from {{ cookiecutter.package_name }}.train import train

Live = Callable[[ASGIApp], str]  # the `live` fixture: serves an app, returns its URL


def released(rides: pd.DataFrame, alpha: float) -> Decision:
    """Train and log a model, and release it through the gate, which must promote it."""
    with mlflow.start_run():
        model = train(rides, alpha=alpha)
        uri = tracking.log_model(model, rides[[*CATEGORICAL, *NUMERICAL]].head(5))
    decision = release(uri, rides, "tiny", margin=0.01, max_rmse=60.0)
    assert decision.promoted, decision.reason
    return decision


def nothing_listens() -> str:
    """The URL of a free loopback port: nothing answers there."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{probe.getsockname()[1]}"


def test_deploy__reloads_a_running_service_and_checks_it_serves_the_champion(
    store: str, rides: pd.DataFrame, live: Live
) -> None:
    first = released(rides, alpha=1e6).challenger_version  # all but the mean: easy to beat
    url = live(create_app())
    assert call(f"{url}/health") == (200, {"status": "ok", "model_version": first})

    second = released(rides, alpha=1.0).challenger_version
    said = deploy(second, url)

    assert said == f"reloaded {url}: version {first} -> {second}; serving champion version {second}"
    assert call(f"{url}/model")[1]["version"] == second


def test_deploy__a_service_that_still_serves_another_version_is_an_error(
    store: str, rides: pd.DataFrame, live: Live
) -> None:
    version = released(rides, alpha=1.0).challenger_version
    url = live(create_app())
    with pytest.raises(RuntimeError, match=f"serves version {version}, not the champion 7"):
        deploy("7", url, settle=0)


def test_settled__waits_for_a_replica_that_loads_the_champion_at_its_next_poll(
    store: str, rides: pd.DataFrame, live: Live
) -> None:
    first = released(rides, alpha=1e6).challenger_version
    replica = live(create_app(reload_seconds=0.2))  # one that no POST /reload reaches
    assert call(f"{replica}/model")[1]["version"] == first
    second = released(rides, alpha=1.0).challenger_version
    assert settled(replica, second, seconds=30) == (True, second)
    assert settled(replica, "99", seconds=0) == (False, second)


def test_deploy__a_failing_reload_is_an_error_with_the_service_s_answer(
    store: str, live: Live
) -> None:
    url = live(create_app())  # an empty registry: the service starts, with nothing to load
    with pytest.raises(RuntimeError, match=r"/reload answered 409: .*no model version"):
        deploy("1", url)


def test_deploy__nothing_at_the_url_is_an_error_and_nothing_is_started(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    url = nothing_listens()
    with pytest.raises(RuntimeError, match=f"no service answers at {url}"):
        deploy("1", url)
    assert not (tmp_path / "serve.pid").exists()


def test_wait_healthy__gives_up_after_its_time() -> None:
    with pytest.raises(RuntimeError, match="did not become healthy within 1 s"):
        wait_healthy(nothing_listens(), seconds=1)


def test_deploy__without_a_service_starts_the_local_one(
    store: str, rides: pd.DataFrame, tmp_path: Path
) -> None:
    version = released(rides, alpha=1.0).challenger_version
    port = int(nothing_listens().rsplit(":", 1)[1])
    pid_file = tmp_path / "serve.pid"  # where deploy leaves the PID of what it started
    try:
        said = deploy(version, port=port)
        served = call(f"http://127.0.0.1:{port}/model")[1]
    finally:  # stop the service, whatever happened
        if pid_file.exists():
            os.kill(pid := int(pid_file.read_text()), signal.SIGTERM)
            os.waitpid(pid, 0)
    assert said == (
        f"started the local service (PID {pid}, log serve.log); serving champion version {version}"
    )
    assert served["version"] == version


def test_cli_deploy__says_what_it_did_or_why_it_could_not(
    store: str, rides: pd.DataFrame, live: Live, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["deploy", "--url", nothing_listens()])
    assert stop.value.code == 1
    assert "the registry has no champion yet" in capsys.readouterr().err

    version = released(rides, alpha=1.0).challenger_version
    main(["deploy", "--url", live(create_app())])
    assert f"serving champion version {version}" in capsys.readouterr().out

    with pytest.raises(SystemExit) as stop:
        main(["deploy", "--url", nothing_listens()])
    assert stop.value.code == 1
    assert "deploy failed: no service answers at" in capsys.readouterr().err


def test_cli_decision__prints_the_gate_s_decision_as_step_outputs(
    store: str, rides: pd.DataFrame, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    decision = released(rides, alpha=1.0)
    (tmp_path / "reports").mkdir()  # where the gate stage writes it (paths.gate)
    (tmp_path / "reports" / "gate.json").write_text(json.dumps(asdict(decision)))
    main(["--params", str(Path(__file__).parents[1] / "params.yaml"), "decision"])
    assert capsys.readouterr().out == f"promoted=true\nversion={decision.challenger_version}\n"


def restart_local(port: int, code_version: str = "$IMAGE_TAG") -> str:
    """A rollout command whose target is the local service: stop it (if it runs), start it again
    with new code (the image's tag, unless told otherwise), as `docker compose up -d` replaces a
    container. The service outlives the command, as a container does; it removes serve.pid as
    it exits, which is when its port is free again."""
    stop = 'kill -INT "$(cat serve.pid)"; while [ -f serve.pid ]; do sleep 0.1; done'
    serve = f"{sys.executable} -m {{ cookiecutter.package_name }} serve --port {port}"
    start = f'CODE_VERSION="{code_version}" {serve} --pid-file serve.pid >>serve.log 2>&1 &'
    return f"if [ -f serve.pid ]; then {stop}; fi; {start}"


def test_deploy__rolls_new_code_out_then_checks_it_serves_the_code_and_the_champion(
    store: str, rides: pd.DataFrame, tmp_path: Path
) -> None:
    version = released(rides, alpha=1.0).challenger_version
    url = nothing_listens()
    env = {**os.environ, "ROLLOUT_COMMAND": restart_local(int(url.rsplit(":", 1)[1]))}
    try:
        assert rollout("0ld", url, env) == f"rolled out code 0ld to {url}"  # what runs now
        said = deploy(version, url, image_tag="c0de", env=env)
        health = call(f"{url}/health")
    finally:
        stop_local(tmp_path / "serve.pid")
    assert said == (
        f"rolled out code c0de to {url}; reloaded {url}: version {version} -> {version}; "
        f"serving champion version {version}"
    )
    assert health == (200, {"status": "ok", "model_version": version, "code_version": "c0de"})


def test_rollout__a_service_back_with_other_code_is_a_named_error(
    store: str, rides: pd.DataFrame, tmp_path: Path
) -> None:
    released(rides, alpha=1.0)
    url = nothing_listens()
    wrong = restart_local(int(url.rsplit(":", 1)[1]), code_version="0ld")
    try:
        with pytest.raises(RuntimeError) as failed:
            rollout("c0de", url, {**os.environ, "ROLLOUT_COMMAND": wrong})
    finally:
        stop_local(tmp_path / "serve.pid")
    assert str(failed.value) == f"{url} runs code 0ld, not c0de: the rollout did not take effect"


def test_rollout__a_failing_command_is_a_one_line_error_and_the_service_is_untouched(
    store: str, rides: pd.DataFrame, live: Live
) -> None:
    version = released(rides, alpha=1.0).challenger_version
    url = live(create_app(code_version="0ld"))
    env = {"ROLLOUT_COMMAND": "echo pulling >&2; echo 'ssh: Connection refused' >&2; exit 255"}
    with pytest.raises(RuntimeError) as failed:
        deploy(version, url, image_tag="c0de", env=env)
    assert str(failed.value) == "the rollout command failed (exit 255): ssh: Connection refused"
    assert call(f"{url}/health") == (
        200, {"status": "ok", "model_version": version, "code_version": "0ld"}
    )  # fmt: skip


def test_rollout__a_service_that_never_comes_back_is_an_error() -> None:
    url = nothing_listens()
    with pytest.raises(RuntimeError, match=f"^{url} did not become healthy within 1 s$"):
        rollout("c0de", url, {"ROLLOUT_COMMAND": "true"}, wait_seconds=1)


def test_rollout__a_command_that_hangs_is_stopped_and_named() -> None:
    with pytest.raises(RuntimeError, match=r"^the rollout command did not finish within 1 s$"):
        rollout("c0de", nothing_listens(), {"ROLLOUT_COMMAND": "sleep 30"}, command_seconds=1)


def test_rollout_command__docker_compose_over_ssh_with_the_key_and_host_key_in_files(
    tmp_path: Path,
) -> None:
    env = {
        "DEPLOY_HOST": "deploy@scoring.example.com",
        "DEPLOY_DIR": "/srv/my service",
        "DEPLOY_SSH_KEY": "-----BEGIN OPENSSH PRIVATE KEY-----\nkey\n",
        "DEPLOY_KNOWN_HOSTS": "scoring.example.com ssh-ed25519 AAAA",
    }
    command = rollout_command("c0de", env, tmp_path)
    key, known = tmp_path / "deploy_key", tmp_path / "known_hosts"
    assert command == [
        "ssh", "-o", "BatchMode=yes",
        "-i", str(key), "-o", "IdentitiesOnly=yes",
        "-o", f"UserKnownHostsFile={known}", "-o", "StrictHostKeyChecking=yes",
        "deploy@scoring.example.com",
        "cd '/srv/my service' && export IMAGE_TAG=c0de && "
        "docker compose pull scorer && docker compose up -d scorer",
    ]  # fmt: skip
    assert key.read_text() == "-----BEGIN OPENSSH PRIVATE KEY-----\nkey\n"
    assert key.stat().st_mode & 0o777 == 0o600, "ssh refuses a key that others can read"
    assert known.read_text() == "scoring.example.com ssh-ed25519 AAAA\n"


def test_rollout_command__without_a_target_names_what_to_set(tmp_path: Path) -> None:
    with pytest.raises(
        RuntimeError, match=r"^set DEPLOY_HOST and DEPLOY_DIR .* or ROLLOUT_COMMAND"
    ):
        rollout_command("c0de", {}, tmp_path)
    assert rollout_command("c0de", {"DEPLOY_HOST": "h", "DEPLOY_DIR": "d"}, tmp_path) == [
        "ssh", "-o", "BatchMode=yes", "h",
        "cd d && export IMAGE_TAG=c0de && "
        "docker compose pull scorer && docker compose up -d scorer",
    ]  # fmt: skip


def test_cli_deploy__a_failed_rollout_says_why(
    store: str,
    rides: pd.DataFrame,
    live: Live,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    released(rides, alpha=1.0)
    url = live(create_app())
    monkeypatch.setenv("ROLLOUT_COMMAND", "exit 3")
    with pytest.raises(SystemExit) as stop:
        main(["deploy", "--url", url, "--image-tag", "c0de"])
    assert stop.value.code == 1
    said = capsys.readouterr().err
    assert "deploy failed: the rollout command failed (exit 3): no output" in said


def git(folder: Path, *args: str) -> str:
    """Run git in `folder` as a person with an identity; returns what it printed."""
    identity = ["-c", "user.name=Test", "-c", "user.email=test@example.com"]
    done = subprocess.run(["git", *identity, *args], cwd=folder, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def commit(folder: Path, files: dict[str, str]) -> str:
    """Write `files` and commit them; returns the commit."""
    for name, text in files.items():
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        (folder / name).write_text(text)
    git(folder, "add", "-A")
    git(folder, "commit", "-q", "-m", f"Change {', '.join(files)}")
    return git(folder, "rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A git repository with a project's layout, one commit."""
    git(tmp_path, "init", "-q")
    files = {"src/pkg/serve.py": "", "uv.lock": "", "README.md": "", "params.yaml": ""}
    commit(tmp_path, files)
    return tmp_path


def test_code_changed__what_the_image_is_built_from_decides(repo: Path) -> None:
    first = git(repo, "rev-parse", "HEAD")
    docs = commit(repo, {"README.md": "more words", "params.yaml": "alpha: 2"})
    assert code_changed(first, folder=repo) == (
        False, f"nothing the image is built from changed since {first[:12]}"
    )  # fmt: skip
    commit(repo, {"src/pkg/serve.py": "fixed = True"})
    assert code_changed(docs, folder=repo) == (
        True, f"changed since {docs[:12]}: src/pkg/serve.py"
    )  # fmt: skip
    names = ["uv.lock", "Dockerfile", "pyproject.toml", "src/pkg/new.py", ".dockerignore"]
    commit(repo, dict.fromkeys(names, "changed"))
    changed, why = code_changed(docs, folder=repo)
    assert changed
    assert why.endswith(": .dockerignore, Dockerfile, pyproject.toml and 3 more")


def test_code_changed__without_an_earlier_commit_it_builds(repo: Path) -> None:
    assert code_changed("", folder=repo) == (True, "no earlier commit to compare with")
    assert code_changed("0" * 40, folder=repo) == (True, "no earlier commit to compare with")
    gone = "1234567890abcdef1234567890abcdef12345678"  # as after a force push
    assert code_changed(gone, folder=repo) == (
        True, f"the earlier commit {gone} is not in this clone"
    )  # fmt: skip


def test_code_changed__outside_a_git_repository_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="'HEAD' is not a commit of a git repository at"):
        code_changed("", folder=tmp_path)


def test_cli_changed__prints_a_step_output_and_why(
    repo: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(repo)
    first = git(repo, "rev-parse", "HEAD")
    main(["changed", first])
    out, err = capsys.readouterr()
    assert out == "code=false\n"
    assert err == f"no image to build: nothing the image is built from changed since {first[:12]}\n"
    main(["changed"])  # a run by hand: no earlier commit
    out, err = capsys.readouterr()
    assert (out, err) == ("code=true\n", "build the image: no earlier commit to compare with\n")


def test_image_healthcheck__asks_the_port_the_service_listens_on(
    store: str, rides: pd.DataFrame, live: Live
) -> None:
    released(rides, alpha=1.0)
    url = live(create_app())
    dockerfile = (Path(__file__).parents[1] / "Dockerfile").read_text()
    check = json.loads(dockerfile.split("HEALTHCHECK", 1)[1].split("CMD", 1)[1].split("\n", 1)[0])
    assert check[0] == "python", check
    command = [sys.executable, *check[1:]]

    def healthy(port: str) -> bool:
        env = {**os.environ, "SERVE_PORT": port}
        return subprocess.run(command, env=env, capture_output=True).returncode == 0

    assert healthy(url.rsplit(":", 1)[1])
    assert not healthy(nothing_listens().rsplit(":", 1)[1])
