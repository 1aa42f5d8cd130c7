"""The KIP-848 consumer group protocol (``group.protocol=consumer``).

The broker computes a target assignment per group epoch; members heartbeat
every ``group.consumer.heartbeat.interval.ms`` and move partitions
incrementally: an owner revokes in its next poll, the new owner gets the
partition on its own next heartbeat, and nobody else stops. The property test
runs random fault schedules and checks that no partition is ever held by two
members and that a group left alone becomes stable with every partition owned.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eda_sim import Simulation
from eda_sim.broker.group_consumer import ConsumerGroup, epochs
from eda_sim.core.errors import KafkaException
from eda_sim.services.members import Member

HB = 5.0  # group.consumer.heartbeat.interval.ms, Kafka's default
SESSION = 45.0  # group.consumer.session.timeout.ms, Kafka's default


def world(workers=2, partitions=4, seed=1, static=False, assignor=None, **member):
    sim = Simulation(seed=seed)
    sim.create_topic("t", partitions=partitions)
    members = [add(sim, f"w{i}", static, assignor, **member) for i in range(workers)]
    producer = sim.producer()
    for i in range(200):
        producer.produce("t", key=str(i), value=b"x")
    producer.flush()
    return sim, members


def add(sim, name, static=False, assignor=None, **member):
    config = {"group.protocol": "consumer", "auto.offset.reset": "earliest"}
    config.update(member.pop("config", {}))
    if static:
        config["group.instance.id"] = name
    if assignor:
        config["group.remote.assignor"] = assignor
    member.setdefault("max_poll_records", 20)
    return Member(sim, "g", ["t"], name=name, config=config, **member)


def local(members) -> dict:
    """Each running member's own view of its partitions (what it may fetch)."""
    return {
        m.name: {(tp.topic, tp.partition) for tp in m.consumer.assignment()}
        for m in members
        if m.consumer.member_id is not None and not m.consumer.crashed and not m.consumer._closed
    }


def assert_disjoint(members) -> None:
    seen: dict = {}
    for name, parts in local(members).items():
        for tp in parts:
            assert tp not in seen, f"{tp} held by {seen[tp]} and {name} at once"
            seen[tp] = name


def test_the_broker_computes_the_target_and_partitions_move_on_heartbeats():
    sim, (a, b) = world()
    sim.run(until=0.01)
    group = sim.group("g")
    assert isinstance(group, ConsumerGroup) and group.protocol_type == "consumer"
    # a joined first and got everything; b's target waits for a to give half of it up
    assert group.group_epoch == 2
    assert group.target[a.member_id] == [("t", 0), ("t", 1)]
    assert group.target[b.member_id] == [("t", 2), ("t", 3)]
    assert len(a.consumer.assignment()) == 4 and b.consumer.assignment() == []
    sim.run(until=HB + 0.5)  # a's heartbeat at 5 s: it revokes on its next poll
    assert len(a.consumer.assignment()) == 2 and b.consumer.assignment() == []
    assert_disjoint([a, b])
    sim.run(until=2 * HB + 0.5)  # b's next heartbeat: the freed partitions are its
    assert len(b.consumer.assignment()) == 2
    assert group.stable()
    assert group.member_epoch == {a.member_id: 2, b.member_id: 2}
    # a kept reading t-0 and t-1 throughout: never revoked
    revoked = [r for r in sim.journal.rows("revoked") if r.actor == a.member_id]
    assert [r.detail for r in revoked] == ["[t-2,t-3]"]


def test_epoch_rows_show_each_members_epoch_and_target():
    sim, (a, _b) = world()
    sim.run(until=2 * HB + 0.5)
    table = epochs(sim, "g")
    mine = table[table.who == a.member_id]
    assert "revokes [t-2,t-3] at its next poll" in mine.what.iloc[1]
    assert mine.epoch.iloc[-1] == 2 and mine.what.iloc[-1] == "owns [t-0,t-1]; target [t-0,t-1]"
    assert list(table[table.who == "coordinator"].epoch) == [1, 2]


def test_session_timeout_is_the_brokers():
    sim, (a, _b) = world()
    sim.run(until=12.0)
    sim.crash(a)
    sim.run(until=12.0 + SESSION - 0.5)
    assert sim.journal.rows("session_expired") == []
    sim.run(until=12.0 + SESSION + 0.5)
    assert [r.detail for r in sim.journal.rows("session_expired")] == [
        "no heartbeat for 45 s (group.consumer.session.timeout.ms)"
    ]
    sim.broker_config["group.consumer.session.timeout.ms"] = "soon"
    with pytest.raises(ValueError, match="whole number"):
        sim.group("g").session_timeout()


def test_range_assignor_on_request():
    sim, members = world(workers=3, partitions=7, assignor="range")
    sim.run(until=3 * HB)
    group = sim.group("g")
    assert group.assignor == "range"
    sizes = [len(group.target[m.member_id]) for m in members]
    assert sizes == [3, 2, 2]
    assert all(group.target[m.member_id] == sorted(group.target[m.member_id]) for m in members)
    first = group.target[members[0].member_id]
    assert first == [
        ("t", 0),
        ("t", 1),
        ("t", 2),
    ]  # contiguous runs, as the range assignor deals them


def test_a_classic_member_cannot_join_a_consumer_protocol_group():
    sim, _members = world()
    sim.run(until=0.01)
    classic = sim.consumer({"group.id": "g"})
    classic.subscribe(["t"])
    with pytest.raises(KafkaException, match="consumer protocol"):
        classic.poll(0.1)


