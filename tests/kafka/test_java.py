"""The Java client model (eda_sim.kafka.java.KafkaConsumer) against librdkafka's rules.

Java's auto-commit runs inside poll() and commits what the earlier polls
returned, so a loop that processes each batch before polling again is
at-least-once; librdkafka's timer commits offsets stored when poll returned
them, so a crash can lose records handed out but not processed. Java caps a
poll with max.poll.records; confluent-kafka refuses that key.
"""

from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eda_sim.core.errors import KafkaException
from eda_sim.kafka import Consumer, TopicPartition
from eda_sim.kafka.java import CommitFailedException, KafkaConsumer
from eda_sim.testing.worlds import SHORT_SESSIONS, filled, topics


def java(sim, **props):
    conf = {"bootstrap.servers": sim.bootstrap_servers, "group.id": "g"}
    conf.update({"auto.offset.reset": "earliest"}, **props)
    return KafkaConsumer(conf, sim=sim)


def committed(sim, partitions: int) -> dict:
    group = sim.groups.get("g")
    if group is None:
        return {}
    return {p: group.committed.get(("jobs", p)) for p in range(partitions)}


ACTIONS = st.lists(
    st.one_of(
        st.tuples(st.just("poll"), st.sampled_from([0.0, 0.3, 1.0])),
        st.tuples(st.just("work"), st.sampled_from([0.1, 0.4, 1.5])),
        st.tuples(st.just("produce"), st.integers(1, 6)),
        st.tuples(st.just("crash"), st.just(0)),
        st.tuples(st.just("other"), st.just(0)),  # another member joins, or leaves: a rebalance
    ),
    max_size=25,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    actions=ACTIONS,
    max_records=st.integers(1, 5),
    interval_ms=st.sampled_from([0, 200, 500, 1000]),
)
def test_java_auto_commit_never_commits_past_what_the_polls_before_the_latest_returned(
    actions, max_records, interval_ms
):
    sim = filled(topics({"jobs": 2}, seed=3), "jobs", 10, key=lambda i: f"k{i}")
    producer = sim.producer()
    c = java(sim, **{"max.poll.records": max_records, "auto.commit.interval.ms": interval_ms})
    c.subscribe(["jobs"])
    other, before = None, {}
    # bound[p]: the highest offset + 1 that polls which have *finished* handed out on partition p;
    # a poll's own records count only once the next poll begins (the batch is processed in between).
    bound, latest = {0: 0, 1: 0}, {}
    for kind, arg in actions:
        if kind == "poll":
            if c.crashed:
                c.restart()
            for p, end in latest.items():
                bound[p] = max(bound[p], end)
            records = c.poll(arg)
            assert len(records) <= max_records
            latest = {}
            for r in records:
                latest[r.partition()] = max(latest.get(r.partition(), 0), r.offset() + 1)
        elif kind == "work":
            sim.run(until=sim.now + arg)
        elif kind == "produce":
            for i in range(arg):
                producer.produce("jobs", key=f"k{i}", value="x")
            producer.flush()
        elif kind == "crash" and not c.crashed:
            sim.crash(c)
            latest = {}  # a crashed batch was not processed: it never counts
        elif kind == "other":
            if other is None:
                other = sim.consumer({"group.id": "g", "enable.auto.commit": False})
                other.subscribe(["jobs"])
                other.consume(1, 0)
            else:
                other.close()
                other = None
        now = committed(sim, 2)
        for p, offset in now.items():
            assert offset is None or offset <= bound[p], (p, offset, bound)
            # only this consumer commits, and Java's commits of positions never go backwards
            assert offset is None or offset >= before.get(p, offset), (p, before, now)
        before = {p: o for p, o in now.items() if o is not None}
    if not c.crashed:
        c.close()  # close commits the positions: everything handed out, the last batch included
        for p, end in latest.items():
            bound[p] = max(bound[p], end)
        for p, offset in committed(sim, 2).items():
            assert offset is None or before.get(p, offset) <= offset <= bound[p]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    crash_at=st.floats(0.01, 2.5),
    batch=st.integers(1, 6),
    interval_ms=st.sampled_from([100, 300, 500, 700, 1000]),
)
def test_java_auto_commit_is_at_least_once_when_a_batch_is_processed_before_the_next_poll(
    crash_at, batch, interval_ms
):
    assert lost("java", crash_at, batch, interval_ms) == 0


