"""Edges the suite did not reach before issue 19: planted bugs there survived.

An empty key through the producer under consistent_random, a committed offset exactly at the log
start or end, and consumers restarting under every auto.offset.reset policy, not only earliest."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eda_sim import Simulation
from eda_sim.kafka import KafkaError, TopicPartition
from eda_sim.kafka.partitioner import crc32_partition, murmur2_partition


def _partitions_of(sim, topic):
    return [r.partition for log in sim.topic(topic).partitions for r in log.records()]


@pytest.mark.parametrize("key", ["", b""])
def test_an_empty_key_under_consistent_random_is_spread_as_no_key_through_the_producer(key):
    # librdkafka: consistent_random treats an empty key as no key (random, sticky per linger);
    # hashing it would put every record on crc32(b"") % n == 0.
    sim = Simulation(seed=4, name="edges")
    sim.create_topic("t", partitions=8)
    p = sim.producer({"partitioner": "consistent_random", "sticky.partitioning.linger.ms": 0})
    for i in range(40):
        p.produce("t", key=key, value=str(i))
    p.flush()
    parts = _partitions_of(sim, "t")
    assert len(parts) == 40 and len(set(parts)) > 3
    assert crc32_partition(b"", 8) == 0


def test_an_empty_key_under_murmur2_random_is_hashed_through_the_producer():
    sim = Simulation(seed=4, name="edges")
    sim.create_topic("t", partitions=8)
    p = sim.producer({"partitioner": "murmur2_random"})
    for i in range(10):
        p.produce("t", key="", value=str(i))
    p.flush()
    assert set(_partitions_of(sim, "t")) == {murmur2_partition(b"", 8)}


def _world_with_retention(committed_at: str, policy: str):
    """Six records, the first three removed by retention, and a committed offset at an edge."""
    sim = Simulation(seed=4, name="edges")
    sim.create_topic("t", partitions=1, config={"retention.ms": 1000, "segment.bytes": 1})
    p = sim.producer()
    for i in range(3):
        p.produce("t", value=f"old {i}")
        p.flush()
    sim.run(until=2.0)
    for i in range(3):
        p.produce("t", value=f"new {i}")
        p.flush()
    sim.broker.enforce_retention()
    log = sim.topic("t").partitions[0]
    assert (log.log_start_offset, log.log_end_offset) == (3, 6)
    offset = {"start": 3, "end": 6, "below": 1, "inside": 4}[committed_at]
    first = sim.consumer({"group.id": "g", "enable.auto.commit": False})
    first.subscribe(["t"])
    first.poll(0.01)
    first.commit(offsets=[TopicPartition("t", 0, offset)], asynchronous=False)
    first.close()
    c = sim.consumer({"group.id": "g", "auto.offset.reset": policy, "enable.auto.commit": False})
    c.subscribe(["t"])
    return sim, c


@pytest.mark.parametrize("policy", ["earliest", "latest", "none"])
@pytest.mark.parametrize("committed_at, first_offset", [("start", 3), ("inside", 4)])
def test_a_committed_offset_at_or_after_the_log_start_is_where_a_new_owner_resumes(
    policy, committed_at, first_offset
):
    # Equal to the log start is inside the log: no auto.offset.reset, whatever the policy.
    sim, c = _world_with_retention(committed_at, policy)
    msg = c.poll(1.0)
    assert msg is not None and msg.error() is None and msg.offset() == first_offset
    assert not [r for r in sim.journal.rows() if r.kind == "offset_reset" and r.group == "g"][1:]


@pytest.mark.parametrize("policy", ["earliest", "latest", "none"])
def test_a_committed_offset_at_the_log_end_waits_for_the_next_record(policy):
    sim, c = _world_with_retention("end", policy)
    assert c.poll(0.5) is None
    assert c.position([TopicPartition("t", 0)])[0].offset == 6


@pytest.mark.parametrize("policy, expected", [("earliest", 3), ("latest", None), ("none", "error")])
def test_a_committed_offset_below_the_log_start_follows_the_policy(policy, expected):
    sim, c = _world_with_retention("below", policy)
    msg = c.poll(0.5)
    if expected == "error":
        assert msg.error().code() == KafkaError._AUTO_OFFSET_RESET
    elif expected is None:
        assert msg is None
    else:
        assert msg.offset() == expected


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    produced=st.integers(0, 8),
    expired=st.integers(0, 8),
    committed=st.one_of(st.none(), st.integers(0, 10)),
    policy=st.sampled_from(["earliest", "latest", "none"]),
)
def test_a_restarting_consumer_starts_where_kafka_says_under_every_reset_policy(
    produced, expired, committed, policy
):
    # Committed inside [log start, log end]: there. Otherwise (none, or out of range) the policy:
    # earliest -> log start, latest -> log end, none -> an _AUTO_OFFSET_RESET error event.
    sim = Simulation(seed=4, name="edges")
    sim.create_topic("t", partitions=1)
    p = sim.producer()
    for i in range(produced):
        p.produce("t", value=str(i))
    p.flush()
    log = sim.topic("t").partitions[0]
    log.log_start_offset = min(expired, produced)  # what retention would leave
    if committed is not None:
        sim._group("g").committed[("t", 0)] = committed
    c = sim.consumer({"group.id": "g", "auto.offset.reset": policy})
    c.subscribe(["t"])
    first = c.consume(1, 0.01)
    start, end = log.log_start_offset, log.log_end_offset
    if committed is not None and start <= committed <= end:
        want = committed
    else:
        want = {"earliest": start, "latest": end, "none": None}[policy]
    if want is None:
        assert first and first[0].error().code() == KafkaError._AUTO_OFFSET_RESET
    elif want < end:
        assert first and first[0].error() is None and first[0].offset() == want
    else:
        assert first == [] and c.position([TopicPartition("t", 0)])[0].offset == want


def test_a_virtual_time_becomes_the_nearest_millisecond_since_the_epoch():
    # 2.9999 s is 3000 ms after the simulation's epoch, not 2999 (truncating would say so).
    from eda_sim.kafka.message import EPOCH_MS, to_epoch_ms

    assert to_epoch_ms(2.9999) == EPOCH_MS + 3000
    assert to_epoch_ms(0.0016) == EPOCH_MS + 2
    assert to_epoch_ms(0.0) == EPOCH_MS
