"""The confluent-kafka-shaped client: config surface, basic flows and bad input."""

import json

import pytest

from eda_sim import Simulation
from eda_sim.kafka import (
    OFFSET_BEGINNING,
    AdminClient,
    Consumer,
    KafkaError,
    KafkaException,
    NewPartitions,
    NewTopic,
    Producer,
    TopicPartition,
)
from eda_sim.kafka.partitioner import crc32_partition


@pytest.fixture
def sim():
    s = Simulation(seed=11, name="client-tests")
    s.create_topic("orders", partitions=3)
    return s


def conf(sim, **extra):
    base = {"bootstrap.servers": sim.bootstrap_servers}
    base.update({k.replace("_", "."): v for k, v in extra.items()})
    return base


def test_keyed_records_land_on_the_crc32_partition_by_default_and_keep_their_order(sim):
    p = Producer(conf(sim))
    for i in range(30):
        p.produce("orders", key=f"user-{i % 5}", value=f"{i}")
    assert p.flush() == 0
    by_key = {}
    for r in sim.records("orders").itertuples():
        assert r.partition == crc32_partition(r.key.encode(), 3)
        by_key.setdefault(r.key, []).append(int(r.value))
    assert all(vals == sorted(vals) for vals in by_key.values())
    assert sum(len(v) for v in by_key.values()) == 30


def test_consistent_random_partitioner_uses_crc32(sim):
    import zlib

    p = Producer(conf(sim, partitioner="consistent_random"))
    p.produce("orders", key="abc", value="x")
    p.flush()
    assert sim.records("orders")["partition"].tolist() == [zlib.crc32(b"abc") % 3]


def test_delivery_callbacks_run_in_flush_with_offsets(sim):
    reports = []
    p = Producer(conf(sim))
    for i in range(3):
        p.produce(
            "orders",
            key="k",
            value=str(i),
            on_delivery=lambda err, msg: reports.append((err, msg.offset())),
        )
    assert reports == []  # callbacks are served by poll()/flush(), as with confluent-kafka
    p.flush()
    assert reports == [(None, 0), (None, 1), (None, 2)]


def test_flush_advances_virtual_time_by_linger_and_round_trip(sim):
    p = Producer(conf(sim, linger_ms=5))
    p.produce("orders", key="k", value="v")
    assert sim.now == 0
    p.flush()
    assert sim.now == pytest.approx(
        2 * sim.network_latency
    )  # flush sends at once, then waits for the ack


def test_consumer_poll_commit_and_positions(sim):
    p = Producer(conf(sim))
    for i in range(5):
        p.produce("orders", key="same", value=str(i))
    p.flush()
    c = Consumer(conf(sim, group_id="g", auto_offset_reset="earliest", enable_auto_commit=False))
    c.subscribe(["orders"])
    msgs = c.consume(10, timeout=1.0)
    assert [m.value() for m in msgs] == [str(i).encode() for i in range(5)]
    part = msgs[0].partition()
    tp = TopicPartition("orders", part)
    assert c.position([tp])[0].offset == 5
    assert c.committed([tp])[0].offset < 0  # nothing committed yet
    c.commit(message=msgs[2], asynchronous=False)
    assert c.committed([tp])[0].offset == 3
    assert sim.offsets("g").set_index("partition").loc[part, "lag"] == 2


def test_poll_waits_at_most_its_timeout_in_virtual_time(sim):
    c = Consumer(conf(sim, group_id="g"))
    c.subscribe(["orders"])
    assert c.poll(2.5) is None
    assert sim.now == pytest.approx(2.5)


def test_latest_is_the_default_reset_so_a_new_group_misses_old_records(sim):
    p = Producer(conf(sim))
    p.produce("orders", key="a", value="old")
    p.flush()
    c = Consumer(conf(sim, group_id="newcomers"))
    c.subscribe(["orders"])
    assert c.poll(1.0) is None  # joined at the end of the log
    p.produce("orders", key="a", value="new")
    p.flush()
    assert c.poll(1.0).value() == b"new"


