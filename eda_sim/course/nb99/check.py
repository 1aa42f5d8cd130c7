"""Notebook 99 (recap): a self-check quiz built from the course's misconceptions, and their demonstrations.

Each question takes one belief learners of this material often hold (the
table in the curriculum), asks about a situation where it fails, and names
the notebook that shows it failing. :func:`check_quiz` says which answers
are right and, for each wrong one, why that option does not hold;
:func:`demonstrate` re-runs the belief's demonstration from the scenarios in
one call, so a learner can see it fail again.

Example::

    print(quiz())                                 # the questions
    check_quiz({1: "b", 2: "b", 3: "a"})          # feedback per question
    demonstrate("a topic is ordered")             # the table notebook 03 showed
"""

from __future__ import annotations

from eda_sim.course.feedback import all_placeholders, checker

#: The quiz: one dict per question, numbered from 1 in this order.
QUESTIONS = [
    {
        "belief": "more consumers always means more throughput",
        "notebook": "04",
        "question": "A topic has 4 partitions and its consumer group 4 members. You add 2 more members to the "
        "group. What happens to throughput?",
        "options": {
            "a": "it rises by about half: 6 members share the work",
            "b": "it stays the same: in a group each partition has one reader, so 2 members sit idle",
            "c": "it falls for good: 6 members fight over 4 partitions",
        },
        "answer": "b",
        "why": {
            "a": "a group gives each partition to exactly one member; with 4 partitions, 4 members are busy "
            "at most and the other 2 own nothing",
            "c": "nobody fights: the 2 extra members get no partition and wait, ready to take over if one "
            "of the 4 dies",
        },
    },
    {
        "belief": "a topic is ordered",
        "notebook": "03",
        "question": "Clicks from many users go to a topic with 3 partitions, keyed by user_id. What order can a "
        "consumer rely on?",
        "options": {
            "a": "the order in which all clicks were produced",
            "b": "each user's clicks in the order they were produced, and nothing across users",
            "c": "no order at all",
        },
        "answer": "b",
        "why": {
            "a": "order holds within one partition only; clicks in different partitions are read in any "
            "interleaving",
            "c": "the same key always goes to the same partition, and one partition is an ordered log, so "
            "each user's clicks keep their order",
        },
    },
    {
        "belief": "when I commit does not matter",
        "notebook": "05",
        "question": "A consumer commits a batch's offsets before it processes the batch, and crashes halfway "
        "through it. What happens to the rest of that batch?",
        "options": {
            "a": "it is skipped: the committed offset is already past it",
            "b": "the new owner processes it again",
            "c": "the broker sees the crash and redelivers it",
        },
        "answer": "a",
        "why": {
            "b": "the new owner starts at the committed offset, which is past the batch; committing after "
            "processing is what repeats work instead of losing it",
            "c": "the broker only knows the committed offset; it cannot tell processed records from "
            "unprocessed ones below it",
        },
    },
    {
        "belief": "a new consumer group reads the whole topic",
        "notebook": "02",
        "question": "A new consumer group subscribes, with default settings, to a topic that holds a week of "
        "events. What does it read first?",
        "options": {
            "a": "the oldest event still kept",
            "b": "where the other groups have got to",
            "c": "only events produced after it joined",
        },
        "answer": "c",
        "why": {
            "a": "that needs auto.offset.reset=earliest; the default, latest, starts at the end of the log",
            "b": "each group has its own committed offsets; a new group has none, so auto.offset.reset "
            "decides, and its default is latest",
        },
    },
    {
        "belief": "exactly-once covers my database write",
        "notebook": "07",
        "question": "A payment service reads with Kafka's exactly-once settings and adds each payment to a "
        "database. It crashes after the write and before the commit. What can happen?",
        "options": {
            "a": "nothing: exactly-once guarantees one write",
            "b": "the payment is added twice, unless the consumer deduplicates on the event id",
            "c": "the payment is lost",
        },
        "answer": "b",
        "why": {
            "a": "Kafka's exactly-once covers what is written to Kafka; a database is outside it, so the "
            "redelivered payment is written again",
            "c": "the offset was not committed, so the payment comes back: at-least-once repeats, it does "
            "not lose",
        },
    },
    {
        "belief": "just keep retrying a bad record",
        "notebook": "06",
        "question": "One event makes the handler fail every time. What is the best policy?",
        "options": {
            "a": "retry it until it succeeds, so no event is skipped",
            "b": "drop it and carry on",
            "c": "a few tries with backoff, then a dead-letter topic with the error, watched and "
            "re-driven after a fix",
        },
        "answer": "c",
        "why": {
            "a": "it never succeeds: every event behind it on the partition waits, and the lag only grows",
            "b": "a dropped event is lost without a trace; the dead-letter topic keeps it, with its origin "
            "and error, for a re-drive",
        },
    },
    {
        "belief": "renaming a field is a small change",
        "notebook": "07",
        "question": "Version 2 of an event's schema renames 'price' to 'amount'. Which readers break?",
        "options": {
            "a": "none: it is the same field under a new name",
            "b": "only new readers of old events",
            "c": "old readers of new events and new readers of old events: both directions",
        },
        "answer": "c",
        "why": {
            "a": "to a schema a rename is one field removed and another added; nothing links the two names",
            "b": "an old reader also breaks: new events lack the 'price' it requires",
        },
    },
    {
        "belief": "group lag is fine, so every partition is fine",
        "notebook": "08",
        "question": "A consumer group's total lag is small and steady. Is every partition keeping up?",
        "options": {
            "a": "yes: a partition falling behind would show in the total",
            "b": "not necessarily: a hot key's partition can fall behind while the total looks fine",
            "c": "yes, as long as the group has at least as many members as partitions",
        },
        "answer": "b",
        "why": {
            "a": "a total can hide one partition's backlog behind many that are empty; watch lag per "
            "partition",
            "c": "one member reads a hot partition whatever the group's size; more members do not split "
            "one key's records",
        },
    },
    {
        "belief": "a deploy always means a rebalance storm",
        "notebook": "04",
        "question": "A service of 3 consumers is redeployed one instance at a time; each restart takes 20 s. "
        "What keeps its consumer group from rebalancing on every restart?",
        "options": {
            "a": "nothing: every stop is a leave and every start a join, so each restart costs two rebalances",
            "b": "give each instance its own group.instance.id, with a session timeout longer than a restart",
            "c": "switch to cooperative-sticky: incremental rebalances are not rebalances",
        },
        "answer": "b",
        "why": {
            "a": "a static member (group.instance.id) does not leave when it closes, and one back within the "
            "session timeout takes its partitions again with no rebalance",
            "c": "cooperative rebalancing revokes fewer partitions, but each stop and start is still a "
            "rebalance; only static membership removes them",
        },
    },
    {
        "belief": "a topic keeps everything until retention",
        "notebook": "11",
        "question": "A compacted topic (cleanup.policy=compact, retention.ms 7 days) holds each user's latest "
        "features; user-7's were updated 500 times in the last hour. A new consumer reads the topic from "
        "the beginning. What does it get for user-7?",
        "options": {
            "a": "all 500 updates: none is older than retention.ms",
            "b": "the latest update, perhaps with a few older ones the cleaner has not reached yet; the "
            "offsets in between are gaps",
            "c": "nothing: compaction has removed user-7's records",
        },
        "answer": "b",
        "why": {
            "a": "on a compacted topic the log cleaner removes every record that a newer one with the same "
            "key replaced, long before any retention; the offsets stay, with gaps between them",
            "c": "compaction always keeps the latest record of every key; only a tombstone (the key with a "
            "null value) deletes a key, and it stays readable for delete.retention.ms first",
        },
    },
    {
        "belief": "event time and processing time are the same",
        "notebook": "11",
        "question": "Card terminals sometimes upload charges up to 20 s after they happened. A velocity "
        "feature counts charges per card per minute. What decides the minute a delayed charge counts in, "
        "and what happens to one later than the processor waits?",
        "options": {
            "a": "when it reached the processor; then nothing is ever late",
            "b": "the time in the charge (event time); the processor waits an allowed lateness plus a grace "
            "period, and a charge later than that goes to a side topic with the reason",
            "c": "the time in the charge; the processor waits until every charge has arrived, so nothing "
            "is ever late",
        },
        "answer": "b",
        "why": {
            "a": "counting by arrival puts a delayed charge in the wrong minute: network delays would split "
            "or merge a card's burst, and the same charges would count differently on every replay",
            "c": "a processor never knows that every charge has arrived; it chooses how long to wait "
            "(lateness + grace), each result comes that much later, and what is later still needs a place "
            "to go",
        },
    },
]


