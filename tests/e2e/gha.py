"""Run a GitHub Actions workflow's `run:` steps locally, in order, as a runner would.

Setup actions map to what this machine already has; actions that only work on GitHub are
skipped and reported. Any other action fails the run, so nothing is skipped silently.
"""

import re
import subprocess
import tempfile
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import ladder
import yaml

LOCAL_EQUIVALENT = {
    "actions/checkout": "the project is already a git checkout",
    "astral-sh/setup-uv": "uv is on PATH",
    "actions/setup-python": "uv provides Python from .python-version",
}
GITHUB_ONLY = {
    "softprops/action-gh-release": "creates a release through GitHub's API",
}
EXPRESSION = re.compile(r"\$\{\{.*?\}\}")
EVENT_CONDITION = re.compile(r"github\.event_name == '(\w+)'")


@dataclass
class WorkflowRun:
    """What a local run of a workflow did, and what it wrote to the job summary."""

    log: list[str] = field(default_factory=list)
    summary: str = ""


def runs_on(condition: str | None, event: str) -> bool:
    """Evaluate a step's `if:`; only `github.event_name == '...'` is understood."""
    if condition is None:
        return True
    match = EVENT_CONDITION.fullmatch(condition.strip())
    if not match:
        raise ValueError(f"cannot evaluate `if: {condition}` locally")
    return match.group(1) == event


def run_workflow(
    workflow: Path,
    project: Path,
    env: Mapping[str, str] | None = None,
    event: str = "push",
    only_jobs: Collection[str] = (),
) -> WorkflowRun:
    """Run every `run:` step of every job (or of `only_jobs`) for `event`, in file order."""
    spec = yaml.safe_load(workflow.read_text())
    result = WorkflowRun()
    log = result.log
    with tempfile.TemporaryDirectory() as runner_temp:
        github_files = {
            name: Path(runner_temp) / name.lower()
            for name in ("GITHUB_STEP_SUMMARY", "GITHUB_OUTPUT", "GITHUB_ENV")
        }
        for path in github_files.values():
            path.touch()
        base = {
            **ladder.project_env(),
            "CI": "true",
            "GITHUB_EVENT_NAME": event,
            "GITHUB_WORKSPACE": str(project),
            "RUNNER_TEMP": runner_temp,
            **{name: str(path) for name, path in github_files.items()},
            **spec.get("env", {}),
            **(env or {}),
        }
        for job_name, job in spec["jobs"].items():
            if only_jobs and job_name not in only_jobs:
                continue
            for step in job["steps"]:
                name = step.get("name") or step.get("uses") or step["run"].splitlines()[0]
                if not runs_on(step.get("if"), event):
                    log.append(f"{job_name}: not on {event}: {name}")
                    continue
                if "uses" in step:
                    action = step["uses"].split("@")[0]
                    if action in GITHUB_ONLY:
                        log.append(f"{job_name}: skipped {action} ({GITHUB_ONLY[action]})")
                        continue
                    if action not in LOCAL_EQUIVALENT:
                        raise ValueError(f"{workflow.name}: no local equivalent for {action}")
                    log.append(f"{job_name}: {action} -> {LOCAL_EQUIVALENT[action]}")
                    continue
                if EXPRESSION.search(step["run"]):
                    raise ValueError(f"{workflow.name}: step {name!r} uses ${{{{ }}}} in run:")
                step_env = {**base, **job.get("env", {}), **step.get("env", {})}
                cwd = project / step.get("working-directory", ".")
                print(f"[{workflow.name} / {job_name}] {name}", flush=True)
                subprocess.run(
                    ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
                    cwd=cwd,
                    env={k: str(v) for k, v in step_env.items()},
                    check=True,
                )
                log.append(f"{job_name}: ran {name}")
        result.summary = github_files["GITHUB_STEP_SUMMARY"].read_text()
    return result
