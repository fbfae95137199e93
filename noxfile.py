"""Sessions of mlops-ladder; `nox` alone runs what CI runs."""

import os
from pathlib import Path

import nox

nox.needs_version = ">=2025.2.9"
nox.options.default_venv_backend = "uv|virtualenv"
nox.options.sessions = ["lint", "tests", "e2e"]
nox.options.reuse_venv = "yes"

# The sessions' own venvs are built once and reused, so their bytecode is compiled at install
# (this machine may turn off writing it lazily); generated projects write theirs as they import
# (see ladder.project_env).
os.environ.setdefault("UV_COMPILE_BYTECODE", "1")
HERE = Path(__file__).resolve().parent
# The `mlops-ladder` command (src/mlops_ladder/), installed editable: the sessions run the same
# entry point as an installed wheel, on the clone's own templates and code as they are now.
LADDER = ("--group", "ladder", "--editable", str(HERE))


@nox.session
def lint(session: nox.Session) -> None:
    """Lint, format-check and type-check (mypy --strict) the repository's own Python code."""
    session.install("--group", "lint", "--editable", ".")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")
    # Two conftest modules share a name: tests/e2e's is checked on its own (mypy_path finds the
    # tests' helpers, pyproject.toml [tool.mypy]).
    session.run("mypy", "src", "tools", "hatch_build.py", "noxfile.py", "tests",
                "--exclude", "^tests/e2e/conftest\\.py$")  # fmt: skip
    session.run("mypy", "tests/e2e/conftest.py")


@nox.session
def tests(session: nox.Session) -> None:
    """Fast tests: rendering, answers, workflows, progression between levels."""
    session.install("--group", "test", "--editable", ".")
    session.run(
        "pytest", "tests", "--ignore=tests/e2e", "--durations=15", "--numprocesses=auto",
        *session.posargs,
    )  # fmt: skip


@nox.session
def e2e(session: nox.Session) -> None:
    """Render levels (default: all), run each project for real: e2e -- [N ...] [PYTEST-ARGS]."""
    session.install("--group", "test", "--editable", ".")
    args = list(session.posargs)
    levels = []  # the leading numbers; what follows goes to pytest (`-n 3` stays pytest's)
    while args and args[0].isdigit():
        levels.append(args.pop(0))
    # Two workers for two cores; the tests of one level's module stay on one worker (loadgroup).
    session.run(
        "pytest", "tests/e2e", "--tb=short", f"--levels={','.join(levels) or 'all'}",
        "--durations=15", "--numprocesses=2", "--dist=loadgroup", *args,
    )  # fmt: skip


@nox.session
def diff(session: nox.Session) -> None:
    """What level B adds to level A, and why: diff -- A B [--html [PATH]], or diff -- --update."""
    session.install(*LADDER)
    with session.chdir(session.invoked_from):  # --html PATH is relative to where nox was run
        session.run("mlops-ladder", "diff", *(session.posargs or ["0", "1"]))


@nox.session
def upgrade(session: nox.Session) -> None:
    """Level up a generated project, keeping your edits: upgrade -- PATH [--to N]."""
    if not session.posargs:
        session.error("name the project to upgrade: nox -s upgrade -- PATH [--to N]")
    session.install(*LADDER)
    with session.chdir(session.invoked_from):  # PATH is relative to where nox was run
        # Exit code 1 means "merged, with conflicts to resolve": the report says which.
        session.run("mlops-ladder", "upgrade", *session.posargs, success_codes=[0, 1])


@nox.session
def propagate(session: nox.Session) -> None:
    """Carry an edit of level N's template files into the levels above: propagate -- N PATH..."""
    if len(session.posargs) < 2:
        session.error("name the level you edited and its files: propagate -- N PATH [PATH ...]")
    session.install(*LADDER)
    with session.chdir(session.invoked_from):  # PATH may be relative to where nox was run
        session.run("python", f"{HERE}/tools/propagate.py", *session.posargs)


@nox.session
def assess(session: nox.Session) -> None:
    """Which maturity level any repository reaches, and its next step: assess -- PATH [--json]."""
    if not session.posargs:
        session.error("name the repository to assess: nox -s assess -- PATH [--json]")
    session.install(*LADDER)
    with session.chdir(session.invoked_from):
        session.run("mlops-ladder", "assess", *session.posargs)


@nox.session
def bump(session: nox.Session) -> None:
    """Move a package or action pin in every level at once: bump -- NAME VERSION [--sha SHA]."""
    if len(session.posargs) < 2:
        session.error("name the pin and its version: nox -s bump -- NAME VERSION [--sha SHA]")
    session.install(*LADDER)
    session.run("python", "tools/bump.py", *session.posargs)
    session.run("python", "tools/lock.py")  # the locks follow the pins


@nox.session
def lock(session: nox.Session) -> None:
    """Refresh the locks the templates ship (uv.lock; level 0's requirements.txt): lock -- [N ...]
    [--upgrade] (--upgrade also moves what no pin holds to its newest version)."""
    session.install(*LADDER)
    session.run("python", "tools/lock.py", *session.posargs)


@nox.session
def vendor(session: nox.Session) -> None:
    """Refresh from npm the Vega that levels 2+ inline for offline plots: vendor -- [NAME@VER]."""
    session.run("python", "tools/vendor.py", *session.posargs)


@nox.session
def new(session: nox.Session) -> None:
    """Render level N into FOLDER (default ./out) and run it: new -- N [FOLDER] [--force]."""
    session.install(*LADDER)
    with session.chdir(session.invoked_from):  # FOLDER, and the path it prints, are from here
        session.run("mlops-ladder", "new", *(session.posargs or ["1"]))


@nox.session
def bench(session: nox.Session) -> None:
    """Benchmark level 3's scoring service against `mlflow models serve` (not run by CI)."""
    session.install("--group", "test", "--editable", ".")
    session.run("python", "benchmarks/serve.py", *session.posargs)


@nox.session(name="bench-monitor")
def bench_monitor(session: nox.Session) -> None:
    """Benchmark level 4's monitoring (10k-1M rows) and the cost of prediction logging."""
    session.install("--group", "test", "--editable", ".")
    session.run("python", "benchmarks/monitor.py", *session.posargs)
