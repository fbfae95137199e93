"""All levels ask the same questions, and refuse bad answers before writing anything."""

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from cookiecutter.exceptions import FailedHookException
from pytest import CaptureFixture, MonkeyPatch

from mlops_ladder import ladder

LEVELS = ladder.levels()
BAD_ANSWERS = [
    ({"project_slug": "class"}, "project_slug 'class' is not allowed: it is a Python keyword"),
    ({"project_slug": "2fast"}, "project_slug '2fast' is not allowed: it must be an ASCII"),
    ({"project_slug": "taxi-ride"}, "project_slug 'taxi-ride' is not allowed: it must be an ASCII"),
    ({"package_name": "tàxi"}, "package_name 'tàxi' is not allowed: it must be an ASCII"),
    ({"package_name": "match"}, "package_name 'match' is not allowed: it is a Python keyword"),
    ({"package_name": "json"}, "package_name 'json' is not allowed: it would shadow"),
    ({"package_name": "mlflow"}, "package_name 'mlflow' is not allowed: it would shadow"),
    ({"project_name": "!!!"}, "project_name '!!!' has no letters or digits"),
    ({"project_slug": "_taxi"}, "project_slug '_taxi' is not allowed: it must be an ASCII"),
    ({"project_name": 'Taxi "Fast"'}, "project_name 'Taxi \"Fast\"' is not allowed"),
    ({"author_email": "nobody"}, "author_email 'nobody' is not an e-mail address"),
    ({"python_version": "3.9"}, "python_version '3.9' is not supported: choose one of 3.11"),
    ({"python_version": "2.7"}, "python_version '2.7' is not supported"),
]


def questions(level: int) -> dict[str, object]:
    spec = json.loads((ladder.TEMPLATES / f"level{level}" / "cookiecutter.json").read_text())
    return {key: value for key, value in spec.items() if not key.startswith("_")}


@pytest.mark.parametrize("level", LEVELS)
def test_questions__the_same_at_every_level(level: int) -> None:
    assert questions(level) == questions(LEVELS[0])
    assert questions(level)["project_name"]


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("hook", ["pre_gen_project.py", "post_gen_project.py"])
def test_hooks__identical_at_every_level(level: int, hook: str) -> None:
    ours = (ladder.TEMPLATES / f"level{level}" / "hooks" / hook).read_bytes()
    assert ours == (ladder.TEMPLATES / f"level{LEVELS[0]}" / "hooks" / hook).read_bytes()


@pytest.mark.parametrize(
    ("output", "shown"),
    [
        ("out/here", "out/here/taxi_ride_duration"),
        ("../elsewhere", "{tmp}/elsewhere/taxi_ride_duration"),
    ],
)
def test_post_gen_hook__says_where_to_cd_from_where_cookiecutter_ran(
    tmp_path: Path, monkeypatch: MonkeyPatch, capfd: CaptureFixture[str], output: str, shown: str
) -> None:
    started = tmp_path / "started"
    started.mkdir()
    monkeypatch.setenv("PWD", str(started))  # the hook reads where cookiecutter was started
    ladder.render(LEVELS[-1], started / output)
    shown = shown.format(tmp=tmp_path)
    assert f"Next: cd {shown} and read README.md." in capfd.readouterr().out


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize(("answers", "message"), BAD_ANSWERS)
def test_bad_answer__one_clear_line_and_no_folder(
    tmp_path: Path, capfd: CaptureFixture[str], level: int, answers: dict[str, str], message: str
) -> None:
    with pytest.raises(FailedHookException):
        ladder.render(level, tmp_path, answers)
    errors = [line for line in capfd.readouterr().err.splitlines() if line.startswith("ERROR: ")]
    assert len(errors) == 1, errors
    assert errors[0].startswith(f"ERROR: {message}")
    assert list(tmp_path.iterdir()) == []


def test_bad_answer__the_command_line_fails_and_says_why(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "cookiecutter", "--no-input", "--output-dir", str(tmp_path),
         str(ladder.TEMPLATES / "level1"), "project_slug=import"],
        capture_output=True, text=True,
    )  # fmt: skip
    assert result.returncode != 0
    assert "ERROR: project_slug 'import' is not allowed: it is a Python keyword" in result.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("level", LEVELS)
def test_non_ascii_project_name__renders_an_ascii_slug_and_package(
    bake: Callable[..., Path], level: int
) -> None:
    project = bake(level, {"project_name": "Taxi Élan Duration 2"})
    assert project.name == "taxi_elan_duration_2"
    if level >= 1:
        assert (project / "src" / "taxi_elan_duration_2" / "__init__.py").is_file()