def quiz() -> str:
    """The questions as text, numbered as :func:`check_quiz` expects them."""
    blocks = []
    for n, q in enumerate(QUESTIONS, 1):
        lines = [f"{n}. {q['question']}"] + [f"   ({k}) {text}" for k, text in q["options"].items()]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def _letter(value) -> str | None:
    if value is None:
        return None
    text = str(value).strip().lower().strip("()")
    return text if text in ("a", "b", "c") else text or None


@checker(
    "recap-quiz",
    "Recap quiz",
    items=[(str(n), 1, q["belief"]) for n, q in enumerate(QUESTIONS, 1)],
    hints=[
        "for each question you missed, re-run its demonstration (demonstrate(belief), or the menu under "
        "'See a belief fail again') or open the notebook named in its line; then answer again",
    ],
    starter=all_placeholders,
    not_answered='replace each "?" with "a", "b" or "c", then run the cell again',
)
def check_quiz(fb, answers: dict) -> None:
    """Check ``{question number: "a" | "b" | "c"}``: right answers, and why each wrong option does not hold."""
    if not isinstance(answers, dict):
        fb.invalid(
            f"answers should be a dict of question number -> 'a', 'b' or 'c', got {type(answers).__name__}"
        )
        return
    for n, q in enumerate(QUESTIONS, 1):
        raw = answers.get(n, answers.get(str(n)))
        given = _letter(raw)
        where = f"(notebook {q['notebook']})"
        if given is None or given == "?" or raw is ...:
            fb.fail(str(n), f"{n}. not answered yet")
        elif given == q["answer"]:
            fb.ok(str(n), f"{n}. ({given}) {q['options'][given]}")
        elif given in q["options"]:
            fb.fail(str(n), f"{n}. not ({given}): {q['why'][given]} {where}")
        else:
            fb.fail(str(n), f"{n}. {raw!r} is not one of a, b, c")
    extra = sorted(
        str(k) for k in answers if str(k) not in {str(i) for i in range(1, len(QUESTIONS) + 1)}
    )
    if extra:
        fb.note(
            f"there is no question {', '.join(extra)}; questions are numbered 1 to {len(QUESTIONS)}"
        )


