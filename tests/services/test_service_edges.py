"""Edges the suite did not reach before issue 19, where planted bugs survived: trace trees below
depth 1, rows exactly on bucket edges, thresholds at equality, per-minute buckets of the hit rate."""

import pandas as pd
import pytest

from eda_sim import Simulation
from eda_sim.ai.models import hit_rate_at_k
from eda_sim.services.autoscale import Autoscaler
from eda_sim.services.load import Source
from eda_sim.services.metrics import _Window, metrics
from eda_sim.services.service import Service
from eda_sim.services.tracing import trace


def test_a_three_hop_trace_points_each_event_at_its_parent_not_the_root():
    sim = Simulation(seed=2, name="edges")
    for t in ("a", "b", "c", "d"):
        sim.create_topic(t, partitions=1)
    Source(sim, "front", "a", [{"time": 0.1, "type": "A"}])
    Service(
        sim,
        "s1",
        consumes="a",
        produces={"b": ["B"]},
        handlers={"A": lambda e, c: c.emit("b", "B", {})},
    )
    Service(
        sim,
        "s2",
        consumes="b",
        produces={"c": ["C"]},
        handlers={"B": lambda e, c: c.emit("c", "C", {})},
    )
    Service(
        sim,
        "s3",
        consumes="c",
        produces={"d": ["D"]},
        handlers={"C": lambda e, c: c.emit("d", "D", {})},
    )
    sim.run(until=3)
    root = sim.spans[0].correlation_id
    tree = trace(sim, root).drop_duplicates("event_id").set_index("type")
    assert list(tree.depth) == [0, 1, 2, 3]
    assert not tree.loc["A", "causation_id"] or pd.isna(tree.loc["A", "causation_id"])
    for child, parent in (("B", "A"), ("C", "B"), ("D", "C")):
        assert tree.loc[child, "causation_id"] == tree.loc[parent, "event_id"]
    assert tree.loc["D", "causation_id"] != tree.loc["A", "event_id"]


def _edge_world():
    """Records appended exactly at t = 1.0 and 2.0 (and 0.5): bucket edges of a 1 s grid."""
    sim = Simulation(seed=2, name="edges", network_latency=0.0)
    sim.create_topic("t", partitions=1)
    p = sim.producer({"linger.ms": 0})
    for at in (0.5, 1.0, 2.0):
        sim.run(until=at)
        p.produce("t", value="x")
        p.flush()
    sim.run(until=3.0)
    appended = [r.time for r in sim.journal.rows() if r.kind == "appended"]
    assert appended == [0.5, 1.0, 2.0]
    return sim


def test_a_row_on_a_bucket_edge_counts_in_the_bucket_it_starts():
    sim = _edge_world()
    m = metrics(sim, bucket=1.0)
    assert list(m["throughput_t"]) == [1.0, 1.0, 1.0]  # [0,1) [1,2) [2,3): one record each


def test_the_alert_monitors_window_agrees_with_metrics_on_bucket_edges():
    sim = _edge_world()
    window = _Window(sim)
    m = metrics(sim, bucket=1.0)
    for b in range(3):
        assert window.values(float(b), float(b + 1))["throughput_t"] == m["throughput_t"].iloc[b]


def _scaler_at(lag: int, **limits):
    sim = Simulation(seed=2, name="edges")
    sim.create_topic("t", partitions=4)
    Source(sim, "src", "t", [{"time": 0.0, "type": "T"}])
    svc = Service(sim, "svc", consumes="t", handlers={"T": lambda e, c: None}, instances=2)
    scaler = Autoscaler(sim, svc, cooldown=0, interval=1000, **limits)
    scaler.lag = lambda: lag  # the lag the rule sees, exactly at a threshold
    return svc, scaler


@pytest.mark.parametrize("lag, action", [(100, None), (101, "scale_out")])
def test_the_autoscaler_scales_out_only_above_the_threshold_not_at_it(lag, action):
    svc, scaler = _scaler_at(lag, scale_out_lag=100, scale_in_lag=10)
    assert scaler.check() == action


@pytest.mark.parametrize("lag, action", [(10, None), (9, "scale_in")])
def test_the_autoscaler_scales_in_only_below_the_threshold_not_at_it(lag, action):
    svc, scaler = _scaler_at(lag, scale_out_lag=100, scale_in_lag=10)
    assert scaler.check() == action


class _Always:
    """A model that always recommends product p1 (a hit whenever p1 is viewed)."""

    def recommend(self, user, k):
        return ["p1"]

    def observe(self, *view):
        pass


def test_the_hit_rate_buckets_start_at_their_edge():
    views = [
        {"time": 0.0, "user_id": "u", "product_id": "p0"},
        {"time": 59.9, "user_id": "u", "product_id": "p1"},  # minute 0: a hit
        {"time": 60.0, "user_id": "u", "product_id": "p2"},  # minute 1: a miss, on the edge
        {"time": 120.0, "user_id": "u", "product_id": "p1"},  # minute 2: a hit, on the edge
    ]
    rates = hit_rate_at_k(_Always(), views, k=1, bucket=60.0)
    assert list(rates.start) == [0.0, 60.0, 120.0]
    assert list(rates.evaluated) == [1, 1, 1] and list(rates.hits) == [1, 0, 1]
    assert list(rates.cumulative_hit_rate) == [1.0, 0.5, pytest.approx(2 / 3)]


def test_an_event_at_the_time_of_the_last_released_one_is_not_late():
    # Late means behind an event already released; a tie is in order (ties go in arrival order).
    from eda_sim.services.events import Event
    from eda_sim.services.ordering import ReorderBuffer

    buf = ReorderBuffer(1.0)
    for i, t in enumerate([1.0, 3.0, 1.0, 0.5]):
        buf.push(Event.create("T", {}, id=f"e{i}", time=t))
    assert [e.id for e in buf.emitted] == ["e0", "e2"]
    assert [e.id for e, _why in buf.late] == ["e3"]
