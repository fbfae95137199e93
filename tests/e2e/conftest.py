"""Each level is rendered and first-run once per session, as `nox -s new` does it, however many
xdist workers run the tests: the first worker that needs a level makes it under a file lock, the
others wait for it. Nobody changes that first run; a test that needs a project works on its own
copy (`copy_of`), made in seconds."""

import os
from collections.abc import Callable
from pathlib import Path

import pytest
from projects import FirstRun, copy_project, make_first_run
from pytest import TempPathFactory
from runs import git_commit_all


@pytest.fixture(scope="session")
def shared_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder that every xdist worker of this session shares (the session's temp root)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session")
def first_run(shared_folder: Path) -> Callable[[int], FirstRun]:
    """The first run of a level, made once per session; read it, never change it."""
    return lambda level: make_first_run(level, shared_folder / "first-runs" / f"level{level}")


@pytest.fixture
def copy_of(first_run: Callable[[int], FirstRun], tmp_path: Path) -> Callable[[int], Path]:
    """A copy of a level's first run for this test alone, which it may change at will."""
    return lambda level: copy_project(first_run(level).project, tmp_path / f"level{level}")


@pytest.fixture
def committed_copy(copy_of: Callable[[int], Path]) -> Callable[[int], Path]:
    """A copy of a level's first run for this test alone, with everything in it committed."""

    def make(level: int) -> Path:
        project = copy_of(level)
        git_commit_all(project)
        return project

    return make


@pytest.fixture(scope="module")
def module_copy(
    first_run: Callable[[int], FirstRun], tmp_path_factory: TempPathFactory
) -> Callable[[int], Path]:
    """A copy of a level's first run shared by the tests of one module (they restore what they
    change)."""
    return lambda level: copy_project(
        first_run(level).project, tmp_path_factory.mktemp(f"level{level}-copy")
    )


@pytest.fixture(scope="module")
def level0(first_run: Callable[[int], FirstRun]) -> Path:
    return first_run(0).project  # its tests only read it


@pytest.fixture(scope="module")
def level1(module_copy: Callable[[int], Path]) -> Path:
    project = module_copy(1)
    git_commit_all(project)
    return project


@pytest.fixture(scope="module")
def level2(module_copy: Callable[[int], Path]) -> Path:
    project = module_copy(2)
    git_commit_all(project)
    return project


@pytest.fixture(scope="session")
def level1_train_output(first_run: Callable[[int], FirstRun]) -> str:
    """What the level-1 first run printed; its last step is `python -m <package> train`."""
    return first_run(1).output


# The xdist scheduler hands tests out in collection order, so the longest go first and the
# short ones fill the gaps at the end (rough order, from the --durations of a run on 2 cores).
LONGEST_FIRST = (
    "test_level_up.py",
    "test_lessons.py::test_lesson__every_runnable_command_prints_what_the_lesson_shows[4]",
    "test_level4.py",
    "test_own_data.py",
    "test_lessons.py::test_lesson__every_runnable_command_prints_what_the_lesson_shows[3]",
    "test_level3.py::test_team_mode",
    "test_level2.py",
    "test_level3.py::test_release_flow",
    "test_level3.py::test_readme_gate",
    "test_lessons.py::test_lesson__every_runnable_command_prints_what_the_lesson_shows[2]",
    "test_lessons.py::test_lesson__every_runnable_command_prints_what_the_lesson_shows[1]",
    "test_level1.py",
    "test_level3.py::test_cd_workflow",
    "test_moved.py",
    "test_lessons.py::test_lesson__every_runnable_command_prints_what_the_lesson_shows[0]",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the longest tests first (a stable sort: file order stays within each)."""

    def rank(item: pytest.Item) -> int:
        name = item.nodeid.rsplit("/", 1)[-1]
        return next((n for n, p in enumerate(LONGEST_FIRST) if name.startswith(p)), 99)

    items.sort(key=rank)
