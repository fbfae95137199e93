"""`nox -s bump`: one pin moves in every level at once; levels never disagree without a reason."""

import shutil
import tomllib
from pathlib import Path

import bump
import pytest
from pytest import CaptureFixture

from mlops_ladder import ladder

SHA = "0123456789abcdef0123456789abcdef01234567"
SHA_2 = "89abcdef0123456789abcdef0123456789abcdef"


@pytest.fixture
def templates(tmp_path: Path) -> Path:
    """A throw-away copy of the templates, for bumps to edit."""
    copy = tmp_path / "templates"
    shutil.copytree(ladder.TEMPLATES, copy, ignore=shutil.ignore_patterns("__pycache__"))
    return copy


def snapshot(templates: Path) -> dict[str, bytes]:
    return {str(path): path.read_bytes() for path in templates.rglob("*") if path.is_file()}


def undeclared_disagreements(templates: Path, declared: dict[str, str]) -> list[str]:
    """One message per pin that two places disagree on without a reason in [pins]."""
    return [
        f"{name}: "
        + "; ".join(f"{version} at {', '.join(places)}" for version, places in v.items())
        for name, v in bump.disagreements(templates).items()
        if name not in declared
    ]


def test_pins__the_levels_agree_unless_evolutions_toml_says_why() -> None:
    declared = tomllib.loads(ladder.EVOLUTIONS.read_text()).get("pins", {})
    problems = undeclared_disagreements(ladder.TEMPLATES, declared)
    assert not problems, "levels pin different versions; bump them together or add to [pins]:\n" + (
        "\n".join(problems)
    )
    stale = set(declared) - set(bump.disagreements(ladder.TEMPLATES))
    assert not stale, f"[pins] in evolutions.toml declares pins that no longer differ: {stale}"


def test_pins__a_level_that_pins_another_version_is_caught(templates: Path) -> None:
    pyproject = next(templates.glob("level2/*/pyproject.toml"))
    pyproject.write_text(pyproject.read_text().replace("pandas==2.3.3", "pandas==2.3.2"))
    workflow = next(templates.glob("level3/*/.github/workflows/ci.yml"))
    workflow.write_text(
        workflow.read_text().replace("actions/checkout@v5", "actions/checkout@v4", 1)
    )

    problems = undeclared_disagreements(templates, {})

    by_name = {problem.split(":")[0]: problem for problem in problems}
    assert sorted(by_name) == ["actions/checkout", "pandas"]
    assert "2.3.2 at level2/{{cookiecutter.project_slug}}/pyproject.toml:14" in by_name["pandas"]
    assert not undeclared_disagreements(templates, {"pandas": "why", "actions/checkout": "why"})


def test_bump__a_package_moves_in_every_level_and_each_line_is_printed(
    templates: Path, capsys: CaptureFixture[str]
) -> None:
    assert bump.main(["pandas", "2.3.4", "--templates", str(templates)]) == 0

    out = capsys.readouterr().out
    assert "pandas -> 2.3.4: 5 lines changed in 5 files" in out
    assert "templates/level0/{{cookiecutter.project_slug}}/requirements.in:8\n" in out
    assert '  + "pandas==2.3.4",  # not 3.x' in out  # the comment stays
    assert set(bump.pins(templates)["pandas"]) == {"2.3.4"}
    assert not bump.disagreements(templates)


def test_bump__names_compare_normalised_and_extras_stay(templates: Path) -> None:
    edits = bump.bump("Scikit_Learn", "1.9.2", templates=templates)
    assert len(edits) == 5 and all("scikit-learn==1.9.2" in edit.new for edit in edits)

    edits = bump.bump("uvicorn", "0.55.0", templates=templates)
    assert [edit.new.strip() for edit in edits] == ['"uvicorn[standard]==0.55.0",'] * 2


def test_bump__images_named_after_the_package_follow_it(templates: Path) -> None:
    edits = bump.bump("mlflow", "3.17.3", templates=templates)
    assert {edit.path.name for edit in edits} == {"pyproject.toml", "docker-compose.yml"}
    assert "image: ghcr.io/mlflow/mlflow:v3.17.3" in [edit.new.strip() for edit in edits]


