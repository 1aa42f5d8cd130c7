"""Kafka transactions in the simulated client: the API, its errors, markers, the LSO and isolation levels."""

import pytest

from eda_sim import Simulation
from eda_sim.kafka import KafkaError, KafkaException, TopicPartition
from eda_sim.testing import worlds
from eda_sim.testing.worlds import topics


def world(name="txn"):
    return topics({"in": 1, "out": 2}, seed=3, name=name)


def reader(sim, group, level="read_committed"):
    return worlds.reader(sim, group, ["out"], isolation_level=level, enable_auto_commit=True)


def drain(consumer, wait=0.2):
    out = []
    while True:
        batch = consumer.consume(100, wait)
        if not batch:
            return out
        out.extend((m.partition(), m.offset(), m.value()) for m in batch if m.error() is None)


def txn_producer(sim, txn_id="t-0", **extra):
    p = sim.producer({"transactional.id": txn_id, **extra})
    p.init_transactions(5.0)
    return p


def test_read_committed_is_the_default_as_in_librdkafka():
    sim = world()
    assert sim.consumer({"group.id": "g"})._config["isolation.level"] == "read_committed"


def test_uncommitted_records_are_hidden_from_read_committed_until_the_commit():
    sim = world()
    p = txn_producer(sim)
    committed, uncommitted = reader(sim, "rc"), reader(sim, "ru", "read_uncommitted")
    p.begin_transaction()
    for i in range(3):
        p.produce("out", key="k", value=f"v{i}", partition=0)
    p.flush()
    assert drain(committed) == []
    assert [v for _, _, v in drain(uncommitted)] == [b"v0", b"v1", b"v2"]
    assert sim.transactions.last_stable_offset("out", 0) == 0
    p.commit_transaction()
    assert [v for _, _, v in drain(committed)] == [b"v0", b"v1", b"v2"]
    # The commit marker sits at offset 3: the LSO moves past it, and nobody is handed it.
    assert sim.transactions.last_stable_offset("out", 0) == 4
    assert sim.topic("out").partition(0).log_end_offset == 4
    assert sim.transactions.partitions[("out", 0)].status(3) == "commit marker"


def test_aborted_records_are_never_handed_to_read_committed_and_leave_an_offset_gap():
    sim = world()
    p = txn_producer(sim)
    committed, uncommitted = reader(sim, "rc"), reader(sim, "ru", "read_uncommitted")
    p.begin_transaction()
    p.produce("out", value="lost", partition=0)
    p.flush()
    p.abort_transaction()
    p.begin_transaction()
    p.produce("out", value="kept", partition=0)
    p.commit_transaction()
    assert drain(committed) == [(0, 2, b"kept")]  # 0 aborted, 1 abort marker: a gap of two
    assert drain(uncommitted) == [(0, 0, b"lost"), (0, 2, b"kept")]
    tp = TopicPartition("out", 0)
    assert committed.position([tp])[0].offset == 4  # past the commit marker at 3


def test_abort_purges_records_still_queued_in_the_producer():
    sim = world()
    p = txn_producer(sim)
    reports = []
    p.begin_transaction()
    p.produce("out", value="queued", partition=0, on_delivery=lambda err, msg: reports.append(err))
    p.abort_transaction()  # the record never left the producer: nothing to mark
    assert [e.code() for e in reports] == [KafkaError._PURGE_QUEUE]
    assert sim.topic("out").partition(0).log_end_offset == 0


def test_offsets_sent_to_a_transaction_count_only_when_it_commits():
    sim = world()
    feeder = sim.producer()
    for i in range(4):
        feeder.produce("in", value=str(i))
    feeder.flush()
    c = sim.consumer(
        {"group.id": "g", "auto.offset.reset": "earliest", "enable.auto.commit": False}
    )
    c.subscribe(["in"])
    p = txn_producer(sim)
    msgs = c.consume(4, 1.0)
    tp = TopicPartition("in", 0)
    p.begin_transaction()
    p.send_offsets_to_transaction(c.position([tp]), c.consumer_group_metadata())
    p.abort_transaction()
    assert c.committed([tp])[0].offset < 0
    p.begin_transaction()
    p.send_offsets_to_transaction(
        [TopicPartition("in", 0, msgs[1].offset() + 1)], c.consumer_group_metadata()
    )
    p.commit_transaction()
    assert c.committed([tp])[0].offset == 2


def test_a_second_instance_fences_the_first_and_aborts_its_open_transaction():
    sim = world()
    committed = reader(sim, "rc")
    old = txn_producer(sim)
    old.begin_transaction()
    old.produce("out", value="zombie", partition=1)
    old.flush()
    new = txn_producer(sim)  # same transactional.id: epoch bumped, old transaction aborted
    with pytest.raises(KafkaException) as info:
        old.commit_transaction()
    err = info.value.args[0]
    assert err.code() == KafkaError._FENCED and err.fatal() and not err.txn_requires_abort()
    with pytest.raises(KafkaException) as again:  # a fatal error stays: the instance is done
        old.begin_transaction()
    assert again.value.args[0].fatal()
    new.begin_transaction()
    new.produce("out", value="fresh", partition=1)
    new.commit_transaction()
    assert [v for _, _, v in drain(committed)] == [b"fresh"]


