"""What Kafka and librdkafka refuse, the simulated client refuses the same way (the same error name,
a message saying what was expected); what they accept, it accepts. Each test names the finding of
issue 19 it pins; the facts were checked against confluent-kafka 2.16 (librdkafka 2.16)."""

import pytest

from eda_sim import Simulation
from eda_sim.kafka import (
    AdminClient,
    KafkaError,
    KafkaException,
    NewTopic,
    Producer,
    TopicPartition,
)


@pytest.fixture
def sim():
    s = Simulation(seed=5, name="refusals")
    s.create_topic("orders", partitions=3)
    return s


def code(err: KafkaException) -> str:
    return err.value.args[0].name()


# -- the idempotent producer -------------------------------------------------------------------


@pytest.mark.parametrize(
    "setting, words",
    [
        ({"max.in.flight.requests.per.connection": 6}, "`max.in.flight` must be set <= 5"),
        ({"max.in.flight": 100}, "`max.in.flight` must be set <= 5"),
        ({"retries": 0}, "`retries` must be set >= 1"),
        ({"acks": "1"}, "`acks` must be set to `all`"),
    ],
)
def test_idempotence_refuses_what_would_break_it_in_librdkafkas_words(sim, setting, words):
    with pytest.raises(KafkaException, match=words + " when `enable.idempotence` is true") as err:
        sim.producer({"enable.idempotence": True, **setting})
    assert code(err) == "_INVALID_ARG"


def test_idempotence_defaults_to_five_requests_in_flight_and_accepts_fewer(sim):
    assert sim.producer({"enable.idempotence": True})._max_in_flight == 5
    assert sim.producer({"enable.idempotence": True, "max.in.flight": 2})._max_in_flight == 2
    assert sim.producer()._max_in_flight == 1000000  # librdkafka's default without idempotence


def _appended_times(sim):
    return [r.time for r in sim.journal.rows() if r.kind == "appended"]


def test_max_in_flight_is_enforced_one_request_at_a_time(sim):
    p = sim.producer({"max.in.flight": 1, "linger.ms": 0})
    for part in range(3):
        p.produce("orders", value=f"v{part}", partition=part)
    p.flush()
    times = _appended_times(sim)
    # One batch per partition; each waits for the previous one's acknowledgement (a round trip).
    assert len(times) == 3
    assert all(b - a >= 2 * sim.network_latency - 1e-12 for a, b in zip(times, times[1:]))


def test_without_a_limit_the_same_batches_travel_together():
    sim = Simulation(seed=5, name="refusals")
    sim.create_topic("orders", partitions=3)
    p = sim.producer({"linger.ms": 0})
    for part in range(3):
        p.produce("orders", value=f"v{part}", partition=part)
    p.flush()
    assert len(set(_appended_times(sim))) == 1


def test_a_lost_ack_retried_after_many_later_batches_reports_the_real_offset(sim):
    # The case: an idempotent producer loses an acknowledgement and keeps producing. Before,
    # more than five later batches went out while the first waited for request.timeout.ms; the
    # broker forgot the first, and its report said success at offset -1. With at most five
    # requests in flight that cannot happen: every report carries the offset the record has.
    reports = []
    p = sim.producer(
        {"enable.idempotence": True, "linger.ms": 1, "request.timeout.ms": 200},
        on_delivery=lambda err, msg: reports.append((err, msg.offset(), msg.value())),
    )
    sim.lose_acks(p, 1)
    for i in range(30):
        p.produce("orders", value=f"v{i}", partition=0)
        sim.run(until=sim.now + 0.005)  # one batch each
    assert p.flush() == 0
    log = {r.value: r.offset for r in sim.topic("orders").partitions[0].records()}
    assert len(log) == 30 == sim.topic("orders").partitions[0].log_end_offset  # no duplicates
    assert len(reports) == 30
    for err, offset, value in reports:
        assert err is None and offset == log[value] >= 0


# -- records and topics --------------------------------------------------------------------------


