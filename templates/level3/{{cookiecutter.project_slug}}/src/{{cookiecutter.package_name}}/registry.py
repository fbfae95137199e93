"""The MLflow model registry: one registered model, with `champion` and `challenger` aliases."""

from dataclasses import dataclass

import mlflow
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from sklearn.pipeline import Pipeline

MODEL_NAME = __package__
CHAMPION, CHALLENGER = "champion", "challenger"


@dataclass(frozen=True)
class Release:
    """A model version the registry points an alias at, with the model itself."""

    name: str
    version: str
    alias: str
    run_id: str
    model: Pipeline


def version_for(alias: str, client: MlflowClient | None = None) -> str | None:
    """The version an alias points at, or None when nothing has it yet."""
    try:
        version = (client or MlflowClient()).get_model_version_by_alias(MODEL_NAME, alias)
    except MlflowException:
        return None
    return str(version.version)


def load(alias: str = CHAMPION) -> Release:
    """Load the model that `alias` points at; raises LookupError when there is none."""
    client = MlflowClient()
    version = version_for(alias, client)
    if version is None:
        raise LookupError(f"no model version of {MODEL_NAME!r} has the alias {alias!r} yet")
    run_id = client.get_model_version(MODEL_NAME, version).run_id
    if run_id is None:  # registered from a file, not logged by a run: not one of ours
        raise LookupError(f"version {version} of {MODEL_NAME!r} has no MLflow run")
    model = mlflow.sklearn.load_model(f"models:/{MODEL_NAME}/{version}")
    return Release(MODEL_NAME, version, alias, run_id, model)
