"""Which MLOps maturity level does a repository reach? Any repository, not only ours.

python tools/assess.py PATH [--json]

Reads code and configuration only (Python, notebooks' code cells, YAML, TOML, Dockerfiles,
Makefiles, CI files), never prose: a README that names a tool proves nothing. Comments and
docstrings are blanked before matching, for the same reason. For a project inside a larger git
repository (a monorepo), the CI files at the top of that repository are read too.
"""

import argparse
import ast
import bisect
import io
import json
import os
import re
import shlex
import subprocess
import sys
import textwrap
import tokenize
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

LEVELS = {
    0: "No MLOps",
    1: "DevOps but no MLOps",
    2: "Automated training",
    3: "Automated model deployment",
    4: "Full MLOps",
}
TOP = max(LEVELS)

SKIP_DIRS = {
    ".git", ".hg", ".svn", ".venv", "venv", "node_modules", ".nox", ".tox", "__pycache__",
    "site-packages", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".ipynb_checkpoints",
    ".dvc", "mlruns", "mlartifacts", "wandb", ".eggs",
}  # fmt: skip
MAX_BYTES = 1_000_000
CODE_SUFFIXES = {".py", ".ipynb"}
CONFIG_SUFFIXES = {".yml", ".yaml", ".toml", ".cfg", ".ini", ".sh", ".groovy", ".dvc"}
CONFIG_NAMES = {"dockerfile", "containerfile", "makefile", "jenkinsfile", "procfile", "justfile"}
CONFIG_NAMES |= {"mlproject", "crontab"}
# Never read: a generator's record of the level it rendered is a claim, not evidence. Its
# presence only says that `nox -s upgrade` can work on the folder.
MARKER = ".mlops-ladder.json"
NEVER_READ = {MARKER}

CI_FILE = re.compile(
    r"""^(?:
        \.github/workflows/[^/]+\.ya?ml
      | \.gitlab-ci\.ya?ml | \.gitlab/.+\.ya?ml
      | (?:.+/)?Jenkinsfile[^/]* | .+\.jenkinsfile
      | (?:.+/)?azure-pipelines[^/]*\.ya?ml | \.(?:azure-pipelines|azuredevops)/.+\.ya?ml
      | \.circleci/config\.ya?ml | bitbucket-pipelines\.ya?ml
      | \.travis\.ya?ml | \.drone\.ya?ml | \.woodpecker(?:\.ya?ml|/.+\.ya?ml)
      | \.buildkite/.+\.ya?ml | cloudbuild\.ya?ml | buildspec\.ya?ml
    )$""",
    re.X,
)
# Where CI files live at the top of a repository; a project in a monorepo is built by these.
CI_FOLDERS = (
    ".github/workflows", ".gitlab", ".azure-pipelines", ".azuredevops", ".circleci",
    ".woodpecker", ".buildkite",
)  # fmt: skip
TEST_DIRS = {"test", "tests", "testing"}


# --- Reading a repository -------------------------------------------------------------------


@dataclass(frozen=True)
class Hit:
    """One piece of evidence: where it is and the (comment-free) line that matched."""

    path: str
    line: int
    where: str
    matched: str


Evidence = tuple[Hit, ...]


@dataclass(frozen=True)
class Call:
    """A call in Python code, its callee resolved through the file's imports."""

    name: str  # "mlflow.sklearn.log_model"; "?.x" when the callee is not a plain name
    line: int
    keywords: tuple[str, ...]


@dataclass
class Source:
    """One code or config file, with comments and docstrings blanked (line numbers kept)."""

    path: str
    kind: str  # "python", "notebook" or "config"
    lines: list[str]
    imports: list[tuple[str, int]] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
    cells: list[tuple[int, int]] = field(default_factory=list)  # notebooks: (first line, cell)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    @property
    def is_code(self) -> bool:
        return self.kind in ("python", "notebook")

    @property
    def is_test(self) -> bool:
        return is_test_path(self.path)

    @property
    def is_ci(self) -> bool:
        # A monorepo's CI file is read as ../../.github/workflows/x.yml: match it from its top.
        return bool(CI_FILE.match(re.sub(r"^(?:\.\./)+", "", self.path)))

    def where(self, line: int) -> str:
        if not self.cells:
            return f"{self.path}:{line}"
        starts = [start for start, _ in self.cells]
        return f"{self.path}, cell {self.cells[max(bisect.bisect_right(starts, line) - 1, 0)][1]}"

    def hit(self, line: int, matched: str | None = None) -> Hit:
        text = self.lines[line - 1].strip() if matched is None else matched
        return Hit(self.path, line, self.where(line), text[:77] + "..." if len(text) > 80 else text)

    def find(self, pattern: re.Pattern, skip: re.Pattern | None = None) -> Hit | None:
        """The first line that matches `pattern` (and not `skip`)."""
        for number, line in enumerate(self.lines, 1):
            if pattern.search(line) and not (skip and skip.search(line)):
                return self.hit(number)
        return None

    def imports_any(self, modules: Iterable[str]) -> tuple[str, int] | None:
        roots = tuple(modules)
        for name, line in self.imports:
            if name in roots or name.startswith(tuple(f"{root}." for root in roots)):
                return name, line
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


