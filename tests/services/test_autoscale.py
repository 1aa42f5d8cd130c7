"""Flow control: token buckets, rate-limited feeds, storms, and autoscaling on lag."""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eda_sim import Simulation
from eda_sim.core.measures import group_lag
from eda_sim.services.autoscale import Autoscaler
from eda_sim.services.load import LimitedFeed, Source, Storm
from eda_sim.services.ratelimit import TokenBucket
from eda_sim.services.service import Service

# ------------------------------------------------------------------------ token bucket


@settings(max_examples=200, deadline=None)
@given(
    rate=st.floats(0.5, 50),
    burst=st.integers(1, 10),
    gaps=st.lists(st.floats(0, 2, allow_nan=False), min_size=1, max_size=40),
)
def test_a_token_bucket_never_lets_more_than_burst_plus_rate_times_t_through(rate, burst, gaps):
    bucket = TokenBucket(rate, burst)
    now, asked, granted = 0.0, [], []
    for gap in gaps:
        now += gap
        available = bucket.tokens(now)
        wait = bucket.take(now)
        # no stricter than it must be: a caller waits only for the token it lacks
        assert wait == (0.0 if available >= 1 else pytest.approx((1 - available) / rate))
        asked.append(now)
        granted.append(now + wait)
    assert granted == sorted(granted)  # first come, first served
    for i in range(len(granted)):
        for j in range(i, len(granted)):
            assert j - i + 1 <= burst + rate * (granted[j] - granted[i]) + 1e-6
    assert all(g >= a for a, g in zip(asked, granted))
    assert all(
        w == 0 for w in [g - a for a, g in zip(asked, granted)][:burst]
    )  # a full bucket: a burst at once


def test_a_full_bucket_lets_a_burst_through_then_one_per_interval():
    bucket = TokenBucket(rate=4, burst=3)
    assert [bucket.take(0.0) for _ in range(5)] == [0.0, 0.0, 0.0, 0.25, 0.5]
    assert bucket.tokens(0.5) == pytest.approx(0.0)
    assert bucket.try_take(0.5) is False and bucket.try_take(0.75) is True
    assert bucket.take(10.0) == 0.0  # refilled, but never above the burst
    assert bucket.tokens(10.0) == pytest.approx(2.0)


@pytest.mark.parametrize(
    "make, text",
    [
        (
            lambda: TokenBucket(rate=-1, burst=2),
            "rate must be a number of tokens per second > 0, got -1",
        ),
        (
            lambda: TokenBucket(rate=0, burst=2),
            "rate must be a number of tokens per second > 0, got 0",
        ),
        (lambda: TokenBucket(rate=1, burst=0), "burst must be a number of tokens > 0, got 0"),
        (
            lambda: TokenBucket(rate=1, burst=2).take(0, n=3),
            "cannot take 3 tokens at once from a bucket that holds 2",
        ),
    ],
)
def test_bad_bucket_settings_are_refused_naming_the_parameter(make, text):
    with pytest.raises(ValueError, match=text):
        make()


def test_a_bucket_rate_that_is_not_a_number_is_a_type_error_naming_it():
    with pytest.raises(
        TypeError, match="rate must be a number of tokens per second > 0, got str 'fast'"
    ):
        TokenBucket(rate="fast")
    with pytest.raises(ValueError, match="rate must be a number of tokens per second > 0, got NaN"):
        TokenBucket(rate=float("nan"))


def test_a_bucket_refuses_a_clock_that_goes_backwards():
    bucket = TokenBucket(1, 1)
    bucket.take(5.0)
    with pytest.raises(
        ValueError, match="before the last take at 5.0: the clock only moves forward"
    ):
        bucket.take(4.0)


