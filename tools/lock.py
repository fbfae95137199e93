"""Refresh the dependency locks that the templates ship, all at once.

python tools/lock.py [LEVEL ...] [--upgrade]

Levels 1-4 ship `uv.lock`, level 0 a `requirements.txt` compiled from `requirements.in` with a
hash for every file. Each level is rendered with its default answers, locked there by uv (the
existing lock is the starting point, so only what the pins changed moves; --upgrade moves every
unpinned package to its newest version), and the lock is copied back into the template.

The template's `uv.lock` names the project as the default answers do (`taxi-ride-duration`); the
post-generation hook renames that one entry for the project's own name. Nothing else in a lock
depends on the answers: `requires-python` is the same for every supported Python, and
`.python-version` picks the one a project uses.
"""

import argparse
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from mlops_ladder import ladder

LOCKED = {0: "requirements.txt"}  # level -> the file that holds its lock (default: uv.lock)
# Level 0's lock: every transitive dependency, for every platform, with hashes, so that
# `pip install -r requirements.txt` refuses any file but the ones locked here.
COMPILE = [
    "uv", "pip", "compile", "requirements.in", "--output-file", "requirements.txt",
    "--universal", "--generate-hashes", "--python-version", "3.11", "--quiet",
    "--custom-compile-command", "uv pip compile requirements.in --universal --generate-hashes "
    "--python-version 3.11 -o requirements.txt",
]  # fmt: skip


def lock_file(level: int) -> str:
    return LOCKED.get(level, "uv.lock")


def template_project(level: int, templates: Path = ladder.TEMPLATES) -> Path:
    """The project folder of a level's template (`{{cookiecutter.project_slug}}`)."""
    return next((templates / f"level{level}").glob("{{*}}"))


def lock(level: int, upgrade: bool = False) -> bool:
    """Re-lock one level's template; whether its lock changed."""
    target = template_project(level) / lock_file(level)
    with tempfile.TemporaryDirectory() as scratch:
        project = ladder.render(level, Path(scratch))
        if target.exists():  # start from the lock we have: only what changed moves
            shutil.copyfile(target, project / target.name)
        if level == 0:
            command = [*COMPILE, *(["--upgrade"] if upgrade else [])]
        else:
            command = ["uv", "lock", "--quiet", *(["--upgrade"] if upgrade else [])]
        subprocess.run(command, cwd=project, env=ladder.project_env(), check=True)
        new = (project / target.name).read_bytes()
    changed = not target.exists() or target.read_bytes() != new
    if changed:
        target.write_bytes(new)
    return changed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Refresh the locks the templates ship.")
    parser.add_argument("levels", type=int, nargs="*", metavar="LEVEL", help="default: all")
    parser.add_argument(
        "--upgrade", action="store_true", help="also move unpinned packages to their newest"
    )
    args = parser.parse_args(argv)
    if unknown := set(args.levels) - set(ladder.levels()):
        parser.error(f"no template for level {min(unknown)}: levels are {ladder.levels()}")
    for level in args.levels or ladder.levels():
        changed = lock(level, args.upgrade)
        where = template_project(level).relative_to(ladder.ROOT) / lock_file(level)
        print(f"{'updated ' if changed else 'current '} {where}", flush=True)
    print("Next: python3 -m nox -s diff -- --update, if a lock changed", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
