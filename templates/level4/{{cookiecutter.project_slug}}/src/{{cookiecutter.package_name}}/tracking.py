"""MLflow tracking: where runs go, and what identifies the data and code of a run."""

import contextlib
import hashlib
import os
import subprocess
import warnings
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import sklearn
import yaml
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature
from sklearn.pipeline import Pipeline

DEFAULT_TRACKING_URI = "sqlite:///mlflow.db"
EXPERIMENT = __package__
# Where a new experiment keeps its artifacts in the local store: relative to mlflow.db, through
# the `project:` scheme of artifacts.py, so that the project can be moved or copied.
ARTIFACTS = "project:mlruns"


def connect(existing: bool = False) -> str:
    """Point MLflow at MLFLOW_TRACKING_URI, or at the local SQLite file; returns the URI. With
    `existing` (a command that only reads the store), a local file that is not there is an
    error, not a new empty store: run from another folder, it would report no model at all."""
    uri = os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_TRACKING_URI
    local = Path(uri.removeprefix("sqlite:///"))
    if existing and uri == DEFAULT_TRACKING_URI and not local.exists():
        raise FileNotFoundError(
            f"no {local} in {Path.cwd()}: run this in the project's folder after the pipeline "
            "(dvc repro), or set MLFLOW_TRACKING_URI"
        )
    mlflow.set_tracking_uri(uri)
    return uri


def start(experiment: str = EXPERIMENT) -> str:
    """Connect, and log runs into the project's experiment; returns the URI. In a SQLite store,
    a new experiment keeps its artifacts beside the store (a server decides for itself)."""
    uri = connect()
    if uri.startswith("sqlite:") and mlflow.get_experiment_by_name(experiment) is None:
        with contextlib.suppress(MlflowException):  # made meanwhile by another process: fine
            mlflow.create_experiment(experiment, artifact_location=f"{ARTIFACTS}/{experiment}")
    mlflow.set_experiment(experiment)
    return uri


def file_md5(path: Path) -> str:
    """The MD5 of a file's content: the hash DVC records for it."""
    digest = hashlib.md5(usedforsecurity=False)
    with Path(path).open("rb") as content:
        for block in iter(lambda: content.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def dvc_md5(path: Path) -> str:
    """The hash DVC records for `path`: in `<path>.dvc`, or as a stage output in dvc.lock."""
    dvc_file, lock = Path(f"{path}.dvc"), Path("dvc.lock")
    if dvc_file.exists():
        return str(yaml.safe_load(dvc_file.read_text())["outs"][0]["md5"])
    if lock.exists():
        for stage in yaml.safe_load(lock.read_text())["stages"].values():
            for out in stage.get("outs", []):
                if Path(out["path"]) == Path(path):
                    return str(out["md5"])
    return "untracked"


def git_commit() -> str:
    """The current commit, marked "-dirty" when the work tree has changes; "unknown" if none."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], capture_output=True, text=True)
        return done.stdout.strip() if done.returncode == 0 else ""

    commit = git("rev-parse", "--verify", "HEAD") or "unknown"
    return f"{commit}-dirty" if git("status", "--porcelain", "--untracked-files=no") else commit


def data_version(raw_dir: Path, inputs: list[Path]) -> dict[str, str]:
    """Tags that pin down a run's data and code: DVC hashes and the git commit."""
    tags = {"data.raw_md5": dvc_md5(raw_dir), "git.commit": git_commit()}
    tags.update({f"data.{Path(path).stem}_md5": file_md5(path) for path in inputs})
    return tags


def flat_params(params_file: Path) -> dict[str, str]:
    """params.yaml as MLflow params: {"train.alpha": "1.0", ...}."""
    with Path(params_file).open() as source:
        params = yaml.safe_load(source)
    return {
        f"{section}.{key}": str(value)
        for section, values in params.items()
        for key, value in values.items()
    }


def log_model(model: Pipeline, example: pd.DataFrame) -> str:
    """Log the pipeline with its signature, an input example and exact requirements."""
    # Integer columns as int64, so that callers may send any integer width.
    example = example.astype(dict.fromkeys(example.select_dtypes("integer").columns, "int64"))
    with warnings.catch_warnings():
        # MLflow hints that integer columns cannot hold missing values: zones never miss.
        warnings.filterwarnings("ignore", message=".*integer column", category=UserWarning)
        signature = infer_signature(example, model.predict(example))
    info = mlflow.sklearn.log_model(
        model,
        name="model",
        signature=signature,
        input_example=example,
        # Explicit, because inferring them is slow and noisy.
        pip_requirements=[
            f"scikit-learn=={sklearn.__version__}",
            f"pandas=={pd.__version__}",
            f"numpy=={np.__version__}",
        ],
    )
    return str(info.model_uri)
