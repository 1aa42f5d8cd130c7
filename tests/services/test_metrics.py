"""Metrics over virtual time (throughput, handling, latency, lag, errors) and the alert monitor."""

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eda_sim import Simulation
from eda_sim.services.load import Source
from eda_sim.services.metrics import (
    AlertMonitor,
    Threshold,
    _Window,
    alerts,
    lag_by_partition,
    metric_names,
    metrics,
)
from eda_sim.services.retries import Retry, TransientError
from eda_sim.services.service import Service


def pipeline(
    seed=1,
    n=40,
    every=0.05,
    scorer_time=0.01,
    partitions=3,
    poison=(),
    name="metrics",
    topic_config=None,
):
    """transactions -> scorer (emits a score) -> scores -> ledger."""
    sim = Simulation(seed=seed, name=name)
    sim.create_topic("transactions", partitions=partitions, config=topic_config)
    sim.create_topic("scores", partitions=partitions)
    Source(
        sim,
        "payments",
        "transactions",
        [
            {
                "time": i * every,
                "type": "TransactionSubmitted",
                "account": f"a{i % 7}",
                "bad": i in poison,
            }
            for i in range(n)
        ],
        key="account",
    )

    def score(event, ctx):
        if event.payload["bad"]:
            raise TransientError("feature store timed out")
        ctx.emit("scores", "TransactionScored", {"risk": 0.1})

    scorer = Service(
        sim,
        "scorer",
        consumes="transactions",
        handlers={"TransactionSubmitted": score},
        produces={"scores": ["TransactionScored"]},
        processing_time=scorer_time,
        max_in_flight=10,
        retry=Retry(attempts=3, backoff=0.05),
    )
    Service(
        sim,
        "ledger",
        consumes="scores",
        handlers={"TransactionScored": lambda e, c: None},
        processing_time=0.002,
    )
    return sim, scorer


def test_columns_and_rates_account_for_every_record_and_handled_event():
    sim, _ = pipeline(poison={5, 17})
    sim.run(until=7.3)  # a partial last bucket
    m = metrics(sim, bucket=0.5)
    assert (
        list(m.columns)
        == metric_names(sim)
        == [
            "throughput_scores",
            "throughput_transactions",
            "throughput_transactions.DLT",
            "handled_ledger",
            "handled_scorer",
            "latency_p50",
            "latency_p95",
            "latency_p99",
            "lag_ledger",
            "lag_scorer",
            "errors_per_s",
            "dead_letters_per_s",
        ]
    )
    assert m.index.tolist() == [i * 0.5 for i in range(15)]
    widths = np.minimum(m.index + 0.5, 7.3) - m.index
    for topic in ("transactions", "scores", "transactions.DLT"):
        records = sum(log.log_end_offset for log in sim.topic(topic).partitions)
        assert (m[f"throughput_{topic}"] * widths).sum() == pytest.approx(records)
    assert (m["throughput_transactions"] * widths).sum() == 40
    for service in ("scorer", "ledger"):
        handled = sum(1 for s in sim.spans if s.service == service and s.outcome == "handled")
        assert (m[f"handled_{service}"] * widths).sum() == pytest.approx(handled)
    assert (m["dead_letters_per_s"] * widths).sum() == pytest.approx(2)
    assert (m["errors_per_s"] * widths).sum() == pytest.approx(
        2 * 3
    )  # 2 retries + 1 dead letter, twice


def test_latency_percentiles_are_ordered_and_missing_where_nothing_was_handled():
    sim, _ = pipeline(scorer_time=lambda rng: rng.expovariate(40))
    sim.run(until=8)
    m = metrics(sim, bucket=0.5)
    some = m.dropna(subset=["latency_p50"])
    assert len(some) >= 4
    assert (some.latency_p50 <= some.latency_p95).all() and (
        some.latency_p95 <= some.latency_p99
    ).all()
    assert (some.latency_p50 > 0).all()
    idle = m[(m.handled_scorer == 0) & (m.handled_ledger == 0)]
    assert len(idle) and idle[["latency_p50", "latency_p95", "latency_p99"]].isna().all().all()


