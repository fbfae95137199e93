"""The reader of `assess`: which files of a repository are read, and what is taken from each.

Only what code does is kept, never what a text says:
- Python files and notebooks' code cells are parsed into a syntax tree; kept are their imports,
  their calls (the callee resolved through the imports, the keywords used, the constant strings
  passed), their ordering comparisons, their function and class definitions (decorators, bases)
  and the identifiers they use. Comments, docstrings and free-standing string literals are never
  looked at.
- YAML files are parsed into their structure (with line numbers); comments are not part of it.
- Other configuration (Dockerfiles, Makefiles, Jenkinsfiles, TOML, shell) is read line by line
  with its comments blanked.

Never read: tool and environment folders (.git, .venv, node_modules, ...), vendored code, the
repository's examples, documentation and test data, and unrendered templates (a folder named
with `{{`). A file that cannot be read or parsed is reported as skipped, with the reason, and the
run goes on.
"""

from __future__ import annotations

import ast
import bisect
import concurrent.futures
import gc
import json
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

import yaml

SKIP_DIRS = {
    ".git", ".hg", ".svn", ".venv", "venv", "env", "node_modules", ".nox", ".tox", "__pycache__",
    "site-packages", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".ipynb_checkpoints",
    ".dvc", "mlruns", "mlartifacts", "wandb", ".eggs",
}  # fmt: skip
# Code that is not the project's own: what it shows is not what the project does.
NOT_THE_PROJECT = {
    "vendor", "vendored", "_vendor", "third_party", "thirdparty", "third-party", "external",
    "extern", "examples", "example", "test_data", "testdata", "test-data", "docs", "doc",
}  # fmt: skip
MAX_CODE = 1_000_000  # characters of code in one file (a notebook's, without its outputs)
MAX_NOTEBOOK = 64_000_000  # bytes of a notebook file, outputs included
MAX_CONFIG = 1_000_000
PROGRESS_OVER = 2_000  # files; a larger tree reports its progress on stderr
PARALLEL_OVER = 2_000  # code files; more are parsed by a process per core
CODE_SUFFIXES = {".py", ".ipynb"}
YAML_SUFFIXES = {".yml", ".yaml", ".dvc"}
TEXT_SUFFIXES = {".toml", ".cfg", ".ini", ".sh", ".groovy"}
TEXT_NAMES = {"dockerfile", "containerfile", "makefile", "jenkinsfile", "procfile", "justfile"}
TEXT_NAMES |= {"mlproject", "crontab"}
# Never read: a generator's record of the level it rendered is a claim, not evidence.
MARKER = ".mlops-ladder.json"
# What makes a folder a template that must be rendered before it is a project.
GENERATORS = {
    "cookiecutter.json": "cookiecutter",
    "copier.yml": "copier",
    "copier.yaml": "copier",
    "databricks_template_schema.json": "Databricks asset bundle template",
}
# Where CI files live at the top of a repository; a project in a monorepo is built by these.
CI_FOLDERS = (
    ".github/workflows", ".gitlab", ".azure-pipelines", ".azuredevops", ".pipelines",
    ".circleci", ".woodpecker", ".buildkite", "pipelines", "ci", ".ci",
)  # fmt: skip
TEST_DIRS = {"test", "tests", "testing"}


def printable(text: str) -> str:
    """A path as a UTF-8 terminal can print it (a non-UTF-8 name's bytes become U+FFFD)."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


# --- What is kept of a file -----------------------------------------------------------------


@dataclass(frozen=True)
class Hit:
    """One piece of evidence: where it is and the line (or the fact) that shows it."""

    path: str
    line: int
    where: str
    matched: str


@dataclass(frozen=True)
class Call:
    """A call in Python code, its callee resolved through the file's imports."""

    name: str  # "mlflow.sklearn.log_model"; "?.x" when the callee is not a plain name
    line: int
    keywords: tuple[str, ...]
    strings: tuple[str, ...]  # the constant strings it is passed (a route, a command)
    function: str  # the enclosing function, "" at module level
    in_loop: bool

    @property
    def last(self) -> str:
        return self.name.rpartition(".")[2]


@dataclass(frozen=True)
class Comparison:
    """An ordering comparison (<, <=, >, >=) between two operands, as identifiers."""

    line: int
    left: frozenset[str]  # the identifiers and subscript keys of each side
    right: frozenset[str]
    constant: bool  # one side is a literal number
    function: str
    in_loop: bool