def test_a_record_over_message_max_bytes_is_msg_size_too_large_at_produce(sim):
    p = sim.producer()
    before = sim.journal.digest()
    p.produce("orders", value=b"x" * 999_964)  # confluent-kafka 2.16 takes exactly this much
    for big in ({"value": b"x" * 999_965}, {"key": b"k" * 2_000_000}, {"value": "é" * 500_000}):
        with pytest.raises(KafkaException, match="message.max.bytes=1000000") as err:
            p.produce("orders", **big)
        assert code(err) == "MSG_SIZE_TOO_LARGE"
    assert p.flush() == 0
    assert (
        sim.topic("orders").partitions[0].log_end_offset
        + sum(log.log_end_offset for log in sim.topic("orders").partitions[1:])
        == 1
    )
    assert before != sim.journal.digest()  # the accepted one travelled
    roomy = sim.producer({"message.max.bytes": 3_000_000})
    roomy.produce("orders", value=b"x" * 2_000_000)
    with pytest.raises(KafkaException, match="outside allowed range 1000..1000000000"):
        sim.producer({"message.max.bytes": 999})


@pytest.mark.parametrize(
    "name, why",
    [
        (".", "'.' is not allowed"),
        ("..", "'..' is not allowed"),
        ("x" * 250, "it is 250 characters long"),
        ("", "it is empty"),
        ("orders v2", "it contains ' '"),
        ("naïve", "it contains 'ï'"),
    ],
)
def test_topic_names_kafka_refuses_are_topic_exception(sim, name, why):
    with pytest.raises(KafkaException, match=why) as err:
        sim.create_topic(name)
    assert code(err) == "TOPIC_EXCEPTION" and "1 to 249 characters" in str(err.value)


def test_the_longest_name_kafka_takes_is_taken(sim):
    assert sim.create_topic("x" * 249).name == "x" * 249
    assert sim.create_topic("...").name == "..."  # only '.' and '..' are refused


@pytest.mark.parametrize(
    "config, text",
    [
        ({"retention.ms": True}, "Invalid value True for configuration retention.ms: Not a number"),
        ({"retention.ms": -5}, "Value must be at least -1"),
        ({"retention.ms": 1.5}, "Not a number of type LONG"),
        ({"retention.ms": float("nan")}, "Not a number of type LONG"),
        (
            {"segment.ms": 0},
            "Invalid value 0 for configuration segment.ms: Value must be at least 1",
        ),
        ({"retention.bytes": "lots"}, "Not a number of type LONG"),
    ],
)
def test_topic_configs_are_longs_in_kafkas_ranges(sim, config, text):
    with pytest.raises(KafkaException, match=text) as err:
        sim.create_topic("t", config=config)
    assert code(err) == "INVALID_CONFIG"
    assert "t" not in sim.broker.topics


def test_topic_configs_kafka_accepts_are_accepted(sim):
    # retention.ms=True used to be read as 1 ms and delete every record at the next check.
    assert sim.create_topic("a", config={"retention.ms": "60000"}).config["retention.ms"] == 60000
    assert sim.create_topic("b", config={"retention.ms": -1}).config["retention.ms"] == -1
    assert sim.create_topic("c", config={"retention.bytes": -5}).config["retention.bytes"] == -5


def test_create_topics_fails_only_the_bad_topics_future(sim):
    admin = AdminClient({"bootstrap.servers": sim.bootstrap_servers})
    futures = admin.create_topics(
        [
            NewTopic("good", 2),
            NewTopic("..", 1),
            NewTopic("bad-config", 1, config={"retention.ms": -7}),
            NewTopic("orders", 1),
            NewTopic("zero", 0),
        ]
    )
    assert futures["good"].result() is None and sim.topic("good").partition_count == 2
    expected = {
        "..": "TOPIC_EXCEPTION",
        "bad-config": "INVALID_CONFIG",
        "orders": "TOPIC_ALREADY_EXISTS",
        "zero": "INVALID_PARTITIONS",
    }
    for name, error in expected.items():
        with pytest.raises(KafkaException) as err:
            futures[name].result()
        assert code(err) == error
    with pytest.raises(ValueError, match="Expected non-empty list of NewTopic objects"):
        admin.create_topics([])
    futures = admin.create_topics([NewTopic("..", 1), NewTopic("fine", 1)], validate_only=True)
    assert futures["fine"].result() is None and "fine" not in sim.broker.topics
    with pytest.raises(KafkaException, match="TOPIC_EXCEPTION"):
        futures[".."].result()


# -- deleting topics and closing producers -------------------------------------------------------