def test_a_fenced_producers_late_batch_is_refused_by_the_broker():
    sim = world()
    old = txn_producer(sim)
    reports = []
    old.begin_transaction()
    old.produce("out", value="a", partition=0)
    old.flush()
    txn_producer(sim)
    old.produce("out", value="late", partition=0, on_delivery=lambda err, msg: reports.append(err))
    old.flush()
    assert [e.code() for e in reports] == [KafkaError.PRODUCER_FENCED]
    values = [r.value for r in sim.topic("out").partition(0).records()]
    assert b"late" not in values


def test_transaction_timeout_aborts_and_fences_the_slow_producer():
    sim = world()
    committed = reader(sim, "rc")
    p = txn_producer(sim, **{"transaction.timeout.ms": 2000})
    p.begin_transaction()
    p.produce("out", value="slow", partition=0)
    p.flush()
    sim.run(sim.now + 2.5)
    assert [r.kind for r in sim.journal.rows() if r.kind.startswith("txn_")][-3:] == [
        "txn_timed_out",
        "txn_marker",
        "txn_aborted",
    ]
    with pytest.raises(KafkaException) as info:
        p.commit_transaction()
    assert info.value.args[0].code() == KafkaError._FENCED and info.value.args[0].fatal()
    assert "transaction.timeout.ms=2000" in info.value.args[0].str()
    assert drain(committed) == []


def test_transactional_calls_in_the_wrong_state_raise_state_errors():
    sim = world()
    plain = sim.producer()
    with pytest.raises(KafkaException) as info:
        plain.init_transactions()
    assert info.value.args[0].code() == KafkaError._NOT_CONFIGURED
    p = sim.producer({"transactional.id": "t-1"})
    with pytest.raises(KafkaException) as info:
        p.begin_transaction()  # before init_transactions
    assert info.value.args[0].code() == KafkaError._STATE
    p.init_transactions()
    with pytest.raises(KafkaException) as info:
        p.produce("out", value="x")  # outside a transaction
    assert info.value.args[0].code() == KafkaError._STATE
    with pytest.raises(KafkaException) as info:
        p.commit_transaction()
    assert info.value.args[0].code() == KafkaError._STATE
    p.begin_transaction()
    with pytest.raises(TypeError, match="consumer_group_metadata"):
        p.send_offsets_to_transaction([TopicPartition("in", 0, 1)], "my-group")


def test_a_transaction_timeout_above_the_broker_maximum_is_refused_fatally():
    sim = world()
    p = sim.producer({"transactional.id": "t-2", "transaction.timeout.ms": 900001})
    with pytest.raises(KafkaException) as info:
        p.init_transactions()
    assert info.value.args[0].code() == KafkaError.INVALID_TRANSACTION_TIMEOUT
    assert info.value.args[0].fatal()


def test_offsets_from_an_evicted_member_make_the_transaction_abortable():
    sim = world()
    sim.producer().produce("in", value="1")
    sim.producers[sorted(sim.producers)[0]].flush()
    c = sim.consumer(
        {
            "group.id": "g",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "max.poll.interval.ms": 1000,
        }
    )
    c.subscribe(["in"])
    c.consume(1, 1.0)
    metadata = c.consumer_group_metadata()
    p = txn_producer(sim)
    p.begin_transaction()
    sim.run(sim.now + 2.0)  # the member is evicted for not polling
    with pytest.raises(KafkaException) as info:
        p.send_offsets_to_transaction([TopicPartition("in", 0, 1)], metadata)
    err = info.value.args[0]
    assert (
        err.code() == KafkaError.UNKNOWN_MEMBER_ID and err.txn_requires_abort() and not err.fatal()
    )
    p.abort_transaction()  # recovers: a new transaction can begin
    p.begin_transaction()


def test_the_lso_is_held_by_the_oldest_open_transaction_when_two_interleave():
    # A opens first (offset 0), B second (offset 1). B commits: the LSO stays at A's first offset,
    # so a read_committed reader gets nothing yet, and gets A's and B's records once A commits.
    sim = world()
    a, b = txn_producer(sim, "t-a"), txn_producer(sim, "t-b")
    committed = reader(sim, "rc")
    for p, value in ((a, "a"), (b, "b")):
        p.begin_transaction()
        p.produce("out", value=value, partition=0)
        p.flush()
    assert sim.transactions.last_stable_offset("out", 0) == 0
    b.commit_transaction()
    assert sim.transactions.last_stable_offset("out", 0) == 0
    assert committed.get_watermark_offsets(TopicPartition("out", 0)) == (0, 0)
    assert drain(committed) == []
    a.commit_transaction()
    assert [(o, v) for _, o, v in drain(committed)] == [(0, b"a"), (1, b"b")]


