"""The simulation's clock, journal, determinism, retention, groups and the demo."""

import pytest

from eda_sim import Simulation
from eda_sim.__main__ import demo, main
from eda_sim.core.journal import COLUMNS, KINDS
from eda_sim.services.load import Feed


def scenario(seed: int, keyed: bool = False) -> Simulation:
    sim = Simulation(seed=seed, name="det")
    sim.create_topic("t", partitions=4)
    Feed(
        sim,
        "t",
        ((f"k{i % 7}" if keyed else None, f"v{i}") for i in range(300)),
        rate=50,
        tick=0.05,
    )
    a = sim.member("g", ["t"], processing_time=0.01, config={"auto.offset.reset": "earliest"})
    sim.member(
        "g",
        ["t"],
        processing_time=lambda rng: rng.expovariate(80),
        config={"auto.offset.reset": "earliest"},
    )
    sim.crash(a, at=2.0)
    sim.restart(a, at=3.0)
    sim.run(until=20)
    return sim


def test_same_seed_same_journal_bytes():
    assert scenario(5).journal.digest() == scenario(5).journal.digest()


def test_different_seeds_differ():
    # unkeyed records take seeded sticky partitions, and processing times are drawn
    assert scenario(5).journal.digest() != scenario(6).journal.digest()


def test_journal_columns_and_kinds_are_documented():
    sim = scenario(1)
    frame = sim.journal.frame()
    assert tuple(frame.columns) == COLUMNS
    assert set(frame["kind"]) <= set(KINDS)
    assert frame["seq"].is_monotonic_increasing and frame["time"].is_monotonic_increasing


def test_step_advances_to_the_next_journal_row():
    sim = Simulation(seed=1, name="step")
    sim.create_topic("t", partitions=1)
    p = sim.producer()
    p.produce("t", value="x")
    kinds = [row.kind for _ in range(3) for row in sim.step()]
    assert kinds == ["produced", "appended", "acked"]
    assert sim.now == pytest.approx(
        0.005 + 2 * sim.network_latency
    )  # linger.ms, then there and back
    assert sim.step() == []  # nothing left to happen


def test_journal_off_keeps_counts_but_no_rows():
    sim = Simulation(seed=1, name="quiet", journal=False)
    sim.create_topic("t", partitions=2)
    p = sim.producer()
    for i in range(10):
        p.produce("t", key=str(i), value="v")
    p.flush()
    assert len(sim.journal) == 0 and sim.journal.written > 0
    assert sim.broker.appended_total == 10


def test_retention_moves_log_start_forward_by_whole_segments():
    sim = Simulation(seed=1, name="ret")
    sim.create_topic("t", partitions=1, config={"retention.ms": 10_000, "segment.ms": 2_000})
    p = sim.producer()
    for second in range(20):
        p.produce("t", value=f"at {second}")
        p.flush()
        sim.run(until=second + 1)
    log = sim.topic("t").partitions[0]
    before = log.log_start_offset
    gone = sim.broker.enforce_retention()
    assert gone > 0 and log.log_start_offset == before + gone
    oldest = log.record(log.log_start_offset)
    assert oldest.timestamp >= sim.now - 10 - 2  # at most one segment's worth past retention.ms
    assert log.log_end_offset == 20  # retention never touches the end


@pytest.mark.parametrize("age_ms, kept", [(9_999, True), (10_000, True), (10_001, False)])
def test_retention_deletes_a_segment_only_when_strictly_older_than_retention_ms(age_ms, kept):
    # Kafka's UnifiedLog deletes when now - largestTimestamp > retention.ms: a segment
    # exactly retention.ms old stays until the next check.
    sim = Simulation(seed=1, name="ret-edge")
    sim.create_topic("t", partitions=1, config={"retention.ms": 10_000, "segment.ms": 1_000})
    p = sim.producer()
    p.produce("t", value="old")
    p.flush()
    log = sim.topic("t").partitions[0]
    born = log.record(0).timestamp
    sim.run(until=born + 2.0)
    p.produce("t", value="new")  # rolls the first segment (segment.ms)
    p.flush()
    sim.run(until=born + age_ms / 1000)
    log.enforce_retention(sim.now)
    assert log.log_start_offset == (0 if kept else 1), (sim.now, log.segments())


