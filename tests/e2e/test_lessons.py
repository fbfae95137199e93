"""The workshop, run as a learner runs it: every runnable command of docs/levelN.md, in order,
in a fresh clone of this repository, each checked against the output that the lesson shows.

Two things differ from a learner's laptop, so that the lessons can run beside other tests:
- The lesson's `python3 -m nox -s new -- N` is the session's first run of level N (made once by
  the same command behind that session, `tools/ladder.py new N`; see projects.py): the lesson
  gets a copy of that project in out/levelN/, and the output it checks is what that run printed.
  Lesson 1 alone runs the real command, through nox, in its clone: the README's quickstart.
- The service listens on a free port instead of 8000: SERVE_PORT is set, and 8000 in the
  lesson's commands and output stands for that port.
"""

import contextlib
import dataclasses
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import lessons
import pytest
from projects import FirstRun, copy_project
from services import free_port

from mlops_ladder import ladder

# Lessons commit in their projects; a CI machine may have no git identity.
IDENTITY = {
    "GIT_AUTHOR_NAME": "Workshop Learner",
    "GIT_AUTHOR_EMAIL": "learner@example.com",
    "GIT_COMMITTER_NAME": "Workshop Learner",
    "GIT_COMMITTER_EMAIL": "learner@example.com",
}
COMMAND_TIMEOUT = 1800  # seconds; a first `nox -s new -- 4` on a cold cache takes minutes


def learner_env() -> dict[str, str]:
    """A shell like the learner's: this Python (which has nox and uv) first on PATH."""
    env = {**ladder.project_env(), **IDENTITY}
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return env


def fresh_clone(target: Path, env: dict[str, str]) -> Path:
    """The repository's files as a clone would have them: every tracked file and every new
    file that git does not ignore, as they are in the work tree, committed once."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ladder.ROOT, capture_output=True, check=True,
    ).stdout  # fmt: skip
    for name in filter(None, listed.split(b"\0")):
        source = ladder.ROOT / os.fsdecode(name)
        if source.is_file():  # a tracked file deleted in the work tree stays deleted
            (target / os.fsdecode(name)).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / os.fsdecode(name))
    for command in ("git init -q -b main", "git add -A", "git commit -q -m 'A fresh clone'"):
        subprocess.run(command, shell=True, cwd=target, env=env, check=True)
    return target


NEW = re.compile(r"python3 -m nox -s new -- (?P<level>\d)")
THROUGH_NOX = 1  # the level whose lesson runs `nox -s new` for real (the README's quickstart)
PORT = re.compile(r"(?<=:)8000\b|(?<=port )8000\b")  # in URLs, and "port 8000 is free"


def on_port(step: lessons.Step, port: int) -> lessons.Step:
    """The step with the lesson's port 8000 replaced by the port the test's service uses."""
    return dataclasses.replace(
        step,
        command=PORT.sub(str(port), step.command),
        expected=tuple(PORT.sub(str(port), line) for line in step.expected),
    )


def run(
    step: lessons.Step, cwd: Path, env: dict[str, str], where_file: Path
) -> tuple[int, str, Path]:
    """Run one command in bash; returns its exit code, its output (stdout and stderr, as
    interleaved) and the directory it ended in, so that `cd` carries over."""
    script = f"{step.command}\nstatus=$?\npwd > {shlex.quote(str(where_file))}\nexit $status"
    done = subprocess.run(
        ["bash", "-o", "pipefail", "-c", script],
        cwd=cwd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, errors="replace", timeout=COMMAND_TIMEOUT,
    )  # fmt: skip
    return done.returncode, done.stdout, Path(where_file.read_text().strip())


def stop_services(clone: Path) -> None:
    """Stop every scoring service a lesson started with `make deploy` and left running."""
    for pid_file in clone.glob("out/*/*/serve.pid"):
        pid = int(pid_file.read_text().strip() or 0)
        command = subprocess.run(["ps", "-ww", "-o", "command=", "-p", str(pid)],
                                 capture_output=True, text=True).stdout  # fmt: skip
        if pid <= 1 or " serve" not in command:  # gone, or the PID now belongs to another
            continue
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGTERM)  # deploy starts it in its own session
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.2)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def walk_through(
    lesson: Path, clone: Path, env: dict[str, str], first_run: Callable[[int], FirstRun]
) -> list[str]:
    """Run the lesson's runnable commands in order from the clone's root; returns a log line
    per command. Fails at the first command whose exit code or output is not the lesson's."""
    cwd, log = clone, []
    where_file = clone.parent / "cwd"
    for step in lessons.runnable_steps(lesson):
        step = on_port(step, int(env["SERVE_PORT"]))
        shown = cwd.relative_to(clone) if cwd.is_relative_to(clone) else cwd
        print(f"\n[{step.where} | {shown}] $ {step.command}", flush=True)
        started = time.monotonic()
        where_file.write_text(str(cwd))
        new = NEW.fullmatch(step.command.strip())
        if new and cwd == clone and int(new["level"]) != THROUGH_NOX:
            made = first_run(int(new["level"]))
            copy_project(made.project, clone / "out" / f"level{new['level']}")
            code, output, ended_in = 0, made.output, cwd
        else:
            code, output, ended_in = run(step, cwd, env, where_file)
        seconds = time.monotonic() - started
        print(output, end="", flush=True)
        print(f"[exit {code}, {seconds:.1f} s]", flush=True)
        log.append(f"{seconds:6.1f} s  {step.where}  $ {step.command.splitlines()[0]}")
        if (code != 0) != step.must_fail:
            expected = "to fail" if step.must_fail else "to succeed"
            pytest.fail(
                f"{step.where}: `{step.command}` was expected {expected} but exited {code}; "
                f"its output:\n{output[-6000:]}",
                pytrace=False,
            )
        missing = lessons.unmatched(step.expected, output)
        if missing is not None:
            pytest.fail(
                f"{step.where}: `{step.command}` did not print (in order) the line\n  {missing}\n"
                f"its output:\n{output[-6000:]}",
                pytrace=False,
            )
        cwd = ended_in
    assert cwd == clone, f"{lesson.name} ends in {cwd}, not at the root of the clone"
    return log


@pytest.mark.parametrize(
    "level", [pytest.param(n, marks=pytest.mark.levels(n)) for n in sorted(lessons.LESSONS)]
)
def test_lesson__every_runnable_command_prints_what_the_lesson_shows(
    level: int, tmp_path: Path, first_run: Callable[[int], FirstRun]
) -> None:
    env = {**learner_env(), "SERVE_PORT": str(free_port())}
    clone = fresh_clone(tmp_path / "mlops-ladder", env)
    started = time.monotonic()
    try:
        log = walk_through(clone / "docs" / f"level{level}.md", clone, env, first_run)
    finally:
        stop_services(clone)
    minutes = (time.monotonic() - started) / 60
    print(f"\nLesson {level}: {len(log)} commands in {minutes:.1f} min", *log, sep="\n")
    shutil.rmtree(clone)  # gigabytes of venvs; a failed lesson keeps its clone to look at