def expected_lag(sim, group, topics):
    """sim.offsets' lag, with a partition the group has not committed counted as log_end - log_start."""
    off = sim.offsets(group)
    off = off[off.topic.isin(topics)]
    lag = off["lag"].astype("float").fillna(off.log_end - off.log_start)
    return {f"{t}-{p}": v for t, p, v in zip(off.topic, off.partition, lag)}


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    partitions=st.integers(1, 4),
    crash=st.floats(0.1, 2.0),
    checks=st.lists(st.floats(0.05, 6.0), min_size=1, max_size=3),
)
def test_lag_reconstructed_from_the_journal_equals_the_groups_offsets(
    seed, partitions, crash, checks
):
    # small segments and a short retention so that log starts move; a crashed scorer leaves lag behind
    sim, scorer = pipeline(
        seed=seed,
        partitions=partitions,
        scorer_time=0.03,
        name="metrics-lag",
        topic_config={"retention.ms": 500, "segment.bytes": 600},
    )
    sim.member(
        "audit", ["transactions"], processing_time=60.0, max_poll_records=5
    )  # never commits in time
    sim.crash(scorer.instances[0], at=crash)
    sim.restart(scorer.instances[0], at=crash + 1.0)
    for t in sorted(set(checks)):
        if t <= sim.now:
            continue
        sim.run(until=t)
        sim.broker.enforce_retention()
        m = metrics(sim, bucket=0.25)
        for group, topics in (
            ("scorer", ["transactions"]),
            ("ledger", ["scores"]),
            ("audit", ["transactions"]),
        ):
            expected = expected_lag(sim, group, topics)
            by_partition = lag_by_partition(sim, group, bucket=0.25).iloc[-1].to_dict()
            assert by_partition == pytest.approx(expected)
            assert m[f"lag_{group}"].iloc[-1] == pytest.approx(sum(expected.values()))
    assert sim.journal.rows("expired") or sim.now < 1  # retention did move log starts in most runs


def test_lag_by_partition_shows_the_hot_partition():
    sim = Simulation(seed=4, name="metrics-hot")
    sim.create_topic("clicks", partitions=3)
    items = [
        {"time": i * 0.01, "type": "Clicked", "user": "celebrity" if i % 4 else f"u{i}"}
        for i in range(200)
    ]
    Source(sim, "web", "clicks", items, key="user")
    Service(
        sim,
        "counter",
        consumes="clicks",
        handlers={"Clicked": lambda e, c: None},
        instances=3,
        processing_time=0.02,
        max_in_flight=10,
    )
    sim.run(until=3)
    lag = lag_by_partition(sim, "counter", bucket=0.5)
    assert list(lag.columns) == ["clicks-0", "clicks-1", "clicks-2"]
    peak = lag.max()
    hot = peak.idxmax()
    assert peak[hot] > 5 * max(peak.drop(hot).max(), 1)


def storm(name="metrics-storm"):
    """10 requests/s, then a burst of 300 in 3 s at a service that handles 50 per second, then calm again."""
    sim = Simulation(seed=2, name=name)
    sim.create_topic("requests", partitions=2)
    times = (
        [i * 0.1 for i in range(30)]
        + [3 + i * 0.01 for i in range(300)]
        + [6 + i * 0.1 for i in range(60)]
    )
    Source(
        sim,
        "gateway",
        "requests",
        [{"time": t, "type": "PromptReceived", "user": f"u{i}"} for i, t in enumerate(times)],
        key="user",
    )
    pages = []
    Service(
        sim,
        "llm",
        consumes="requests",
        handlers={"PromptReceived": lambda e, c: None},
        processing_time=0.02,
        max_in_flight=10,
    )
    monitor = AlertMonitor(
        sim, [Threshold("lag_llm", above=50), Threshold("throughput_requests", above=1000)]
    )
    Service(
        sim,
        "pager",
        consumes="alerts",
        handlers={"AlertRaised": lambda e, c: pages.append(e.payload["rule"])},
    )
    return sim, monitor, pages


