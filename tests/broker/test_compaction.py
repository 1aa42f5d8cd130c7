"""Log compaction keeps Kafka's promises: latest value per key, offsets kept, active segment untouched."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eda_sim import Simulation
from eda_sim.broker.compaction import CLEANER_BACKOFF_MS, latest_values
from eda_sim.core.errors import KafkaError, KafkaException

KEYS = [b"a", b"b", b"c", b"d"]


def world(ops, policy="compact", **cfg):
    """Produce ``ops`` (time gap, key index, value or None) one record at a time; return the sim."""
    sim = Simulation(seed=7)
    config = {"cleanup.policy": policy, "segment.ms": 2000, "delete.retention.ms": 20000, **cfg}
    sim.create_topic("t", config=config)
    producer = sim.producer({"linger.ms": 0})
    at = 0.0
    for gap, k, v in ops:
        at += gap
        sim.at(at, producer.produce, "t", v, KEYS[k])
    return sim, at


ops_strategy = st.lists(
    st.tuples(
        st.floats(0.1, 3.0),
        st.integers(0, len(KEYS) - 1),
        st.one_of(st.none(), st.binary(min_size=1, max_size=6)),
    ),
    min_size=1,
    max_size=60,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=ops_strategy, extra=st.floats(0, 120), lag=st.sampled_from([0, 3000]))
def test_a_reader_from_the_start_sees_the_latest_value_of_every_key(ops, extra, lag):
    sim, end = world(ops, **{"min.compaction.lag.ms": lag})
    plain, _ = world(ops, policy="delete", **{"retention.ms": -1})
    until = end + extra
    sim.run(until=until)
    plain.run(until=until)
    history = plain.topic("t").partitions[0].records()
    log = sim.topic("t").partitions[0]
    kept = log.records()
    original = {r.offset: r for r in history}
    # offsets are kept and records are never changed: each survivor is the original record
    assert all(original[r.offset] == r for r in kept)
    assert [r.offset for r in kept] == sorted(r.offset for r in kept)  # per-key order kept
    # the latest record of every key survives, tombstones included until their horizon
    last = {}
    for r in history:
        last[r.key] = r
    kept_offsets = {r.offset for r in kept}
    for key, r in last.items():
        if r.value is not None:
            assert r.offset in kept_offsets, f"latest value of {key!r} was removed"
    # the table a reader builds equals the one from the full history
    assert latest_values(kept) == latest_values(history)
    # the active segment is never compacted
    active = log._segments[-1].base
    assert [r for r in kept if r.offset >= active] == [r for r in history if r.offset >= active]
    # records younger than min.compaction.lag.ms are all still there
    young = [r for r in history if r.timestamp > sim.now - lag / 1000.0]
    assert set(r.offset for r in young) <= kept_offsets


def test_tombstones_stay_for_delete_retention_ms_then_go():
    ops = [(1.0, 0, b"x"), (1.0, 1, b"y"), (1.0, 0, None)] + [
        (1.0, 2, b"z%d" % i) for i in range(6)
    ]
    sim, end = world(ops, **{"delete.retention.ms": 30000})
    sim.run(until=end + 1)
    sim.broker.cleaner.clean_now("t")
    stamped = sim.now
    tomb = [r for r in sim.topic("t").partitions[0].records() if r.value is None]
    assert [r.key for r in tomb] == [b"a"]  # the tombstone stays, readable by late consumers
    sim.run(until=stamped + 29)
    assert any(r.value is None for r in sim.topic("t").partitions[0].records())
    sim.run(until=stamped + 30 + CLEANER_BACKOFF_MS / 1000.0)
    kept = sim.topic("t").partitions[0].records()
    assert all(r.key != b"a" for r in kept)  # horizon passed: the key is gone entirely
    assert any(run.tombstones_removed == 1 for run in sim.broker.cleaner.runs)
    rows = sim.journal.rows("compacted")
    assert rows and "tombstone delete horizon passed" in rows[-1].detail


def test_the_dirty_ratio_decides_when_the_cleaner_runs():
    sim = Simulation(seed=1)
    sim.create_topic("t", config={"cleanup.policy": "compact", "segment.ms": 1000})
    p = sim.producer({"linger.ms": 0})
    for i in range(10):  # ten distinct keys: the first cleaning finds everything dirty (ratio 1.0)
        sim.at(i * 1.0, p.produce, "t", b"value", b"k%02d" % i)
    sim.run(until=16)
    assert [round(r.dirty_ratio, 2) for r in sim.broker.cleaner.runs] == [1.0]
    for i in range(4):  # four more: dirty 4 / (clean 9 + dirty 4) is below 0.5
        sim.at(20 + i, p.produce, "t", b"value", b"k%02d" % (10 + i))
    sim.run(until=60)
    layout = sim.broker.cleaner.layout("t", 0)
    assert 0 < layout.dirty_ratio < 0.5
    assert len(sim.broker.cleaner.runs) == 1  # the cleaner waited
    for i in range(8):  # eight more: now dirty outweighs clean
        sim.at(61 + i, p.produce, "t", b"value", b"k%02d" % (20 + i))
    sim.run(until=90)
    runs = sim.broker.cleaner.runs
    assert len(runs) == 2 and runs[1].dirty_ratio >= 0.5
    assert "dirty ratio" in sim.journal.rows("compacted")[-1].detail


def test_a_dirty_ratio_exactly_at_the_minimum_waits_for_one_more_record():
    # Kafka's LogCleanerManager cleans only when cleanableRatio > min.cleanable.dirty.ratio.
    sim = Simulation(seed=1)
    sim.create_topic("t", config={"cleanup.policy": "compact", "segment.ms": 1000})
    p = sim.producer({"linger.ms": 0})
    for i in range(4):  # offsets 0-2 cleaned (ratio 1.0); offset 3 stays in the active segment
        sim.at(i * 1.0, p.produce, "t", b"value", b"k%02d" % i)
    sim.run(until=16)
    for i in range(3):  # offsets 3-5 now closed and dirty: 24 dirty bytes against 24 clean
        sim.at(20 + i, p.produce, "t", b"value", b"k%02d" % (10 + i))
    sim.run(until=60)
    assert sim.broker.cleaner.layout("t", 0).dirty_ratio == 0.5
    assert len(sim.broker.cleaner.runs) == 1
    sim.at(61, p.produce, "t", b"value", b"k99")  # offset 6 closes: 4 dirty against 3 clean
    sim.run(until=90)
    assert [round(r.dirty_ratio, 3) for r in sim.broker.cleaner.runs] == [1.0, 0.571]


def test_max_compaction_lag_forces_a_cleaning_below_the_ratio():
    ops = [(1.0, i % 4, b"v%d" % i) for i in range(40)]
    never, end = world(ops, **{"min.cleanable.dirty.ratio": 1.0})
    never.run(until=10)
    never.broker.cleaner.clean_now("t")  # the whole dirty part is now clean
    never.run(until=end)
    before = len(never.broker.cleaner.runs)
    forced, _ = world(ops, **{"min.cleanable.dirty.ratio": 1.0, "max.compaction.lag.ms": 5000})
    forced.run(until=10)
    forced.broker.cleaner.clean_now("t")
    forced.run(until=end)
    reasons = [r.reason for r in forced.broker.cleaner.runs[1:]]
    assert len(never.broker.cleaner.runs) == before  # ratio below 1.0 after a clean: no more runs
    assert any("max.compaction.lag.ms" in r for r in reasons)


def test_consumers_read_across_the_gaps_and_commit_past_them():
    ops = [(0.5, i % 2, b"v%d" % i) for i in range(20)]
    sim, end = world(ops)
    sim.run(until=end + 20)
    kept = sim.topic("t").partitions[0].records()
    assert kept[0].offset > 0  # the earliest records were compacted away
    c = sim.consumer({"group.id": "g", "auto.offset.reset": "earliest"})
    c.subscribe(["t"])
    got = c.consume(100, timeout=1)
    assert [m.offset() for m in got] == [r.offset for r in kept]
    c.commit(asynchronous=False)
    assert sim.offsets("g")["committed"].tolist() == [20]


def test_retention_leaves_a_compact_only_topic_alone_and_trims_compact_delete():
    ops = [(1.0, i % 3, b"v%d" % i) for i in range(30)]
    kept, end = world(ops, **{"retention.ms": 5000})
    both, _ = world(ops, policy="compact,delete", **{"retention.ms": 5000})
    kept.run(until=end + 400)
    both.run(until=end + 400)
    assert kept.topic("t").partitions[0].log_start_offset == 0
    assert latest_values(kept.topic("t").partitions[0].records()) == {
        b"a": b"v27",
        b"b": b"v28",
        b"c": b"v29",
    }
    assert both.topic("t").partitions[0].log_start_offset > 0
    assert both.journal.rows("expired")


def test_a_compacted_topic_refuses_records_without_a_key():
    sim = Simulation(seed=1)
    sim.create_topic("t", config={"cleanup.policy": "compact"})
    p = sim.producer()
    reports = []
    p.produce("t", b"v", None, on_delivery=lambda err, msg: reports.append(err))
    p.flush()
    assert reports[0].code() == KafkaError.INVALID_RECORD
    assert "without a key" in reports[0].str()
    assert sim.topic("t").partitions[0].log_end_offset == 0


@pytest.mark.parametrize(
    "key,value",
    [
        ("cleanup.policy", "compakt"),
        ("cleanup.policy", "compact,compact"),
        ("cleanup.policy", 3),
        ("min.cleanable.dirty.ratio", 1.5),
        ("delete.retention.ms", -1),
    ],
)
def test_bad_compaction_settings_are_refused_with_the_valid_choices(key, value):
    sim = Simulation(seed=1)
    with pytest.raises(KafkaException) as err:
        sim.create_topic("t", config={key: value})
    assert key in str(err.value)
    if key == "cleanup.policy":
        assert "delete, compact, compact,delete" in str(err.value)


def test_delete_compact_is_the_same_policy_as_compact_delete():
    sim = Simulation(seed=1)
    t = sim.create_topic("t", config={"cleanup.policy": "delete, compact"})
    assert t.config["cleanup.policy"] == "compact,delete"


def test_clean_now_refuses_a_topic_that_is_not_compacted():
    sim = Simulation(seed=1)
    sim.create_topic("t")
    with pytest.raises(ValueError, match="cleanup.policy=delete"):
        sim.broker.cleaner.clean_now("t")


def test_the_cleaner_removes_aborted_records_keeps_markers_and_stops_at_an_open_transaction():
    sim = Simulation(seed=3)
    sim.create_topic("t", config={"cleanup.policy": "compact", "segment.ms": 1000})
    p = sim.producer({"transactional.id": "writer-0", "linger.ms": 0})
    p.init_transactions()
    for value, end in ((b"v1", "commit"), (b"v2", "abort"), (b"v3", None)):
        sim.run(until=sim.now + 2)
        p.begin_transaction()
        p.produce("t", value, b"k1")
        p.produce("t", value + b"-other", b"k2")
        p.flush()
        if end == "commit":
            p.commit_transaction()
        elif end == "abort":
            p.abort_transaction()
    sim.run(until=sim.now + 2)
    log = sim.topic("t").partitions[0]
    lso = sim.transactions.last_stable_offset("t", 0)
    before = {r.offset: r for r in log.records()}
    sim.broker.cleaner.clean_now("t")
    after = {r.offset: r for r in log.records()}
    txp = sim.transactions.partitions[("t", 0)]
    assert all(o in after for o in txp.markers)  # markers stay
    aborted = [o for o, t in txp.records.items() if t.state == "aborted"]
    assert aborted and not any(o in after for o in aborted)  # aborted records are gone
    assert all(
        after.get(o) == r for o, r in before.items() if o >= lso
    )  # open transaction untouched
    assert {after[o].value for o in after if o < lso and o not in txp.markers} == {
        b"v1",
        b"v1-other",
    }
    assert "aborted records removed 2" in sim.journal.rows("compacted")[-1].detail


def test_a_member_reading_a_compacted_topic_journals_the_records_it_processed():
    sim = Simulation(seed=5)
    sim.create_topic("t", partitions=2, config={"cleanup.policy": "compact", "segment.ms": 1000})
    producer = sim.producer({"linger.ms": 0})
    for i in range(40):
        sim.at(i * 0.5, producer.produce, "t", b"v%d" % i, KEYS[i % 4])
    sim.run(until=40)  # compacted: both partitions have gaps
    member = sim.member("readers", ["t"], config={"auto.offset.reset": "earliest"})
    sim.run(until=45)  # one poll takes both partitions: two runs with gaps in each
    kept = [len(log.records()) for log in sim.topic("t").partitions]
    assert member.processed_total == sum(kept)
    rows = sim.journal.rows("processed")
    assert [sum(r.count for r in rows if r.partition == p) for p in (0, 1)] == kept
