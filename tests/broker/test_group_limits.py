"""The group coordinator's own limits: session timeouts it accepts, committed offsets it keeps.

Kafka's broker refuses a JoinGroup whose ``session.timeout.ms`` is outside
``group.min.session.timeout.ms`` .. ``group.max.session.timeout.ms`` (6 s ..
30 min, both inclusive) with ``INVALID_SESSION_TIMEOUT``; librdkafka hands
that to the application as an error event from ``poll()`` and tries again
after its 1 s join interval. A broker whose KIP-848 or share-group session
timeout or heartbeat interval is outside its min/max settings, or whose
heartbeat is not shorter than its session, does not start.

The committed offsets of a group nobody is in expire after
``offsets.retention.minutes`` (KIP-211), at the coordinator's next check
(``offsets.retention.check.interval.ms``); so do those of a live group for a
topic no member subscribes to any more, counted from their last commit (KIP-496).
"""

from __future__ import annotations

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eda_sim import Simulation
from eda_sim.core.errors import KafkaError, KafkaException
from eda_sim.kafka.consumer import JOIN_BACKOFF


def joins(session_ms: int, broker_config: dict | None = None):
    """A consumer with ``session_ms`` polls once: (the simulation, the consumer, what poll returned)."""
    sim = Simulation(seed=1, name="limits", broker_config=broker_config)
    sim.create_topic("t", partitions=1)
    c = sim.consumer({"group.id": "g", "session.timeout.ms": session_ms})
    c.subscribe(["t"])
    return sim, c, c.poll(0.5)


def refused(sim) -> bool:
    return bool(sim.journal.rows("join_failed")) and not sim.group("g").members


# -- session timeouts ------------------------------------------------------------------------


@pytest.mark.parametrize("session_ms", [1, 3000, 5999, 1800001, 3600000])
def test_a_session_timeout_outside_the_brokers_limits_is_refused_with_kafkas_error(session_ms):
    sim, c, msg = joins(session_ms)
    err = msg.error()
    assert (
        err.code() == KafkaError.INVALID_SESSION_TIMEOUT and err.name() == "INVALID_SESSION_TIMEOUT"
    )
    assert err.str().startswith("JoinGroup failed: Broker: Invalid session timeout")
    assert not err.fatal()  # librdkafka: a consumer error, not a fatal one; it tries again
    assert refused(sim) and c.memberid() is None
    row = sim.journal.rows("join_failed")[0]
    assert row.group == "g" and f"session.timeout.ms={session_ms}" in row.detail


@pytest.mark.parametrize("session_ms", [6000, 1800000])
def test_a_session_timeout_equal_to_a_limit_is_accepted(session_ms):
    sim, c, msg = joins(session_ms)
    assert msg is None or msg.error() is None
    assert c.memberid() in sim.group("g").members and not sim.journal.rows("join_failed")


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    session_ms=st.integers(1, 3600000),
    low=st.integers(1, 3600000),
    span=st.integers(0, 3600000),
)
def test_the_coordinator_admits_a_member_exactly_when_its_session_is_within_the_limits(
    session_ms, low, span
):
    high = low + span
    limits = {"group.min.session.timeout.ms": low, "group.max.session.timeout.ms": high}
    sim, c, msg = joins(session_ms, limits)
    assert refused(sim) == (not low <= session_ms <= high)


def test_a_refused_consumer_tries_again_once_per_join_interval():
    sim, c, first = joins(3000)
    times = [sim.now]
    for _ in range(3):
        msg = c.poll(5.0)  # the next attempt comes JOIN_BACKOFF later, inside the poll
        assert msg.error().code() == KafkaError.INVALID_SESSION_TIMEOUT
        times.append(sim.now)
    gaps = [round(b - a, 9) for a, b in zip(times, times[1:])]
    assert gaps == [JOIN_BACKOFF] * 3
    assert len(sim.journal.rows("join_failed")) == 4


