"""Each level is rendered and run once (its first run, as `nox -s new` does) per session."""

from pathlib import Path

import ladder
import pytest
from runs import git_commit_all, train_output


@pytest.fixture(scope="session")
def first_run(tmp_path_factory):
    """Render a level into a temp folder outside the repo and run its main pipeline, once."""
    projects: dict[int, Path] = {}

    def make(level: int) -> Path:
        if level not in projects:
            folder = tmp_path_factory.mktemp(f"new-level{level}")
            assert ladder.main(["new", str(level), str(folder)]) == 0
            (projects[level],) = folder.iterdir()
        return projects[level]

    return make


@pytest.fixture(scope="session")
def level0(first_run) -> Path:
    return first_run(0)


@pytest.fixture(scope="session")
def level1(first_run) -> Path:
    project = first_run(1)
    git_commit_all(project)
    return project


@pytest.fixture(scope="session")
def level2(first_run) -> Path:
    project = first_run(2)
    git_commit_all(project)
    return project


@pytest.fixture(scope="session")
def level1_train_output(level1) -> str:
    """What `python -m <package> train` prints, run again in the level-1 project."""
    return train_output(level1)
