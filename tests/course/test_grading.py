"""Grading re-runs a fresh check: fakes count for nothing, an untouched starter scores 0."""

from __future__ import annotations

import eda_sim.course.nb01.check as nb01
from eda_sim.course.grading import fingerprint, regrade, score_of


def test_a_learner_who_replaced_the_check_still_gets_the_real_one(monkeypatch):
    monkeypatch.setattr(nb01, "check_events_vs_commands", lambda answer: "all checks pass ✔")
    answer = {"UserViewedProduct": "command"}
    text, points = regrade(nb01.__name__, "check_events_vs_commands", answer, points=10)
    assert points == 0.0 and "UserViewedProduct is not a command" in text


def test_points_scale_the_checks_score():
    answer = {"UserViewedProduct": "event", "RecommendProductsForUser": "command"}
    text, points = regrade(nb01.__name__, "check_events_vs_commands", answer, points=10)
    assert points == 2.5 and "UserViewedProduct is an event" in text


STARTER = "my_window = 1.0  # seconds\ncheck_window(my_window)"


def test_an_untouched_starter_scores_0_even_where_its_check_passes_items(tmp_path, monkeypatch):
    # a check whose starter passes items by itself (a default that happens to be right)
    (tmp_path / "lenient_check.py").write_text(
        "from types import SimpleNamespace\n"
        "def check_window(w):\n"
        "    return SimpleNamespace(score=2, max_score=3)\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    _text, as_is = regrade("lenient_check", "check_window", 1.0, points=10)
    assert as_is == 6.67
    mark = fingerprint(STARTER)
    untouched = STARTER + "\n\n"  # as run: blank lines and trailing spaces do not count
    text, points = regrade(
        "lenient_check", "check_window", 1.0, points=10, answered=untouched, starter=mark
    )
    assert points == 0.0 and text.startswith("the starting answer, untouched")
    changed = STARTER.replace("1.0", "1.5")
    _text, points = regrade(
        "lenient_check", "check_window", 1.0, points=10, answered=changed, starter=mark
    )
    assert points == as_is


def test_a_result_without_a_score_scores_nothing():
    assert score_of("all checks pass ✔") == (0.0, 0.0)
