"""Record where the project came from, then tell the person what to do next.

This file is identical in every level of mlops-ladder.
"""

import json
import os
import re
import subprocess
from pathlib import Path

LEVEL = {{ cookiecutter._level | tojson }}
SLUG = {{ cookiecutter.project_slug | tojson }}
TEMPLATE = {{ cookiecutter._repo_dir | tojson }}
RECORD = Path(".mlops-ladder.json")
LOCK = Path("uv.lock")
LOCKED_AS = 'name = "taxi-ride-duration"'  # the default answers' project, which tools/lock.py locks


def template_commit(template: str) -> str | None:
    """The mlops-ladder commit of this level's template, if the template is clean in git.

    `upgrade` renders the project's own level from that commit, so that template changes made
    since are not mistaken for the owner's edits. The hook runs inside the new project, so a
    relative template path is taken from where cookiecutter was started ($PWD).
    """
    folder = Path(os.environ.get("PWD", "."), template) if template else None
    if folder is None or not (folder / "cookiecutter.json").is_file():
        return None
    try:
        commit, changes = (
            subprocess.run(
                ["git", "-C", str(folder), *args], capture_output=True, text=True, check=True
            ).stdout.strip()
            for args in (["rev-parse", "HEAD"], ["status", "--porcelain", "--", "."])
        )
    except (OSError, subprocess.CalledProcessError):
        return None  # not in git: rendered from a copy or an archive
    return None if changes else commit


def shown(project: Path) -> str:
    """The project's folder as typed from where cookiecutter was started ($PWD): relative
    when it is inside, else absolute."""
    started = os.environ.get("PWD")
    relative = os.path.relpath(project, started) if started else project.name
    return str(project) if relative.startswith("..") else relative


def name_the_lock(slug: str) -> None:
    """Give uv.lock's entry for the project this project's name (as PyPI normalises it)."""
    if not LOCK.exists():  # level 0 pins its notebook's packages in requirements.txt
        return
    text = LOCK.read_text()
    if text.count(LOCKED_AS) != 1:
        raise SystemExit(f"uv.lock of this template is broken: it should hold {LOCKED_AS} once")
    name = re.sub(r"[-_.]+", "-", slug).lower()
    LOCK.write_text(text.replace(LOCKED_AS, f'name = "{name}"'))


name_the_lock(SLUG)
record = json.loads(RECORD.read_text())
commit = template_commit(TEMPLATE)
if commit:
    record["template_commit"] = commit
RECORD.write_text(json.dumps(record, indent=2, ensure_ascii=False) + "\n")

where = shown(Path.cwd())  # the hook runs inside the new project
print(f"Created {SLUG}/ at MLOps maturity level {LEVEL}. Next: cd {where} and read README.md.")