def test_a_member_on_a_refused_consumer_moves_with_the_clock_instead_of_spinning():
    sim = Simulation(seed=1, name="limits")
    sim.create_topic("t", partitions=1)
    sim.member("g", ["t"], name="w", config={"session.timeout.ms": 500})
    sim.run(until=10.0)  # returns: each refused attempt waits out the join interval
    attempts = sim.journal.rows("join_failed")
    assert 9 <= len(attempts) <= 11 and not sim.group("g").members


def test_lowering_the_brokers_minimum_in_the_open_admits_a_short_session():
    sim, c, msg = joins(3000, {"group.min.session.timeout.ms": 3000})
    assert c.memberid() in sim.group("g").members


def test_a_kip848_member_sends_no_session_timeout_so_the_classic_limits_do_not_apply():
    sim = Simulation(seed=1, name="limits", broker_config={"group.min.session.timeout.ms": 50000})
    sim.create_topic("t", partitions=1)
    c = sim.consumer({"group.id": "g", "group.protocol": "consumer"})
    c.subscribe(["t"])
    c.poll(0.5)
    assert c.memberid() in sim.group("g").members


@pytest.mark.parametrize(
    "config, words",
    [
        (
            {"group.consumer.session.timeout.ms": 10000},
            "greater than or equal to group.consumer.min",
        ),
        ({"group.consumer.session.timeout.ms": 70000}, "less than or equal to group.consumer.max"),
        (
            {"group.min.session.timeout.ms": 7000, "group.max.session.timeout.ms": 6500},
            "greater than",
        ),
        ({"group.min.sesion.timeout.ms": 100}, "group.min.session.timeout.ms"),
        (
            {"group.consumer.heartbeat.interval.ms": 1000},
            "group.consumer.heartbeat.interval.ms must be greater than or equal to "
            "group.consumer.min.heartbeat.interval.ms (got 1000 < 5000); lower "
            "group.consumer.min.heartbeat.interval.ms too",
        ),
        (
            {"group.consumer.heartbeat.interval.ms": 20000},
            "group.consumer.heartbeat.interval.ms must be less than or equal to "
            "group.consumer.max.heartbeat.interval.ms (got 20000 > 15000)",
        ),
        (
            {
                "group.consumer.min.heartbeat.interval.ms": 9000,
                "group.consumer.max.heartbeat.interval.ms": 8000,
            },
            "group.consumer.max.heartbeat.interval.ms must be greater than or equal to "
            "group.consumer.min.heartbeat.interval.ms (got 8000 < 9000)",
        ),
        (
            {
                "group.consumer.heartbeat.interval.ms": 15000,
                "group.consumer.session.timeout.ms": 15000,
                "group.consumer.min.session.timeout.ms": 15000,
            },
            "group.consumer.heartbeat.interval.ms must be less than "
            "group.consumer.session.timeout.ms (got 15000 >= 15000)",
        ),
        (
            {"group.share.heartbeat.interval.ms": 50000},
            "group.share.heartbeat.interval.ms must be less than or equal to "
            "group.share.max.heartbeat.interval.ms (got 50000 > 15000)",
        ),
        (
            {"group.share.session.timeout.ms": 30000},
            "group.share.session.timeout.ms must be greater than or equal to "
            "group.share.min.session.timeout.ms (got 30000 < 45000)",
        ),
        (
            {
                "group.share.heartbeat.interval.ms": 10000,
                "group.share.session.timeout.ms": 10000,
                "group.share.min.session.timeout.ms": 10000,
            },
            "group.share.heartbeat.interval.ms must be less than group.share.session.timeout.ms",
        ),
        ({"group.consumer.min.heartbeat.interval.ms": "5s"}, "must be a whole number >= 1"),
        ({"min.insync.replicas": 2}, "brokers >= 2"),
    ],
)
def test_broker_settings_kafka_would_not_start_with_are_refused(config, words):
    with pytest.raises(ValueError) as info:
        Simulation(seed=1, name="limits", broker_config=config)
    assert words in str(info.value)


