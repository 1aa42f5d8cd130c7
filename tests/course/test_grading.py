"""Grading re-runs a fresh check: fakes count for nothing, an untouched starter scores 0."""

from __future__ import annotations

import eda_sim.course.nb01.check as nb01
from eda_sim.course.grading import fingerprint, regrade, score_of
from eda_sim.course.release import exercises

REORDER = exercises("03")[1]  # its starter passes 2 of the check's 3 items by itself


def test_a_learner_who_replaced_the_check_still_gets_the_real_one(monkeypatch):
    monkeypatch.setattr(nb01, "check_events_vs_commands", lambda answer: "all checks pass ✔")
    answer = {"UserViewedProduct": "command"}
    text, points = regrade(nb01.__name__, "check_events_vs_commands", answer, points=10)
    assert points == 0.0 and "UserViewedProduct is not a command" in text


def test_points_scale_the_checks_score():
    answer = {"UserViewedProduct": "event", "RecommendProductsForUser": "command"}
    text, points = regrade(nb01.__name__, "check_events_vs_commands", answer, points=10)
    assert points == 2.5 and "UserViewedProduct is an event" in text


def test_an_untouched_starter_scores_0_even_where_its_check_passes_items():
    namespace = {}
    body, call = REORDER["starter"].rsplit("\n", 1)
    exec(body, namespace)  # noqa: S102 - the course's own starter
    window = namespace[REORDER["args"][0]]
    _text, as_is = regrade(REORDER["module"], REORDER["check"], window, points=10)
    assert as_is > 0  # the starter's default passes items: the rule below is needed
    text, points = regrade(
        REORDER["module"],
        REORDER["check"],
        window,
        points=10,
        answered=REORDER["starter"] + "\n\n",
        starter=fingerprint(REORDER["starter"]),
    )
    assert points == 0.0 and text.startswith("the starting answer, untouched")
    changed = REORDER["starter"].replace(call, f"# my answer\n{call}")
    _text, points = regrade(
        REORDER["module"],
        REORDER["check"],
        window,
        points=10,
        answered=changed,
        starter=fingerprint(REORDER["starter"]),
    )
    assert points == as_is


def test_a_result_without_a_score_scores_nothing():
    assert score_of("all checks pass ✔") == (0.0, 0.0)
