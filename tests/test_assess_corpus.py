"""A corpus of small synthetic repositories, one per pattern that `assess` once got wrong (issue
15), and the look-alikes that must not count. Each case is its files, the level it must reach
and the exact set of criteria it must meet; `assess` is checked on each."""

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from mlops_ladder import assess


@dataclass(frozen=True)
class Case:
    files: dict[str, str]
    level: int
    met: set[str]
    at: str = "."  # the folder assessed, from the repository's top (a monorepo's project)
    git: bool = False  # a git repository (for a monorepo's top CI)
    generator: str | None = None
    skipped: set[str] = field(default_factory=set)  # paths reported as skipped


TESTS = "def test_fit():\n    assert True\n"
CODE = "import sklearn\n"
BASE = {"train.py": CODE, "tests/test_train.py": TESTS}
LEVEL1 = {"code", "tests", "ci"}

AZURE_CI = """\
trigger:
  branches:
    include: [main]
pool:
  vmImage: ubuntu-latest
stages:
  - stage: Test
    jobs:
      - job: unit
        steps:
          - task: UsePythonVersion@0
            inputs:
              versionSpec: "3.12"
          - script: python -m pytest --junitxml=junit.xml
            displayName: Unit tests
"""
AZURE_DEPLOY = """\
trigger: none
schedules:
  - cron: "0 3 * * 1"
    branches:
      include: [main]
stages:
  - stage: Train
    jobs:
      - job: train
        steps:
          - script: python train.py
  - stage: Deploy
    jobs:
      - deployment: online
        environment: production
        strategy:
          runOnce:
            deploy:
              steps:
                - task: AzureCLI@2
                  inputs:
                    azureSubscription: ml
                    scriptType: bash
                    scriptLocation: inlineScript
                    inlineScript: az ml online-deployment create -f deployment.yml
"""
GITLAB_CI = """\
stages: [test]

unit:
  stage: test
  image: python:3.12
  script:
    - pip install -r requirements.txt pytest
    - python -m pytest -q
"""
JENKINSFILE = """\
pipeline {
  agent any
  stages {
    stage('Unit tests') {
      steps {
        // sh 'echo not this one'
        sh 'python -m pytest -q'
      }
    }
  }
}
"""
CIRCLECI = """\
version: 2.1
jobs:
  build:
    docker:
      - image: cimg/python:3.12
    steps:
      - checkout
      - run:
          name: Install
          command: pip install -r requirements.txt
      - run:
          name: Unit tests
          command: pytest
workflows:
  main:
    jobs: [build]
"""
JOB_NAMED_TEST = """\
on: [push]
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v5
      - name: Run the tests
        run: pip install pytest && echo "tests are run by hand"
"""
TEST_PYPI = """\
on:
  release:
    types: [published]
jobs:
  publish:
    runs-on: ubuntu-latest
    steps:
      - run: python -m build
      - name: Publish to Test PyPI
        uses: pypa/gh-action-pypi-publish@release/v1
        with:
          repository-url: https://test.pypi.org/legacy/
"""
AZUREML_TRAINING = """\
from azureml.core import Dataset, Model, Run, Workspace
from sklearn.linear_model import LogisticRegression

run = Run.get_context()
workspace = Workspace.from_config()
frame = Dataset.Tabular.from_delimited_files(path="data/churn.csv")
frame.register(workspace, name="churn", create_new_version=True)
model = LogisticRegression().fit([[0], [1]], [0, 1])
run.log("accuracy", model.score([[0], [1]], [0, 1]))
Model.register(workspace, model_path="outputs/model.pkl", model_name="churn")
"""
ZENML_PIPELINE = """\
from zenml import pipeline, step
from zenml.integrations.evidently.steps import evidently_report_step
from zenml.integrations.mlflow.steps.mlflow_registry import mlflow_register_model_step


@step
def train() -> float:
    return 1.0


@pipeline
def training_pipeline():
    train()
    evidently_report_step()
    mlflow_register_model_step()
"""
GATE_NO_MAGIC_WORDS = """\
import mlflow
from mlflow import MlflowClient


def release(run_id, name):
    client = MlflowClient()
    ours = client.get_run(run_id).data.metrics
    serving = client.get_model_version_by_alias(name, "live")
    theirs = client.get_run(serving.run_id).data.metrics
    if ours["auc"] > theirs["auc"]:
        version = mlflow.register_model(f"runs:/{run_id}/model", name)
        client.set_registered_model_alias(name, "live", version.version)
"""
THRESHOLD_ALIASES = """\
from typing import TypeAlias

RmseThreshold: TypeAlias = float
MetricThreshold = dict[str, float]


def best(losses: list[float]) -> float:
    lowest = losses[0]
    for loss in losses:
        if loss < lowest:
            lowest = loss
    return lowest
"""
CHECKPOINT_LOOP = """\
import mlflow


def train(model, epochs, evaluate):
    best_loss = float("inf")
    for _ in range(epochs):
        val_loss = evaluate(model)
        if val_loss < best_loss:
            best_loss = val_loss
    mlflow.register_model("runs:/1/model", "taxi")
"""
IMAGE_ON_RELEASE = """\
on:
  release:
    types: [published]
jobs:
  image:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v5
      - uses: docker/build-push-action@v6
        with:
          push: true
          tags: ghcr.io/acme/app:latest
"""
REGISTRY_STRINGS = """\
MODEL_URI = "models:/taxi/Production"
REGISTRY = "s3://bucket/model-registry/taxi"


def describe():
    return "we use mlflow.register_model for this"
"""
FIXTURES_ONLY = """\
import pytest


@pytest.fixture
def test_client():
    return object()


@pytest.fixture
def test_frame():
    return []
"""
SERVICE = """\
from fastapi import FastAPI

app = FastAPI()


@app.post("/v1/predict")
def predict(ride: dict) -> dict:
    return {"minutes": 12.0}
"""
SERVICE_CONFTEST = """\
import pytest
from fastapi.testclient import TestClient

from service import app


@pytest.fixture
def test_client():
    return TestClient(app)
"""
SERVICE_TEST = """\
def test_predict_answers_minutes(test_client):
    answer = test_client.post("/v1/predict", json={"distance": 3.2})
    assert answer.status_code == 200
"""
MONOREPO_OTHER = """\
on:
  push:
    paths: ["services/other/**"]
  pull_request:
    paths: ["services/other/**"]
jobs:
  test:
    runs-on: ubuntu-latest
    steps:
      - run: pytest
        working-directory: services/other
"""
MONOREPO_WORKING_DIRECTORY = """\
on: [push]
jobs:
  other:
    runs-on: ubuntu-latest
    defaults:
      run:
        working-directory: services/other
    steps:
      - run: pytest
"""
MONOREPO_TAXI = MONOREPO_OTHER.replace("other", "taxi")