@settings(max_examples=60, deadline=None)
@given(
    kind=st.sampled_from(["consumer", "share"]),
    values=st.lists(
        st.sampled_from([1000, 5000, 9000, 15000, 45000, 60000]), min_size=6, max_size=6
    ),
)
def test_a_broker_starts_exactly_when_kafkas_heartbeat_and_session_rules_hold(kind, values):
    hb, hb_min, hb_max, session, s_min, s_max = values
    names = (
        "heartbeat.interval.ms",
        "min.heartbeat.interval.ms",
        "max.heartbeat.interval.ms",
        "session.timeout.ms",
        "min.session.timeout.ms",
        "max.session.timeout.ms",
    )
    config = {f"group.{kind}.{name}": v for name, v in zip(names, values)}
    kafka_starts = hb_min <= hb <= hb_max and s_min <= session <= s_max and hb < session
    try:
        Simulation(seed=1, name="limits", broker_config=config)
    except ValueError as exc:
        assert not kafka_starts, exc
        assert f"group.{kind}." in str(exc) and " must be " in str(exc)
    else:
        assert kafka_starts


def second_member_served_after(broker_config=None) -> float:
    """Seconds until the second member of a KIP-848 group gets one of the two partitions."""
    sim = Simulation(seed=1, name="limits", broker_config=broker_config)
    sim.create_topic("t", partitions=2)
    first, second = (sim.consumer({"group.id": "g", "group.protocol": "consumer"}) for _ in "ab")
    for c in (first, second):
        c.subscribe(["t"])
        c.poll(0.1)
    start = sim.now
    while not second.assignment() and sim.now < 60:
        first.poll(
            0.1
        )  # gives a partition up at its next heartbeat, then the second takes it on its own
        second.poll(0.1)
    return sim.now - start


def test_a_kip848_group_heartbeats_at_a_lowered_interval_once_the_minimum_comes_down_too():
    fast = {
        "group.consumer.heartbeat.interval.ms": 1000,
        "group.consumer.min.heartbeat.interval.ms": 1000,
    }
    # one heartbeat of each member: about 1 s instead of about 5 s
    assert second_member_served_after(fast) < 2.0 < 4.5 < second_member_served_after()


def test_a_heartbeat_interval_changed_later_is_checked_when_the_coordinator_reads_it():
    sim = Simulation(seed=1, name="limits")
    group = sim.ensure_group("g", "consumer")
    sim.broker_config["group.consumer.heartbeat.interval.ms"] = 45000  # not below the session
    with pytest.raises(ValueError, match="less than or equal to group.consumer.max"):
        _ = group.heartbeat_interval
    sim.broker_config["group.consumer.max.heartbeat.interval.ms"] = 60000
    with pytest.raises(ValueError, match="must be less than group.consumer.session.timeout.ms"):
        _ = group.heartbeat_interval


def test_kip848_session_limits_come_down_together_with_the_session():
    sim = Simulation(
        seed=1,
        name="limits",
        broker_config={
            "group.consumer.session.timeout.ms": 10000,
            "group.consumer.min.session.timeout.ms": 10000,
        },
    )
    sim.create_topic("t", partitions=1)
    c = sim.consumer({"group.id": "g", "group.protocol": "consumer"})
    c.subscribe(["t"])
    c.poll(0.5)
    assert sim.group("g").session_timeout() == 10.0


# -- committed offsets of an empty group -----------------------------------------------------


def committed_then_gone(retention_min=1, check_ms=1000, close_at=10.0, protocol="classic"):
    """Group g commits offset 3 of t-0, and its only member leaves at ``close_at``."""
    sim = Simulation(
        seed=1,
        name="retention",
        broker_config={
            "offsets.retention.minutes": retention_min,
            "offsets.retention.check.interval.ms": check_ms,
        },
    )
    sim.create_topic("t", partitions=1)
    p = sim.producer()
    for i in range(5):
        p.produce("t", value=str(i))
    p.flush()
    c = sim.consumer(
        {"group.id": "g", "auto.offset.reset": "earliest", "enable.auto.commit": False}
        | ({"group.protocol": "consumer"} if protocol == "consumer" else {})
    )
    c.subscribe(["t"])
    got = c.consume(3, timeout=1.0)
    c.commit(message=got[-1], asynchronous=False)
    sim.run(until=close_at)
    c.close()
    return sim


