"""The DVC stages, run in order on a small sample, with MLflow in a temporary folder."""

import importlib
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import mlflow
import pytest
import yaml

from {{ cookiecutter.package_name }} import artifacts, evaluate, tracking
from {{ cookiecutter.package_name }}.cli import main
from {{ cookiecutter.package_name }}.config import load_settings, run_stage
from {{ cookiecutter.package_name }}.simulate import write_month

PROJECT = Path(__file__).parents[1]
RIDES = 1500  # per simulated month: small, but above any minimum row count
# What a page would load from another host: a script, a style sheet, a font, an image.
EXTERNAL = re.compile(
    r"""<(?:script|img|iframe)\b[^>]*?\bsrc\s*=\s*["']?(?:https?:)?//"""
    r"""|<link\b[^>]*?\bhref\s*=\s*["']?(?:https?:)?//"""
    r"""|(?:@import\s*|url\()\s*["']?(?:https?:)?//""",
    re.IGNORECASE,
)


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """params.yaml with small simulated months, MLflow on a temporary SQLite file."""
    params = yaml.safe_load((PROJECT / "params.yaml").read_text())
    params["data"]["rides"] = RIDES
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params))
    settings = load_settings(tmp_path / "params.yaml")
    for month in (settings.data.train_month, settings.data.val_month):
        write_month(month, tmp_path / settings.paths.raw, rides=RIDES)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'mlflow.db'}")
    return tmp_path


def features(workspace: Path) -> list[str]:
    """The features that params.yaml tells the model to use."""
    train = load_settings(workspace / "params.yaml").train
    return [*train.categorical, *train.numerical]


def test_stages__write_every_declared_output_and_track_the_run(workspace: Path) -> None:
    stages = yaml.safe_load((PROJECT / "dvc.yaml").read_text())["stages"]
    for name, stage in stages.items():
        module = stage["cmd"].removeprefix("python -m ")
        assert module.endswith(f".{name}"), f"stage {name} should run its own module"
        run_stage(importlib.import_module(module).main)

    params = yaml.safe_load((workspace / "params.yaml").read_text())
    for stage in stages.values():
        for declared in [*stage.get("outs", []), *stage.get("metrics", [])]:
            path = next(iter(declared)) if isinstance(declared, dict) else declared
            path = path.replace("${paths.", "").rstrip("}")
            path = params["paths"].get(path, path)
            assert (workspace / path).exists(), f"a stage did not write {path}"
    metrics = json.loads((workspace / "metrics.json").read_text())
    assert 0 < metrics["rmse"] < 15
    assert metrics["rides"] > 0.9 * RIDES

    run_id = json.loads((workspace / "models" / "run.json").read_text())["run_id"]
    run = mlflow.get_run(run_id)
    assert run.data.params["train.alpha"] == str(params["train"]["alpha"])
    assert run.data.metrics["val_rmse"] == pytest.approx(metrics["rmse"])
    assert {"git.commit", "data.raw_md5", "data.train_md5"} <= set(run.data.tags)
    model = mlflow.sklearn.load_model(f"runs:/{run_id}/model")
    assert list(model.feature_names_in_) == features(workspace)


def test_tracking__a_moved_store_still_finds_its_models(
    workspace: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    for stage in ("prepare", "train"):
        run_stage(importlib.import_module(f"{{ cookiecutter.package_name }}.{stage}").main)
    run_id = json.loads((workspace / "models" / "run.json").read_text())["run_id"]
    experiment = mlflow.get_experiment_by_name(tracking.EXPERIMENT)
    assert experiment is not None
    assert experiment.artifact_location == f"project:mlruns/{tracking.EXPERIMENT}"

    moved = tmp_path_factory.mktemp("moved")
    for name in ("mlflow.db", "mlruns"):
        shutil.move(workspace / name, moved / name)
    monkeypatch.chdir(moved)
    monkeypatch.delenv("MLFLOW_TRACKING_URI")  # the default, sqlite:///mlflow.db, from here
    tracking.connect()
    assert artifacts.store_folder() == moved
    model = mlflow.sklearn.load_model(f"runs:/{run_id}/model")
    assert list(model.feature_names_in_) == features(workspace)


def test_store_folder__without_a_sqlite_store_is_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert artifacts.store_folder("http://127.0.0.1:5000") == tmp_path


def test_floor__a_model_worse_than_the_floor_is_named(tmp_path: Path) -> None:
    metrics = tmp_path / "metrics.json"
    metrics.write_text(json.dumps({"rmse": 7.5}))
    assert evaluate.floor_problem(metrics, max_rmse=8.0) is None
    assert "worse than the floor" in str(evaluate.floor_problem(metrics, max_rmse=6.0))


def test_cli_check__fails_when_the_metric_is_worse_than_the_floor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)  # metrics.json, as paths.metrics names it
    params = ["--params", str(PROJECT / "params.yaml")]
    (tmp_path / "metrics.json").write_text(json.dumps({"rmse": 99.0}))
    with pytest.raises(SystemExit) as stop:
        main([*params, "check"])
    assert stop.value.code == 1
    assert "worse than the floor" in capsys.readouterr().err
    (tmp_path / "metrics.json").write_text(json.dumps({"rmse": 1.0}))
    main([*params, "check"])
    assert "validation RMSE within the floor" in capsys.readouterr().out


def test_dvc_md5__from_the_dvc_file_or_the_lock_else_untracked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert tracking.dvc_md5(Path("data/raw")) == "untracked"
    out = {"path": "data/prepared/train.parquet", "md5": "0123"}
    lock = {"schema": "2.0", "stages": {"prepare": {"cmd": "python -m prepare", "outs": [out]}}}
    Path("dvc.lock").write_text(yaml.safe_dump(lock))
    assert tracking.dvc_md5(Path("data/prepared/train.parquet")) == "0123"
    Path("data").mkdir()
    Path("data/raw.dvc").write_text(yaml.safe_dump({"outs": [{"md5": "4567.dir", "path": "raw"}]}))
    assert tracking.dvc_md5(Path("data/raw")) == "4567.dir"


def test_plots__dvc_draws_them_offline_with_the_vega_the_project_ships(tmp_path: Path) -> None:
    """`dvc plots show` fills the page that .dvc/config names: it loads nothing from a CDN."""
    subprocess.run(["git", "init", "--quiet"], cwd=tmp_path, check=True)
    (tmp_path / ".dvc").mkdir()
    shutil.copy(PROJECT / ".dvc" / "config", tmp_path / ".dvc" / "config")
    shutil.copytree(PROJECT / ".dvc" / "plots", tmp_path / ".dvc" / "plots")
    (tmp_path / "points.csv").write_text("actual,predicted\n10,11.25\n20,17.75\n")
    shown = subprocess.run(
        [sys.executable, "-m", "dvc", "plots", "show", "points.csv", "-x", "actual", "-y",
         "predicted", "-o", "page"],
        cwd=tmp_path, capture_output=True, text=True,
    )  # fmt: skip
    assert shown.returncode == 0, shown.stdout + shown.stderr
    page = (tmp_path / "page" / "index.html").read_text()
    assert "17.75" in page, "the plot's data is in the page"
    assert "vegaEmbed=" in page, "vega-embed is inlined"
    assert not EXTERNAL.findall(page), "the page loads from the network"