@dataclass(frozen=True)
class Definition:
    """A function or a class, with its decorators and bases resolved through the imports."""

    kind: str  # "def" or "class"
    name: str
    line: int
    decorators: tuple[str, ...]
    bases: tuple[str, ...]
    parent: str  # the enclosing class or function, "" at module level
    routes: tuple[str, ...] = ()  # the constant strings its decorators are given ("/predict")


@dataclass
class Python:
    """What a Python file (or a notebook's code cells) does."""

    imports: list[tuple[str, int]] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    comparisons: list[Comparison] = field(default_factory=list)
    definitions: list[Definition] = field(default_factory=list)
    aliases: dict[str, str] = field(default_factory=dict)

    def imports_any(self, modules: Iterable[str]) -> tuple[str, int] | None:
        roots = tuple(modules)
        for name, line in self.imports:
            if name in roots or name.startswith(tuple(f"{root}." for root in roots)):
                return name, line
        return None


class Text(str):
    """A YAML scalar that remembers its line."""

    line: int

    def __new__(cls, value: str, line: int) -> Text:
        text = super().__new__(cls, value)
        text.line = line
        return text


class Map(dict[str, Any]):
    """A YAML mapping that remembers its line and its keys' lines; keys are plain strings."""

    line: int = 0
    key_lines: dict[str, int]

    def key_line(self, key: str) -> int:
        return self.key_lines.get(key, self.line)


class Seq(list[Any]):
    """A YAML sequence that remembers its line."""

    line: int = 0


@dataclass
class Source:
    """One file that was read: its lines, and what its kind of file lets us know."""

    path: str  # from the assessed folder, printable; ../../.github/... for a monorepo's top CI
    kind: str  # "python", "notebook", "yaml" or "text"
    lines: list[str]
    python: Python | None = None
    documents: list[Any] = field(default_factory=list)  # YAML documents (Map, Seq, Text)
    cells: list[tuple[int, int]] = field(default_factory=list)  # notebooks: (first line, cell)
    from_top: str | None = None  # a monorepo's top CI file: the project's folder from the top
    problems: list[tuple[int, str]] = field(default_factory=list)  # notebook cells not read
    content: str = ""  # a Python file's text, split into lines only to quote one

    @property
    def is_code(self) -> bool:
        return self.python is not None

    @property
    def is_test(self) -> bool:
        return is_test_path(self.path)

    @property
    def name(self) -> str:
        return PurePosixPath(self.path).name

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def where(self, line: int) -> str:
        if not self.cells:
            return f"{self.path}:{line}"
        starts = [start for start, _ in self.cells]
        return f"{self.path}, cell {self.cells[max(bisect.bisect_right(starts, line) - 1, 0)][1]}"

    def hit(self, line: int, matched: str | None = None) -> Hit:
        if matched is None:
            lines = self.lines or self.content.split("\n")
            matched = lines[line - 1].strip() if 0 < line <= len(lines) else ""
        text = printable(matched)
        return Hit(self.path, line, self.where(line), text[:77] + "..." if len(text) > 80 else text)

    def find(self, pattern: re.Pattern[str], skip: re.Pattern[str] | None = None) -> Hit | None:
        """The first line that matches `pattern` (and not `skip`); for text files only."""
        for number, line in enumerate(self.lines, 1):
            if pattern.search(line) and not (skip and skip.search(line)):
                return self.hit(number)
        return None


def is_test_path(path: str) -> bool:
    parts = PurePosixPath(path).parts
    name = parts[-1]
    return (
        bool(TEST_DIRS & set(parts[:-1]))
        or name.startswith("test_")
        or name.endswith("_test.py")
        or name in ("conftest.py", "tests.py")  # tests.py: Django's
    )


@dataclass(frozen=True)
class Skipped:
    """A file that was not read, and why."""

    path: str
    reason: str


# --- Walking a repository -------------------------------------------------------------------


def _kind(name: str) -> str | None:
    lower = name.lower()
    suffix = PurePosixPath(lower).suffix
    if name == MARKER:
        return None
    if suffix == ".py":
        return "python"
    if suffix == ".ipynb":
        return "notebook"
    if suffix in YAML_SUFFIXES:
        return "yaml"
    if (
        suffix in TEXT_SUFFIXES
        or lower in TEXT_NAMES
        or lower.startswith(("dockerfile", "jenkinsfile", "containerfile"))
        or lower.endswith((".dockerfile", ".jenkinsfile"))
    ):
        return "text"
    return None