def test_an_empty_groups_offsets_expire_exactly_at_the_retention_and_not_before():
    sim = committed_then_gone(retention_min=1, check_ms=1000, close_at=10.0)
    sim.run(until=69.999)
    assert sim.group("g").committed == {("t", 0): 3}
    sim.run(until=70.001)
    assert sim.group("g").committed == {}
    (row,) = sim.journal.rows("offsets_expired")
    assert row.time == 70.0 and row.data == (("t", 0),) and row.group == "g"


def test_the_coordinator_expires_offsets_at_its_next_check_with_kafkas_defaults():
    # 7 days after the group emptied at 10 s is 604,810 s; the coordinator looks every 10 minutes
    sim = committed_then_gone(retention_min=10080, check_ms=600000, close_at=10.0)
    sim.run(until=605399.0)
    assert sim.group("g").committed == {("t", 0): 3}
    sim.run(until=605401.0)
    (row,) = sim.journal.rows("offsets_expired")
    assert row.time == 605400.0 and sim.group("g").committed == {}


@settings(max_examples=25, deadline=None)
@given(
    close_at=st.integers(1, 100),
    away=st.integers(1, 200),
    check_ms=st.sampled_from([1000, 7000, 60000]),
)
def test_offsets_are_there_when_a_member_returns_exactly_when_it_came_back_before_the_check(
    close_at, away, check_ms
):
    sim = committed_then_gone(retention_min=1, check_ms=check_ms, close_at=float(close_at))
    interval = check_ms / 1000
    expires = math.ceil((close_at + 60) / interval) * interval
    sim.run(until=close_at + away)
    c = sim.consumer({"group.id": "g", "auto.offset.reset": "earliest"})
    c.subscribe(["t"])
    first = c.consume(1, timeout=1.0)[0]
    assert first.offset() == (0 if close_at + away > expires else 3)


def test_a_group_with_a_live_member_keeps_its_offsets_however_long():
    sim = committed_then_gone(retention_min=1, check_ms=1000, close_at=10.0)
    sim.member("g", ["t"], name="w", commit="after", config={"auto.offset.reset": "earliest"})
    sim.run(until=20.0)
    kept = dict(sim.group("g").committed)
    sim.run(until=600.0)  # ten retention periods with a member in the group
    assert sim.group("g").committed == kept == {("t", 0): 5}
    assert sim.journal.rows("offsets_expired") == [] or all(
        r.time < 20.0 for r in sim.journal.rows("offsets_expired")
    )


def test_a_kip848_groups_offsets_expire_from_their_commit_once_the_group_is_empty():
    # the consumer protocol counts retention from the commit (at about 0 s), not from the leave at 50 s
    sim = committed_then_gone(retention_min=1, check_ms=1000, close_at=50.0, protocol="consumer")
    sim.run(until=61.5)
    (row,) = sim.journal.rows("offsets_expired")
    assert row.time == 61.0 and sim.group("g").committed == {}


def test_a_member_that_returns_after_expiry_starts_where_auto_offset_reset_says():
    for policy, first_offset in (("earliest", 0), ("latest", 5)):
        sim = committed_then_gone(retention_min=1, check_ms=1000, close_at=10.0)
        sim.run(until=100.0)
        c = sim.consumer({"group.id": "g", "auto.offset.reset": policy})
        c.subscribe(["t"])
        c.poll(0.5)
        reset = sim.journal.rows("offset_reset")[-1]
        assert (
            reset.offset == first_offset
            and "no committed offset" in reset.detail
            and f"auto.offset.reset={policy}" in reset.detail
        )


