"""`nox -s upgrade`: a three-way merge of the next level into a user's git repository."""

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from pytest import CaptureFixture
from runs import commit

from mlops_ladder import cli, ladder, upgrade

TEAM_NOTE = "Our team owns this model; ask #taxi-ml.\n"


def render_committed(level: int, folder: Path, templates: Path = ladder.TEMPLATES) -> Path:
    project = ladder.render(level, folder, templates=templates)
    commit(project, "Render the template", init=True)
    return project


def add_team_note(project: Path) -> None:
    """A user edit far from the lines the next levels change: a note under the title."""
    readme = project / "README.md"
    title, rest = readme.read_text().split("\n", 1)
    readme.write_text(f"{title}\n\n{TEAM_NOTE}{rest}")


def test_upgrade__keeps_user_edits_and_otherwise_equals_the_next_level(
    tmp_path: Path, capsys: CaptureFixture[str]
) -> None:
    project = render_committed(1, tmp_path / "mine")
    add_team_note(project)
    module = project / "src" / project.name / "weather.py"
    module.write_text('"""Rain slows rides."""\n\nRAIN_FACTOR = 1.2\n')
    commit(project, "Our edits")

    assert cli.main(["upgrade", str(project)]) == 0
    printed = capsys.readouterr().out

    fresh = ladder.tree(ladder.render(2, tmp_path / "fresh"))
    mine = {p: c for p, c in ladder.tree(project).items() if not p.startswith(".git/")}
    assert mine.pop(f"src/{project.name}/weather.py") == module.read_bytes()
    readme = mine.pop("README.md").decode()
    assert (
        TEAM_NOTE in readme
        and readme.replace(f"\n{TEAM_NOTE}", "", 1) == fresh.pop("README.md").decode()
    )
    assert mine == fresh
    assert json.loads((project / ".mlops-ladder.json").read_text())["level"] == 2
    assert "merged   README.md" in printed and "added    dvc.yaml  (versioned pipeline" in printed
    assert "make run" in printed and "Nothing is committed yet" in printed
    shown = ladder.run("git diff --stat", project, capture_output=True, text=True).stdout
    assert "dvc.yaml" in shown  # new files are staged as intended, so `git diff` shows them
    assert "To undo the whole upgrade instead: git reset --hard" in printed
    before = ladder.tree(ladder.render(1, tmp_path / "again"))  # as it was, plus our edits
    ladder.run("git reset -q --hard", project)
    undone = {p: c for p, c in ladder.tree(project).items() if not p.startswith(".git/")}
    assert undone.keys() == before.keys() | {f"src/{project.name}/weather.py"}
    assert TEAM_NOTE in undone["README.md"].decode()


def test_upgrade__same_lines_changed_on_both_sides_leave_conflict_markers(
    tmp_path: Path, capsys: CaptureFixture[str]
) -> None:
    project = render_committed(1, tmp_path)
    config = project / "src" / project.name / "config.py"
    config.write_text(config.read_text().replace("alpha: float = 1.0", "alpha: float = 0.5"))
    commit(project, "Stronger regularisation")

    assert cli.main(["upgrade", str(project)]) == 1
    printed = capsys.readouterr().out
    merged = config.read_text()
    # Level 2 moves the value to params.yaml: the line the owner changed is gone there.
    assert "<<<<<<< yours\n    alpha: float = 0.5\n" in merged
    assert "=======\n>>>>>>> level 2\n" in merged
    assert "PARAMS_FILE = Path" in merged  # the parts only level 2 changed are merged in
    assert f"conflict src/{project.name}/config.py" in printed
    assert "1 file(s) need you" in printed and "move any value you changed" in printed


def test_upgrade__removes_untouched_files_the_next_level_drops_and_keeps_edited_ones(
    tmp_path: Path,
) -> None:
    project = render_committed(0, tmp_path)
    simulator = project / "tlc_simulator.py"
    simulator.write_text(simulator.read_text() + "\n# our tweak\n")
    commit(project, "Tweak the simulator")

    outcome = upgrade.upgrade(project)
    actions = dict((path, action) for action, path in outcome.actions)
    assert actions["requirements.txt"] == "removed" and not (project / "requirements.txt").exists()
    assert actions["tlc_simulator.py"] == "kept" and simulator.read_text().endswith("tweak\n")
    assert outcome.to_decide == ["tlc_simulator.py"]
    assert (project / "src" / project.name / "simulate.py").is_file()