def lost(client: str, crash_at: float, batch: int, interval_ms: int, records: int = 12) -> int:
    """One member, one partition, 0.1 s a record; crash at ``crash_at``, restart 1 s later."""
    sim = filled(
        topics({"jobs": 1}, seed=5, broker_config=SHORT_SESSIONS), "jobs", records, partition=0
    )
    done = Counter()
    m = sim.member(
        "g",
        ["jobs"],
        name="worker",
        processing_time=0.1,
        commit="auto",
        client=client,
        max_poll_records=batch,
        on_record=lambda msg: done.update([int(msg.value())]),
        config={
            "auto.offset.reset": "earliest",
            "session.timeout.ms": 500,
            "auto.commit.interval.ms": interval_ms,
        },
    )
    sim.crash(m, at=sim.now + crash_at)
    sim.restart(m, at=sim.now + crash_at + 1.0)
    sim.run(until=sim.now + crash_at + 1.0 + records * 0.1 + 6)
    assert sim.group("g").committed[("jobs", 0)] == records  # both end with everything committed
    return sum(1 for i in range(records) if done[i] == 0)


def test_librdkafka_auto_commit_loses_the_records_java_keeps_under_the_same_crashes():
    # The schedule notebook 05 shows: batches of 4, 0.1 s a record, a 500 ms timer, a crash every 0.1 s.
    times = [round(0.05 + 0.1 * i, 3) for i in range(13)]
    librdkafka = [lost("confluent-kafka", t, 4, 500) for t in times]
    assert [lost("java", t, 4, 500) for t in times] == [0] * len(times)
    assert sum(librdkafka) > 0
    # e.g. at 0.55: the timer at 0.5 committed offset 8 (the second batch, just handed out), and
    # records 5-7 had not been processed when the consumer died.
    assert librdkafka[times.index(0.55)] == 3


def test_max_poll_records_caps_a_poll():
    sim = filled(topics({"jobs": 1}), "jobs", 1200, partition=0)
    capped = java(sim, **{"max.poll.records": 7})
    capped.subscribe(["jobs"])
    assert len(capped.poll(1.0)) == 7
    assert capped.position(TopicPartition("jobs", 0)) == 7
    default = java(sim, **{"group.id": "h"})
    default.subscribe(["jobs"])
    assert default.max_poll_records == 500
    assert len(default.poll(1.0)) == 500  # 1200 are waiting


def test_a_java_member_takes_its_batch_size_as_max_poll_records():
    sim = filled(topics({"jobs": 1}), "jobs", 20, partition=0)
    m = sim.member(
        "g",
        ["jobs"],
        client="java",
        max_poll_records=3,
        processing_time=0.01,
        config={"auto.offset.reset": "earliest"},
    )
    sim.run(until=sim.now + 2)
    sizes = {r.count for r in sim.journal.rows("delivered") if r.actor == m.member_id}
    assert sizes == {3, 2}  # 20 records: six polls of 3, then the last 2


def test_confluent_kafka_refuses_max_poll_records_as_librdkafka_does():
    sim = topics({"jobs": 1})
    with pytest.raises(KafkaException, match='No such configuration property: "max.poll.records"'):
        Consumer(
            {"bootstrap.servers": sim.bootstrap_servers, "group.id": "g", "max.poll.records": 10}
        )


def test_the_java_model_refuses_librdkafka_only_keys_and_the_store_policy():
    sim = topics({"jobs": 1})
    with pytest.raises(KafkaException, match="enable.auto.offset.store"):
        java(sim, **{"enable.auto.offset.store": False})
    with pytest.raises(ValueError, match="offset store"):
        sim.member("g", ["jobs"], client="java", commit="store")
    with pytest.raises(ValueError, match="confluent-kafka, java"):
        sim.member("g", ["jobs"], client="rust")