hint = check_quiz.hint


# ----------------------------------------------------------------------------- demonstrations


def _consumers():
    from eda_sim.course.nb04.world import consumers_sweep

    return consumers_sweep((2, 4, 6))[["consumers", "busy", "idle", "throughput"]]


def _order():
    from eda_sim.course.nb03.world import compare_keys

    return compare_keys()[["key", "out of order", "users hit"]]


def _commit():
    import pandas as pd

    from eda_sim.course.nb05.world import crash_once

    return pd.DataFrame([crash_once("before", 0.25), crash_once("after", 0.25)])[
        ["strategy", "lost", "duplicated", "final_lag"]
    ]


def _new_group():
    import pandas as pd

    from eda_sim.course.nb02.world import catch_up_report, second_group_world

    rows = []
    for reset in ("latest (default)", "earliest"):
        config = (
            {"group.id": "trending"}
            if reset.startswith("latest")
            else {"group.id": "trending", "auto.offset.reset": "earliest"}
        )
        sim, _ = second_group_world(config)
        rows.append(
            {"auto.offset.reset": reset, **catch_up_report(sim, "trending", member="trending")}
        )
    return pd.DataFrame(rows)[["auto.offset.reset", "produced", "processed once", "never"]]


def _exactly_once():
    from eda_sim.course.nb07.exactly_once import effects_sweep

    # Kafka's transactions alone, and with an inbox in the database: crashed after every step.
    table = effects_sweep(strategies=("Kafka transactions", "transactions + inbox"))
    return table[["charges_duplicated", "events_duplicated"]].reset_index()


