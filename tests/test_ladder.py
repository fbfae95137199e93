"""The helpers behind `nox -s diff` and `nox -s new`."""

import ladder
import pytest


def test_levels__lists_the_templates_in_order():
    assert ladder.levels()[:2] == [0, 1]
    assert ladder.levels() == sorted(ladder.levels())


def test_diff__summarises_explains_and_shows_the_lines():
    text = ladder.diff_text(0, 1)
    summary, _, body = text.partition("\n\n")
    assert summary.startswith("What level 1 adds to level 0:")
    assert "files added" in summary and "files removed" in summary
    assert "removed tlc_simulator.py: moves, unchanged, into the package" in summary
    assert "+++ level1/pyproject.toml" in body
    assert "--- level0/requirements.txt" in body


def test_diff__refuses_a_backwards_pair(capsys):
    with pytest.raises(SystemExit):
        ladder.main(["diff", "1", "0"])
    assert "needs LOW < HIGH" in capsys.readouterr().err
