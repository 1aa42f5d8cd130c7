"""Numbers are checked as numbers: every public numeric parameter meets NaN, infinity, a negative
and a boolean, and each is refused naming the parameter, or accepted where the table says why
(confluent-kafka accepts it, or it has a documented meaning such as -1 = wait forever)."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eda_sim import Simulation
from eda_sim.ai.datagen import clickstream, transactions
from eda_sim.core.checks import count, instant, number, rate, seconds, timeout
from eda_sim.kafka import AdminClient, KafkaException, NewTopic, TopicPartition
from eda_sim.services.autoscale import Autoscaler
from eda_sim.services.load import DelayedSource, Feed, LimitedFeed, Source, Storm
from eda_sim.services.metrics import AlertMonitor, Threshold, lag_by_partition, metrics
from eda_sim.services.ordering import ReorderBuffer
from eda_sim.services.ratelimit import TokenBucket
from eda_sim.services.retries import Retry
from eda_sim.services.service import Service

NAN, INF = float("nan"), float("inf")
BAD = {"nan": NAN, "inf": INF, "negative": -1, "bool": True}
REFUSED = (TypeError, ValueError, KafkaException)


def world():
    sim = Simulation(seed=1, name="checks")
    sim.create_topic("t", partitions=2)
    return sim


def _service(sim, **kw):
    Source(sim, "src", "t", [{"time": 0.1, "type": "T"}])
    return Service(sim, "svc", consumes="t", handlers={"T": lambda e, c: None}, **kw)


def _consumer(sim):
    # A record waits in the topic, so a wait "forever" ends (a joined consumer's timers never stop).
    p = sim.producer()
    p.produce("t", value="v")
    p.flush()
    c = sim.consumer({"group.id": "g", "auto.offset.reset": "earliest"})
    c.subscribe(["t"])
    return c


def _topic_config(key):
    return lambda sim, v: sim.create_topic("x", config={key: v})


# name -> (call(sim, value), {bad-value name: why it is accepted})
PARAMETERS = {
    # the client, shaped like confluent-kafka: it follows confluent-kafka where that accepts a value
    "Producer.produce(partition)": (
        lambda sim, v: sim.producer().produce("t", value="v", partition=v),
        {
            "negative": "-1 is the default: the partitioner chooses",
            "bool": "confluent-kafka: True is partition 1",
        },
    ),
    "Producer.produce(timestamp)": (
        lambda sim, v: sim.producer().produce("t", value="v", timestamp=v),
        {
            "negative": "confluent-kafka takes ms before 1970",
            "bool": "confluent-kafka: True is 1 ms",
        },
    ),
    "Producer.poll(timeout)": (
        lambda sim, v: sim.producer().poll(v),
        {
            "negative": "-1 waits until a report comes",
            "inf": "waits until a report comes",
            "bool": "1 s",
        },
    ),
    "Producer.flush(timeout)": (
        lambda sim, v: sim.producer().flush(v),
        {"negative": "-1 waits until all is acknowledged", "inf": "no limit", "bool": "1 s"},
    ),
    "Consumer.poll(timeout)": (
        lambda sim, v: _consumer(sim).poll(v),
        {"negative": "-1 waits until a message comes", "inf": "no limit", "bool": "1 s"},
    ),
    "Consumer.consume(timeout)": (
        lambda sim, v: _consumer(sim).consume(1, v),
        {"negative": "-1 waits until a message comes", "inf": "no limit", "bool": "1 s"},
    ),
    "Consumer.consume(num_messages)": (
        lambda sim, v: _consumer(sim).consume(v, 0),
        {"bool": "confluent-kafka: True is 1 message"},
    ),
    "Consumer.commit(offsets=[TopicPartition offset])": (
        lambda sim, v: _consumer(sim).commit(offsets=[TopicPartition("t", 0, v)]),
        {"bool": "confluent-kafka: TopicPartition takes True as offset 1"},
    ),
    "NewTopic(num_partitions) via create_topics": (
        lambda sim, v: (
            AdminClient({"bootstrap.servers": sim.bootstrap_servers})
            .create_topics([NewTopic("x", num_partitions=v)])["x"]
            .result()
        ),
        {"negative": "KIP-464: -1 takes the broker's num.partitions (1)"},
    ),
    "producer config linger.ms": (lambda sim, v: sim.producer({"linger.ms": v}), {}),
    "producer config retries": (lambda sim, v: sim.producer({"retries": v}), {}),
    "producer config message.max.bytes": (
        lambda sim, v: sim.producer({"message.max.bytes": v}),
        {},
    ),
    "producer config max.in.flight": (lambda sim, v: sim.producer({"max.in.flight": v}), {}),
    "consumer config session.timeout.ms": (
        lambda sim, v: sim.consumer({"group.id": "g", "session.timeout.ms": v}),
        {},
    ),
    "consumer config auto.commit.interval.ms": (
        lambda sim, v: sim.consumer({"group.id": "g", "auto.commit.interval.ms": v}),
        {},
    ),
    # topics: Kafka's types and ranges
    "create_topic(partitions)": (lambda sim, v: sim.create_topic("x", partitions=v), {}),
    "topic config retention.ms": (
        _topic_config("retention.ms"),
        {"negative": "Kafka: -1 keeps records forever"},
    ),
    "topic config retention.bytes": (
        _topic_config("retention.bytes"),
        {"negative": "Kafka: a negative size means no size limit"},
    ),
    "topic config segment.ms": (_topic_config("segment.ms"), {}),
    "topic config segment.bytes": (_topic_config("segment.bytes"), {}),
    # the simulation
    "Simulation(network_latency)": (
        lambda sim, v: Simulation(seed=1, name="checks-2", network_latency=v),
        {},
    ),
    "Simulation.run(until)": (lambda sim, v: sim.run(until=v), {}),
    "Simulation.step(horizon)": (lambda sim, v: sim.step(v), {}),
    "Simulation.at(time)": (lambda sim, v: sim.at(v, lambda: None), {}),
    "Simulation.crash(at)": (lambda sim, v: sim.crash(sim.member("g", ["t"]), at=v), {}),
    "Simulation.lose_acks(n)": (lambda sim, v: sim.lose_acks(sim.producer(), v), {}),
    "Simulation.member(processing_time)": (
        lambda sim, v: sim.member("g", ["t"], processing_time=v),
        {},
    ),
    "Simulation.member(poll_timeout)": (lambda sim, v: sim.member("g", ["t"], poll_timeout=v), {}),
    "Simulation.member(max_poll_records)": (
        lambda sim, v: sim.member("g", ["t"], max_poll_records=v),
        {},
    ),
    # services and their policies
    "Retry(attempts)": (lambda sim, v: Retry(attempts=v), {}),
    "Retry(backoff)": (lambda sim, v: Retry(backoff=v), {}),
    "Retry(factor)": (lambda sim, v: Retry(factor=v), {}),
    "Retry(max_backoff)": (lambda sim, v: Retry(max_backoff=v), {}),
    "Service(processing_time)": (lambda sim, v: _service(sim, processing_time=v), {}),
    "Service(instances)": (lambda sim, v: _service(sim, instances=v), {}),
    "Service(max_in_flight)": (lambda sim, v: _service(sim, max_in_flight=v), {}),
    "Service(poll_timeout)": (lambda sim, v: _service(sim, poll_timeout=v), {}),
    "Service(reorder)": (lambda sim, v: _service(sim, reorder=v), {}),
    "Source(start)": (lambda sim, v: Source(sim, "s", "t", [], start=v), {}),
    "Source item time": (lambda sim, v: Source(sim, "s", "t", [{"time": v, "type": "T"}]), {}),
    "DelayedSource(delay)": (
        lambda sim, v: DelayedSource(sim, "s", "t", [{"time": 1, "type": "T"}], delay=v),
        {},
    ),
    "DelayedSource item time": (
        lambda sim, v: DelayedSource(sim, "s", "t", [{"time": v, "type": "T"}]),
        {},
    ),
    "ReorderBuffer(window)": (lambda sim, v: ReorderBuffer(v), {}),
    # load, rate limits and autoscaling
    "Feed(rate)": (lambda sim, v: Feed(sim, "t", [], rate=v), {}),
    "Feed(tick)": (lambda sim, v: Feed(sim, "t", [], rate=1, tick=v), {}),
    "Feed(start)": (lambda sim, v: Feed(sim, "t", [], rate=1, start=v), {}),
    "TokenBucket(rate)": (lambda sim, v: TokenBucket(rate=v), {}),
    "TokenBucket(burst)": (lambda sim, v: TokenBucket(rate=1, burst=v), {}),
    "TokenBucket.take(now)": (lambda sim, v: TokenBucket(rate=1).take(v), {}),
    "TokenBucket.take(n)": (lambda sim, v: TokenBucket(rate=1, burst=2).take(0.0, n=v), {}),
    "LimitedFeed(rate)": (lambda sim, v: LimitedFeed(sim, "t", [], rate=v), {}),
    "LimitedFeed(start)": (lambda sim, v: LimitedFeed(sim, "t", [], rate=1, start=v), {}),
    "Storm(rate)": (lambda sim, v: Storm(sim, "t", v, 1.0, 0.0, lambda i: ("k", "v")), {}),
    "Storm(duration)": (lambda sim, v: Storm(sim, "t", 10, v, 0.0, lambda i: ("k", "v")), {}),
    "Storm(start)": (lambda sim, v: Storm(sim, "t", 10, 1.0, v, lambda i: ("k", "v")), {}),
    "Autoscaler(min_instances)": (
        lambda sim, v: Autoscaler(sim, _service(sim), min_instances=v),
        {},
    ),
    "Autoscaler(scale_out_lag)": (
        lambda sim, v: Autoscaler(sim, _service(sim), scale_out_lag=v, scale_in_lag=0),
        {},
    ),
    "Autoscaler(cooldown)": (lambda sim, v: Autoscaler(sim, _service(sim), cooldown=v), {}),
    "Autoscaler(interval)": (lambda sim, v: Autoscaler(sim, _service(sim), interval=v), {}),
    # metrics and alerts
    "metrics(bucket)": (lambda sim, v: metrics(sim, bucket=v), {}),
    "metrics(until)": (lambda sim, v: metrics(sim, until=v), {}),
    "lag_by_partition(bucket)": (
        lambda sim, v: (sim.member("g", ["t"]), lag_by_partition(sim, "g", bucket=v)),
        {},
    ),
    "Threshold(above)": (
        lambda sim, v: Threshold("lag_g", above=v),
        {"inf": "an alert that never fires", "negative": "a threshold below every value"},
    ),
    "AlertMonitor(interval)": (
        lambda sim, v: (
            sim.member("g", ["t"]),
            AlertMonitor(sim, Threshold("lag_g", 1), interval=v),
        ),
        {},
    ),
    # data generators
    "clickstream(users)": (lambda sim, v: clickstream(1, users=v, duration=10), {}),
    "clickstream(duration)": (lambda sim, v: clickstream(1, users=2, duration=v), {}),
    "clickstream(search_rate)": (
        lambda sim, v: clickstream(1, users=2, duration=10, search_rate=v),
        {},
    ),
    "clickstream(mean_gap)": (lambda sim, v: clickstream(1, users=2, duration=10, mean_gap=v), {}),
    "transactions(cards)": (lambda sim, v: transactions(1, cards=v, duration=10), {}),
    "transactions(duration)": (lambda sim, v: transactions(1, cards=2, duration=v), {}),
    "transactions(fraud_rate)": (
        lambda sim, v: transactions(1, cards=2, duration=10, fraud_rate=v),
        {},
    ),
}


@pytest.mark.parametrize("bad", sorted(BAD))
@pytest.mark.parametrize("parameter", sorted(PARAMETERS))
def test_every_public_numeric_parameter_refuses_or_documents_nan_inf_negative_and_bool(
    parameter, bad
):
    call, accepted = PARAMETERS[parameter]
    sim = world()
    if bad in accepted:
        call(sim, BAD[bad])  # accepted, for the reason the table gives
        return
    with pytest.raises(REFUSED) as info:
        call(sim, BAD[bad])
    message = str(info.value)
    # The message says what came (the value, or NaN/inf named) so the learner sees what was wrong.
    assert any(s in message for s in ("nan", "NaN", "inf", "-1", "True", "bool")), message


def test_the_numbers_a_table_accepts_are_the_documented_ones_only():
    # The table above is the documentation the README points to: no row accepts NaN.
    assert not any("nan" in accepted for _, accepted in PARAMETERS.values())


@given(st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(), st.booleans()))
def test_a_checked_duration_is_a_finite_non_negative_float_or_an_error_naming_it(value):
    try:
        got = seconds(value, "backoff")
    except (TypeError, ValueError) as err:
        assert "backoff" in str(err)
        assert isinstance(value, bool) or not (math.isfinite(value) and value >= 0)
    else:
        assert math.isfinite(got) and got >= 0 and got == float(value)
        assert not isinstance(value, bool)


@given(st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(), st.none()))
def test_a_checked_timeout_is_seconds_or_forever_and_never_nan(value):
    try:
        got = timeout(value, "timeout")
    except ValueError as err:
        too_large = isinstance(value, int) and value > 0 and "too large" in str(err)
        assert (value != value and "NaN" in str(err)) or too_large
        assert "timeout" in str(err)
    else:
        assert got == got and got >= 0
        # seconds come back as a float: an integer past 2**53 rounds to the nearest one
        assert got == math.inf if value is None or value < 0 else got == float(value)


def test_each_check_names_the_parameter_and_says_what_it_expected():
    with pytest.raises(TypeError, match=r"instances must be a whole number >= 1, got bool True"):
        count(True, "instances", low=1)
    with pytest.raises(TypeError, match=r"instances must be a whole number >= 1, got float 2.0"):
        count(2.0, "instances", low=1)
    with pytest.raises(ValueError, match=r"rate must be a finite number per virtual second > 0"):
        rate(0, "rate")
    with pytest.raises(ValueError, match=r"at=-1 is in the past: the clock is at 5 s"):
        instant(-1, "at", not_before=5)
    with pytest.raises(ValueError, match=r"x must be a finite number: a number <= 3, got inf"):
        number(INF, "x", high=3)
    assert number(INF, "x", finite=False) == INF
    with pytest.raises(ValueError, match="got -inf"):
        number(-INF, "x", finite=False)
    with pytest.raises(TypeError, match=r"timeout must be a real number of seconds .* got str '1'"):
        timeout("1")


def test_a_timeout_too_large_for_a_float_is_refused_by_name():
    with pytest.raises(ValueError, match=r"timeout must be a real number of seconds .* too large"):
        timeout(10**400)
    assert timeout(2**53 + 1) == float(2**53)