def notebook(*sources: object, outputs: str = "") -> str:
    cells = [
        {"cell_type": "code", "source": source, "outputs": [{"text": outputs}] if outputs else []}
        for source in sources
    ]
    return json.dumps({"cells": cells, "nbformat": 4, "nbformat_minor": 5})


NESTED = '{"cells": [' + "[" * 100_000 + "]" * 100_000 + "]}"

CASES = {
    # CI recognised by structure, whatever the file is called
    "azure-pipelines-in-dot-pipelines": Case({**BASE, ".pipelines/ci.yml": AZURE_CI}, 1, LEVEL1),
    "azure-pipelines-deploys-a-model-on-a-schedule": Case(
        {**BASE, "azure-pipelines.yml": AZURE_DEPLOY}, 0, {"code", "tests", "cd", "retraining"}
    ),
    "gitlab-ci": Case({**BASE, ".gitlab-ci.yml": GITLAB_CI}, 1, LEVEL1),
    "jenkinsfile": Case({**BASE, "Jenkinsfile": JENKINSFILE}, 1, LEVEL1),
    "circleci": Case({**BASE, ".circleci/config.yml": CIRCLECI}, 1, LEVEL1),
    "look-alike-a-job-named-test": Case(
        {**BASE, ".github/workflows/ci.yml": JOB_NAMED_TEST}, 0, {"code", "tests"}
    ),
    "look-alike-publish-to-test-pypi": Case(
        {**BASE, ".github/workflows/publish.yml": TEST_PYPI}, 0, {"code", "tests"}
    ),
    # capabilities found by what the code calls
    "azure-ml-sdk": Case(
        {**BASE, ".gitlab-ci.yml": GITLAB_CI, "train.py": AZUREML_TRAINING},
        2,
        LEVEL1 | {"tracking", "versioned", "registry"},
    ),
    "zenml-steps-and-integrations": Case(
        {"pipeline.py": ZENML_PIPELINE}, 0, {"code", "versioned", "registry", "monitoring"}
    ),
    "gate-without-magic-words": Case(
        {"release.py": GATE_NO_MAGIC_WORDS}, 0, {"code", "registry", "gate"}
    ),
    "look-alike-threshold-type-aliases": Case({"types.py": THRESHOLD_ALIASES}, 0, {"code"}),
    "look-alike-best-loss-in-a-training-loop": Case(
        {"train.py": CHECKPOINT_LOOP}, 0, {"code", "registry"}
    ),
    "look-alike-code-image-pushed-on-release": Case(
        {**BASE, ".github/workflows/image.yml": IMAGE_ON_RELEASE}, 0, {"code", "tests"}
    ),
    # evidence from the wrong places
    "look-alike-registry-path-strings": Case({"config.py": REGISTRY_STRINGS}, 0, {"code"}),
    "look-alike-conftest-fixtures": Case(
        {"train.py": CODE, "tests/conftest.py": FIXTURES_ONLY}, 0, {"code"}
    ),
    "look-alike-test-data-dvc": Case(
        {"train.py": CODE, "test_data/rides.csv.dvc": "outs:\n- md5: 1f2e\n  path: rides.csv\n"},
        0,
        {"code"},
    ),
    "look-alike-examples-monitoring": Case(
        {"train.py": CODE, "examples/monitor.py": "import evidently\n"}, 0, {"code"}
    ),
    "look-alike-vendored-and-docs": Case(
        {
            "train.py": CODE,
            "third_party/mlflow_utils.py": "import mlflow\n\nmlflow.start_run()\n",
            "docs/conf.py": "import mlflow\n\nmlflow.autolog()\n",
        },
        0,
        {"code"},
    ),
    "service-test-client-from-a-fixture": Case(
        {
            "service.py": SERVICE,
            "tests/conftest.py": SERVICE_CONFTEST,
            "tests/test_service.py": SERVICE_TEST,
        },
        0,
        {"code", "tests", "service"},
    ),
    # monorepos: the top CI counts only where it reaches
    "monorepo-top-ci-filtered-to-another-folder": Case(
        {
            ".github/workflows/other.yml": MONOREPO_OTHER,
            "services/taxi/train.py": CODE,
            "services/taxi/tests/test_train.py": TESTS,
        },
        0,
        {"code", "tests"},
        at="services/taxi",
        git=True,
    ),
    "monorepo-top-ci-in-another-working-directory": Case(
        {
            ".github/workflows/other.yml": MONOREPO_WORKING_DIRECTORY,
            "services/taxi/train.py": CODE,
            "services/taxi/tests/test_train.py": TESTS,
        },
        0,
        {"code", "tests"},
        at="services/taxi",
        git=True,
    ),
    "monorepo-top-ci-filtered-to-this-folder": Case(
        {
            ".github/workflows/taxi.yml": MONOREPO_TAXI,
            "services/taxi/train.py": CODE,
            "services/taxi/tests/test_train.py": TESTS,
        },
        1,
        LEVEL1,
        at="services/taxi",
        git=True,
    ),
    # generators: render them first
    "cookiecutter-template": Case(
        {"cookiecutter.json": '{"project_slug": "x"}', "{{cookiecutter.project_slug}}/t.py": CODE},
        0,
        set(),
        generator="cookiecutter",
    ),
    "copier-template": Case(
        {"copier.yml": "project_name: {type: str}\n", "template/{{project_name}}/t.py": CODE},
        0,
        set(),
        generator="copier",
    ),
    "databricks-template": Case(
        {"databricks_template_schema.json": '{"properties": {}}', "hooks.py": CODE},
        0,
        {"code"},
        generator="Databricks asset bundle template",
    ),
    # robustness: a bad file is skipped with its reason, the run goes on
    "notebook-with-null-cells": Case(
        {"explore.ipynb": '{"cells": null}', "train.py": "import mlflow\n\nmlflow.start_run()\n"},
        0,
        {"code", "tracking"},
        skipped={"explore.ipynb"},
    ),
    "notebook-nested-too-deeply": Case(
        {"explore.ipynb": NESTED, "train.py": CODE}, 0, {"code"}, skipped={"explore.ipynb"}
    ),
    "notebook-with-non-string-sources": Case(
        {
            "explore.ipynb": notebook(
                ["import mlflow\n", 3], None, "import mlflow\nmlflow.autolog()"
            )
        },
        0,
        {"code", "tracking"},
        skipped={"explore.ipynb, cell 1", "explore.ipynb, cell 2"},
    ),
    "notebook-over-1-mb-with-its-outputs": Case(
        {"explore.ipynb": notebook("import mlflow\nmlflow.start_run()", outputs="x" * 1_100_000)},
        0,
        {"code", "tracking"},
    ),
    "python-2-and-malformed-yaml": Case(
        {
            "old.py": "import mlflow\n\nprint 'training'\n",
            "train.py": CODE,
            ".gitlab-ci.yml": "unit: [\n",
        },
        0,
        {"code"},
        skipped={"old.py", ".gitlab-ci.yml"},
    ),
}


