"""The installable mlops-ladder: the wheel built from this clone, installed into a fresh venv,
runs each subcommand for real, with no clone, no nox and no uv of the caller on its PATH."""

import json
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from runs import commit

from mlops_ladder import ladder


@dataclass(frozen=True)
class Installed:
    """A wheel of this clone, installed in a venv of its own."""

    source: Path  # a git repository holding a copy of the clone's files, one commit
    wheel: Path
    command: Path  # the venv's `mlops-ladder`
    env: dict[str, str]  # PATH without the venv, nor any uv: what a pipx user's shell has


def uv(*args: str | Path, cwd: Path | None = None) -> None:
    """Run the uv that the test session installed, quietly; fail with its output."""
    done = subprocess.run(
        [sys.executable, "-m", "uv", *map(str, args)], cwd=cwd, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr


def copy_of_clone(target: Path) -> Path:
    """The clone's files as they are now (tracked, and new ones git does not ignore) in a
    repository of one commit: the wheel then records that commit, clean or not here."""
    listed = subprocess.run(
        ["git", "-C", str(ladder.ROOT), "ls-files", "-z", "-co", "--exclude-standard"],
        capture_output=True,
        check=True,
    ).stdout.split(b"\0")
    for name in filter(None, listed):
        source = ladder.ROOT / os.fsdecode(name)
        if source.is_file():
            (target / os.fsdecode(name)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / os.fsdecode(name))
    commit(target, "The clone as it is", init=True)
    return target


def head(repository: Path) -> str:
    return subprocess.run(
        ["git", "-C", str(repository), "rev-parse", "HEAD"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    root = tmp_path_factory.mktemp("wheel")
    source = copy_of_clone(root / "mlops-ladder")
    # What a working clone also holds, which git ignores: the wheel must not ship it.
    stray = source / "templates" / "level1" / "__pycache__" / "stray.cpython-311.pyc"
    stray.parent.mkdir()
    stray.write_bytes(b"not a template")
    uv("build", "--wheel", "--quiet", "--out-dir", root / "dist", source)
    (wheel,) = (root / "dist").glob("mlops_ladder-*.whl")
    uv("venv", "--quiet", root / "venv")
    # Compiled, as pip installs by default: the templates' modules get bytecode beside them.
    python = root / "venv" / "bin" / "python"
    uv("pip", "install", "--quiet", "--compile-bytecode", "--python", python, wheel)
    folders = os.environ["PATH"].split(os.pathsep)
    path = [folder for folder in folders if not (Path(folder) / "uv").exists()]
    env = {**ladder.project_env(), "PATH": os.pathsep.join(path)}
    yield Installed(source, wheel, root / "venv" / "bin" / "mlops-ladder", env)


def run(installed: Installed, *args: str | Path, cwd: Path, code: int = 0) -> str:
    """Run the installed command in `cwd`; its output, once it exited with `code`."""
    done = subprocess.run(
        [str(installed.command), *map(str, args)],
        cwd=cwd,
        env=installed.env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == code, f"exit {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def test_wheel__ships_the_templates_and_the_commit_it_was_built_from(installed: Installed) -> None:
    with zipfile.ZipFile(installed.wheel) as wheel:
        names = set(wheel.namelist())
        built = json.loads(wheel.read("mlops_ladder/build.json"))
    tracked = subprocess.run(
        ["git", "-C", str(installed.source), "ls-files", "templates", "cookiecutter.json"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    shipped = {name.removeprefix("mlops_ladder/") for name in names if "/templates/" in name}
    assert shipped | {"cookiecutter.json"} == set(tracked)
    assert "mlops_ladder/cookiecutter.json" in names and built == {"commit": head(installed.source)}


def test_wheel__every_subcommand_runs_from_the_installed_wheel(
    installed: Installed, tmp_path: Path
) -> None:
    assert "No MLOps" in run(installed, "levels", cwd=tmp_path)
    assert run(installed, "--version", cwd=tmp_path).startswith("mlops-ladder 0.")

    # new: renders into the current folder and runs the first pipeline with the uv it ships
    printed = run(installed, "new", "1", cwd=tmp_path)
    project = tmp_path / "taxi_ride_duration"
    assert "validation RMSE" in printed and (project / ".venv").is_dir()
    record = json.loads((project / ".mlops-ladder.json").read_text())
    assert record["level"] == 1 and record["template_commit"] == head(installed.source)

    diff = run(installed, "diff", "0", "1", "--html", cwd=tmp_path)
    assert diff.startswith("What level 1 adds to level 0:\n")
    assert (tmp_path / "diff-0-1.html").read_text().startswith("<!doctype html>")

    assessed = json.loads(run(installed, "assess", project, "--json", cwd=tmp_path))
    assert assessed["level"] == 1, assessed
    assert assessed["next"]["diff"] == "mlops-ladder diff 1 2", "the installed command, not nox"

    # upgrade: the wheel holds the templates that rendered the project: the exact base
    commit(project, "Render the template", init=True)
    report = run(installed, "upgrade", project, cwd=tmp_path)
    assert "from level 1 to level 2" in report and "stands in" not in report
    assert json.loads((project / ".mlops-ladder.json").read_text())["level"] == 2


def test_wheel__upgrade_takes_another_commit_s_templates_from_a_clone(
    installed: Installed, tmp_path: Path
) -> None:
    project = tmp_path / "taxi_ride_duration"
    shutil.copytree(ladder.render(1, tmp_path / "rendered"), project)
    elsewhere = installed.source.parent / "later"  # a clone one commit ahead of the wheel
    subprocess.run(["git", "clone", "-q", str(installed.source), str(elsewhere)], check=True)
    identity = ["-c", "user.name=test", "-c", "user.email=test@example.com"]
    later = [*identity, "commit", "-q", "--allow-empty", "-m", "Later"]
    subprocess.run(["git", "-C", str(elsewhere), *later], check=True)
    record = json.loads((project / ".mlops-ladder.json").read_text())
    record["template_commit"] = head(elsewhere)
    (project / ".mlops-ladder.json").write_text(json.dumps(record, indent=2) + "\n")
    commit(project, "Rendered by a later commit", init=True)

    report = run(installed, "upgrade", project, cwd=tmp_path)
    assert f"--clone PATH, a clone of mlops-ladder holding commit {head(elsewhere)[:12]}" in report
    subprocess.run(["git", "-C", str(project), "reset", "-q", "--hard"], check=True)
    subprocess.run(["git", "-C", str(project), "clean", "-qfd"], check=True)

    report = run(installed, "upgrade", project, "--clone", elsewhere, cwd=tmp_path)
    assert "stands in" not in report, report


def test_wheel__uvx_from_a_clone_runs_the_command(installed: Installed, tmp_path: Path) -> None:
    """What the README offers: `uvx --from . mlops-ladder ...` in a clone, no install step."""
    project = ladder.render(2, tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "uv", "tool", "run", "--isolated", "--from", "."]
        + ["mlops-ladder", "assess", str(project), "--json"],
        cwd=installed.source,
        env=installed.env,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["level"] == 2
