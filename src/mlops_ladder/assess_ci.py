"""CI systems recognised by their structure, and what their steps really run.

A file is a CI pipeline when its structure is one (whatever it is called), or when it is the
file a CI system reads (a Jenkinsfile): GitHub Actions (a workflow's `jobs:` of `steps:`),
GitLab CI (jobs with `script:`), Azure Pipelines (`trigger:`, `stages:`/`jobs:`/`steps:` lists
of `- stage:`, `- job:`, `- script:` or `- task:`, in `azure-pipelines.yml` or `.pipelines/*.yml`
alike), CircleCI, Bitbucket Pipelines, Travis CI, Jenkins (declarative or scripted), and the
commands of other known CI files (Drone, Woodpecker, Buildkite, Cloud Build, CodeBuild).

Each pipeline becomes jobs of steps: the shell command a step runs, the action or task it uses,
its working directory; and, for the pipeline, what triggers it (a schedule, an event) and the
path filters that scope it to a part of a monorepo. The names of jobs and steps are never used
as evidence: a job called "test" proves nothing, `pytest` in its script does.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from .assess_reader import Source, Text


@dataclass(frozen=True)
class Step:
    """One step: the shell command it runs, or the action or task it uses (with its inputs)."""

    line: int
    command: str = ""
    uses: str = ""
    inputs: tuple[tuple[str, str], ...] = ()
    working_dir: str = ""


@dataclass
class Job:
    name: str
    line: int
    steps: list[Step] = field(default_factory=list)
    environment: str = ""  # the deployment environment it targets, if any
    working_dir: str = ""
    paths: list[str] = field(default_factory=list)  # GitLab `rules: changes:`
    scheduled: bool = False  # GitLab: runs on a pipeline schedule


@dataclass
class Pipeline:
    """A CI file, as the CI system reads it."""

    system: str
    source: Source
    jobs: list[Job] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)  # path filters of its triggers
    paths_ignore: list[str] = field(default_factory=list)
    scheduled: int = 0  # the line of its schedule, 0 if none
    event: int = 0  # the line of an event trigger from outside (repository_dispatch, ...)

    def steps(self, scope: str | None = None) -> list[tuple[Job, Step]]:
        """Every step, or only those that work on the folder `scope` (from the repo's top)."""
        found = []
        for job in self.jobs:
            if scope is not None and not self._covers(job, scope):
                continue
            for step in job.steps:
                if scope is None or _related(step.working_dir or job.working_dir, scope):
                    found.append((job, step))
        return found

    def _covers(self, job: Job, scope: str) -> bool:
        include = job.paths or self.paths
        if include and not any(_matches(pattern, scope) for pattern in include):
            return False
        return not any(_inside(pattern, scope) for pattern in self.paths_ignore)


def _literal(pattern: str) -> str:
    pattern = pattern.strip().removeprefix("./").removeprefix("/")
    return re.split(r"[*?\[{$]", pattern, maxsplit=1)[0]


def _matches(pattern: str, scope: str) -> bool:
    """Can a file of the folder `scope` match the path filter `pattern`?"""
    if pattern.startswith("!"):
        return False
    literal = _literal(pattern)
    return not literal or f"{scope}/".startswith(literal) or literal.startswith(f"{scope}/")


def _inside(pattern: str, scope: str) -> bool:
    """Does the ignore filter `pattern` cover the whole folder `scope`?"""
    literal = _literal(pattern)
    return bool(literal) and f"{scope}/".startswith(literal.rstrip("/") + "/")


def _related(directory: str, scope: str) -> bool:
    """Does work done in `directory` (from the repo's top) touch the folder `scope`?"""
    directory = directory.strip().removeprefix("./").rstrip("/")
    if not directory or directory == "." or "$" in directory:
        return True
    return (
        directory == scope or directory.startswith(f"{scope}/") or scope.startswith(f"{directory}/")
    )


# --- Recognising a CI file ------------------------------------------------------------------


def pipelines(source: Source) -> list[Pipeline]:
    """The CI pipelines a file holds (none when it is no CI file)."""
    name = source.name.lower()
    path = re.sub(r"^(?:\.\./)+", "", source.path)
    if source.kind == "text":
        if name.startswith("jenkinsfile") or name.endswith((".jenkinsfile", ".groovy")):
            return [pipeline] if (pipeline := _jenkins(source)) else []
        return []
    if source.kind != "yaml":
        return []
    found = []
    for document in source.documents:
        if not isinstance(document, dict):
            continue
        for reader in (_github, _azure, _circleci, _gitlab, _bitbucket, _travis, _other):
            pipeline = reader(source, path, document)
            if pipeline is not None:
                found.append(pipeline)
                break
    return found


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        return "\n".join(_text(item) for item in value if isinstance(item, str | list))
    return ""


def _line(value: Any, default: int = 0) -> int:
    return int(getattr(value, "line", default))


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        return [item for item in value if isinstance(item, str)]
    return []


def _github(source: Source, path: str, top: dict[str, Any]) -> Pipeline | None:
    jobs = top.get("jobs")
    if not (path.startswith(".github/workflows/") or path.startswith(".gitea/workflows/")):
        return None
    if not isinstance(jobs, dict):
        return None
    pipeline = Pipeline("GitHub Actions", source)
    triggers = top.get("on", top.get("true"))
    events: dict[str, Any] = {}
    if isinstance(triggers, dict):
        events = dict(triggers)
    elif triggers is not None:
        events = {str(event): None for event in _strings(triggers)}
    code_events = [e for e in ["push", "pull_request", "pull_request_target"] if e in events]
    filtered = [e for e in code_events if isinstance(events[e], dict) and "paths" in events[e]]
    if code_events and len(filtered) == len(code_events):
        for event in filtered:
            pipeline.paths += _strings(events[event]["paths"])
    for event in code_events:
        if isinstance(events[event], dict):
            pipeline.paths_ignore += _strings(events[event].get("paths-ignore"))
    if "schedule" in events:
        pipeline.scheduled = _line(events["schedule"], _line(triggers))
    for dispatch in ("repository_dispatch", "workflow_run"):
        if dispatch in events:
            pipeline.event = _line(events[dispatch], _line(triggers))
    default_dir = _working_dir(top)
    for name, body in jobs.items():
        if not isinstance(body, dict):
            continue
        job = Job(str(name), _line(body), working_dir=_working_dir(body) or default_dir)
        environment = body.get("environment")
        if isinstance(environment, dict):
            environment = environment.get("name", "")
        job.environment = str(environment or "")
        for step in body.get("steps") or []:
            if isinstance(step, dict):
                job.steps.append(
                    Step(
                        _line(step),
                        _text(step.get("run")),
                        str(step.get("uses", "")),
                        _inputs(step.get("with")),
                        str(step.get("working-directory", "")),
                    )
                )
        if isinstance(body.get("uses"), str):  # a reusable workflow
            job.steps.append(
                Step(_line(body), uses=str(body["uses"]), inputs=_inputs(body.get("with")))
            )
        pipeline.jobs.append(job)
    return pipeline


def _working_dir(body: dict[str, Any]) -> str:
    defaults = body.get("defaults")
    run = defaults.get("run") if isinstance(defaults, dict) else None
    return str(run.get("working-directory", "")) if isinstance(run, dict) else ""


def _inputs(value: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, dict):
        return ()
    return tuple((str(k), str(v)) for k, v in value.items() if isinstance(v, str))


AZURE_KEYS = {"trigger", "pr", "stages", "jobs", "steps", "pool", "schedules", "extends"}
AZURE_STEPS = {"script", "bash", "pwsh", "powershell", "task", "checkout", "template", "download"}


def _is_azure(top: dict[str, Any]) -> bool:
    if not AZURE_KEYS & set(top):
        return False
    for key, marker in (("stages", "stage"), ("jobs", None), ("steps", None)):
        items = top.get(key)
        if isinstance(items, list) and items and isinstance(items[0], dict):
            first = items[0]
            if marker and marker in first:
                return True
            if key == "jobs" and {"job", "deployment", "template"} & set(first):
                return True
            if key == "steps" and AZURE_STEPS & set(first):
                return True
    return False


def _azure(source: Source, path: str, top: dict[str, Any]) -> Pipeline | None:
    if not _is_azure(top):
        return None
    pipeline = Pipeline("Azure Pipelines", source)
    for key in ("trigger", "pr"):
        trigger = top.get(key)
        paths = trigger.get("paths") if isinstance(trigger, dict) else None
        if isinstance(paths, dict):
            pipeline.paths += _strings(paths.get("include"))
            pipeline.paths_ignore += _strings(paths.get("exclude"))
    if isinstance(top.get("schedules"), list):
        pipeline.scheduled = _line(top["schedules"])
    resources = top.get("resources")
    if isinstance(resources, dict) and isinstance(resources.get("pipelines"), list):
        pipeline.event = _line(resources["pipelines"])
    listed = top.get("stages")
    stages: list[Any] = listed if isinstance(listed, list) else [top]
    for stage in stages:
        if not isinstance(stage, dict):
            continue
        inner = stage.get("jobs")
        jobs: list[Any] = inner if isinstance(inner, list) else [stage]
        for body in jobs:
            if not isinstance(body, dict):
                continue
            name = str(body.get("job") or body.get("deployment") or stage.get("stage") or "")
            job = Job(name, _line(body))
            environment = body.get("environment")
            if isinstance(environment, dict):
                environment = environment.get("name", "")
            job.environment = str(environment or "")
            steps: list[Any] = body.get("steps") or []
            strategy = body.get("strategy")
            if not steps and isinstance(strategy, dict):
                steps = []  # a deployment job: steps under strategy.<kind>.deploy
                for kind in strategy.values():
                    if isinstance(kind, dict):
                        for phase in kind.values():
                            if isinstance(phase, dict) and isinstance(phase.get("steps"), list):
                                steps += phase["steps"]
            for step in steps if isinstance(steps, list) else []:
                if isinstance(step, dict):
                    job.steps.append(_azure_step(step))
            pipeline.jobs.append(job)
    return pipeline


def _azure_step(step: dict[str, Any]) -> Step:
    inputs = _inputs(step.get("inputs"))
    command = next(
        (_text(step[k]) for k in ("script", "bash", "pwsh", "powershell") if k in step), ""
    )
    if not command:  # a task's inline script (AzureCLI@2, Bash@3, ...)
        command = "\n".join(v for k, v in inputs if k.lower() in ("inlinescript", "script"))
    return Step(
        _line(step),
        command,
        str(step.get("task", "")),
        inputs,
        str(step.get("workingDirectory", "")),
    )


def _circleci(source: Source, path: str, top: dict[str, Any]) -> Pipeline | None:
    jobs = top.get("jobs")
    if not isinstance(jobs, dict) or not ("workflows" in top or path.startswith(".circleci/")):
        return None
    if not any(isinstance(job, dict) and "steps" in job for job in jobs.values()):
        return None
    pipeline = Pipeline("CircleCI", source)
    for name, body in jobs.items():
        if not isinstance(body, dict):
            continue
        job = Job(str(name), _line(body), working_dir=str(body.get("working_directory", "")))
        for step in body.get("steps") or []:
            if isinstance(step, dict) and "run" in step:
                run = step["run"]
                command = _text(run.get("command")) if isinstance(run, dict) else _text(run)
                job.steps.append(Step(_line(step), command))
            elif isinstance(step, dict):
                job.steps.append(Step(_line(step), uses=next(iter(step), "")))
            elif isinstance(step, str):
                job.steps.append(Step(_line(step), uses=step))  # an orb's command: python/test
        pipeline.jobs.append(job)
    workflows = top.get("workflows")
    for workflow in workflows.values() if isinstance(workflows, dict) else ():
        triggers = workflow.get("triggers") if isinstance(workflow, dict) else None
        for trigger in triggers if isinstance(triggers, list) else ():
            if isinstance(trigger, dict) and "schedule" in trigger:
                pipeline.scheduled = _line(trigger)
    return pipeline


GITLAB_RESERVED = {
    "stages", "variables", "default", "include", "workflow", "image", "services", "cache",
    "before_script", "after_script", "types", "pages:deploy", "spec",
}  # fmt: skip


def _gitlab(source: Source, path: str, top: dict[str, Any]) -> Pipeline | None:
    named = path.endswith((".gitlab-ci.yml", ".gitlab-ci.yaml")) or path.startswith(".gitlab/")
    jobs = {
        name: body
        for name, body in top.items()
        if name not in GITLAB_RESERVED
        and isinstance(body, dict)
        and ("script" in body or "trigger" in body or "extends" in body)
    }
    stages = top.get("stages")
    listed = isinstance(stages, list) and all(isinstance(s, str) for s in stages)
    if not jobs or not (named or listed):
        return None
    pipeline = Pipeline("GitLab CI", source)
    workflow = top.get("workflow")
    if isinstance(workflow, dict) and _gitlab_scheduled(workflow.get("rules")):
        pipeline.scheduled = _line(workflow)
    before = _text(top.get("before_script")) or _text(
        (top.get("default") or {}).get("before_script")
    )
    for name, body in jobs.items():
        job = Job(name, _line(body))
        environment = body.get("environment")
        if isinstance(environment, dict):
            environment = environment.get("name", "")
        job.environment = str(environment or "")
        for key in ("before_script", "script", "after_script"):
            value = body.get(key)
            for command in value if isinstance(value, list) else [value] if value else []:
                if isinstance(command, str):
                    job.steps.append(Step(_line(command, _line(body)), command))
        if before and not body.get("before_script"):
            job.steps.insert(0, Step(_line(body), before))
        rules = body.get("rules")
        only = body.get("only")
        if (
            _gitlab_scheduled(rules)
            or "schedules" in _strings(only)
            or (isinstance(only, dict) and "schedules" in _strings(only.get("refs")))
        ):
            job.scheduled = True
        for rule in rules if isinstance(rules, list) else []:
            if isinstance(rule, dict):
                changes = rule.get("changes")
                job.paths += _strings(
                    changes.get("paths") if isinstance(changes, dict) else changes
                )
        if isinstance(only, dict):
            job.paths += _strings(only.get("changes"))
        pipeline.jobs.append(job)
    return pipeline


def _gitlab_scheduled(rules: Any) -> bool:
    for rule in rules if isinstance(rules, list) else []:
        condition = rule.get("if", "") if isinstance(rule, dict) else ""
        never = isinstance(rule, dict) and rule.get("when") == "never"
        source = r"CI_PIPELINE_SOURCE\W+(?:schedule|trigger|pipeline|api)"
        if re.search(source, str(condition)) and not never:
            return True
    return False


def _bitbucket(source: Source, path: str, top: dict[str, Any]) -> Pipeline | None:
    pipes = top.get("pipelines")
    if not isinstance(pipes, dict):
        return None
    pipeline = Pipeline("Bitbucket Pipelines", source)

    def visit(value: Any, name: str) -> None:
        if isinstance(value, dict):
            step = value.get("step")
            if isinstance(step, dict):
                job = Job(str(step.get("name", name)), _line(step))
                job.environment = str(step.get("deployment", ""))
                for command in step.get("script") or []:
                    if isinstance(command, str):
                        job.steps.append(Step(_line(command, _line(step)), command))
                    elif isinstance(command, dict) and "pipe" in command:
                        job.steps.append(Step(_line(command), uses=str(command["pipe"])))
                pipeline.jobs.append(job)
                return
            for key, item in value.items():
                visit(item, str(key))
        elif isinstance(value, list):
            for item in value:
                visit(item, name)

    visit(pipes, "pipelines")
    return pipeline if pipeline.jobs else None


def _travis(source: Source, path: str, top: dict[str, Any]) -> Pipeline | None:
    if not path.endswith((".travis.yml", ".travis.yaml")):
        return None
    pipeline = Pipeline("Travis CI", source)
    job = Job("build", _line(top))
    for key in ("install", "before_script", "script", "deploy"):
        for command in _strings(top.get(key)):
            job.steps.append(Step(_line(command, _line(top)), command))
    pipeline.jobs.append(job)
    return pipeline


OTHER_CI = re.compile(
    r"^(?:\.drone\.ya?ml|\.woodpecker(?:\.ya?ml|/.+\.ya?ml)|\.buildkite/.+\.ya?ml"
    r"|cloudbuild\.ya?ml|buildspec\.ya?ml)$"
)
COMMAND_KEYS = {"commands", "command", "script", "run", "args", "cmd"}


def _other(source: Source, path: str, top: dict[str, Any]) -> Pipeline | None:
    if not OTHER_CI.match(path):
        return None
    pipeline = Pipeline("CI", source)
    job = Job(path, 1)

    def visit(value: Any, key: str) -> None:
        if isinstance(value, dict):
            for name, item in value.items():
                visit(item, str(name))
        elif isinstance(value, list):
            if key in COMMAND_KEYS and all(isinstance(item, str) for item in value):
                job.steps.append(
                    Step(_line(value), " ".join(value) if key == "args" else "\n".join(value))
                )
            else:
                for item in value:
                    visit(item, key)
        elif isinstance(value, Text) and key in COMMAND_KEYS:
            job.steps.append(Step(value.line, str(value)))
        elif isinstance(value, Text) and key == "cron":
            pipeline.scheduled = value.line

    visit(top, "")
    pipeline.jobs.append(job)
    return pipeline


JENKINS_STEP = re.compile(
    r"""\b(sh|bat|powershell|pwsh)\s*\(?\s*(?:script\s*:\s*)?
        (?:'''(.*?)'''|\"\"\"(.*?)\"\"\"|'((?:[^'\\\n]|\\.)*)'|"((?:[^"\\\n]|\\.)*)")""",
    re.S | re.X,
)


def _jenkins(source: Source) -> Pipeline | None:
    text = source.text
    if not re.search(r"\bpipeline\s*\{|\bnode\s*(?:\(|\{)|\bstage\s*\(", text):
        return None
    pipeline = Pipeline("Jenkins", source)
    if match := re.search(r"\btriggers\s*\{[^}]*\b(?:cron|parameterizedCron)\s*\(", text):
        pipeline.scheduled = text.count("\n", 0, match.start()) + 1
    if match := re.search(r"\bupstream\s*\(|\bGenericTrigger\b", text):
        pipeline.event = text.count("\n", 0, match.start()) + 1
    stages = [(m.start(), m.group(1)) for m in re.finditer(r"\bstage\s*\(\s*['\"]([^'\"]*)", text)]
    directories = [
        (m.start(), m.end(), m.group(1))
        for m in re.finditer(r"\bdir\s*\(\s*['\"]([^'\"]+)['\"]\s*\)\s*\{", text)
    ]
    jobs: dict[str, Job] = {}
    for match in JENKINS_STEP.finditer(text):
        command = next(group for group in match.groups()[1:] if group is not None)
        name = next((n for start, n in reversed(stages) if start < match.start()), "pipeline")
        line = text.count("\n", 0, match.start()) + 1
        job = jobs.setdefault(name, Job(name, line))
        directory = next((d for s, _, d in reversed(directories) if s < match.start()), "")
        job.steps.append(Step(line, command, working_dir=directory))
    pipeline.jobs = list(jobs.values())
    return pipeline


# --- What a command runs --------------------------------------------------------------------

WRAPPERS = {
    "uv", "poetry", "pipenv", "pdm", "hatch", "rye", "pixi", "conda", "mamba", "micromamba",
    "run", "exec", "-m", "python", "python3", "py", "time", "sudo", "xvfb-run", "env",
    "coverage", "timeout", "docker", "compose", "docker-compose", "uvx", "pipx",
}  # fmt: skip
TEST_RUNNERS = {"pytest", "py.test", "unittest", "tox", "nox", "ward", "behave", "green"}
TEST_TARGETS = re.compile(r"^(?:test|tests|unit|unittest|unit-tests?|check|cov|coverage)$")
NOT_TEST_SESSIONS = re.compile(r"^(?:lint|docs?|format|fmt|build|release|publish|mypy|typing)$")
LINTERS = re.compile(r"^(?:ruff|flake8|pylint|mypy|pre-commit|black|isort|pyright)$")


def segments(command: str) -> list[str]:
    """The simple commands of a shell script: split on newlines, &&, ||, ; and |."""
    command = re.sub(r"\\\n", " ", command)
    return [part.strip() for part in re.split(r"\n|&&|\|\||;|\|", command) if part.strip()]


def words(segment: str) -> list[str]:
    try:
        found = shlex.split(segment, comments=True)
    except ValueError:
        found = segment.split()
    while found and re.match(r"^[A-Za-z_]\w*=", found[0]):  # VAR=value before the command
        found.pop(0)
    return found


def program(segment: str) -> tuple[str, list[str]]:
    """The program a simple command really runs (under `uv run`, `python -m`, ...) and its
    arguments."""
    found = words(segment)
    while found:
        head = PurePosixPath(found[0]).name.lower()
        if head == "coverage" and len(found) > 1 and found[1] == "run":
            found = found[2:]
            continue
        if head in ("docker", "compose", "docker-compose") and "run" not in found[1:3]:
            break
        if head in WRAPPERS or re.match(r"^python3(?:\.\d+)?$", head) or head.startswith("-"):
            found = found[1:]
            continue
        return head, found[1:]
    return "", []


def runs_tests(command: str) -> str | None:
    """The part of a shell script that runs tests, if any (not `pip install pytest`)."""
    for segment in segments(command):
        raw = words(segment)
        if raw[:1] in (["hatch"], ["pixi"]) and raw[1:2] == ["test"]:
            return segment
        name, arguments = program(segment)
        if name == "manage.py" and "test" in arguments[:1]:
            return segment
        if name in ("pytest", "py.test", "unittest", "ward", "behave", "green"):
            return segment
        if name in ("tox", "nox"):
            chosen = [
                a
                for i, a in enumerate(arguments)
                if i and arguments[i - 1] in ("-s", "-e", "--session", "--sessions", "--env")
            ]
            chosen = [part for value in chosen for part in value.split(",")]
            if not chosen or any(not NOT_TEST_SESSIONS.match(s) for s in chosen):
                return segment
        if name in ("make", "just", "task", "invoke", "inv") and any(
            TEST_TARGETS.match(a) for a in arguments
        ):
            return segment
        if name in ("npm", "yarn", "pnpm") and "test" in arguments[:2]:
            return segment
        if name in ("go", "cargo", "mvn", "gradle", "./gradlew", "gradlew", "dotnet") and (
            "test" in arguments[:2]
        ):
            return segment
    return None


def lints(command: str) -> str | None:
    for segment in segments(command):
        name, arguments = program(segment)
        if LINTERS.match(name) or (name in ("make", "just") and "lint" in arguments):
            return segment
    return None


def uses_test_action(step: Step) -> bool:
    """A CI step that runs tests through an action or task, not a shell command."""
    return bool(
        re.match(r"^(?:python/test|.*/pytest(?:-action)?@)", step.uses, re.I)
        or re.match(r"^(?:PythonScript@\d|CmdLine@\d|Bash@\d|PowerShell@\d)$", step.uses)
        and runs_tests(" ".join(v for _, v in step.inputs))
    )