def test_an_alert_is_raised_when_lag_crosses_the_threshold_in_a_storm_and_resolved_after():
    sim, monitor, pages = storm()
    sim.run(until=12)
    a = alerts(sim)
    assert a[["type", "rule"]].values.tolist() == [
        ["AlertRaised", "lag_llm > 50"],
        ["AlertResolved", "lag_llm > 50"],
    ]
    raised, resolved = a.iloc[0], a.iloc[1]
    m = metrics(sim)
    assert raised.value > 50 >= resolved.value and raised.threshold == 50
    for row in (raised, resolved):  # the monitor saw what the metrics frame shows for that bucket
        assert m.loc[row.window_start, "lag_llm"] == row.value
        assert row.time == pytest.approx(row.window_start + 1.0)  # evaluated as the bucket closed
    assert (
        raised.window_start == 3.0 and (m.loc[:2.0, "lag_llm"] <= 50).all()
    )  # calm before the storm
    assert m.loc[raised.window_start : resolved.window_start - 1, "lag_llm"].gt(50).all()
    assert pages == ["lag_llm > 50"]  # services can react to alerts
    assert {r.detail for r in sim.journal.rows("appended") if r.topic == "alerts"} == {"monitor"}
    assert not monitor.raised["lag_llm > 50"] and "raised: none" in repr(monitor)


def test_the_monitors_running_view_equals_the_metrics_frame_in_every_bucket():
    sim, _ = pipeline(poison={3, 9}, scorer_time=lambda rng: rng.expovariate(30), partitions=2)
    sim.run(until=6)
    m = metrics(sim, bucket=0.5, until=6.0)
    window = _Window(sim)
    for start in m.index[
        :-1
    ]:  # the last bucket also holds t=6.0 exactly; the monitor never sees it open
        seen = window.values(start, start + 0.5)
        for col in m.columns:
            expected = m.loc[start, col]
            assert (np.isnan(seen[col]) and np.isnan(expected)) or seen[col] == pytest.approx(
                expected
            ), (start, col)


def test_metrics_count_every_one_of_ten_thousand_events():
    # Its speed is a benchmark's business (python -m eda_sim.bench), not a timed test's.
    sim = Simulation(seed=1, name="metrics-fast")
    sim.create_topic("in", partitions=4)
    Source(
        sim,
        "app",
        "in",
        [{"time": i * 0.001, "type": "Ping", "k": f"k{i % 50}"} for i in range(10_000)],
        key="k",
    )
    Service(
        sim,
        "echo",
        consumes="in",
        handlers={"Ping": lambda e, c: None},
        processing_time=0.0005,
        instances=2,
    )
    sim.run(until=12)
    m = metrics(sim)
    assert (m.throughput_in * 1.0).sum() == 10_000 and m.handled_echo.sum() == 10_000


def test_bad_input_says_what_is_expected():
    sim, _ = pipeline()
    with pytest.raises(
        ValueError,
        match="unknown metric 'lag_scorr' in rule 'lag_scorr > 5'; metrics available now: "
        "throughput_alerts, throughput_scores, throughput_transactions, handled_ledger",
    ):
        AlertMonitor(sim, [Threshold("lag_scorr", above=5)])
    with pytest.raises(ValueError, match="rule names must be unique"):
        AlertMonitor(sim, [Threshold("lag_scorer", 5), Threshold("lag_scorer", 5)])
    with pytest.raises(TypeError, match="rules must be a Threshold"):
        AlertMonitor(sim, [])
    with pytest.raises(ValueError, match="interval must be a positive number"):
        AlertMonitor(sim, Threshold("lag_scorer", 5), interval=0)
    with pytest.raises(TypeError, match="Threshold.above must be a number"):
        Threshold("lag_scorer", above="high")
    with pytest.raises(ValueError, match="bucket must be a duration in virtual seconds > 0, got 0"):
        metrics(sim, bucket=0)
    with pytest.raises(ValueError, match="until must be a virtual time in seconds >= 0, got -1"):
        metrics(sim, until=-1)
    with pytest.raises(ValueError, match="until=5 is in the future: the clock is at 0 s"):
        metrics(sim, until=5)
    with pytest.raises(ValueError, match="unknown group 'scorr'; groups are: ledger, scorer"):
        lag_by_partition(sim, "scorr")
    assert metrics(sim).empty and list(metrics(sim).columns) == metric_names(sim)
    quiet = Simulation(seed=0, name="metrics-quiet", journal=False)
    with pytest.raises(ValueError, match="journal=True"):
        metrics(quiet)
    assert alerts(quiet).empty
