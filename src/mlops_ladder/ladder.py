"""Render, compare and try the mlops-ladder templates; the command line (cli.py), the
contributor tools and the tests call this.

The templates are found where the package runs from: in a clone of mlops-ladder (an editable
install, or src/ on the path), the repository's own `templates/`; in an installed wheel, the
copy it ships as package data (`mlops_ladder/templates/`).
"""

import contextlib
import difflib
import functools
import hashlib
import html
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from cookiecutter.main import cookiecutter

PACKAGE = Path(__file__).resolve().parent
# An installed wheel ships the root cookiecutter.json and templates/ inside the package; a clone
# has them at the top of the repository (src/mlops_ladder/ is two folders below it).
INSTALLED = (PACKAGE / "templates").is_dir()
ROOT = PACKAGE if INSTALLED else PACKAGE.parents[1]
TEMPLATES = ROOT / "templates"
# What an installed wheel was built from (written by hatch_build.py at build time).
BUILD = PACKAGE / "build.json"
EVOLUTIONS = TEMPLATES / "evolutions.toml"
RECORD = ".mlops-ladder.json"

# Runs record the git commit, so levels 2+ commit the rendered project first; a machine
# without a git identity gets a placeholder one for that commit.
COMMIT = (
    'git add -A && git -c user.name="$(git config user.name || echo mlops-ladder)" '
    '-c user.email="$(git config user.email || echo mlops-ladder@localhost)" '
    'commit --quiet -m "Render the template"'
)
# What a new user runs first at each level, as the generated README tells them
# (with uv standing in for pip/venv, to be fast). `{package}` is the package name.
FIRST_RUN = {
    0: [
        "uv venv --quiet --relocatable .venv",
        "uv pip install --quiet --python .venv/bin/python -r requirements.txt",
        ".venv/bin/jupyter nbconvert --to notebook --execute --inplace duration-prediction.ipynb",
    ],
    1: [
        "uv sync --locked --quiet",
        "uv run python -m {package} simulate 2024-01 2024-02",
        "uv run python -m {package} train",
    ],
    2: [
        "git init --quiet --initial-branch=main",
        COMMIT,
        "uv sync --locked --quiet",
        "uv run python -m {package} simulate 2024-01 2024-02",
        "uv run dvc add data/raw",
        "uv run dvc repro",
    ],
    3: [
        "git init --quiet --initial-branch=main",
        COMMIT,
        "uv sync --locked --quiet",
        "uv run dvc repro",
    ],
}
FIRST_RUN[4] = FIRST_RUN[3]  # the loop needs traffic: the README's replay demo comes next


def levels() -> list[int]:
    """The levels that have a template, in order."""
    return sorted(int(path.name.removeprefix("level")) for path in TEMPLATES.glob("level[0-9]"))


def titles() -> dict[int, tuple[str, str]]:
    """Each level's title and what it adds, as the root cookiecutter.json offers them."""
    offered = json.loads((ROOT / "cookiecutter.json").read_text())["templates"]
    return {
        int(key.removeprefix("level")): (entry["title"], entry["description"])
        for key, entry in offered.items()
    }


def build_commit() -> str | None:
    """The mlops-ladder commit that an installed wheel was built from, if its templates were
    clean there; None in a clone (git knows) or for a wheel built from changed templates."""
    if not INSTALLED or not BUILD.is_file():
        return None
    commit = json.loads(BUILD.read_text()).get("commit")
    return commit if isinstance(commit, str) and commit else None


def default_folder(level: int) -> Path:
    """Where `new` renders without a FOLDER: in a clone, its ignored out/levelN; installed,
    the current folder, as cookiecutter does."""
    return Path.cwd() if INSTALLED else ROOT / "out" / f"level{level}"