def test_retention_by_size_keeps_at_least_retention_bytes():
    sim = Simulation(seed=1, name="ret-size")
    sim.create_topic("t", partitions=1, config={"retention.bytes": 100, "segment.bytes": 30})
    p = sim.producer()
    for _i in range(30):
        p.produce("t", value="0123456789")
        p.flush()
    sim.broker.enforce_retention()
    log = sim.topic("t").partitions[0]
    assert log.log_start_offset > 0
    assert log.size_bytes >= 100


def test_consumer_behind_retention_resets_by_policy():
    sim = Simulation(seed=1, name="ret-reset")
    sim.create_topic("t", partitions=1, config={"retention.ms": 2500, "segment.ms": 100})
    c = sim.consumer(
        {"group.id": "slow", "auto.offset.reset": "earliest", "enable.auto.commit": False}
    )
    c.subscribe(["t"])
    c.poll(0.01)
    p = sim.producer()
    for i in range(5):
        p.produce("t", value=str(i))
        p.flush()
        sim.run(until=sim.now + 1)
    sim.broker.enforce_retention()
    start = sim.topic("t").partitions[0].log_start_offset
    assert start > 0
    m = c.poll(0.1)
    assert m.offset() == start  # the old position fell off the log: earliest retained instead
    assert any("out of range" in r.detail for r in sim.journal.rows("offset_reset"))


def test_range_assignment_and_idle_extra_members():
    sim = Simulation(seed=1, name="range")
    sim.create_topic("t", partitions=2)
    members = [sim.member("g", ["t"], name=f"m{i}") for i in range(3)]
    sim.run(until=0.5)
    owned = {m.name: [p for _, p in sim.group("g").assignment[m.member_id]] for m in members}
    assert owned == {
        "m0": [0],
        "m1": [1],
        "m2": [],
    }  # one partition, one owner: the third sits idle


def test_adding_partitions_moves_keys():
    from eda_sim.kafka.partitioner import murmur2_partition

    keys = [f"user-{i}".encode() for i in range(100)]
    moved = sum(murmur2_partition(k, 3) != murmur2_partition(k, 4) for k in keys)
    assert moved > 50  # hash % N changes with N: most keys move
    sim = Simulation(seed=1, name="grow")
    sim.create_topic("t", partitions=3)
    sim.member("g", ["t"], name="m")
    sim.run(until=0.1)
    sim.add_partitions("t", 4)
    assert sim.group("g").generation == 2 and len(sim.group("g").owner) == 4


def test_demo_prints_offsets_and_counts(capsys):
    text = demo(7)
    assert "produced 600" in text and "duplicates" in text
    assert text == demo(7)
    assert main(["demo"]) == 0
    assert "committed" in capsys.readouterr().out
    assert main([]) == 2


def test_a_groups_offsets_list_only_the_topics_it_reads_or_committed_on():
    """As kafka-consumer-groups --describe: not every topic in the cluster, each with a full-log 'lag'."""
    from eda_sim.testing.worlds import filled, reader, topics

    sim = topics({"orders": 2, "audit": 1})
    filled(sim, "orders", 6, key=str)
    filled(sim, "audit", 4)
    consumer = reader(sim, "billing", ["orders"])
    while consumer.poll(0.5) is not None:
        pass
    consumer.commit(asynchronous=False)
    reader(sim, "auditors", ["audit"]).poll(0.5)
    assert set(sim.offsets("billing").topic) == {"orders"}
    assert sim.offsets("billing").lag.tolist() == [0, 0]
    # naming the topic still shows it: the group has read none of it
    audit = sim.offsets("billing", "audit")
    assert audit.committed.isna().all() and audit.lag.tolist() == [4]
    # without a group, each group that reads a topic has its rows, and no other group does
    assert sim.offsets(topic="orders").group.tolist() == ["billing", "billing"]
    # without a group, a topic nobody reads keeps its one row
    sim.create_topic("unread", partitions=1)
    assert sim.offsets().query("topic == 'unread'").group.tolist() == [""]
