"""Worlds for the storms lesson: a surge of requests, the fixes, the dashboard, and hot keys.

The ``scorer`` service scores ``InferenceRequested`` events from the
``requests`` topic (six partitions). An app sends 15 requests per second; from
10 s to 25 s a storm adds ``storm_rate`` more. A scorer instance handles 10
per second and two run, so the storm outruns them and lag builds. The fixes,
each a parameter of :func:`storm_world`:

* ``autoscale``: an :class:`~eda_sim.services.autoscale.Autoscaler` adds instances on lag,
  up to one per partition;
* ``limit``: the storm's producer sends through a
  :class:`~eda_sim.services.ratelimit.TokenBucket`; the surplus waits at the producer;
* ``max_in_flight``: backpressure, how many records an instance takes per
  poll; the rest waits in the log.

An :class:`~eda_sim.services.metrics.AlertMonitor` watches lag and p95 latency and
publishes ``AlertRaised`` / ``AlertResolved`` events to ``alerts``.

``hot_key_world`` is the other lesson: Zipf-distributed user keys put one
user's clicks, and so one partition, far above the rest; adding consumers does
not help that partition, salting the hot key (``n:key``) spreads it and gives
up that key's order.

Example::

    w = storm_world(40)                        # no fix: lag climbs through the storm
    storm_summary(w)                           # peak lag and latency, when it drained
    dashboard(w.sim)                           # throughput, latency, lag, errors per 2 s
    compare_lag({"off": w, "on": storm_world(40, autoscale=True)})
    hot_key_table()                            # hot partition lag by consumers and salting
"""

from __future__ import annotations

from collections import Counter
from typing import NamedTuple

from eda_sim.core.simulation import Simulation
from eda_sim.services.autoscale import Autoscaler
from eda_sim.services.events import Event
from eda_sim.services.load import Feed, LimitedFeed, Source, Storm
from eda_sim.services.members import Member
from eda_sim.services.metrics import AlertMonitor, Threshold, alerts, lag_by_partition, metrics
from eda_sim.services.ratelimit import TokenBucket
from eda_sim.services.retries import Retry, TransientError
from eda_sim.services.service import Service, spans_frame

TOPIC = "requests"
SERVICE = "scorer"
PARTITIONS = 6
BASE_RATE = 15.0  # requests per second from the app, all the time: more than one instance's work
STORM_START, STORM_SECONDS = 10.0, 15.0
PROCESSING_TIME = 0.1  # one instance scores 10 requests per second
HORIZON = (
    120.0  # the app's traffic is planned this far ahead (live controls can play past ``until``)
)
#: Alert levels: total lag in records and p95 end-to-end latency in seconds.
ALERT_LAG, ALERT_LATENCY = 150, 2.0
THRESHOLDS = {"lag": ALERT_LAG, "latency_p95": ALERT_LATENCY}
DASHBOARD = {
    "throughput_requests": "throughput_in",
    "handled_scorer": "throughput_handled",
    "latency_p50": "latency_p50",
    "latency_p95": "latency_p95",
    "lag_scorer": "lag_scorer",
    "errors_per_s": "errors_per_s",
}


class StormWorld(NamedTuple):
    """A storm run: the simulation, the scorer service, its autoscaler and the rate-limited feed (or None)."""

    sim: Simulation
    service: Service
    scaler: Autoscaler | None
    limited: LimitedFeed | None


def _request(i: int, storm: bool) -> dict:
    return {"type": "InferenceRequested", "user": f"user-{i % 97}", "n": i, "storm": storm}


