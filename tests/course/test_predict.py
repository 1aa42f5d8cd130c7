"""eda_sim.course.predict: a prediction set beside the run, for every answer a learner can write."""

from __future__ import annotations

import math
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eda_sim.course.predict import NOT_YET, reveal

WHY = "Only four partitions, so four workers idle."


def shown(prediction, actual=400, tolerance=0):
    return str(reveal(prediction, actual, "orders per second", why=WHY, tolerance=tolerance))


def test_untouched_prediction_asks_for_one_and_gives_nothing_away():
    text = shown(None)
    assert text == NOT_YET
    assert "400" not in text and WHY not in text


@pytest.mark.parametrize(
    ("prediction", "expected"),
    [
        (800, "You predicted 800; the run shows 400 orders per second.\n" + WHY),
        (400, "Right: You predicted 400; the run shows 400 orders per second.\n" + WHY),
        (400.0, "Right: You predicted 400; the run shows 400 orders per second.\n" + WHY),
        ("800", "You predicted 800; the run shows 400 orders per second.\n" + WHY),
        (" 1,200 ", "You predicted 1200; the run shows 400 orders per second.\n" + WHY),
        (-3, "You predicted -3; the run shows 400 orders per second.\n" + WHY),
    ],
)
def test_a_number_is_set_beside_the_run_with_the_reason(prediction, expected):
    assert shown(prediction) == expected


def test_tolerance_decides_what_counts_as_right():
    assert reveal(390, 383.6, "x", why=WHY, tolerance=25).right
    assert not reveal(300, 383.6, "x", why=WHY, tolerance=25).right
    assert not reveal(384, 383.6, "x", why=WHY).right  # no tolerance: exact only
    assert shown(390, 383.6, tolerance=25).startswith("Right: You predicted 390; the run shows 384")


@pytest.mark.parametrize(
    "garbage", ["many", True, False, [3], {"n": 3}, math.nan, math.inf, "", object]
)
def test_anything_but_a_finite_number_is_answered_with_what_was_expected(garbage):
    r = reveal(garbage, 400, "orders per second", why=WHY)
    text = str(r)
    assert text.startswith("A prediction is a number (for example 3), not ")
    assert text.endswith("the run shows 400 orders per second.")
    assert not r.answered and not r.right


def test_the_run_number_must_be_finite():
    with pytest.raises(ValueError, match="finite"):
        reveal(3, math.nan, "x", why=WHY)


@settings(max_examples=60, deadline=None)
@given(prediction=st.one_of(st.none(), st.integers(), st.floats(), st.text(), st.booleans()))
def test_never_raises_and_the_text_is_the_repr(prediction):
    r = reveal(prediction, 7, "things", why=WHY)
    assert repr(r) == str(r) and str(r)


# Each prediction cell of the course: a notebook asks for `my_prediction` before its reveal and
# compares it after; the saved notebook (as handed out) shows the "not yet" line.
NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
PREDICTING = ["03", "04", "05", "06", "07", "10", "11"]


@pytest.mark.parametrize("nn", PREDICTING)
def test_each_prediction_comes_before_its_reveal_and_is_saved_unanswered(nn):
    import nbformat

    (path,) = NOTEBOOKS.glob(f"{nn}_*.ipynb")
    cells = nbformat.read(path, as_version=4).cells
    asks = [i for i, c in enumerate(cells) if re.match(r"my_prediction = None  # ", c.source)]
    reveals = [i for i, c in enumerate(cells) if "reveal(my_prediction" in c.source]
    assert asks and len(asks) == len(reveals)
    for ask, shown_at in zip(asks, reveals, strict=True):
        assert ask < shown_at
        assert "exercise" not in cells[ask].metadata.get("tags", [])  # a prediction is not graded
        outputs = "".join(o.get("data", {}).get("text/plain", "") for o in cells[shown_at].outputs)
        assert outputs == NOT_YET
