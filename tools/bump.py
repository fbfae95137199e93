"""Bump one pinned package or GitHub action in every level's template files, together.

python tools/bump.py NAME VERSION [--sha SHA]

NAME is a PyPI package (`pandas`, `mlflow[extras]` pins count too) or a GitHub action
(`actions/checkout`). A package's `NAME==VERSION` pins move in requirements.in, pyproject.toml
dependency lists and groups, Dockerfiles, compose files and workflows, and so does a container
image named after it (`ghcr.io/astral-sh/uv:0.13.9` for `uv`). An action's `uses:` lines move to
the new tag or, with --sha, to that commit with the tag in a comment (`@<sha> # v5.0.1`). Every
changed line is printed; nothing is written unless NAME is pinned somewhere and VERSION is sound.
The locks that the moved pins make stale are named; `tools/lock.py` (which `nox -s bump` runs
next) refreshes them.
"""

import argparse
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from mlops_ladder import ladder

# The files that hold pins, by name; workflows by folder.
# Level 0's requirements.txt is not one: tools/lock.py compiles it from requirements.in.
PIN_FILES = {"requirements.in", "pyproject.toml", "Dockerfile", "docker-compose.yml", "Makefile"}
LOCK_OF = {"pyproject.toml": "uv.lock", "requirements.in": "requirements.txt"}
WORKFLOWS = ".github/workflows"

PEP440 = re.compile(r"^\d+(\.\d+)*((a|b|rc)\d+)?(\.post\d+)?(\.dev\d+)?$")
ACTION_TAG = re.compile(r"^v\d+(\.\d+){0,2}$")
SHA = re.compile(r"^[0-9a-f]{40}$")
# `name[extras]==version`, not preceded by a name character (so `xpandas==` is not `pandas`).
REQUIREMENT = re.compile(
    r"(?<![\w.-])(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)(?P<extras>\[[^\]]*\])?"
    r"==(?P<version>[A-Za-z0-9.+!-]+)"
)
# A container image with a version tag, such as `ghcr.io/mlflow/mlflow:v3.17.2`.
IMAGE = re.compile(r"(?P<image>[\w.-]+(?:/[\w.-]+)+|(?<=image: )[\w.-]+):(?P<tag>v?\d[\w.]*)")
# `uses: owner/repo[/path]@ref`, then an optional comment (a version, or why the tag is kept).
USES = re.compile(
    r"(?P<head>\buses:\s*)(?P<action>[\w.-]+/[\w.-]+(?:/[\w./-]+)?)@(?P<ref>[\w.-]+)"
    r"(?P<comment>\s+#.*)?$"
)


class Refused(Exception):
    """The bump cannot be done as asked; the message says why."""


@dataclass(frozen=True)
class Edit:
    """One pin on one line of one file: the line before and after."""

    path: Path
    number: int
    old: str
    new: str


def normalise(name: str) -> str:
    """A package name as PEP 503 compares it: `Scikit_Learn` is `scikit-learn`."""
    return re.sub(r"[-_.]+", "-", name).lower()


def is_action(name: str) -> bool:
    """GitHub actions are named owner/repo; PyPI packages never contain a slash."""
    return "/" in name


def check_version(name: str, version: str, sha: str | None) -> None:
    """Refuse a malformed VERSION or SHA before anything is read."""
    if is_action(name):
        if not ACTION_TAG.match(version):
            raise Refused(f"{version!r} is not an action tag like v5 or v5.0.1")
        if sha is not None and not SHA.match(sha):
            raise Refused(f"--sha {sha!r} is not a full 40-character lowercase commit SHA")
    else:
        if sha is not None:
            raise Refused("--sha pins GitHub actions only, not PyPI packages")
        if not PEP440.match(version):
            raise Refused(f"{version!r} is not a release version like 2.3.3 (PEP 440)")


def pin_files(templates: Path) -> Iterator[Path]:
    """Every template file that may hold a pin, in a stable order."""
    for path in sorted(templates.glob("level*/**/*")):
        if path.is_file() and (path.name in PIN_FILES or WORKFLOWS in path.as_posix()):
            yield path


def bump_package_line(line: str, name: str, version: str) -> str:
    """The line with NAME's `==` pins and NAME's image tags set to VERSION."""

    def requirement(match: re.Match[str]) -> str:
        if normalise(match["name"]) != normalise(name):
            return match[0]
        return f"{match['name']}{match['extras'] or ''}=={version}"

    def image(match: re.Match[str]) -> str:
        if normalise(match["image"].rsplit("/", 1)[-1]) != normalise(name):
            return match[0]
        prefix = "v" if match["tag"].startswith("v") else ""
        return f"{match['image']}:{prefix}{version}"

    return IMAGE.sub(image, REQUIREMENT.sub(requirement, line))


def bump_action_line(line: str, name: str, version: str, sha: str | None) -> str:
    """The line with NAME's `uses:` ref set to VERSION, or to SHA with VERSION in a comment."""
    match = USES.search(line)
    if not match or _repository(match["action"]) != name.lower():
        return line
    if sha is not None:
        ref, comment = sha, f" # {version}"
    elif SHA.match(match["ref"]):
        raise Refused(f"{name} is pinned to a commit SHA ({line.strip()}): give --sha of {version}")
    else:
        ref, comment = version, match["comment"] or ""  # keeps a reason, such as an ignore
    return f"{line[: match.start()]}{match['head']}{match['action']}@{ref}{comment}"


