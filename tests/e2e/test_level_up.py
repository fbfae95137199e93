"""A level-1 project with its owner's edits climbs to level 4 with `upgrade`, one level at a time.

At each level the upgraded project equals a fresh render of that level plus the owner's edits,
and it passes the checks a fresh one does: its CI workflow's steps (lint, unit tests including
the owner's own, the pipeline and its floor), a gate decision at level 3, and at level 4 the
scheduled retraining workflow against its running service.
"""

import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from gha import run_workflow
from runs import commit, git_commit_all, set_param
from services import scoring_service

from mlops_ladder import cli, ladder

pytestmark = pytest.mark.levels(1, 2, 3, 4)

TEAM_NOTE = "Our team owns this model; ask #taxi-ml before changing the features.\n"
MODULE = '''"""Rush hours: our first feature idea, not wired in yet."""


def is_rush_hour(hour: int) -> bool:
    """Weekday rush hours in New York: 7-9 and 16-19."""
    return 7 <= hour < 10 or 16 <= hour < 20
'''
MODULE_TEST = """from {package}.rush import is_rush_hour


def test_is_rush_hour__morning_and_evening_only() -> None:
    assert is_rush_hour(8)
    assert is_rush_hour(17)
    assert not is_rush_hour(12)
    assert not is_rush_hour(3)
"""
# The owner's edits of template files, and how a fresh render has those lines.
UNDO_EDITS = {
    "README.md": (f"\n{TEAM_NOTE}".encode(), b""),
    "params.yaml": (b"alpha: 3.0", b"alpha: 1.0"),
}
CONFLICT = re.compile(r"<<<<<<< yours\n(.*?)=======\n(.*?)>>>>>>> level \d\n", re.DOTALL)


def take_the_new_level(path: Path) -> None:
    """Resolve each conflict as the upgrade's note suggests: keep the new level's side."""
    path.write_text(CONFLICT.sub(lambda match: match[2], path.read_text()))


def owner_edits(project: Path, package: str) -> dict[str, str]:
    """Realistic edits at level 1: a stronger regularisation, a new module and its test."""
    config = project / "src" / package / "config.py"
    config.write_text(config.read_text().replace("alpha: float = 1.0", "alpha: float = 3.0"))
    readme = project / "README.md"
    title, rest = readme.read_text().split("\n", 1)
    readme.write_text(f"{title}\n\n{TEAM_NOTE}{rest}")
    added = {
        f"src/{package}/rush.py": MODULE,
        "tests/test_rush.py": MODULE_TEST.format(package=package),
    }
    for path, text in added.items():
        (project / path).write_text(text)
    return added


def test_upgrade__from_level1_with_edits_to_level4_passes_each_levels_checks(
    copy_of: Callable[[int], Path], tmp_path: Path
) -> None:
    project = copy_of(1)  # rendered and first-run
    package = project.name
    git_commit_all(project)
    added = owner_edits(project, package)
    commit(project, "Our edits: alpha 3, rush hours")

    for level in (2, 3, 4):
        code = cli.main(["upgrade", str(project)])
        config = project / "src" / package / "config.py"
        if level == 2:  # the owner changed the alpha line; level 2 adds lines right after it
            assert code == 1 and "<<<<<<< yours\n    alpha: float = 3.0\n" in config.read_text()
            take_the_new_level(config)
            set_param(project, "alpha", "3.0")  # the note: hyper-parameters live in params.yaml
        else:
            assert code == 0, f"upgrade to level {level} should merge cleanly"
        for step in ladder.upgrade_advice(level, package)["steps"]:
            ladder.run(step, project)
        commit(project, f"Upgrade to mlops-ladder level {level}")

        assert_equal_to_fresh_level_plus_edits(project, level, added, tmp_path)
        run = run_workflow(project / ".github" / "workflows" / "ci.yml", project)
        assert "test: ran Unit tests" in run.log and "pipeline: ran Run the pipeline" in run.log
        owner_test = subprocess.run(
            ["uv", "run", "pytest", "-q", "tests/test_rush.py"],
            cwd=project, env=ladder.project_env(), capture_output=True, text=True,
        )  # fmt: skip
        assert "1 passed" in owner_test.stdout, owner_test.stdout + owner_test.stderr
        metrics = json.loads((project / "metrics.json").read_text())
        assert metrics["rmse"] < 6.0
        if level >= 3:  # level 4 changes config.py, a dependency of every stage: the pipeline
            # retrains, and the gate rejects the new model, no better than the champion
            decisions = (project / "reports" / "decisions.jsonl").read_text().splitlines()
            promoted = [json.loads(decision)["promoted"] for decision in decisions]
            assert promoted == ([True] if level == 3 else [True, False]), decisions

    tracking_uri = f"sqlite:///{project / 'mlflow.db'}"
    token = "an-upgraded-token"  # level 4's /feedback and /reload need it (SERVICE_TOKEN)
    with scoring_service(project, tracking_uri, token) as url:
        ladder.run(
            f"uv run python -m {package} replay 2024-03 --rides 600 --url {url}",
            project,
            env={**ladder.project_env(), "SERVICE_TOKEN": token},
        )
        run = run_workflow(
            project / ".github" / "workflows" / "retrain.yml",
            project,
            {
                "MLFLOW_TRACKING_URI": tracking_uri,
                "PREDICTION_LOG_URL": f"sqlite:///{project / 'predictions.db'}",
                "DEPLOY_URL": url,
                "SERVICE_TOKEN": token,
            },
        )
    assert "retrain: ran Monitor, then retrain, gate, promote and deploy when needed" in run.log
    assert '"retrain_needed": false' in run.summary


def assert_equal_to_fresh_level_plus_edits(
    project: Path, level: int, added: dict[str, str], tmp_path: Path
) -> None:
    """Every file of a fresh render is there, byte for byte, but for the owner's edits."""
    fresh = ladder.tree(ladder.render(level, tmp_path / f"fresh{level}"))
    for path, content in fresh.items():
        mine = (project / path).read_bytes()
        if path in UNDO_EDITS:
            edited, original = UNDO_EDITS[path]
            assert edited in mine, f"level {level}: the owner's edit of {path} is lost"
            mine = mine.replace(edited, original, 1)
        assert mine == content, f"level {level}: {path} differs from a fresh render"
    for path, text in added.items():
        assert (project / path).read_text() == text
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=project, capture_output=True, text=True, check=True
    ).stdout.split()
    assert not CONFLICT.search("".join((project / p).read_text() for p in tracked if p in fresh))
