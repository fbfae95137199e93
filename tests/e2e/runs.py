"""Helpers to drive generated projects and read what they print."""

import re
import subprocess
from pathlib import Path
from typing import Any

import nbformat

from mlops_ladder import ladder

RMSE = re.compile(r"validation RMSE \(\d{4}-\d{2}\): ([0-9.]+) minutes")


def git_commit_all(project: Path) -> None:
    """Make the project a git repository, as its README asks a person to."""
    commit(project, "Render the template", init=True)


def commit(project: Path, message: str, init: bool = False) -> None:
    """Commit everything in `project` (first making it a repository, when `init`)."""
    setup = "git init -q -b main && " if init else ""
    identity = "-c user.name=e2e -c user.email=e2e@example.com"
    ladder.run(f"{setup}git add -A && git {identity} commit -qm '{message}'", project)


def rmse_in(text: str) -> str:
    """The validation RMSE printed in `text`, as printed."""
    found = RMSE.findall(text)
    assert len(found) == 1, f"expected one validation RMSE in:\n{text}"
    return str(found[0])


def notebook_outputs(notebook_path: Path) -> list[dict[str, Any]]:
    """Every output of every cell of a notebook."""
    notebook = nbformat.read(notebook_path, as_version=4)
    return [output for cell in notebook.cells for output in cell.get("outputs", [])]


def printed_by(notebook_path: Path) -> str:
    """What the cells of an executed notebook printed."""
    streams = [o for o in notebook_outputs(notebook_path) if o["output_type"] == "stream"]
    return "".join(output["text"] for output in streams)


def in_project(project: Path, code: str, env: dict[str, str] | None = None) -> str:
    """Run Python `code` with the project's own interpreter; returns what it prints."""
    result = subprocess.run(
        [str(project / ".venv" / "bin" / "python"), "-c", code],
        cwd=project,
        env={**ladder.project_env(), **(env or {})},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def set_param(project: Path, key: str, value: str) -> None:
    """Set `key: value` in the project's params.yaml (a key that appears once)."""
    params = project / "params.yaml"
    pattern = re.compile(rf"^(\s*{re.escape(key)}:) .*$", re.MULTILINE)
    text, count = pattern.subn(rf"\g<1> {value}", params.read_text())
    assert count == 1, f"params.yaml has {count} lines for {key}"
    params.write_text(text)


def train_output(project: Path) -> str:
    """What the level-1 CLI's `train` prints in the project."""
    result = subprocess.run(
        ["uv", "run", "python", "-m", project.name, "train"],
        cwd=project, env=ladder.project_env(), capture_output=True, text=True, check=True,
    )  # fmt: skip
    return result.stdout


def make(project: Path, target: str) -> subprocess.CompletedProcess[str]:
    """`make TARGET` in the project, as its README says; returns what it did (not checked)."""
    return subprocess.run(
        ["make", target], cwd=project, env=ladder.project_env(), capture_output=True, text=True
    )


def clone_and_pull(project: Path) -> Path:
    """A clone of the project beside it (the default DVC remote is a relative path), set up
    as its README says: `make install && make pull`. Checks that each step succeeds."""
    clone = project.parent / f"{project.name}-clone"
    ladder.run(f"git clone --quiet {project} {clone}", project.parent)
    for target in ("install", "pull"):
        done = make(clone, target)
        assert done.returncode == 0, f"make {target} in the clone:\n{done.stdout}{done.stderr}"
    return clone


def readme_commands(project: Path, heading: str) -> list[str]:
    """The commands of the ```bash blocks in the README section `### heading`, one per line,
    in order, as a person would paste them (comments are left to bash)."""
    readme = (project / "README.md").read_text()
    section = re.split(r"\n##+ ", readme.split(f"\n### {heading}\n", 1)[1])[0]
    blocks = re.findall(r"^```bash\n(.*?)^```", section, re.MULTILINE | re.DOTALL)
    return [line for block in blocks for line in block.splitlines() if line.strip()]
