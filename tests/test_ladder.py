"""The helpers behind `nox -s diff` and `nox -s new`."""

import json
import re
import subprocess
from pathlib import Path

import pages
import pytest
from cookiecutter.exceptions import FailedHookException
from cookiecutter.main import cookiecutter
from pytest import CaptureFixture, MonkeyPatch

from mlops_ladder import cli, ladder


def test_levels__lists_every_template_folder_in_order() -> None:
    folders = sorted(path.parent.name for path in ladder.TEMPLATES.glob("*/cookiecutter.json"))
    assert [f"level{level}" for level in ladder.levels()] == folders


def test_diff__summarises_explains_and_shows_the_lines() -> None:
    text = ladder.diff_text(0, 1)
    summary, _, body = text.partition("\n\n--- ")
    assert summary.startswith("What level 1 adds to level 0:")
    assert "files added" in summary and "files removed" in summary
    assert "removed tlc_simulator.py: moves into the package" in summary
    assert "added   tests/test_train.py: unit tests:" in summary
    assert "changed README.md: describes level 1" in summary
    assert "no reason declared" not in summary
    assert "+++ level1/pyproject.toml" in body
    assert "--- level0/requirements.txt" in body


def test_diff__any_two_levels_with_the_reason_from_the_level_that_made_the_change() -> None:
    summary = ladder.diff_text(1, 4).partition("\n\n--- ")[0]
    assert "added   dvc.yaml: level 2: versioned pipeline:" in summary
    assert "; level 3: adds the `ingest` stage" in summary
    assert "added   src/taxi_ride_duration/monitor.py: level 4: production metrics" in summary
    assert "no reason declared" not in summary


def test_diff__counts_lines_and_names_the_real_package_in_the_reasons() -> None:
    summary = ladder.diff_text(0, 4, {"package_name": "ride_time"}).partition("\n\n--- ")[0]
    assert "`python -m ride_time` runs the CLI" in summary and "{" not in summary
    counts = re.findall(r"files (?:added|changed|removed) *\(\+(\d+) -(\d+) lines\)", summary)
    total = re.search(r"in all: \+(\d+) -(\d+) lines", summary)
    assert len(counts) == 3 and total
    assert [sum(int(c[i]) for c in counts) for i in (0, 1)] == [int(total[1]), int(total[2])]
    assert int(total[1]) > 2000 and int(total[2]) > 0


def test_diff_html__one_self_contained_side_by_side_page(tmp_path: Path) -> None:
    page_path = tmp_path / "diff.html"
    assert cli.main(["diff", "2", "3", "--html", str(page_path)]) == 0
    page = page_path.read_text()
    assert page.startswith("<!doctype html>") and page.rstrip().endswith("</html>")
    assert not re.search(r"<(script|link|img)\b|\bsrc=", page)  # nothing fetched
    assert not pages.external_references(page)
    changes = ladder.compare(*(ladder.tree(ladder.render(lv, tmp_path / str(lv))) for lv in (2, 3)))
    for path in (p for paths in changes.values() for p in paths):
        assert f">{path} <span" in page  # one side-by-side section per file
    assert page.count('<table class="diff"') == sum(map(len, changes.values()))
    assert "evaluation gate: the challenger replaces the champion" in page


