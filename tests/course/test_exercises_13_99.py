"""Notebooks 16 and 99's checks with a right, a partly right and a wrong answer: the feedback says so."""

import pandas as pd
import pytest

from eda_sim.course import Feedback
from eda_sim.course.nb16.check import QUESTIONS as TERM_QUESTIONS
from eda_sim.course.nb16.check import check_broker_terms
from eda_sim.course.nb99.check import DEMOS, QUESTIONS, check_quiz, demonstrate, quiz

# -- 13: the brokers' own words ---------------------------------------------------------------------


RIGHT_TERMS = {
    "Kinesis": {"partition": "shard", "offset": "sequence number"},
    "Event Hubs": {"consumer group": "consumer group"},
    "Pub/Sub": {"consumer group": "subscription", "partition": "ordering key"},
    "Redis Streams": {"committed offset": "XACK"},
}


def test_13_right_every_term_with_what_it_means():
    fb = check_broker_terms(RIGHT_TERMS)
    text = str(fb)
    assert fb.passed and "all checks pass" in text and len(fb.right) == 6
    assert "Kinesis · partition → shard: a Kinesis data stream is a set of shards" in text
    assert (
        "Pub/Sub · consumer group → subscription: every subscription receives every message" in text
    )


def test_13_right_answers_may_differ_in_case_articles_and_synonyms():
    loose = {
        "Kinesis": {"partition": " Shards ", "offset": "Sequence-Number"},
        "Event Hubs": {"consumer group": "a consumer group"},
        "Pub/Sub": {"consumer group": "the subscription", "partition": "none (ordering keys)"},
        "Redis Streams": {"committed offset": "acknowledgement"},
    }
    assert check_broker_terms(loose).passed


def test_13_partly_right_kafka_words_where_the_broker_has_its_own():
    answer = {
        "Kinesis": {"partition": "partition", "offset": "sequence number"},
        "Event Hubs": {"consumer group": "consumer group"},
        "Pub/Sub": {"consumer group": "consumer group", "partition": "ordering key"},
        "Redis Streams": {"committed offset": "XACK"},
    }
    fb = check_broker_terms(answer)
    text = str(fb)
    assert not fb.passed and "4 of 6 checks pass" in text
    assert (
        "Kinesis · partition is not 'partition': a Kinesis data stream is a set of shards" in text
    )
    assert "Pub/Sub · consumer group is not 'consumer group'" in text and "subscription" in text
    assert "hint:" in text and "the unit of order" in text


def test_13_wrong_or_unanswered_and_bad_input_is_feedback():
    fb = check_broker_terms({"Kinesis": {"partition": "?", "offset": "offset"}})
    text = str(fb)
    assert not fb.passed and not fb.right
    assert "Kinesis · partition: not answered yet" in text
    assert "Kinesis · offset is not 'offset': Kinesis gives each record a sequence number" in text
    assert "Pub/Sub: missing" in text and "Redis Streams: missing" in text
    assert "should be a dict" in str(check_broker_terms(["shard"]))
    assert sum(len(ideas) for ideas in TERM_QUESTIONS.values()) == 6


# -- 99: the quiz ---------------------------------------------------------------------------------------


RIGHT = {1: "b", 2: "b", 3: "a", 4: "c", 5: "b", 6: "c", 7: "c", 8: "b", 9: "b", 10: "b", 11: "b"}


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


def test_99_right_every_answer():
    fb = check_quiz(RIGHT)
    text = str(fb)
    assert fb.passed and "Recap quiz: all checks pass" in text
    assert "1. (b) it stays the same: in a group each partition has one reader" in text
    assert "hint:" not in text


def test_99_partly_right_each_wrong_option_is_explained_with_its_notebook():
    answers = {**RIGHT, 3: "b", 5: "a", 8: "?"}
    fb = check_quiz(answers)
    text = str(fb)
    assert not fb.passed and "8 of 11 checks pass" in text
    assert (
        "3. not (b): the new owner starts at the committed offset, which is past the batch" in text
    )
    assert (
        "5. not (a): Kafka's exactly-once covers what is written to Kafka" in text
        and "(notebook 05)" in text
    )
    assert "8. not answered yet" in text
    assert "hint: for each question you missed, re-run its demonstration" in text


def test_99_wrong_answers_and_odd_input_are_feedback_not_exceptions():
    fb = check_quiz(
        {1: "a", 2: "a", 3: "c", 4: "a", 5: "c", 6: "a", 7: "a", 8: "a", 9: "c", 10: "a", 11: "c"}
    )
    text = str(fb)
    assert not fb.right and "0 of 11 checks pass" in text
    assert "10. not (a): on a compacted topic the log cleaner removes every record" in text
    assert "11. not (c): a processor never knows that every charge has arrived" in text
    assert "9. not (c): cooperative rebalancing revokes fewer partitions" in text
    assert "6. not (a): it never succeeds: every event behind it on the partition waits" in text
    assert "7. not (a): to a schema a rename is one field removed and another added" in text
    assert check_quiz(
        {str(k): f"({v.upper()})" for k, v in RIGHT.items()}
    ).passed  # "1": "(B)" is fine
    odd = str(check_quiz({**RIGHT, 2: "d", 12: "a"}))
    assert "2. 'd' is not one of a, b, c" in odd and "there is no question 12" in odd
    assert "should be a dict" in str(check_quiz(["b"] * 8))
    assert isinstance(check_quiz({}), Feedback)


# -- 99: the demonstrations -----------------------------------------------------------------------------


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
                t.hot_lag > 0.5 * t.group_lag
            ).all(),  # one partition of six holds most of it
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