def test_static_member_under_the_consumer_protocol_keeps_its_partitions():
    sim, (a, b) = world(static=True)
    sim.run(until=12.0)
    owned = list(sim.group("g").assignment[b.member_id])
    b.stop()
    sim.run(until=14.0)
    b.restart()
    sim.run(until=30.0)
    after = [r for r in sim.journal.rows() if r.time > 12.0]
    assert [r.kind for r in after if r.kind in ("rebalanced", "revoked", "assigned")] == []
    assert [r.kind for r in after if r.kind in ("departed", "rejoined")] == ["departed", "rejoined"]
    assert sim.group("g").assignment[b.member_id] == owned


def test_a_slow_static_member_leaves_with_epoch_minus_two():
    # 20 records x 0.2 s = 4 s per batch, past max.poll.interval.ms (2 s)
    sim2 = Simulation(seed=5)
    sim2.create_topic("t", partitions=2)
    config = {
        "group.protocol": "consumer",
        "auto.offset.reset": "earliest",
        "group.instance.id": "slow",
        "max.poll.interval.ms": 2000,
    }
    slow = Member(
        sim2, "g", ["t"], name="slow", processing_time=0.2, max_poll_records=20, config=config
    )
    producer = sim2.producer()
    for i in range(100):
        producer.produce("t", key=str(i), value=b"x")
    producer.flush()
    sim2.run(until=10.0)
    kinds = [
        r.kind
        for r in sim2.journal.rows()
        if r.kind in ("departed", "evicted", "rebalanced", "rejoined")
    ]
    assert "evicted" not in kinds and kinds.count("rebalanced") == 1
    assert "departed" in kinds and "rejoined" in kinds
    assert slow.processed_total > 0


def test_classic_outputs_unchanged_by_default():
    sim = Simulation(seed=1)
    sim.create_topic("t", partitions=2)
    c = sim.consumer({"group.id": "g", "auto.offset.reset": "earliest"})
    c.subscribe(["t"])
    c.poll(0.1)
    assert type(sim.group("g")).__name__ == "Group" and sim.group("g").protocol == "eager"


# -- properties under fault schedules ------------------------------------------------------------

PROFILE = settings(
    max_examples=40 if os.environ.get("CI") else 12,
    deadline=None,
    derandomize=bool(os.environ.get("CI")),
    suppress_health_check=[HealthCheck.too_slow],
)

OPS = st.lists(
    st.tuples(
        st.sampled_from(["join", "stop", "crash", "restart", "advance", "stall"]),
        st.integers(0, 5),
        st.floats(0.1, 12.0),
    ),
    min_size=1,
    max_size=14,
)


@PROFILE
@given(seed=st.integers(0, 2**16), partitions=st.integers(1, 6), static=st.booleans(), ops=OPS)
def test_property_no_partition_held_twice_and_stable_groups_own_everything(
    seed, partitions, static, ops
):
    sim = Simulation(seed=seed)
    sim.create_topic("t", partitions=partitions)
    producer = sim.producer()
    for i in range(60):
        producer.produce("t", key=str(i), value=b"x")
    producer.flush()
    poll = {"max.poll.interval.ms": 3000}
    members = [add(sim, "w0", static, processing_time=0.01, config=poll)]

    def step(until):
        # check after every slice of time: the whole run, not just its end
        while sim.now < until - 1e-9:
            sim.run(until=min(until, sim.now + 0.5))
            assert_disjoint(members)
            group = sim.groups.get("g")
            if group is None:  # nobody has polled yet
                continue
            owners = [tp for parts in group.assignment.values() for tp in parts]
            assert len(owners) == len(set(owners))
            for m in members:
                if m.consumer.member_id in group.members and not m.consumer.crashed:
                    mine = {(tp.topic, tp.partition) for tp in m.consumer.assignment()}
                    assert mine <= set(group.assignment[m.consumer.member_id])

    for kind, which, dt in ops:
        m = members[which % len(members)]
        if kind == "join" and len(members) < 5:
            members.append(add(sim, f"w{len(members)}", static, processing_time=0.01, config=poll))
        elif kind == "stop" and m.alive:
            m.stop()
        elif kind == "crash" and m.alive:
            m.crash()
        elif kind == "restart" and not m.alive:
            m.restart()
        elif kind == "stall" and m.alive:
            m.processing_time = 0.2  # 20 records take 4 s: past max.poll.interval.ms (3 s)
        step(sim.now + dt)
    for m in members:
        m.processing_time = 0.01
    # left alone (no faults) for longer than a session and a few heartbeats, the group settles
    step(sim.now + SESSION + 4 * HB)
    group = sim.groups.get("g")
    if group is None:
        return
    assert group.stable()
    live = [m for m in members if m.alive]
    owned = {tp for parts in group.assignment.values() for tp in parts}
    if any(m.consumer.member_id in group.members for m in live):
        assert owned == {("t", p) for p in range(partitions)}
    for m in live:
        assert group.member_epoch[m.consumer.member_id] == group.group_epoch


def test_the_board_replays_owners_member_epochs_and_where_partitions_are_headed():
    from eda_sim.broker.group_consumer import epoch_state
    from eda_sim.views import board

    sim, (a, b) = world()
    sim.run(until=2 * HB + 0.5)
    # between a's revocation (its first poll after 5 s) and b's next heartbeat (10 s)
    mid = board(sim, "t", time=HB + 2.0)
    assert list(mid.owner) == [a.member_id, a.member_id, "", ""]
    group_epoch, epochs_, target = epoch_state(sim, "g", HB + 2.0)
    assert group_epoch == 2 and epochs_[a.member_id] == 2 and epochs_[b.member_id] == 2
    assert target[("t", 2)] == target[("t", 3)] == b.member_id
    done = board(sim, "t")
    assert list(done.owner) == [a.member_id] * 2 + [b.member_id] * 2
