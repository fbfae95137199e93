"""Run a GitHub Actions workflow's `run:` steps locally, in order, as a runner would.

Setup actions map to what this machine already has; actions that only work on GitHub are
skipped and reported. Anything else this runner does not model (another action, an `if:` it
cannot evaluate, an unknown key) is an error, so nothing is skipped silently. `env:` values that
are GitHub expressions (secrets, vars) must be supplied by the caller.
"""

import re
import subprocess
import tempfile
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from mlops_ladder import ladder

LOCAL_EQUIVALENT = {
    "actions/checkout": "the project is already a git checkout",
    "astral-sh/setup-uv": "uv is on PATH",
    "actions/setup-python": "uv provides Python from .python-version",
}
GITHUB_ONLY = {
    "softprops/action-gh-release": "creates a release through GitHub's API",
    "docker/setup-buildx-action": "needs a Docker engine",
    "docker/login-action": "logs in to ghcr.io",
    "docker/metadata-action": "reads GitHub's event",
    "docker/build-push-action": "needs a Docker engine and ghcr.io",
}
JOB_KEYS = {"runs-on", "steps", "permissions", "needs", "if", "outputs", "environment", "env"}
STEP_KEYS = {"name", "id", "uses", "with", "run", "env", "if", "working-directory"}
EXPRESSION = re.compile(r"\$\{\{.*?\}\}")
STEP_OUTPUT = re.compile(r"\$\{\{ steps\.(?P<step>[\w-]+)\.outputs\.(?P<name>\w+) \}\}")
CONDITION = re.compile(
    r"(?:github\.event_name|needs\.(?P<job>[\w-]+)\.outputs\.(?P<output>\w+))"
    r" (?P<op>==|!=) '(?P<value>\w+)'"
)
# Always true here, where a failed step stops the whole run: no later job runs after a failure.
STATUS_CHECKS = "!cancelled() && !failure() && "


class StepFailed(Exception):
    """A `run:` step exited non-zero; carries what it printed."""

    def __init__(self, step: str, output: str) -> None:
        super().__init__(f"step {step!r} failed:\n{output}")
        self.output = output


@dataclass
class WorkflowRun:
    """What a local run of a workflow did: a line per step, the job summary, job outputs."""

    log: list[str] = field(default_factory=list)
    summary: str = ""
    outputs: dict[str, dict[str, str]] = field(default_factory=dict)


def holds(condition: str | None, event: str, outputs: Mapping[str, Mapping[str, str]]) -> bool:
    """Evaluate an `if:`: `github.event_name` or `needs.J.outputs.O` compared (== or !=) with a
    literal, or several of those joined by `||`, optionally in parentheses after STATUS_CHECKS."""
    if condition is None:
        return True
    text = condition.strip()
    if text.startswith("${{") and text.endswith("}}"):
        text = text[3:-2].strip()
    text = text.removeprefix(STATUS_CHECKS)
    if text.startswith("(") and text.endswith(")"):
        text = text[1:-1]
    return any(_holds(term.strip(), condition, event, outputs) for term in text.split(" || "))


def _holds(term: str, condition: str, event: str, outputs: Mapping[str, Mapping[str, str]]) -> bool:
    match = CONDITION.fullmatch(term)
    if not match:
        raise ValueError(f"cannot evaluate `if: {condition}` locally")
    value = outputs.get(match["job"], {}).get(match["output"]) if match["job"] else event
    return (value == match["value"]) == (match["op"] == "==")


def _resolve(env: Mapping[str, str], supplied: Mapping[str, str]) -> dict[str, str]:
    """A workflow's `env:`: literal values as written, expressions from the caller."""
    resolved = {}
    for key, value in env.items():
        if EXPRESSION.search(str(value)):
            if key not in supplied:
                raise ValueError(f"env {key} is a GitHub expression: supply it to run locally")
            resolved[key] = supplied[key]
        else:
            resolved[key] = str(value)
    return resolved


def _read_pairs(path: Path) -> dict[str, str]:
    """KEY=VALUE lines, as steps write them to $GITHUB_OUTPUT and $GITHUB_ENV."""
    lines = path.read_text().splitlines()
    return dict(line.split("=", 1) for line in lines if "=" in line)


