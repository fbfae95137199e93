"""Carry an edit made in one level's template files into the levels above.

python tools/propagate.py N PATH... [--base REV] [--to K]

PATH is a template file of level N, relative to the repository
(`templates/level2/{{cookiecutter.project_slug}}/src/{{cookiecutter.package_name}}/cli.py`), to
the level's folder (`hooks/post_gen_project.py`) or to its project folder
(`src/{{cookiecutter.package_name}}/cli.py`). A template path is the same at every level, so
the raw sources are merged; nothing is rendered.

The edit is what level N's file holds now against git (REV, default HEAD). It climbs one level
at a time by the three-way merge `upgrade` uses (`git merge-file`): into level N+1 with level N
at REV as the base and level N now as theirs; into level N+2 with level N+1 at REV as the base
and level N+1 as merged as theirs; and so on to the top. Whatever a level's result holds
against REV travels on, so an edit you already made by hand in a level above goes up with it.

Per level and file: "updated", "same" (it already holds the result), "added" (a file new in
level N goes to the levels above that lack it), "absent" (the level dropped the file: the edit
stops there) or "conflict". Every file of every level is merged in memory first, and if any
conflict remains NOTHING is written (exit 1) and the conflicting hunks are printed: a
half-carried edit would leave the lessons disagreeing, and markers inside Jinja sources break
the render. Make the edit by hand in the level K that conflicts; carry it to the levels between
with `--to K-1` (they stop below K), and on from K with `propagate K PATH`.
Nothing is committed; rewrite the golden diffs (`nox -s diff -- --update`) and review with git.
"""

import argparse
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mlops_ladder import ladder, merge

PROJECT = "{{cookiecutter.project_slug}}"  # the project folder inside each level's folder


class Refused(Exception):
    """The edit cannot be propagated as asked; the message says why."""


@dataclass
class Step:
    """What propagating one file does to one level above."""

    level: int
    path: str  # relative to the level's folder
    action: str  # updated, same, added, absent or conflict
    content: bytes | None = None
    mode: int | None = None  # the permission bits of an added file
    hunks: list[str] = field(default_factory=list)


def level_path(level: int, path: str, templates: Path, rev: str) -> str:
    """The path of a file of level `level` relative to the level's folder; refuse any other."""
    folder = templates / f"level{level}"
    given = Path(path)
    for root in (Path.cwd(), templates.parent):  # as typed, or relative to the repository
        full = (root / given).resolve()
        if full.is_relative_to(templates.resolve()):
            parts = full.relative_to(templates.resolve()).parts
            if len(parts) < 2 or parts[0] != folder.name:
                other = parts[0].removeprefix("level") if parts else ""
                hint = f": propagate -- {other} {path}" if other.isdigit() else ""
                raise Refused(f"{path} is not a file of level {level}{hint}")
            return _existing(level, Path(*parts[1:]).as_posix(), path, templates, rev)
    for inside in ("", f"{PROJECT}/"):  # relative to the level's folder, or to its project
        candidate = f"{inside}{given.as_posix()}"
        if (folder / candidate).is_file() or _at(rev, templates, level, candidate) is not None:
            return _existing(level, candidate, path, templates, rev)
    raise Refused(
        f"{path} is not a file of level {level} (looked in {folder} and {folder / PROJECT})"
    )


def _existing(level: int, relative: str, path: str, templates: Path, rev: str) -> str:
    file = templates / f"level{level}" / relative
    if file.is_file():
        return relative
    if _at(rev, templates, level, relative) is not None:
        raise Refused(
            f"{path} was deleted from level {level}: propagate carries edits and new files; "
            "delete it from the levels above by hand"
        )
    raise Refused(f"{path} is not a file of level {level}")


def _at(rev: str, templates: Path, level: int, relative: str) -> bytes | None:
    """A level's file as it is at git revision `rev`, or None where it does not exist."""
    shown = _git(templates, "show", f"{rev}:./level{level}/{relative}")
    return shown.stdout if shown.returncode == 0 else None


