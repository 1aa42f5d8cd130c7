"""Checks for notebook 16 (to a real broker): the brokers' own words for the course's ideas."""

from __future__ import annotations

import re

from eda_sim.course.feedback import all_placeholders, checker
from eda_sim.course.nb16.world import TERMS

#: The row of the notebook's table of terms (``broker_terms()``) that holds each Kafka idea.
ROW = {
    "partition": "unit of order and scale",
    "offset": "position of an event",
    "consumer group": "independent reader",
    "committed offset": "progress saved",
}

#: broker -> Kafka idea -> (other accepted answers, normalised; the fact to show). The table's own cell,
#: whole or any of its parts, is accepted too (see :func:`is_accepted`).
QUESTIONS = {
    "Kinesis": {
        "partition": (
            {"shard", "shards"},
            "a Kinesis data stream is a set of shards; a record's partition key picks its shard",
        ),
        "offset": (
            {"sequence number", "sequence numbers", "sequencenumber"},
            "Kinesis gives each record a sequence number within its shard, and checkpoints store it",
        ),
    },
    "Event Hubs": {
        "consumer group": (
            {"consumer group", "consumer groups"},
            "Event Hubs uses Kafka's word: a consumer group is an independent view of the whole "
            "event hub",
        ),
    },
    "Pub/Sub": {
        "consumer group": (
            {"subscription", "subscriptions"},
            "every subscription receives every message; the subscribers attached to one "
            "subscription share its messages, as members of a group share partitions",
        ),
        "partition": (
            {
                "ordering key",
                "ordering keys",
                "none",
                "no partitions",
                "none ordering key",
                "none ordering keys",
            },
            "Pub/Sub shows no partitions; messages published with the same ordering key are delivered "
            "in order, like records with the same key in one partition",
        ),
    },
    "Redis Streams": {
        "committed offset": (
            {
                "xack",
                "ack",
                "acks",
                "acknowledgement",
                "acknowledgment",
                "acknowledgements",
                "acknowledgments",
                "xack per entry",
                "ack per entry",
                "pending entries list",
                "pel",
            },
            "Redis acknowledges each entry with XACK; what is delivered and not acknowledged "
            "waits in the group's pending entries list",
        ),
    },
}

_ARTICLE = re.compile(r"^(a|an|the)\s+")


def _norm(text) -> str:
    words = re.sub(r"[^a-z0-9]+", " ", str(text).lower()).strip()
    return _ARTICLE.sub("", words)


def table_words(broker: str, idea: str) -> set:
    """The normalised words of the notebook's own table for ``idea`` on ``broker``, accepted as answers.

    The table's cell counts whole (copied verbatim) and by its parts (split at ``;`` and ``,``), and
    without a parenthesised remark: "checkpoint (DynamoDB lease)" accepts "checkpoint".
    """
    cell = TERMS[ROW[idea]][broker]
    parts = {cell, re.sub(r"\([^)]*\)", "", cell)}
    for piece in re.split(r"[;,]", cell):
        parts |= {piece, re.sub(r"\([^)]*\)", "", piece)}
    return {_norm(p) for p in parts if _norm(p)}


def is_accepted(broker: str, idea: str, given) -> bool:
    """True if ``given`` names ``idea`` on ``broker``: one of :data:`QUESTIONS`' answers or the table's.

    Membership only (``in``), so a sealed set of answers works as well as a plain one.
    """
    word = _norm(given)
    return word in QUESTIONS[broker][idea][0] or word in table_words(broker, idea)


@checker(
    "broker-terms",
    "Exercise 16 · the brokers' own words",
    items=[
        (f"{broker}/{idea}", 1, f"{broker}'s word for {idea}")
        for broker, ideas in QUESTIONS.items()
        for idea in ideas
    ],
    hints=[
        "read the table of terms above: find the row of each Kafka idea, then the broker's column",
        "a partition is the unit of order (what is it called where?), an offset is a position, a consumer "
        "group is a reader that gets the whole stream, and a committed offset is how a reader saves its "
        "progress",
    ],
    starter=all_placeholders,
    not_answered='replace each "?" with the broker\'s own word, from the table above, then run the cell '
    "again",
)
def check_broker_terms(fb, answer: dict) -> None:
    """Check a dict ``{broker: {Kafka idea: that broker's term}}`` against :data:`QUESTIONS`."""
    if not isinstance(answer, dict):
        fb.invalid(
            f"answer should be a dict of broker -> {{Kafka idea: term}}, got {type(answer).__name__}"
        )
        return
    for broker, ideas in QUESTIONS.items():
        given_ideas = answer.get(broker)
        for idea, (_extra, fact) in ideas.items():
            item = f"{broker}/{idea}"
            if not isinstance(given_ideas, dict):
                fb.fail(item, f"{broker}: missing; keep the dict of ideas from the exercise cell")
                continue
            given = given_ideas.get(idea)
            if given is None or str(given).strip() in ("", "?"):
                fb.fail(item, f"{broker} · {idea}: not answered yet")
            elif is_accepted(broker, idea, given):
                fb.ok(item, f"{broker} · {idea} → {given}: {fact}")
            else:
                fb.fail(item, f"{broker} · {idea} is not {given!r}: {fact}")


hint = check_broker_terms.hint