def test_delete_topics_and_what_a_producer_hears_afterwards(sim):
    admin = AdminClient({"bootstrap.servers": sim.bootstrap_servers})
    p = sim.producer()
    reports = []
    p.produce("orders", value="before", partition=0)
    p.flush()
    c = sim.consumer({"group.id": "billing", "auto.offset.reset": "earliest"})
    c.subscribe(["orders"])
    msg = c.poll(1.0)
    c.commit(message=msg, asynchronous=False)
    p.produce("orders", value="in flight", partition=0, on_delivery=lambda e, m: reports.append(e))
    # flush() sends it now; it reaches the broker a network latency later, after the deletion
    sim.at(sim.now + sim.network_latency / 2, lambda: admin.delete_topics(["orders"]))
    p.flush()
    assert reports and reports[0].code() == KafkaError.UNKNOWN_TOPIC_OR_PART
    assert "orders" not in sim.broker.topics
    assert not [tp for tp in sim.group("billing").committed if tp[0] == "orders"]
    with pytest.raises(KafkaException, match="unknown topic 'orders'") as err:
        p.produce("orders", value="after")
    assert code(err) == "UNKNOWN_TOPIC_OR_PART"
    assert c.assignment() == []  # the group rebalanced without it
    futures = admin.delete_topics(["orders"])
    with pytest.raises(KafkaException) as err:
        futures["orders"].result()
    assert code(err) == "UNKNOWN_TOPIC_OR_PART"
    with pytest.raises(ValueError, match="Expected non-empty list of topic strings"):
        admin.delete_topics([])
    with pytest.raises(TypeError, match="argument 1 must be list, not str"):
        admin.delete_topics("orders")


def test_a_topic_made_again_after_deletion_starts_empty(sim):
    p = sim.producer()
    p.produce("orders", value="old", partition=1)
    p.flush()
    sim.broker.delete_topic("orders")
    sim.create_topic("orders", partitions=3)
    p.produce("orders", value="new", partition=1)
    p.flush()
    assert [r.value for r in sim.topic("orders").partitions[1].records()] == [b"new"]


def test_close_flushes_first_then_refuses_like_confluent_kafka(sim):
    delivered = []
    p = Producer(
        {"bootstrap.servers": sim.bootstrap_servers, "linger.ms": 50},
        sim=sim,
    )
    p.produce(
        "orders", value="last words", on_delivery=lambda e, m: delivered.append((e, m.offset()))
    )
    assert p.close() is True
    assert delivered == [(None, 0)] and len(p) == 0
    for call in (lambda: p.produce("orders", value="x"), p.flush, lambda: p.poll(0)):
        with pytest.raises(RuntimeError, match="Producer has been closed"):
            call()
    assert p.close() is True  # closing again is a no-op
    assert [r.kind for r in sim.journal.rows()][-1] == "producer_closed"


# -- consumers -----------------------------------------------------------------------------------


def test_subscribe_refuses_an_empty_list_repeats_and_non_lists(sim):
    c = sim.consumer({"group.id": "g"})
    with pytest.raises(KafkaException, match="the topic list is empty") as err:
        c.subscribe([])
    assert code(err) == "_INVALID_ARG"
    with pytest.raises(KafkaException, match="orders listed more than once") as err:
        c.subscribe(["orders", "orders"])
    assert code(err) == "_INVALID_ARG"
    for bad in (None, "orders", [1], {"orders"}):
        with pytest.raises(TypeError, match="expected list of topic unicode strings"):
            c.subscribe(bad)
    c.subscribe(("orders",))  # a tuple of names is a list enough for confluent-kafka too


@pytest.mark.parametrize("config", [{}, {"group.id": ""}])
def test_a_consumer_needs_a_group_id_as_confluent_kafka_says(sim, config):
    with pytest.raises(ValueError, match="Failed to create consumer: group.id must be set"):
        sim.consumer(config)


def test_consume_zero_returns_nothing_at_once_and_bounds_are_confluent_kafkas(sim):
    c = sim.consumer({"group.id": "g", "auto.offset.reset": "earliest"})
    c.subscribe(["orders"])
    before = sim.now
    assert c.consume(0) == [] and sim.now == before
    with pytest.raises(ValueError, match=r"num_messages must be between 0 and 1000000 \(1M\)"):
        c.consume(1_000_001)
    with pytest.raises(ValueError, match="got -1"):
        c.consume(-1)
    with pytest.raises(TypeError, match="num_messages must be an int"):
        c.consume(2.0)