def run_workflow(
    workflow: Path,
    project: Path,
    env: Mapping[str, str] | None = None,
    event: str = "push",
    only_jobs: Collection[str] = (),
) -> WorkflowRun:
    """Run every `run:` step of every job (or of `only_jobs`) for `event`, in file order.
    A job's `if:` decides unless the caller names the job in `only_jobs`."""
    spec = yaml.safe_load(workflow.read_text())
    supplied = dict(env or {})
    result = WorkflowRun()
    with tempfile.TemporaryDirectory() as runner_temp:
        summary = Path(runner_temp) / "step_summary"
        summary.touch()
        base = {
            **ladder.project_env(),
            "CI": "true",
            "GITHUB_EVENT_NAME": event,
            "GITHUB_WORKSPACE": str(project),
            "GITHUB_STEP_SUMMARY": str(summary),
            "RUNNER_TEMP": runner_temp,
            **supplied,
            **_resolve(spec.get("env", {}), supplied),
        }
        for job_name, job in spec["jobs"].items():
            if unknown := set(job) - JOB_KEYS:
                raise ValueError(f"{workflow.name}: job {job_name} has keys {unknown} not modelled")
            if only_jobs and job_name not in only_jobs:
                continue
            if not only_jobs and not holds(job.get("if"), event, result.outputs):
                result.log.append(f"{job_name}: skipped, `if: {job['if']}` is false")
                continue
            _run_job(workflow.name, job_name, job, project, base, supplied, result, runner_temp)
        result.summary = summary.read_text()
    return result


def _run_job(
    workflow: str,
    job_name: str,
    job: Mapping[str, Any],
    project: Path,
    base: Mapping[str, str],
    supplied: Mapping[str, str],
    result: WorkflowRun,
    runner_temp: str,
) -> None:
    job_env = {**base, **_resolve(job.get("env", {}), supplied)}
    step_outputs: dict[str, dict[str, str]] = {}
    for number, step in enumerate(job["steps"]):
        if unknown := set(step) - STEP_KEYS:
            raise ValueError(f"{workflow}: a step of {job_name} has keys {unknown} not modelled")
        name = step.get("name") or step.get("uses") or step["run"].splitlines()[0]
        if not holds(step.get("if"), job_env["GITHUB_EVENT_NAME"], result.outputs):
            event, condition = job_env["GITHUB_EVENT_NAME"], step["if"]
            why = f"not on {event}" if "event_name" in condition else f"skipped, `if: {condition}`"
            result.log.append(f"{job_name}: {why}: {name}")
            continue
        if "uses" in step:
            action = step["uses"].split("@")[0]
            if action in GITHUB_ONLY:
                result.log.append(f"{job_name}: skipped {action} ({GITHUB_ONLY[action]})")
            elif action in LOCAL_EQUIVALENT:
                result.log.append(f"{job_name}: {action} -> {LOCAL_EQUIVALENT[action]}")
            else:
                raise ValueError(f"{workflow}: no local equivalent for {action}")
            continue
        if EXPRESSION.search(step["run"]):
            raise ValueError(f"{workflow}: step {name!r} uses ${{{{ }}}} in run:")
        files = {k: Path(runner_temp) / f"{job_name}-{number}-{k}" for k in ("OUTPUT", "ENV")}
        for path in files.values():
            path.touch()
        step_env = {
            **job_env,
            **_resolve(step.get("env", {}), supplied),
            "GITHUB_OUTPUT": str(files["OUTPUT"]),
            "GITHUB_ENV": str(files["ENV"]),
        }
        print(f"[{workflow} / {job_name}] {name}", flush=True)
        done = subprocess.run(
            ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]],
            cwd=project / step.get("working-directory", "."),
            env=step_env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        print(done.stdout, end="", flush=True)
        if done.returncode != 0:
            raise StepFailed(name, done.stdout)
        job_env.update(_read_pairs(files["ENV"]))
        if "id" in step:
            step_outputs[step["id"]] = _read_pairs(files["OUTPUT"])
        result.log.append(f"{job_name}: ran {name}")
    result.outputs[job_name] = {
        key: step_outputs.get(m["step"], {}).get(m["name"], "")
        for key, value in job.get("outputs", {}).items()
        if (m := STEP_OUTPUT.fullmatch(value))
    }
