"""The release gate: a worse model is never promoted."""

import pytest

from {{ cookiecutter.package_name }}.gate import decide


def test_decide__the_first_model_needs_only_the_floor():
    assert decide(5.0, None, margin=0.01, max_rmse=6.0) == (
        True,
        "first model: RMSE 5.0000 is within the floor 6.0",
    )


def test_decide__the_first_model_above_the_floor_is_rejected():
    promoted, reason = decide(6.5, None, margin=0.01, max_rmse=6.0)
    assert not promoted and reason == "RMSE 6.5000 is worse than the floor 6.0"


@pytest.mark.parametrize(
    ("challenger", "champion", "promoted"),
    [(4.0, 5.0, True), (4.99, 5.0, True), (4.995, 5.0, False), (5.0, 5.0, False), (5.5, 5, False)],
)
def test_decide__promotes_only_when_better_by_the_margin(challenger, champion, promoted):
    assert decide(challenger, champion, margin=0.01, max_rmse=6.0)[0] is promoted


def test_decide__a_better_model_above_the_floor_is_still_rejected():
    promoted, reason = decide(6.5, 7.0, margin=0.01, max_rmse=6.0)
    assert not promoted and "floor" in reason
