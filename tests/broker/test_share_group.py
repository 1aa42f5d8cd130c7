"""Share groups (KIP-932) and the share consumer, in confluent-kafka 2.16's names.

Records are acquired under a lock, acknowledged one by one (ACCEPT, RELEASE,
REJECT), redelivered with a growing delivery count, and archived at the limit;
the property test runs fault schedules and checks that every record ends
accepted, rejected or archived, exactly once.
"""

from __future__ import annotations

import os
from collections import Counter

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eda_sim import Simulation
from eda_sim.broker.share_group import share_group
from eda_sim.core.errors import KafkaError, KafkaException
from eda_sim.course.nb04.share import key_order, share_vs_group, share_world
from eda_sim.kafka.share_consumer import AcknowledgeType, IllegalStateException, ShareConsumer
from eda_sim.services.retries import TransientError, dead_letters
from eda_sim.services.share_members import ShareWorker
from eda_sim.testing.worlds import filled, topics


def world(records=10, partitions=1, config=None, seed=1):
    sim = topics({"t": partitions}, seed=seed)
    share_group(sim, "g", {"share.auto.offset.reset": "earliest", **(config or {})})
    return filled(sim, "t", records, key=lambda i: f"k{i % 3}", value=lambda i: f"v{i}")


def consumer(sim, mode="explicit", **extra):
    c = ShareConsumer({"group.id": "g", "share.acknowledgement.mode": mode, **extra}, sim=sim)
    c.subscribe(["t"])
    return c


@pytest.mark.parametrize(
    "key, words",
    [
        ("group.instance.id", "`group.instance.id` is not applicable for share consumer"),
        ("enable.auto.commit", "`enable.auto.commit` is not applicable for share consumer"),
        ("auto.offset.reset", "`auto.offset.reset` is not applicable for share consumer"),
        ("group.protocol", "`group.protocol` is not applicable for share consumer"),
        (
            "session.timeout.ms",
            "`session.timeout.ms` is not supported for `group.protocol=consumer` or share consumer",
        ),
    ],
)
def test_settings_that_belong_elsewhere_are_refused_as_librdkafka_refuses_them(key, words):
    sim = Simulation(seed=0)
    with pytest.raises(KafkaException) as info:
        ShareConsumer({"group.id": "g", key: "x"}, sim=sim)
    assert words in str(info.value)


def test_poll_needs_a_subscription_and_explicit_mode_needs_every_record_settled():
    sim = world()
    c = ShareConsumer({"group.id": "g", "share.acknowledgement.mode": "explicit"}, sim=sim)
    with pytest.raises(IllegalStateException, match="not subscribed"):
        c.poll(0.1)
    c.subscribe(["t"])
    msgs = c.poll(0.1)
    assert [m.offset() for m in msgs] == list(range(10)) and {m.delivery_count() for m in msgs} == {
        1
    }
    c.acknowledge(msgs[0])
    with pytest.raises(IllegalStateException, match="9 record"):
        c.poll(0.1)
    with pytest.raises(ValueError, match="ACCEPT, RELEASE or REJECT"):
        c.acknowledge(msgs[1], 7)
    with pytest.raises(IllegalStateException, match="not in flight"):
        c.acknowledge(msgs[0])  # settled already


def test_implicit_mode_accepts_what_the_last_poll_returned():
    sim = world()
    c = consumer(sim, mode="implicit")
    with pytest.raises(IllegalStateException, match="explicit"):
        c.acknowledge(c.poll(0.1)[0])
    assert c.poll(0.1) == []  # the first ten were accepted on the way in
    g = sim.share_groups["g"]
    assert Counter(g.outcomes.values()) == {"accepted": 10}
    assert g.partitions[("t", 0)].spso == 10