@pytest.mark.parametrize(
    "call, error, text",
    [
        (
            lambda p, c: p.produce("orders", value="v", partition="0"),
            TypeError,
            "partition must be an int",
        ),
        (lambda p, c: p.produce("orders", value="v", partition=1.0), TypeError, "got float 1.0"),
        (lambda p, c: p.produce("orders", value="v", partition=-2), KafkaException, "not -2"),
        (
            lambda p, c: p.produce("orders", value="v", timestamp="now"),
            TypeError,
            "milliseconds since the Unix epoch",
        ),
        (
            lambda p, c: p.produce("orders", value="v", timestamp=float("nan")),
            TypeError,
            "got float nan",
        ),
        (lambda p, c: c.poll(timeout="1"), TypeError, "timeout must be a real number of seconds"),
        (lambda p, c: c.poll(float("nan")), ValueError, "got NaN"),
        (lambda p, c: c.consume(1, timeout="soon"), TypeError, "got str 'soon'"),
        (lambda p, c: p.poll("1"), TypeError, "timeout must be a real number"),
        (lambda p, c: p.flush(float("nan")), ValueError, "got NaN"),
        (lambda p, c: TopicPartition("orders", "0"), TypeError, "partition must be an int"),
        (
            lambda p, c: TopicPartition("orders", 0, float("nan")),
            TypeError,
            "offset must be an int",
        ),
    ],
)
def test_bad_arguments_say_what_was_expected(sim, call, error, text):
    p = sim.producer()
    c = sim.consumer({"group.id": "g"})
    c.subscribe(["orders"])
    before = sim.journal.digest()
    with pytest.raises(error, match=text):
        call(p, c)
    assert sim.journal.digest() == before


def test_a_nan_timestamp_no_longer_reaches_a_reader(sim):
    # produce(timestamp=nan) used to be taken, and every reader's msg.timestamp() then raised.
    p = sim.producer()
    with pytest.raises(TypeError):
        p.produce("orders", value="v", timestamp=float("nan"))
    p.produce("orders", value="v", timestamp=1_800_000_000_000, partition=0)
    p.flush()
    c = sim.consumer({"group.id": "g", "auto.offset.reset": "earliest"})
    c.subscribe(["orders"])
    assert c.poll(1.0).timestamp() == (1, 1_800_000_000_000)


def test_a_commit_past_the_log_end_is_taken_as_kafka_takes_it_and_lag_stays_non_negative(sim):
    c = sim.consumer({"group.id": "g", "auto.offset.reset": "earliest"})
    c.subscribe(["orders"])
    c.poll(0.1)
    c.commit(offsets=[TopicPartition("orders", 0, 50)], asynchronous=False)
    row = sim.offsets("g").set_index("partition").loc[0]
    assert row.committed == 50 and row.log_end == 0 and row.lag == 0
    assert (sim.offsets("g").lag.dropna() >= 0).all()


def test_the_registry_holds_simulations_weakly_and_says_so_when_one_was_freed():
    import gc

    from eda_sim.kafka import Consumer

    Simulation(seed=1, name="ephemeral")  # nothing keeps it
    gc.collect()
    conf = {"bootstrap.servers": "sim://ephemeral", "group.id": "g"}
    with pytest.raises(KafkaException, match="was freed because nothing referred to it") as err:
        Consumer(conf)
    assert code(err) == "_TRANSPORT" and "sim = Simulation(name='ephemeral'" in str(err.value)
    kept = Simulation(seed=1, name="ephemeral")
    gc.collect()
    assert Consumer(conf)._sim is kept
    with pytest.raises(KafkaException, match="no simulation answers at 'sim://never'; live"):
        Consumer({"bootstrap.servers": "sim://never", "group.id": "g"})


def test_idempotence_accepts_max_in_flight_up_to_five_as_librdkafka():
    # librdkafka: "`max.in.flight` must be set <= 5 when `enable.idempotence` is true".
    sim = Simulation(seed=1, name="refusals")
    for n in (1, 5):
        sim.producer({"enable.idempotence": True, "max.in.flight.requests.per.connection": n})
    with pytest.raises(KafkaException, match="max.in.flight"):
        sim.producer({"enable.idempotence": True, "max.in.flight.requests.per.connection": 6})


def test_session_timeout_defaults_to_librdkafkas_45_seconds():
    sim = Simulation(seed=1, name="refusals")
    sim.create_topic("t", partitions=1)
    consumer = sim.consumer({"group.id": "g"})
    consumer.subscribe(["t"])
    consumer.poll(0.1)
    assert consumer.config["session.timeout.ms"] == 45000
    assert sim.groups["g"].session_timeout(consumer) == 45.0