def edits(templates: Path, name: str, version: str, sha: str | None) -> tuple[list[Edit], int]:
    """The lines a bump changes, and how many lines pin NAME at all."""
    found, pinned = [], 0
    for path in pin_files(templates):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if is_action(name):
                new = bump_action_line(line, name, version, sha)
                # A line pins NAME if it would change when bumped to anything else.
                hit = new != line or bump_action_line(line, name, "v0", "0" * 40) != line
            else:
                new = bump_package_line(line, name, version)
                hit = new != line or bump_package_line(line, name, "0.0.0.dev0") != line
            pinned += hit
            if new != line:
                found.append(Edit(path, number, line, new))
    return found, pinned


def apply(found: Sequence[Edit]) -> None:
    """Write the edited lines back, file by file, keeping every other byte."""
    for path in sorted({edit.path for edit in found}):
        with path.open(encoding="utf-8", newline="") as source:  # keep CRLF as it is
            lines = source.read().splitlines(keepends=True)
        for edit in (edit for edit in found if edit.path == path):
            ending = lines[edit.number - 1][len(edit.old) :]
            lines[edit.number - 1] = edit.new + ending
        with path.open("w", encoding="utf-8", newline="") as target:
            target.write("".join(lines))


def locks_to_refresh(found: Sequence[Edit]) -> list[Path]:
    """The locks that go stale with these edits: uv.lock, or level 0's requirements.txt."""
    locks = {
        edit.path.with_name(LOCK_OF[edit.path.name]) for edit in found if edit.path.name in LOCK_OF
    }
    return sorted(lock for lock in locks if lock.exists())


def bump(
    name: str, version: str, sha: str | None = None, templates: Path | None = None
) -> list[Edit]:
    """Set every pin of NAME in the templates to VERSION (and SHA); the edits made."""
    check_version(name, version, sha)
    templates = templates or ladder.TEMPLATES
    found, pinned = edits(templates, name, version, sha)
    if not pinned:
        raise Refused(f"{name} is pinned nowhere in {templates}/level*")
    apply(found)
    return found


def report(found: Sequence[Edit], name: str, version: str, root: Path) -> str:
    """Each changed line, old and new, then a one-line summary."""
    lines = []
    for edit in found:
        where = edit.path.relative_to(root) if edit.path.is_relative_to(root) else edit.path
        lines += [f"{where}:{edit.number}", f"  - {edit.old.strip()}", f"  + {edit.new.strip()}"]
    files = len({edit.path for edit in found})
    if found:
        lines.append(f"{name} -> {version}: {len(found)} lines changed in {files} files")
        lines.append("Next: python3 -m nox -s diff -- --update (the golden diffs show pins too)")
    else:
        lines.append(f"{name} is already at {version} everywhere: nothing to change")
    stale = locks_to_refresh(found)
    lines += [
        f"stale lock: {lock.relative_to(root) if lock.is_relative_to(root) else lock}"
        for lock in stale
    ]
    if stale:
        lines.append("Refresh them: python3 tools/lock.py (nox -s bump runs it for you)")
    return "\n".join(lines) + "\n"


def pins_on(line: str) -> Iterator[tuple[str, str]]:
    """The (name, version) pins on one line: packages, images (tag without `v`), actions."""
    for match in REQUIREMENT.finditer(line):
        yield normalise(match["name"]), match["version"]
    for match in IMAGE.finditer(line):
        yield normalise(match["image"].rsplit("/", 1)[-1]), match["tag"].removeprefix("v")
    if uses := USES.search(line):
        version = (uses["comment"] or "").strip() if SHA.match(uses["ref"]) else ""
        yield _repository(uses["action"]), f"{uses['ref']} {version}".strip()


def _repository(action: str) -> str:
    """The repository of an action: `github/codeql-action/init` is `github/codeql-action`."""
    return "/".join(action.lower().split("/")[:2])


def pins(templates: Path) -> dict[str, dict[str, list[str]]]:
    """Every pin in the templates: name -> version -> the `levelN/...:line` places that pin it."""
    found: dict[str, dict[str, list[str]]] = {}
    for path in pin_files(templates):
        where = path.relative_to(templates).as_posix()
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            for name, version in pins_on(line):
                found.setdefault(name, {}).setdefault(version, []).append(f"{where}:{number}")
    return found


def disagreements(templates: Path) -> dict[str, dict[str, list[str]]]:
    """The pins whose versions differ between places (and so between levels)."""
    return {name: versions for name, versions in pins(templates).items() if len(versions) > 1}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Bump a pin in every level's templates.")
    parser.add_argument(
        "name", help="a PyPI package (pandas) or a GitHub action (actions/checkout)"
    )
    parser.add_argument("version", help="the new version (2.3.3) or action tag (v5.0.1)")
    parser.add_argument(
        "--sha", help="for an action: the tag's commit, pinned with the tag as comment"
    )
    parser.add_argument("--templates", type=Path, help=argparse.SUPPRESS)  # for the tests
    args = parser.parse_args(argv)
    templates = (args.templates or ladder.TEMPLATES).resolve()
    try:
        found = bump(args.name, args.version, args.sha, templates)
    except Refused as refusal:
        print(f"bump refused: {refusal}", file=sys.stderr)
        return 2
    sys.stdout.write(report(found, args.name, args.version, templates.parent))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