def storm_world(
    storm_rate: float = 40.0,
    *,
    autoscale: bool = False,
    scale_out_lag: float = 100,
    scale_in_lag: float = 10,
    cooldown: float = 3.0,
    min_instances: int = 2,
    max_instances: int | None = None,
    instances: int = 2,
    max_in_flight: int = 20,
    limit=None,
    slowdown: float = 1.0,
    errors: float = 0.05,
    max_poll_interval_ms: int = 300000,
    until: float = 45.0,
    seed: int = 8,
    name: str = "storm",
    strategy: str = "cooperative-sticky",
) -> StormWorld:
    """The scorer (``instances`` of it) under ``storm_rate`` extra requests per second from 10 s to 25 s.

    ``autoscale`` starts an Autoscaler (``scale_out_lag``, ``scale_in_lag``,
    ``cooldown``, ``max_instances``; checks every second). ``limit`` (records
    per second, or a :class:`TokenBucket`) rate-limits the storm's producer.
    ``max_in_flight`` is the records an instance takes per poll. During the
    storm each request takes ``slowdown`` times longer (a shared dependency
    saturates) and a fraction ``errors`` fails once with a timeout and is
    retried. ``strategy`` is the group's assignor (cooperative, so that scaling
    moves only the partitions a new instance takes). Runs to ``until`` (0: not
    at all, for live controls).
    """
    if isinstance(storm_rate, bool) or not isinstance(storm_rate, (int, float)) or storm_rate < 0:
        raise ValueError(
            f"storm_rate must be a number of requests per second >= 0, got {storm_rate!r}"
        )
    # Sessions shorter than a real broker allows: Kafka refuses a session.timeout.ms under
    # group.min.session.timeout.ms (6 s by default), so this demo lowers the broker's minimum.
    sim = Simulation(seed=seed, name=name, broker_config={"group.min.session.timeout.ms": 100})
    sim.create_topic(TOPIC, partitions=PARTITIONS)
    base = int(BASE_RATE * HORIZON)
    Source(
        sim,
        "app",
        TOPIC,
        [{"time": round(i / BASE_RATE, 6), **_request(i, False)} for i in range(base)],
        key="user",
    )
    limited = None
    if storm_rate and limit is None:
        Storm(
            sim,
            TOPIC,
            rate=storm_rate,
            duration=STORM_SECONDS,
            start=STORM_START,
            make=lambda i: _request(base + i, True),
            key="user",
            name="storm",
        )
    elif storm_rate:
        bucket = (
            limit
            if isinstance(limit, TokenBucket)
            else TokenBucket(rate=limit, burst=max(1.0, limit / 10))
        )
        limited = LimitedFeed(
            sim,
            TOPIC,
            _storm_records(storm_rate, base),
            storm_rate,
            limit=bucket,
            start=STORM_START,
            config={"client.id": "storm"},
        )

    def in_storm() -> bool:
        return STORM_START <= sim.now < STORM_START + STORM_SECONDS

    def score(event, ctx):
        if ctx.attempt == 1 and in_storm() and errors and ctx.sim.random.random() < errors:
            raise TransientError("feature store timed out")

    svc = Service(
        sim,
        SERVICE,
        consumes=TOPIC,
        handlers={"InferenceRequested": score},
        instances=instances,
        processing_time=lambda rng: PROCESSING_TIME * (slowdown if in_storm() else 1.0),
        max_in_flight=max_in_flight,
        retry=Retry(attempts=3, backoff=0.05),
        config={
            "max.poll.interval.ms": max_poll_interval_ms,
            "session.timeout.ms": 3000,
            "partition.assignment.strategy": strategy,
        },
    )
    scaler = None
    if autoscale:
        scaler = Autoscaler(
            sim,
            svc,
            scale_out_lag=scale_out_lag,
            scale_in_lag=scale_in_lag,
            cooldown=cooldown,
            min_instances=min_instances,
            max_instances=max_instances,
            interval=1.0,
        )
    AlertMonitor(
        sim,
        [Threshold("lag_scorer", above=ALERT_LAG), Threshold("latency_p95", above=ALERT_LATENCY)],
    )
    if until > sim.now:
        sim.run(until=until)
    return StormWorld(sim, svc, scaler, limited)


def _storm_records(rate: float, first: int):
    """The storm as (key, event JSON) pairs for a LimitedFeed; each event's time is when it is offered."""
    for i in range(int(round(rate * STORM_SECONDS))):
        payload = _request(first + i, True)
        payload.pop("type")
        event = Event.create(
            "InferenceRequested",
            payload,
            id=f"storm-{i + 1:06d}",
            key=payload["user"],
            time=round(STORM_START + i / rate, 6),
        )
        yield event.key, event.to_json()