def test_release_redelivers_with_a_higher_count_until_the_limit_archives_it():
    sim = world(records=1, config={"share.delivery.count.limit": 3})
    c = consumer(sim)
    counts = []
    for _ in range(5):
        msgs = c.poll(0.1)
        if not msgs:
            break
        counts.append(msgs[0].delivery_count())
        c.acknowledge(msgs[0], AcknowledgeType.RELEASE)
    c.commit_sync()
    assert counts == [1, 2, 3]
    archived = sim.journal.rows("archived")
    assert len(archived) == 1 and "delivery count 3 reached the limit" in archived[0].detail
    assert sim.share_groups["g"].outcomes == {("t", 0, 0): "archived"}


def test_reject_archives_at_once_and_the_dead_letter_topic_gets_it():
    sim = world(records=2, config={"errors.deadletterqueue.topic.name": "t.DLT"})
    c = consumer(sim)
    first, second = c.poll(0.1)
    c.acknowledge(first, AcknowledgeType.REJECT)
    c.acknowledge(second, AcknowledgeType.ACCEPT)
    assert list(c.commit_sync().values()) == [None]
    sim.run(until=sim.now + 1.0)
    assert sim.share_groups["g"].outcomes == {("t", 0, 0): "rejected", ("t", 0, 1): "accepted"}
    dlq = dead_letters(sim, "t.DLT")
    assert len(dlq) == 1 and dlq.iloc[0]["original_offset"] == 0
    assert dlq.iloc[0]["error"] == "ShareRecordArchived" and dlq.iloc[0]["attempts"] == 1
    assert c.poll(0.1) == []  # never delivered again


def test_an_expired_lock_gives_the_record_to_another_member_and_the_late_ack_fails():
    sim = world(records=3)
    a, b = consumer(sim), consumer(sim)
    got = a.poll(0.1)
    assert len(got) == 3 and b.poll(0.1) == []
    sim.run(until=sim.now + 31.0)  # group.share.record.lock.duration.ms: 30 s
    assert len(sim.journal.rows("lock_expired")) == 3
    again = b.poll(0.1)
    assert [m.delivery_count() for m in again] == [2, 2, 2]
    for m in got:
        a.acknowledge(m)
    results = a.commit_sync()
    err = results[next(iter(results))]
    assert isinstance(err, KafkaException) and err.args[0].code() == KafkaError.INVALID_RECORD_STATE


def test_a_new_share_group_starts_at_the_log_end_by_default():
    sim = Simulation(seed=1)
    sim.create_topic("t", partitions=1)
    p = sim.producer()
    p.produce("t", value="old")
    p.flush()
    c = ShareConsumer({"group.id": "fresh"}, sim=sim)
    c.subscribe(["t"])
    assert c.poll(0.1) == []
    p.produce("t", value="new")
    p.flush()
    assert [m.value() for m in c.poll(1.0)] == [b"new"]


def test_more_consumers_than_partitions_all_work_and_key_order_breaks():
    table = share_vs_group(6)
    group, share = table.iloc[0], table.iloc[1]
    assert share.processed_per_s > 2.5 * group.processed_per_s
    assert group.keys_out_of_order == 0 and share.keys_out_of_order > 0
    sim = share_world(6, until=2.0)
    assert all(sim.members[f"worker-{k}"].processed_total > 0 for k in range(1, 7))
    assert (key_order(sim)["processed"] > 0).all()


# -- properties under fault schedules ------------------------------------------------------------

PROFILE = settings(
    max_examples=30 if os.environ.get("CI") else 10,
    deadline=None,
    derandomize=bool(os.environ.get("CI")),
    suppress_health_check=[HealthCheck.too_slow],
)


