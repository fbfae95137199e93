"""Level 2: a DVC pipeline tracked in MLflow, reproducible from a fresh clone, checked by CI."""

import json
import re
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pages
import pytest
from gha import run_workflow
from projects import FirstRun, copy_project
from runs import clone_and_pull, commit, git_commit_all, in_project, make, printed_by, rmse_in

from mlops_ladder import ladder

pytestmark = [pytest.mark.levels(2), pytest.mark.xdist_group("level2")]

MLFLOW_RUNS = """
import json, mlflow
mlflow.set_tracking_uri("sqlite:///mlflow.db")
runs = mlflow.search_runs(experiment_names=[{experiment!r}], output_format="list")
print(json.dumps([
    {{"params": r.data.params, "metrics": r.data.metrics, "tags": r.data.tags,
      "models": [m.model_id for m in r.outputs.model_outputs]}}
    for r in runs
]))
"""


def mlflow_runs(project: Path) -> list[dict[str, Any]]:
    """Every run of the project's experiment, read through the MLflow client."""
    code = MLFLOW_RUNS.format(experiment=project.name)
    runs: list[dict[str, Any]] = json.loads(in_project(project, code).strip().splitlines()[-1])
    return runs


def dvc(project: Path, *args: str) -> str:
    """Run a DVC command in the project; returns what it printed, which a failure shows."""
    done = subprocess.run(
        ["uv", "run", "dvc", *args],
        cwd=project,
        env=ladder.project_env(),
        capture_output=True,
        text=True,
    )
    printed = done.stdout + done.stderr
    assert done.returncode == 0, f"dvc {' '.join(args)} failed:\n{printed}"
    return printed


@pytest.fixture(scope="module")
def pushed(level2: Path) -> Path:
    """The project after `make push` to its default local remote."""
    done = make(level2, "push")
    assert done.returncode == 0, done.stdout + done.stderr
    return level2


def test_repro__mlflow_holds_a_run_with_params_metrics_data_version_and_model(level2: Path) -> None:
    (run,) = mlflow_runs(level2)
    assert run["params"]["train.alpha"] == "1.0"
    assert run["params"]["data.train_month"] == "2024-01"
    metrics = json.loads((level2 / "metrics.json").read_text())
    assert run["metrics"]["val_rmse"] == pytest.approx(metrics["rmse"])
    raw_md5 = (level2 / "data" / "raw.dvc").read_text().split("md5: ")[1].split()[0]
    assert run["tags"]["data.raw_md5"] == raw_md5
    assert re.fullmatch(r"[0-9a-f]{40}(-dirty)?", run["tags"]["git.commit"]), run["tags"]
    assert len(run["models"]) == 1


def test_repro__a_second_run_with_nothing_changed_does_nothing(level2: Path) -> None:
    before = len(mlflow_runs(level2))
    assert "Data and pipelines are up to date." in dvc(level2, "repro")
    assert len(mlflow_runs(level2)) == before


@pytest.fixture
def own_level2(committed_copy: Callable[[int], Path]) -> Path:
    """A copy of the level-2 first run for one test that adds runs to its MLflow store."""
    return committed_copy(2)


def test_repro__a_changed_param_reruns_train_and_evaluate_only(own_level2: Path) -> None:
    params = own_level2 / "params.yaml"
    params.write_text(params.read_text().replace("alpha: 1.0", "alpha: 2.0"))
    printed = dvc(own_level2, "repro")
    assert "Stage 'prepare' didn't change, skipping" in printed
    assert "Running stage 'train'" in printed and "Running stage 'evaluate'" in printed


def test_notebook__reads_params_yaml_and_trains_what_the_command_line_trains(
    own_level2: Path,
) -> None:
    ladder.run(
        "uv run --group notebook jupyter nbconvert --to notebook --execute "
        "--output executed.ipynb duration-prediction.ipynb",
        own_level2,
    )
    command = f"uv run python -m {own_level2.name} train"
    trained = ladder.run(command, own_level2, capture_output=True, text=True).stdout
    assert rmse_in(printed_by(own_level2 / "executed.ipynb")) == rmse_in(trained)


def test_push_then_pull__a_fresh_clone_gets_data_and_model_back(pushed: Path) -> None:
    clone = clone_and_pull(pushed)  # make install && make pull, as the README says
    try:
        assert "Data and pipelines are up to date." in dvc(clone, "status")
        for path in ("models/model.pkl", "data/prepared/val.parquet", "data/raw"):
            original, restored = pushed / path, clone / path
            assert restored.exists(), path
            if original.is_file():
                assert restored.read_bytes() == original.read_bytes(), path
    finally:
        shutil.rmtree(clone)


def test_exp_run__an_experiment_also_appears_in_mlflow(own_level2: Path) -> None:
    printed = dvc(own_level2, "exp", "run", "-S", "train.alpha=0.25")
    assert "Ran experiment" in printed
    alphas = {run["params"]["train.alpha"] for run in mlflow_runs(own_level2)}
    assert "0.25" in alphas
    assert "0.25" in dvc(own_level2, "exp", "show", "--csv")


