import runpy
import shutil
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

import pandas as pd
import pytest
from conftest import RIDE

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