def render(
    level: int,
    output_dir: Path,
    answers: Mapping[str, str] | None = None,
    templates: Path = TEMPLATES,
) -> Path:
    """Render one level without prompts and with an isolated cookiecutter config."""
    source = templates / f"level{level}"
    with tempfile.TemporaryDirectory() as home:
        config = Path(home) / "config.yaml"
        config.write_text(f"cookiecutters_dir: {home}/templates\nreplay_dir: {home}/replay\n")
        if next(source.rglob("__pycache__"), None):
            # An installer compiled the templates' modules (pip does, in site-packages), and
            # cookiecutter would render the bytecode into the project: render a clean copy.
            source = shutil.copytree(
                source, Path(home) / source.name, ignore=shutil.ignore_patterns("__pycache__")
            )
        project = cookiecutter(
            str(source),
            no_input=True,
            extra_context=dict(answers or {}),
            output_dir=str(output_dir),
            config_file=str(config),
        )
    if templates == TEMPLATES:
        _record_build_commit(Path(project))
    return Path(project)


def _record_build_commit(project: Path) -> None:
    """Record the installed wheel's commit where the hook, finding no git, recorded none, so
    that `upgrade` later renders the project's level as it was (see upgrade.templates_at)."""
    commit, record = build_commit(), project / RECORD
    if commit is None or not record.is_file():
        return
    content = json.loads(record.read_text())
    if "template_commit" not in content:
        content["template_commit"] = commit  # written as the hook writes it
        record.write_text(json.dumps(content, indent=2, ensure_ascii=False) + "\n")


def tree(project: Path) -> dict[str, bytes]:
    """Every file of a rendered project by its relative POSIX path."""
    return {
        path.relative_to(project).as_posix(): path.read_bytes()
        for path in sorted(project.rglob("*"))
        if path.is_file()
    }


KINDS = ("added", "changed", "removed")


def _manifest(level: int) -> dict[str, Any]:
    manifest: dict[str, Any] = tomllib.loads(EVOLUTIONS.read_text()).get(f"level{level}", {})
    return manifest


def evolutions(level: int, package: str) -> dict[str, dict[str, str]]:
    """The files `level` adds, changes and removes of the level below, each with its reason."""
    declared = _manifest(level)
    return {
        kind: {path.format(package_name=package): why for path, why in entries.items()}
        for kind, entries in declared.items()
        if kind in KINDS
    }


def questions(level: int) -> list[str]:
    """The questions a level asks (the keys of its cookiecutter.json that are not private)."""
    context = json.loads((TEMPLATES / f"level{level}" / "cookiecutter.json").read_text())
    return [key for key in context if not key.startswith("_")]


def upgrade_advice(level: int, package: str) -> dict[str, list[str]]:
    """What a project that reaches `level` by an upgrade should read (notes) and run (steps)."""
    advice = _manifest(level).get("upgrade", {})
    return {
        key: [line.format(package_name=package) for line in advice.get(key, [])]
        for key in ("notes", "steps")
    }


def reasons(low: int, high: int, package: str) -> dict[str, str]:
    """Why each file differs between two levels; across several levels, each level's reason."""
    why: dict[str, list[str]] = {}
    for level in range(low + 1, high + 1):
        for entries in evolutions(level, package).values():
            for path, reason in entries.items():
                reason = reason.replace("{package_name}", package)
                why.setdefault(path, []).append(
                    reason if high - low == 1 else f"level {level}: {reason}"
                )
    return {path: "; ".join(chain) for path, chain in why.items()}


def compare(lower: dict[str, bytes], upper: dict[str, bytes]) -> dict[str, list[str]]:
    """Paths added, changed and removed going from `lower` to `upper`."""
    return {
        "added": sorted(upper.keys() - lower.keys()),
        "changed": sorted(p for p in lower.keys() & upper.keys() if lower[p] != upper[p]),
        "removed": sorted(lower.keys() - upper.keys()),
    }


def surviving_share(lower: dict[str, bytes], upper: dict[str, bytes]) -> float:
    """Share of the lower level's lines found unchanged in the same file of the upper level."""
    kept = total = 0
    for path, content in lower.items():
        if path in LOCKS:  # written by a tool, not a lesson
            continue
        old = _lines(content)
        new = _lines(upper.get(path, b""))
        matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
        kept += sum(block.size for block in matcher.get_matching_blocks())
        total += len(old)
    return kept / total


