"""The crash schedule notebook 05's poll-loop exercise runs a learner's loop under (crash_loop)."""

from __future__ import annotations

from eda_sim.course.nb05 import crash_loop
from eda_sim.kafka import TopicPartition

MANUAL = {"group.id": "ledger", "auto.offset.reset": "earliest", "enable.auto.commit": False}


def commit_after(consumer, topics, handle, running):
    consumer.subscribe(topics)
    try:
        while running():
            msg = consumer.poll(1.0)
            if msg is None or msg.error():
                continue
            try:
                handle(msg)
            except Exception:  # noqa: BLE001 - a broad except, as learners write: a kill passes it
                continue
            consumer.commit(message=msg, asynchronous=False)
    finally:
        consumer.close()


def test_each_kill_ends_a_process_and_the_next_resumes_at_the_committed_offset():
    firsts = []

    def watching(consumer, topics, handle, running):
        def first(msg):
            if not firsts or firsts[-1][0] is not consumer:
                tp = TopicPartition(msg.topic(), msg.partition())
                firsts.append((consumer, msg.partition(), msg.offset(), consumer.committed([tp])))
            handle(msg)

        commit_after(consumer, topics, first, running)

    result = crash_loop.crash_schedule(watching, MANUAL)
    assert [p.ended for p in result.processes] == ["killed"] * 4 + ["returned"]
    # killed in handle: nothing handled twice; killed just after handle: exactly that record again
    assert result.repeated == [0, 1, 0, 1] and result.lost == []
    for _consumer, _partition, offset, committed in firsts[1:]:
        assert offset == max(
            committed[0].offset, 0
        )  # a new process starts where the group committed
    assert result.commit_ahead is None and result.uncommitted == {}
    assert result.processes[-1].closed


def test_a_kill_is_not_swallowed_and_a_dead_consumer_does_nothing_more():
    calls = []

    def stubborn(consumer, topics, handle, running):
        try:
            commit_after(consumer, topics, handle, running)
        finally:
            try:
                consumer.commit(asynchronous=False)  # a dead process commits nothing
            except Exception as err:  # noqa: BLE001
                calls.append(type(err).__name__)

    result = crash_loop.crash_schedule(stubborn, MANUAL)
    assert sum(p.ended == "killed" for p in result.processes) == 4
    assert result.lost == [] and result.commit_ahead is None


def test_auto_commit_is_caught_committing_a_record_still_being_handled():
    def auto(consumer, topics, handle, running):
        consumer.subscribe(topics)
        while running():
            msg = consumer.poll(1.0)
            if msg is not None and not msg.error():
                handle(msg)

    result = crash_loop.crash_schedule(auto, {"group.id": "g", "auto.offset.reset": "earliest"})
    assert "had not been handled yet" in result.commit_ahead


def test_a_loop_that_never_stops_is_stopped():
    def forever(consumer, topics, handle, running):
        consumer.subscribe(topics)
        while True:
            consumer.poll(0)

    result = crash_loop.crash_schedule(forever, MANUAL)
    assert result.processes[0].ended == "overrun"


def test_the_schedule_is_deterministic():
    one = crash_loop.crash_schedule(commit_after, MANUAL).sim.journal.digest()
    two = crash_loop.crash_schedule(commit_after, MANUAL).sim.journal.digest()
    assert one == two


def test_the_notebook_states_the_schedule_the_check_runs():
    from pathlib import Path

    src = (
        Path(__file__).resolve().parents[2] / "notebooks" / "src" / "05_delivery_and_idempotency.py"
    )
    text = " ".join(line.lstrip("# ") for line in src.read_text(encoding="utf-8").splitlines())
    words = {2: "twice", 4: "four times"}
    where = [k[0] for k in crash_loop.KILLS]
    assert f"kills your process {words[len(crash_loop.KILLS)]}" in text
    assert f"({words[where.count('in handle')]} in the middle of" in text
    assert f"{words[where.count('after handle')]} just after it)" in text
    assert f"a kill may repeat at most {crash_loop.WINDOW}" in text
    assert f"The {crash_loop.RECORDS} records" in text
    assert f"takes {crash_loop.PROCESSING_TIME} virtual seconds" in text
    assert f"`{crash_loop.MISSING}`, does not exist yet" in text
