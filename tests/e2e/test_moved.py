"""A project that moves keeps its history: copied or renamed after its first run, then set up
again with `make install`, it still serves its champion (MLflow's artifacts are recorded
relative to mlflow.db)."""

from collections.abc import Callable
from pathlib import Path

import pytest
from runs import in_project
from services import background, free_port, http, wait_for

from mlops_ladder import ladder

RIDE = {"PULocationID": 74, "DOLocationID": 75, "trip_distance": 2.5}
CHAMPION_LOCATION = """
from mlflow import MlflowClient
from {package} import registry, tracking
tracking.connect()
version = registry.version_for(registry.CHAMPION)
print(MlflowClient().get_model_version_download_uri(registry.MODEL_NAME, version))
"""


@pytest.mark.parametrize("level", [pytest.param(n, marks=pytest.mark.levels(n)) for n in (3, 4)])
def test_moved_project__serves_its_champion_after_make_install(
    level: int, copy_of: Callable[[int], Path], tmp_path: Path
) -> None:
    copy = copy_of(level)
    package = copy.name
    moved = tmp_path / "elsewhere" / "renamed-project"
    moved.parent.mkdir()
    copy.rename(moved)  # nothing is left where the copy was
    ladder.run("make install", moved)

    location = in_project(moved, CHAMPION_LOCATION.format(package=package)).strip()
    assert location.splitlines()[-1].startswith("project:mlruns/"), location

    port = free_port()
    env = {**ladder.project_env(), "SERVE_PORT": str(port)}
    url = f"http://127.0.0.1:{port}"
    with background(["make", "serve"], moved, env, tmp_path / "serve.log") as process:
        wait_for(f"{url}/health", process)
        status, answer = http(f"{url}/predict", RIDE)
    assert status == 200 and answer["model_version"] == "1", answer
    assert 1 < answer["predictions"][0] < 60
