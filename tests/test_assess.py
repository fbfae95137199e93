"""The maturity self-check (`nox -s assess -- PATH`): our levels, and repositories not ours."""

import json
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from answers import ODD_ANSWERS

from mlops_ladder import assess, ladder
from mlops_ladder.assess_criteria import Criterion
from mlops_ladder.assess_report import Assessment

IDS = [criterion.id for criterion in assess.CRITERIA]


def met(result: Assessment) -> set[str]:
    return {c["id"] for c in result["criteria"] if c["met"]}


def write(root: Path, files: dict[str, str]) -> Path:
    """A small repository made of `files` (relative path -> content)."""
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    return root


@pytest.mark.parametrize("answers", [{}, ODD_ANSWERS], ids=["default", "odd"])
@pytest.mark.parametrize("level", ladder.levels())
def test_assess__a_rendered_level_reaches_exactly_its_own_level(
    bake: Callable[..., Path], level: int, answers: dict[str, str]
) -> None:
    result = assess.assess(bake(level, answers))
    expected = {c.id for c in assess.CRITERIA if c.level <= level}
    assert met(result) == expected, assess.report(result)  # none missing, none above its level
    assert result["level"] == level


KEY_PIECES = [
    (1, "tests", "tests", 0),
    (1, ".github", "ci", 0),
    (2, "dvc.yaml", "versioned", 1),
    (3, "tests/test_serve.py", "service", 2),
    (3, ".github/workflows/cd.yml", "cd", 2),
    (4, ".github/workflows/retrain.yml", "retraining", 3),
]


@pytest.mark.parametrize(
    ("level", "piece", "criterion", "lowered"),
    KEY_PIECES,
    ids=[f"{level}-without-{piece}" for level, piece, _, _ in KEY_PIECES],
)
def test_assess__removing_a_key_piece_lowers_the_level(
    bake: Callable[..., Path],
    tmp_path: Path,
    level: int,
    piece: str,
    criterion: str,
    lowered: int,
) -> None:
    project = shutil.copytree(bake(level), tmp_path / "project")  # never touch the baked one
    assert assess.assess(project)["level"] == level
    removed = project / piece
    if removed.is_dir():
        shutil.rmtree(removed)
    else:
        removed.unlink()

    result = assess.assess(project)

    assert criterion not in met(result), assess.report(result)
    assert result["level"] == lowered


def test_assess__the_level_marker_of_a_generator_is_not_evidence(
    bake: Callable[..., Path], tmp_path: Path
) -> None:
    project = shutil.copytree(bake(0), tmp_path / "project")
    (project / ".mlops-ladder.json").write_text(json.dumps({"level": 4, "answers": {}}))
    assert assess.assess(project)["level"] == 0


FLASK_APP = """\
import pickle

from flask import Flask, jsonify, request

app = Flask(__name__)
model = pickle.load(open("model.pkl", "rb"))


@app.route("/api/predict", methods=["POST"])
def predict():
    return jsonify(prediction=float(model.predict([request.json["features"]])[0]))
"""
FLASK_TEST = """\
from app import app


def test_predict_answers_a_number():
    client = app.test_client()
    answer = client.post("/api/predict", json={"features": [1.0, 2.0]})
    assert answer.status_code == 200
"""
WANDB_TRAINING = """\
import pickle

import wandb
from sklearn.linear_model import LinearRegression


def main():
    run = wandb.init(project="churn")
    model = LinearRegression().fit([[0, 1], [1, 0]], [0, 1])
    run.log({"r2": model.score([[0, 1], [1, 0]], [0, 1])})
    pickle.dump(model, open("model.pkl", "wb"))
"""
GITLAB_CI = """\
stages: [test]

test:
  image: python:3.12
  script:
    - pip install -r requirements.txt
    - pytest -q
"""


def test_assess__a_repository_not_ours_is_judged_by_its_tools(tmp_path: Path) -> None:
    """Flask + a test, GitLab CI, W&B training: level 1 with a head start on level 2 and 3."""
    repo = write(
        tmp_path,
        {
            "app.py": FLASK_APP,
            "tests/test_app.py": FLASK_TEST,
            "train.py": WANDB_TRAINING,
            ".gitlab-ci.yml": GITLAB_CI,
            "requirements.txt": "flask==3.1.0\nscikit-learn==1.6.1\nwandb==0.19.1\n",
        },
    )
    result = assess.assess(repo)
    assert met(result) == {"code", "tests", "ci", "tracking", "service"}, assess.report(result)
    assert result["level"] == 1
    assert result["next"] is not None
    assert result["next"]["missing"] == ["versioned"]

    write(repo, {"data/customers.csv.dvc": "outs:\n- md5: 1f2e3d\n  path: customers.csv\n"})
    assert assess.assess(repo)["level"] == 2