def _wanted(name: str) -> bool:
    lower = name.lower()
    return (
        Path(lower).suffix in CODE_SUFFIXES | CONFIG_SUFFIXES
        or lower in CONFIG_NAMES
        or lower.startswith(("dockerfile", "jenkinsfile"))
        or lower.endswith((".dockerfile", ".jenkinsfile"))
        or (lower.startswith("requirements") and lower.endswith(".txt"))
    ) and name not in NEVER_READ


class Repo:
    """The code and config files of a folder, read once."""

    def __init__(self, root: Path):
        self.root = root
        self.sources: list[Source] = []
        self.code_files: list[str] = []  # every .py and notebook, even one too large to read
        for folder, dirs, files in os.walk(root):
            dirs[:] = sorted(d for d in dirs if not _skipped(d))
            for name in sorted(files):
                path = Path(folder) / name
                relative = path.relative_to(root).as_posix()
                if Path(name).suffix.lower() in CODE_SUFFIXES:
                    self.code_files.append(relative)
                if _wanted(name):
                    self._read(path, relative)
        for path, relative in _monorepo_ci(root):
            self._read(path, relative)

    def _read(self, path: Path, relative: str) -> None:
        if not path.is_file() or path.stat().st_size > MAX_BYTES:
            return
        try:
            content = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return
        source = _parse(relative, content)
        if source is not None:
            self.sources.append(source)

    def code(self, tests: bool = False) -> Iterator[Source]:
        """Python files and notebooks; test files only when `tests`."""
        return (s for s in self.sources if s.is_code and s.is_test == tests)

    def configs(self) -> Iterator[Source]:
        return (s for s in self.sources if s.kind == "config")

    def ci(self) -> Iterator[Source]:
        return (s for s in self.sources if s.is_ci)

    def find(self, pattern: re.Pattern, sources: Iterable[Source]) -> Hit | None:
        return next((hit for s in sources if (hit := s.find(pattern))), None)


def _skipped(folder: str) -> bool:
    """Tools' and environments' folders, and unrendered templates (their code is not the repo's)."""
    return folder in SKIP_DIRS or folder.endswith(".egg-info") or "{{" in folder


def _monorepo_ci(root: Path) -> Iterator[tuple[Path, str]]:
    """The CI files at the top of the git repository that holds `root` when that top is above
    it (a project in a monorepo), each with its path from `root` (../../.github/...)."""
    try:
        done = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--show-toplevel"],
            capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return  # no git
    here = root.resolve()
    found = done.stdout.strip() if done.returncode == 0 else ""
    top = Path(found).resolve() if found else here
    if top not in here.parents:
        return
    candidates = sorted(path for path in top.iterdir() if path.is_file())
    for folder in CI_FOLDERS:
        if (top / folder).is_dir():
            candidates += sorted(path for path in (top / folder).rglob("*") if path.is_file())
    for path in candidates:
        if CI_FILE.match(path.relative_to(top).as_posix()):
            yield path, Path(os.path.relpath(path, here)).as_posix()


def _parse(path: str, content: str) -> Source | None:
    suffix = PurePosixPath(path).suffix.lower()
    if suffix == ".py":
        lines, imports, calls = _python(content)
        return Source(path, "python", lines, imports, calls)
    if suffix == ".ipynb":
        return _notebook(path, content)
    comment = r"(?:^|\s)//.*$" if "jenkinsfile" in path.lower() or suffix == ".groovy" else None
    lines = [_strip_comment(line, comment) for line in content.splitlines()]
    return Source(path, "config", lines)


def _strip_comment(line: str, other: str | None = None) -> str:
    line = re.sub(r"(?:^|\s)#.*$", "", line)
    return re.sub(other, "", line) if other else line


# A magic or shell escape, or a help request: a whole line `?obj`, `obj?` or `obj??`.
NOT_PYTHON = re.compile(r"\s*[%!]|\s*(?:\?\??[\w.*]+|[\w.*]+\?\??)\s*$")


