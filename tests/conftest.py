"""Rendering fixtures: each level is baked once per answer set per test session."""

import json
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest

from mlops_ladder import ladder


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--levels",
        default="all",
        help="comma-separated template levels whose tests run (default: all)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Deselect tests that need a level outside --levels."""
    option = config.getoption("--levels")
    if option == "all":
        return
    chosen = {int(level) for level in option.split(",")}
    kept: list[pytest.Item] = []
    dropped: list[pytest.Item] = []
    for item in items:
        marker = item.get_closest_marker("levels")
        needed = set(marker.args) if marker else set()
        (kept if needed <= chosen else dropped).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = kept


@pytest.fixture(scope="session")
def bake(tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Path]:
    """Render a level once per answer set; later calls return the same folder."""
    baked: dict[str, Path] = {}

    def render(level: int, answers: Mapping[str, str] | None = None) -> Path:
        key = json.dumps([level, dict(answers or {})], sort_keys=True)
        if key not in baked:
            baked[key] = ladder.render(level, tmp_path_factory.mktemp(f"level{level}"), answers)
        return baked[key]

    return render
