"""Every level renders, with default and odd answers, into exactly the files it should."""

import json
import re
import subprocess
import tomllib
from collections.abc import Callable
from pathlib import Path

import nbformat
import pytest
import yaml
from answers import ODD_ANSWERS
from pytest import FixtureRequest

from mlops_ladder import ladder

PACKAGE_MODULES = [
    "__init__", "__main__", "cli", "config", "data", "evaluate", "features", "predict",
    "schema", "simulate", "train",
]  # fmt: skip
TEST_MODULES = ["conftest", "test_cli", "test_data", "test_schema", "test_simulate", "test_train"]
EXPECTED_FILES = {
    0: {
        ".gitignore",
        ".mlops-ladder.json",
        "README.md",
        "duration-prediction.ipynb",
        "requirements.in",
        "requirements.txt",
        "tlc_simulator.py",
    },
    1: {
        ".github/workflows/ci.yml",
        ".github/workflows/release.yml",
        ".gitignore",
        ".mlops-ladder.json",
        ".pre-commit-config.yaml",
        ".python-version",
        "Makefile",
        "README.md",
        "duration-prediction.ipynb",
        "pyproject.toml",
        "uv.lock",
        *(f"src/{{package}}/{name}.py" for name in PACKAGE_MODULES),
        *(f"tests/{name}.py" for name in TEST_MODULES),
    },
}
EXPECTED_FILES[2] = EXPECTED_FILES[1] | {
    ".dvc/.gitignore",
    ".dvc/config",
    ".dvc/plots/offline.html",
    ".dvcignore",
    "dvc.yaml",
    "params.yaml",
    "src/{package}/prepare.py",
    "src/{package}/tracking.py",
    "src/{package}/artifacts.py",
    "tests/test_pipeline.py",
    "tests/test_config.py",
}
EXPECTED_FILES[3] = EXPECTED_FILES[2] | {
    ".dockerignore",
    ".github/workflows/cd.yml",
    "Dockerfile",
    "docker-compose.yml",
    *(f"src/{{package}}/{name}.py" for name in ("deploy", "gate", "ingest", "registry", "serve")),
    "src/{package}/validate.py",
    *(f"tests/test_{name}.py" for name in ("deploy", "gate", "ingest", "serve")),
}
EXPECTED_FILES[4] = EXPECTED_FILES[3] | {
    ".github/workflows/retrain.yml",
    *(
        f"src/{{package}}/{name}.py"
        for name in ("dashboard", "monitor", "predlog", "replay", "retrain")
    ),
    *(
        f"tests/test_{name}.py"
        for name in ("dashboard", "monitor", "predlog", "registry", "replay", "retrain")
    ),
}
ANSWER_SETS = {"default": {}, "odd": ODD_ANSWERS}
CASES = [(level, name) for level in ladder.levels() for name in ANSWER_SETS]
LEFTOVER_JINJA = re.compile(r"(?<!\$)\{\{|\{%|\{#")
# Copied without rendering: a third-party build, whose code may hold `{#` and the like.
VENDORED = {".dvc/plots/offline.html"}


Rendered = tuple[int, Path, dict[str, str]]  # a level, its project, and the answers


@pytest.fixture(params=CASES, ids=[f"level{level}-{name}" for level, name in CASES])
def project(request: FixtureRequest, bake: Callable[..., Path]) -> Rendered:
    level, name = request.param
    return level, bake(level, ANSWER_SETS[name]), ANSWER_SETS[name]


def test_render__exactly_the_expected_files(project: Rendered) -> None:
    level, path, answers = project
    assert level in EXPECTED_FILES, f"level {level} has no expected file list in this test"
    package = answers.get("package_name", path.name)
    expected = {name.format(package=package) for name in EXPECTED_FILES[level]}
    assert set(ladder.tree(path)) == expected


def test_render__no_template_syntax_left(project: Rendered) -> None:
    _, path, _ = project
    leftovers = {
        name: LEFTOVER_JINJA.findall(content.decode())
        for name, content in ladder.tree(path).items()
        if name not in VENDORED and LEFTOVER_JINJA.search(content.decode())
    }
    assert not leftovers


def test_render__answers_reach_the_project(bake: Callable[..., Path]) -> None:
    path = bake(1, ODD_ANSWERS)
    assert path.name == "taxi_elan_duration_2"
    assert (path / "README.md").read_text().startswith("# Taxi Élan Duration 2\n")
    meta = tomllib.loads((path / "pyproject.toml").read_text())["project"]
    author = {"name": ODD_ANSWERS["author_name"], "email": ODD_ANSWERS["author_email"]}
    assert meta["authors"] == [author]
    assert meta["description"] == ODD_ANSWERS["description"]
    assert meta["requires-python"] == ">=3.11"  # what uv.lock resolves for, whatever the answer
    assert (path / ".python-version").read_text().strip() == "3.13"


def test_render__the_project_records_its_level_and_answers(project: Rendered) -> None:
    level, path, answers = project
    record = json.loads((path / ".mlops-ladder.json").read_text())
    assert record["level"] == level
    assert answers.items() <= record["answers"].items()
    assert record["answers"]["project_slug"] == path.name


def test_render__notebooks_are_valid(project: Rendered) -> None:
    _, path, _ = project
    notebooks = list(path.glob("*.ipynb"))
    assert notebooks
    for notebook in notebooks:
        nbformat.validate(nbformat.read(notebook, as_version=4))