def build(root: Path, case: Case) -> Path:
    for name, content in case.files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    if case.git:
        subprocess.run(["git", "init", "-q", str(root)], check=True)
    return root / case.at


@pytest.mark.parametrize("name", list(CASES))
def test_corpus__each_case_reaches_its_level_with_exactly_its_criteria(
    tmp_path: Path, name: str
) -> None:
    case = CASES[name]
    if case.git and shutil.which("git") is None:
        pytest.skip("needs git")

    result = assess.assess(build(tmp_path, case))

    met = {c["id"] for c in result["criteria"] if c["met"]}
    assert met == case.met, assess.report(result)
    assert result["level"] == case.level
    generator = result["generator"]
    assert (generator["kind"] if generator else None) == case.generator
    assert {s["path"] for s in result["skipped"]} == case.skipped, result["skipped"]
    assert all(s["reason"] for s in result["skipped"])


def test_corpus__a_generator_is_told_to_render_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    build(tmp_path, CASES["cookiecutter-template"])
    assert assess.main([str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "This is a template (cookiecutter.json, cookiecutter), not a project: render it" in out


def test_corpus__skipped_files_are_listed_with_their_reason(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    build(tmp_path, CASES["notebook-with-null-cells"])
    assert assess.main([str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "Skipped 1 file(s) that could not be read:" in out
    assert "explore.ipynb: not a notebook (its cells are NoneType, not a list)" in out


@pytest.mark.skipif(sys.platform == "darwin", reason="macOS file names must be UTF-8")
def test_corpus__a_non_utf8_file_name_prints_on_a_utf8_terminal(tmp_path: Path) -> None:
    name = os.fsdecode(b"caf\xe9_train.py")
    (tmp_path / name).write_text("import mlflow\n\nmlflow.start_run()\n")
    environment = {**os.environ, "PYTHONIOENCODING": "utf-8", "LC_ALL": "C.UTF-8"}
    for options in ([], ["--json"]):
        done = subprocess.run(
            [sys.executable, "-m", "mlops_ladder.assess", str(tmp_path), *options],
            capture_output=True,
            env=environment,
        )
        assert done.returncode == 0, done.stderr.decode(errors="replace")
        out = done.stdout.decode("utf-8")  # strictly: it must be valid UTF-8
        assert "caf\ufffd_train.py" in out


def test_corpus__a_large_tree_shows_progress_on_stderr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    for number in range(2_001):
        (tmp_path / f"m{number}.py").write_text("x = 1\n")
    assert assess.main([str(tmp_path)]) == 0
    err = capsys.readouterr().err
    assert "assess: reading 2,001 files of" in err
    assert "assess: 2,001/2,001 files read" in err


def test_corpus__a_small_tree_is_quiet(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    build(tmp_path, CASES["gitlab-ci"])
    assert assess.main([str(tmp_path)]) == 0
    assert capsys.readouterr().err == ""


def test_corpus__this_repository_is_a_template_whose_own_tooling_is_tested(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """mlops-ladder itself: a cookiecutter generator; its own code has tests, and no CI system
    that `assess` knows runs them (.ci/run is an entry point that a CI calls)."""
    result = assess.assess(Path(assess.__file__).resolve().parents[2])  # src/mlops_ladder/..
    met = {c["id"] for c in result["criteria"] if c["met"]}
    assert met == {"code", "tests"}, assess.report(result)
    assert result["level"] == 0
    assert result["generator"] is not None
    assert result["generator"]["path"] == "cookiecutter.json"
