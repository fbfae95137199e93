import runpy
import sys

import pandas as pd
import pytest

from {{ cookiecutter.package_name }}.cli import main


def test_cli__simulate_train_predict(tmp_path, capsys):
    data, model = tmp_path / "data", tmp_path / "models" / "model.pkl"
    output = tmp_path / "predictions.parquet"

    main(["simulate", "2024-01", "2024-02", "--rides", "500", "--data-dir", str(data)])
    main(["train", "--data-dir", str(data), "--model", str(model)])
    main(["predict", str(data / "green_tripdata_2024-02.parquet"), "--model", str(model),
          "--output", str(output)])  # fmt: skip

    printed = capsys.readouterr().out
    assert "validation RMSE (2024-02):" in printed
    predictions = pd.read_parquet(output)
    assert len(predictions) == 500
    assert predictions["predicted_duration"].notna().all()


def test_cli__missing_data_is_one_clear_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        main(["train", "--data-dir", str(tmp_path)])
    assert stop.value.code == 1
    assert "does not exist: simulate it" in capsys.readouterr().err


def test_cli__bad_month_is_refused(capsys):
    with pytest.raises(SystemExit) as stop:
        main(["simulate", "2024-13"])
    assert stop.value.code == 2
    assert "is not a month like 2024-01" in capsys.readouterr().err


def test_cli__python_dash_m_runs_the_command_line(monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", ["python -m {{ cookiecutter.package_name }}", "--help"])
    with pytest.raises(SystemExit) as stop:
        runpy.run_module("{{ cookiecutter.package_name }}", run_name="__main__")
    assert stop.value.code == 0
    assert "simulate" in capsys.readouterr().out
