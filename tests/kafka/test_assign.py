"""Manual assignment: ``assign``, ``unassign``, ``incremental_assign``, ``incremental_unassign``, and
``offsets_for_times``, as confluent-kafka has them and librdkafka does them.

A consumer that assigns its partitions by hand is in no group: no rebalance,
no join; each partition starts where the ``TopicPartition``'s offset says;
its commits go to ``group.id`` with generation -1 and no member id, which
Kafka's coordinator accepts only while the group has no members. The error
names and words are librdkafka's (``rdkafka_assignment.c``, and measured with
confluent-kafka 2.16).
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eda_sim import Simulation
from eda_sim.core.replay import state_at
from eda_sim.kafka import (
    OFFSET_BEGINNING,
    OFFSET_END,
    OFFSET_INVALID,
    OFFSET_STORED,
    KafkaException,
    TopicPartition,
)
from eda_sim.kafka.message import EPOCH_MS

TP = TopicPartition


def world(records=(10, 10), seed=1, **sim_kwargs):
    sim = Simulation(seed=seed, name="assign", **sim_kwargs)
    sim.create_topic("t", partitions=len(records))
    p = sim.producer()
    for part, n in enumerate(records):
        for i in range(n):
            p.produce("t", value=f"p{part}-{i}", partition=part)
    p.flush()
    return sim


def consumer(sim, **conf):
    settings_ = {"group.id": "g", "enable.auto.commit": False}
    settings_.update({k.replace("_", "."): v for k, v in conf.items()})
    return sim.consumer(settings_)


def drain(c, polls=20):
    out = []
    for _ in range(polls):
        got = c.consume(100, 0.1)
        out += got
        if not got:
            break
    return [(m.partition(), m.offset()) for m in out if m.error() is None]


def error_of(fn) -> tuple:
    with pytest.raises(KafkaException) as info:
        fn()
    err = info.value.args[0]
    return err.name(), err.str()


# -- where an assignment starts ---------------------------------------------------------------------


def test_each_partition_starts_where_its_offset_says():
    sim = world((10, 10, 10, 10))
    c = consumer(sim)
    c.assign(
        [TP("t", 0, 4), TP("t", 1, OFFSET_BEGINNING), TP("t", 2, OFFSET_END), TP("t", 3, -2003)]
    )
    assert [tp.offset for tp in c.position([TP("t", p) for p in range(4)])] == [4, 0, 10, 7]
    got = drain(c)
    firsts = {p: min(o for q, o in got if q == p) for p in (0, 1, 3)}
    assert firsts == {0: 4, 1: 0, 3: 7} and not [o for q, o in got if q == 2]
    # assignment() reports the start offsets it was given, as confluent-kafka does
    assert [(tp.partition, tp.offset) for tp in c.assignment()] == [
        (0, 4),
        (1, OFFSET_BEGINNING),
        (2, OFFSET_END),
        (3, -2003),
    ]
    assert c.memberid() is None and "g" not in sim.groups  # no join, no rebalance
    assert not sim.journal.rows("rebalanced") and not sim.journal.rows("joined")


@pytest.mark.parametrize("offset", [OFFSET_STORED, OFFSET_INVALID])
@pytest.mark.parametrize("reset,start", [("earliest", 0), ("latest", 10)])
def test_stored_or_invalid_starts_at_the_committed_offset_else_auto_offset_reset(
    offset, reset, start
):
    sim = world((10, 10))
    first = consumer(sim)
    first.assign([TP("t", 0, 6)])
    first.commit(offsets=[TP("t", 0, 6)], asynchronous=False)
    first.close()
    c = consumer(sim, auto_offset_reset=reset)
    c.assign([TP("t", 0, offset), TP("t", 1, offset)])
    assert [tp.offset for tp in c.position([TP("t", 0), TP("t", 1)])] == [6, start]


def test_an_offset_outside_the_log_resets_on_the_first_fetch():
    sim = world((10,))
    c = consumer(sim, auto_offset_reset="earliest")
    c.assign([TP("t", 0, 50)])
    assert drain(c)[0] == (0, 0)
    assert sim.journal.rows("offset_reset")[-1].detail.startswith("offset 50 out of range")


@settings(max_examples=25, deadline=None)
@given(
    n=st.integers(0, 40),
    start=st.integers(0, 40),
    seek=st.one_of(st.none(), st.integers(0, 40)),
    min_msgs=st.sampled_from([1, 3, 100000]),
)
def test_assign_then_poll_hands_out_every_record_from_the_start_once(n, start, seek, min_msgs):
    sim = world((n,))
    c = consumer(sim, queued_min_messages=min_msgs)
    start = min(start, n)
    c.assign([TP("t", 0, start)])
    got = []
    if seek is not None:
        got = [o for _, o in drain(c, polls=1)][:1]  # read a little, then seek
        seek = min(seek, n)
        c.seek(TP("t", 0, seek))
    got_after = [o for _, o in drain(c, polls=50)]
    from_ = start if seek is None else seek
    assert got_after == list(range(from_, n))
    assert got == ([] if seek is None else list(range(start, min(start + 1, n))))


# -- changing the assignment --------------------------------------------------------------------


def test_assign_replaces_the_assignment_and_unassign_clears_it():
    sim = world((5, 5, 5))
    c = consumer(sim)
    c.assign([TP("t", 0), TP("t", 1)])
    c.assign([TP("t", 2, 0)])
    assert [tp.partition for tp in c.assignment()] == [2]
    assert drain(c) == [(2, o) for o in range(5)]
    c.unassign()
    assert c.assignment() == [] and c.poll(0.1) is None
    c.unassign()  # nothing assigned: no error, as librdkafka


def test_incremental_assign_adds_and_incremental_unassign_removes():
    sim = world((3, 3, 3))
    c = consumer(sim)
    c.incremental_assign([TP("t", 0, 0)])
    c.incremental_assign([TP("t", 2, 1)])
    assert [tp.partition for tp in c.assignment()] == [0, 2]
    assert sorted(drain(c)) == [(0, 0), (0, 1), (0, 2), (2, 1), (2, 2)]
    c.incremental_unassign([TP("t", 0)])
    assert [tp.partition for tp in c.assignment()] == [2]
    assert c.position([TP("t", 0)])[0].offset == OFFSET_INVALID


def test_librdkafkas_refusals_by_name_and_words():
    sim = world((3, 3, 3))
    c = consumer(sim)
    c.assign([TP("t", 0)])
    assert error_of(lambda: c.incremental_assign([TP("t", 0)])) == (
        "_CONFLICT",
        "t [0] is already part of the current assignment",
    )
    assert error_of(lambda: c.incremental_assign([TP("t", 1), TP("t", 1)])) == (
        "_INVALID_ARG",
        "Duplicate t [1] in input list",
    )
    assert error_of(lambda: c.incremental_assign([TP("t", 1, -5)])) == (
        "_INVALID_ARG",
        "t [1] has invalid start offset -5",
    )
    assert error_of(lambda: c.incremental_unassign([TP("t", 2)])) == (
        "_INVALID_ARG",
        "t [2] can't be unassigned since it is not in the current assignment",
    )
    assert [tp.partition for tp in c.assignment()] == [0]  # refused calls change nothing
    # assign() clears first, then refuses the bad list: nothing is assigned afterwards
    name, _ = error_of(lambda: c.assign([TP("t", 1, -5)]))
    assert name == "_INVALID_ARG" and c.assignment() == []
    assert error_of(lambda: c.incremental_unassign([TP("t", 0)])) == (
        "_INVALID_ARG",
        "Can't subtract from empty assignment",
    )
    with pytest.raises(TypeError, match="TopicPartition"):
        c.assign(["t"])


def test_an_unknown_partition_is_refused_with_the_topics_named():
    sim = world((3,))
    c = consumer(sim)
    name, why = error_of(lambda: c.assign([TP("t", 5)]))
    assert name == "_UNKNOWN_PARTITION" and "topics: t" in why


# -- commits of a consumer outside the group ---------------------------------------------------------


def test_a_simple_consumer_commits_to_an_empty_group_and_a_second_resumes_there():
    sim = world((10,))
    a = consumer(sim)
    a.assign([TP("t", 0, OFFSET_BEGINNING)])
    got = drain(a)
    assert a.commit(asynchronous=False) == [TP("t", 0, 10)]
    a.incremental_unassign([TP("t", 0)])
    b = consumer(sim)
    b.assign([TP("t", 0, OFFSET_STORED)])
    assert got[-1] == (0, 9) and b.position([TP("t", 0)])[0].offset == 10
    assert b.committed([TP("t", 0)])[0].offset == 10


@pytest.mark.parametrize("protocol", ["classic", "consumer"])
def test_a_simple_consumers_commit_is_refused_while_the_group_has_members(protocol):
    sim = world((10, 10))
    member = consumer(sim, auto_offset_reset="earliest", group_protocol=protocol)
    member.subscribe(["t"])
    member.poll(0.1)
    loner = consumer(sim)
    loner.assign([TP("t", 1, 0)])
    drain(loner)
    name, why = error_of(lambda: loner.commit(asynchronous=False))
    assert name == "UNKNOWN_MEMBER_ID" and "only members may commit" in why
    assert sim.group("g").committed.get(("t", 1)) is None
    member.close()
    assert loner.commit(asynchronous=False) == [TP("t", 1, 10)]  # empty now: accepted


def test_auto_commit_commits_the_stored_offsets_on_unassign_and_on_its_timer():
    sim = world((10, 10))
    c = consumer(sim, enable_auto_commit=True, auto_commit_interval_ms=1000)
    c.assign([TP("t", 0, 0), TP("t", 1, 0)])
    c.consume(3, 0.1)
    c.incremental_unassign([TP("t", 0)])  # librdkafka commits what leaves the assignment
    assert sim.group("g").committed == {("t", 0): 3}
    drain(c)
    sim.run(until=sim.now + 1.5)
    assert sim.group("g").committed == {("t", 0): 3, ("t", 1): 10}


# -- a group member ------------------------------------------------------------------------------------


def member(sim, strategy, **callbacks):
    c = consumer(sim, auto_offset_reset="earliest", partition_assignment_strategy=strategy)
    c.subscribe(["t"], **callbacks)
    return c


def test_a_member_cannot_change_its_assignment_outside_a_rebalance():
    sim = world((3, 3))
    c = member(sim, "range")
    c.poll(0.1)
    name, why = error_of(lambda: c.assign([TP("t", 0)]))
    assert name == "_STATE" and "unsubscribe() first" in why
    c.unsubscribe()
    c.assign([TP("t", 0)])
    assert [tp.partition for tp in c.assignment()] == [0]


@pytest.mark.parametrize(
    "strategy,call,words",
    [
        ("range", "incremental_assign", "using assign() when rebalance protocol type is EAGER"),
        (
            "cooperative-sticky",
            "assign",
            "Failed to set assignment: Local: Erroneous state (Changes to the current assignment "
            "must be made using incremental_assign() or incremental_unassign() when rebalance "
            "protocol type is COOPERATIVE)",
        ),
    ],
)
def test_the_wrong_method_for_the_groups_protocol_is_librdkafkas_state_error(strategy, call, words):
    sim = world((3, 3))
    seen = []

    def on_assign(c, parts):
        try:
            getattr(c, call)(parts)
        except KafkaException as exc:
            seen.append((exc.args[0].name(), exc.args[0].str()))

    c = member(sim, strategy, on_assign=on_assign)
    c.poll(0.1)
    assert len(seen) == 1 and seen[0][0] == "_STATE" and words in seen[0][1]


def cooperative_callbacks(log):
    """A learner's real-client callbacks for cooperative-sticky, as confluent-kafka's docs write them."""

    def on_assign(c, parts):
        log.append(("assign", sorted(p.partition for p in parts)))
        c.incremental_assign(parts)

    def on_revoke(c, parts):
        log.append(("revoke", sorted(p.partition for p in parts)))
        c.commit(asynchronous=False)
        c.incremental_unassign(parts)

    return {"on_assign": on_assign, "on_revoke": on_revoke}


def test_cooperative_callback_code_runs_unchanged_and_nothing_is_read_twice():
    sim = world((6, 6, 6))
    log = []
    a = member(sim, "cooperative-sticky", **cooperative_callbacks(log))
    read = []
    for m in a.consume(4, 0.1):  # some of the backlog, stored for the revoke's commit
        read.append((m.partition(), m.offset()))
    b = member(sim, "cooperative-sticky", **cooperative_callbacks([]))
    first = b.poll(0.1)  # b joins: a gives one partition up inside on_revoke
    read += [(first.partition(), first.offset())] if first is not None else []
    for _ in range(10):
        for c in (a, b):
            read += [(m.partition(), m.offset()) for m in c.consume(100, 0.1) if m.error() is None]
    assert sorted(read) == sorted((p, o) for p in range(3) for o in range(6))
    assert ("revoke", [2]) in log or ("revoke", [0]) in log
    assert len(a.assignment()) + len(b.assignment()) == 3


def test_offsets_given_to_assign_inside_on_assign_are_where_reading_starts():
    sim = world((10, 10))

    def on_assign(c, parts):
        for p in parts:
            p.offset = 7
        c.assign(parts)

    c = member(sim, "range", on_assign=on_assign)
    got = drain(c)
    assert sorted(got) == [(p, o) for p in (0, 1) for o in (7, 8, 9)]


def test_subscribe_after_assign_hands_the_partitions_over_to_the_group():
    sim = world((4, 4))
    c = consumer(sim, auto_offset_reset="earliest")
    c.assign([TP("t", 0, 2)])
    c.subscribe(["t"])
    c.poll(0.1)
    assert c.memberid() is not None
    assert [tp.partition for tp in c.assignment()] == [0, 1]
    rows = [r.kind for r in sim.journal.rows() if r.kind in ("assigned", "revoked")]
    assert rows == ["assigned", "revoked", "assigned"]


# -- the journal: the board shows a manually assigned consumer --------------------------------------


def test_replay_shows_the_manual_owner_its_position_and_fetch_queue():
    sim = world((10, 10))
    c = consumer(sim, queued_min_messages=4)
    c.assign([TP("t", 0, 3)])
    c.consume(2, 0.1)
    s = state_at(sim)
    actor = sim.journal.rows("assigned")[-1].actor
    assert actor == "rdkafka#consumer-1"
    assert s.owner["g"] == {("t", 0): actor}
    assert s.positions[("g", actor, "t", 0)] == 5
    assert (
        s.fetched[("g", actor, "t", 0)]
        == c.stats()["topics"]["t"]["partitions"]["0"]["next_offset"]
    )
    c.unassign()
    s = state_at(sim)
    assert s.owner["g"] == {} and ("g", actor, "t", 0) not in s.positions


def test_a_crashed_manual_consumer_owns_nothing_after_restart():
    sim = world((10,))
    c = consumer(sim)
    c.assign([TP("t", 0, 0)])
    c.consume(3, 0.1)
    sim.crash(c)
    sim.restart(c)
    assert c.assignment() == [] and state_at(sim).owner["g"] == {}


# -- offset retention of a group only assign() consumers commit to -----------------------------------


def test_a_standalone_groups_offsets_expire_each_from_its_own_last_commit():
    sim = world(
        (5, 5),
        broker_config={
            "offsets.retention.minutes": 1,
            "offsets.retention.check.interval.ms": 1000,
        },
    )
    c = consumer(sim)
    c.assign([TP("t", 0, 0), TP("t", 1, 0)])
    c.commit(offsets=[TP("t", 0, 2)], asynchronous=False)
    sim.run(until=30.0)
    c.commit(offsets=[TP("t", 1, 4)], asynchronous=False)
    sim.run(until=59.0)
    assert sim.group("g").committed == {("t", 0): 2, ("t", 1): 4}
    sim.run(until=62.0)
    assert sim.group("g").committed == {("t", 1): 4}  # t-0's minute is up, t-1's is not
    row = sim.journal.rows("offsets_expired")[0]
    assert row.data == (("t", 0),) and "no member ever joined" in row.detail
    sim.run(until=92.0)
    assert sim.group("g").committed == {}


def test_a_group_that_had_members_expires_from_when_it_emptied_however_recent_the_commit():
    sim = world(
        (5,),
        broker_config={
            "offsets.retention.minutes": 1,
            "offsets.retention.check.interval.ms": 1000,
        },
    )
    m = member(sim, "range")
    m.poll(0.1)
    m.close()  # empty from ~0 s: Kafka keeps the protocol type, and counts from here
    c = consumer(sim)
    sim.run(until=40.0)
    c.assign([TP("t", 0, 0)])
    c.commit(offsets=[TP("t", 0, 3)], asynchronous=False)
    sim.run(until=62.0)
    assert sim.group("g").committed == {}


# -- offsets_for_times --------------------------------------------------------------------------------


def test_offsets_for_times_finds_the_first_record_at_or_after_a_timestamp():
    sim = Simulation(seed=1, name="times")
    sim.create_topic("t", partitions=2)
    p = sim.producer()
    stamps = [1000, 1100, 1100, 1300, 1200, 1500]  # not in order: the first at or after wins
    for ts in stamps:
        p.produce("t", value="v", partition=0, timestamp=EPOCH_MS + ts)
    p.flush()
    c = consumer(sim)
    asks = [0, 1000, 1050, 1100, 1150, 1250, 1400, 1500, 1501]
    got = c.offsets_for_times([TP("t", 0, EPOCH_MS + a) for a in asks], timeout=1.0)
    assert [tp.offset for tp in got] == [0, 0, 1, 1, 3, 3, 5, 5, -1]
    special = c.offsets_for_times([TP("t", 0, -1), TP("t", 0, -2), TP("t", 0, -3), TP("t", 1, 0)])
    assert [tp.offset for tp in special] == [6, 0, 5, -1]
    # the message's own timestamp finds it
    c.assign([TP("t", 0, 3)])
    msg = c.poll(0.1)
    assert msg.offset() == 3 and msg.timestamp()[1] == EPOCH_MS + 1300
    assert c.offsets_for_times([TP("t", 0, msg.timestamp()[1])])[0].offset == 3
    name, _ = error_of(lambda: c.offsets_for_times([TP("t", 9, 0)]))
    assert name == "_UNKNOWN_PARTITION"


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(0, 50), max_size=20), st.integers(-1, 55))
def test_offsets_for_times_is_the_earliest_offset_with_a_timestamp_at_least_the_one_asked(
    stamps, ask
):
    sim = Simulation(seed=1, name="times-prop")
    sim.create_topic("t", partitions=1)
    p = sim.producer()
    for ts in stamps:
        p.produce("t", value="v", partition=0, timestamp=EPOCH_MS + 1000 + ts)
    p.flush()
    c = consumer(sim)
    if ask < 0:
        want = len(stamps)  # -1: the end
        got = c.offsets_for_times([TP("t", 0, -1)])[0].offset
    else:
        later = [i for i, ts in enumerate(stamps) if ts >= ask]
        want = later[0] if later else -1
        got = c.offsets_for_times([TP("t", 0, EPOCH_MS + 1000 + ask)])[0].offset
    assert got == want


def test_on_assign_gets_partitions_without_offsets_as_librdkafka_hands_them():
    sim = world((5, 5))
    given = []
    c = member(sim, "range", on_assign=lambda _c, parts: given.extend(p.offset for p in parts))
    c.poll(0.1)
    assert given == [OFFSET_INVALID, OFFSET_INVALID]


def test_a_transaction_commits_a_manual_consumers_offsets_even_into_a_group_with_members():
    # Kafka checks nothing of a TxnOffsetCommit without member id and generation (-1), even while
    # the group has members: unlike a plain commit, which only members may make there
    sim = world((6, 6))
    m = member(sim, "range")
    m.poll(0.1)
    c = consumer(sim)
    c.assign([TP("t", 1, 0)])
    drain(c)
    meta = c.consumer_group_metadata()
    assert (meta.generation_id, meta.member_id) == (-1, None)
    p = sim.producer({"transactional.id": "copier"})
    p.init_transactions()
    p.begin_transaction()
    p.send_offsets_to_transaction(c.position([TP("t", 1)]), meta)
    p.commit_transaction()
    assert sim.group("g").committed[("t", 1)] == 6


def test_on_lost_may_give_the_partitions_up_with_incremental_unassign():
    sim = world((4, 4))
    seen = []

    def on_lost(c, parts):
        c.incremental_unassign(parts)  # the real client's cooperative on_lost
        seen.append((sorted(p.partition for p in parts), c.assignment()))

    c = consumer(
        sim,
        auto_offset_reset="earliest",
        partition_assignment_strategy="cooperative-sticky",
        max_poll_interval_ms=1000,
        session_timeout_ms=6000,
    )
    c.subscribe(["t"], on_lost=on_lost)
    c.poll(0.1)
    sim.run(until=sim.now + 2.0)  # no poll for max.poll.interval.ms: evicted, partitions lost
    assert seen == [([0, 1], [])]
    got = c.poll(0.1)  # the eviction's error, then it rejoins and reads again
    assert got is not None and got.error().name() == "_MAX_POLL_EXCEEDED"
