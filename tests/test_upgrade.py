"""`nox -s upgrade`: a three-way merge of the next level into a user's git repository."""

import json
from pathlib import Path

import ladder
import pytest
import upgrade

GIT_USER = "git -c user.name=test -c user.email=test@example.com"
TEAM_NOTE = "Our team owns this model; ask #taxi-ml.\n"


def render_committed(level: int, folder: Path) -> Path:
    project = ladder.render(level, folder)
    commit(project, "Render the template", init=True)
    return project


def commit(project: Path, message: str, init: bool = False) -> None:
    setup = "git init -q -b main && " if init else ""
    ladder.run(f"{setup}git add -A && {GIT_USER} commit -qm '{message}'", project)


def add_team_note(project: Path) -> None:
    """A user edit far from the lines the next levels change: a note under the title."""
    readme = project / "README.md"
    title, rest = readme.read_text().split("\n", 1)
    readme.write_text(f"{title}\n\n{TEAM_NOTE}{rest}")


def test_upgrade__keeps_user_edits_and_otherwise_equals_the_next_level(tmp_path, capsys):
    project = render_committed(1, tmp_path / "mine")
    add_team_note(project)
    module = project / "src" / project.name / "weather.py"
    module.write_text('"""Rain slows rides."""\n\nRAIN_FACTOR = 1.2\n')
    commit(project, "Our edits")

    assert upgrade.main([str(project)]) == 0
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


def test_upgrade__same_lines_changed_on_both_sides_leave_conflict_markers(tmp_path, capsys):
    project = render_committed(1, tmp_path)
    config = project / "src" / project.name / "config.py"
    config.write_text(config.read_text().replace("alpha: float = 1.0", "alpha: float = 0.5"))
    commit(project, "Stronger regularisation")

    assert upgrade.main([str(project)]) == 1
    printed = capsys.readouterr().out
    merged = config.read_text()
    assert "<<<<<<< yours\n    alpha: float = 0.5\n=======\n    alpha: float = 1.0\n" in merged
    assert ">>>>>>> level 2\n" in merged
    assert "PARAMS_FILE = Path" in merged  # the parts only level 2 changed are merged in
    assert f"conflict src/{project.name}/config.py" in printed
    assert "1 file(s) need you" in printed and "move any value you changed" in printed


def test_upgrade__removes_untouched_files_the_next_level_drops_and_keeps_edited_ones(tmp_path):
    project = render_committed(0, tmp_path)
    simulator = project / "tlc_simulator.py"
    simulator.write_text(simulator.read_text() + "\n# our tweak\n")
    commit(project, "Tweak the simulator")

    outcome = upgrade.upgrade(project)
    actions = dict((path, action) for action, path in outcome.actions)
    assert actions["requirements.txt"] == "removed" and not (project / "requirements.txt").exists()
    assert actions["tlc_simulator.py"] == "kept" and simulator.read_text().endswith("tweak\n")
    assert outcome.conflicts == ["tlc_simulator.py"]
    assert (project / "src" / project.name / "simulate.py").is_file()


def test_upgrade__can_skip_levels_with_to(tmp_path):
    project = render_committed(1, tmp_path / "mine")
    outcome = upgrade.upgrade(project, to=3)
    assert (outcome.low, outcome.high, outcome.conflicts) == (1, 3, [])
    fresh = ladder.tree(ladder.render(3, tmp_path / "fresh"))
    mine = {p: c for p, c in ladder.tree(project).items() if not p.startswith(".git/")}
    assert mine == fresh


@pytest.mark.parametrize(
    ("setup", "argv", "message"),
    [
        ("no git", [], "is not in a git repository"),
        ("dirty", [], "has uncommitted changes (README.md)"),
        ("no record", [], "has no .mlops-ladder.json"),
        ("top", [], "already at level 4, the top of the ladder"),
        ("clean", ["--to", "1"], "cannot go from level 1 to level 1: choose 2..4"),
        ("clean", ["--to", "7"], "cannot go from level 1 to level 7"),
    ],
)
def test_upgrade__refuses_with_a_clear_message_and_touches_nothing(
    tmp_path, capsys, setup, argv, message
):
    level = 4 if setup == "top" else 1
    project = ladder.render(level, tmp_path)
    if setup != "no git":
        commit(project, "Render", init=True)
    if setup == "dirty":
        (project / "README.md").write_text("mine\n")
    if setup == "no record":
        (project / ".mlops-ladder.json").unlink()
        commit(project, "No record")
    before = ladder.tree(project)

    assert upgrade.main([str(project), *argv]) == 2
    assert message in capsys.readouterr().err
    assert ladder.tree(project) == before


def test_upgrade__a_missing_folder_is_refused(tmp_path, capsys):
    assert upgrade.main([str(tmp_path / "nowhere")]) == 2
    assert "is not a folder" in capsys.readouterr().err