# Files that a tool writes (tools/lock.py): their diff lists the packages locked, not lines.
LOCKS = {"uv.lock", "requirements.txt"}
REQUIREMENT_PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s;\\]+)")


def locked_packages(path: str, content: bytes) -> list[str]:
    """`name==version` of each package a lock holds, sorted: what its diff shows."""
    text = content.decode()
    if path.endswith("uv.lock"):
        packages = tomllib.loads(text).get("package", [])
        found = {(p["name"], p["version"]) for p in packages if "version" in p}
    else:
        found = {
            (m["name"], m["version"]) for m in map(REQUIREMENT_PIN.match, text.splitlines()) if m
        }
    return [f"{name}=={version}\n" for name, version in sorted(found)]


def _diffable(path: str, content: bytes) -> list[str]:
    """The lines a diff compares: a lock's packages, any other file's lines (a minified line as
    its length and digest)."""
    if content and path.rsplit("/", 1)[-1] in LOCKS and path.count("/") == 0:
        return locked_packages(path, content)
    return _shown_lines(content)


def _lines(content: bytes) -> list[str]:
    try:
        return content.decode().splitlines(keepends=True)
    except UnicodeDecodeError:
        return ["<binary file>\n"]


# A line this long is minified third-party code (the Vega builds that levels 2+ inline in their
# plots page): a diff shows its size and digest, which still change when the code does.
MINIFIED = 1000


def _shown_lines(content: bytes) -> list[str]:
    """The lines a diff shows: a minified line stands as its length and digest."""
    return [
        f"<minified code: {len(line.rstrip())} characters, sha256 {_digest(line)}>\n"
        if len(line) > MINIFIED
        else line
        for line in _lines(content)
    ]


def _digest(line: str) -> str:
    return hashlib.sha256(line.encode()).hexdigest()[:16]


def comparable(files: Mapping[str, bytes]) -> dict[str, bytes]:
    """The files without the record's `template_commit`, which no level adds or removes.

    The post-gen hook records the mlops-ladder commit only when the level's template folder is
    clean in git, so two renders of one level differ while someone edits it. Dropping the key
    and writing the record back as the hook does gives the record a copy outside git renders.
    """
    if RECORD not in files:
        return dict(files)
    record = json.loads(files[RECORD])
    record.pop("template_commit", None)
    text = json.dumps(record, indent=2, ensure_ascii=False) + "\n"
    return {**files, RECORD: text.encode()}


def diff_text(
    low: int, high: int, answers: Mapping[str, str] | None = None, templates: Path = TEMPLATES
) -> str:
    """A summary of what level `high` adds to level `low`, the reason per file, the diff."""
    lower, upper, _ = _both_levels(low, high, answers, templates)
    return annotated_diff(low, high, lower, upper)


def annotated_diff(
    low: int, high: int, lower: Mapping[str, bytes], upper: Mapping[str, bytes]
) -> str:
    """What `diff_text` prints, for two rendered levels' files."""
    lower, upper = comparable(lower), comparable(upper)
    why = reasons(low, high, package_of(upper))
    changes = compare(lower, upper)
    diffs = {
        path: list(
            difflib.unified_diff(
                _diffable(path, lower.get(path, b"")),
                _diffable(path, upper.get(path, b"")),
                f"level{low}/{path}" if path in lower else "/dev/null",
                f"level{high}/{path}" if path in upper else "/dev/null",
            )
        )
        for paths in changes.values()
        for path in paths
    }
    out = [f"What level {high} adds to level {low}:\n"]
    totals = [0, 0]
    for kind, paths in changes.items():
        body = [line for path in paths for line in diffs[path][2:]]  # past the two headers
        plus, minus = (sum(line.startswith(sign) for line in body) for sign in "+-")
        totals = [totals[0] + plus, totals[1] + minus]
        out.append(f"  {len(paths):3d} files {kind:8s}(+{plus} -{minus} lines)\n")
    out.append(f"  in all: +{totals[0]} -{totals[1]} lines\n")
    out.append("\nWhy, file by file:\n")
    for kind in KINDS:
        for path in changes[kind]:
            out.append(f"  {kind:8s}{path}: {why.get(path, 'no reason declared')}\n")
    out.append("\n")
    for path in sorted(diffs):
        out.extend(diffs[path])
    return "".join(out)