def test_a_limited_feed_sends_no_faster_than_its_bucket_and_the_rest_waits_at_the_producer():
    sim = Simulation(seed=1, name="flow-tests")
    sim.create_topic("calls", partitions=2)
    feed = LimitedFeed(
        sim,
        "calls",
        ((f"k{i}", f"call {i}") for i in range(100)),
        rate=100,
        limit=TokenBucket(rate=20, burst=5),
    )
    sim.run(until=2.0)
    assert feed.offered == 100 and 40 <= feed.produced <= 46 and feed.backlog == 100 - feed.produced
    sim.run(until=10)
    assert feed.produced == 100 and feed.backlog == 0 and feed.done
    times = sorted(r.timestamp for log in sim.topic("calls").partitions for r in log.records())
    assert len(times) == 100 and times[-1] == pytest.approx(95 / 20)
    for i in range(len(times)):
        for j in range(i, min(len(times), i + 30)):
            assert j - i + 1 <= 5 + 20 * (times[j] - times[i]) + 1e-6
    assert feed.waited > 0
    with pytest.raises(ValueError, match="rate must be a number of records per second > 0, got -5"):
        LimitedFeed(sim, "calls", [], rate=-5)
    with pytest.raises(TypeError, match=r"limit must be a TokenBucket\(rate=..., burst=...\)"):
        LimitedFeed(sim, "calls", [], rate=5, limit=10)


# ------------------------------------------------------------------------------- storms


def normal_traffic(sim, n=200, every=0.1):
    return Source(
        sim,
        "site",
        "clicks",
        [{"time": i * every, "type": "Clicked", "user": f"u{i % 7}"} for i in range(n)],
        key="user",
    )


def test_a_storm_produces_rate_times_duration_events_inside_its_window_on_top_of_normal_traffic():
    sim = Simulation(seed=3, name="flow-tests")
    sim.create_topic("clicks", partitions=3)
    normal = normal_traffic(sim)
    storm = Storm(
        sim,
        "clicks",
        rate=50,
        duration=4,
        start=10,
        make=lambda i: {"type": "Clicked", "user": f"bot{i}"},
        key="user",
    )
    sim.run(until=30)
    assert storm.records == 200 and storm.produced == 200 and storm.window == (10.0, 14.0)
    rows = [r for log in sim.topic("clicks").partitions for r in log.records()]
    bots = sorted(r.timestamp for r in rows if r.key.startswith(b"bot"))
    assert len(bots) == 200 and bots[0] == pytest.approx(10.0) and bots[-1] < 14.0
    assert len(rows) == 200 + normal.published
    started, ended = sim.journal.rows("storm_started"), sim.journal.rows("storm_ended")
    assert [(r.time, r.count, r.topic) for r in started] == [(10.0, 200, "clicks")]
    assert [(r.time, r.count) for r in ended] == [(14.0, 200)]
    assert "50 records/s for 4 s (200 records)" in started[0].detail


def test_a_storm_of_raw_records_goes_through_a_feed():
    sim = Simulation(seed=3, name="flow-tests")
    sim.create_topic("clicks", partitions=2)
    storm = Storm(
        sim, "clicks", rate=200, duration=1.5, start=2, make=lambda i: (f"k{i % 3}", f"raw {i}")
    )
    sim.run(until=5)
    stamps = [r.timestamp for log in sim.topic("clicks").partitions for r in log.records()]
    assert storm.produced == len(stamps) == 300
    assert 2.0 - 1e-9 <= min(stamps) and max(stamps) <= 3.5 + 1e-9


@pytest.mark.parametrize(
    "kwargs, error, text",
    [
        ({"rate": 0}, ValueError, "rate must be a number of records per second > 0, got 0"),
        ({"rate": -3}, ValueError, "rate must be a number of records per second > 0, got -3"),
        ({"duration": 0}, ValueError, "duration must be a number of virtual seconds > 0, got 0"),
        ({"start": -1}, ValueError, "start must be a virtual time in seconds >= 0, got -1"),
        ({"make": "Clicked"}, TypeError, "make must be a function of the record number i"),
        (
            {"make": lambda i: 42},
            TypeError,
            "make\\(i\\) must return an event dict with a 'type' or a \\(key, value\\)",
        ),
        (
            {"make": lambda i: {"user": "u"}},
            ValueError,
            "make\\(i\\) returned an event dict without a 'type'",
        ),
    ],
)
def test_bad_storms_are_refused(kwargs, error, text):
    sim = Simulation(seed=3, name="flow-tests")
    sim.create_topic("clicks")
    args = {"rate": 10, "duration": 1, "start": 0, "make": lambda i: {"type": "Clicked"}, **kwargs}
    with pytest.raises(error, match=text):
        Storm(sim, "clicks", **args)