def test_push__refuses_what_no_commit_holds_then_pushes_a_committed_workspace(
    own_level2: Path,
) -> None:
    remote = own_level2.parent / f"{own_level2.name}-dvc-remote"  # the default, beside it
    dvc(own_level2, "exp", "run", "-n", "half", "-S", "train.alpha=0.5")
    assert "alpha: 0.5" in (own_level2 / "params.yaml").read_text(), "DVC applied it"

    refused = make(own_level2, "push")
    assert refused.returncode != 0
    assert "M params.yaml" in refused.stdout, "git status shows what is not committed"
    assert "make push: commit these changes first" in refused.stderr
    assert not remote.exists(), "nothing was pushed"

    ladder.run("git checkout . && uv run dvc checkout", own_level2)  # back to the commit
    (own_level2 / "models" / "model.pkl").unlink()  # git cannot see this one; DVC can
    refused = make(own_level2, "push")
    assert refused.returncode != 0 and "deleted:" in refused.stdout
    assert "make push: the outputs differ from dvc.lock" in refused.stderr
    assert not remote.exists(), "nothing was pushed"

    ladder.run("uv run dvc exp apply half", own_level2)
    commit(own_level2, "alpha 0.5")
    pushed = make(own_level2, "push")
    assert pushed.returncode == 0, pushed.stdout + pushed.stderr
    clone = clone_and_pull(own_level2)
    assert "Data and pipelines are up to date." in dvc(clone, "status")
    assert (clone / "models" / "model.pkl").read_bytes() == (
        own_level2 / "models" / "model.pkl"
    ).read_bytes(), "the clone has the model of the commit: alpha 0.5"


def test_check__a_model_worse_than_the_floor_fails_with_the_reason(level2: Path) -> None:
    params = level2 / "params.yaml"
    original = params.read_text()
    try:
        params.write_text(original.replace("max_rmse: 6.0", "max_rmse: 1.0"))
        failed = ladder.run(
            f"uv run python -m {level2.name} check || echo exit=$?",
            level2,
            capture_output=True,
            text=True,
        )
        assert "exit=1" in failed.stdout
        assert "is worse than the floor evaluate.max_rmse=1.0" in failed.stderr
    finally:
        params.write_text(original)


@pytest.fixture(scope="module")
def plots_page(level2: Path) -> Path:
    """`make plots`, as the README says: the page DVC writes."""
    done = subprocess.run(
        ["make", "plots"], cwd=level2, env=ladder.project_env(), capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return level2 / "dvc_plots" / "index.html"


def test_plots__dvc_renders_one_scatter_of_predicted_vs_actual_with_nothing_from_the_network(
    plots_page: Path,
) -> None:
    page = plots_page.read_text()
    assert page.count('"mark": {"type": "point"') == 1, "one scatter plot, drawn once"
    assert "predicted vs actual" in page
    assert not pages.external_references(page)


@pages.needs_chromium
def test_plots__the_page_draws_in_a_browser_with_no_network(plots_page: Path) -> None:
    dom = pages.offline_dom(plots_page)
    assert re.search(r'<canvas [^>]*class="marks"', dom), "Vega drew no plot"


def test_make__help_lists_every_task_the_readme_names(level2: Path) -> None:
    listed = ladder.run("make help", level2, capture_output=True, text=True).stdout
    for task in ("version-data", "repro", "check", "push", "pull", "metrics", "plots", "ui"):
        assert f"make {task} " in listed, task


def test_ci_workflow__every_run_step_passes_on_a_fresh_checkout(
    pushed: Path, tmp_path: Path
) -> None:
    checkout = tmp_path / pushed.name
    ladder.run(f"git clone --quiet {pushed} {checkout}", tmp_path)
    run = run_workflow(checkout / ".github" / "workflows" / "ci.yml", checkout)
    assert "pipeline: ran Run the pipeline" in run.log
    assert "pipeline: ran Fail when the model is worse than the floor in params.yaml" in run.log
    assert "pipeline: not on push: Compare metrics and params with the base branch" in run.log
    assert json.loads((checkout / "metrics.json").read_text()) == json.loads(
        (pushed / "metrics.json").read_text()
    )


def test_ci_pull_request__the_summary_diffs_metrics_and_params(
    pushed: Path, tmp_path: Path
) -> None:
    checkout = tmp_path / pushed.name
    ladder.run(f"git clone --quiet {pushed} {checkout}", tmp_path)
    ladder.run("git checkout --quiet -b lower-alpha", checkout)
    params = checkout / "params.yaml"
    params.write_text(params.read_text().replace("alpha: 1.0", "alpha: 0.5"))
    git_commit_all(checkout)
    run = run_workflow(
        checkout / ".github" / "workflows" / "ci.yml",
        checkout,
        {"GITHUB_BASE_REF": "main"},
        event="pull_request",
        only_jobs=["pipeline"],
    )
    assert "pipeline: ran Compare metrics and params with the base branch" in run.log
    assert "train.alpha" in run.summary and "| 1.0" in run.summary and "0.5" in run.summary
    assert "metrics.json" in run.summary and "rmse" in run.summary


def test_repro__two_projects_at_once_give_byte_identical_data_and_metrics(
    first_run: Callable[[int], FirstRun], tmp_path: Path
) -> None:
    """Reproducible to the last digit: the first run, then two more from scratch at the same
    time (data simulated again, every stage forced) make the same bytes."""
    original = first_run(2).project
    projects = [copy_project(original, tmp_path / name) for name in ("a", "b")]
    (package,) = (path.name for path in (original / "src").iterdir() if path.is_dir())
    command = (
        f"rm -rf data/raw && uv run python -m {package} simulate 2024-01 2024-02"
        " && uv run dvc repro --force"
    )
    runs = [
        subprocess.Popen(["bash", "-c", command], cwd=project, env=ladder.project_env(),
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for project in projects
    ]  # fmt: skip
    for project, run in zip(projects, runs, strict=True):
        printed = run.communicate()[0]
        assert run.returncode == 0, printed
        assert (project / "metrics.json").read_bytes() == (original / "metrics.json").read_bytes()
        assert "up to date" in dvc(project, "status", "data/raw.dvc")  # the same data, to the byte