def _git(templates: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(["git", "-C", str(templates), *args], capture_output=True)


def chain(low: int, relative: str, templates: Path, rev: str, to: int) -> list[Step]:
    """Plan, in memory, the edit of one file of level `low` in the levels above it, to `to`."""
    file = templates / f"level{low}" / relative
    base, theirs = _at(rev, templates, low, relative), file.read_bytes()
    if base == theirs:
        raise Refused(
            f"{file.relative_to(templates.parent)} has no change against {rev}: edit it first, "
            "or name the revision before your edit with --base"
        )
    mode = file.stat().st_mode & 0o777
    steps: list[Step] = []
    for level in range(low + 1, to + 1):
        upper = templates / f"level{level}" / relative
        ours = upper.read_bytes() if upper.is_file() else None
        if ours is None and base is not None:
            steps.append(Step(level, relative, "absent"))
            break
        step = _merge_into(level, relative, ours, base, theirs, rev)
        step.mode = mode if step.action == "added" else None
        steps.append(step)
        if step.action == "conflict" or step.content is None:
            break
        base, theirs = _at(rev, templates, level, relative), step.content
    return steps


def _merge_into(
    level: int, relative: str, ours: bytes | None, base: bytes | None, theirs: bytes, rev: str
) -> Step:
    """Merge the level below's edit into one level's file."""
    if ours is None:
        return Step(level, relative, "added", theirs)
    if ours == theirs:
        return Step(level, relative, "same", ours)
    labels = (f"level {level}", f"level {level - 1} at {rev}", f"level {level - 1}, edited")
    merged = merge.three_way(ours, base or b"", theirs, labels)
    if merged is None:
        return Step(level, relative, "conflict", hunks=["(a binary file: git cannot merge it)\n"])
    content, clean = merged
    if clean:
        return Step(level, relative, "same" if content == ours else "updated", content)
    return Step(level, relative, "conflict", content, hunks=merge.conflicts(content))


def propagate(
    low: int,
    paths: Sequence[str],
    templates: Path = ladder.TEMPLATES,
    rev: str = "HEAD",
    to: int | None = None,
) -> list[Step]:
    """Carry level `low`'s edit of each path into the levels above, up to level `to` (default:
    the top); write only if all merge."""
    top = ladder.levels()[-1]
    if low >= top:
        raise Refused(f"level {low} is the top of the ladder: there is no level above it")
    to = top if to is None else to
    if not low < to <= top:
        raise Refused(f"--to {to}: choose a level from {low + 1} to {top}")
    if _git(templates, "rev-parse", "--verify", "-q", f"{rev}^{{commit}}").returncode:
        raise Refused(f"{templates} has no git revision {rev!r} to take the edit against")
    relatives = dict.fromkeys(level_path(low, path, templates, rev) for path in paths)
    steps = [step for rel in relatives for step in chain(low, rel, templates, rev, to)]
    if not any(step.action == "conflict" for step in steps):
        _write(steps, templates)
    return steps


def _write(steps: Sequence[Step], templates: Path) -> None:
    for step in steps:
        if step.action in ("updated", "added") and step.content is not None:
            file = templates / f"level{step.level}" / step.path
            file.parent.mkdir(parents=True, exist_ok=True)
            file.write_bytes(step.content)
            if step.mode is not None:
                file.chmod(step.mode)


def report(low: int, steps: Sequence[Step], templates: Path) -> str:
    """Each level's result per file, each conflict with its hunks, and what to do next."""
    lines, shown = [], None
    for step in steps:
        if step.path != shown:
            lines.append(f"Level {low}'s edit of {step.path}:")
            shown = step.path
        where = (templates / f"level{step.level}" / step.path).relative_to(templates.parent)
        lines.append(f"  level {step.level}  {step.action:9s}{where}")
    conflicts = [step for step in steps if step.action == "conflict"]
    written = [step for step in steps if step.action in ("updated", "added")]
    lines.append("")
    for step in conflicts:
        lines.append(f"Conflict in level {step.level}'s {step.path}:")
        lines += [hunk.rstrip("\n") for hunk in step.hunks]
        lines.append("")
    if conflicts:
        lines += advice_on_conflict(low, min(step.level for step in conflicts))
    elif written:
        lines.append(
            f"Wrote {len(written)} file(s); nothing is committed. Rewrite the golden diffs "
            "(python3 -m nox -s diff -- --update), review with git diff, and commit."
        )
    else:
        lines.append("Every level above already holds the edit: nothing to write.")
    return "\n".join(lines) + "\n"


def advice_on_conflict(low: int, level: int) -> list[str]:
    """What to run after a conflict at `level`: the levels below it, then on from it."""
    command = "python3 -m nox -s propagate --"
    lines = [f"Nothing was written. Make the edit by hand in level {level}, then:"]
    if level - 1 > low:
        lines.append(f"  {command} {low} PATH... --to {level - 1}   (the levels below it)")
    if level < ladder.levels()[-1]:
        lines.append(f"  {command} {level} PATH...   (on from level {level})")
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Carry an edit of level N's template files into the levels above. "
        "Exit code 1: a conflict, and nothing was written."
    )
    parser.add_argument("level", type=int, choices=ladder.levels(), help="the level you edited")
    parser.add_argument("paths", nargs="+", metavar="PATH", help="template files of that level")
    parser.add_argument("--base", default="HEAD", help="the git revision before your edit")
    parser.add_argument("--to", type=int, help="the highest level to carry it to (default: top)")
    args = parser.parse_args(argv)
    try:
        steps = propagate(args.level, args.paths, ladder.TEMPLATES, args.base, args.to)
    except Refused as refusal:
        print(f"propagate refused: {refusal}", file=sys.stderr)
        return 2
    sys.stdout.write(report(args.level, steps, ladder.TEMPLATES))
    return 1 if any(step.action == "conflict" for step in steps) else 0


if __name__ == "__main__":
    raise SystemExit(main())