def _both_levels(
    low: int, high: int, answers: Mapping[str, str] | None, templates: Path = TEMPLATES
) -> tuple[dict[str, bytes], dict[str, bytes], dict[str, str]]:
    """Both levels' files, rendered from the same answers, and the reasons between them."""
    return _rendered_pair(low, high, tuple(sorted((answers or {}).items())), templates)


@functools.cache
def _rendered_pair(
    low: int, high: int, answers: tuple[tuple[str, str], ...], templates: Path
) -> tuple[dict[str, bytes], dict[str, bytes], dict[str, str]]:
    with tempfile.TemporaryDirectory() as workdir, quiet_stdout():
        lower = comparable(tree(render(low, Path(workdir) / "lower", dict(answers), templates)))
        upper = comparable(tree(render(high, Path(workdir) / "upper", dict(answers), templates)))
    return lower, upper, reasons(low, high, package_of(upper))


def golden_path(low: int, high: int, templates: Path = TEMPLATES) -> Path:
    """The committed diff of two adjacent levels, rendered from the default answers."""
    return templates / "diffs" / f"{low}-{high}.diff"


# What a failing golden diff shows of the difference, before it says how to see the rest.
DRIFT_LINES = 40


def golden_drift(low: int, high: int, rendered: str, templates: Path = TEMPLATES) -> str | None:
    """None if `rendered` is the committed diff of the pair, else what differs and what to do."""
    golden = golden_path(low, high, templates)
    name = golden.relative_to(templates.parent).as_posix()
    committed = golden.read_text(encoding="utf-8") if golden.is_file() else ""
    if committed == rendered:
        return None
    drift = list(
        difflib.unified_diff(
            committed.splitlines(keepends=True),
            rendered.splitlines(keepends=True),
            f"{name} (committed)",
            f"levels {low}-{high} (rendered now)",
        )
    )
    shown = "".join(drift[:DRIFT_LINES])
    if len(drift) > DRIFT_LINES:
        more = len(drift) - DRIFT_LINES
        shown += f"... {more} more lines: python3 -m nox -s diff -- {low} {high}\n"
    return (
        f"What level {high} adds to level {low} is not the committed {name}"
        + ("" if committed else " (there is none)")
        + f":\n{shown}\n"
        f"If the change is intended, rewrite the golden diffs and commit them:\n"
        f"  python3 -m nox -s diff -- --update\n"
        f"If it is an edit made in level {low} that level {high} and above should have too, "
        f"carry it up instead:\n"
        f"  python3 -m nox -s propagate -- {low} PATH...\n"
    )


def update_goldens(templates: Path = TEMPLATES) -> dict[str, str]:
    """Rewrite the golden diff of every adjacent pair; what happened to each file."""
    done = {}
    for low, high in zip(levels(), levels()[1:], strict=False):
        golden = golden_path(low, high, templates)
        text = diff_text(low, high, templates=templates)
        before = golden.read_text(encoding="utf-8") if golden.is_file() else None
        if before != text:
            golden.parent.mkdir(exist_ok=True)
            golden.write_text(text, encoding="utf-8")
        state = "created" if before is None else "unchanged" if before == text else "updated"
        done[golden.relative_to(templates.parent).as_posix()] = state
    return done