# -------------------------------------------------------------------------- autoscaling


def storm_world(seed, partitions, rate, duration, name="flow-tests"):
    sim = Simulation(seed=seed, name=name)
    sim.create_topic("clicks", partitions=partitions)
    normal_traffic(sim, n=400, every=0.1)
    Storm(
        sim,
        "clicks",
        rate=rate,
        duration=duration,
        start=5,
        make=lambda i: {"type": "Clicked", "user": f"bot{i % 40}"},
        key="user",
    )
    svc = Service(
        sim,
        "ranker",
        consumes="clicks",
        handlers={"Clicked": lambda e, ctx: None},
        processing_time=0.01,
        max_in_flight=50,
    )
    return sim, svc


def test_the_autoscaler_scales_out_in_a_storm_and_back_in_after_it_with_the_cooldown_respected():
    sim, svc = storm_world(seed=8, partitions=4, rate=300, duration=8)
    scaler = Autoscaler(sim, svc, scale_out_lag=200, scale_in_lag=20, cooldown=4, interval=1)
    sim.run(until=80)
    d = scaler.decisions
    assert list(d.columns) == ["time", "lag", "action", "before", "after", "reason"]
    out = d[d.action == "scale_out"]
    assert len(out) >= 2 and out.time.min() >= 5 and (out.lag > 200).all()
    assert d.after.max() <= 4 and (d.after - d.before).abs().max() <= 1
    assert (d.time.diff().dropna() >= 4 - 1e-9).all()  # the cool-down after every decision
    assert d.action.iloc[-1] == "scale_in" and d.after.iloc[-1] == 1 and svc.running == 1
    assert ((d.action != "scale_in") | (d.lag < 20)).all()
    rows = sim.journal.rows("scaled")
    assert [(r.time, r.count) for r in rows] == list(zip(d.time, d.after))
    assert (
        rows[0].actor == "ranker-autoscaler"
        and rows[0].group == "ranker"
        and "instances 1 -> 2" in rows[0].detail
    )
    samples = scaler.samples
    assert (
        samples.lag.max() > 200 and samples.lag.iloc[-1] == 0 and len(samples) == 79
    )  # checks at 1, 2, ..., 79 s


def test_a_decision_still_called_for_comes_exactly_one_cooldown_after_the_last():
    # The cooldown is a wait of `cooldown` seconds, not more: checked every second, a lag that still
    # calls for a change gets it at the first check once the cooldown is over (4 s later).
    sim, svc = storm_world(seed=8, partitions=4, rate=300, duration=8)
    scaler = Autoscaler(sim, svc, scale_out_lag=200, scale_in_lag=20, cooldown=4, interval=1)
    sim.run(until=30)
    d = scaler.decisions
    assert list(d.action) == ["scale_out"] * 3 + ["scale_in"] * 3
    assert (d.time.diff().dropna() >= 4.0).all()
    assert d.time.diff().dropna().tolist().count(4.0) >= 4  # most came at the first chance
    # every check past the cooldown whose lag called for a change made it, at that check
    decided = set(d.time)
    for t, lag, running in scaler.samples.itertuples(index=False):
        last = max([x for x in d.time if x < t], default=-4.0)
        wanted = (lag > 200 and running < 4) or (lag < 20 and running > 1)
        if t - last >= 4.0 and t > 5:
            assert (t in decided) == wanted, (t, lag, running)


