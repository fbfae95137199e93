"""MLflow artifacts addressed relative to the tracking store, so that a project can be moved.

MLflow records a local artifact location as an absolute path: a project copied or renamed
would look for its models where it used to be. So `tracking.start` gives the project's
experiments a `project:mlruns/<experiment>` location, and pyproject.toml registers `repository`
as MLflow's artifact repository for the `project:` scheme (a plugin, loaded by MLflow itself).
It finds such a path in the folder of the SQLite store: mlflow.db and mlruns/ move together.
"""

from pathlib import Path
from urllib.parse import urlsplit

import mlflow
from mlflow.store.artifact.local_artifact_repo import LocalArtifactRepository


def store_folder(tracking_uri: str | None = None) -> Path:
    """The folder of the SQLite tracking store (for any other store, the working directory)."""
    uri = tracking_uri or mlflow.get_tracking_uri()
    if uri.startswith("sqlite:///"):
        database = uri.removeprefix("sqlite:///").partition("?")[0]
        return Path(database).resolve().parent
    return Path.cwd()


def repository(
    artifact_uri: str, tracking_uri: str | None = None, registry_uri: str | None = None
) -> LocalArtifactRepository:
    """MLflow's local repository, for the folder that a `project:` URI names."""
    folder = store_folder(tracking_uri) / urlsplit(artifact_uri).path
    return LocalArtifactRepository(str(folder), tracking_uri, registry_uri)
