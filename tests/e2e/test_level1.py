"""Level 1: CI and release workflows run locally step by step; the CLI trains and predicts."""

import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest
from gha import StepFailed, run_workflow
from runs import in_project, printed_by, rmse_in, train_output

from mlops_ladder import ladder

pytestmark = [pytest.mark.levels(1), pytest.mark.xdist_group("level1")]


def test_first_run__trains_and_saves_the_model(level1: Path, level1_train_output: str) -> None:
    assert (level1 / "models" / "model.pkl").is_file()
    assert float(rmse_in(level1_train_output)) < 10


def test_ci_workflow__every_run_step_passes(level1: Path) -> None:
    log = run_workflow(level1 / ".github" / "workflows" / "ci.yml", level1).log
    assert "lint: ran Lint and type-check (ruff, mypy, through pre-commit)" in log
    assert "test: ran Unit tests" in log


def test_release_workflow__tag_builds_sdist_and_wheel(level1: Path) -> None:
    log = run_workflow(
        level1 / ".github" / "workflows" / "release.yml", level1, {"GITHUB_REF_NAME": "v0.1.0"}
    ).log
    assert log[-1].startswith("release: skipped softprops/action-gh-release")
    wheels = list((level1 / "dist").glob(f"{level1.name}-0.1.0-py3-none-any.whl"))
    assert len(wheels) == 1 and list((level1 / "dist").glob("*.tar.gz"))
    with zipfile.ZipFile(wheels[0]) as wheel:
        assert f"{level1.name}/simulate.py" in wheel.namelist()


def test_release_workflow__a_tag_that_is_not_the_version_fails(level1: Path) -> None:
    with pytest.raises(StepFailed, match="Check that the tag matches") as failed:
        run_workflow(
            level1 / ".github" / "workflows" / "release.yml", level1, {"GITHUB_REF_NAME": "v9.9.9"}
        )
    assert "tag v9.9.9 does not match version 0.1.0" in failed.value.output


def test_cli__predict_writes_one_prediction_per_ride(level1: Path) -> None:
    ladder.run("make predict", level1)
    printed = in_project(
        level1,
        "import pandas as pd\n"
        "predicted = pd.read_parquet('predictions.parquet')['predicted_duration']\n"
        "print(len(predicted), predicted.between(0, 120).mean())",
    )
    rows, share_plausible = printed.split()
    assert int(rows) == 20_000
    assert float(share_plausible) > 0.99


def test_cli__retraining_gives_the_same_rmse(level1: Path, level1_train_output: str) -> None:
    assert rmse_in(train_output(level1)) == rmse_in(level1_train_output)


def test_notebook__runs_importing_the_package(level1: Path, level1_train_output: str) -> None:
    ladder.run(
        "uv run --group notebook jupyter nbconvert --to notebook --execute "
        "--output executed.ipynb duration-prediction.ipynb",
        level1,
    )
    assert rmse_in(printed_by(level1 / "executed.ipynb")) == rmse_in(level1_train_output)


def test_make__help_lists_the_tasks(level1: Path) -> None:
    result = ladder.run("make help", level1, capture_output=True, text=True)
    for task in ("install", "lint", "test", "run", "predict", "build"):
        assert f"make {task}" in result.stdout


# What a new terminal keeps of this machine: the certificates and pip settings it needs to reach
# PyPI, and uv's cache (so that the packages are not downloaded again; uv itself still is).
MACHINE_SETTINGS = ("SSL_CERT_FILE", "SSL_CERT_DIR", "CURL_CA_BUNDLE", "REQUESTS_CA_BUNDLE",
                    "PIP_CERT", "PIP_FIND_LINKS", "PIP_INDEX_URL", "PIP_DEFAULT_TIMEOUT",
                    "HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy")  # fmt: skip


def fresh_terminal(home: Path) -> dict[str, str]:
    """The environment of a new terminal with only Python 3.11 and git: no uv, no venv."""
    folders = ["/usr/bin", "/bin"]
    if not any(Path(folder, "python3").exists() for folder in folders):  # Python lives elsewhere
        python = Path(shutil.which("python3", path=os.defpath) or sys.base_prefix + "/bin/python3")
        folders.append(str(python.parent))
    path = os.pathsep.join(folders)
    assert not shutil.which("uv", path=path), f"uv is installed in {path}: not a fresh terminal"
    cache = subprocess.run(["uv", "cache", "dir"], capture_output=True, text=True, check=True)
    settings = {name: os.environ[name] for name in MACHINE_SETTINGS if name in os.environ}
    return {"PATH": path, "HOME": str(home), "LANG": "C.UTF-8", **settings,
            "UV_CACHE_DIR": cache.stdout.strip()}  # fmt: skip


def test_make__installs_uv_in_a_terminal_that_has_only_python(
    copy_of: Callable[[int], Path], tmp_path: Path
) -> None:
    project = copy_of(1)
    shutil.rmtree(project / ".venv")
    env = fresh_terminal(tmp_path / "home")

    refused = subprocess.run(["make", "test"], cwd=project, env=env, capture_output=True, text=True)
    assert refused.returncode != 0
    assert "uv is not installed: run `make install`" in refused.stderr  # not "uv: not found"

    def make(task: str) -> str:
        done = subprocess.run(["make", task], cwd=project, env=env, capture_output=True, text=True)
        assert done.returncode == 0, f"make {task}:\n{done.stdout}{done.stderr}"
        return done.stdout + done.stderr

    assert "uv is not installed: installing it into .tools/" in make("install")
    assert (project / ".tools" / "bin" / "uv").is_file() and (project / ".venv").is_dir()
    assert "predictions" in make("predict")
    assert "installing" not in make("install")  # the second time, uv is there
    assert ".tools/" in (project / ".gitignore").read_text().splitlines()

    moved = project.rename(project.with_name("moved"))  # the venv is relocatable: it moves too
    done = subprocess.run([".tools/bin/uv", "run", "--no-sync", "pytest", "--version"], cwd=moved,
                          env=env, capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0 and "pytest" in done.stdout + done.stderr, done.stderr


def test_make__uses_the_project_venv_while_another_is_active_without_a_warning(
    level1: Path,
) -> None:
    """After the quickstart, the ladder's own venv is still active in that terminal."""
    env = {**ladder.project_env(), "VIRTUAL_ENV": sys.prefix}
    warning = "does not match the project environment"
    plain = ladder.run("uv run python -c pass", level1, env=env, capture_output=True, text=True)
    assert warning in plain.stderr  # what a bare `uv run` says: the Makefile must not
    done = ladder.run("make predict", level1, env=env, capture_output=True, text=True)
    assert warning not in done.stdout + done.stderr
