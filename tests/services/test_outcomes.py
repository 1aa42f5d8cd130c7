"""One terminal outcome per event, whatever the fault schedule (issue 19).

Reorder windows, poison and flaky events, instances crashing, restarting, joining, leaving and
stopping: with ``idempotent=True`` each event id ends exactly one way (handled, dead-lettered,
late, or lost under ``commit="before"``), the dead-letter and late topics hold one copy each, and
``reconcile()`` agrees with a count made from those topics. Without idempotence redeliveries may
repeat work (at-least-once), and ``reconcile()`` still agrees with the topics.
"""

import os
from collections import Counter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eda_sim import Simulation
from eda_sim.services.events import Event
from eda_sim.services.load import DelayedSource
from eda_sim.services.retries import Retry, TransientError, dead_letters
from eda_sim.services.service import Service, reconcile, spans_frame
from eda_sim.testing.worlds import SHORT_SESSIONS, churn

CI = bool(os.environ.get("CI"))
TERMINAL = ("handled", "dead_lettered", "late")

faults = st.lists(
    st.tuples(
        st.sampled_from(["crash", "restart", "add", "remove", "stop"]),
        st.floats(0.0, 3.0),
        st.integers(0, 3),
    ),
    max_size=8,
)


def _world(seed, n, poison, flaky, window, ops, partitions, idempotent, commit):
    sim = Simulation(seed=seed, name="outcomes", broker_config=SHORT_SESSIONS)
    sim.create_topic("in", partitions=partitions)
    DelayedSource(
        sim,
        "src",
        "in",
        [{"time": i * 0.04, "type": "T", "i": i, "k": i % 3} for i in range(n)],
        key="k",
        delay=lambda r: r.choice([0.0, 0.0, 0.15, 0.5]),
    )
    tries = Counter()

    def handle(event, ctx):
        i = event.payload["i"]
        tries[i] += 1
        if i in poison or (i in flaky and tries[i] == 1):
            raise TransientError("poison" if i in poison else "fails once")

    svc = Service(
        sim,
        "svc",
        consumes="in",
        handlers={"T": handle},
        instances=2,
        retry=Retry(attempts=2, backoff=0.02),
        idempotent=idempotent,
        reorder=window,
        processing_time=0.02,
        max_in_flight=5,
        commit=commit,
        config={"session.timeout.ms": 200},
    )

    churn(sim, svc, ops)
    sim.at(4.0, svc.add_instance)  # whatever happened, one instance is there to finish the work
    sim.run(until=15)
    return sim, svc


def _offsets_by_id(sim):
    return {
        Event.from_json(r.value).id: (r.partition, r.offset)
        for log in sim.topic("in").partitions
        for r in log.records()
    }