def test_watermarks_and_lag_under_each_isolation_level():
    sim = world()
    p = txn_producer(sim)
    rc, ru = reader(sim, "rc"), reader(sim, "ru", "read_uncommitted")
    p.begin_transaction()
    p.produce("out", value="a", partition=0)
    p.flush()
    tp = TopicPartition("out", 0)
    assert rc.get_watermark_offsets(tp) == (0, 0)  # read_committed: high is the LSO
    assert ru.get_watermark_offsets(tp) == (0, 1)  # read_uncommitted: high is the log end
    p.commit_transaction()
    assert rc.get_watermark_offsets(tp) == (0, 2)


def test_a_new_owner_waits_for_offsets_held_by_an_open_transaction():
    """KIP-447: a member assigned a partition with pending transactional offsets waits for them."""
    sim = world()
    feeder = sim.producer()
    for i in range(4):
        feeder.produce("in", value=str(i))
    feeder.flush()
    conf = {"group.id": "g", "auto.offset.reset": "earliest", "enable.auto.commit": False}
    first = sim.consumer(conf)
    first.subscribe(["in"])
    first.consume(4, 1.0)
    p = txn_producer(sim)
    p.begin_transaction()
    p.send_offsets_to_transaction(
        first.position(first.assignment()), first.consumer_group_metadata()
    )
    first.close()
    second = sim.consumer(conf)
    second.subscribe(["in"])
    assert second.consume(4, 0.5) == []  # assigned, but the offsets are not stable yet
    p.commit_transaction()
    assert second.consume(4, 0.5) == []  # resumes at the committed 4: nothing repeated
    assert second.position([TopicPartition("in", 0)])[0].offset == 4


def test_a_new_instance_writes_through_a_replicated_cluster_after_fencing_the_old_one():
    """The epoch bump restarts sequence numbers: every replica forgets the old instance's."""
    sim = Simulation(seed=4, name="txn-replicated", brokers=3)
    sim.create_topic("out", partitions=1, replication_factor=3)
    committed = reader(sim, "rc")
    old = txn_producer(sim)
    for value in ("a", "b"):
        old.begin_transaction()
        old.produce("out", value=value)
        old.commit_transaction()
    new = txn_producer(sim)
    new.begin_transaction()
    new.produce("out", value="c")
    new.commit_transaction()
    assert [v for _, _, v in drain(committed, wait=1.0)] == [b"a", b"b", b"c"]


def test_offsets_from_before_a_rebalance_the_member_has_not_polled_since_are_refused():
    """KIP-447: the metadata carries the generation seen at the last poll; a newer one refuses it."""
    sim = world("txn-generation")
    conf = {"group.id": "g", "auto.offset.reset": "earliest", "enable.auto.commit": False}
    first = sim.consumer(conf)
    first.subscribe(["in"])
    first.consume(1, 0.1)
    p = txn_producer(sim)
    p.begin_transaction()
    second = sim.consumer(conf)
    second.subscribe(["in"])
    second.consume(1, 0.1)  # joins: the group moves to a new generation while `first` is busy
    with pytest.raises(KafkaException) as info:
        p.send_offsets_to_transaction([TopicPartition("in", 0, 1)], first.consumer_group_metadata())
    err = info.value.args[0]
    assert err.code() == KafkaError.ILLEGAL_GENERATION and err.txn_requires_abort()


def test_the_partition_table_says_what_each_reader_gets_at_each_offset():
    from eda_sim.broker.transactions import partition_table, stable_offsets

    sim = world("txn-table")
    p = txn_producer(sim)
    p.begin_transaction()
    p.produce("out", value="ok", partition=0)
    p.commit_transaction()
    p.begin_transaction()
    p.produce("out", value="oops", partition=0)
    p.flush()
    p.abort_transaction()
    p.begin_transaction()
    p.produce("out", value="pending", partition=0)
    p.flush()
    table = partition_table(sim, "out")
    rows = table[table.partition == 0][["what", "state", "read_committed", "read_uncommitted"]]
    assert [tuple(r) for r in rows.itertuples(index=False)] == [
        ("record", "committed", "yes", "yes"),
        ("commit marker", "committed", "no", "no"),
        ("record", "aborted", "no", "yes"),
        ("abort marker", "aborted", "no", "no"),
        ("record", "open", "not yet", "yes"),
    ]
    offsets = stable_offsets(sim, "out")
    assert offsets.loc[0, "last_stable"] == 4 and offsets.loc[0, "log_end"] == 5


def test_a_commit_that_runs_out_of_time_is_retriable_and_can_be_called_again():
    sim = world("txn-retriable")
    committed = reader(sim, "rc")
    p = txn_producer(sim)
    p.begin_transaction()
    p.produce("out", value="slow", partition=0)
    with pytest.raises(KafkaException) as info:
        p.commit_transaction(0.001)  # less than one round trip to the broker
    err = info.value.args[0]
    assert err.code() == KafkaError._TIMED_OUT and err.retriable() and not err.fatal()
    p.commit_transaction()
    assert [v for _, _, v in drain(committed)] == [b"slow"]
