"""`nox -s propagate`: an edit of one level's templates, merged into the levels above."""

import shutil
from pathlib import Path

import propagate
import pytest
from pytest import CaptureFixture, MonkeyPatch
from runs import commit

from mlops_ladder import ladder

PROJECT = "{{cookiecutter.project_slug}}"
CLI = f"{PROJECT}/src/{{{{cookiecutter.package_name}}}}/cli.py"
HELP = '"write simulated monthly trip records",'


@pytest.fixture
def templates(tmp_path: Path) -> Path:
    """A throw-away git copy of the templates, committed as they are."""
    copy = tmp_path / "ladder" / "templates"
    shutil.copytree(ladder.TEMPLATES, copy, ignore=shutil.ignore_patterns("__pycache__"))
    commit(copy.parent, "Templates as they are", init=True)
    return copy


def edit(templates: Path, level: int, relative: str, old: str, new: str) -> Path:
    file = templates / f"level{level}" / relative
    text = file.read_text()
    assert old in text, f"{old!r} is not in level {level}'s {relative}"
    file.write_text(text.replace(old, new, 1))
    return file


def snapshot(templates: Path) -> dict[str, bytes]:
    return {p: c for p, c in ladder.tree(templates.parent).items() if not p.startswith(".git/")}


def drifts(templates: Path, tmp_path: Path) -> dict[str, bool]:
    """Which golden diffs of the copy no longer hold."""
    files = {
        level: ladder.tree(ladder.render(level, tmp_path / f"r{level}", templates=templates))
        for level in ladder.levels()
    }
    return {
        f"{low}-{high}": ladder.golden_drift(
            low, high, ladder.annotated_diff(low, high, files[low], files[high]), templates
        )
        is not None
        for low, high in zip(ladder.levels(), ladder.levels()[1:], strict=False)
    }


def test_propagate__a_one_line_edit_in_level_2_reaches_levels_3_and_4(
    templates: Path, tmp_path: Path
) -> None:
    edit(templates, 2, CLI, HELP, '"write simulated months of rides",')

    steps = propagate.propagate(2, [f"templates/level2/{CLI}"], templates)

    assert [(step.level, step.action) for step in steps] == [(3, "updated"), (4, "updated")]
    for level in (3, 4):
        text = (templates / f"level{level}" / CLI).read_text()
        assert '"write simulated months of rides",' in text and HELP not in text
        assert "def main" in text and ("serve" in text)  # the level's own lines stay
    assert drifts(templates, tmp_path) == {"0-1": False, "1-2": True, "2-3": False, "3-4": False}


def test_propagate__a_second_run_finds_every_level_the_same(
    templates: Path, capsys: CaptureFixture[str]
) -> None:
    edit(templates, 2, CLI, HELP, '"write simulated months of rides",')
    assert propagate.propagate(2, [CLI], templates)[0].action == "updated"
    before = snapshot(templates)

    steps = propagate.propagate(2, [CLI], templates)

    assert [step.action for step in steps] == ["same", "same"]
    assert snapshot(templates) == before


def conflicting_edits(templates: Path, level: int, monkeypatch: MonkeyPatch) -> dict[str, bytes]:
    """`level` words the help string its own way (committed), then level 2 edits it; the
    templates as they are before propagating, with ladder pointed at them."""
    edit(templates, level, CLI, HELP, '"simulate rides",')
    commit(templates.parent, f"Level {level} words it its own way")
    edit(templates, 2, CLI, HELP, '"write simulated months of rides",')
    monkeypatch.setattr(ladder, "TEMPLATES", templates)
    return snapshot(templates)


def test_propagate__a_conflict_writes_nothing_and_names_the_level_and_file(
    templates: Path, monkeypatch: MonkeyPatch, capsys: CaptureFixture[str]
) -> None:
    before = conflicting_edits(templates, 3, monkeypatch)

    assert propagate.main(["2", "src/{{cookiecutter.package_name}}/cli.py"]) == 1

    printed = capsys.readouterr().out
    assert snapshot(templates) == before
    assert f"  level 3  conflict templates/level3/{CLI}" in printed
    assert f"Conflict in level 3's {CLI}:\n<<<<<<< level 3\n" in printed
    assert '"simulate rides",' in printed and ">>>>>>> level 2, edited" in printed
    assert "Nothing was written. Make the edit by hand in level 3" in printed
    assert "  python3 -m nox -s propagate -- 3 PATH...   (on from level 3)" in printed
    assert "--to" not in printed, "no level lies between 2 and the conflict"
    assert "level 4" not in printed.split("Conflict in")[0]  # the chain stops at the conflict


