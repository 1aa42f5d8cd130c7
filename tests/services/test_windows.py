"""Windows on event time agree with a batch computation, and late records are never dropped silently."""

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eda_sim.services.windows import (
    HoppingWindows,
    SessionWindows,
    TumblingWindows,
    Window,
    WindowedAggregate,
    batch_aggregate,
)

SPECS = [TumblingWindows(10), HoppingWindows(30, 10), SessionWindows(5)]

events = st.lists(
    st.tuples(st.sampled_from(["a", "b", "c"]), st.integers(0, 400).map(lambda x: x / 4)),
    min_size=1,
    max_size=60,
)


def arrival_order(evs, lateness, draw_keys):
    """Reorder ``evs`` so that no record arrives more than ``lateness`` behind the max seen."""
    order = sorted(range(len(evs)), key=lambda i: (evs[i][1] + draw_keys[i] * lateness, i))
    out, seen = [], -math.inf
    for i in order:
        out.append(evs[i])
        seen = max(seen, evs[i][1])
    return out


def finals(agg, evs):
    got = {}
    for k, t in evs:
        for e in agg.push(k, t):
            assert e.final
            got[(e.key, e.window)] = e.value
    for e in agg.close_all():
        got[(e.key, e.window)] = e.value
    return got


@settings(max_examples=60, deadline=None)
@given(
    evs=events,
    spec=st.sampled_from(SPECS),
    lateness=st.sampled_from([0.0, 2.0, 7.5]),
    grace=st.sampled_from([0.0, 3.0]),
    data=st.data(),
)
def test_final_counts_equal_the_batch_computation_for_any_order_within_lateness(
    evs, spec, lateness, grace, data
):
    shifts = data.draw(st.lists(st.floats(0, 1), min_size=len(evs), max_size=len(evs)))
    ordered = arrival_order(evs, lateness, shifts)
    # the premise: every record arrives no later than `lateness` behind the largest time seen
    seen = -math.inf
    for _, t in ordered:
        assert t >= seen - lateness - 1e-9
        seen = max(seen, t)
    agg = WindowedAggregate(spec, lateness=lateness, grace=grace, emit="final")
    assert finals(agg, ordered) == batch_aggregate(spec, evs)
    assert agg.late == [] and agg.missed == []


@settings(max_examples=60, deadline=None)
@given(evs=events, spec=st.sampled_from(SPECS), lateness=st.sampled_from([0.0, 2.0]))
def test_every_record_is_counted_or_reported_late_in_any_order(evs, spec, lateness):
    agg = WindowedAggregate(spec, lateness=lateness, grace=1.0, emit="final")
    got = finals(agg, evs)  # arrival order as drawn: anything may be late
    late = {(r.key, r.time) for r in agg.late}
    counted = sum(got.values()) if not isinstance(spec, HoppingWindows) else None
    if counted is not None:
        assert counted + len(agg.late) == len(evs)
    for k, t in evs:
        in_some = any(w.start <= t <= w.end and key == k for key, w in got) or any(
            m[0] == k and m[1] == t for m in agg.missed
        )
        assert in_some or (k, t) in late
    for r in agg.late:
        assert "watermark" in r.reason


def test_updates_then_final_and_the_late_reason():
    agg = WindowedAggregate(TumblingWindows(10), lateness=2, grace=3, emit="updates")
    assert agg.push("k", 1.0)[0].value == 1.0
    assert agg.push("k", 4.0)[0].value == 2.0  # an update each time
    assert agg.watermark == 2.0
    agg.push("k", 16.0)  # watermark 14 < 10 + 3? no: 14 >= 13, window [0,10) closes
    assert ("k", 0.0) not in agg.windows
    assert agg.push("k", 5.0) == []
    assert "closed" in agg.late[0].reason and "lateness 2 s" in agg.late[0].reason
    fin = WindowedAggregate(TumblingWindows(10), emit="final")
    assert fin.push("k", 1.0) == []  # suppressed until the window closes
    assert fin.push("k", 12.0) == [(("k"), Window(0.0, 10.0), 1.0, True)]


def test_hopping_windows_cover_a_time_size_over_step_times():
    assert HoppingWindows(60, 10).windows_for(65.0) == [
        Window(s, s + 60.0) for s in range(10, 70, 10)
    ]


@pytest.mark.parametrize(
    "make,match",
    [
        (lambda: TumblingWindows(0), "size"),
        (lambda: HoppingWindows(10, 20), "step"),
        (lambda: WindowedAggregate(TumblingWindows(1), emit="sometimes"), "updates, final"),
        (lambda: WindowedAggregate(TumblingWindows(1), lateness=-1), "lateness"),
        (lambda: WindowedAggregate(10), "TumblingWindows"),
    ],
)
def test_bad_settings_say_what_is_expected(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()


def test_a_session_that_absorbs_another_under_its_own_start_is_changed_not_removed():
    agg = WindowedAggregate(SessionWindows(3), lateness=5)  # nothing closes in this test
    agg.push("k", 3.5)
    agg.push("k", 7.0)  # a second session: 3.5 + 3 < 7.0
    agg.push("k", 6.0)  # bridges both: one session from 3.5, which keeps its key
    assert agg.windows == {("k", 3.5): [7.0, 3.0]}
    assert agg.changed == [("k", 3.5)] and agg.removed == [("k", 7.0)]