# Each file alone must meet its criterion: the common tools of the field, not only ours.
RECOGNISED = [
    ("tests", "test_model.py", "import unittest\n\nclass ModelTest(unittest.TestCase):\n"
     "    pass\n"),
    ("tests", "pkg/model_test.py", "def test_fit():\n    assert True\n"),
    ("tests", "shop/tests.py", "from django.test import TestCase\n\n"
     "class OrderTests(TestCase):\n    def test_total(self):\n        pass\n"),
    ("tests", "shop/tests/testorders.py", "def test_total():\n    assert True\n"),
    ("ci", "Jenkinsfile", "pipeline { stages { stage('Test') { steps { sh 'pytest' } } } }\n"),
    ("ci", "azure-pipelines.yml", "steps:\n- script: python -m pytest\n"),
    ("ci", ".circleci/config.yml", "jobs:\n  build:\n    steps:\n      - run: tox\n"),
    ("ci", "bitbucket-pipelines.yml", "pipelines:\n  default:\n    - step:\n        script:\n"
     "          - ruff check .\n          - python -m pytest -q\n"),
    ("tracking", "train.py", "import mlflow as mf\n\nwith mf.start_run():\n    pass\n"),
    ("tracking", "train.py", "from dvclive import Live\n\nwith Live() as live:\n    pass\n"),
    ("tracking", "fit.py", "import neptune\n\nrun = neptune.init_run(project='x')\n"),
    ("tracking", "fit.py", "from clearml import Task\n\ntask = Task.init(project_name='x')\n"),
    ("tracking", "fit.py", "from transformers import TrainingArguments\n\n"
     "args = TrainingArguments('out', report_to='wandb')\n"),
    ("tracking", "explore.ipynb", json.dumps({"cells": [
        {"cell_type": "markdown", "source": ["# Explore"]},
        {"cell_type": "code", "source": ["%matplotlib inline\n", "import wandb\n", "wandb.init()"]},
    ]})),
    ("tracking", "explore.ipynb", json.dumps({"cells": [
        {"cell_type": "code", "source": ["import mlflow\n", "mlflow.sklearn?\n",
                                         "mlflow.autolog()  # why not?"]},
    ]})),
    ("versioned", "data/raw.dvc", "outs:\n- md5: 0a1b2c\n  path: raw\n"),
    ("versioned", "conf/base/catalog.yml", "rides:\n  type: pandas.CSVDataset\n"
     "  versioned: true\n"),
    ("versioned", "flow.py", "from metaflow import FlowSpec, step\n\nclass TrainFlow(FlowSpec):\n"
     "    pass\n"),
    ("registry", "release.py", "import mlflow\n\nmlflow.register_model('runs:/1/model', 'taxi')\n"),
    ("registry", "train.py", "import mlflow\n\nmlflow.sklearn.log_model(m, name='model', "
     "registered_model_name='taxi')\n"),
    ("registry", "release.py", "import wandb\n\nrun = wandb.init()\n"
     "run.link_model(path='model.pkl', registered_model_name='taxi')\n"),
    ("gate", "validate.py", "from mlflow.models import MetricThreshold\n\n"
     "limits = {'rmse': MetricThreshold(threshold=5, greater_is_better=False)}\n"),
    ("gate", "promote.py", "def promote(client, candidate_rmse, production_rmse):\n"
     "    if candidate_rmse < production_rmse:\n"
     "        client.transition_model_version_stage('taxi', 2, 'Production')\n"),
    ("gate", "dvc.yaml", "stages:\n  train:\n    cmd: python -m taxi.train\n"
     "  gate:\n    cmd: python -m taxi.gate\n"),
    ("gate", ".gitlab-ci.yml", "model-gate:\n  script:\n"
     "    - python -m taxi.compare --challenger latest --champion production\n"),
    ("cd", ".gitlab-ci.yml", "deploy:\n  stage: deploy\n  script:\n    - kubectl apply -f k8s/\n"),
    ("cd", ".github/workflows/release.yml", "jobs:\n  ship:\n    environment:\n"
     "      name: production\n    steps:\n      - run: ./ship.sh\n"),
    ("cd", "Jenkinsfile", "stage('Ship') { steps { sh 'helm upgrade --install scorer ./chart' } }"),
    ("cd", ".github/workflows/image.yml", "jobs:\n  release-model:\n    steps:\n"
     "      - run: dvc repro\n  image:\n    steps:\n"
     "      - uses: docker/build-push-action@v6\n        with:\n"
     "          push: ${{ github.event_name != 'pull_request' }}\n"),
    ("monitoring", "monitor.py", "import whylogs as why\n\nprofile = why.log(frame)\n"),
    ("monitoring", "metrics.py", "from prometheus_client import Histogram\n\n"
     "PREDICTED = Histogram('predicted_minutes', 'predictions served')\n"),
    ("monitoring", "serve.py", "def score(rows, store):\n    store.write_prediction_log(rows)\n"),
    ("retraining", "dags/retrain.py", "from airflow import DAG\n\n"
     "with DAG('retrain', schedule='@weekly'):\n    pass\n"),
    ("retraining", ".gitlab-ci.yml", "retrain:\n  rules:\n"
     "    - if: $CI_PIPELINE_SOURCE == \"schedule\"\n  script:\n    - python train.py\n"),
    ("retraining", "k8s/retrain.yaml", "kind: CronJob\nspec:\n  schedule: '0 3 * * 1'\n"
     "  jobTemplate:\n    spec:\n      containers:\n        - args: [python, train.py]\n"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("criterion", "name", "content"),
    RECOGNISED,
    ids=[f"{c}-{n}-{i}" for i, (c, n, _) in enumerate(RECOGNISED)],
)
def test_assess__recognises_the_common_tools(
    tmp_path: Path, criterion: str, name: str, content: str
) -> None:
    result = assess.assess(write(tmp_path, {name: content}))
    found = next(c for c in result["criteria"] if c["id"] == criterion)
    assert found["met"], assess.report(result)
    assert found["evidence"][0]["path"] == name


# Each file alone must NOT meet the criterion: prose, comments and look-alikes are not evidence.
NOT_EVIDENCE = [
    ("tracking", "README.md", "We track runs with mlflow.start_run() and wandb.init().\n"),
    ("tracking", "docs/registry.rst", "mlflow.start_run() then mlflow.register_model()\n"),
    ("tracking", "train.py", "# import mlflow\n# mlflow.start_run()\n"),
    ("registry", "train.py", '"""Later: mlflow.register_model, with a champion alias."""\n'),
    ("monitoring", "train.py", "'''Monitoring with evidently comes later.'''\nimport pandas\n"),
    ("monitoring", "model.py", "def forward(x):\n    prediction_logits = x\n"
     "    return prediction_logits\n"),
    ("versioned", "MLproject", "name: taxi\nentry_points:\n  main:\n"
     "    command: python train.py\n"),
    ("cd", ".github/workflows/docs.yml", "jobs:\n  deploy:\n    environment:\n"
     "      name: github-pages\n    steps:\n      - uses: actions/deploy-pages@v4\n"),
    ("cd", ".github/workflows/publish.yml", "jobs:\n  publish:\n    environment: pypi\n"
     "    steps:\n      - uses: pypa/gh-action-pypi-publish@release/v1\n"),
    ("retraining", ".github/workflows/nightly.yml", "on:\n  schedule:\n    - cron: '0 2 * * *'\n"
     "jobs:\n  test:\n    steps:\n      - run: pip install -c constraints.txt . && pytest\n"),
    ("retraining", "train.py", "import torch\n\n"
     "profiler = torch.profiler.profile(schedule=torch.profiler.schedule(wait=1, active=2))\n"
     "model.fit(data)\n"),
    ("tracking", "train.py", "import wandb\n\nwandb.login()\n"),
    ("tracking", "{{cookiecutter.project_slug}}/train.py", "import mlflow\n\nmlflow.start_run()\n"),
    ("tracking", "explore.ipynb", json.dumps({"cells": [
        {"cell_type": "code", "source": ["import mlflow\n", "?mlflow.start_run\n",
                                         "mlflow.start_run??"]},
    ]})),
    ("monitoring", "train.py", "def log_predictions(model, frame):\n"
     "    frame.assign(prediction=model.predict(frame)).to_csv('predictions.csv')\n"),
    ("gate", ".github/workflows/sonar.yml", "jobs:\n  quality-gate:\n    steps:\n"
     "      - uses: sonarsource/sonarqube-scan-action@v5\n"
     "      - uses: sonarsource/sonarqube-quality-gate-action@v1\n"
     "  train:\n    steps:\n      - run: python train.py\n"),
    ("gate", ".gitlab-ci.yml", "quality_gate:\n  script:\n"
     "    - sonar-scanner -Dsonar.qualitygate.wait=true\n"),
    ("cd", ".github/workflows/image.yml", "jobs:\n  image:\n    steps:\n"
     "      - uses: docker/build-push-action@v6\n        with:\n          push: false\n"),
    ("cd", ".github/workflows/release.yml", "name: Deploy to PyPI\njobs:\n  release:\n"
     "    steps:\n      - uses: pypa/gh-action-pypi-publish@release/v1\n"),
    ("cd", ".github/workflows/release.yml", "jobs:\n  deploy:\n    steps:\n"
     "      - run: python -m twine upload dist/*\n"),
    ("retraining", ".github/workflows/nightly.yml", "on:\n  schedule:\n    - cron: '0 2 * * *'\n"
     "jobs:\n  test:\n    steps:\n      - run: pytest tests/test_train.py\n"),
    ("tests", "tests/helpers.py", "def make_frame():\n    return None\n"),
    ("ci", ".github/workflows/stale.yml", "jobs:\n  stale:\n    steps:\n"
     "      - uses: actions/stale@v9\n"),
    ("ci", "bitbucket-pipelines.yml", "pipelines:\n  default:\n    - step:\n        script:\n"
     "          - ruff check .\n"),  # lints, tests nothing
    ("cd", ".github/workflows/image.yml", "jobs:\n  image:\n    steps:\n"
     "      - uses: docker/build-push-action@v6\n        with:\n"
     "          push: ${{ github.event_name != 'pull_request' }}\n"),  # the code's image only
]  # fmt: skip


@pytest.mark.parametrize(
    ("criterion", "name", "content"),
    NOT_EVIDENCE,
    ids=[f"{c}-{n}-{i}" for i, (c, n, _) in enumerate(NOT_EVIDENCE)],
)
def test_assess__prose_comments_and_look_alikes_are_not_evidence(
    tmp_path: Path, criterion: str, name: str, content: str
) -> None:
    result = assess.assess(write(tmp_path, {name: content}))
    assert criterion not in met(result), assess.report(result)


def test_assess__skips_virtualenvs_and_large_files(tmp_path: Path) -> None:
    training = "import mlflow\n\nmlflow.start_run()\n"
    repo = write(
        tmp_path,
        {
            ".venv/lib/python3.11/site-packages/tool/train.py": training,
            "node_modules/x/train.py": training,
            "big.py": training + "# padding\n" * 200_000,  # over 1 MB
        },
    )
    assert "tracking" not in met(assess.assess(repo))
    write(repo, {"train.py": training})
    assert "tracking" in met(assess.assess(repo))


def test_assess__a_prediction_log_counts_where_the_service_writes_it(
    bake: Callable[..., Path], tmp_path: Path
) -> None:
    """Level 4's prediction log and the service that writes it, alone, are monitoring."""
    package = next((bake(4) / "src").iterdir())
    for name in ("predlog.py", "serve.py"):
        write(tmp_path, {f"src/pkg/{name}": (package / name).read_text()})

    result = assess.assess(tmp_path)

    monitoring = next(c for c in result["criteria"] if c["id"] == "monitoring")
    assert monitoring["met"], assess.report(result)
    assert monitoring["evidence"][0]["path"] == "src/pkg/serve.py"


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_assess__a_project_in_a_monorepo_is_built_by_the_top_level_ci(tmp_path: Path) -> None:
    top = write(
        tmp_path / "mono",
        {
            ".github/workflows/ci.yml": "jobs:\n  test:\n    steps:\n      - run: pytest\n",
            ".github/workflows/ship.yml": "jobs:\n  ship:\n    steps:\n"
            "      - run: kubectl apply -f services/taxi/k8s\n",
            "services/taxi/train.py": "import sklearn\n",
            "services/other/train.py": "import mlflow\n\nmlflow.start_run()\n",
        },
    )
    subprocess.run(["git", "init", "-q", str(top)], check=True)

    result = assess.assess(top / "services" / "taxi")

    evidence = {c["id"]: c["evidence"][0]["path"] for c in result["criteria"] if c["met"]}
    assert evidence["ci"] == "../../.github/workflows/ci.yml", assess.report(result)
    assert evidence["cd"] == "../../.github/workflows/ship.yml"
    assert "tracking" not in evidence  # only the top's CI files, not the other projects


def test_assess__a_threshold_policy_that_nothing_runs_is_not_a_trigger(tmp_path: Path) -> None:
    repo = write(
        tmp_path,
        {"retrain.py": "def retrain_if_needed(drift, threshold):\n    return drift > threshold\n"},
    )
    result = assess.assess(repo)
    retraining = next(c for c in result["criteria"] if c["id"] == "retraining")
    assert not retraining["met"]
    assert retraining["note"] is not None
    assert "no schedule or event runs it" in retraining["note"]


def test_report__shows_evidence_the_level_and_the_next_step(
    bake: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    project = bake(2)
    assert assess.main([str(project)]) == 0
    out = capsys.readouterr().out
    assert f"MLOps maturity of {project}" in out
    assert "[x] Versioned data and pipeline: dvc.yaml:" in out
    assert "[ ] Model registry: looked for" in out
    assert "Level reached: 2 (Automated training)" in out
    assert "python3 -m nox -s diff -- 2 3" in out
    assert f"python3 -m nox -s upgrade -- {project}" in out


def test_report__offers_the_upgrade_only_to_a_project_generated_from_mlops_ladder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path, {"train.py": "import sklearn\n"})
    assert assess.main([str(tmp_path)]) == 0
    assert "nox -s upgrade" not in capsys.readouterr().out

    write(tmp_path, {".mlops-ladder.json": "{}"})
    assert assess.main([str(tmp_path)]) == 0
    assert f"python3 -m nox -s upgrade -- {tmp_path}" in capsys.readouterr().out


def test_report__level_4_has_no_next_level(
    bake: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert assess.main([str(bake(4))]) == 0
    out = capsys.readouterr().out
    assert "Level reached: 4 (Full MLOps)" in out
    assert "There is no next level" in out
    assert "[ ]" not in out


def test_report__a_folder_without_code_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path, {"README.md": "# An idea\n", "notes.txt": "import sklearn\n"})
    assert assess.main([str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "No code at all here" in out
    assert "Level reached: 0 (No MLOps)" in out


def test_json__is_valid_with_the_level_and_every_criterion(
    bake: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert assess.main([str(bake(3)), "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["level"] == 3
    assert [c["id"] for c in result["criteria"]] == IDS
    assert result["schema"] == 1
    assert result["generator"] is None
    assert result["skipped"] == []
    assert all(c["refused"] and c["looked_for"] for c in result["criteria"])
    served = next(c for c in result["criteria"] if c["id"] == "service")
    assert {e["path"].split("/")[0] for e in served["evidence"]} == {"src", "tests"}
    assert result["next"] == {
        "level": 4,
        "name": "Full MLOps",
        "missing": ["monitoring", "retraining"],
        "diff": "python3 -m nox -s diff -- 3 4",
        "upgrade": f"python3 -m nox -s upgrade -- {bake(3)}",
    }


@pytest.mark.parametrize("kind", ["missing", "file"])
def test_cli__a_path_that_is_no_folder_is_a_one_line_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], kind: str
) -> None:
    path = tmp_path / "nowhere"
    if kind == "file":
        path.write_text("a file\n")
    assert assess.main([str(path)]) == 2
    captured = capsys.readouterr()
    problem = "does not exist" if kind == "missing" else "is not a directory"
    assert captured.err == f"assess: error: {path} {problem}\n"
    assert captured.out == ""


def test_cli__runs_as_a_script(bake: Callable[..., Path]) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mlops_ladder.assess", str(bake(1)), "--json"],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["level"] == 1


def test_report__the_readme_example_is_what_assess_prints(
    bake: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    readme = (ladder.ROOT / "README.md").read_text()
    example = readme.split("$ python3 -m nox -s assess -- out/level2/taxi_ride_duration\n")[1]
    shown = [line for line in example.split("```")[0].splitlines() if line not in ("", "...")]
    assert assess.main([str(bake(2))]) == 0
    printed = capsys.readouterr().out.splitlines()
    for line in shown:  # a line ending in " ..." is shortened in the README
        cut = line.removesuffix(" ...")
        assert any(out == line or (cut != line and out.startswith(cut)) for out in printed), line


@pytest.mark.parametrize("criterion", assess.CRITERIA, ids=IDS)
def test_criteria__each_check_says_what_it_accepts_and_what_it_refuses(
    criterion: Criterion,
) -> None:
    doc = criterion.check.__doc__ or ""
    assert "Accepts: " in doc
    assert "Refuses: " in doc
    assert criterion.refuses