@contextlib.contextmanager
def quiet_stdout() -> Iterator[None]:
    """Silence the hooks' "Created ..." line (a subprocess), so the diff is all that is printed."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 1)
            yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>mlops-ladder: level {low} to level {high}</title>
<style>
body {{ font: 18px/1.4 system-ui, sans-serif; margin: 1rem; color: #111; }}
h1 {{ font-size: 1.6rem; }} h2 {{ font-size: 1.25rem; margin-top: 2.5rem; }}
.why {{ color: #333; margin: .2rem 0 .6rem; }}
/* difflib's six columns are, per side, a next-change link, the line number and the code. The
   links go (the summary links every file) and the code takes the width: the font follows the
   window so that each side holds 80 characters and more, up to 16 px on a wide screen. */
table.diff {{ font: clamp(10px, calc((100vw - 3rem) / 108), 16px)/1.35 ui-monospace, Menlo,
  Consolas, monospace; border-collapse: collapse; width: 100%; table-layout: fixed; }}
table.diff colgroup:nth-of-type(3n+1) {{ width: 0; }}
table.diff colgroup:nth-of-type(3n+2) {{ width: 5.5ch; }}
table.diff .diff_next {{ padding: 0; overflow: hidden; visibility: hidden; }}
table.diff td {{ padding: 0 .3rem; vertical-align: top; white-space: pre-wrap;
  overflow-wrap: anywhere; }}
table.diff td.diff_header {{ text-align: right; color: #777; }}
table.diff th {{ text-align: left; background: #eee; padding: .3rem .4rem; }}
.diff_add {{ background: #c8f0c8; }} .diff_chg {{ background: #ffe9a8; }}
.diff_sub {{ background: #f7c4c4; }}
.summary td, .summary th {{ padding: .15rem .8rem .15rem 0; text-align: left; }}
.kind-added {{ color: #075e07; }} .kind-changed {{ color: #7a5800; }}
.kind-removed {{ color: #8b0c0c; }}
</style></head><body>
<h1>What level {high} adds to level {low}</h1>
<p>{counts}</p>
<table class="summary"><tr><th>file</th><th></th><th>why</th></tr>
{rows}
</table>
{sections}
</body></html>
"""


def diff_html(low: int, high: int, answers: Mapping[str, str] | None = None) -> str:
    """The annotated diff as one self-contained page, side by side, for a projector."""
    lower, upper, why = _both_levels(low, high, answers)
    changes = compare(lower, upper)
    counts = ", ".join(f"{len(paths)} files {kind}" for kind, paths in changes.items())
    rows: list[str] = []
    sections: list[str] = []
    sides = difflib.HtmlDiff(tabsize=4, wrapcolumn=None)
    for kind in KINDS:
        for path in changes[kind]:
            anchor = f"f{len(rows)}"
            reason = html.escape(why.get(path, "no reason declared"))
            rows.append(
                f'<tr><td><a href="#{anchor}">{html.escape(path)}</a></td>'
                f'<td class="kind-{kind}">{kind}</td><td>{reason}</td></tr>'
            )
            table = sides.make_table(
                _diffable(path, lower.get(path, b"")),
                _diffable(path, upper.get(path, b"")),
                f"level {low}" if path in lower else f"(not in level {low})",
                f"level {high}" if path in upper else f"(not in level {high})",
                context=kind == "changed",
                numlines=3,
            )
            sections.append(
                f'<h2 id="{anchor}">{html.escape(path)} <span class="kind-{kind}">'
                f'({kind})</span></h2>\n<p class="why">{reason}</p>\n{table}'
            )
    return PAGE.format(
        low=low, high=high, counts=counts, rows="\n".join(rows), sections="\n".join(sections)
    )


def package_of(files: Mapping[str, bytes]) -> str:
    """The package name of a rendered project (the folder under src/), or ''."""
    packages = {path.split("/")[1] for path in files if path.startswith("src/")}
    return packages.pop() if len(packages) == 1 else ""


# Set by nox (and by activated venvs); they would point a project's uv at the caller's venv.
CALLER_ENVIRONMENT = {"VIRTUAL_ENV", "CONDA_PREFIX", "UV_PROJECT_ENVIRONMENT", "UV_PYTHON"}
# Python's own default is to write the bytecode of what a command imports, once; compiling all
# of site-packages at install instead (UV_COMPILE_BYTECODE) costs about a minute of CPU for the
# 1.4 GB venv of levels 3-4, most of it for modules that never run.
BYTECODE_SETTINGS = {"UV_COMPILE_BYTECODE", "PYTHONDONTWRITEBYTECODE"}