def test_java_auto_commit_waits_for_the_interval_then_commits_the_previous_polls():
    sim = filled(topics({"jobs": 1}), "jobs", 30, partition=0)
    c = java(sim, **{"max.poll.records": 10, "auto.commit.interval.ms": 1000})
    c.subscribe(["jobs"])
    tp = TopicPartition("jobs", 0)
    c.poll(1.0)  # 0-9; joining restarts the auto-commit clock
    sim.run(until=sim.now + 0.5)
    c.poll(1.0)  # 10-19; 0.5 s since the assignment: no commit yet
    assert c.committed([tp])[0].offset < 0
    sim.run(until=sim.now + 0.6)
    c.poll(1.0)  # 20-29; the interval has passed: commits 20, what the two earlier polls returned
    assert c.committed([tp])[0].offset == 20
    c.close()  # close commits the positions: 30
    assert sim.group("g").committed[("jobs", 0)] == 30


def test_a_crashed_java_consumer_commits_nothing_and_commit_sync_refusals_are_commit_failed():
    sim = filled(topics({"jobs": 1}), "jobs", 10, partition=0)
    c = java(sim, **{"max.poll.records": 4, "max.poll.interval.ms": 1000})
    c.subscribe(["jobs"])
    c.poll(1.0)
    sim.run(until=sim.now + 2.0)  # no poll for 2 s: evicted after max.poll.interval.ms
    with pytest.raises(CommitFailedException):
        c.commitSync()
    sim.crash(c)
    sim.run(until=sim.now + 10)
    assert ("jobs", 0) not in sim.group("g").committed


def test_after_an_eviction_the_next_java_poll_rejoins_and_returns_records_not_an_error_event():
    sim = filled(topics({"jobs": 1}), "jobs", 10, partition=0)
    c = java(sim, **{"max.poll.records": 4, "max.poll.interval.ms": 1000})
    c.subscribe(["jobs"])
    first = c.poll(1.0)
    sim.run(until=sim.now + 2.0)  # evicted; nothing was committed
    again = c.poll(1.0)
    assert [r.error() for r in again] == [None] * 4
    assert [r.offset() for r in again] == [r.offset() for r in first]  # read again from the start
    assert c.member_id is not None


def test_java_fetches_a_partition_again_only_when_its_buffer_is_empty():
    """Java's fetcher skips partitions with buffered records, and has no backoff (librdkafka's would wait 1 s)."""
    from eda_sim import Simulation
    from eda_sim.kafka.java import KafkaConsumer

    sim = Simulation(seed=4, name="java-fetch-buffer")
    sim.create_topic("t", partitions=1)
    p = sim.producer()
    for i in range(30):
        p.produce("t", value=str(i), partition=0)
    p.flush()
    c = KafkaConsumer(
        {
            "bootstrap.servers": sim.bootstrap_servers,
            "group.id": "g",
            "auto.offset.reset": "earliest",
            "max.poll.records": 10,
        }
    )
    c.subscribe(["t"])
    first = c.poll(1.0)
    fetched = [r for r in sim.journal.rows("fetched")]
    assert len(first) == 10 and len(fetched) == 1 and fetched[0].count == 30
    start = sim.now
    for i in range(30, 40):  # new records while 20 are still buffered: not fetched yet
        p.produce("t", value=str(i), partition=0)
    p.flush()
    got = [r.offset() for _ in range(2) for r in c.poll(1.0)]
    assert got == list(range(10, 30)) and len(sim.journal.rows("fetched")) == 1
    third = c.poll(1.0)  # the buffer is empty: fetched at once, no backoff
    assert [r.offset() for r in third] == list(range(30, 40))
    assert len(sim.journal.rows("fetched")) == 2 and sim.now - start < 0.5
