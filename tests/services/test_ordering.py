"""Ordering by event time: the reorder buffer, its service policy, late events, and out-of-order pairs."""

from collections import Counter
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eda_sim import Event, Simulation
from eda_sim.services.load import Source
from eda_sim.services.ordering import (
    H_LATE_REASON,
    DelayedSource,
    ReorderBuffer,
    late_events,
    ordering_report,
    out_of_order_pairs,
)
from eda_sim.services.service import Service, publish, reconcile, spans_frame


def ev(i, t):
    return SimpleNamespace(id=f"e{i}", time=t)


# ----------------------------------------------------------------------------- the buffer

streams = st.lists(st.tuples(st.integers(0, 400), st.floats(0, 6, allow_nan=False)), max_size=60)


@settings(max_examples=300, deadline=None)
@given(stream=streams, window=st.floats(0.05, 4, allow_nan=False))
def test_buffer_output_is_event_time_ordered_and_every_event_is_emitted_or_late(stream, window):
    events = [
        ev(i, t / 100) for i, (t, _) in enumerate(stream)
    ]  # hundredths of a second: ties happen
    arrival = sorted(range(len(events)), key=lambda i: (events[i].time + stream[i][1], i))
    out, late = [], []
    buf = ReorderBuffer(window, out.append, lambda e, why: late.append((e, why, watermark)))
    for i in arrival:
        watermark = buf.watermark
        buf.push(events[i])
        assert all(
            e.time <= buf.watermark for e in out
        )  # nothing leaves before the watermark passes it
    buf.flush()
    times = [e.time for e in out]
    assert times == sorted(times)
    ranks = {i: r for r, i in enumerate(arrival)}
    for a, b in zip(out, out[1:]):  # ties keep arrival order
        if a.time == b.time:
            assert ranks[int(a.id[1:])] < ranks[int(b.id[1:])]
    assert Counter(e.id for e in out) + Counter(e.id for e, _, _ in late) == Counter(
        e.id for e in events
    )
    for e, why, wm in late:
        assert e.time < wm
        assert why.startswith(f"event time {round(e.time, 3)} s is behind the watermark ")
    assert buf.pending == 0 and buf.released == len(out) and buf.late_count == len(late)


def test_a_late_event_is_reported_with_the_watermark_and_window_never_dropped():
    out, late = [], []
    buf = ReorderBuffer(2.0, out.append, lambda e, why: late.append((e.id, why)))
    for i, t in enumerate([1.0, 4.0, 7.0, 3.2, 6.5]):
        buf.push(ev(i, t))
    assert [e.time for e in out] == [1.0, 4.0]  # the watermark is 7.0 - 2.0 = 5.0
    assert late == [("e3", "event time 3.2 s is behind the watermark 5.0 s (window 2.0 s)")]
    assert buf.pending == 2  # 6.5 and 7.0 wait for the watermark
    assert buf.flush() == 2 and [e.time for e in out] == [1.0, 4.0, 6.5, 7.0]
    buf.push(ev(9, 6.9))  # after the end-of-stream flush the watermark is the last time released
    assert late[-1] == ("e9", "event time 6.9 s is behind the watermark 7.0 s (window 2.0 s)")


def test_without_callbacks_the_buffer_collects_what_it_released_and_what_was_late():
    buf = ReorderBuffer(1.0)
    for i, t in enumerate([2.0, 1.5, 5.0, 0.5]):
        buf.push(ev(i, t))
    assert [e.time for e in buf.emitted] == [1.5, 2.0] and [e.id for e, _ in buf.late] == ["e3"]


@pytest.mark.parametrize(
    "window, error, text",
    [
        (0, ValueError, "a window of zero cannot reorder anything; use window > 0"),
        (0.0, ValueError, "a window of zero cannot reorder anything; use window > 0"),
        (-1.5, ValueError, r"a negative window \(-1.5\) cannot reorder anything; use window > 0"),
        (float("nan"), ValueError, "window must be a finite number"),
        ("2s", TypeError, "window must be a number of virtual seconds > 0, got str '2s'"),
        (True, TypeError, "window must be a number"),
    ],
)
def test_bad_windows_are_refused(window, error, text):
    with pytest.raises(error, match=text):
        ReorderBuffer(window)


def test_push_needs_a_numeric_time_and_callbacks_must_be_callable():
    with pytest.raises(TypeError, match="numeric .time"):
        ReorderBuffer(1.0).push({"time": 3})
    with pytest.raises(TypeError, match="on_late must be a function"):
        ReorderBuffer(1.0, None, "log")


# ----------------------------------------------------------------------- in a service


def taps(times, arrivals, user="u1"):
    return [
        {"time": t, "arrival": a, "type": "ScreenTapped", "user_id": user, "n": i}
        for i, (t, a) in enumerate(zip(times, arrivals))
    ]


