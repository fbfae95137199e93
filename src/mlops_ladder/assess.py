"""Which MLOps maturity level does a repository reach? Any repository, not only ours.

mlops-ladder assess PATH [--json]   (or: python -m mlops_ladder.assess PATH [--json])

Reads what code and configuration do, never prose: Python and notebooks' code cells through
their syntax tree (calls, imports, comparisons), YAML through its structure (CI pipelines of
GitHub, GitLab, Azure DevOps, CircleCI, Bitbucket, Travis; DVC, Kedro, Kubernetes), Jenkinsfiles,
Dockerfiles and Makefiles line by line without comments. A README that names a tool proves
nothing. For a project inside a larger git repository (a monorepo), the CI files at the top of
that repository count where their path filters and working directories reach the project.

The pieces: assess_reader (which files, what is kept of each), assess_ci (CI systems),
assess_criteria (one check per criterion, each saying what it accepts and refuses),
assess_report (the typed result and its text).
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

from .assess_criteria import CRITERIA, EVIDENCE_WORDS, Criterion, Evidence, Project
from .assess_reader import MARKER, Hit, Repo, printable, stderr
from .assess_report import (
    LEVELS,
    SCHEMA,
    TOP,
    Assessment,
    CriterionResult,
    Generator,
    NextStep,
    report,
)

__all__ = ["CRITERIA", "LEVELS", "TOP", "Criterion", "Evidence", "Hit", "assess", "main", "report"]


def ladder_command(name: str, *args: str) -> str:
    """The command that runs a ladder subcommand: the installed one, or in a clone its session."""
    if (Path(__file__).resolve().parent / "templates").is_dir():  # an installed wheel
        return " ".join(["mlops-ladder", name, *args])
    return " ".join(["python3 -m nox -s", name, "--", *args])


def _generator(repo: Repo) -> Generator | None:
    """A template at the top of the folder (or one level down) makes it a generator."""
    for path, kind in repo.generators:
        if path.count("/") <= 1:
            return {
                "kind": kind,
                "path": path,
                "message": (
                    f"This is a template ({path}, {kind}), not a project: render it first, then"
                    " assess the rendered project. The level below is that of the template's own"
                    " repository (its tooling), not of the projects it generates."
                ),
            }
    return None


def assess(root: Path, progress: Callable[[str], None] | None = None) -> Assessment:
    """The level a folder reaches and, per criterion, the evidence or what is missing."""
    repo = Repo(root, progress, EVIDENCE_WORDS)
    project = Project(repo)
    criteria: list[CriterionResult] = []
    for criterion in CRITERIA:
        evidence = criterion.check(project)
        note = criterion.near(project) if evidence is None else None
        criteria.append(
            {
                "id": criterion.id,
                "level": criterion.level,
                "name": criterion.name,
                "met": evidence is not None,
                "evidence": [
                    {"path": h.path, "line": h.line, "where": h.where, "matched": h.matched}
                    for h in evidence or ()
                ],
                "looked_for": criterion.evidence,
                "refused": criterion.refuses,
                "note": note,
            }
        )
    level = 0
    for candidate in range(1, TOP + 1):
        if not all(c["met"] for c in criteria if c["level"] == candidate):
            break
        level = candidate
    upper = level + 1 if level < TOP else None
    step: NextStep | None = None
    if upper is not None:
        step = {
            "level": upper,
            "name": LEVELS[upper],
            "missing": [c["id"] for c in criteria if c["level"] == upper and not c["met"]],
            "diff": ladder_command("diff", str(level), str(upper)),
            "upgrade": ladder_command("upgrade", shlex.quote(str(root)))
            if (root / MARKER).is_file()  # its presence only; what it claims is never read
            else None,
        }
    return {
        "schema": SCHEMA,
        "path": printable(str(root)),
        "level": level,
        "level_name": LEVELS[level],
        "has_code": any(c["met"] for c in criteria if c["id"] == "code"),
        "generator": _generator(repo),
        "criteria": criteria,
        "skipped": [{"path": s.path, "reason": s.reason} for s in repo.skipped],
        "files_read": len(repo.sources),
        "next": step,
    }


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Assess a repository's MLOps maturity level.")
    parser.add_argument("path", type=Path, help="the repository (any folder) to assess")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    args = parser.parse_args(argv)
    path: Path = args.path
    if not path.is_dir():
        problem = "is not a directory" if path.exists() else "does not exist"
        print(f"assess: error: {printable(str(path))} {problem}", file=sys.stderr)
        return 2
    result = assess(path.resolve(), progress=stderr)
    text = json.dumps(result, indent=2, ensure_ascii=False) + "\n" if args.json else report(result)
    sys.stdout.buffer.write(text.encode("utf-8", "replace")) if hasattr(
        sys.stdout, "buffer"
    ) else sys.stdout.write(text)
    sys.stdout.flush()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