@PROFILE
@given(
    seed=st.integers(0, 2**16),
    workers=st.integers(1, 5),
    partitions=st.integers(1, 3),
    outcomes=st.lists(
        st.sampled_from(["accept", "release", "reject", "transient"]), min_size=1, max_size=8
    ),
    faults=st.lists(
        st.tuples(
            st.integers(0, 4), st.sampled_from(["crash", "restart", "stop"]), st.floats(0.05, 3.0)
        ),
        max_size=6,
    ),
)
def test_property_every_record_ends_accepted_rejected_or_archived_once(
    seed, workers, partitions, outcomes, faults
):
    sim = Simulation(seed=seed)
    sim.create_topic("t", partitions=partitions)
    share_group(
        sim,
        "g",
        {
            "share.auto.offset.reset": "earliest",
            "share.record.lock.duration.ms": 1000,
            "share.delivery.count.limit": 3,
        },
    )
    producer = sim.producer()
    for i in range(40):
        producer.produce("t", key=f"k{i % 7}", value=str(i))
    producer.flush()
    state = {"n": 0, "drain": False}

    def handler(msg):
        if state["drain"]:
            return AcknowledgeType.ACCEPT
        pick = outcomes[state["n"] % len(outcomes)]
        state["n"] += 1
        if pick == "release":
            return AcknowledgeType.RELEASE
        if pick == "reject":
            return AcknowledgeType.REJECT
        if pick == "transient":
            raise TransientError("try again")
        return None

    pool = [
        ShareWorker(
            sim, "g", ["t"], name=f"w{i}", processing_time=0.02, max_poll_records=5, handler=handler
        )
        for i in range(workers)
    ]
    for which, what, dt in faults:
        w = pool[which % workers]
        if what == "crash":
            w.crash()
        elif what == "stop":
            w.stop()
        elif not w.alive:
            w.restart()
        sim.run(until=sim.now + dt)
    state["drain"] = True
    for w in pool:
        if not w.alive:
            w.restart()
    sim.run(until=sim.now + 60.0)  # past every lock and session: the group has settled everything
    g = sim.share_groups["g"]
    produced = {
        ("t", p, o)
        for p in range(partitions)
        for o in range(sim.topic("t").partitions[p].log_end_offset)
    }
    assert set(g.outcomes) == produced
    accepts = Counter(
        (r.topic, r.partition, r.offset)
        for r in sim.journal.rows("acknowledged")
        if r.detail == "ACCEPT"
    )
    assert all(n == 1 for n in accepts.values())  # no record accepted twice
    archived = Counter((r.topic, r.partition, r.offset) for r in sim.journal.rows("archived"))
    finished = Counter(accepts) + archived
    assert all(n == 1 for n in finished.values()) and set(finished) == produced
    assert all(
        r.count <= 3 for r in sim.journal.rows("archived")
    )  # never more deliveries than the limit


def test_a_member_that_does_not_poll_in_time_leaves_and_its_records_go_to_another():
    sim = world(records=20)
    # 20 records x 0.5 s = 10 s per batch, past max.poll.interval.ms
    ShareWorker(
        sim,
        "g",
        ["t"],
        name="slow",
        processing_time=0.5,
        max_poll_records=20,
        config={"max.poll.interval.ms": 3000},
    )
    sim.run(until=0.01)
    fast = ShareWorker(sim, "g", ["t"], name="fast", processing_time=0.01, max_poll_records=20)
    sim.run(until=20.0)
    evicted = sim.journal.rows("evicted")
    assert [r.detail for r in evicted][:1] == ["no poll for 3 s (max.poll.interval.ms)"]
    g = sim.share_groups["g"]
    assert len(g.outcomes) == 20 and set(g.outcomes.values()) == {"accepted"}
    accepted_by = Counter(r.actor for r in sim.journal.rows("acknowledged") if r.detail == "ACCEPT")
    assert accepted_by[fast.consumer.member_id] > 0


def test_an_unknown_topic_is_reported_by_poll_as_an_error_event():
    sim = world()
    c = ShareConsumer({"group.id": "g"}, sim=sim)
    c.subscribe(["t", "nope"])
    first = c.poll(0.1)
    assert [m.error().code() for m in first] == [KafkaError.UNKNOWN_TOPIC_OR_PART]
    assert "Subscribed topic not available: nope" in first[0].error().str()
    assert len(c.poll(0.1)) == 10  # then the topic that exists