def test_upgrade__can_skip_levels_with_to(tmp_path: Path) -> None:
    project = render_committed(1, tmp_path / "mine")
    outcome = upgrade.upgrade(project, to=3)
    assert (outcome.low, outcome.high, outcome.to_decide) == (1, 3, [])
    fresh = ladder.tree(ladder.render(3, tmp_path / "fresh"))
    mine = {p: c for p, c in ladder.tree(project).items() if not p.startswith(".git/")}
    assert mine == fresh


@pytest.mark.parametrize(
    ("setup", "argv", "message"),
    [
        ("no git", [], "is not in a git repository"),
        ("ignored", [], "inside a git repository that does not track it"),
        ("dirty", [], "has uncommitted changes (README.md)"),
        ("no record", [], "has no .mlops-ladder.json"),
        ("top", [], "already at level 4, the top of the ladder"),
        ("clean", ["--to", "1"], "cannot go from level 1 to level 1: choose 2..4"),
        ("clean", ["--to", "7"], "cannot go from level 1 to level 7"),
    ],
)
def test_upgrade__refuses_with_a_clear_message_and_touches_nothing(
    tmp_path: Path, capsys: CaptureFixture[str], setup: str, argv: list[str], message: str
) -> None:
    level = 4 if setup == "top" else 1
    if setup == "ignored":  # rendered into a folder that an outer repository ignores
        (tmp_path / ".gitignore").write_text("out/\n")
        commit(tmp_path, "Outer repository", init=True)
    project = ladder.render(level, tmp_path / "out")
    if setup not in ("no git", "ignored"):
        commit(project, "Render", init=True)
    if setup == "dirty":
        (project / "README.md").write_text("mine\n")
    if setup == "no record":
        (project / ".mlops-ladder.json").unlink()
        commit(project, "No record")
    before = ladder.tree(project)

    assert cli.main(["upgrade", str(project), *argv]) == 2
    assert message in capsys.readouterr().err
    assert ladder.tree(project) == before


def test_upgrade__a_missing_folder_is_refused(tmp_path: Path, capsys: CaptureFixture[str]) -> None:
    assert cli.main(["upgrade", str(tmp_path / "nowhere")]) == 2
    assert "is not a folder" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ({"level": 2.7}, "level 2.7 is not one of [0, 1, 2, 3, 4]"),
        ({"level": -1}, "level -1 is not one of"),
        ({"level": "1"}, "level '1' is not one of"),
        ({"answers": {"project_name": "Taxi"}}, "the answers must be exactly"),
        ({"answers": "Taxi"}, "the answers must be exactly"),
        ({"answers": {"project_slug": "class"}}, "do not render"),
    ],
)
def test_upgrade__refuses_a_record_edited_into_nonsense(
    tmp_path: Path, capsys: CaptureFixture[str], edit: dict[str, Any], message: str
) -> None:
    project = ladder.render(1, tmp_path)
    record_path = project / ".mlops-ladder.json"
    record = json.loads(record_path.read_text())
    if isinstance(edit.get("answers"), dict) and "project_slug" in edit["answers"]:
        record["answers"].update(edit["answers"])
    else:
        record.update(edit)
    record_path.write_text(json.dumps(record))
    commit(project, "Hand-edited record", init=True)
    assert cli.main(["upgrade", str(project)]) == 2
    assert message in capsys.readouterr().err


def test_upgrade__your_executable_bits_stay_yours(tmp_path: Path) -> None:
    project = render_committed(1, tmp_path)
    module = project / "src" / project.name / "cli.py"
    module.chmod(0o755)
    commit(project, "Make the CLI executable")
    upgrade.upgrade(project)
    assert "def main" in module.read_text() and module.stat().st_mode & 0o777 == 0o755


