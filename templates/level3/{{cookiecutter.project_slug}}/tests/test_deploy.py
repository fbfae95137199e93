"""Deploying the champion: a running service is reloaded and checked, the local one is started
when none runs, and every failure is one clear error. Real services on loopback ports."""

import json
import os
import signal
import socket
from dataclasses import asdict

import mlflow
import pytest

from {{ cookiecutter.package_name }} import tracking
from {{ cookiecutter.package_name }}.cli import main
from {{ cookiecutter.package_name }}.deploy import call, deploy, wait_healthy
from {{ cookiecutter.package_name }}.features import CATEGORICAL, NUMERICAL
from {{ cookiecutter.package_name }}.gate import Decision, release
from {{ cookiecutter.package_name }}.serve import create_app
from {{ cookiecutter.package_name }}.train import train


def released(rides, alpha: float) -> Decision:
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


def test_deploy__reloads_a_running_service_and_checks_it_serves_the_champion(store, rides, live):
    first = released(rides, alpha=1e6).challenger_version  # all but the mean: easy to beat
    url = live(create_app())
    assert call(f"{url}/health") == (200, {"status": "ok", "model_version": first})

    second = released(rides, alpha=1.0).challenger_version
    said = deploy(second, url)

    assert said == f"reloaded {url}: version {first} -> {second}; serving champion version {second}"
    assert call(f"{url}/model")[1]["version"] == second


def test_deploy__a_service_that_still_serves_another_version_is_an_error(store, rides, live):
    version = released(rides, alpha=1.0).challenger_version
    url = live(create_app())
    with pytest.raises(RuntimeError, match=f"serves version {version}, not the champion 7"):
        deploy("7", url)


def test_deploy__a_failing_reload_is_an_error_with_the_service_s_answer(store, live):
    url = live(create_app())  # an empty registry: the service starts, with nothing to load
    with pytest.raises(RuntimeError, match="/reload answered 409: .*no model version"):
        deploy("1", url)


def test_deploy__nothing_at_the_url_is_an_error_and_nothing_is_started(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    url = nothing_listens()
    with pytest.raises(RuntimeError, match=f"no service answers at {url}"):
        deploy("1", url)
    assert not (tmp_path / "serve.pid").exists()


def test_wait_healthy__gives_up_after_its_time():
    with pytest.raises(RuntimeError, match="did not become healthy within 1 s"):
        wait_healthy(nothing_listens(), seconds=1)


def test_deploy__without_a_service_starts_the_local_one(store, rides, tmp_path):
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


def test_cli_deploy__says_what_it_did_or_why_it_could_not(store, rides, live, capsys):
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


def test_cli_decision__prints_the_gate_s_decision_as_step_outputs(store, rides, tmp_path, capsys):
    decision = released(rides, alpha=1.0)
    (tmp_path / "reports").mkdir()  # where the gate stage writes it (paths.gate)
    (tmp_path / "reports" / "gate.json").write_text(json.dumps(asdict(decision)))
    main(["decision"])
    assert capsys.readouterr().out == f"promoted=true\nversion={decision.challenger_version}\n"