def _notebook(path: str, content: str) -> Source | None:
    try:
        cells = json.loads(content).get("cells", [])
    except (ValueError, AttributeError):
        return None
    source = Source(path, "notebook", [])
    for number, cell in enumerate(cells, 1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        text = cell.get("source", "")
        text = "".join(text) if isinstance(text, list) else str(text)
        # IPython magics, shell escapes and help requests are not Python.
        text = "\n".join("" if NOT_PYTHON.match(line) else line for line in text.split("\n"))
        lines, imports, calls = _python(text, offset=len(source.lines))
        source.cells.append((len(source.lines) + 1, number))
        source.lines += lines
        source.imports += imports
        source.calls += calls
    return source


def _python(content: str, offset: int = 0) -> tuple[list[str], list[tuple[str, int]], list[Call]]:
    """Lines without comments and docstrings, imports and resolved calls (lines + offset)."""
    lines = content.split("\n")
    try:
        tree = ast.parse(content)
    except (SyntaxError, ValueError, RecursionError):  # not Python 3, or a template: use lines
        lines = [_strip_comment(line) for line in lines]
        return lines, _regex_imports(lines, offset), _regex_calls(lines, offset)
    try:
        for token in tokenize.generate_tokens(io.StringIO(content).readline):
            if token.type == tokenize.COMMENT:
                row, column = token.start
                lines[row - 1] = lines[row - 1][:column].rstrip()
    except (tokenize.TokenError, SyntaxError):
        pass
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            first = body[0] if body else None
            if (
                isinstance(first, ast.Expr)
                and isinstance(first.value, ast.Constant)
                and isinstance(first.value.value, str)
                and first.lineno != getattr(node, "lineno", 0)
            ):
                for row in range(first.lineno - 1, first.end_lineno or first.lineno):
                    lines[row] = ""
    aliases: dict[str, str] = {}
    imports = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                aliases[alias.asname or alias.name.split(".")[0]] = (
                    alias.name if alias.asname else alias.name.split(".")[0]
                )
                imports.append((alias.name, node.lineno + offset))
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            imports.append((node.module, node.lineno + offset))
            for alias in node.names:
                aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    calls = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = _resolve(_dotted(node.func), aliases)
            keywords = tuple(k.arg for k in node.keywords if k.arg)
            calls.append(Call(name, node.lineno + offset, keywords))
    return lines, imports, sorted(calls, key=lambda call: call.line)


def _dotted(node: ast.expr) -> str:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    parts.append(node.id if isinstance(node, ast.Name) else "?")
    return ".".join(reversed(parts))


def _resolve(name: str, aliases: dict[str, str]) -> str:
    head, _, rest = name.partition(".")
    head = aliases.get(head, head)
    return f"{head}.{rest}" if rest else head


IMPORT_LINE = re.compile(r"^\s*(?:from\s+([\w.]+)\s+import\s+(.+)|import\s+([\w., ]+))")


def _regex_imports(lines: list[str], offset: int) -> list[tuple[str, int]]:
    found = []
    for number, line in enumerate(lines, 1 + offset):
        if match := IMPORT_LINE.match(line):
            names = [match.group(1)] if match.group(1) else match.group(3).split(",")
            found += [(name.split(" as ")[0].strip(), number) for name in names if name.strip()]
    return found


def _regex_calls(lines: list[str], offset: int) -> list[Call]:
    aliases = {}
    for line in lines:
        if match := IMPORT_LINE.match(line):
            if match.group(1):
                for name in match.group(2).strip("() ").split(","):
                    real, _, alias = name.strip().partition(" as ")
                    aliases[(alias or real).strip()] = f"{match.group(1)}.{real.strip()}"
            else:
                for name in match.group(3).split(","):
                    real, _, alias = name.strip().partition(" as ")
                    aliases[(alias or real.split(".")[0]).strip()] = (
                        real.strip() if alias else real.split(".")[0]
                    )
    return [
        Call(_resolve(match.group(1), aliases), number, ())
        for number, line in enumerate(lines, 1 + offset)
        for match in re.finditer(r"([A-Za-z_][\w.]*)\s*\(", line)
    ]


# --- The criteria ---------------------------------------------------------------------------


def _preferring(sources: Iterable[Source], word: str) -> list[Source]:
    """Sources whose file name holds `word` first: the likeliest place of the evidence."""
    return sorted(sources, key=lambda s: not word or word not in PurePosixPath(s.path).name)


def _calls(repo: Repo, accept: Callable[[Call], bool], prefer: str = "") -> Hit | None:
    for source in _preferring(repo.code(), prefer):
        for call in source.calls:
            if accept(call):
                return source.hit(call.line)
    return None


ML_LIBRARIES = (
    "sklearn", "torch", "tensorflow", "keras", "xgboost", "lightgbm", "catboost", "jax",
    "statsmodels", "transformers", "pytorch_lightning", "lightning", "prophet", "sktime",
)  # fmt: skip


def check_code(repo: Repo) -> Evidence | None:
    notebooks = [path for path in repo.code_files if path.endswith(".ipynb")]
    if notebooks:
        return (Hit(notebooks[0], 0, notebooks[0], "a notebook"),)
    for source in repo.code():
        if found := source.imports_any(ML_LIBRARIES):
            return (source.hit(found[1]),)
    if repo.code_files:
        return (Hit(repo.code_files[0], 0, repo.code_files[0], "Python code"),)
    return None


TEST_FUNCTION = re.compile(r"^\s*(?:async\s+)?def\s+test\w*\s*\(|^\s*class\s+\w+\(.*TestCase")


def check_tests(repo: Repo) -> Evidence | None:
    for source in repo.code(tests=True):
        if source.kind == "python" and (hit := source.find(TEST_FUNCTION)):
            return (hit,)
    return None


CI_CHECKS = (  # most telling first: a test runner, a test step, a linter
    re.compile(r"\b(?:pytest|py\.test|tox|nox|unittest|coverage)\b", re.I),
    re.compile(r"\btests?\b", re.I),
    re.compile(r"\b(?:lint|ruff|flake8|pylint|mypy|pre-commit|black)\b", re.I),
)


def check_ci(repo: Repo) -> Evidence | None:
    hit = next((hit for p in CI_CHECKS if (hit := repo.find(p, repo.ci()))), None)
    return (hit,) if hit else None


def near_ci(repo: Repo) -> str | None:
    files = [s.path for s in repo.ci()]
    return f"{files[0]} runs neither tests nor lint" if files else None


TRACKERS = ("mlflow", "wandb", "neptune", "comet_ml", "clearml", "dvclive", "aim")
TRACKING_CALL = re.compile(
    r"\.(?:start_run|autolog|log(?:_\w+)?|init\w*|set_experiment|create_experiment|Experiment|start"
    r"|Live|Run|track|Task\.init)$"
)
FRAMEWORK_LOGGERS = re.compile(
    r"(?:MLFlow|Wandb|Neptune|Comet|DVCLive|Aim|ClearML)Logger$|Wandb\w*Callback$|MLflowCallback$"
)
REPORT_TO = re.compile(
    r"report_to\s*=\s*[\[(]?\s*[\"'](?:mlflow|wandb|comet_ml|neptune|clearml|dvclive)"
)


def _tracking_call(call: Call) -> bool:
    return bool(
        (call.name.split(".")[0] in TRACKERS and TRACKING_CALL.search(call.name))
        or FRAMEWORK_LOGGERS.search(call.name)
    )


def check_tracking(repo: Repo) -> Evidence | None:
    hit = _calls(repo, _tracking_call, prefer="train") or repo.find(REPORT_TO, repo.code())
    return (hit,) if hit else None


def near_tracking(repo: Repo) -> str | None:
    for source in repo.code():
        if found := source.imports_any(TRACKERS):
            return f"{source.where(found[1])} imports {found[0]} but logs no run"
    return None


ZENML_PIPELINE = re.compile(r"^\s*@(?:zenml\.)?pipeline\b")
METAFLOW_FLOW = re.compile(r"^\s*class\s+\w+\(.*\bFlowSpec\b")


def check_versioned(repo: Repo) -> Evidence | None:
    for source in repo.configs():
        name = PurePosixPath(source.path).name
        if name == "dvc.yaml" and (hit := source.find(re.compile(r"^stages\s*:"))):
            return (source.hit(hit.line, "a DVC pipeline (stages; dvc.lock pins their data)"),)
        if name.endswith(".dvc") and (hit := source.find(re.compile(r"^\s*-?\s*md5\s*:|^outs"))):
            return (source.hit(hit.line, "DVC-tracked data"),)
        if name.startswith("catalog") and (hit := source.find(re.compile(r"versioned:\s*true"))):
            return (source.hit(hit.line, "Kedro versioned dataset"),)
        text = source.text
        if re.search(r"^pipeline\s*:", text, re.M) and re.search(r"\bpfs\s*:", text):
            return (source.hit(1, "a Pachyderm pipeline (versioned data repos)"),)
    for source in repo.code():
        if source.imports_any(["zenml"]) and (hit := source.find(ZENML_PIPELINE)):
            return (hit,)
        if source.imports_any(["metaflow"]) and (hit := source.find(METAFLOW_FLOW)):
            return (hit,)
    return None


def near_versioned(repo: Repo) -> str | None:
    if (repo.root / ".dvc").is_dir():
        return "DVC is initialised (.dvc/) but tracks no data and has no dvc.yaml"
    if any(PurePosixPath(s.path).name == "MLproject" for s in repo.sources):
        return "MLproject runs the code, but versions neither data nor pipeline outputs"
    return None


REGISTRY = re.compile(
    r"\b(?:register_model|registered_model_name|set_registered_model_alias"
    r"|transition_model_version_stage|create_model_version|create_registered_model|link_model"
    r"|init_model_version|model_package_group_name|OutputModel)\b"
    r"|models:/|wandb-registry-|model-registry/|\bModel\.upload\(|\bmodels\.create_or_update\("
)


def check_registry(repo: Repo) -> Evidence | None:
    hit = repo.find(REGISTRY, repo.code())
    return (hit,) if hit else None


def near_registry(repo: Repo) -> str | None:
    hit = repo.find(re.compile(r"\blog_model\("), repo.code())
    return f"{hit.where} logs a model, but nothing registers it" if hit else None


GATE_API = re.compile(
    r"\b(?:MetricThreshold|validation_thresholds|validate_evaluation_results"
    r"|GenericChangeThreshold|baseline_model)\b"
)
COMPARISON = re.compile(r"(?<![-=<>])(?:<=?|>=?)(?![<>=])")
NEW = re.compile(r"challenger|candidate|new_?model|new_(?:score|metric|rmse|mae|loss|acc)", re.I)
OLD = re.compile(r"champion|production|\bprod_|baseline|current|incumbent|old_?model", re.I)
PROMOTE = re.compile(
    r"set_registered_model_alias|transition_model_version_stage|promot|alias|deploy"
    r"|copy_model_version|link_model",
    re.I,
)
GATE_STAGE = re.compile(r"^\s*(?:[\w-]*[_-])?gate(?:[_-][\w-]*)?\s*:\s*$", re.I)
# What a CI gate job must deal with to gate a model, not code quality (a SonarQube quality gate).
GATE_SUBJECT = re.compile(
    r"model|(?<![a-z])(?:re)?train|\bdvc\b|mlflow|champion|challenger|\bmetrics?\b|evaluat", re.I
)


def _block(lines: list[str], number: int) -> str:
    """Line `number` and the lines nested under it (indented deeper), as YAML nests them."""
    depth = len(lines[number - 1]) - len(lines[number - 1].lstrip())
    block = [lines[number - 1]]
    for line in lines[number:]:
        if line.strip() and len(line) - len(line.lstrip()) <= depth:
            break
        block.append(line)
    return "\n".join(block)


def check_gate(repo: Repo) -> Evidence | None:
    if hit := repo.find(GATE_API, repo.code()):
        return (hit,)
    for source in repo.code():
        if not PROMOTE.search(source.text):
            continue
        for number, line in enumerate(source.lines, 1):
            if COMPARISON.search(line) and NEW.search(line) and OLD.search(line):
                return (source.hit(number),)
    for source in repo.configs():
        dvc = PurePosixPath(source.path).name == "dvc.yaml"  # its stages are the ML pipeline's
        if not (dvc or source.is_ci):
            continue
        for number, line in enumerate(source.lines, 1):
            if GATE_STAGE.search(line) and (
                dvc or GATE_SUBJECT.search(_block(source.lines, number))
            ):
                return (source.hit(number),)
    return None


PREDICT_PATH = r"/(?:[\w{}.-]+/)*(?:predict\w*|predictions?|score|scoring|invocations|infer\w*)\b"
ROUTE = re.compile(
    r"@[\w.]+\.(?:post|get|put|route|api_route)\(\s*[rf]?[\"']" + PREDICT_PATH
    + r"|(?:add_url_rule|add_api_route|Route)\(\s*[rf]?[\"']" + PREDICT_PATH
    + r"|@(?:bentoml|svc|service)\.api\b|@bentoml\.service|bentoml\.Service\("
    + r"|@serve\.deployment|\bLitAPI\b|\bBasePredictor\b|\bkserve\.Model\b"
)  # fmt: skip
SERVE_COMMAND = re.compile(r"mlflow\s+models\s+serve|torchserve\s+--start|tritonserver\b")
CLIENT = re.compile(
    r"TestClient\(|\.test_client\(|ASGITransport|AsyncClient\(|requests\.(?:post|get|Session)"
    r"|httpx\.(?:post|get|Client)|urlopen\(|aiohttp|bentoml\.testing|\bclient\.(?:post|get)\("
)


def _app(repo: Repo) -> Hit | None:
    return repo.find(ROUTE, repo.code()) or repo.find(SERVE_COMMAND, repo.configs())


def check_service(repo: Repo) -> Evidence | None:
    app = _app(repo)
    if app is None:
        return None
    module = re.escape(PurePosixPath(app.path).stem)
    uses_app = re.compile(rf"(?:import|from)\s+[\w.]*\b{module}\b|{PREDICT_PATH}[\"'/?]")
    for source in repo.code(tests=True):
        if CLIENT.search(source.text) and (hit := source.find(uses_app)):
            return app, hit
    return None


def near_service(repo: Repo) -> str | None:
    app = _app(repo)
    return f"{app.where} serves predictions, but no test calls it" if app else None


DOCS_DEPLOY = re.compile(r"pages|gh-deploy|mkdocs|sphinx|\bdocs?\b|documentation", re.I)
PACKAGE_PUBLISH = re.compile(
    r"pypi-publish|twine\s+upload|(?:uv|poetry|flit|hatch|pdm)\s+publish|npm\s+publish"
    r"|action-gh-release"
)
DEPLOY_COMMAND = re.compile(
    r"\bkubectl\s+(?:apply|set|rollout|create)|\bhelm\s+(?:upgrade|install)|gcloud\s.*\bdeploy\b"
    r"|\baz\s+(?:ml|webapp|containerapp|functionapp)\b|\baws\s+(?:sagemaker|ecs|lambda)\b"
    r"|\b(?:serverless|fly|flyctl|cdk|sam)\s+deploy|terraform\s+apply|bentoml\s+(?:deploy|push)"
    r"|mlflow\s+deployments|docker\s+push|podman\s+push"
    r"|--push\b|^\s*push\s*:\s*(?:true|\$\{\{)",  # an image action's push: true (or on main)
    re.I,
)
DEPLOY_WORD = re.compile(r"\bdeploy\w*|\bpromot(?:e|es|ed|ion)\b", re.I)
NOT_DEPLOY = re.compile(DOCS_DEPLOY.pattern + r"|^\s*deployments\s*:\s*(?:read|write)", re.I)


QUOTES = "\"'"


def _environment(source: Source) -> Hit | None:
    """A deployment environment (GitHub, GitLab, Azure), other than docs or package indexes."""
    for number, line in enumerate(source.lines, 1):
        match = re.match(r"^\s*environment\s*:\s*(\S*)", line)
        if not match:
            continue
        name = match.group(1)
        if not name:
            after = " ".join(source.lines[number : number + 3])
            name = m.group(1) if (m := re.search(r"name\s*:\s*(\S+)", after)) else ""
        if name and not re.search(r"pypi|pages|docs", name, re.I):
            return source.hit(number, f"environment: {name.strip(QUOTES)}")
    return None


def _named(source: Source, hit: Hit) -> Hit:
    """`push: true` says little alone: name the action it is an input of."""
    if re.match(r"push\s*:", hit.matched):
        for line in reversed(source.lines[: hit.line - 1]):
            if uses := re.search(r"\buses\s*:\s*(\S+)", line):
                return source.hit(hit.line, f"{uses.group(1)} with {hit.matched}")
    return hit


def check_cd(repo: Repo) -> Evidence | None:
    for source in repo.ci():
        if hit := source.find(DEPLOY_COMMAND, skip=DOCS_DEPLOY):
            return (_named(source, hit),)
    for source in repo.ci():
        if re.search(r"pages|gh-deploy", source.text, re.I) or PACKAGE_PUBLISH.search(source.text):
            continue  # publishes documentation or a package, whatever its jobs are called
        if hit := _environment(source):
            return (hit,)
        if hit := source.find(DEPLOY_WORD, skip=NOT_DEPLOY):
            return (hit,)
    for source in repo.configs():
        if re.search(r"argoproj\.io", source.text) and re.search(
            r"kind:\s*Application", source.text
        ):
            return (source.hit(1, "an Argo CD application"),)
    return None


def near_cd(repo: Repo) -> str | None:
    hit = repo.find(PACKAGE_PUBLISH, repo.ci())
    return f"{hit.where} publishes a package release, not a model or its service" if hit else None


MONITORS = (
    "evidently", "whylogs", "nannyml", "alibi_detect", "frouros", "arize", "fiddler",
    "whylabs", "sagemaker.model_monitor", "azureml.datadrift",
)  # fmt: skip
PREDICTION_METRIC = re.compile(
    r"(?:Counter|Gauge|Histogram|Summary)\(\s*[\"'][\w:]*(?:predict|inference|score|drift)", re.I
)
PREDICTION_LOG = re.compile(
    r"(?:prediction|inference)s?_?log(?:s|ger|ging)?\b|\bpredlog\b|\blog_predictions?\b", re.I
)
DATA_CAPTURE = re.compile(r"\bDataCaptureConfig\b")  # a SageMaker endpoint's prediction log
SERVING_MODULE = re.compile(r"(?:^|_)(?:serve|server|serving|service|app|api|endpoint|inference)$")
STATISTICAL_TEST = re.compile(r"ks_2samp|wasserstein_distance|jensenshannon|population_stability")


def check_monitoring(repo: Repo) -> Evidence | None:
    for source in repo.code():
        if found := source.imports_any(MONITORS):
            return (source.hit(found[1]),)
    for source in repo.code():
        if source.imports_any(["prometheus_client"]) and (hit := source.find(PREDICTION_METRIC)):
            return (hit,)
    for source in repo.code():
        if re.search(r"drift", source.text, re.I) and (hit := source.find(STATISTICAL_TEST)):
            return (hit,)
    for source in repo.code():
        if hit := source.find(DATA_CAPTURE):
            return (hit,)
        # Only the serving code logs the predictions made in production; elsewhere, a
        # "prediction log" is a training or evaluation output.
        stem = PurePosixPath(source.path).stem
        if (ROUTE.search(source.text) or SERVING_MODULE.search(stem)) and (
            hit := source.find(PREDICTION_LOG)
        ):
            return (hit,)
    return None


SCHEDULE = re.compile(
    r"\bcron\b|Cron(?:Job|Workflow)\b|CI_PIPELINE_SOURCE\W+schedule|^\s*-\s*schedules\s*$"
    r"|only:\s*\[?\s*schedules",
    re.I,
)
CRONTAB_LINE = re.compile(r"^\s*(?:[\d*/,-]+\s+){4}[\d*/,-]+\s+\S")
TRAINS = re.compile(
    r"(?<![a-z])(?:re)?train|dvc\s+(?:repro|exp\s+run)|kedro\s+run|mlflow\s+run|\.fit\(", re.I
)
TEST_RUN = re.compile(r"\b(?:pytest|py\.test|unittest)\b")
SCHEDULERS = ("airflow", "prefect", "dagster", "schedule", "apscheduler", "kfp", "zenml")
SCHEDULE_KEYWORDS = {"schedule_interval", "cron", "cron_schedule"}
SCHEDULE_CALLS = re.compile(
    r"\.(?:ScheduleDefinition|CronSchedule|schedule|every|add_job|Schedule|CronTrigger)$"
)
RETRAIN_ROUTE = re.compile(r"@[\w.]+\.(?:post|get|put|route)\(\s*[rf]?[\"']/(?:[\w-]+/)*retrain")


def _scheduled(call: Call) -> bool:
    if SCHEDULE_KEYWORDS & set(call.keywords):
        return True
    return call.name.split(".")[0] in SCHEDULERS and bool(
        "schedule" in call.keywords or SCHEDULE_CALLS.search(call.name)
    )


def _trains(source: Source) -> bool:
    """A line trains; one that runs tests does not, even tests/test_train.py."""
    return any(TRAINS.search(line) and not TEST_RUN.search(line) for line in source.lines)


def check_retraining(repo: Repo) -> Evidence | None:
    for source in repo.configs():
        if not _trains(source):
            continue
        crontab = PurePosixPath(source.path).name == "crontab"
        if hit := source.find(CRONTAB_LINE if crontab else SCHEDULE):
            return (hit,)
        if source.is_ci and (hit := source.find(re.compile(r"^\s*repository_dispatch\b"))):
            return (hit,)
    for source in repo.code():
        if _trains(source):
            for call in source.calls:
                if _scheduled(call):
                    return (source.hit(call.line),)
    hit = repo.find(RETRAIN_ROUTE, repo.code())
    return (hit,) if hit else None


def near_retraining(repo: Repo) -> str | None:
    policy = re.compile(r"\bretrain\w*", re.I)
    for source in _preferring(repo.code(), "retrain"):
        if re.search(r"drift|threshold", source.text, re.I) and (hit := source.find(policy)):
            return f"{hit.where} retrains on a threshold, but no schedule or event runs it"
    hit = repo.find(SCHEDULE, repo.ci())
    return f"{hit.where} runs on a schedule, but does not train" if hit else None


@dataclass(frozen=True)
class Criterion:
    """One maturity criterion: met when `check` finds evidence."""

    id: str
    level: int
    name: str
    evidence: str  # what counts, in plain words
    check: Callable[[Repo], Evidence | None]
    near: Callable[[Repo], str | None] = lambda repo: None


CRITERIA = (
    Criterion(
        "code", 0, "ML code", "a notebook or Python code (.py, .ipynb)", check_code
    ),
    Criterion(
        "tests", 1, "Unit tests",
        "test functions (pytest or unittest) in tests/, test_*.py, *_test.py or tests.py",
        check_tests,
    ),
    Criterion(
        "ci", 1, "CI runs the tests",
        "a CI config that tests or lints (GitHub Actions, GitLab CI, Jenkinsfile, Azure Pipelines,"
        " CircleCI, Bitbucket Pipelines, Travis, ...)", check_ci, near_ci,
    ),
    Criterion(
        "tracking", 2, "Tracked training runs",
        "code that logs runs to MLflow, W&B, Neptune, Comet, ClearML, DVCLive or Aim",
        check_tracking, near_tracking,
    ),
    Criterion(
        "versioned", 2, "Versioned data and pipeline",
        "a DVC pipeline (dvc.yaml) or DVC-tracked data (*.dvc); Kedro versioned datasets,"
        " a Pachyderm, ZenML or Metaflow pipeline", check_versioned, near_versioned,
    ),
    Criterion(
        "registry", 3, "Model registry",
        "code that registers models or addresses them in a registry (MLflow register_model,"
        " aliases or stages, models:/ URIs; W&B link_model; Neptune, SageMaker, Vertex, Azure ML)",
        check_registry, near_registry,
    ),
    Criterion(
        "gate", 3, "Evaluation gate",
        "code that compares the candidate with the production model before promoting it"
        " (champion/challenger, MLflow MetricThreshold), a DVC gate stage or a CI gate job about"
        " the model", check_gate,
    ),
    Criterion(
        "service", 3, "Tested scoring service",
        "a /predict-style route (FastAPI, Flask, BentoML, Ray Serve, ...) and a test that calls it",
        check_service, near_service,
    ),
    Criterion(
        "cd", 3, "Continuous delivery of the model",
        "a CI workflow that deploys or promotes the model or pushes its image (a deploy job,"
        " kubectl/helm/cloud deploy, docker push, a GitHub environment)", check_cd, near_cd,
    ),
    Criterion(
        "monitoring", 4, "Production monitoring",
        "drift or performance monitoring (Evidently, whylogs, NannyML, Alibi Detect, ...),"
        " Prometheus metrics of predictions, or a prediction log that the service writes",
        check_monitoring,
    ),
    Criterion(
        "retraining", 4, "Retraining trigger",
        "a scheduled (cron) or event-triggered job that retrains (CI schedule, CronJob,"
        " Airflow/Prefect/Dagster schedule, a /retrain webhook)", check_retraining,
        near_retraining,
    ),
)  # fmt: skip


# --- Assessing and reporting ----------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    """A criterion, the evidence found for it, and what came close when none was."""

    criterion: Criterion
    evidence: Evidence | None
    note: str | None

    @property
    def met(self) -> bool:
        return self.evidence is not None


def assess(root: Path) -> dict:
    """The level a folder reaches and, per criterion, the evidence or what is missing."""
    repo = Repo(root)
    results = []
    for criterion in CRITERIA:
        evidence = criterion.check(repo)
        note = criterion.near(repo) if evidence is None else None
        results.append(Result(criterion, evidence, note))
    level = 0
    for candidate in range(1, TOP + 1):
        if not all(r.met for r in results if r.criterion.level == candidate):
            break
        level = candidate
    upper = level + 1 if level < TOP else None
    return {
        "path": str(root),
        "level": level,
        "level_name": LEVELS[level],
        "has_code": any(r.met for r in results if r.criterion.id == "code"),
        "criteria": [
            {
                "id": r.criterion.id,
                "level": r.criterion.level,
                "name": r.criterion.name,
                "met": r.met,
                "evidence": [
                    {"path": h.path, "line": h.line, "where": h.where, "matched": h.matched}
                    for h in r.evidence or ()
                ],
                "looked_for": r.criterion.evidence,
                "note": r.note,
            }
            for r in results
        ],
        "next": None
        if upper is None
        else {
            "level": upper,
            "name": LEVELS[upper],
            "missing": [
                r.criterion.id for r in results if r.criterion.level == upper and not r.met
            ],
            "diff": f"python3 -m nox -s diff -- {level} {upper}",
            "upgrade": f"python3 -m nox -s upgrade -- {shlex.quote(str(root))}"
            if (root / MARKER).is_file()  # its presence only; what it claims is never read
            else None,
        },
    }


def _wrap(line: str) -> str:
    return textwrap.fill(
        line, width=100, subsequent_indent=" " * 6, break_long_words=False, break_on_hyphens=False
    )


def report(result: dict) -> str:
    """The assessment as plain text for a terminal."""
    out = [f"MLOps maturity of {result['path']}", ""]
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
    if not result["has_code"]:
        out.append("No code at all here (no .py file, no notebook): not even level 0's notebook.")
    out.append(f"Level reached: {result['level']} ({result['level_name']})")
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


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Assess a repository's MLOps maturity level.")
    parser.add_argument("path", type=Path, help="the repository (any folder) to assess")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    args = parser.parse_args(argv)
    if not args.path.is_dir():
        problem = "is not a directory" if args.path.exists() else "does not exist"
        print(f"assess: error: {args.path} {problem}", file=sys.stderr)
        return 2
    result = assess(args.path.resolve())
    sys.stdout.write(json.dumps(result, indent=2) + "\n" if args.json else report(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
