"""Level N+1 keeps level N's files; every file it adds, changes or removes has a declared why."""

import tomllib
from collections.abc import Callable
from pathlib import Path

import pytest
from answers import ODD_ANSWERS

from mlops_ladder import ladder

PAIRS = list(zip(ladder.levels(), ladder.levels()[1:], strict=False))


@pytest.mark.parametrize("answers", [{}, ODD_ANSWERS], ids=["default", "odd"])
@pytest.mark.parametrize(("low", "high"), PAIRS, ids=[f"{a}to{b}" for a, b in PAIRS])
def test_progression__only_declared_changes(
    bake: Callable[..., Path], low: int, high: int, answers: dict[str, str]
) -> None:
    upper_project = bake(high, answers)
    changes = ladder.compare(ladder.tree(bake(low, answers)), ladder.tree(upper_project))
    declared = ladder.evolutions(high, answers.get("package_name", upper_project.name))
    for kind in ladder.KINDS:
        undeclared = set(changes[kind]) - set(declared.get(kind, {}))
        stale = set(declared.get(kind, {})) - set(changes[kind])
        assert not undeclared, f"level {high} {kind} these without a reason: {sorted(undeclared)}"
        assert not stale, f"declared as {kind} at level {high}, but not: {sorted(stale)}"


def test_progression__manifest_names_only_real_levels_and_kinds() -> None:
    manifest = tomllib.loads(ladder.EVOLUTIONS.read_text())
    pins = manifest.pop("pins", {})
    assert all(isinstance(why, str) and why.strip() for why in pins.values()), pins
    assert set(manifest) <= {f"level{high}" for _, high in PAIRS}
    for sections in manifest.values():
        assert set(sections) <= {*ladder.KINDS, "upgrade"}
        reasons = [why for kind in ladder.KINDS for why in sections.get(kind, {}).values()]
        assert all(why.strip() for why in reasons)
        assert set(sections.get("upgrade", {})) <= {"notes", "steps"}


def test_compare__finds_added_changed_and_removed_files() -> None:
    lower = {"a": b"1", "b": b"2", "c": b"3"}
    upper = {"a": b"1", "b": b"2 and more", "d": b"4"}
    assert ladder.compare(lower, upper) == {"added": ["d"], "changed": ["b"], "removed": ["c"]}


# Measured on the default answers (see the closing notes); a floor just under each figure.
SURVIVAL_FLOOR = {(0, 1): 0.50, (1, 2): 0.92, (2, 3): 0.95, (3, 4): 0.97}


@pytest.mark.parametrize(("low", "high"), PAIRS, ids=[f"{a}to{b}" for a, b in PAIRS])
def test_progression__most_lines_of_a_level_survive_into_the_next(
    bake: Callable[..., Path], low: int, high: int
) -> None:
    share = ladder.surviving_share(ladder.tree(bake(low)), ladder.tree(bake(high)))
    print(f"level {low} -> {high}: {share:.1%} of level {low}'s lines survive unchanged")
    assert share >= SURVIVAL_FLOOR[(low, high)], f"{low}->{high}: only {share:.1%} survive"


def test_surviving_share__counts_lines_kept_in_the_same_file() -> None:
    lower = {"a": b"1\n2\n3\n4\n", "gone": b"x\ny\n"}
    upper = {"a": b"1\n2\nchanged\n4\nadded\n"}
    assert ladder.surviving_share(lower, upper) == 3 / 6
