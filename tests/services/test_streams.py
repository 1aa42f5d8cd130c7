"""A stream app's windows, late topic, join timing, and restore from the changelog after a crash."""

import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eda_sim import Simulation
from eda_sim.services.load import DelayedSource, Source
from eda_sim.services.streams import StreamApp
from eda_sim.services.tables import Table
from eda_sim.services.windows import (
    HoppingWindows,
    SessionWindows,
    TumblingWindows,
    batch_aggregate,
)


def world(
    seed,
    *,
    crash_at=None,
    instances=2,
    standby=0,
    dedupe=False,
    delay=2.0,
    lateness=2.0,
    n=160,
    windows=None,
):
    sim = Simulation(seed=seed)
    sim.create_topic("tx", partitions=2)
    sim.create_topic("velocity", partitions=2)
    rng = random.Random(seed)
    items = [
        {
            "time": i * 0.5,
            "type": "CardCharged",
            "card": f"c{rng.randrange(5)}",
            "arrival": i * 0.5 + rng.random() * delay,
        }
        for i in range(n)
    ]
    DelayedSource(sim, "pos", "tx", items, key="card")
    app = StreamApp(
        sim,
        "vel",
        source="tx",
        instances=instances,
        standby_replicas=standby,
        commit_interval=10,
        dedupe=dedupe,
    )
    app.window(
        "per_card",
        windows or TumblingWindows(10),
        lateness=lateness,
        grace=1,
        emit="final",
        output="velocity",
    )
    if crash_at is not None:
        sim.at(crash_at, app.instances[0].crash)
    sim.run(until=n * 0.5 + 150)
    return sim, app, items


def everything(app):
    """Final results plus the windows still open at the end, as {(key, start): count}."""
    out = {(k, s): v for (k, s, _), v in app.results().items()}
    out.update({k: v[1] for k, v in app.state().items()})
    return out


def test_windowed_counts_match_the_batch_computation_when_nothing_is_later_than_the_lateness():
    sim, app, items = world(3, delay=2.0, lateness=2.0)
    batch = batch_aggregate(TumblingWindows(10), [(i["card"], i["time"]) for i in items])
    assert everything(app) == {(k, w.start): v for (k, w), v in batch.items()}
    assert app.late_records() == []


def test_records_later_than_grace_go_to_the_late_topic_with_the_reason():
    sim, app, items = world(3, delay=30.0, lateness=2.0)
    late = app.late_records()
    assert late, "a 30 s delay against 2 s lateness + 1 s grace must produce late records"
    assert all("watermark" in why for _, _, why in late)
    counted = sum(everything(app).values())
    assert counted + len(late) == len(items)  # every record counted once or reported late
    assert len(sim.journal.rows("late")) == len(late)


SPECS = [TumblingWindows(10), HoppingWindows(20, 5), SessionWindows(3)]


@pytest.mark.parametrize("spec", SPECS, ids=lambda w: w.kind)
def test_every_kind_of_window_in_the_app_matches_the_batch_computation(spec):
    _, app, items = world(4, windows=spec, delay=2.0, lateness=2.0)
    batch = batch_aggregate(spec, [(i["card"], i["time"]) for i in items])
    assert everything(app) == {(k, w.start): v for (k, w), v in batch.items()}
    assert app.late_records() == []


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 50),
    crash_at=st.floats(5, 70),
    standby=st.sampled_from([0, 1]),
    spec=st.sampled_from(SPECS),
)
def test_a_crash_and_restore_gives_the_state_of_no_crash_plus_the_counted_duplicates(
    seed, crash_at, standby, spec
):
    _, calm, _ = world(seed, windows=spec)
    sim, crashed, _ = world(seed, crash_at=crash_at, standby=standby, windows=spec)
    _, exact, _ = world(seed, crash_at=crash_at, standby=standby, dedupe=True, windows=spec)
    want, got = everything(calm), everything(crashed)
    assert set(want) <= set(got)
    extra = {k: got[k] - want.get(k, 0) for k in got}
    assert all(v >= 0 for v in extra.values())
    # at-least-once: the records processed again after the restore count twice, and each is counted
    per_record = spec.size / spec.step if isinstance(spec, HoppingWindows) else 1
    assert sum(extra.values()) <= crashed.duplicates * per_record
    assert (
        everything(exact) == want
    )  # skipping what the changelog already holds: exactly the calm state
    assert len(sim.journal.rows("restored")) == len(crashed.restores) >= 3  # the takeover restored


def test_a_standby_replica_makes_the_takeover_restore_nothing():
    _, cold, _ = world(5, crash_at=40.0)
    _, warm, _ = world(5, crash_at=40.0, standby=1)
    takeover_cold, takeover_warm = cold.restores[-1], warm.restores[-1]
    assert takeover_cold[3] > 0 and takeover_cold[4] > 0  # read the changelog: time visible
    assert takeover_warm[3] == 0


