"""Notebook 99: the quiz and the demonstrations that break each belief.

The checks' own cases (right, partly right, wrong, garbage, raising) are in test_exercise_contract.py.
"""

import pandas as pd
import pytest

from eda_sim.course.nb99.check import DEMOS, QUESTIONS, demonstrate, quiz


def test_99_the_quiz_has_eleven_questions_from_the_misconceptions_each_naming_its_notebook():
    assert len(QUESTIONS) == 11 and {q["answer"] for q in QUESTIONS} <= {"a", "b", "c"}
    for q in QUESTIONS:
        assert set(q["options"]) == {"a", "b", "c"}
        assert set(q["why"]) == set(q["options"]) - {q["answer"]}, q["belief"]
    assert {q["notebook"] for q in QUESTIONS} == {"02", "03", "04", "05", "06", "07", "08", "11"}
    text = quiz()
    assert (
        text.startswith("1. A topic has 4 partitions") and "\n\n11. " in text and "   (c) " in text
    )


def test_99_every_belief_in_the_quiz_has_a_demonstration():
    assert list(DEMOS) == [q["belief"] for q in QUESTIONS]
    with pytest.raises(ValueError, match="unknown belief .* the beliefs are: more consumers"):
        demonstrate("brokers are magic")


@pytest.mark.parametrize(
    "belief, check",
    [
        (
            "more consumers always means more throughput",
            lambda t: (
                t.set_index("consumers").loc[6, "idle"] == 2
                and t.set_index("consumers").loc[6, "throughput"]
                == t.set_index("consumers").loc[4, "throughput"]
            ),
        ),
        (
            "a topic is ordered",
            lambda t: (
                t.set_index("key").loc["user_id", "out of order"] == 0
                and t.set_index("key").loc["(no key)", "out of order"] > 0
            ),
        ),
        (
            "when I commit does not matter",
            lambda t: (
                list(t["lost"]) == [2, 0]
                and list(t["duplicated"]) == [0, 2]
                and set(t.final_lag) == {0}
            ),
        ),
        ("a new consumer group reads the whole topic", lambda t: list(t.never) == [200, 0]),
        (
            "exactly-once covers my database write",
            lambda t: (
                list(t.strategy) == ["Kafka transactions", "transactions + inbox"]
                and t.charges_duplicated.iloc[0] > 0
                and list(t.events_duplicated) == [0, 0]
                and t.charges_duplicated.iloc[1] == 0
            ),
        ),
        (
            "just keep retrying a bad record",
            lambda t: (
                t.in_flight.iloc[0] > 0
                and t.dead_lettered.iloc[1] == 2
                and t.in_flight.iloc[1] == 0
            ),
        ),
        (
            "group lag is fine, so every partition is fine",
            lambda t: (
                (
                    t.hot_lag > 2 * t.group_lag / 6
                ).all()  # one partition of six holds far above its share
                and t.hot_share.iloc[-1] > 0.9  # with a member per partition, nearly all of it
            ),
        ),
        (
            "a topic keeps everything until retention",
            lambda t: (
                t["records still there"].iloc[0] < t["records written"].iloc[0] / 4
                and t["user-4 (deleted) records left"].iloc[0] == 0
            ),
        ),
        (
            "event time and processing time are the same",
            lambda t: (
                list(t["charges sent to velocity.late"] > 0) == [True, False]
                and t["flagged"].iloc[1] == "card-13"
            ),
        ),
    ],
)
def test_99_each_demonstration_shows_its_belief_failing(belief, check):
    table = demonstrate(belief)
    assert isinstance(table, pd.DataFrame) and check(table), table


def test_99_the_rename_demonstration_is_refused_in_both_directions():
    verdict = demonstrate("renaming a field is a small change")
    assert verdict.startswith("NOT compatible under FULL")
    assert "field 'amount'" in verdict and "field 'price'" in verdict and "rename" in verdict