# -- what to watch -------------------------------------------------------------------------------


def dashboard(sim, bucket: float = 2.0):
    """The four signals per ``bucket`` seconds: throughput in and handled, latency p50/p95, lag, errors/s."""
    frame = metrics(sim, bucket)
    return frame[list(DASHBOARD)].rename(columns=DASHBOARD)


def storm_summary(world: StormWorld, bucket: float = 1.0) -> dict:
    """Peak lag and p95 latency, when the lag was back under 50 after the storm, instances, evictions, alerts."""
    sim = world.sim
    m = metrics(sim, bucket)
    lag = m["lag_scorer"]
    after = lag[(lag.index >= STORM_START) & (lag <= 50)]
    drained = after.index[after.index > STORM_START + 1].min() if len(after) else None
    most = (
        world.scaler.samples["instances"].max()
        if world.scaler is not None
        else len(world.service.instances)
    )
    raised = alerts(sim)
    return {
        "peak_lag": int(lag.max()),
        "peak_p95_s": round(float(m["latency_p95"].max()), 2),
        "drained_at": None if drained is None or drained != drained else float(drained) + bucket,
        "most_instances": int(most),
        "evictions": len(sim.journal.rows("evicted")),
        "duplicates": duplicates_handled(sim),
        "alerts_raised": int((raised["type"] == "AlertRaised").sum()),
    }


def duplicates_handled(sim, service: str = SERVICE) -> int:
    """Records the service handled more than once (redelivered after a rebalance)."""
    seen = Counter((s.topic, s.partition, s.offset) for s in sim.spans if s.service == service)
    return sum(n - 1 for n in seen.values())


def compare_lag(worlds: dict, bucket: float = 2.0):
    """Lag per ``bucket`` of several storm runs side by side (``lag_<label>`` columns, one panel in draw_metrics).

    A run with an autoscaler adds an ``instances`` column: how many ran at each bucket's end.
    """
    import pandas as pd

    frame = pd.DataFrame(
        {f"lag_{label}": metrics(w.sim, bucket)["lag_scorer"] for label, w in worlds.items()}
    )
    for w in worlds.values():
        if w.scaler is not None:
            samples = w.scaler.samples
            frame["instances"] = [
                int(samples[samples.time <= t + bucket]["instances"].iloc[-1])
                if (samples.time <= t + bucket).any()
                else len(w.service.instances)
                for t in frame.index
            ]
            break
    return frame


def end_to_end(sim, service: str = SERVICE):
    """Per request handled: storm or app traffic, when it was offered (its event time), produced and handled.

    ``at_producer`` is the wait before it reached the broker (a rate limit's
    queue), ``in_broker`` the wait from produce to handled (lag and handling),
    ``end_to_end`` their sum. Redeliveries count once, at their first handling.
    """
    import pandas as pd

    spans = spans_frame(sim, service)
    spans = spans[spans.outcome == "handled"].drop_duplicates(["topic", "partition", "offset"])
    origin = {}
    for log in sim.topic(TOPIC).partitions:
        for r in log.records():
            event = Event.from_json(r.value)
            origin[(r.partition, r.offset)] = (event.time, bool(event.payload["storm"]))
    first = [origin[(p, o)] for p, o in zip(spans.partition, spans.offset)]
    frame = pd.DataFrame(
        {
            "storm": [s for _t, s in first],
            "offered": [t for t, _s in first],
            "produced": spans.produced.to_numpy(),
            "handled": spans.finished.to_numpy(),
        }
    )
    frame["at_producer"] = frame.produced - frame.offered
    frame["in_broker"] = frame.handled - frame.produced
    frame["end_to_end"] = frame.handled - frame.offered
    return frame