def test_bump__only_that_package_moves() -> None:
    line = '"xpandas==1.0", "pandas==2.3.3", "pandas-stubs==2.3.3"'
    assert bump.bump_package_line(line, "pandas", "2.3.4") == (
        '"xpandas==1.0", "pandas==2.3.4", "pandas-stubs==2.3.3"'
    )


def test_bump__an_action_moves_on_every_uses_line(
    templates: Path, capsys: CaptureFixture[str]
) -> None:
    before = snapshot(templates)
    assert bump.main(["actions/checkout", "v5.0.1", "--templates", str(templates)]) == 0

    assert "actions/checkout -> v5.0.1: 22 lines changed in 11 files" in capsys.readouterr().out
    assert set(bump.pins(templates)["actions/checkout"]) == {"v5.0.1"}
    changed = [path for path, content in snapshot(templates).items() if before[path] != content]
    assert len(changed) == 11 and all("/.github/workflows/" in path for path in changed)
    workflow = next(templates.glob("level1/*/.github/workflows/ci.yml")).read_text()
    assert "- uses: actions/checkout@v5.0.1  # zizmor: ignore[unpinned-uses] tag kept" in workflow


def test_bump__an_action_pinned_to_a_sha_keeps_its_tag_in_a_comment(templates: Path) -> None:
    bump.bump("actions/checkout", "v5.0.1", sha=SHA, templates=templates)
    assert set(bump.pins(templates)["actions/checkout"]) == {f"{SHA} # v5.0.1"}
    workflow = next(templates.glob("level1/*/.github/workflows/ci.yml")).read_text()
    assert f"      - uses: actions/checkout@{SHA} # v5.0.1\n" in workflow

    with pytest.raises(bump.Refused, match="pinned to a commit SHA.*give --sha of v5.0.2"):
        bump.bump("actions/checkout", "v5.0.2", templates=templates)

    bump.bump("actions/checkout", "v5.0.2", sha=SHA_2, templates=templates)
    assert set(bump.pins(templates)["actions/checkout"]) == {f"{SHA_2} # v5.0.2"}


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["nothere", "1.0"], "nothere is pinned nowhere"),
        (["owner/nothere", "v1"], "owner/nothere is pinned nowhere"),
        (["pandas", "2.x"], "'2.x' is not a release version"),
        (["pandas", "==2.3.4"], "not a release version"),
        (["actions/checkout", "5.0.1"], "'5.0.1' is not an action tag"),
        (["actions/checkout", "v5.0.1", "--sha", "abc123"], "not a full 40-character"),
        (["pandas", "2.3.4", "--sha", SHA], "--sha pins GitHub actions only"),
    ],
)
def test_bump__refuses_clearly_and_writes_nothing(
    templates: Path, capsys: CaptureFixture[str], argv: list[str], message: str
) -> None:
    before = snapshot(templates)
    assert bump.main([*argv, "--templates", str(templates)]) == 2
    assert message in capsys.readouterr().err
    assert snapshot(templates) == before


def test_bump__already_there_changes_nothing(templates: Path, capsys: CaptureFixture[str]) -> None:
    assert bump.main(["pandas", "2.3.3", "--templates", str(templates)]) == 0
    assert "pandas is already at 2.3.3 everywhere" in capsys.readouterr().out


def test_bump__names_the_locks_a_changed_pin_makes_stale(templates: Path) -> None:
    projects = [next(templates.glob(f"level{level}/{{{{*")) for level in range(5)]
    edits = bump.bump("numpy", "2.4.7", templates=templates)
    stale = [projects[0] / "requirements.txt"] + [p / "uv.lock" for p in projects[1:]]
    assert bump.locks_to_refresh(edits) == sorted(stale)
    # the compiled requirements.txt is never edited by hand: its hashes would no longer match
    assert not any(edit.path.name == "requirements.txt" for edit in edits)