@pytest.mark.parametrize("policy", ["earliest", "latest", "error"])
def test_a_committed_offset_that_retention_deleted_falls_back_to_auto_offset_reset(policy):
    # records older than a minute go, a 10-second segment at a time; the group was away 10 minutes
    sim = Simulation(seed=1, name="out-of-range")
    sim.create_topic("t", partitions=1, config={"retention.ms": 60000, "segment.ms": 10000})
    p = sim.producer()
    for i in range(5):
        p.produce("t", value=str(i))
    p.flush()
    c = sim.consumer(
        {"group.id": "g", "auto.offset.reset": "earliest", "enable.auto.commit": False}
    )
    c.subscribe(["t"])
    c.commit(message=c.consume(2, timeout=1.0)[-1], asynchronous=False)
    c.close()
    sim.run(until=600.0)
    p.produce("t", value="late")
    p.flush()
    log = sim.topic("t").partitions[0]
    assert sim.group("g").committed[("t", 0)] == 2 < log.log_start_offset
    back = sim.consumer({"group.id": "g", "auto.offset.reset": policy})
    back.subscribe(["t"])
    msg = back.poll(0.5)
    reset = sim.journal.rows("offset_reset")[-1]
    assert "committed offset 2 out of range" in reset.detail
    if policy == "error":
        assert msg.error().code() == KafkaError._AUTO_OFFSET_RESET
    else:
        want = log.log_start_offset if policy == "earliest" else log.log_end_offset
        assert reset.offset == want


# -- committed offsets of topics a live group stopped reading (KIP-496) ----------------------

RETENTION_1_MIN = {"offsets.retention.minutes": 1, "offsets.retention.check.interval.ms": 1000}


def two_topics(protocol="classic", broker_config=None):
    """Topics a and b (5 records each); a consumer of group g reads both and commits at about 0 s."""
    sim = Simulation(seed=1, name="kip496", broker_config=broker_config or RETENTION_1_MIN)
    for topic in ("a", "b"):
        sim.create_topic(topic, partitions=1)
    p = sim.producer()
    for i in range(5):
        p.produce("a", value=str(i))
        p.produce("b", value=str(i))
    p.flush()
    c = reader(sim, ["a", "b"], protocol)
    c.consume(10, timeout=1.0)
    c.commit(asynchronous=False)
    assert sim.group("g").committed == {("a", 0): 5, ("b", 0): 5}
    return sim, c


def reader(sim, topics, protocol="classic"):
    c = sim.consumer(
        {
            "group.id": "g",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "max.poll.interval.ms": 3_600_000,  # the tests leave members idle for minutes
        }
        | ({"group.protocol": "consumer"} if protocol == "consumer" else {})
    )
    c.subscribe(topics)
    return c


@pytest.mark.parametrize("protocol", ["classic", "consumer"])
def test_a_topic_the_live_group_stopped_reading_loses_its_offset_a_retention_after_the_commit(
    protocol,
):
    sim, c = two_topics(protocol)
    committed_at = sim.group("g").committed_at[("a", 0)]
    sim.run(until=10.0)
    c.subscribe(["b"])  # the member stays in the group and no longer reads a
    c.poll(0.1)
    due = math.ceil(
        committed_at + 60
    )  # the first check (every 1 s) at least a minute after the commit
    sim.run(until=due - 0.001)
    assert sim.group("g").committed == {("a", 0): 5, ("b", 0): 5}
    sim.run(until=due + 0.001)
    group = sim.group("g")
    assert group.committed == {("b", 0): 5} and c.memberid() in group.members
    (row,) = sim.journal.rows("offsets_expired")
    assert row.time == due and row.data == (("a", 0),)
    assert "no member subscribes to a" in row.detail