def test_propagate__a_conflict_two_levels_up_says_how_to_reach_the_levels_between(
    templates: Path, monkeypatch: MonkeyPatch, capsys: CaptureFixture[str]
) -> None:
    before = conflicting_edits(templates, 4, monkeypatch)

    assert propagate.main(["2", CLI]) == 1
    printed = capsys.readouterr().out
    assert snapshot(templates) == before
    assert "  python3 -m nox -s propagate -- 2 PATH... --to 3   (the levels below it)" in printed
    assert "propagate -- 4" not in printed, "level 4 is the top: nothing to carry on"

    # As advised: level 4 by hand, then the levels between with --to.
    edit(templates, 4, CLI, '"simulate rides",', '"write simulated months of rides",')
    assert propagate.main(["2", CLI, "--to", "3"]) == 0
    level3 = (templates / "level3" / CLI).read_text()
    assert '"write simulated months of rides",' in level3


def test_propagate__refuses_a_to_outside_the_levels_above(
    templates: Path, monkeypatch: MonkeyPatch, capsys: CaptureFixture[str]
) -> None:
    edit(templates, 2, CLI, HELP, '"write simulated months of rides",')
    monkeypatch.setattr(ladder, "TEMPLATES", templates)
    assert propagate.main(["2", CLI, "--to", "2"]) == 2
    assert "--to 2: choose a level from 3 to 4" in capsys.readouterr().err


def test_propagate__a_file_new_in_level_n_is_added_above_with_its_mode(templates: Path) -> None:
    new = templates / "level2" / PROJECT / "scripts" / "check.sh"
    new.parent.mkdir()
    new.write_text("#!/bin/sh\necho ok\n")
    new.chmod(0o755)

    steps = propagate.propagate(2, [f"{PROJECT}/scripts/check.sh"], templates)

    assert [(step.level, step.action) for step in steps] == [(3, "added"), (4, "added")]
    for level in (3, 4):
        added = templates / f"level{level}" / PROJECT / "scripts" / "check.sh"
        assert added.read_bytes() == new.read_bytes() and added.stat().st_mode & 0o777 == 0o755


def test_propagate__stops_at_a_level_that_dropped_the_file(templates: Path) -> None:
    simulator = edit(templates, 0, f"{PROJECT}/tlc_simulator.py", '"""', '"""Offline. ')
    before = snapshot(templates)

    steps = propagate.propagate(0, [str(simulator)], templates)

    assert [(step.level, step.action) for step in steps] == [(1, "absent")]
    assert snapshot(templates) == before


def test_propagate__finds_the_file_from_the_repository_the_level_or_its_project(
    templates: Path,
) -> None:
    relative = "hooks/post_gen_project.py"
    for path in (f"templates/level1/{relative}", relative, str(templates / "level1" / relative)):
        assert propagate.level_path(1, path, templates, "HEAD") == relative
    assert propagate.level_path(1, "src/{{cookiecutter.package_name}}/cli.py", templates, "HEAD")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["4", "README.md"], "level 4 is the top of the ladder"),
        (["2", "nowhere.py"], "nowhere.py is not a file of level 2"),
        (["2", f"templates/level3/{CLI}"], "is not a file of level 2: propagate -- 3"),
        (["2", "templates/evolutions.toml"], "templates/evolutions.toml is not a file of level 2"),
        (["2", CLI], "has no change against HEAD: edit it first"),
        (["2", "README.md", "--base", "nonsense"], "has no git revision 'nonsense'"),
        (["2", "deleted"], "was deleted from level 2: propagate carries edits and new files"),
    ],
)
def test_propagate__refuses_with_a_clear_message_and_writes_nothing(
    templates: Path,
    monkeypatch: MonkeyPatch,
    capsys: CaptureFixture[str],
    argv: list[str],
    message: str,
) -> None:
    if argv[1] == "deleted":
        argv = ["2", "README.md"]
        (templates / "level2" / PROJECT / "README.md").unlink()
    before = snapshot(templates)
    monkeypatch.setattr(ladder, "TEMPLATES", templates)
    monkeypatch.chdir(templates.parent)

    assert propagate.main(argv) == 2

    assert message in capsys.readouterr().err
    assert snapshot(templates) == before