def test_upgrade__a_file_you_moved_gets_its_new_version_beside_it(
    tmp_path: Path, capsys: CaptureFixture[str]
) -> None:
    project = render_committed(1, tmp_path)
    package = project / "src" / project.name
    ladder.run(f"git mv {package}/train.py {package}/training.py", project)
    commit(project, "Rename train.py")

    assert cli.main(["upgrade", str(project)]) == 1
    printed = capsys.readouterr().out
    fresh = ladder.render(2, tmp_path / "fresh")
    aside = package / "train.py.level2"
    assert aside.read_bytes() == (fresh / "src" / project.name / "train.py").read_bytes()
    assert not (package / "train.py").exists()
    assert f"skipped  src/{project.name}/train.py  (the new level changes it" in printed
    assert f"its new version is beside it, in src/{project.name}/train.py.level2" in printed


def test_upgrade__a_binary_file_changed_on_both_sides_is_kept_with_theirs_beside_it(
    tmp_path: Path,
) -> None:
    (tmp_path / "logo.png").write_bytes(b"\x89PNG\x00ours")
    outcome = upgrade.Outcome(1, 2, "taxi", rendered_then=True)
    change = upgrade._plan(tmp_path, "logo.png", b"\x89PNG\x00base", b"\x89PNG\x00new", outcome)
    assert (change.action, change.content, change.aside) == (
        "binary",
        b"\x89PNG\x00ours",
        b"\x89PNG\x00new",
    )


def test_upgrade__the_base_is_the_level_as_rendered_then_not_as_it_is_now(tmp_path: Path) -> None:
    """Template changes made after the render are applied, not mistaken for the owner's."""
    templates = tmp_path / "ladder" / "templates"
    shutil.copytree(ladder.TEMPLATES, templates, ignore=shutil.ignore_patterns("__pycache__"))
    commit(templates.parent, "Templates as they were", init=True)
    project = render_committed(1, tmp_path / "mine", templates)
    assert "template_commit" in json.loads((project / ".mlops-ladder.json").read_text())
    for level in (1, 2):  # later, the maintainers reword a task's help at both levels
        makefile = templates / f"level{level}" / "{{cookiecutter.project_slug}}" / "Makefile"
        makefile.write_text(makefile.read_text().replace("## run the unit tests", "## pytest"))
    commit(templates.parent, "Reword make test")

    outcome = upgrade.upgrade(project, templates=templates)
    assert outcome.rendered_then and not outcome.to_decide
    fresh = ladder.render(2, tmp_path / "fresh", templates=templates)
    assert (project / "Makefile").read_text() == (fresh / "Makefile").read_text()
    assert "## pytest" in (project / "Makefile").read_text()


def test_upgrade__without_the_commit_it_says_that_today_s_level_stands_in(
    tmp_path: Path, capsys: CaptureFixture[str]
) -> None:
    project = ladder.render(1, tmp_path)
    record_path = project / ".mlops-ladder.json"
    record = json.loads(record_path.read_text())
    record.pop("template_commit", None)  # rendered from a copy, or from changed templates
    record_path.write_text(json.dumps(record))
    commit(project, "Render", init=True)
    assert cli.main(["upgrade", str(project)]) == 0
    assert "the mlops-ladder commit that rendered it is unknown here" in capsys.readouterr().out


def test_upgrade__a_lock_you_changed_is_made_again_not_merged(
    tmp_path: Path, capsys: CaptureFixture[str]
) -> None:
    project = render_committed(1, tmp_path / "mine")
    lock = project / "uv.lock"
    lock.write_text(lock.read_text().replace('version = "0.1.0"', 'version = "0.2.0"', 1))
    commit(project, "Lock after a change of mine")

    assert cli.main(["upgrade", str(project)]) == 0  # nothing for you to resolve by hand
    out = capsys.readouterr().out
    assert "relocked uv.lock  (you changed your dependencies" in out
    assert out.index("  uv lock\n") < out.index("  make install\n")  # re-lock, then install
    fresh = ladder.render(2, tmp_path / "fresh")
    assert lock.read_bytes() == (fresh / "uv.lock").read_bytes()  # no conflict markers


def test_upgrade__a_clone_that_is_not_one_is_refused(
    tmp_path: Path, capsys: CaptureFixture[str]
) -> None:
    project = render_committed(1, tmp_path / "mine")
    assert cli.main(["upgrade", str(project), "--clone", str(tmp_path)]) == 2
    assert "is not a git clone of mlops-ladder" in capsys.readouterr().err