def test_seek_to_beginning_rereads(sim):
    p = Producer(conf(sim))
    for i in range(3):
        p.produce("orders", key="a", value=str(i))
    p.flush()
    c = Consumer(conf(sim, group_id="g", auto_offset_reset="earliest"))
    c.subscribe(["orders"])
    first = c.consume(3, 1.0)
    c.seek(TopicPartition("orders", first[0].partition(), OFFSET_BEGINNING))
    assert [m.offset() for m in c.consume(3, 1.0)] == [0, 1, 2]


def test_admin_creates_topics_and_adds_partitions(sim):
    admin = AdminClient(conf(sim))
    futures = admin.create_topics([NewTopic("payments", num_partitions=2), NewTopic("orders", 1)])
    assert futures["payments"].result() is None
    with pytest.raises(KafkaException) as err:
        futures["orders"].result()
    assert err.value.args[0].code() == KafkaError.TOPIC_ALREADY_EXISTS
    admin.create_partitions([NewPartitions("payments", 4)])["payments"].result()
    assert len(admin.list_topics().topics["payments"].partitions) == 4


def test_message_accessors_match_confluent_kafka(sim):
    p = Producer(conf(sim))
    p.produce("orders", key="k", value=json.dumps({"a": 1}), headers={"trace": "t-1"})
    p.flush()
    c = Consumer(conf(sim, group_id="g", auto_offset_reset="earliest"))
    c.subscribe(["orders"])
    m = c.poll(1.0)
    assert (m.topic(), m.key(), json.loads(m.value()), m.headers(), m.error()) == (
        "orders",
        b"k",
        {"a": 1},
        [("trace", b"t-1")],
        None,
    )
    kind, ms = m.timestamp()
    assert kind == 1 and ms == 1767225600000  # 2026-01-01T00:00:00Z, the simulation epoch


# -- bad input: each a clear error, and the journal stays as it was -------------------------


def test_unknown_config_key_names_the_key_and_suggests(sim):
    with pytest.raises(
        KafkaException,
        match=r'No such configuration property: "group.idd".*did you mean "group.id"',
    ):
        Consumer(conf(sim, **{"group.idd": "x"}))


def test_bad_config_value_says_what_was_expected(sim):
    with pytest.raises(KafkaException, match="auto.offset.reset.*valid values"):
        Consumer(conf(sim, group_id="g", auto_offset_reset="oldest"))
    with pytest.raises(KafkaException, match="expected true or false"):
        Consumer(conf(sim, group_id="g", enable_auto_commit="maybe"))


def test_bootstrap_servers_must_name_a_simulation(sim):
    with pytest.raises(KafkaException, match="not a simulation"):
        Producer({"bootstrap.servers": "localhost:9092"})
    with pytest.raises(KafkaException, match="no simulation answers at 'sim://nowhere'"):
        Producer({"bootstrap.servers": "sim://nowhere"})


@pytest.mark.parametrize(
    "bad, exc, text",
    [
        ({"topic": "nope"}, KafkaException, "unknown topic 'nope'; topics are: orders"),
        ({"value": 42}, TypeError, "value must be str, bytes or None, got int"),
        ({"key": {"id": 1}}, TypeError, "key must be str, bytes or None, got dict"),
        ({"partition": 7}, KafkaException, "partitions 0..2, not 7"),
    ],
)
def test_bad_produce_is_refused_and_journal_untouched(sim, bad, exc, text):
    p = Producer(conf(sim))
    before = sim.journal.digest()
    args = {"topic": "orders", "value": "v", "key": "k", **bad}
    with pytest.raises(exc, match=text):
        p.produce(args.pop("topic"), **args)
    assert len(p) == 0
    assert sim.journal.digest() == before


@pytest.mark.parametrize("partitions", [0, -1, 1.5, "3"])
def test_bad_partition_counts(partitions):
    s = Simulation(seed=1, name="bad-partitions")
    with pytest.raises(ValueError, match="whole number of partitions >= 1"):
        s.create_topic("t", partitions=partitions)