def test_the_stream_table_join_sees_the_table_as_it_was_read_not_as_it_was_at_event_time():
    sim = Simulation(seed=1)
    sim.create_topic("profiles", config={"cleanup.policy": "compact"})
    sim.create_topic("tx")
    sim.create_topic("out")
    Source(
        sim,
        "crm",
        "profiles",
        [
            {"time": 0.0, "type": "ProfileUpdated", "card": "c1", "country": "FR"},
            {"time": 5.0, "type": "ProfileUpdated", "card": "c1", "country": "JP"},
        ],
        key="card",
    )
    Source(sim, "pos", "tx", [{"time": 5.2, "type": "CardCharged", "card": "c1"}], key="card")
    slow = Table(
        sim, "profiles", poll_interval=3.0
    )  # reads at 3, 6, 9...: misses the 5.0 update at 5.2
    app = StreamApp(sim, "enrich", source="tx")
    app.join("profile", slow, on="card")
    app.window("w", TumblingWindows(10), output="out")
    sim.run(until=20)
    ((eid, key, got, at_event_time),) = app.stale_joins()
    assert got["country"] == "FR" and at_event_time["country"] == "JP"
    assert slow.get("c1")["country"] == "JP"  # the table caught up later


def test_a_table_from_a_compacted_topic_equals_one_from_the_full_history():
    sim = Simulation(seed=2)
    sim.create_topic("features", config={"cleanup.policy": "compact", "segment.ms": 1000})
    items = [
        {"time": i * 0.3, "type": "FeatureUpdated", "user": f"u{i % 4}", "n": i} for i in range(60)
    ]
    Source(sim, "fs", "features", items, key="user")
    live = Table(sim, "features", poll_interval=0.5)
    sim.run(until=60)
    assert sim.broker.cleaner.runs  # the cleaner removed old values meanwhile
    late = Table(sim, "features")  # a new reader from the (compacted) start
    assert late.data == live.data == {f"u{k}": {"user": f"u{k}", "n": 56 + k} for k in range(4)}
    assert late.read_total < live.read_total


def test_hopping_velocity_counts_each_record_in_size_over_step_windows():
    sim = Simulation(seed=1)
    sim.create_topic("tx")
    sim.create_topic("v")
    Source(
        sim,
        "pos",
        "tx",
        [{"time": 1.0 + i, "type": "CardCharged", "card": "c"} for i in range(5)],
        key="card",
    )
    app = StreamApp(sim, "hop", source="tx")
    app.window("velocity", HoppingWindows(30, 10), emit="updates", output="v")
    sim.run(until=20)
    assert max(app.results(final_only=False).values()) == 5
    assert sum(1 for _ in app.results(final_only=False)) == 3  # windows starting -20, -10, 0


@pytest.mark.parametrize(
    "build,match",
    [
        (lambda sim: StreamApp(sim, "", source="tx"), "non-empty name"),
        (lambda sim: StreamApp(sim, "a", source="nope"), "unknown topic"),
        (lambda sim: StreamApp(sim, "a", source="tx", instances=0), "instances"),
        (lambda sim: StreamApp(sim, "a", source="tx").apply("x", 3), "function"),
        (lambda sim: StreamApp(sim, "a", source="tx").apply("x", len).apply("x", len), "already"),
        (
            lambda sim: StreamApp(sim, "a", source="tx").window("w", TumblingWindows(1), emit="x"),
            "updates, final",
        ),
    ],
)
def test_bad_app_settings_say_what_is_expected(build, match):
    sim = Simulation(seed=1)
    sim.create_topic("tx")
    with pytest.raises(Exception, match=match):
        build(sim)


def test_a_partition_moved_to_a_new_instance_is_restored_there_from_the_changelog():
    _, calm, items = world(9, instances=1, dedupe=True)
    sim = Simulation(seed=9)
    sim.create_topic("tx", partitions=2)
    sim.create_topic("velocity", partitions=2)
    DelayedSource(sim, "pos", "tx", items, key="card")
    app = StreamApp(sim, "vel", source="tx", instances=1, commit_interval=10)  # at-least-once
    app.window(
        "per_card", TumblingWindows(10), lateness=2, grace=1, emit="final", output="velocity"
    )
    sim.at(40.0, app.add_instance)  # the rebalance moves a partition to the newcomer mid-stream
    sim.run(until=160 * 0.5 + 150)
    assert app.duplicates == 0  # the old owner committed what it had processed before handing over
    takeovers = [r for r in app.restores if r[1] == "vel-2"]
    assert takeovers and takeovers[0][3] > 0  # the new owner read the changelog first
    assert everything(app) == everything(calm)  # and carried on from the same state
