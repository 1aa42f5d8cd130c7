"""Tracing: causal trees of requests across services, hop timings, and where a request is stuck."""

import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eda_sim import Simulation
from eda_sim.services.load import Source
from eda_sim.services.retries import Retry, TransientError, redrive
from eda_sim.services.service import Service
from eda_sim.services.tracing import TRACE_COLUMNS, correlation_ids, trace, trace_edges, where_stuck
from eda_sim.testing.worlds import SHORT_SESSIONS


def flow(
    seed=1,
    n=5,
    partitions=2,
    fan=None,
    crash_notifier_at=None,
    session_ms=10_000,
    poison=(),
    every=0.1,
    assistant_time=0.3,
    name="tracing",
):
    """questions -> assistant (emits `fan` answers each) -> answers -> notifier."""
    sim = Simulation(seed=seed, name=name, broker_config=SHORT_SESSIONS)
    sim.create_topic("questions", partitions=partitions)
    sim.create_topic("answers", partitions=partitions)
    fan = fan or [1] * n
    model = {"broken": True}  # "deploying the fix" sets it to False
    Source(
        sim,
        "frontend",
        "questions",
        [
            {
                "time": i * every,
                "type": "QuestionAsked",
                "user": f"u{i}",
                "fan": fan[i],
                "bad": i in poison,
            }
            for i in range(n)
        ],
        key="user",
    )

    def answer(event, ctx):
        if event.payload["bad"] and model["broken"]:
            raise TransientError("model endpoint timed out")
        for k in range(event.payload["fan"]):
            ctx.emit("answers", "AnswerGenerated", {"user": event.payload["user"], "part": k})

    Service(
        sim,
        "assistant",
        consumes="questions",
        handlers={"QuestionAsked": answer},
        produces={"answers": ["AnswerGenerated"]},
        processing_time=assistant_time,
        retry=Retry(attempts=2, backoff=0.1),
    )
    notifier = Service(
        sim,
        "notifier",
        consumes="answers",
        handlers={"AnswerGenerated": lambda e, c: None},
        processing_time=0.01,
        config={"session.timeout.ms": session_ms},
    )
    if crash_notifier_at is not None:
        sim.crash(notifier.instances[0], at=crash_notifier_at)
    return sim, notifier, model


def test_a_trace_shows_each_hop_with_producer_depth_and_timings():
    sim, _, _ = flow(n=3)
    sim.run(until=5)
    cid = correlation_ids(sim)[0]
    t = trace(sim, cid)
    assert list(t.columns) == list(TRACE_COLUMNS)
    assert t[["type", "depth", "producer", "service"]].values.tolist() == [
        ["QuestionAsked", 0, "frontend", "assistant"],
        ["AnswerGenerated", 1, "assistant", "notifier"],
    ]
    root, child = t.iloc[0], t.iloc[1]
    assert root.event_id == cid and root.causation_id == "" and child.causation_id == cid
    assert (
        root.processing_time == pytest.approx(0.3)
        and root.outcome == "handled"
        and root.attempts == 1
    )
    assert child.published_at == pytest.approx(
        root.finished
    )  # the answer goes out when the handler succeeds
    edges = trace_edges(t)
    assert edges[["parent", "child", "producer"]].values.tolist() == [
        [cid, child.event_id, "assistant"]
    ]
    assert edges.iloc[0].delay == pytest.approx(child.published_at - root.published_at)
    # 0.314 - 0.307 is 0.007000000000000006 in binary floats; the learner reads 0.007
    assert str(child.queue_time) == "0.007" and str(edges.iloc[0].delay) == "0.307"
    assert edges.iloc[0].processing_time == pytest.approx(0.3)