@settings(
    max_examples=200 if CI else 25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(1, 30),
    poison=st.sets(st.integers(0, 29), max_size=3),
    flaky=st.sets(st.integers(0, 29), max_size=5),
    window=st.sampled_from([None, 0.1, 0.4]),
    ops=faults,
    partitions=st.integers(1, 3),
    idempotent=st.booleans(),
    commit=st.sampled_from(["after", "after", "before"]),
)
def test_each_event_ends_one_way_and_reconcile_agrees_with_the_topics(
    seed, n, poison, flaky, window, ops, partitions, idempotent, commit
):
    sim, svc = _world(seed, n, poison, flaky, window, ops, partitions, idempotent, commit)
    recon = reconcile(sim, svc).iloc[0]
    assert recon.balanced and recon.in_flight == 0
    assert recon.lost == 0 or commit == "before"

    where = _offsets_by_id(sim)
    spans = spans_frame(sim, "svc")
    terminal = spans[spans.outcome.isin(TERMINAL)]
    ended = terminal.groupby("event_id").outcome.agg(list)

    # The dead-letter and late topics, counted from the topics themselves.
    dlq = dead_letters(sim, "in.DLT") if "in.DLT" in sim.broker.topics else None
    dead = set() if dlq is None else set(zip(dlq.original_partition, dlq.original_offset))
    late_ids = (
        [
            Event.from_json(r.value).id
            for log in sim.topic("in.late").partitions
            for r in log.records()
        ]
        if "in.late" in sim.broker.topics
        else []
    )
    late = {where[i] for i in late_ids} - dead
    assert recon.dead_lettered == len(dead)
    assert recon.late == len(late)

    if idempotent:
        # Exactly one terminal outcome per event id; the events with none are the lost ones.
        assert all(len(outcomes) == 1 for outcomes in ended), ended[ended.map(len) > 1]
        assert len(ended) + recon.lost == n
        # No copies: one dead letter and one late record per event at most, never both.
        assert dlq is None or not dlq.duplicated(["original_partition", "original_offset"]).any()
        assert len(late_ids) == len(set(late_ids))
        assert not set(late_ids) & {i for i, pos in where.items() if pos in dead}
        # The inbox holds each settled event once, with how it ended.
        table = svc.inbox.table()
        assert table.event_id.is_unique
        assert Counter(table.outcome) == Counter(o[0] for o in ended)
    else:
        # At-least-once: an event may be handled again after a redelivery, yet every one ended.
        assert len(ended) + recon.lost >= n - 0  # nothing is in flight, so each id ended somehow
        assert set(ended.index) | {i for i in where if where[i] in dead} <= set(where)


def _crash_and_restart(items, handle, *, crash, restart, until, **service):
    """One partition of ``items`` read by service ``svc``, whose instance crashes and restarts once."""
    sim = Simulation(seed=1, name="outcomes", broker_config=SHORT_SESSIONS)
    sim.create_topic("in", partitions=1)
    DelayedSource(sim, "src", "in", items)
    svc = Service(
        sim,
        "svc",
        consumes="in",
        handlers={"T": handle},
        config={"session.timeout.ms": 100},
        **service,
    )
    sim.crash(svc.instances[0], at=crash)
    sim.restart(svc.instances[0], at=restart)
    sim.run(until=until)
    return sim, svc


def test_a_poison_event_redelivered_to_an_idempotent_service_is_dead_lettered_once():
    # The case: a crash after the dead letter went out but before the commit delivers the
    # poison event again. The inbox now covers every settled event, not only handled ones.
    def handle(event, ctx):
        if event.payload["i"] == 0:
            raise ValueError("poison")

    items = [{"time": 0.0, "type": "T", "i": i} for i in range(5)]
    # crash at 0.12: the poison was dead-lettered at 0.05, nothing committed yet
    sim, svc = _crash_and_restart(
        items,
        handle,
        crash=0.12,
        restart=0.5,
        until=3,
        idempotent=True,
        processing_time=0.05,
        max_in_flight=5,
    )
    assert len(dead_letters(sim, "in.DLT")) == 1
    recon = reconcile(sim, svc).iloc[0]
    assert (recon.dead_lettered, recon.processed, recon.balanced) == (1, 4, True)
    skipped = [r for r in sim.journal.rows() if r.kind == "duplicate_skipped"]
    assert any("(dead_lettered)" in r.detail for r in skipped)
    assert svc.inbox.outcome(spans_frame(sim, "svc").event_id[0]) == "dead_lettered"


def test_reconcile_counts_a_handled_then_dead_lettered_offset_where_its_copy_went():
    # Without idempotence a redelivered event can end differently the second time (at-least-once);
    # reconcile() counts the offset once, as dead-lettered, which is where its copy is.
    seen = Counter()

    def handle(event, ctx):
        seen[event.payload["i"]] += 1
        if event.payload["i"] == 1 and seen[1] > 1:
            raise ValueError("the second time it fails")

    items = [{"time": 0.0, "type": "T", "i": i} for i in range(3)]
    # crash at 0.12: 0 and 1 handled, nothing committed yet
    sim, svc = _crash_and_restart(
        items, handle, crash=0.12, restart=0.5, until=3, processing_time=0.05, max_in_flight=5
    )
    recon = reconcile(sim, svc).iloc[0]
    assert seen[1] == 2 and len(dead_letters(sim, "in.DLT")) == 1
    assert (recon.processed, recon.dead_lettered, recon.balanced) == (2, 1, True)