def _retrying():
    import pandas as pd

    from eda_sim.course.nb08.world import scoring_world
    from eda_sim.services.retries import Retry
    from eda_sim.services.service import reconcile

    rows = []
    for label, policy in (
        ("retry 40 times", Retry(attempts=40, backoff=0.5, permanent=())),
        ("3 tries, then dead letter", Retry(attempts=3, backoff=0.2)),
    ):
        sim, svc = scoring_world(policy)
        rows.append(
            {
                "policy": label,
                **reconcile(sim, svc)
                .iloc[0][["processed", "dead_lettered", "in_flight"]]
                .to_dict(),
            }
        )
    return pd.DataFrame(rows)


def _rename():
    from eda_sim.services.schemas import compare, object_schema

    old = object_schema({"user_id": "string", "price": "number"}, required=["user_id", "price"])
    new = object_schema({"user_id": "string", "amount": "number"}, required=["user_id", "amount"])
    return str(compare(old, new, "FULL"))


def _deploy():
    from eda_sim.course.nb04.protocols import deploy_sweep

    return deploy_sweep()[["protocol", "static", "rebalances", "revoked", "duplicates", "paused_s"]]


def _compacted():
    import pandas as pd

    from eda_sim.course.nb11.world import FEATURES, feature_store_world, log_frame

    sim = feature_store_world()
    kept = log_frame(sim, FEATURES)
    written = sim.topic(FEATURES).partitions[0].log_end_offset
    return pd.DataFrame(
        [
            {
                "records written": written,
                "records still there": len(kept),
                "user-4 (deleted) records left": int((kept["key"] == "user-4").sum()),
            }
        ]
    )


def _event_time():
    import pandas as pd

    from eda_sim.course.nb11.world import flagged, velocity_world

    rows = []
    for lateness in (0, 20):
        _, app = velocity_world(size=60, step=10, lateness=lateness, grace=5)
        rows.append(
            {
                "lateness (s)": lateness,
                "charges sent to velocity.late": len(app.late_records()),
                "flagged": ", ".join(flagged(app)) or "none",
            }
        )
    return pd.DataFrame(rows)


def _hot_key():
    from eda_sim.course.nb10.world import hot_key_table

    return hot_key_table(((3, 0), (6, 0)))[["instances", "group_lag", "hot_lag", "hot_share"]]


#: Belief -> a function that re-runs its demonstration and returns what to show.
DEMOS = {
    QUESTIONS[0]["belief"]: _consumers,
    QUESTIONS[1]["belief"]: _order,
    QUESTIONS[2]["belief"]: _commit,
    QUESTIONS[3]["belief"]: _new_group,
    QUESTIONS[4]["belief"]: _exactly_once,
    QUESTIONS[5]["belief"]: _retrying,
    QUESTIONS[6]["belief"]: _rename,
    QUESTIONS[7]["belief"]: _hot_key,
    QUESTIONS[8]["belief"]: _deploy,
    QUESTIONS[9]["belief"]: _compacted,
    QUESTIONS[10]["belief"]: _event_time,
}


def demonstrate(belief: str):
    """Re-run the demonstration that breaks ``belief`` (a key of :data:`DEMOS`) and return its table or verdict.

    A text verdict comes back as a str: print it.
    """
    if belief not in DEMOS:
        raise ValueError(f"unknown belief {belief!r}; the beliefs are: " + "; ".join(DEMOS))
    return DEMOS[belief]()