def rate_limit_table(
    limits=(None, 10, 4), storm_rate: float = 40.0, runs: dict | None = None, **options
):
    """Per limit on the storm's producer: peak lag, the app's p95 end to end, storm requests handled and waiting.

    ``storm_waiting`` are storm requests still queued at the producer when the
    run ends: what the limit holds back instead of the broker. ``runs`` maps a
    limit to a :class:`StormWorld` already run with it (not run again).
    """
    import pandas as pd

    rows = []
    for limit in limits:
        w = (runs or {}).get(limit) or storm_world(
            storm_rate, limit=limit, name="storm-limit", **options
        )
        e = end_to_end(w.sim)
        storm = e[e.storm]
        total = int(round(storm_rate * STORM_SECONDS))
        waiting = w.limited.backlog if w.limited is not None else 0
        rows.append(
            {
                "limit_per_s": limit or "none",
                "peak_lag": peak_lag(w.sim),
                "app_p95_s": round(float(e[~e.storm].end_to_end.quantile(0.95)), 2),
                "storm_handled": f"{len(storm)} of {total}",
                "storm_waiting": waiting,
            }
        )
    return pd.DataFrame(rows)


def held_in_memory(sim, service: str = SERVICE) -> int:
    """The most records ``service``'s instances held at once: delivered to them by polls, not finished yet."""
    changes = [(r.time, 0, r.count) for r in sim.journal.rows("delivered") if r.group == service]
    changes += [(s.finished, 1, -1) for s in sim.spans if s.service == service]
    held = peak = 0
    for _t, _order, delta in sorted(changes):
        held += delta
        peak = max(peak, held)
    return peak


def backpressure_table(
    max_in_flights=(5, 20, 1000), storm_rate: float = 40.0, runs: dict | None = None, **options
):
    """Per ``max_in_flight``: the most records held in the scorer's memory, the peak lag, the p95 latency.

    ``runs`` maps a ``max_in_flight`` to a :class:`StormWorld` already run with it.
    """
    import pandas as pd

    rows = []
    for n in max_in_flights:
        w = (runs or {}).get(n) or storm_world(
            storm_rate, max_in_flight=n, name="storm-backpressure", **options
        )
        m = metrics(w.sim, 1.0)
        rows.append(
            {
                "max_in_flight": n,
                "held_in_memory": held_in_memory(w.sim),
                "peak_lag": int(m["lag_scorer"].max()),
                "peak_p95_s": round(float(m["latency_p95"].max()), 2),
            }
        )
    return pd.DataFrame(rows)


def slow_storm_table(
    max_in_flights=(20, 5),
    *,
    slowdown: float = 2.0,
    max_poll_interval_ms: int = 3000,
    storm_rate: float = 40.0,
    **options,
):
    """Processing slows ``slowdown`` times in the storm: does a poll's batch still fit in max.poll.interval.ms?"""
    import pandas as pd

    rows = []
    for n in max_in_flights:
        w = storm_world(
            storm_rate,
            max_in_flight=n,
            slowdown=slowdown,
            max_poll_interval_ms=max_poll_interval_ms,
            name="storm-slow",
            **options,
        )
        s = storm_summary(w)
        rows.append(
            {
                "max_in_flight": n,
                "batch_in_storm_s": round(n * PROCESSING_TIME * slowdown, 2),
                "evictions": s["evictions"],
                "rebalances": len(w.sim.journal.rows("rebalanced")),
                "duplicates": s["duplicates"],
                "peak_lag": s["peak_lag"],
                "drained_at": s["drained_at"],
            }
        )
    return pd.DataFrame(rows)


# -- hot keys ------------------------------------------------------------------------------------

VIEWS_TOPIC = "views"
RANKERS = "rankers"
HOT_USER = "user_0"


def zipf_users(n: int, rng, users: int = 200, s: float = 1.1) -> list:
    """``n`` user names drawn with Zipf weights 1/rank**s: ``user_0`` is the most frequent."""
    weights = [1 / (k + 1) ** s for k in range(users)]
    return [f"user_{k}" for k in rng.choices(range(users), weights=weights, k=n)]