def test_correlation_ids_come_in_the_order_requests_started():
    sim, _, _ = flow(n=4, fan=[2, 0, 1, 1])
    sim.run(until=5)
    roots = [r for log in sim.topic("questions").partitions for r in log.records()]
    roots.sort(key=lambda r: r.timestamp)
    assert correlation_ids(sim) == [dict(r.headers)["event-id"].decode() for r in roots]
    assert (
        len(trace(sim, correlation_ids(sim)[1])) == 1
    )  # a question that caused nothing: the root alone


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    partitions=st.integers(1, 3),
    fan=st.lists(st.integers(0, 3), min_size=1, max_size=8),
    every=st.floats(0.0, 0.2),
)
def test_every_row_of_every_trace_leads_back_to_its_root(seed, partitions, fan, every):
    sim = Simulation(seed=seed, name="tracing-property")
    for t in ("in", "mid", "out"):
        sim.create_topic(t, partitions=partitions)
    Source(
        sim,
        "app",
        "in",
        [
            {"time": i * every, "type": "Asked", "u": f"u{i % 3}", "fan": f}
            for i, f in enumerate(fan)
        ],
        key="u",
    )

    def planner(event, ctx):
        for k in range(event.payload["fan"]):
            ctx.emit("mid", "StepPlanned", {"k": k})

    def worker(event, ctx):
        if event.payload["k"] % 2 == 0:
            ctx.emit("out", "StepDone", {"k": event.payload["k"]})

    def jitter(rng):
        return rng.uniform(0.001, 0.05)

    Service(
        sim,
        "planner",
        consumes="in",
        handlers={"Asked": planner},
        produces={"mid": ["StepPlanned"]},
        processing_time=jitter,
        instances=2,
    )
    Service(
        sim,
        "worker",
        consumes="mid",
        handlers={"StepPlanned": worker},
        produces={"out": ["StepDone"]},
        processing_time=jitter,
    )
    Service(
        sim,
        "sink",
        consumes="out",
        handlers={"StepDone": lambda e, c: None},
        processing_time=jitter,
    )
    sim.run(until=10)
    seen = set()
    for cid in correlation_ids(sim):
        t = trace(sim, cid)
        parent = dict(zip(t.event_id, t.causation_id))
        depth = dict(zip(t.event_id, t.depth))
        for eid in parent:
            chain, at = 0, eid
            while parent[at]:
                at = parent[at]
                chain += 1
            assert at == cid and depth[eid] == chain
        handled = t.dropna(subset=["service"])
        # durations are rounded to the microsecond, so a learner never reads float noise
        exact = handled.started - handled.published_at
        assert ((handled.queue_time - exact).abs() <= 5e-7).all()
        assert (handled.queue_time == handled.queue_time.round(6)).all()
        assert (handled.queue_time >= 0).all() and (handled.processing_time >= 0).all()
        assert len(trace_edges(t)) == len(parent) - 1
        assert where_stuck(sim, cid) is None  # everything finished by t=10
        seen |= set(parent)
    appended = sum(
        log.log_end_offset for name in ("in", "mid", "out") for log in sim.topic(name).partitions
    )
    assert len(seen) == appended == len(fan) + sum(fan) + sum((k + 1) // 2 for k in fan)


def test_where_stuck_names_the_dead_lettered_hop_and_a_complete_trace_is_none():
    sim, _, _ = flow(n=3, poison={1})
    sim.run(until=5)
    ok, bad, _ = correlation_ids(sim)
    assert where_stuck(sim, ok) is None
    stuck = where_stuck(sim, bad)
    assert (
        stuck["state"] == "failed" and stuck["service"] == "assistant" and stuck["event_id"] == bad
    )
    assert stuck["dead_letter_topic"] == "questions.DLT"
    assert stuck["reason"] == (
        f"assistant dead-lettered {bad} (QuestionAsked) from questions-{stuck['partition']}@"
        f"{stuck['offset']} after 2 attempt(s): TransientError: model endpoint timed out; "
        "the event is in questions.DLT"
    )
    row = trace(sim, bad).iloc[0]
    assert (row.outcome, row.attempts, len(trace(sim, bad))) == ("dead_lettered", 2, 1)


def test_a_redriven_dead_letter_that_succeeds_completes_its_trace():
    sim, _, model = flow(n=2, poison={0})
    sim.run(until=3)
    cid = correlation_ids(sim)[0]
    assert where_stuck(sim, cid)["state"] == "failed"
    model["broken"] = False
    assert redrive(sim, "questions.DLT") == 1
    sim.run(until=6)
    t = trace(sim, cid)
    root = t.iloc[0]
    assert (root.outcome, root.deliveries) == (
        "handled",
        2,
    )  # the successful handling stands; two deliveries
    assert list(t.type) == ["QuestionAsked", "AnswerGenerated"]
    assert where_stuck(sim, cid) is None


def test_where_stuck_finds_the_hop_waiting_on_a_crashed_instance_until_it_returns():
    sim, notifier, _ = flow(n=4, crash_notifier_at=0.2)
    sim.run(
        until=3
    )  # before the 10 s session timeout: the crashed member still owns its partitions
    last = correlation_ids(sim)[-1]
    stuck = where_stuck(sim, last)
    assert (
        stuck["state"] == "waiting"
        and stuck["service"] == "notifier"
        and stuck["type"] == "AnswerGenerated"
    )
    assert "which crashed" in stuck["reason"] and "session.timeout.ms (10 s)" in stuck["reason"]
    assert math.isnan(trace(sim, last).iloc[1].started)  # published, not handled: no timings yet
    sim.restart(notifier.instances[0])
    sim.run(until=15)
    assert where_stuck(sim, last) is None


def test_unknown_correlation_ids_are_refused_with_some_that_exist():
    sim, _, _ = flow(n=7)
    with pytest.raises(ValueError, match="unknown correlation id 'evt-9'; no traced events yet"):
        trace(sim, "evt-9")
    sim.run(until=3)
    known = sorted(correlation_ids(sim))
    with pytest.raises(
        ValueError,
        match=f"unknown correlation id 'evt-9'; 7 exist, e.g. {', '.join(known[:5])}, ...",
    ):
        trace(sim, "evt-9")
    with pytest.raises(ValueError, match="unknown correlation id"):
        where_stuck(sim, "nope")
    with pytest.raises(TypeError, match="correlation_id must be a str"):
        trace(sim, 1)
    with pytest.raises(ValueError, match="expects a trace"):
        trace_edges(sim.records("questions"))


def test_where_stuck_says_an_event_committed_before_handling_and_dropped_in_a_crash_is_lost():
    sim = Simulation(seed=3, name="lost-trace", broker_config=SHORT_SESSIONS)
    sim.create_topic("orders", partitions=1)
    Source(
        sim, "shop", "orders", [{"time": i * 0.01, "type": "OrderPlaced", "n": i} for i in range(5)]
    )
    svc = Service(
        sim,
        "billing",
        consumes="orders",
        handlers={"OrderPlaced": lambda e, c: None},
        commit="before",
        processing_time=0.1,
        max_in_flight=5,
        config={"session.timeout.ms": 300},
    )
    sim.crash(svc.instances[0], at=0.25)  # two handled, three committed and dropped
    sim.restart(svc.instances[0], at=1.0)
    sim.run(until=5)
    states = [where_stuck(sim, cid) for cid in correlation_ids(sim)]
    assert [s["state"] if s else None for s in states] == [None, None, "lost", "lost", "lost"]
    assert "at-most-once" in states[2]["reason"] and states[2]["service"] == "billing"


def test_the_trace_view_marks_a_lost_hop_as_lost():
    pytest.importorskip("matplotlib")
    from eda_sim.views import draw_trace

    sim = Simulation(seed=3, name="lost-view", broker_config=SHORT_SESSIONS)
    sim.create_topic("orders", partitions=1)
    Source(
        sim, "shop", "orders", [{"time": i * 0.01, "type": "OrderPlaced", "n": i} for i in range(3)]
    )
    svc = Service(
        sim,
        "billing",
        consumes="orders",
        handlers={"OrderPlaced": lambda e, c: None},
        commit="before",
        processing_time=0.1,
        max_in_flight=5,
        config={"session.timeout.ms": 300},
    )
    sim.crash(svc.instances[0], at=0.15)
    sim.run(until=2)
    fig = draw_trace(sim, correlation_ids(sim)[-1])
    texts = [t.get_text().strip() for t in fig.axes[0].texts]
    assert "lost" in texts and "stuck" not in texts
