"""ShareGroup.frame(): per share-partition, where each record a share group has seen stands."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eda_sim.broker.share_group import share_group
from eda_sim.kafka.share_consumer import AcknowledgeType, IllegalStateException, ShareConsumer
from eda_sim.testing.worlds import filled, topics

SEGMENTS = ["accepted", "rejected", "archived", "acquired", "available"]
ACKS = [AcknowledgeType.ACCEPT, AcknowledgeType.RELEASE, AcknowledgeType.REJECT]


def world(records=20, partitions=2, limit=2):
    sim = topics({"t": partitions}, seed=1)
    config = {"share.auto.offset.reset": "earliest", "share.delivery.count.limit": limit}
    share_group(sim, "g", config)
    return filled(sim, "t", records, key=lambda i: f"k{i % 5}")


def member(sim, max_records=4):
    c = ShareConsumer(
        {
            "group.id": "g",
            "share.acknowledgement.mode": "explicit",
            "max.poll.records": max_records,
        },
        sim=sim,
    )
    c.subscribe(["t"])
    return c


def test_no_rows_until_a_member_joins_then_every_record_is_available():
    sim = world()
    group = sim.share_groups["g"]
    c = member(sim)
    assert group.frame().empty  # a member joins at its first poll
    c.poll(0.1)
    sim.run(sim.now + 31.0)  # the records it took come back when their lock expires
    frame = group.frame()
    assert frame[["partition", "members", "start", "acquired"]].values.tolist() == [
        [0, 1, 0, 0],
        [1, 1, 0, 0],
    ]
    assert frame["available"].tolist() == frame["log_end"].tolist()
    assert frame["log_end"].sum() == 20
    assert frame[["accepted", "rejected", "archived"]].sum().sum() == 0


def test_acquired_until_the_lock_expires_then_available_again():
    sim = world(partitions=1)
    c = member(sim)
    held = c.poll(0.1)
    frame = sim.share_groups["g"].frame()
    assert frame.loc[0, "acquired"] == len(held) == 4
    assert frame.loc[0, "available"] == 20 - 4
    sim.run(sim.now + 31.0)  # share.record.lock.duration.ms: 30 s
    frame = sim.share_groups["g"].frame()
    assert frame.loc[0, "acquired"] == 0 and frame.loc[0, "available"] == 20


def test_accept_moves_the_start_and_reject_archives():
    sim = world(partitions=1)
    c = member(sim)
    first, second, *rest = c.poll(0.1)
    c.acknowledge(first, AcknowledgeType.ACCEPT)
    c.acknowledge(second, AcknowledgeType.REJECT)
    for m in rest:
        c.acknowledge(m, AcknowledgeType.RELEASE)
    c.commit_sync()
    row = sim.share_groups["g"].frame().iloc[0]
    assert (row["start"], row["accepted"], row["rejected"], row["acquired"]) == (2, 1, 1, 0)
    assert row["available"] == 18


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.lists(st.sampled_from([0, 1, 2, None]), max_size=4), min_size=1, max_size=8),
    st.integers(1, 4),
)
def test_every_record_is_in_exactly_one_segment(rounds, members):
    """Whatever members acknowledge (or leave unacknowledged), the segments add up to the log."""
    sim = world(records=20, partitions=2)
    consumers = [member(sim) for _ in range(members)]
    for i, acks in enumerate(rounds):
        c = consumers[i % members]
        try:
            msgs = c.poll(0.1)
        except IllegalStateException:  # explicit mode: the last poll's records are not all settled
            continue
        for m, ack in zip(msgs, acks + [None] * len(msgs)):
            if ack is not None:
                c.acknowledge(m, ACKS[ack])
        sim.run(sim.now + 1.0)
    group = sim.share_groups["g"]
    frame = group.frame()
    assert (frame[SEGMENTS].sum(axis=1) == frame["log_end"]).all()
    assert frame[["accepted", "rejected", "archived"]].sum().sum() == len(group.outcomes)
    now = group.in_flight()
    assert frame["acquired"].tolist() == [now[("t", p)]["ACQUIRED"] for p in (0, 1)]
    assert frame["start"].tolist() == [now[("t", p)]["spso"] for p in (0, 1)]


def test_a_released_record_holds_the_start_back_and_what_is_settled_after_it_counts_once():
    sim = world(partitions=1)
    c = member(sim)
    first, *rest = c.poll(0.1)
    c.acknowledge(first, AcknowledgeType.RELEASE)
    for m in rest:
        c.acknowledge(m, AcknowledgeType.ACCEPT)
    c.commit_sync()
    row = sim.share_groups["g"].frame().iloc[0]
    assert (row["start"], row["accepted"], row["acquired"], row["available"]) == (0, 3, 0, 17)
