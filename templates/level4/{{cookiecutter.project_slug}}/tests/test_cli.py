import runpy
import shutil
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pandas as pd
import pytest
from conftest import RIDE

from {{ cookiecutter.package_name }} import cli
from {{ cookiecutter.package_name }}.cli import COMMAND, main
from {{ cookiecutter.package_name }}.data import read_month
from {{ cookiecutter.package_name }}.schema import file_name


def test_cli__simulate_train_predict(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data, model = tmp_path / "data", tmp_path / "models" / "model.pkl"
    output = tmp_path / "predictions.parquet"

    main(["simulate", "2024-01", "2024-02", "--rides", "500", "--data-dir", str(data)])
    main(["train", "--data-dir", str(data), "--model", str(model)])
    # The rides that hold every feature: real records miss some values, and so does the simulator.
    complete = read_month(data / file_name("2024-02")).dropna(subset=list(RIDE))
    complete.to_parquet(rides := tmp_path / "complete.parquet")
    main(["predict", str(rides), "--model", str(model), "--output", str(output)])

    printed = capsys.readouterr().out
    assert "validation RMSE (2024-02):" in printed
    predictions = pd.read_parquet(output)
    assert len(predictions) == len(complete) > 450
    assert predictions["predicted_duration"].notna().all()


def test_cli__missing_data_is_one_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["train", "--data-dir", str(tmp_path)])
    assert stop.value.code == 1
    assert "does not exist: simulate it" in capsys.readouterr().err


def test_cli__bad_month_is_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["simulate", "2024-13"])
    assert stop.value.code == 2
    assert "is not a month like 2024-01" in capsys.readouterr().err


@pytest.mark.parametrize("rides", ["0", "-5", "many"])
def test_cli__rides_must_be_a_whole_number_above_zero(
    rides: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["simulate", "2024-01", "--rides", rides])
    assert stop.value.code == 2
    assert "is not a whole number above 0" in capsys.readouterr().err


def test_cli__the_installed_command_and_python_m_run_the_same_cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    (script,) = entry_points(group="console_scripts", name=COMMAND)
    assert script.load() is main, "[project.scripts] in pyproject.toml points at cli.main"
    installed = shutil.which(COMMAND, path=Path(sys.executable).parent)
    assert installed, f"no {COMMAND} next to {sys.executable}: run `uv sync`"
    done = subprocess.run([installed, "--help"], capture_output=True, text=True, check=True)
    assert done.stdout.startswith(f"usage: {COMMAND} [-h]"), done.stdout

    package = main.__module__.split(".")[0]
    monkeypatch.setattr(sys, "argv", ["python", "--help"])
    with pytest.raises(SystemExit) as stop:
        runpy.run_module(package, run_name="__main__")  # what `python -m` runs
    assert stop.value.code == 0
    assert capsys.readouterr().out.startswith(f"usage: python -m {package} [-h]")


@pytest.mark.parametrize("command", ["serve", "deploy"])
def test_cli__a_service_command_from_the_wrong_folder_makes_no_empty_store(
    command: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    with pytest.raises(SystemExit) as stop:
        main([command])
    assert stop.value.code == 1
    assert capsys.readouterr().err == (
        f"error: no mlflow.db in {tmp_path}: run this in the project's folder after the "
        "pipeline (dvc repro), or set MLFLOW_TRACKING_URI\n"
    )
    assert list(tmp_path.iterdir()) == [], "nothing written where the command ran"


@pytest.mark.parametrize(
    ("variable", "value", "problem"),
    [
        ("SERVE_PORT", "abc", "'abc' is not a port number (1 to 65535)"),
        ("SERVE_PORT", "70000", "'70000' is not a port number (1 to 65535)"),
        ("RELOAD_SECONDS", "-1", "'-1' is not a number of seconds (0 or more)"),
        ("RELOAD_SECONDS", "nan", "'nan' is not a number of seconds (0 or more)"),
        ("MAX_BODY_BYTES", "0", "'0' is not a whole number above 0"),
    ],
)
def test_cli__serve_checks_the_numbers_it_takes_from_the_environment(
    variable: str,
    value: str,
    problem: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    monkeypatch.setenv(variable, value)
    with pytest.raises(SystemExit) as stop:
        main(["serve"])
    assert stop.value.code == 1
    assert capsys.readouterr().err == f"error: ${variable}: {problem}\n"


@pytest.mark.parametrize("option", ["--port=0", "--reload-seconds=-2", "--max-body-bytes=1.5"])
def test_cli__serve_checks_the_numbers_of_its_options(
    option: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stop:
        main(["serve", option])
    assert stop.value.code == 2
    assert f"argument {option.split('=')[0]}: '{option.split('=')[1]}' is not" in (
        capsys.readouterr().err
    )


def test_cli_feedback__from_the_wrong_folder_makes_no_empty_log(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    durations = tmp_path / "durations.csv"
    durations.write_text("request_id,row,duration\nabc,0,12.5\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.delenv("PREDICTION_LOG_URL", raising=False)
    with pytest.raises(SystemExit) as stop:
        main(["feedback", str(durations)])
    assert stop.value.code == 1
    assert capsys.readouterr().err == (
        f"error: no predictions.db in {elsewhere}: run this in the project's folder, where the "
        "service logs its predictions, or set PREDICTION_LOG_URL\n"
    )
    assert list(elsewhere.iterdir()) == [], "no empty log made"


def test_cli_feedback__a_file_without_the_columns_names_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    durations = tmp_path / "durations.csv"
    durations.write_text("request_id,minutes\nabc,12.5\n")
    with pytest.raises(SystemExit) as stop:
        main(["feedback", str(durations)])
    assert stop.value.code == 1
    assert capsys.readouterr().err == (
        f"error: {durations} has no column row, duration; it needs "
        "['request_id', 'row', 'duration']\n"
    )


def test_cli__a_bug_keeps_its_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    """A missing model or log is one line (a LookupError of ours); a KeyError is a bug."""
    monkeypatch.setattr(cli, "COMMANDS", dict(cli.COMMANDS))

    @cli.command("broken", "a command with a bug")
    def broken(args: object) -> None:
        print({"a": 1}["b"])

    with pytest.raises(KeyError, match="'b'"):
        main(["broken"])


@pytest.mark.parametrize(
    ("duration", "problem"),
    [
        ("-5", "duration: Input should be greater than 0"),
        ("inf", "duration: Input should be a finite number"),
        ("", "duration: Input should be a finite number"),
    ],
)
def test_cli_feedback__a_bad_row_is_one_line_and_nothing_is_stored(
    duration: str,
    problem: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A file's rows pass the checks of POST /feedback, before the log is even opened."""
    log = tmp_path / "predictions.db"
    monkeypatch.setenv("PREDICTION_LOG_URL", f"sqlite:///{log}")
    durations = tmp_path / "durations.csv"
    durations.write_text(f"request_id,row,duration\nabc,0,12.5\nabc,1,{duration}\n")
    with pytest.raises(SystemExit) as stop:
        main(["feedback", str(durations)])
    assert stop.value.code == 1
    assert capsys.readouterr().err == (
        f"error: {durations}, record 1: {problem}; nothing was stored\n"
    )
    assert not log.exists()


@pytest.mark.parametrize("command", ["serve", "deploy", "retrain-if-needed", "reset-demo"])
def test_cli__every_port_option_is_checked(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stop:
        main([command, "--port", "99999"])
    assert stop.value.code == 2
    assert "argument --port: '99999' is not a port number (1 to 65535)" in capsys.readouterr().err