def test_render__code_passes_ruff(project: Rendered) -> None:
    """Level 0 has no ruff config of its own; its code is held to the same line length."""
    _, path, _ = project
    for command in (["ruff", "check"], ["ruff", "format", "--check"]):
        result = subprocess.run(
            [*command, "--no-cache", "--line-length", "100", "."],
            cwd=path,
            capture_output=True,
            text=True,
        )
        assert result.returncode == 0, result.stdout + result.stderr


def test_render__config_files_parse(project: Rendered) -> None:
    _, path, _ = project
    for toml_file in path.glob("*.toml"):
        tomllib.loads(toml_file.read_text())
    for yaml_file in [*path.glob("*.yaml"), *path.glob(".*.yaml"), *path.glob(".github/*/*.yml")]:
        assert isinstance(yaml.safe_load(yaml_file.read_text()), dict), yaml_file


@pytest.mark.parametrize("level", [lv for lv in ladder.levels() if lv >= 1])
def test_render__workflows_are_valid_github_actions(bake: Callable[..., Path], level: int) -> None:
    workflows = sorted((bake(level) / ".github" / "workflows").glob("*.yml"))
    assert workflows
    result = subprocess.run(
        ["check-jsonschema", "--builtin-schema", "vendor.github-workflows", *map(str, workflows)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def audit(folder: Path) -> subprocess.CompletedProcess[str]:
    """zizmor's offline audit of a folder's workflows, findings of medium severity and above."""
    return subprocess.run(
        ["zizmor", "--offline", "--min-severity", "medium", ".github/workflows"],
        cwd=folder,
        capture_output=True,
        text=True,
    )


@pytest.mark.parametrize("level", [lv for lv in ladder.levels() if lv >= 1])
def test_render__workflows_pass_a_security_audit(bake: Callable[..., Path], level: int) -> None:
    project = bake(level)
    result = audit(project)
    assert result.returncode == 0, f"zizmor findings at level {level}:\n{result.stdout}"
    for workflow in (project / ".github" / "workflows").glob("*.yml"):
        for ignore in re.finditer(
            r"# zizmor: ignore\[(?P<audits>[^\]]*)\](?P<why>.*)", workflow.read_text()
        ):
            assert ignore["audits"] == "unpinned-uses", f"{workflow.name}: only tags may be excused"
            assert ignore["why"].strip(), f"{workflow.name}: an ignore without its reason"


def test_audit__finds_a_checkout_that_keeps_its_credentials(tmp_path: Path) -> None:
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    (workflows / "ci.yml").write_text(
        "on: push\npermissions: {}\njobs:\n  test:\n    runs-on: ubuntu-latest\n"
        "    steps:\n      - uses: actions/checkout@v5\n"
    )
    result = audit(tmp_path)
    assert result.returncode != 0 and "artipacked" in result.stdout, result.stdout


@pytest.mark.parametrize("level", [lv for lv in ladder.levels() if lv >= 1])
def test_render__workflows_grant_least_privilege(bake: Callable[..., Path], level: int) -> None:
    for workflow in (bake(level) / ".github" / "workflows").glob("*.yml"):
        spec = yaml.safe_load(workflow.read_text())
        assert spec["permissions"] == {"contents": "read"}, f"{workflow.name}: read-only default"


@pytest.mark.parametrize("level", [lv for lv in ladder.levels() if lv >= 3])
def test_render__the_image_is_slim_non_root_health_checked_and_runs_serve(
    bake: Callable[..., Path], level: int
) -> None:
    project = bake(level, ODD_ANSWERS)
    lines = (project / "Dockerfile").read_text().splitlines()
    assert "FROM python:3.13-slim" in lines
    assert any(line.startswith("USER ") and "root" not in line for line in lines)
    assert any(line.startswith("HEALTHCHECK ") for line in lines)
    assert "RUN uv sync --locked --no-dev" in "\n".join(lines)
    command = next(line for line in lines if line.startswith("CMD "))
    assert command == f'CMD ["python", "-m", "{ODD_ANSWERS["package_name"]}", "serve"]'


@pytest.mark.parametrize("level", [lv for lv in ladder.levels() if lv >= 3])
def test_render__compose_runs_tracking_server_on_postgresql_and_the_service(
    bake: Callable[..., Path], level: int
) -> None:
    compose = yaml.safe_load((bake(level) / "docker-compose.yml").read_text())
    scaled = {"predictions", "proxy"} if level >= 4 else set()  # replicas on one PostgreSQL log
    assert set(compose["services"]) == {"postgres", "mlflow", "scorer", *scaled}
    server = compose["services"]["mlflow"]["command"]
    for option in ("postgresql+psycopg2://", "--serve-artifacts", "--workers 1"):
        assert option in server
    assert compose["services"]["scorer"]["environment"]["MLFLOW_TRACKING_URI"] == (
        "http://mlflow:5000"
    )
    if scaled:
        scorer = compose["services"]["scorer"]
        assert scorer["deploy"]["replicas"] >= 2 and "ports" not in scorer, "behind the proxy"
        assert scorer["environment"]["PREDICTION_LOG_URL"].startswith("postgresql+psycopg2://")
        assert "--group team" in (bake(level) / "Dockerfile").read_text(), "the image has psycopg2"
        assert compose["services"]["proxy"]["ports"] == ["127.0.0.1:8000:8000"]
        assert "server scorer:8000" in compose["configs"]["proxy"]["content"]
