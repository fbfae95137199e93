"""Build hook: the wheel ships the templates, and records the commit it is built from.

The templates (`templates/`, with the root `cookiecutter.json`) become package data,
`mlops_ladder/templates/levelN/`, where ladder.py finds them; an editable install leaves them
out, since it runs from the clone, where they are already.

A project rendered by an installed wheel has no git history to name its template commit, so the
wheel stamps this one on it (ladder.build_commit), and `upgrade` from the same wheel then knows
that its own templates are the project's exact base. Recorded only when the templates are clean
in git, as the post-generation hook does; the sdist carries the file to the wheel built from it.
"""

import json
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from hatchling.builders.config import BuilderConfig
from hatchling.builders.hooks.plugin.interface import BuildHookInterface

RECORDED = "src/mlops_ladder/build.json"  # where an sdist carries it
IN_WHEEL = "mlops_ladder/build.json"
DATA = {
    "templates": "mlops_ladder/templates",
    "cookiecutter.json": "mlops_ladder/cookiecutter.json",
}


def clean_commit(root: Path) -> str | None:
    """HEAD of the clone at `root` if its templates have no uncommitted change, else None."""

    def git(*args: str) -> str:
        return subprocess.run(
            ["git", "-C", str(root), *args], capture_output=True, text=True, check=True
        ).stdout.strip()

    try:
        if Path(git("rev-parse", "--show-toplevel")).resolve() != root.resolve():
            return None  # an unpacked sdist inside someone else's repository
        changes = git("status", "--porcelain", "--", "templates", "cookiecutter.json")
        return None if changes else git("rev-parse", "HEAD")
    except (OSError, subprocess.CalledProcessError):
        return None


def shippable(root: Path) -> list[str] | None:
    """The files under the clone at `root` that git would ship (tracked, or new and not
    ignored: no bytecode, caches or editor files), or None outside a clone."""
    try:
        top = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--show-toplevel"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        if Path(top).resolve() != root.resolve():
            return None
        listed = subprocess.run(
            ["git", "-C", str(root), "ls-files", "-z", "--cached", "--others",
             "--exclude-standard", "--", *DATA],
            capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
    except (OSError, subprocess.CalledProcessError):
        return None
    return [path for path in listed.split("\0") if path and (root / path).is_file()]


class CustomBuildHook(BuildHookInterface[BuilderConfig]):
    def initialize(self, version: str, build_data: dict[str, Any]) -> None:
        if version == "editable":  # an editable install runs from the clone: git knows
            return
        root = Path(self.root)
        if self.target_name == "wheel":
            shipped = shippable(root)
            for source, target in DATA.items():
                if shipped is None:  # an unpacked sdist: it holds only what git would ship
                    build_data["force_include"][str(root / source)] = target
                    continue
                for path in shipped:
                    if path == source or path.startswith(f"{source}/"):
                        inside = target + path.removeprefix(source)
                        build_data["force_include"][str(root / path)] = inside
        carried = root / RECORDED
        if carried.is_file():  # built from an sdist
            build_data["force_include"][str(carried)] = IN_WHEEL
            return
        commit = clean_commit(root)
        if commit is None:
            return
        self._scratch = tempfile.mkdtemp(prefix="mlops-ladder-build-")
        record = Path(self._scratch) / "build.json"
        record.write_text(json.dumps({"commit": commit}) + "\n")
        build_data["force_include"][str(record)] = (
            RECORDED if self.target_name == "sdist" else IN_WHEEL
        )

    def finalize(self, version: str, build_data: dict[str, Any], artifact_path: str) -> None:
        if getattr(self, "_scratch", None):
            shutil.rmtree(self._scratch, ignore_errors=True)