def test_a_service_with_reorder_handles_events_in_event_time_order_and_sends_late_ones_aside():
    sim = Simulation(seed=2, name="ordering-tests")
    sim.create_topic("taps", partitions=2)
    times = [0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5, 4.0, 1.2]
    arrivals = [
        0.1,
        1.4,
        0.6,
        1.6,
        2.3,
        2.1,
        3.0,
        3.6,
        4.0,
        6.5,
    ]  # shuffled within 1.5 s; the last 5.3 s late
    DelayedSource(sim, "phone", "taps", taps(times, arrivals), key="user_id")
    seen = []
    Service(
        sim,
        "counter",
        consumes="taps",
        handlers={"ScreenTapped": lambda e, ctx: seen.append(e.time)},
        reorder=2.0,
    )
    sim.run(until=12)
    assert seen == sorted(times[:-1])  # event-time order, though the log holds them otherwise
    log_times = [
        Event.from_json(r.value).time for log in sim.topic("taps").partitions for r in log.records()
    ]
    assert log_times != sorted(log_times)
    late = late_events(sim, "taps")
    assert late[["event_time", "reason"]].values.tolist() == [
        [1.2, "event time 1.2 s is behind the watermark 4.0 s (window 2.0 s)"]
    ]
    record = next(r for log in sim.topic("taps.late").partitions for r in log.records())
    assert dict(record.headers)[H_LATE_REASON].decode() == late.reason[0] and record.key == b"u1"
    rows = sim.journal.rows("late")
    assert len(rows) == 1 and rows[0].group == "counter" and "-> taps.late" in rows[0].detail
    assert spans_frame(sim)["outcome"].value_counts().to_dict() == {"handled": 9, "late": 1}
    assert reconcile(sim, "counter").balanced.all()
    assert (
        sim.offsets("counter", "taps")["lag"].sum() == 0
    )  # the quiet tail was flushed and committed


def test_a_held_event_is_not_committed_and_none_is_lost_across_a_crash():
    sim = Simulation(seed=4, name="ordering-tests")
    sim.create_topic("taps", partitions=1)
    times = [i * 0.25 for i in range(40)]
    items = [{"time": t, "type": "ScreenTapped", "user_id": "u1"} for t in times]
    DelayedSource(sim, "phone", "taps", items, key="user_id", delay=lambda rng: rng.uniform(0, 1.5))
    handled = []
    svc = Service(
        sim,
        "counter",
        consumes="taps",
        handlers={"ScreenTapped": lambda e, ctx: handled.append(e.id)},
        reorder=3.0,
        processing_time=0.01,
        config={"session.timeout.ms": 6000},
    )
    inst = svc.instances[0]
    snapshot = {}

    def crash():
        part = inst._reorder._parts[("taps", 0)]
        snapshot["held"] = min(part.held)
        snapshot["committed"] = sim.group("counter").committed.get(("taps", 0), 0)
        inst.crash()

    sim.at(5.0, crash)
    sim.restart(inst, at=20.0)
    sim.run(until=40)
    assert snapshot["held"] >= snapshot["committed"]  # nothing held was committed
    assert snapshot["held"] < sim.topic("taps").partitions[0].log_end_offset
    ids = {Event.from_json(r.value).id for r in sim.topic("taps").partitions[0].records()}
    spans = spans_frame(sim, "counter")
    done = set(spans[spans.outcome.isin(["handled", "late"])].event_id)
    assert done == ids and len(handled) > len(
        set(handled)
    )  # all of them, some twice (at least once)
    assert reconcile(sim, "counter").balanced.all()


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    crash_at=st.floats(0.5, 9.0), seed=st.integers(0, 50), window=st.sampled_from([0.5, 1.0, 2.5])
)
def test_no_event_is_lost_whenever_the_instance_crashes(crash_at, seed, window):
    sim = Simulation(seed=seed, name="ordering-tests")
    sim.create_topic("taps", partitions=2)
    items = [{"time": i * 0.2, "type": "ScreenTapped", "user_id": f"u{i % 3}"} for i in range(50)]
    DelayedSource(
        sim, "phone", "taps", items, key="user_id", delay=lambda rng: rng.expovariate(1.5)
    )
    svc = Service(
        sim,
        "counter",
        consumes="taps",
        handlers={"ScreenTapped": lambda e, ctx: None},
        reorder=window,
        processing_time=0.02,
        idempotent=True,
        config={"session.timeout.ms": 6000},
    )
    sim.crash(svc.instances[0], at=crash_at)
    sim.restart(svc.instances[0], at=crash_at + 0.5)
    sim.run(until=40)
    ids = {
        Event.from_json(r.value).id for log in sim.topic("taps").partitions for r in log.records()
    }
    spans = spans_frame(sim, "counter")
    assert set(spans[spans.outcome.isin(["handled", "late"])].event_id) == ids
    assert sim.offsets("counter", "taps")["lag"].sum() == 0


