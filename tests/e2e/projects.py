"""Generated projects for the e2e tests: a level's first run, made once per session however
many xdist workers share it, and working copies of it that take seconds to make."""

import contextlib
import fcntl
import json
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from mlops_ladder import ladder


@contextlib.contextmanager
def exclusive(lock: Path) -> Iterator[None]:
    """Hold an exclusive lock on `lock` (a file), across processes."""
    with lock.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


@dataclass(frozen=True)
class FirstRun:
    """A level's first run: the project as `nox -s new -- N` left it, and what it printed."""

    project: Path
    output: str


def make_first_run(level: int, folder: Path) -> FirstRun:
    """Render `level` into `folder` and run its main pipeline with `mlops-ladder new`, the
    command behind `nox -s new`; once per session, under a lock, across workers."""
    done, log = folder / "done.json", folder / "new.log"
    folder.parent.mkdir(parents=True, exist_ok=True)
    with exclusive(folder.parent / f"{folder.name}.lock"):
        if not done.exists():
            if folder.exists():
                raise RuntimeError(f"the first run of level {level} failed earlier; see {log}")
            folder.mkdir(parents=True)
            command = [sys.executable, "-m", "mlops_ladder", "new"]
            with log.open("w") as out:
                made = subprocess.run(
                    [*command, str(level), str(folder / "out")],
                    env=ladder.project_env(), stdout=out, stderr=subprocess.STDOUT,
                )  # fmt: skip
            if made.returncode != 0:
                raise RuntimeError(f"`new {level}` failed:\n{log.read_text()[-6000:]}")
            (project,) = (folder / "out").iterdir()
            done.write_text(json.dumps({"project": str(project)}))
    project = Path(json.loads(done.read_text())["project"])
    return FirstRun(project, log.read_text())


def copy_project(source: Path, target_parent: Path) -> Path:
    """A working copy of a project: its files copied (not DVC's scratch folder), its relocatable
    venv hard-linked (nothing writes into an installed package: uv replaces files rather than
    editing them) and its own package installed from the copy. MLflow's store needs nothing:
    the project records its artifacts relative to mlflow.db (test_moved.py holds that)."""
    target = target_parent / source.name
    target_parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(source, target, symlinks=True, ignore=_not_copied(source))
    if (source / ".venv").is_dir():
        subprocess.run(["cp", "-al", str(source / ".venv"), str(target / ".venv")], check=True)
    if (target / "pyproject.toml").exists():
        ladder.run("uv sync --locked --quiet --inexact", target)
    return target


def _not_copied(source: Path) -> Callable[[str, list[str]], set[str]]:
    """The venv (linked instead) and DVC's scratch folder, which holds paths of the original."""
    skipped = {source / ".venv", source / ".dvc" / "tmp"}
    return lambda folder, names: {name for name in names if Path(folder) / name in skipped}
