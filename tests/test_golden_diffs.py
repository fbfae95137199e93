"""The committed diff of each adjacent pair is what the templates render today.

A one-line edit inside a file that a level also changes passes every progression check, yet
the next level silently "reverts" it; the golden diffs make such drift fail here, and show it
in the pull request that causes it.
"""

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from pytest import CaptureFixture, MonkeyPatch

from mlops_ladder import cli, ladder

PAIRS = list(zip(ladder.levels(), ladder.levels()[1:], strict=False))


@pytest.mark.parametrize(("low", "high"), PAIRS, ids=[f"{a}-{b}" for a, b in PAIRS])
def test_golden_diff__the_rendered_pair_is_the_committed_diff(
    bake: Callable[..., Path], low: int, high: int
) -> None:
    rendered = ladder.annotated_diff(low, high, ladder.tree(bake(low)), ladder.tree(bake(high)))
    drift = ladder.golden_drift(low, high, rendered)
    if drift:
        pytest.fail(drift, pytrace=False)


def test_golden_diff__every_pair_and_nothing_else_is_committed() -> None:
    committed = sorted(path.name for path in (ladder.TEMPLATES / "diffs").iterdir())
    assert committed == [f"{low}-{high}.diff" for low, high in PAIRS]


def copy_of_templates(tmp_path: Path) -> Path:
    templates = tmp_path / "ladder" / "templates"
    shutil.copytree(ladder.TEMPLATES, templates, ignore=shutil.ignore_patterns("__pycache__"))
    return templates


def drift_of(templates: Path, tmp_path: Path, low: int, high: int) -> str | None:
    folder = tmp_path / f"{low}-{high}"
    lower, upper = (
        ladder.tree(ladder.render(level, folder / str(level), templates=templates))
        for level in (low, high)
    )
    return ladder.golden_drift(low, high, ladder.annotated_diff(low, high, lower, upper), templates)


def test_golden_diff__a_help_string_edited_in_one_level_fails_with_the_fix(tmp_path: Path) -> None:
    templates = copy_of_templates(tmp_path)
    source = templates / "level2" / "{{cookiecutter.project_slug}}" / "src"
    source = source / "{{cookiecutter.package_name}}" / "cli.py"
    old = '"write simulated monthly trip records",'
    source.write_text(source.read_text().replace(old, '"write simulated months of rides",'))

    drift = drift_of(templates, tmp_path, 2, 3)
    assert drift is not None
    assert drift.startswith(
        "What level 3 adds to level 2 is not the committed templates/diffs/2-3.diff:\n"
    )
    assert '+-    "write simulated months of rides",' in drift
    assert "python3 -m nox -s diff -- --update" in drift
    assert "python3 -m nox -s propagate -- 2 PATH..." in drift
    assert drift_of(templates, tmp_path, 3, 4) is None  # level 3 and up did not change


def test_golden_diff__a_long_drift_is_cut_with_the_command_that_shows_it_all() -> None:
    drift = ladder.golden_drift(3, 4, "What level 4 adds to level 3:\n" + "x\n" * 100)
    assert drift is not None and "more lines: python3 -m nox -s diff -- 3 4\n" in drift
    assert len(drift.splitlines()) < ladder.DRIFT_LINES + 10


def test_diff_update__rewrites_only_the_pairs_that_changed(tmp_path: Path) -> None:
    templates = copy_of_templates(tmp_path)
    golden = ladder.golden_path(3, 4, templates)
    golden.write_text("stale\n")
    ladder.golden_path(0, 1, templates).unlink()
    states = ladder.update_goldens(templates)
    assert states["templates/diffs/0-1.diff"] == "created"
    assert states["templates/diffs/3-4.diff"] == "updated"
    assert golden.read_text().startswith("What level 4 adds to level 3:\n")
    assert set(ladder.update_goldens(templates).values()) == {"unchanged"}


def test_diff_update__prints_what_it_did_to_each_golden_file(
    tmp_path: Path, monkeypatch: MonkeyPatch, capsys: CaptureFixture[str]
) -> None:
    templates = copy_of_templates(tmp_path)
    ladder.golden_path(1, 2, templates).write_text("stale\n")
    monkeypatch.setattr(ladder, "TEMPLATES", templates)
    assert cli.main(["diff", "--update"]) == 0
    assert "updated   templates/diffs/1-2.diff" in capsys.readouterr().out.splitlines()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["diff"], "diff needs two levels, LOW HIGH (or --update)"),
        (["diff", "2"], "diff needs two levels"),
        (["diff", "2", "3", "--update"], "diff --update takes no levels and no --html"),
    ],
)
def test_diff__refuses_a_missing_pair_or_levels_with_update(
    capsys: CaptureFixture[str], argv: list[str], message: str
) -> None:
    with pytest.raises(SystemExit):
        cli.main(argv)
    assert message in capsys.readouterr().err