def test_a_bad_reorder_setting_is_refused_when_the_service_is_made():
    sim = Simulation(seed=1, name="ordering-tests")
    sim.create_topic("taps")
    Source(sim, "phone", "taps", [{"time": 0.0, "type": "ScreenTapped"}])
    with pytest.raises(ValueError, match="a window of zero cannot reorder anything"):
        Service(
            sim, "counter", consumes="taps", handlers={"ScreenTapped": lambda e, c: None}, reorder=0
        )
    with pytest.raises(
        TypeError,
        match=r"counter: reorder must be a window in virtual seconds \(e.g. reorder=2.0\)",
    ):
        Service(
            sim,
            "counter",
            consumes="taps",
            handlers={"ScreenTapped": lambda e, c: None},
            reorder="2s",
        )
    assert "counter-1" not in sim.members  # nothing half-made is left behind
    with pytest.raises(ValueError, match="only services with reorder"):
        late_events(sim, "taps")


# ------------------------------------------------------------------- looking at a log


def views(n, every):
    return [
        {"time": i * every, "type": "Viewed", "user_id": f"u{i % 4}", "request": f"r{i}"}
        for i in range(n)
    ]


@pytest.mark.parametrize(
    "key", ["request", None]
)  # a random key per event, or no key (sticky partitioning)
def test_unkeyed_events_spread_over_partitions_reach_a_consumer_out_of_order(key):
    sim = Simulation(seed=5, name="ordering-tests")
    sim.create_topic("views", partitions=3)
    Source(sim, "app", "views", views(300, 0.01), key=key)
    Service(
        sim, "feed", consumes="views", handlers={"Viewed": lambda e, c: None}, processing_time=0.02
    )
    sim.run(until=10)
    pairs = out_of_order_pairs(sim, "views", key="user_id", group="feed")
    assert len(pairs) > 20 and (pairs.first_partition != pairs.second_partition).all()
    assert (pairs.first_time > pairs.second_time).all()
    report = ordering_report(sim, "views", key="user_id", group="feed")
    assert report.records.sum() == 300 and (report.partitions > 1).all()
    assert report.out_of_order.sum() == len(pairs)


def test_keying_by_user_keeps_every_users_events_in_order():
    sim = Simulation(seed=5, name="ordering-tests")
    sim.create_topic("views", partitions=3)
    Source(sim, "app", "views", views(300, 0.01), key="user_id")
    Service(
        sim, "feed", consumes="views", handlers={"Viewed": lambda e, c: None}, processing_time=0.02
    )
    sim.run(until=10)
    assert out_of_order_pairs(sim, "views").empty
    assert out_of_order_pairs(sim, "views", key="user_id", group="feed").empty
    report = ordering_report(sim, "views")
    assert report.key.tolist() == ["u0", "u1", "u2", "u3"] and (report.partitions == 1).all()
    assert (report.out_of_order == 0).all() and (report.max_behind == 0).all()


def test_pairs_follow_log_order_in_a_partition_and_append_order_across_partitions():
    sim = Simulation(seed=1, name="ordering-tests")
    sim.create_topic("clicks", partitions=2)
    p = sim.producer()

    def send(partition, t, i, field_time=None):
        payload = {"user_id": "u1", "at": field_time if field_time is not None else t}
        publish(
            p, "clicks", Event.create("Clicked", payload, id=f"c{i}", time=t), partition=partition
        )
        p.flush()

    send(0, 2.0, 1)  # appended first
    send(1, 1.0, 2)  # appended second, in another partition, but happened earlier
    send(1, 3.0, 3)
    send(1, 2.5, 4)  # behind 3.0 in its own partition
    p.produce("clicks", value=b"{not json", partition=0)
    p.flush()
    pairs = out_of_order_pairs(sim, "clicks", key="user_id")
    assert pairs.values.tolist() == [["u1", 0, 0, 2.0, 1, 0, 1.0], ["u1", 1, 1, 3.0, 1, 2, 2.5]]
    assert pairs.attrs["unreadable"] == 1
    assert out_of_order_pairs(sim, "clicks").empty or set(
        out_of_order_pairs(sim, "clicks").key
    ) == {None}
    by_field = out_of_order_pairs(sim, "clicks", key="user_id", time_field="at")
    assert by_field[["first_time", "second_time"]].values.tolist() == [[2.0, 1.0], [3.0, 2.5]]
    with pytest.raises(ValueError, match="key must be a payload field name"):
        out_of_order_pairs(sim, "clicks", key="")
    with pytest.raises(ValueError, match="unknown group 'nobody'"):
        out_of_order_pairs(sim, "clicks", group="nobody")


def test_the_same_seed_gives_the_same_handling_order_and_journal():
    def once():
        sim = Simulation(seed=9, name="ordering-tests")
        sim.create_topic("taps", partitions=2)
        items = [
            {"time": i * 0.1, "type": "ScreenTapped", "user_id": f"u{i % 5}"} for i in range(80)
        ]
        DelayedSource(
            sim, "phone", "taps", items, key="user_id", delay=lambda rng: rng.expovariate(2.0)
        )
        Service(
            sim,
            "counter",
            consumes="taps",
            handlers={"ScreenTapped": lambda e, c: None},
            reorder=0.5,
        )
        sim.run(until=20)
        return sim.journal.digest(), spans_frame(sim).event_id.tolist()

    assert once() == once()
