"""``delete_records`` and ``list_offsets`` keep Kafka's DeleteRecords and ListOffsets rules.

DeleteRecords moves the log start (never back, never past the high watermark), every reader and
view sees the new start, and a consumer below it follows auto.offset.reset. ListOffsets answers
earliest, latest (the last stable offset under read_committed), a timestamp and the largest one."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eda_sim import Simulation
from eda_sim.core.replay import state_at
from eda_sim.kafka import (
    OFFSET_END,
    AdminClient,
    Consumer,
    IsolationLevel,
    OffsetSpec,
    Producer,
    TopicPartition,
)
from eda_sim.kafka.message import EPOCH_MS

T0 = EPOCH_MS + 60_000  # record timestamps the producer sets: T0, T0 + 10, ...


def _world(records=10, name="admin-records", **topic_config):
    sim = Simulation(seed=5, name=name)
    sim.create_topic("t", partitions=2, config=topic_config or None)
    p = Producer({"bootstrap.servers": sim.bootstrap_servers})
    for i in range(records):
        p.produce("t", value=f"v{i}", partition=0, timestamp=T0 + 10 * i)
    p.flush()
    return sim, AdminClient({"bootstrap.servers": sim.bootstrap_servers})


def _delete(admin, offset, partition=0):
    [(key, future)] = admin.delete_records([TopicPartition("t", partition, offset)]).items()
    assert (key.topic, key.partition, key.offset) == ("t", partition, offset)
    try:
        return future.result().low_watermark
    except Exception as exc:  # noqa: BLE001 - the test reads the error's name
        return exc.args[0].name()


def _reader(sim, group, reset="earliest"):
    c = Consumer(
        {
            "bootstrap.servers": sim.bootstrap_servers,
            "group.id": group,
            "auto.offset.reset": reset,
            "enable.auto.commit": False,
        }
    )
    c.subscribe(["t"])
    return c


def _offsets_read(c, polls=20):
    out = []
    for _ in range(polls):
        m = c.poll(0.2)
        if m is not None and m.error() is None and m.partition() == 0:
            out.append(m.offset())
    return out


def test_deleting_records_moves_the_log_start_for_every_reader_and_view():
    sim, admin = _world()
    assert _delete(admin, 4) == 4
    log = sim.topic("t").partition(0)
    assert (log.log_start_offset, [r.offset for r in log.records()][:1]) == (4, [4])
    assert state_at(sim).log_start[("t", 0)] == 4  # the journal's replay (board, charts)
    assert sim.offsets().set_index("partition").loc[0, "log_start"] == 4
    [row] = [r for r in sim.journal.rows("expired") if r.actor == "admin"]
    assert (row.offset, row.count) == (0, 4)
    assert _offsets_read(_reader(sim, "new")) == [4, 5, 6, 7, 8, 9]


def test_a_consumer_positioned_below_the_new_start_follows_auto_offset_reset():
    sim, admin = _world()
    c = _reader(sim, "g")
    first = _offsets_read(c, polls=3)
    c.commit(offsets=[TopicPartition("t", 0, 2)], asynchronous=False)
    c.close()
    assert first[:2] == [0, 1]
    assert _delete(admin, 6) == 6
    again = _reader(sim, "g")  # its committed offset 2 is gone: earliest is now 6
    assert _offsets_read(again) == [6, 7, 8, 9]
    latest = _reader(sim, "g2", reset="latest")
    assert _offsets_read(latest, polls=5) == []


def test_offset_end_deletes_everything_and_an_offset_behind_the_start_changes_nothing():
    sim, admin = _world()
    assert _delete(admin, OFFSET_END) == 10
    assert len(sim.topic("t").partition(0)) == 0
    assert _delete(admin, 3) == 10  # the log start never moves back
    assert _delete(admin, OFFSET_END, partition=1) == 0  # an empty partition


@pytest.mark.parametrize("offset", [11, 1000, -2])
def test_an_offset_beyond_the_high_watermark_is_out_of_range(offset):
    sim, admin = _world()
    assert _delete(admin, offset) == "OFFSET_OUT_OF_RANGE"
    assert sim.topic("t").partition(0).log_start_offset == 0


def test_unknown_partitions_and_compacted_topics_fail_their_own_futures():
    sim, admin = _world()
    futures = admin.delete_records(
        [TopicPartition("t", 0, 1), TopicPartition("t", 7, 1), TopicPartition("nope", 0, 1)]
    )
    got = [f.exception() and f.exception().args[0].name() for f in futures.values()]
    assert got == [None, "UNKNOWN_TOPIC_OR_PART", "UNKNOWN_TOPIC_OR_PART"]
    sim2, admin2 = _world(name="compacted", **{"cleanup.policy": "compact"})
    assert _delete(admin2, 1) == "POLICY_VIOLATION"


@pytest.mark.parametrize(
    "request_, error, words",
    [
        ({TopicPartition("t", 0, 1): None}, TypeError, "list of TopicPartition"),
        ([("t", 0, 1)], TypeError, "TopicPartition"),
        ([TopicPartition("t", -1, 1)], ValueError, "negative"),
        ([TopicPartition("t", 0, 1), TopicPartition("t", 0, 2)], ValueError, "Duplicate"),
    ],
)
def test_bad_delete_requests_are_refused_at_once(request_, error, words):
    _sim, admin = _world()
    with pytest.raises(error, match=words):
        admin.delete_records(request_)


@settings(max_examples=15, deadline=None)
@given(
    st.lists(
        st.one_of(st.integers(0, 40), st.tuples(st.just("produce"), st.integers(1, 5))),
        max_size=8,
    )
)
def test_the_log_start_is_the_largest_deletion_below_the_end_and_replay_agrees(steps):
    sim, admin = _world(records=3, name="prop")
    p = Producer({"bootstrap.servers": sim.bootstrap_servers})
    log = sim.topic("t").partition(0)
    start = 0
    for step in steps:
        if isinstance(step, tuple):
            for _ in range(step[1]):
                p.produce("t", value="x", partition=0)
            p.flush()
            continue
        got = _delete(admin, step)
        if step > log.log_end_offset:
            assert got == "OFFSET_OUT_OF_RANGE"
        else:
            start = max(start, step)
            assert got == start
    assert log.log_start_offset == start == state_at(sim).log_start[("t", 0)]


def test_delete_records_on_a_cluster_moves_the_leaders_log_start():
    sim = Simulation(seed=5, name="repl-delete", brokers=3)
    sim.create_topic("t", partitions=1, replication_factor=3)
    p = Producer({"bootstrap.servers": sim.bootstrap_servers, "acks": "all"})
    for i in range(5):
        p.produce("t", value=str(i))
    p.flush()
    admin = AdminClient({"bootstrap.servers": sim.bootstrap_servers})
    assert _delete(admin, 3) == 3
    assert _offsets_read(_reader(sim, "g")) == [3, 4]


# -- list_offsets -------------------------------------------------------------------------------


def _lookup(admin, spec, **kwargs):
    [(key, future)] = admin.list_offsets({TopicPartition("t", 0): spec}, **kwargs).items()
    assert key.offset == spec.code  # keyed as confluent-kafka keys it: the spec's code as offset
    info = future.result()
    return info.offset, info.timestamp, info.leader_epoch


def test_earliest_and_latest_are_the_log_start_and_end_with_no_timestamp():
    _sim, admin = _world()
    assert _lookup(admin, OffsetSpec.earliest()) == (0, -1, 0)
    assert _lookup(admin, OffsetSpec.latest()) == (10, -1, 0)
    _delete(admin, 7)
    assert _lookup(admin, OffsetSpec.earliest())[0] == 7


def test_a_timestamp_finds_the_first_record_at_or_after_it():
    _sim, admin = _world()
    assert _lookup(admin, OffsetSpec.for_timestamp(T0 + 35)) == (4, T0 + 40, 0)
    assert _lookup(admin, OffsetSpec.for_timestamp(T0)) == (0, T0, 0)
    assert _lookup(admin, OffsetSpec.for_timestamp(T0 + 1000)) == (-1, -1, None)


def test_max_timestamp_is_the_record_with_the_largest_timestamp_not_the_newest():
    sim, admin = _world(records=3)
    p = Producer({"bootstrap.servers": sim.bootstrap_servers})
    p.produce("t", value="late", partition=0, timestamp=T0 + 5)  # an older timestamp, newest offset
    p.flush()
    assert _lookup(admin, OffsetSpec.max_timestamp()) == (2, T0 + 20, 0)


def test_latest_under_read_committed_is_the_last_stable_offset():
    sim, admin = _world(records=4)
    tx = Producer({"bootstrap.servers": sim.bootstrap_servers, "transactional.id": "tx"})
    tx.init_transactions()
    tx.begin_transaction()
    tx.produce("t", value="open", partition=0)
    tx.flush()
    assert _lookup(admin, OffsetSpec.latest())[0] == 5
    level = IsolationLevel.READ_COMMITTED
    assert _lookup(admin, OffsetSpec.latest(), isolation_level=level)[0] == 4


def test_unknown_partitions_fail_alone_and_bad_requests_are_refused():
    _sim, admin = _world()
    futures = admin.list_offsets(
        {
            TopicPartition("t", 0): OffsetSpec.latest(),
            TopicPartition("nope", 0): OffsetSpec.latest(),
        }
    )
    assert [f.exception() and f.exception().args[0].name() for f in futures.values()] == [
        None,
        "UNKNOWN_TOPIC_OR_PART",
    ]
    with pytest.raises(TypeError, match="dict of"):
        admin.list_offsets([TopicPartition("t", 0)])
    with pytest.raises(TypeError, match="earliest"):
        admin.list_offsets({TopicPartition("t", 0): "latest"})
    with pytest.raises(TypeError, match="READ_COMMITTED"):
        admin.list_offsets({TopicPartition("t", 0): OffsetSpec.latest()}, isolation_level=1)
    with pytest.raises(TypeError, match="milliseconds"):
        OffsetSpec.for_timestamp("yesterday")


def test_on_a_cluster_the_leader_epoch_is_the_one_each_offset_was_written_in():
    sim = Simulation(seed=5, name="repl-epochs", brokers=3)
    sim.create_topic("t", partitions=1, replication_factor=3)
    p = Producer({"bootstrap.servers": sim.bootstrap_servers, "acks": "all"})
    for i in range(3):
        p.produce("t", value=str(i), timestamp=T0 + i)
    p.flush()
    sim.crash_broker(sim.topic("t").partition(0).leader)
    sim.run(sim.now + 30)  # the controller notices and elects a new leader (epoch 1)
    for i in range(3, 5):
        p.produce("t", value=str(i), timestamp=T0 + i)
    p.flush()
    admin = AdminClient({"bootstrap.servers": sim.bootstrap_servers})
    assert _lookup(admin, OffsetSpec.earliest()) == (0, -1, 0)
    assert _lookup(admin, OffsetSpec.for_timestamp(T0 + 3)) == (3, T0 + 3, 1)
    assert _lookup(admin, OffsetSpec.latest()) == (5, -1, 1)


def test_offset_spec_is_built_from_a_code_as_confluent_kafka_builds_it():
    assert OffsetSpec(-1) is OffsetSpec.latest() and OffsetSpec(-2) is OffsetSpec.earliest()
    assert OffsetSpec(-3) is OffsetSpec.max_timestamp()
    assert OffsetSpec(T0).timestamp == T0 == OffsetSpec.for_timestamp(T0).code
    assert OffsetSpec.earliest() < OffsetSpec.latest() < OffsetSpec(0)
    with pytest.raises(ValueError, match="earliest"):
        OffsetSpec(-7)