def test_negative_time_and_past_until_are_refused(sim):
    sim.run(until=5)
    with pytest.raises(ValueError, match="in the past"):
        sim.run(until=1)
    with pytest.raises(ValueError, match="in the past"):
        sim.at(-1, lambda: None)


def test_poll_on_a_closed_consumer(sim):
    c = Consumer(conf(sim, group_id="g"))
    c.subscribe(["orders"])
    c.close()
    with pytest.raises(RuntimeError, match="Consumer closed"):
        c.poll(0.1)


def test_seek_outside_the_log(sim):
    c = Consumer(conf(sim, group_id="g"))
    c.subscribe(["orders"])
    c.poll(0.1)
    with pytest.raises(KafkaException, match=r"outside orders-0's log \[0, 0\]"):
        c.seek(TopicPartition("orders", 0, 99))


def test_commit_with_nothing_stored(sim):
    c = Consumer(conf(sim, group_id="g", enable_auto_commit=False))
    c.subscribe(["orders"])
    c.poll(0.1)
    with pytest.raises(KafkaException) as err:
        c.commit(asynchronous=False)
    assert err.value.args[0].code() == KafkaError._NO_OFFSET


def test_subscribe_to_unknown_topic_reports_it_from_poll_as_librdkafka_does(sim):
    c = Consumer(conf(sim, group_id="g", auto_offset_reset="earliest"))
    c.subscribe(["ordres", "orders"])  # no error here: the subscription is kept
    err = c.poll(1.0)
    assert err.error().code() == KafkaError.UNKNOWN_TOPIC_OR_PART
    assert "Subscribed topic not available: ordres" in err.error().str()
    assert "topics are: orders" in err.error().str()
    c.poll(1.0)  # then it joins the group with the topic that exists
    assert {tp.topic for tp in c.assignment()} == {"orders"}


def test_blocking_calls_are_refused_inside_a_process(sim):
    c = Consumer(conf(sim, group_id="g"))
    c.subscribe(["orders"])
    errors = []

    def proc():
        yield sim.env.timeout(1)
        try:
            c.poll(1.0)
        except RuntimeError as err:
            errors.append(str(err))

    sim.env.process(proc())
    sim.run(until=2)
    assert errors and "cannot be called from a process" in errors[0]


def test_store_offsets_refuses_partitions_not_assigned(sim):
    c = Consumer(conf(sim, group_id="g", enable_auto_commit=False, enable_auto_offset_store=False))
    c.subscribe(["orders"])
    c.poll(0.1)
    c.store_offsets(offsets=[TopicPartition("orders", 0, 0)])
    with pytest.raises(KafkaException, match="orders-9 is not assigned"):
        c.store_offsets(offsets=[TopicPartition("orders", 9, 5)])


@pytest.mark.parametrize(
    "headers, says",
    [
        ([(1, "x")], "header name 1 is a int"),
        ([("trace", 3)], "header 'trace' must be str, bytes or None, got int"),
        ([("trace",)], "not enough values to unpack"),
        (5, "not iterable"),
    ],
)
def test_bad_headers_are_refused_with_what_was_expected(headers, says):
    sim = Simulation(seed=1, name="headers")
    sim.create_topic("orders", partitions=1)
    p = sim.producer()
    with pytest.raises(TypeError, match="headers must be a dict or a list of") as err:
        p.produce("orders", value=b"v", headers=headers)
    assert says in str(err.value)
    assert len(p) == 0  # nothing half-queued


def test_headers_keep_their_order_and_come_back_as_bytes():
    sim = Simulation(seed=1, name="headers")
    sim.create_topic("orders", partitions=1)
    p = sim.producer()
    p.produce("orders", value=b"v", headers=[("b", "2"), ("a", b"1"), ("c", None)])
    p.flush()
    c = sim.consumer({"group.id": "g", "auto.offset.reset": "earliest"})
    c.subscribe(["orders"])
    m = c.poll(1.0)
    assert m.headers() == [("b", b"2"), ("a", b"1"), ("c", None)]
