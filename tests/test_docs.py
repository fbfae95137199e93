"""The workshop material in docs/: every lesson has its parts, every relative link resolves, and
no explanation is copied between a lesson and a README. tools/lessons.py reads the lessons."""

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from lessons import (
    DOCS,
    LESSONS,
    LINKED,
    ROOT,
    Block,
    Step,
    broken_link,
    lesson_problems,
    parse,
    relative_links,
    runnable_steps,
    shared_sentences,
    shows,
    steps,
    too_precise,
    unmatched,
)

from mlops_ladder import ladder


@pytest.mark.parametrize("level", sorted(LESSONS))
def test_lesson__has_every_part(level: int) -> None:
    assert LESSONS[level].is_file(), f"docs/level{level}.md is missing"
    assert lesson_problems(level, LESSONS[level]) == []


@pytest.mark.parametrize("level", sorted(LESSONS))
def test_lesson__runnable_blocks_parse_into_commands(level: int) -> None:
    for step in runnable_steps(LESSONS[level]):
        assert step.command.strip(), step.where
        assert "\t" not in step.command, f"{step.where}: a tab in a command"


def test_lesson__a_missing_part_is_reported(tmp_path: Path) -> None:
    complete = LESSONS[2].read_text()
    broken = tmp_path / "level2.md"
    broken.write_text(complete.replace("```mermaid", "```text").replace("-s diff --", "-s dif"))
    problems = lesson_problems(2, broken)
    assert "no ```mermaid picture" in problems
    assert "no runnable `python3 -m nox -s diff -- 1 2`" in problems


def test_lesson__a_service_left_running_is_reported(tmp_path: Path) -> None:
    broken = tmp_path / "level3.md"
    broken.write_text(LESSONS[3].read_text().replace("$ make stop\n", "$ make decision\n"))
    assert "starts the service (`make deploy`) but never stops it (`make stop`)" in (
        lesson_problems(3, broken)
    )


def test_readme__plans_the_day_and_links_every_lesson_in_order() -> None:
    document = parse(DOCS / "README.md")
    targets = [target for _, target in relative_links(document)]
    lessons = [target for target in targets if re.fullmatch(r"level\d\.md", target)]
    assert list(dict.fromkeys(lessons)) == [path.name for path in LESSONS.values()]
    titles = [title for _, title, _ in document.headings]
    for title in ("Before the day", "The day", "Troubleshooting"):
        assert title in titles, f"docs/README.md has no section '{title}'"


@pytest.mark.parametrize("path", LINKED, ids=lambda path: str(path.relative_to(ROOT)))
def test_links__every_relative_link_resolves(path: Path) -> None:
    document = parse(path)
    broken = [
        f"line {number}: {problem}"
        for number, target in relative_links(document)
        if (problem := broken_link(path, target))
    ]
    assert broken == []