def project_env() -> dict[str, str]:
    """The environment for a generated project's commands: its own venv, not the caller's,
    and Python's default bytecode caching. Where no uv is on the PATH (an installed
    mlops-ladder, whose venv pipx or uvx keeps off the PATH), the uv it depends on is added
    last, so that nothing else of its venv shadows the person's own commands."""
    dropped = CALLER_ENVIRONMENT | BYTECODE_SETTINGS
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    if shutil.which("uv", path=env.get("PATH")) is None:
        from uv import find_uv_bin

        folder = str(Path(find_uv_bin()).parent)
        env["PATH"] = os.pathsep.join(filter(None, [env.get("PATH"), folder]))
    return env


def run(command: str, cwd: Path, **kwargs: Any) -> subprocess.CompletedProcess[Any]:
    """Run one shell command in a generated project, echoing it; raise when it fails."""
    print(f"[{cwd.name}] $ {command}", flush=True)
    return subprocess.run(
        ["bash", "-eo", "pipefail", "-c", command],
        cwd=cwd,
        env=kwargs.pop("env", None) or project_env(),
        check=True,
        **kwargs,
    )


class ProjectExists(Exception):
    """The folder already holds the project that `new` would make."""


def place(
    level: int,
    folder: Path,
    force: bool = False,
    answers: Mapping[str, str] | None = None,
    templates: Path = TEMPLATES,
) -> Path:
    """Render `level` into `folder`, where a project of the same name may stand only if
    `force` says to replace it. The render goes to a scratch folder inside `folder` first, so
    a render that fails leaves `folder` as it was (and no folder it had to create)."""
    made = [parent for parent in (folder, *folder.parents) if not parent.exists()]
    folder.mkdir(parents=True, exist_ok=True)
    try:
        with tempfile.TemporaryDirectory(dir=folder, prefix=".rendering-") as scratch:
            with quiet_stdout():  # the hook's "Next: cd <slug>" is not where this project is
                rendered = render(level, Path(scratch), answers, templates)
            target = folder / rendered.name
            if target.exists() or target.is_symlink():
                if not force:
                    raise ProjectExists(
                        f"{shown(target)} exists: add --force to replace it, remove it, "
                        "or name another FOLDER"
                    )
                stop_service(target)
                if target.is_dir() and not target.is_symlink():
                    shutil.rmtree(target)
                else:
                    target.unlink()
            rendered.rename(target)
    except BaseException:
        for parent in made:  # the deepest first: each is empty unless the render succeeded
            with contextlib.suppress(OSError):
                parent.rmdir()
        raise
    return target


def stop_service(project: Path) -> None:
    """Stop the local scoring service of a project about to be replaced (`make stop`, levels
    3-4), so that no process keeps serving from deleted files or holding the port."""
    makefile = project / "Makefile"
    has_stop = makefile.is_file() and "\nstop:" in makefile.read_text()
    if has_stop and (project / "serve.pid").exists():
        run("make stop", project)


def shown(path: Path, cwd: Path | None = None) -> str:
    """`path` as a person in `cwd` would type it: relative when inside `cwd`, else absolute."""
    cwd = (cwd or Path.cwd()).resolve()
    path = path.resolve()
    return path.relative_to(cwd).as_posix() if path.is_relative_to(cwd) else str(path)


def first_run(
    level: int, project: Path, package: str, env: Mapping[str, str] | None = None
) -> None:
    """Run a freshly rendered project's main pipeline, as its README says. The project's venv
    is made relocatable first, so the project can be moved or copied (the e2e tests copy it)."""
    commands = FIRST_RUN[level]
    if level > 0:  # `uv sync` keeps a venv that exists; level 0 makes its own
        commands = ["uv venv --quiet --relocatable .venv", *commands]
    for command in commands:
        run(command.format(package=shlex.quote(package)), project, env=dict(env or project_env()))