def hot_key_world(
    instances: int = 6,
    salts: int = 0,
    *,
    rate: float = 100.0,
    users: int = 200,
    s: float = 1.1,
    processing_time: float = 0.04,
    until: float = 20.0,
    seed: int = 8,
) -> Simulation:
    """Clicks keyed by a Zipf-distributed user, read by ``instances`` rankers (group ``rankers``, six partitions).

    A ranker handles 25 clicks per second; the 100 per second spread over six
    partitions would fit, but ``user_0`` alone sends a fifth of them. With
    ``salts`` > 1 the hot user's key becomes ``n:user_0`` (n = click number
    mod ``salts``), spreading it over several partitions. The salt goes in
    front: under CRC32 (librdkafka's default partitioner) keys that differ only
    in their last character share residues modulo an even partition count, so
    ``user_0#0`` .. ``user_0#3`` would land on two of the six partitions. Each value is
    ``"<user> <click number>"``.
    """
    if isinstance(salts, bool) or not isinstance(salts, int) or salts < 0:
        raise ValueError(f"salts must be a whole number >= 0 (0 or 1: no salting), got {salts!r}")
    sim = Simulation(seed=seed, name="hot-keys")
    sim.create_topic(VIEWS_TOPIC, partitions=PARTITIONS)
    who = zipf_users(int(rate * until), sim.random, users, s)

    def records():
        for i, user in enumerate(who):
            key = f"{i % salts}:{user}" if salts > 1 and user == HOT_USER else user
            yield key, f"{user} {i}"

    Feed(sim, VIEWS_TOPIC, records(), rate=rate, config={"client.id": "site"}, tick=0.05)
    for k in range(instances):
        Member(
            sim,
            RANKERS,
            [VIEWS_TOPIC],
            name=f"ranker-{k + 1}",
            processing_time=processing_time,
            max_poll_records=50,
            config={"auto.offset.reset": "earliest"},
        )
    sim.run(until=until)
    return sim


def out_of_order(sim, user: str = HOT_USER, topic: str = VIEWS_TOPIC) -> int:
    """How many of ``user``'s clicks were processed after a later click of theirs (processing order, journal)."""
    values = {}
    for log in sim.topic(topic).partitions:
        for r in log.records():
            values[(r.partition, r.offset)] = r.value.decode()
    latest, late = -1, 0
    for r in sim.journal.rows("processed"):
        if r.topic != topic:
            continue
        for o in range(r.offset, r.offset + r.count):
            who, n = values[(r.partition, o)].split(" ")
            if who == user:
                if int(n) < latest:
                    late += 1
                latest = max(latest, int(n))
    return late


def hot_partition(sim, group: str = RANKERS) -> dict:
    """The group's total lag now, the partition with the most, its lag and its share of the total."""
    last = lag_by_partition(sim, group, bucket=1.0).iloc[-1]
    total = float(last.sum())
    top = str(last.idxmax())
    return {
        "group_lag": int(total),
        "hot_partition": top,
        "hot_lag": int(last[top]),
        "hot_share": round(float(last[top]) / total, 2) if total else 0.0,
    }


def hot_key_table(cases=((3, 0), (6, 0), (8, 0), (6, 4)), runs: dict | None = None, **options):
    """Per (instances, salts): the group lag, the hot partition's lag and share, and out-of-order clicks of user_0.

    ``runs`` maps an ``(instances, salts)`` case to a simulation already run with it.
    """
    import pandas as pd

    rows = []
    for instances, salts in cases:
        sim = (runs or {}).get((instances, salts)) or hot_key_world(instances, salts, **options)
        rows.append(
            {
                "instances": instances,
                "salts": salts,
                **hot_partition(sim),
                "user_0_out_of_order": out_of_order(sim),
            }
        )
    return pd.DataFrame(rows)


def peak_lag(sim, service: str = SERVICE) -> int:
    """The highest lag of ``service``'s group at any 1 s bucket end."""
    return int(metrics(sim, 1.0)[f"lag_{service}"].max())