def _late_then_poison(idempotent):
    # Offset 2 (event time 0.125) arrives after offset 0 (0.25) was released: late, sent to in.late.
    # Offset 1 is still held, so the stored offset stays at 1; a crash then delivers 1 and 2 again
    # to a fresh reorder buffer, where 2 is no longer late: it is handled, and it is poison.
    items = [
        {"time": 0.25, "type": "T", "i": 0},
        {"time": 1.0, "type": "T", "i": 1},
        {"time": 0.125, "type": "T", "i": 2, "arrival": 1.25},
    ]

    def handle(event, ctx):
        if event.payload["i"] == 2:
            raise ValueError("poison")

    # crash at 1.3: after the late copy went out, before offset 1 is released
    sim, svc = _crash_and_restart(
        items,
        handle,
        crash=1.3,
        restart=1.5,
        until=4,
        reorder=0.5,
        idempotent=idempotent,
        processing_time=0.02,
    )
    late = [
        Event.from_json(r.value).payload["i"]
        for log in sim.topic("in.late").partitions
        for r in log.records()
    ]
    dlt = sim.topic("in.DLT").partitions[0].records() if "in.DLT" in sim.broker.topics else []
    return sim, svc, late, dlt


def test_an_offset_sent_late_then_dead_lettered_after_a_redelivery_counts_once():
    # At-least-once: the two deliveries end differently and both copies exist. reconcile() counts
    # the offset once, as dead-lettered (where the later copy went), and still balances.
    sim, svc, late, dlt = _late_then_poison(idempotent=False)
    ended = spans_frame(sim, "svc").query("offset == 2").outcome.tolist()
    assert ended == ["late", "dead_lettered"] and late == [2] and len(dlt) == 1
    recon = reconcile(sim, svc).iloc[0]
    assert (recon.processed, recon.dead_lettered, recon.late, recon.balanced) == (2, 1, 0, True)


def test_an_idempotent_service_keeps_the_late_outcome_across_a_redelivery():
    # With idempotent=True the inbox remembers that offset 2 ended late: the redelivery is skipped
    # as a duplicate, so it is never dead-lettered and counts once, as late.
    sim, svc, late, dlt = _late_then_poison(idempotent=True)
    ended = spans_frame(sim, "svc").query("offset == 2").outcome.tolist()
    assert ended == ["late", "duplicate"] and late == [2] and dlt == []
    assert svc.inbox.outcome("evt-000003") == "late"
    recon = reconcile(sim, svc).iloc[0]
    assert (recon.processed, recon.dead_lettered, recon.late, recon.balanced) == (2, 0, 1, True)


def test_dead_letters_refuses_a_topic_that_holds_no_dead_letters_and_names_those_that_do():
    import pytest

    sim = Simulation(seed=1, name="outcomes", broker_config=SHORT_SESSIONS)
    sim.create_topic("in", partitions=1)
    DelayedSource(sim, "src", "in", [{"time": 0.0, "type": "T", "i": 0}])

    def poison(event, ctx):
        raise ValueError("poison")

    Service(sim, "svc", consumes="in", handlers={"T": poison})
    sim.run(until=1)
    with pytest.raises(ValueError, match=r"'in' is not a dead-letter topic.*here: in.DLT"):
        dead_letters(sim, "in")
    assert len(dead_letters(sim, "in.DLT")) == 1
    p = sim.producer()  # someone writes a record without the headers into the DLT
    p.produce("in.DLT", value="stray")
    p.flush()
    table = dead_letters(sim, "in.DLT")
    assert len(table) == 2 and table.original_offset.isna().sum() == 1