def test_diff_html__without_a_path_writes_diff_low_high_html_where_it_runs(
    tmp_path: Path, monkeypatch: MonkeyPatch, capsys: CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert cli.main(["diff", "3", "4", "--html"]) == 0
    assert (tmp_path / "diff-3-4.html").read_text().startswith("<!doctype html>")
    assert f"page written to {tmp_path / 'diff-3-4.html'}" in capsys.readouterr().out


def test_diff_html__a_folder_gets_the_page_under_its_default_name(
    tmp_path: Path, capsys: CaptureFixture[str]
) -> None:
    assert cli.main(["diff", "3", "4", "--html", str(tmp_path)]) == 0
    assert (tmp_path / "diff-3-4.html").read_text().startswith("<!doctype html>")


def test_new__a_failing_first_run_says_which_step_and_where_the_project_is(
    tmp_path: Path, monkeypatch: MonkeyPatch, capsys: CaptureFixture[str]
) -> None:
    def fails(level: int, project: Path, package: str) -> None:  # a step that exits 2
        subprocess.run(["python3", "-c", "raise SystemExit(2)"], check=True)

    monkeypatch.setattr(ladder, "first_run", fails)
    assert cli.main(["new", "1", str(tmp_path / "project")]) == 1
    error = capsys.readouterr().err
    assert error.startswith("error: the first run stopped at `python3 -c 'raise SystemExit(2)'`")
    assert "(exit code 2); the project is in " in error
    assert (tmp_path / "project").is_dir(), "what was rendered stays, to fix and run again"


def test_diff__minified_code_shows_as_its_size_and_digest(tmp_path: Path) -> None:
    low, high = ({"page.html": f"<script>\n{code}\n</script>\n".encode()} for code in "ab")
    low["page.html"] = low["page.html"].replace(b"a", b"a" * 2000)
    high["page.html"] = high["page.html"].replace(b"b", b"b" * 2000)
    text = ladder.annotated_diff(1, 2, low, high)
    shown = [line for line in text.splitlines() if "minified code: 2000 characters" in line]
    assert len(shown) == 2 and shown[0][0] == "-" and shown[1][0] == "+", text
    assert shown[0][1:] != shown[1][1:], "the digest tells two builds apart"
    assert "aaaa" not in text and "bbbb" not in text


# Measures, in the page as drawn, how many characters fit in the first code cell of the page.
MEASURE = """<script>
const cell = document.querySelector("table.diff td:nth-child(3)");
const probe = document.createElement("span");
probe.style.whiteSpace = "pre";
probe.textContent = "x".repeat(100);
cell.appendChild(probe);
const style = getComputedStyle(cell);
const inner = cell.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
document.body.dataset.chars = Math.floor(inner / (probe.getBoundingClientRect().width / 100));
</script></body>"""


@pages.needs_chromium
@pytest.mark.parametrize("width", [1400, 1920])
def test_diff_html__each_side_shows_80_characters_on_a_projector(
    tmp_path: Path, width: int
) -> None:
    page = tmp_path / "diff.html"
    assert cli.main(["diff", "2", "3", "--html", str(page)]) == 0
    page.write_text(page.read_text().replace("</body>", MEASURE))
    chars = re.search(r'data-chars="(\d+)"', pages.offline_dom(page, width=width))
    assert chars, "the page did not draw"
    assert int(chars[1]) >= 80


def test_diff__the_readme_example_is_what_diff_prints() -> None:
    readme = (ladder.ROOT / "README.md").read_text()
    example = readme.split("```console\nWhat level 3 adds to level 2:\n", 1)[1].split("```")[0]
    printed = ladder.diff_text(2, 3).splitlines()
    shown = [line for line in example.splitlines() if line.strip() not in ("", "...")]
    assert len(shown) >= 4 and all(line in printed for line in shown), shown


def test_diff__refuses_a_backwards_pair(capsys: CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        cli.main(["diff", "1", "0"])
    assert "needs LOW < HIGH" in capsys.readouterr().err


def test_root_template__offers_every_level_with_a_title() -> None:
    offered = json.loads((ladder.ROOT / "cookiecutter.json").read_text())["templates"]
    assert [entry["path"] for entry in offered.values()] == [
        f"./templates/level{level}" for level in ladder.levels()
    ]
    assert all(entry["title"].startswith("Level ") for entry in offered.values())


def test_root_template__renders_the_chosen_level(tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    config.write_text(f"replay_dir: {tmp_path}/replay\ncookiecutters_dir: {tmp_path}/cc\n")
    project = cookiecutter(
        str(ladder.ROOT), no_input=True, output_dir=str(tmp_path / "out"), config_file=str(config)
    )
    assert (Path(project) / "duration-prediction.ipynb").is_file()  # the first choice: level 0


def test_new__refuses_a_folder_that_already_holds_a_project_and_names_force(
    tmp_path: Path, capsys: CaptureFixture[str]
) -> None:
    (tmp_path / "taxi_ride_duration").mkdir()
    with pytest.raises(SystemExit):
        cli.main(["new", "1", str(tmp_path)])
    assert "taxi_ride_duration exists: add --force to replace it" in capsys.readouterr().err
    assert [path.name for path in tmp_path.iterdir()] == ["taxi_ride_duration"]
    assert not any((tmp_path / "taxi_ride_duration").iterdir()), "left as it was"


def test_new__force_replaces_the_project_and_leaves_its_neighbours(tmp_path: Path) -> None:
    old = tmp_path / "taxi_ride_duration"
    (old / "models").mkdir(parents=True)
    (old / "models" / "model.pkl").write_text("an earlier run")
    (tmp_path / "taxi_ride_duration-dvc-remote").mkdir()

    project = ladder.place(2, tmp_path, force=True)

    assert project == old and (project / "dvc.yaml").is_file()
    assert not (project / "models").exists(), "nothing of the earlier run is left"
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "taxi_ride_duration",
        "taxi_ride_duration-dvc-remote",
    ]


def test_new__a_render_that_fails_leaves_the_folder_as_it_was(tmp_path: Path) -> None:
    bad = {"author_email": "not an address"}  # the pre-gen hook refuses it
    old = tmp_path / "out" / "taxi_ride_duration"
    old.mkdir(parents=True)
    (old / "kept").write_text("an earlier run")
    with pytest.raises(FailedHookException):
        ladder.place(1, tmp_path / "out", force=True, answers=bad)
    assert [p.relative_to(tmp_path).as_posix() for p in sorted(tmp_path.rglob("*"))] == [
        "out", "out/taxi_ride_duration", "out/taxi_ride_duration/kept"
    ]  # fmt: skip

    with pytest.raises(FailedHookException):
        ladder.place(1, tmp_path / "new" / "level1", answers=bad)
    assert not (tmp_path / "new").exists(), "no folder made for a project that was not"


def test_new__names_the_project_as_typed_from_where_it_ran(tmp_path: Path) -> None:
    project = tmp_path / "out" / "level1" / "taxi_ride_duration"
    assert ladder.shown(project, tmp_path) == "out/level1/taxi_ride_duration"
    assert ladder.shown(project, tmp_path / "elsewhere") == str(project)


def test_levels__lists_every_level_with_what_it_adds(capsys: CaptureFixture[str]) -> None:
    assert cli.main(["levels"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in printed[: len(ladder.levels())]] == [
        str(level) for level in ladder.levels()
    ]
    assert "Automated model deployment" in printed[3]


def test_diff_update__refuses_in_an_installed_wheel(
    monkeypatch: MonkeyPatch, capsys: CaptureFixture[str]
) -> None:
    monkeypatch.setattr(ladder, "INSTALLED", True)
    with pytest.raises(SystemExit):
        cli.main(["diff", "--update"])
    assert "rewrites the golden diffs of a clone" in capsys.readouterr().err