def skipped_folder(folder: str) -> bool:
    """Tools' and environments' folders, code not the project's, and unrendered templates."""
    return (
        folder in SKIP_DIRS
        or folder.lower() in NOT_THE_PROJECT
        or folder.endswith(".egg-info")
        or "{{" in folder
    )


class Repo:
    """The code and config files of a folder, read once."""

    def __init__(
        self,
        root: Path,
        progress: Callable[[str], None] | None = None,
        wanted: re.Pattern[str] | None = None,
    ):
        """Read `root`; Python code that does not match `wanted` (the words that any evidence
        needs) is not parsed: it can show nothing."""
        self.root = root
        self.sources: list[Source] = []
        self.skipped: list[Skipped] = []
        self.code_files: list[str] = []  # every .py and notebook, even one that was skipped
        self.generators: list[tuple[str, str]] = []  # (file, kind): a template, not a project
        self.top_dvc = (root / ".dvc").is_dir()
        found: list[tuple[Path, str, str]] = []

        def unreadable(error: OSError) -> None:
            where = Path(error.filename or str(root))
            relative = where.relative_to(root).as_posix() if where != root else "."
            self.skipped.append(Skipped(printable(relative), error.strerror or str(error)))

        for folder, dirs, files in os.walk(root, onerror=unreadable):
            dirs[:] = sorted(d for d in dirs if not skipped_folder(d))
            here = Path(folder)
            for name in sorted(files):
                relative = (here / name).relative_to(root).as_posix()
                if name in GENERATORS:
                    self.generators.append((printable(relative), GENERATORS[name]))
                kind = _kind(name)
                if kind is None:
                    continue
                if kind in ("python", "notebook"):
                    self.code_files.append(printable(relative))
                found.append((here / name, relative, kind))
        found += _monorepo_ci(root)
        report = progress if progress is not None and len(found) > PROGRESS_OVER else None
        if report:
            report(f"assess: reading {len(found):,} files of {printable(str(root))}")
        step = max(len(found) // 10, 1)
        jobs = [(path, printable(relative), kind, wanted) for path, relative, kind in found]
        collecting = gc.isenabled()
        gc.disable()  # syntax trees are many small objects, all freed at once: no cycles to find
        try:
            for number, (shown, outcome) in enumerate(_read_all(jobs), 1):
                self._keep(shown, outcome)
                if report and (number % step == 0 or number == len(found)):
                    report(f"assess: {number:,}/{len(found):,} files read")
        finally:
            if collecting:
                gc.enable()

    def _keep(self, shown: str, outcome: Source | str | None) -> None:
        if outcome is None:  # code that holds nothing any criterion looks for
            return
        if isinstance(outcome, str):
            self.skipped.append(Skipped(shown, outcome))
            return
        if outcome.path.startswith("../"):
            outcome.from_top = _from_top(self.root, outcome.path)
        self.sources.append(outcome)
        for cell, reason in outcome.problems:
            self.skipped.append(Skipped(f"{shown}, cell {cell}", reason))

    def code(self, tests: bool = False) -> Iterator[Source]:
        """Python files and notebooks; test files only when `tests`."""
        return (s for s in self.sources if s.is_code and s.is_test == tests)

    def yaml(self) -> Iterator[Source]:
        return (s for s in self.sources if s.kind == "yaml")

    def text(self) -> Iterator[Source]:
        return (s for s in self.sources if s.kind == "text")


def _from_top(root: Path, path: str) -> str:
    leading = re.match(r"(?:\.\./)*", path)  # always matches, if only the empty string
    ups = len(leading.group(0)) // 3 if leading else 0
    parts = root.resolve().parts
    return "/".join(parts[len(parts) - ups :])


def _monorepo_ci(root: Path) -> list[tuple[Path, str, str]]:
    """The CI files at the top of the git repository that holds `root` when that top is above
    it (a project in a monorepo), each with its path from `root` (../../.github/...)."""
    try:
        done = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--show-toplevel"],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return []  # no git
    here = root.resolve()
    found = done.stdout.strip() if done.returncode == 0 else ""
    top = Path(found).resolve() if found else here
    if top not in here.parents:
        return []
    candidates = sorted(path for path in top.iterdir() if path.is_file())
    for folder in CI_FOLDERS:
        if (top / folder).is_dir():
            candidates += sorted(path for path in (top / folder).rglob("*") if path.is_file())
    files = []
    for path in candidates:
        kind = _kind(path.name)
        if kind in ("yaml", "text"):
            files.append((path, Path(os.path.relpath(path, here)).as_posix(), kind))
    return files


# --- Reading one file -----------------------------------------------------------------------


class Unreadable(Exception):
    """A file that cannot be read or parsed; its message is the reason."""


Job = tuple[Path, str, str, "re.Pattern[str] | None"]


def _read_one(job: Job) -> tuple[str, Source | str | None]:
    """A file read, or the reason it was not, or None: code that holds none of the words."""
    path, shown, kind, wanted = job
    try:
        return shown, read(path, shown, kind, wanted)
    except Unreadable as problem:
        return shown, str(problem)


def _read_all(jobs: list[Job]) -> Iterator[tuple[str, Source | str | None]]:
    """Each file read, in order; a large tree's code is parsed on every core."""
    workers = min(os.cpu_count() or 1, 8)
    code = sum(1 for job in jobs if job[2] in ("python", "notebook"))
    if workers < 2 or code <= PARALLEL_OVER:
        yield from map(_read_one, jobs)
        return
    try:
        pool = concurrent.futures.ProcessPoolExecutor(workers, initializer=gc.disable)
    except (OSError, NotImplementedError):  # no process pool here (a sandbox)
        yield from map(_read_one, jobs)
        return
    with pool:
        yield from pool.map(_read_one, jobs, chunksize=64)


def read(path: Path, shown: str, kind: str, wanted: re.Pattern[str] | None = None) -> Source | None:
    """The file at `path`, parsed as `kind`; raises Unreadable with the reason. None for code
    that does not match `wanted`."""
    limit = MAX_NOTEBOOK if kind == "notebook" else MAX_CODE if kind == "python" else MAX_CONFIG
    try:
        if not path.is_file():
            raise Unreadable("not a regular file")
        size = path.stat().st_size
        if size > limit:
            raise Unreadable(f"larger than {limit // 1_000_000} MB ({size:,} bytes)")
        content = path.read_bytes().decode("utf-8", errors="replace")
    except OSError as error:
        raise Unreadable(error.strerror or str(error)) from error
    if kind == "python":
        if wanted and not wanted.search(content):
            return None
        python, problem = parse_python(content)
        if problem:
            raise Unreadable(problem)
        return Source(shown, "python", [], python, content=content)
    if kind == "notebook":
        return _notebook(shown, content, wanted)
    if kind == "yaml":
        return Source(shown, "yaml", content.splitlines(), documents=parse_yaml(content))
    groovy = "jenkinsfile" in shown.lower() or shown.endswith(".groovy")
    lines = [_strip_comment(line, groovy) for line in content.splitlines()]
    return Source(shown, "text", lines)


def _strip_comment(line: str, groovy: bool = False) -> str:
    if groovy:
        return re.sub(r"(?:^|\s)//.*$", "", line)
    return re.sub(r"(?:^|\s)#.*$", "", line)


# A magic or shell escape, or a help request: a whole line `?obj`, `obj?` or `obj??`.
NOT_PYTHON = re.compile(r"\s*[%!]|\s*(?:\?\??[\w.*]+|[\w.*]+\?\??)\s*$")


def _notebook(path: str, content: str, wanted: re.Pattern[str] | None = None) -> Source | None:
    """A notebook's code cells, without outputs; at most MAX_CODE characters of code."""
    try:
        notebook = json.loads(content)
    except RecursionError as error:
        raise Unreadable("its JSON is nested too deeply") from error
    except ValueError as error:
        raise Unreadable(f"not valid JSON ({error})") from error
    if not isinstance(notebook, dict):
        raise Unreadable("not a notebook (its JSON is not an object)")
    cells = notebook.get("cells")
    if not isinstance(cells, list):
        raise Unreadable(f"not a notebook (its cells are {type(cells).__name__}, not a list)")
    code: list[tuple[int, str]] = []
    problems: list[tuple[int, str]] = []
    for number, cell in enumerate(cells, 1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        text = cell.get("source", "")
        if isinstance(text, list) and all(isinstance(piece, str) for piece in text):
            text = "".join(text)
        if not isinstance(text, str):
            problems.append((number, f"its source is {type(text).__name__}, not text"))
            continue
        code.append((number, text))
    size = sum(len(text) for _, text in code)
    if size > MAX_CODE:
        raise Unreadable(f"its code cells hold {size:,} characters, over {MAX_CODE:,}")
    if wanted and not problems and not any(wanted.search(text) for _, text in code):
        return None
    source = Source(path, "notebook", [], Python())
    assert source.python is not None
    for number, text in code:
        # IPython magics, shell escapes and help requests are not Python.
        text = "\n".join("" if NOT_PYTHON.match(line) else line for line in text.split("\n"))
        source.cells.append((len(source.lines) + 1, number))
        _, problem = parse_python(text, offset=len(source.lines), into=source.python)
        if problem:
            problems.append((number, problem))
        source.lines += text.split("\n")
    source.problems = problems
    return source


def parse_yaml(content: str) -> list[Any]:
    """The documents of a YAML file as Map, Seq and Text (each with its line), tags ignored."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        return [_node(node, 0) for node in yaml.compose_all(content, Loader=loader) if node]
    except RecursionError as error:
        raise Unreadable("its YAML is nested too deeply") from error
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or type(error).__name__
        raise Unreadable(f"not valid YAML{where} ({problem})") from error


def _node(node: yaml.Node, depth: int) -> Any:
    if depth > 200:
        raise RecursionError
    line = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        mapping = Map()
        mapping.line = line
        mapping.key_lines = {}
        for key, value in node.value:
            if key.tag == "tag:yaml.org,2002:merge" or key.value == "<<":
                merged = _node(value, depth + 1)
                for part in merged if isinstance(merged, list) else [merged]:
                    if isinstance(part, dict):
                        for name, item in part.items():
                            mapping.setdefault(name, item)
                continue
            name = key.value if isinstance(key, yaml.ScalarNode) else str(line)
            mapping[str(name)] = _node(value, depth + 1)
            mapping.key_lines[str(name)] = key.start_mark.line + 1
        return mapping
    if isinstance(node, yaml.SequenceNode):
        sequence = Seq(_node(item, depth + 1) for item in node.value)
        sequence.line = line
        return sequence
    return Text(str(node.value), line)


# --- Python ---------------------------------------------------------------------------------


def parse_python(
    content: str, offset: int = 0, into: Python | None = None
) -> tuple[Python, str | None]:
    """What the code does (lines + offset), or the reason it is not Python 3."""
    facts = into if into is not None else Python()
    try:
        tree = ast.parse(content)
    except SyntaxError as error:
        return facts, f"not Python 3 (line {(error.lineno or 0) + offset}: {error.msg})"
    except (ValueError, RecursionError, MemoryError) as error:
        return facts, f"cannot be parsed ({type(error).__name__})"
    try:
        _Walker(facts, offset).walk(tree)
    except RecursionError:
        return facts, "its syntax tree is nested too deeply"
    facts.calls.sort(key=lambda call: call.line)
    return facts, None


LOOPS = {ast.For, ast.AsyncFor, ast.While, ast.comprehension}
ORDER = (ast.Lt, ast.LtE, ast.Gt, ast.GtE)


DEFINITIONS = {ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef}


class _Walker:
    """One pass over a syntax tree, keeping the enclosing function and loop of each node.
    Names are resolved through the imports once the whole tree is read, so a call above its
    import (or in a function defined before it) is still resolved."""

    def __init__(self, facts: Python, offset: int):
        self.facts = facts
        self.offset = offset
        self.aliases = facts.aliases

    def walk(self, tree: ast.AST) -> None:
        calls: list[Call] = []
        definitions: list[Definition] = []
        stack: list[tuple[ast.AST, str, bool]] = [(tree, "", False)]
        pop, push = stack.pop, stack.append
        while stack:
            node, function, in_loop = pop()
            # Dispatch on the exact type, which is faster than isinstance on every node; mypy
            # does not narrow `type(node) is ...`, hence the ignores below (the type is checked).
            kind = type(node)
            if kind is ast.Name or kind is ast.Constant:
                continue
            if kind is ast.Call:
                calls.append(self._call(node, function, in_loop))  # type: ignore[arg-type]
            elif kind is ast.Compare:
                self._compare(node, function, in_loop)  # type: ignore[arg-type]
            elif kind in DEFINITIONS:
                definitions.append(self._define(node, function))  # type: ignore[arg-type]
                function = node.name  # type: ignore[attr-defined]
                in_loop = False
            elif kind in LOOPS:
                in_loop = True
            elif kind is ast.Import or kind is ast.ImportFrom:
                self._import(node)  # type: ignore[arg-type]
                continue
            for name in node._fields:
                value = getattr(node, name, None)
                if type(value) is list:
                    for item in value:
                        if isinstance(item, ast.AST):
                            push((item, function, in_loop))
                elif isinstance(value, ast.AST) and name != "ctx":
                    push((value, function, in_loop))
        resolve = self.resolve
        self.facts.calls += [
            Call(resolve(c.name), c.line, c.keywords, c.strings, c.function, c.in_loop)
            for c in calls
        ]
        self.facts.definitions += [
            Definition(
                d.kind,
                d.name,
                d.line,
                tuple(resolve(name) for name in d.decorators),
                tuple(resolve(name) for name in d.bases),
                d.parent,
                d.routes,
            )
            for d in definitions
        ]

    def _import(self, node: ast.Import | ast.ImportFrom) -> None:
        line = node.lineno + self.offset
        if isinstance(node, ast.Import):
            for alias in node.names:
                head = alias.name.split(".")[0]
                self.aliases[alias.asname or head] = alias.name if alias.asname else head
                self.facts.imports.append((alias.name, line))
        elif node.module and not node.level:
            self.facts.imports.append((node.module, line))
            for alias in node.names:
                self.aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"

    def resolve(self, name: str) -> str:
        """A dotted name with its head replaced by what the imports bind it to."""
        head, dot, rest = name.partition(".")
        head, paren, inner = head.partition("(")
        return self.aliases.get(head, head) + paren + inner + dot + rest

    def _call(self, node: ast.Call, function: str, in_loop: bool) -> Call:
        strings = [
            argument.value
            for argument in [*node.args, *(k.value for k in node.keywords)]
            if isinstance(argument, ast.Constant) and isinstance(argument.value, str)
        ]
        keywords = tuple(k.arg for k in node.keywords if k.arg)
        line = node.lineno + self.offset
        return Call(_dotted(node.func), line, keywords, tuple(strings), function, in_loop)

    def _compare(self, node: ast.Compare, function: str, in_loop: bool) -> None:
        operands = [node.left, *node.comparators]
        for index, operator in enumerate(node.ops):
            if not isinstance(operator, ORDER):
                continue
            left, right = operands[index], operands[index + 1]
            constant = any(_is_number(side) for side in (left, right))
            self.facts.comparisons.append(
                Comparison(
                    node.lineno + self.offset,
                    _names(left),
                    _names(right),
                    constant,
                    function,
                    in_loop,
                )
            )

    def _define(
        self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef, parent: str
    ) -> Definition:
        decorators = tuple(
            _dotted(d.func if isinstance(d, ast.Call) else d) for d in node.decorator_list
        )
        bases = tuple(_dotted(b) for b in node.bases) if isinstance(node, ast.ClassDef) else ()
        kind = "class" if isinstance(node, ast.ClassDef) else "def"
        routes = tuple(
            argument.value
            for d in node.decorator_list
            if isinstance(d, ast.Call)
            for argument in [*d.args, *(k.value for k in d.keywords)]
            if isinstance(argument, ast.Constant) and isinstance(argument.value, str)
        )
        return Definition(
            kind, node.name, node.lineno + self.offset, decorators, bases, parent, routes
        )


def _dotted(node: ast.expr) -> str:
    """`a.b.c` for an attribute chain; `f().x` keeps the call; `?` for anything else."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Call):
        parts.append(_dotted(node.func) + "()")
    else:
        parts.append(node.id if isinstance(node, ast.Name) else "?")
    return ".".join(reversed(parts))


def _is_number(node: ast.expr) -> bool:
    if isinstance(node, ast.UnaryOp):
        node = node.operand
    return isinstance(node, ast.Constant) and isinstance(node.value, int | float)


def _names(node: ast.expr) -> frozenset[str]:
    """The identifiers an operand is made of, and the keys it subscripts with."""
    names = set()
    for child in ast.walk(node):
        if isinstance(child, ast.Name):
            names.add(child.id)
        elif isinstance(child, ast.Attribute):
            names.add(child.attr)
        elif isinstance(child, ast.Subscript) and isinstance(child.slice, ast.Constant):
            names.add(str(child.slice.value))
    return frozenset(names)


def stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)
