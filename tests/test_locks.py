"""Every level ships a lock that is current for any answers: uv.lock, or level 0's requirements."""

import re
import subprocess
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import bump
import lock
import pytest
from answers import ODD_ANSWERS
from pytest import CaptureFixture

from mlops_ladder import ladder

UV_LEVELS = [level for level in ladder.levels() if level > 0]
PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>\S+)")


def project_entry(path: Path) -> dict[str, Any]:
    packages = tomllib.loads((path / "uv.lock").read_text())["package"]
    return next(package for package in packages if package.get("source") == {"editable": "."})


@pytest.mark.parametrize("answers", [{}, ODD_ANSWERS], ids=["default", "odd"])
@pytest.mark.parametrize("level", UV_LEVELS)
def test_lock__is_current_for_the_rendered_project(
    bake: Callable[..., Path], level: int, answers: dict[str, str], tmp_path: Path
) -> None:
    """`uv lock --check` decides from the lock alone, offline and with an empty cache."""
    project = bake(level, answers)
    result = subprocess.run(
        ["uv", "lock", "--check", "--offline", "--cache-dir", str(tmp_path / "cache")],
        cwd=project,
        env=ladder.project_env(),
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    name = tomllib.loads((project / "pyproject.toml").read_text())["project"]["name"]
    assert project_entry(project)["name"] == re.sub(r"[-_.]+", "-", name).lower()


@pytest.mark.parametrize("level", UV_LEVELS)
def test_lock__holds_every_direct_pin_at_its_version(bake: Callable[..., Path], level: int) -> None:
    project = bake(level)
    locked = {
        package["name"]: package.get("version")
        for package in tomllib.loads((project / "uv.lock").read_text())["package"]
    }
    pyproject = tomllib.loads((project / "pyproject.toml").read_text())
    declared = [*pyproject["project"]["dependencies"]]
    declared += [pin for group in pyproject["dependency-groups"].values() for pin in group]
    for requirement in declared:
        pinned = re.match(r"([\w.-]+)(?:\[.*\])?==([\w.]+)", requirement)
        assert pinned, requirement
        name, version = pinned.groups()
        assert locked[bump.normalise(name)] == version, requirement


def test_lock__a_broken_template_lock_fails_the_render(tmp_path: Path) -> None:
    """The hook renames one entry; a lock without it would name the wrong project."""
    templates = tmp_path / "templates"
    subprocess.run(["cp", "-r", str(ladder.TEMPLATES), str(templates)], check=True)
    template_lock = lock.template_project(1, templates) / "uv.lock"
    template_lock.write_text(template_lock.read_text().replace('"taxi-ride-duration"', '"x"'))
    with pytest.raises(Exception, match="Hook script failed"):
        ladder.render(1, tmp_path / "out", templates=templates)
    assert not (tmp_path / "out" / "taxi_ride_duration").exists()  # nothing half-made


def test_requirements__level0_locks_every_package_with_hashes(bake: Callable[..., Path]) -> None:
    project = bake(0)
    lines = (project / "requirements.txt").read_text().splitlines()
    pins = {m["name"]: m["version"].rstrip() for m in map(PIN.match, lines) if m}
    assert len(pins) > 50  # the notebook's packages and everything they need
    text = (project / "requirements.txt").read_text()
    for requirement in re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2]):
        if PIN.match(requirement):
            assert "--hash=sha256:" in requirement, requirement.splitlines()[0]
    for line in (project / "requirements.in").read_text().splitlines():
        if match := PIN.match(line):  # each direct pin is locked at its version
            assert pins[bump.normalise(match["name"])] == match["version"], line
    assert "uv pip compile requirements.in" in text.splitlines()[1]  # how to refresh it


def test_lock_tool__refuses_a_level_without_a_template(capsys: CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        lock.main(["9"])
    assert "no template for level 9" in capsys.readouterr().err