def test_at_the_partition_cap_the_autoscaler_refuses_and_says_why():
    sim, svc = storm_world(seed=2, partitions=2, rate=400, duration=6)
    scaler = Autoscaler(sim, svc, scale_out_lag=100, scale_in_lag=10, cooldown=2, interval=1)
    sim.run(until=40)
    d = scaler.decisions
    refused = d[d.action == "refused"]
    assert len(refused) >= 1 and (refused.before == 2).all() and (refused.after == 2).all()
    assert "2 instances already own the 2 partitions; more would sit idle" in refused.reason.iloc[0]
    assert d.after.max() == 2 and scaler.partition_cap() == 2
    assert any("refused" in r.detail for r in sim.journal.rows("scaled"))


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 1000),
    partitions=st.integers(1, 5),
    rate=st.integers(100, 400),
    duration=st.integers(2, 6),
    out_lag=st.integers(20, 300),
    cooldown=st.sampled_from([0, 1, 3]),
    max_instances=st.one_of(st.none(), st.integers(1, 6)),
)
def test_the_autoscaler_never_runs_more_instances_than_partitions(
    seed, partitions, rate, duration, out_lag, cooldown, max_instances
):
    sim, svc = storm_world(seed, partitions, rate, duration)
    scaler = Autoscaler(
        sim,
        svc,
        scale_out_lag=out_lag,
        scale_in_lag=out_lag // 4,
        cooldown=cooldown,
        interval=0.5,
        max_instances=max_instances,
    )
    cap = min(partitions, max_instances or partitions)
    most = []
    for t in range(1, 31):
        sim.run(until=t)
        most.append(svc.running)
    d = scaler.decisions
    assert max(most) <= cap and (d.after <= cap).all() and (d.after >= 1).all()
    assert (d.time.diff().dropna() >= cooldown - 1e-9).all()
    if cap > 1 and (rate - 100) * duration > 2 * out_lag:  # one instance handles 100 events/s
        assert (d.action == "scale_out").any()


def test_lag_counts_from_the_log_start_before_any_commit():
    sim = Simulation(seed=1, name="flow-tests")
    sim.create_topic("clicks", partitions=2)
    p = sim.producer()
    for i in range(7):
        p.produce("clicks", key=f"k{i}", value="x")
    p.flush()
    assert group_lag(sim, "nobody-yet", ["clicks"]) == 7


@pytest.mark.parametrize(
    "kwargs, error, text",
    [
        ({"interval": 0}, ValueError, "interval must be a number of virtual seconds > 0, got 0"),
        ({"interval": -1}, ValueError, "interval must be a number of virtual seconds > 0, got -1"),
        ({"cooldown": -2}, ValueError, "cooldown must be a number of virtual seconds >= 0, got -2"),
        (
            {"scale_out_lag": 10, "scale_in_lag": 10},
            ValueError,
            "scale_in_lag \\(10\\) must be below scale_out_lag \\(10\\)",
        ),
        ({"min_instances": 0}, ValueError, "min_instances must be a whole number >= 1, got 0"),
        (
            {"min_instances": 3, "max_instances": 2},
            ValueError,
            "max_instances \\(2\\) must be >= min_instances \\(3\\)",
        ),
    ],
)
def test_bad_autoscaler_settings_are_refused(kwargs, error, text):
    sim, svc = storm_world(seed=1, partitions=2, rate=10, duration=1)
    with pytest.raises(error, match=text):
        Autoscaler(sim, svc, **kwargs)
    with pytest.raises(ValueError, match="unknown service 'rankr'; services are: ranker"):
        Autoscaler(sim, "rankr")


def test_the_same_seed_gives_the_same_decisions():
    def once():
        sim, svc = storm_world(seed=5, partitions=3, rate=250, duration=5)
        scaler = Autoscaler(sim, svc, scale_out_lag=150, scale_in_lag=15, cooldown=3, interval=1)
        sim.run(until=40)
        return sim.journal.digest(), scaler.decisions.values.tolist()

    assert once() == once()
