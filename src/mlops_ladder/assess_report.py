"""The result of `assess`, as a typed document (`--json`) and as text for a terminal.

The JSON document (`Assessment`, schema version 1):

    {
      "schema": 1,
      "path": "/abs/path",                  # the assessed folder
      "level": 2, "level_name": "Automated training",
      "has_code": true,                     # false: no .py file and no notebook at all
      "generator": null | {                 # the folder is a template, not a project
        "kind": "cookiecutter" | "copier" | "Databricks asset bundle template",
        "path": "cookiecutter.json",
        "message": "... render it first ..."
      },
      "criteria": [                         # every criterion, in level order
        {"id": "tracking", "level": 2, "name": "Tracked training runs", "met": true,
         "evidence": [{"path": "src/train.py", "line": 52, "where": "src/train.py:52",
                       "matched": "with mlflow.start_run() as run:"}],
         "looked_for": "code that logs runs ...",   # what counts
         "refused": "an import alone, ...",         # what does not count
         "note": null | "what came close"}
      ],
      "skipped": [{"path": "big.ipynb", "reason": "not valid JSON (...)"}],
      "files_read": 123,
      "next": null | {"level": 3, "name": "...", "missing": ["registry", ...],
                      "diff": "python3 -m nox -s diff -- 2 3", "upgrade": null | "..."}
    }

Paths are relative to `path` (a monorepo's top CI file: ../../.github/...), `line` is 1-based
(0 when the evidence is a whole file), and every string is valid UTF-8.
"""

from __future__ import annotations

import textwrap
from typing import TypedDict

LEVELS = {
    0: "No MLOps",
    1: "DevOps but no MLOps",
    2: "Automated training",
    3: "Automated model deployment",
    4: "Full MLOps",
}
TOP = max(LEVELS)
SCHEMA = 1


class EvidenceLine(TypedDict):
    path: str
    line: int
    where: str
    matched: str


class CriterionResult(TypedDict):
    id: str
    level: int
    name: str
    met: bool
    evidence: list[EvidenceLine]
    looked_for: str
    refused: str
    note: str | None


class Generator(TypedDict):
    kind: str
    path: str
    message: str


class SkippedFile(TypedDict):
    path: str
    reason: str


class NextStep(TypedDict):
    level: int
    name: str
    missing: list[str]
    diff: str
    upgrade: str | None


class Assessment(TypedDict):
    schema: int
    path: str
    level: int
    level_name: str
    has_code: bool
    generator: Generator | None
    criteria: list[CriterionResult]
    skipped: list[SkippedFile]
    files_read: int
    next: NextStep | None


def _wrap(line: str) -> str:
    return textwrap.fill(
        line, width=100, subsequent_indent=" " * 6, break_long_words=False, break_on_hyphens=False
    )


SHOWN_SKIPPED = 10


def report(result: Assessment) -> str:
    """The assessment as plain text for a terminal."""
    out = [f"MLOps maturity of {result['path']}", ""]
    generator = result["generator"]
    if generator:
        out += [_wrap(generator["message"]), ""]
    for level, name in LEVELS.items():
        out.append(f"Level {level}: {name}")
        for c in (c for c in result["criteria"] if c["level"] == level):
            if c["met"]:
                found = "; ".join(f"{e['where']}: {e['matched']}" for e in c["evidence"])
                out.append(_wrap(f"  [x] {c['name']}: {found}"))
            else:
                out.append(_wrap(f"  [ ] {c['name']}: looked for {c['looked_for']}"))
                if c["note"]:
                    out.append(_wrap(f"      almost: {c['note']}"))
        out.append("")
    skipped = result["skipped"]
    if skipped:
        out.append(f"Skipped {len(skipped)} file(s) that could not be read:")
        out += [_wrap(f"  {s['path']}: {s['reason']}") for s in skipped[:SHOWN_SKIPPED]]
        if len(skipped) > SHOWN_SKIPPED:
            out.append(f"  ... and {len(skipped) - SHOWN_SKIPPED} more (--json lists them all)")
        out.append("")
    if not result["has_code"]:
        out.append("No code at all here (no .py file, no notebook): not even level 0's notebook.")
    out.append(f"Level reached: {result['level']} ({result['level_name']})")
    if generator:
        out.append(f"  (of the template's own repository; render it first: {generator['path']})")
    step = result["next"]
    if step is None:
        out.append("There is no next level: every criterion is met.")
        return "\n".join(out) + "\n"
    names = {c["id"]: c["name"] for c in result["criteria"]}
    missing = ", ".join(names[i] for i in step["missing"])
    out += [
        _wrap(f"Next step, level {step['level']} ({step['name']}): add {missing}."),
        f"  See what it adds:  {step['diff']}",
    ]
    if step["upgrade"]:
        out.append(f"  Apply it to this project (generated from mlops-ladder):  {step['upgrade']}")
    return "\n".join(out) + "\n"
