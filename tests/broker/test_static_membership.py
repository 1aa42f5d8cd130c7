"""Static membership (KIP-345, ``group.instance.id``) in the classic protocol.

A static member that comes back inside ``session.timeout.ms`` keeps its place
and its partitions with no rebalance; ``close()`` does not leave the group
(librdkafka sends no LeaveGroup for a static member on termination), so its
partitions wait for it until the session expires; ``unsubscribe()`` still
leaves. A second live process with the same instance id fences the first.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eda_sim import Simulation
from eda_sim.core.errors import KafkaError, KafkaException
from eda_sim.services.members import Member

SESSION_MS = 6000


def world(static: bool = True, workers: int = 2, partitions: int = 4, seed: int = 1):
    sim = Simulation(seed=seed)
    sim.create_topic("t", partitions=partitions)
    members = []
    for i in range(workers):
        config = {"auto.offset.reset": "earliest", "session.timeout.ms": SESSION_MS}
        if static:
            config["group.instance.id"] = f"w{i}"
        members.append(
            Member(
                sim, "g", ["t"], name=f"w{i}", commit="after", max_poll_records=50, config=config
            )
        )
    producer = sim.producer()
    for i in range(400):
        producer.produce("t", key=str(i), value=b"x")
    producer.flush()
    return sim, members


def kinds_after(sim, t: float, *kinds) -> list:
    return [r for r in sim.journal.rows() if r.time > t and r.kind in kinds]


def test_restart_inside_session_keeps_partitions_without_rebalance():
    sim, (a, _b) = world()
    sim.run(until=1.0)
    before = dict(sim.group("g").assignment)
    sim.crash(a)
    sim.run(until=3.0)
    sim.restart(a)
    sim.run(until=12.0)  # past the old session's deadline (1 + 6 s): it must not expire the new one
    assert kinds_after(sim, 1.0, "rebalanced", "revoked", "session_expired") == []
    assert sim.group("g").assignment == before
    rejoined = sim.journal.rows("rejoined")
    assert [r.actor for r in rejoined] == [a.member_id]
    # the restarted member starts from the group's committed offsets, not from nothing
    assert a.processed_total > 0


def test_restart_after_session_timeout_rebalances():
    sim, (a, _b) = world()
    sim.run(until=1.0)
    sim.crash(a)
    sim.run(until=1.0 + SESSION_MS / 1000 + 1)
    expired = sim.journal.rows("session_expired")
    assert [r.actor for r in expired] == [a.member_id or expired[0].actor]
    sim.restart(a)
    sim.run(until=10.0)
    assert sim.journal.rows("rejoined") == []
    joins = [r for r in sim.journal.rows("joined") if r.time > 1.0]
    assert len(joins) == 1  # back as a member like any other, with a rebalance
    assert kinds_after(sim, joins[0].time - 1e-9, "rebalanced")


def test_dynamic_member_restart_rebalances_twice():
    sim, (a, _b) = world(static=False)
    sim.run(until=1.0)
    sim.crash(a)
    sim.run(until=3.0)
    sim.restart(a)
    sim.run(until=12.0)
    reasons = [r.detail for r in kinds_after(sim, 1.0, "rebalanced")]
    assert len(reasons) == 2  # the new member joins at 3 s; the dead one expires at 7 s
    assert "joined" in reasons[0] and "session_expired" in reasons[1]


def test_close_of_a_static_member_does_not_leave_the_group():
    sim, (_a, b) = world()
    sim.run(until=1.0)
    owned = list(sim.group("g").assignment[b.member_id])
    member_id = b.member_id
    b.stop()
    sim.run(until=3.0)
    assert kinds_after(sim, 1.0, "rebalanced", "left") == []
    departed = sim.journal.rows("departed")
    assert [r.actor for r in departed] == [member_id]
    assert sim.group("g").assignment[member_id] == owned  # held for it, unread
    sim.run(until=1.0 + SESSION_MS / 1000 + 2)
    assert [r.actor for r in sim.journal.rows("session_expired")] == [member_id]
    assert member_id not in sim.group("g").members


def test_a_stopped_static_member_restarted_in_time_gets_its_partitions_back():
    sim, (_a, b) = world()
    sim.run(until=1.0)
    owned = list(sim.group("g").assignment[b.member_id])
    b.stop()
    sim.run(until=3.0)
    b.restart()  # a new consumer object with the same config, as a deploy starts a new process
    sim.run(until=12.0)
    assert kinds_after(sim, 1.0, "rebalanced", "revoked") == []
    assert sim.group("g").assignment[b.member_id] == owned
    assert sorted((tp.topic, tp.partition) for tp in b.consumer.assignment()) == owned


def test_unsubscribe_of_a_static_member_leaves():
    sim = Simulation(seed=2)
    sim.create_topic("t", partitions=2)
    c = sim.consumer({"group.id": "g", "group.instance.id": "i", "auto.offset.reset": "earliest"})
    c.subscribe(["t"])
    c.poll(0.1)
    c.unsubscribe()
    assert [r.kind for r in sim.journal.rows() if r.kind in ("left", "departed")] == ["left"]


def test_a_second_process_with_the_same_instance_id_fences_the_first():
    sim = Simulation(seed=3)
    sim.create_topic("t", partitions=2)
    config = {"group.id": "g", "group.instance.id": "i", "auto.offset.reset": "earliest"}
    first = sim.consumer(config)
    first.subscribe(["t"])
    first.poll(0.1)
    second = sim.consumer(config)
    second.subscribe(["t"])
    second.poll(0.1)
    assert len(second.assignment()) == 2
    err = first.poll(0.1).error()
    assert err.code() == KafkaError.FENCED_INSTANCE_ID and err.fatal()
    assert first.poll(0.1) is None and first.assignment() == []  # it does not rejoin
    assert len(second.assignment()) == 2


@pytest.mark.parametrize(
    "key, value",
    [
        ("session.timeout.ms", 10000),
        ("heartbeat.interval.ms", 1000),
        ("partition.assignment.strategy", "range"),
    ],
)
def test_consumer_protocol_refuses_client_side_group_settings_as_librdkafka(key, value):
    sim = Simulation(seed=0)
    with pytest.raises(KafkaException) as info:
        sim.consumer({"group.id": "g", "group.protocol": "consumer", key: value})
    assert info.value.args[0].code() == KafkaError._INVALID_ARG
    assert f"`{key}` is not supported for `group.protocol=consumer`" in str(info.value)


def test_group_protocol_and_assignor_values_are_checked():
    sim = Simulation(seed=0)
    with pytest.raises(KafkaException, match="valid values: classic, consumer"):
        sim.consumer({"group.id": "g", "group.protocol": "kip848"})
    with pytest.raises(KafkaException, match="valid values: uniform, range"):
        sim.consumer({"group.id": "g", "group.protocol": "consumer", "group.remote.assignor": "x"})


PROFILE = settings(
    max_examples=40 if os.environ.get("CI") else 15,
    deadline=None,
    derandomize=bool(os.environ.get("CI")),
    suppress_health_check=[HealthCheck.too_slow],
)


@PROFILE
@given(
    seed=st.integers(0, 2**16),
    workers=st.integers(1, 4),
    schedule=st.lists(
        st.tuples(
            st.integers(0, 3),  # which worker
            st.sampled_from(["crash", "stop"]),
            st.floats(0.05, 5.5),  # how long it stays away: always inside the 6 s session
        ),
        min_size=1,
        max_size=6,
    ),
)
def test_property_static_restart_inside_session_never_reassigns(seed, workers, schedule):
    sim, members = world(workers=workers, partitions=5, seed=seed)
    sim.run(until=0.5)
    stable = {m: list(p) for m, p in sim.group("g").assignment.items()}
    t = 0.5
    for which, how, away in schedule:
        m = members[which % workers]
        if how == "crash":
            m.crash()
        else:
            m.stop()
        sim.run(until=t + away)
        if m.alive:  # a stop finishes its batch first; wait for it to close
            sim.run(until=sim.now + 2.0)
        m.restart()
        t = sim.now + 0.2
        sim.run(until=t)
    sim.run(until=t + SESSION_MS / 1000 + 1)
    assert kinds_after(sim, 0.5, "rebalanced", "revoked", "assigned", "session_expired") == []
    assert sim.group("g").assignment == stable
    owners = [tp for parts in stable.values() for tp in parts]
    assert len(owners) == len(set(owners)) == 5