def test_links__a_broken_link_and_a_missing_anchor_are_found(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("# A title\n\n[ok](#a-title) [gone](missing.md) [bad](#no-such)\n")
    found = [broken_link(page, target) for _, target in relative_links(parse(page))]
    assert found == [
        None,
        "missing.md: no such file or folder",
        "#no-such: page.md has no heading with the anchor #no-such",
    ]


@pytest.mark.parametrize("level", ladder.levels())
def test_one_source__no_sentence_is_both_in_the_docs_and_in_a_readme(
    level: int, bake: Callable[..., Path]
) -> None:
    readme = (bake(level) / "README.md").read_text()
    copied = {
        f"{path.name}: {sentence}"
        for path in DOCS.glob("*.md")
        for sentence in shared_sentences(path.read_text(), readme)
    }
    assert copied == set(), "explain it in one place and link to it"


def test_one_source__the_docs_do_not_copy_the_repository_readme() -> None:
    readme = (ROOT / "README.md").read_text()
    copied = {
        f"{path.name}: {sentence}"
        for path in DOCS.glob("*.md")
        for sentence in shared_sentences(path.read_text(), readme)
    }
    assert copied == set(), "explain it in one place and link to it"


def test_shared_sentences__finds_a_copied_sentence_despite_markup_and_wrapping() -> None:
    readme = "Intro.\n\nEvery `train` stage is an MLflow run, stored in\n`mlflow.db` unless told.\n"
    lesson = (
        "As the README says: **every train stage is an MLflow run,\n"
        "stored in mlflow.db unless told.**\n"
    )
    assert shared_sentences(lesson, readme) == {
        "every train stage is an mlflow run, stored in mlflow.db unless told"
    }


def test_shared_sentences__finds_a_copied_sentence_with_a_link_in_it() -> None:
    sentence = (
        "The [gate](gate.md) promotes a challenger only when it beats the champion on the same"
        " holdout month."
    )
    assert len(shared_sentences(sentence, f"Intro.\n\n{sentence}\n")) == 1


def test_block__an_unknown_tag_is_an_error_not_a_silently_skipped_block() -> None:
    with pytest.raises(ValueError, match="tags are"):
        assert not Block("console runable", "$ ls", 7, False).runnable


def test_steps__commands_continuations_and_expected_output() -> None:
    block = Block("console runnable", "$ make a \\\n  B=1\none\n\n$ make c\n...\ntwo", 1, False)
    assert steps(block, "x") == [
        Step("make a \\\n  B=1", ("one",), False, "x"),
        Step("make c", ("...", "two"), False, "x"),
    ]
    with pytest.raises(ValueError, match="output before the first"):
        steps(Block("console runnable", "oops\n$ ls", 1, False), "x")


@pytest.mark.parametrize(
    ("expected", "output", "missing"),
    [
        (("b", "...", "d"), "a\nb\nc\nd\n", None),
        (("b", "c"), "a\nb\nc\nd\n", None),  # the first line may come after anything
        (("b", "d"), "a\nb\nc\nd\n", "d"),  # shown one after the other, printed apart
        (("d", "...", "b"), "a\nb\nc\nd\n", "b"),  # out of order
        (("...", "x  y"), "\x1b[1mx    y\x1b[0m\n", None),  # colours and spacing do not count
        (("e",), "a\n", "e"),
    ],
)
def test_unmatched__expected_lines_in_order(
    expected: tuple[str, ...], output: str, missing: str | None
) -> None:
    assert unmatched(expected, output) == missing


@pytest.mark.parametrize(
    ("printed", "want", "found"),
    [
        ("validation RMSE (2024-02): 4.6902 minutes", "RMSE (2024-02): 4.6902 minutes", True),
        ("validation RMSE (2024-02): 4.690191 minutes", "RMSE (2024-02): 4.6902 minutes", True),
        ("validation RMSE (2024-02): 4.6901 minutes", "RMSE (2024-02): 4.6902 minutes", True),
        ("validation RMSE (2024-02): 4.6899 minutes", "RMSE (2024-02): 4.6902 minutes", False),
        ("validation RMSE (2024-02): 4.69 minutes", "RMSE (2024-02): 4.6902 minutes", False),
        ("metrics.json rmse 4.69019 4.68956 -0.00064", "rmse 4.6902 4.6896 -0.0006", True),
        ("metrics.json rmse 4.69019 4.68956 0.00064", "rmse 4.6902 4.6896 -0.0006", False),
        ("RMSE 4.6902 is within the floor 6.0", "RMSE 4.6902 is within the floor 6.0", True),
        ("RMSE 4.6902 is within the floor 6.5", "RMSE 4.6902 is within the floor 6.0", False),
        ("version 2 (alpha 10)", "version 2 (alpha 10)", True),
    ],
)
def test_shows__numbers_match_to_the_digits_the_lesson_shows(
    printed: str, want: str, found: bool
) -> None:
    assert shows(printed, want) is found


@pytest.mark.parametrize("level", sorted(LESSONS))
def test_lesson__shows_no_digit_the_lock_does_not_make_reproducible(level: int) -> None:
    """At most MAX_DECIMALS decimals in what a lesson says a command prints."""
    found = {
        step.where: too_precise(line)
        for step in runnable_steps(LESSONS[level])
        for line in step.expected
        if too_precise(line)
    }
    assert not found