def test_an_offset_unsubscribed_long_after_its_commit_goes_at_the_next_check():
    # committed at about 0 s, unsubscribed at 200 s: already older than a minute, so the
    # coordinator's next look (every 7 s: at 203 s) deletes it
    config = {"offsets.retention.minutes": 1, "offsets.retention.check.interval.ms": 7000}
    sim, c = two_topics(broker_config=config)
    sim.run(until=200.0)
    c.subscribe(["b"])
    sim.run(until=202.9)
    assert ("a", 0) in sim.group("g").committed
    sim.run(until=203.1)
    (row,) = sim.journal.rows("offsets_expired")
    assert row.time == 203.0 and ("a", 0) not in sim.group("g").committed


@pytest.mark.parametrize("protocol", ["classic", "consumer"])
def test_an_offset_stays_while_any_member_still_subscribes_to_its_topic(protocol):
    sim, first = two_topics(protocol)
    second = reader(
        sim, ["a"], protocol
    )  # never commits: a is kept for the group, not the committer
    second.poll(0.1)
    first.subscribe(["b"])
    first.poll(0.1)
    sim.run(until=600.0)  # ten retention periods
    assert sim.group("g").committed == {("a", 0): 5, ("b", 0): 5}
    assert sim.journal.rows("offsets_expired") == []
    second.close()  # now nobody reads a, and its last commit is ten minutes old
    left = sim.now
    sim.run(until=left + 1.001)
    (row,) = sim.journal.rows("offsets_expired")
    assert row.data == (("a", 0),) and left <= row.time <= left + 1.0
    assert first.memberid() in sim.group("g").members


def test_subscribing_again_before_the_retention_runs_out_keeps_the_offset():
    sim, c = two_topics()
    sim.run(until=10.0)
    c.subscribe(["b"])
    sim.run(until=30.0)
    c.subscribe(["a", "b"])
    sim.run(until=300.0)
    assert sim.group("g").committed == {("a", 0): 5, ("b", 0): 5}
    assert sim.journal.rows("offsets_expired") == []


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    protocol=st.sampled_from(["classic", "consumer"]),
    check_ms=st.sampled_from([1000, 7000]),
    plan=st.lists(
        st.tuples(
            st.sets(st.sampled_from("abc"), min_size=1), st.sets(st.sampled_from("abc"), min_size=1)
        ),
        min_size=1,
        max_size=30,
    ),
)
def test_a_live_groups_offsets_expire_exactly_for_topics_nobody_subscribes_to(
    protocol, check_ms, plan
):
    """Two members change their subscriptions every 5 s and commit what they own.

    No offset of a topic some member subscribes to ever expires, and once the
    subscriptions stay put for longer than the retention, only offsets of
    subscribed topics are left.
    """
    config = {"offsets.retention.minutes": 1, "offsets.retention.check.interval.ms": check_ms}
    sim = Simulation(seed=1, name="kip496-property", broker_config=config)
    p = sim.producer()
    for topic in "abc":
        sim.create_topic(topic, partitions=2)
        for i in range(6):
            p.produce(topic, key=str(i), value=str(i))
    p.flush()
    members = [reader(sim, sorted(plan[0][i]), protocol) for i in (0, 1)]
    history = []  # (time, topics some member subscribes to), changed half-way between checks

    def step(t, subs):
        sim.run(until=t)
        if subs is not None:
            for c, topics in zip(members, subs):
                if c.subscribed_topics != frozenset(topics):
                    c.subscribe(sorted(topics))
            history.append((sim.now, set().union(*subs)))
        for c in members:
            c.poll(0)
            try:
                c.commit(asynchronous=False)
            except KafkaException:
                pass  # nothing stored yet, or a revocation in flight

    for k, subs in enumerate(plan):
        step(5 * k + 0.5, subs)
    end = 5 * len(plan) + 0.5
    for k in range(16):  # 80 s without a change: longer than the retention and a check
        step(end + 5 * k, None)
    group = sim.group("g")
    assert len(group.members) == 2
    for row in sim.journal.rows("offsets_expired"):
        subscribed = [s for t, s in history if t <= row.time][-1]
        assert not {t for t, _ in row.data} & subscribed, (row.time, row.data, subscribed)
    final = history[-1][1]
    assert {t for t, _ in group.committed} <= final
