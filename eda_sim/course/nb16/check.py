"""Checks for notebook 16 (to a real broker): the brokers' own words for the course's ideas."""

from __future__ import annotations

import re

from eda_sim.course.feedback import checker

#: broker -> Kafka idea -> (accepted answers, normalised; the fact to show). One blank per line of the answer.
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


@checker(
    "Exercise 13 · the brokers' own words",
    hint="read the table of terms above row by row: a partition is the unit of order (what is it called "
    "where?), an offset is a position, a consumer group is a reader that gets the whole stream, and "
    "a committed offset is how a reader saves its progress",
)
def check_broker_terms(fb, answer: dict) -> None:
    """Check a dict ``{broker: {Kafka idea: that broker's term}}`` against :data:`QUESTIONS`."""
    if not isinstance(answer, dict):
        fb.miss(
            f"answer should be a dict of broker -> {{Kafka idea: term}}, got {type(answer).__name__}"
        )
        return
    for broker, ideas in QUESTIONS.items():
        given_ideas = answer.get(broker)
        if not isinstance(given_ideas, dict):
            fb.miss(f"{broker}: missing; keep the dict of ideas from the exercise cell")
            continue
        for idea, (accepted, fact) in ideas.items():
            given = given_ideas.get(idea)
            if given is None or str(given).strip() in ("", "?"):
                fb.miss(f"{broker} · {idea}: not answered yet")
            elif _norm(given) in accepted:
                fb.ok(f"{broker} · {idea} → {given}: {fact}")
            else:
                fb.miss(f"{broker} · {idea} is not {given!r}: {fact}")
