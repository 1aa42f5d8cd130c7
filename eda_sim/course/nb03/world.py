"""Worlds for notebook 03: partitions, keys and the order of one user's events.

A shop app publishes ``UserClicked`` events to ``clicks``; each carries the
user's own click number ``n`` (1, 2, 3, ...), so the order a consumer sees
can be checked against the order the user clicked in. The ``sessionizer``
service reads ``clicks`` with one instance per partition; each instance takes
a varying time per event (a cache miss here, a slow call there), so the
partitions are worked through at different speeds.

* :func:`clicks_world` keys the records by a field of your choice (or not at
  all) and shows what that does to each user's order;
* :func:`null_key_partitions` shows where records without a key go;
* :func:`key_map` and :func:`growth_world` add partitions to a topic that is
  in use and show which keys moved and whose order broke;
* :func:`late_world` has phones that send their taps late, and a reorder
  buffer that puts them back in event-time order within a window.

Example::

    sim = clicks_world(key=None)
    key_order(sim)                                 # per user: events, partitions, out-of-order pairs
    compare_keys()                                 # the same for every key choice
    key_map([f"user-{i:03d}" for i in range(9)], before=3, after=4)
    late_world(window=2.0)[1]                      # late events, waits, handled order
"""

from __future__ import annotations

import math
import random

from eda_sim.core.simulation import Simulation
from eda_sim.kafka.partitioner import crc32_partition
from eda_sim.services.load import DelayedSource, Source
from eda_sim.services.ordering import late_events
from eda_sim.services.ordering import out_of_order_pairs as _pairs
from eda_sim.services.service import Service

TOPIC = "clicks"
SERVICE = "sessionizer"
#: The fields of a click a learner can key by (``None``: no key), in the order the notebook compares them.
KEY_CHOICES = ("user_id", "region", "product_id", "click_id", None)
_REGIONS = ("eu", "us")
#: Records a sessionizer instance takes per poll: small, so the order it is handed records is the order it
#: handles them in.
PER_POLL = 5


def users(n: int = 6) -> list[str]:
    """The user ids of the clicks worlds: ``user-000``, ``user-001``, ..."""
    return [f"user-{i:03d}" for i in range(n)]


def clicks(
    n_users: int = 6, duration: float = 10.0, rate: float = 12.0, seed: int = 3
) -> list[dict]:
    """``UserClicked`` items at ``rate`` per second (Poisson), each with the user's click number ``n``.

    Fields: ``user_id``; ``n``; ``region`` (fixed per user, two values);
    ``product_id``; ``click_id`` (random, unique per click).
    """
    rng = random.Random(seed)
    ids = users(n_users)
    count = dict.fromkeys(ids, 0)
    out, t = [], 0.0
    while True:
        t += rng.expovariate(rate)
        if t >= duration:
            return out
        u = ids[rng.randrange(n_users)]
        count[u] += 1
        out.append(
            {
                "time": round(t, 4),
                "type": "UserClicked",
                "user_id": u,
                "n": count[u],
                "region": _REGIONS[int(u[-3:]) % 2],
                "product_id": f"p{rng.randrange(20):02d}",
                "click_id": f"c-{rng.getrandbits(32):08x}",
            }
        )


def _work(mean: float):
    def handling_time(rng):
        """Seconds to handle one event: exponential around ``mean`` (most are quick, a few are slow)."""
        return rng.expovariate(1.0 / mean)

    return handling_time


def clicks_world(
    key: str | None = "user_id",
    *,
    partitions: int = 3,
    instances: int = 3,
    until: float = 12.0,
    n_users: int = 6,
    duration: float = 10.0,
    rate: float = 12.0,
    handling: float = 0.2,
    seed: int = 3,
    name: str = "clicks",
) -> Simulation:
    """The app publishing clicks keyed by the field ``key`` (``None``: no key), and the sessionizer reading them.

    ``instances`` sessionizer instances share the partitions; each spends a
    random time per event (mean ``handling`` seconds), which keeps the
    partitions' backlogs uneven. ``until=0`` returns the world before
    anything happened (for live controls).
    """
    if key is not None and key not in KEY_CHOICES:
        raise ValueError(
            f"key must be one of the click's fields {', '.join(k for k in KEY_CHOICES if k)} "
            f"or None for no key, got {key!r}"
        )
    sim = Simulation(seed=seed, name=name)
    sim.create_topic(TOPIC, partitions=partitions)
    Source(sim, "app", TOPIC, clicks(n_users, duration, rate, seed), key=key)
    Service(
        sim,
        SERVICE,
        consumes=TOPIC,
        handlers={"UserClicked": lambda event, ctx: None},
        instances=instances,
        processing_time=_work(handling),
        max_in_flight=PER_POLL,
    )
    if until:
        sim.run(until=until)
    return sim


def key_order(sim, topic: str = TOPIC, group: str = SERVICE):
    """Per user: clicks, partitions they went to, and out-of-order pairs in the order ``group`` got them.

    A pair is two clicks of one user where the one delivered later has the
    smaller click number ``n``.
    """
    from eda_sim.services.ordering import ordering_report

    report = ordering_report(sim, topic, key="user_id", time_field="n", group=group)
    return report[["key", "records", "partitions", "out_of_order"]].rename(
        columns={"key": "user_id", "records": "clicks", "out_of_order": "out_of_order_pairs"}
    )


def order_summary(key: str | None, partitions: int = 3, **options) -> dict:
    """Run :func:`clicks_world` with ``key`` and sum up what it did to order and load.

    Keys: ``key``; ``partitions used`` (that got any click); ``out of order``
    (pairs of one user's clicks handed over in the wrong order); ``users hit``
    (users with at least one such pair); ``busiest`` (the share of clicks in
    the fullest partition).
    """
    sim = clicks_world(key, partitions=partitions, **options)
    per_user = key_order(sim)
    sizes = [log.log_end_offset for log in sim.topic(TOPIC).partitions]
    return {
        "key": key if key is not None else "(no key)",
        "partitions used": f"{sum(1 for n in sizes if n)} of {partitions}",
        "out of order": int(per_user["out_of_order_pairs"].sum()),
        "users hit": int((per_user["out_of_order_pairs"] > 0).sum()),
        "busiest": f"{max(sizes) / max(1, sum(sizes)):.0%}",
    }


def compare_keys(keys=KEY_CHOICES, partitions: int = 3, **options):
    """:func:`order_summary` for each key choice, as a DataFrame."""
    import pandas as pd

    return pd.DataFrame([order_summary(k, partitions, **options) for k in keys])


def null_key_partitions(n: int = 24, every: float = 0.002, partitions: int = 3, seed: int = 1):
    """Where ``n`` records without a key go, produced ``every`` seconds, under three rules.

    Columns: ``record``; ``time_ms`` (when it was produced); ``sticky`` (the
    simulator's default, as librdkafka since 1.6: one random partition for
    ``sticky.partitioning.linger.ms`` = 10 ms, then another); ``no_sticky``
    (the same producer with ``sticky.partitioning.linger.ms`` = 0: a random
    partition per record); ``round_robin`` (what many expect, and no default
    client does).
    """
    import pandas as pd

    cols = {}
    for label, cfg in (("sticky", {}), ("no_sticky", {"sticky.partitioning.linger.ms": 0})):
        sim = Simulation(seed=seed, name=f"null-keys-{label}")
        sim.create_topic("events", partitions=partitions)
        p = sim.producer(cfg)
        for i in range(n):
            sim.run(until=round(i * every, 9))
            p.produce("events", value=f"record {i}")
        p.flush()
        placed = sorted(
            (r.timestamp, r.offset, r.partition)
            for log in sim.topic("events").partitions
            for r in log.records()
        )
        cols[label] = [part for _t, _o, part in placed]
    ms = [round(i * every * 1000, 3) for i in range(n)]
    ms = [int(m) if float(m).is_integer() else m for m in ms]
    return pd.DataFrame(
        {
            "record": range(n),
            "time_ms": ms,
            "sticky": cols["sticky"],
            "no_sticky": cols["no_sticky"],
            "round_robin": [i % partitions for i in range(n)],
        }
    )


def key_map(keys, before: int = 3, after: int = 4):
    """Each key's partition with ``before`` and with ``after`` partitions (CRC32, librdkafka's default)."""
    import pandas as pd

    rows = []
    for k in keys:
        old, new = crc32_partition(k.encode(), before), crc32_partition(k.encode(), after)
        rows.append(
            {
                "key": k,
                f"partition of {before}": old,
                f"partition of {after}": new,
                "moved": old != new,
            }
        )
    return pd.DataFrame(rows)


def growth_world(
    before: int = 3,
    after: int | None = 4,
    at: float = 5.0,
    *,
    until: float = 16.0,
    n_users: int = 9,
    duration: float = 10.0,
    rate: float = 14.0,
    handling: float = 0.2,
    instances: int = 4,
    seed: int = 3,
) -> Simulation:
    """Clicks keyed by user on ``before`` partitions; at ``at`` the topic grows to ``after`` partitions.

    The sessionizer has four instances, so one sits idle while there are
    three partitions (the usual reason to add one). It is behind when the
    topic grows, as busy consumers often are, and the group rebalances
    onto the new partitions. A key whose partition changed sends its later
    clicks to a partition with a shorter backlog (the new one has none), so
    those can be handled before the user's earlier clicks. ``after=None``
    leaves the topic alone, for comparison.
    """
    sim = Simulation(seed=seed, name="growth")
    sim.create_topic(TOPIC, partitions=before)
    Source(sim, "app", TOPIC, clicks(n_users, duration, rate, seed), key="user_id")
    Service(
        sim,
        SERVICE,
        consumes=TOPIC,
        handlers={"UserClicked": lambda event, ctx: None},
        instances=instances,
        processing_time=_work(handling),
        max_in_flight=PER_POLL,
    )
    if after is not None:
        sim.at(at, sim.add_partitions, TOPIC, after)
    sim.run(until=until)
    return sim


def order_breaks(sim, topic: str = TOPIC, group: str = SERVICE):
    """The out-of-order pairs ``group`` got, per user, with each click's partition (by click number ``n``)."""
    pairs = _pairs(sim, topic, key="user_id", time_field="n", group=group)
    return pairs.rename(
        columns={"key": "user_id", "first_time": "first_n", "second_time": "second_n"}
    )


# ----------------------------------------------------------------------------- late events


def taps(n_users: int = 4, duration: float = 20.0, every: float = 0.5, seed: int = 7) -> list[dict]:
    """``ScreenTapped`` items: each user taps every ``every`` seconds (with jitter), numbered ``n``."""
    rng = random.Random(seed)
    out = []
    for u in users(n_users):
        t, n = rng.uniform(0, every), 0
        while t < duration:
            n += 1
            out.append({"time": round(t, 4), "type": "ScreenTapped", "user_id": u, "n": n})
            t += every * rng.uniform(0.5, 1.5)
    out.sort(key=lambda item: (item["time"], item["user_id"]))
    return out


def late_world(
    window: float | None = 2.0,
    *,
    max_delay: float = 1.5,
    offline_share: float = 0.2,
    n_users: int = 4,
    duration: float = 20.0,
    until: float = 30.0,
    seed: int = 7,
):
    """Phones that sometimes send late, and a sessionizer that reorders by event time within ``window`` s.

    Each tap reaches the broker after a small network delay (up to 0.05 s),
    except a share ``offline_share`` of them, sent by a phone that was
    briefly offline: up to ``max_delay`` seconds late. The topic ``taps`` has
    two partitions and is keyed by user. ``window=None`` handles taps in the
    order they arrive (no reorder buffer; the report's window reads
    "(no buffer)").

    Returns ``(sim, report)``: ``report`` has the window, how many taps were
    handled and how many went to ``taps.late``, the handled taps that came
    after a later tap of the same user (``handled out of order``), and the
    mean and 95th-percentile wait between a tap reaching the broker and being
    handled, in seconds.
    """
    sim = Simulation(seed=seed, name="taps")
    sim.create_topic("taps", partitions=2)

    def delay(rng):
        slow = rng.random() < offline_share
        return rng.uniform(0.2, max_delay) if slow else rng.uniform(0.0, 0.05)

    DelayedSource(
        sim, "phones", "taps", taps(n_users, duration, seed=seed), key="user_id", delay=delay
    )
    handled: list = []
    Service(
        sim,
        SERVICE,
        consumes="taps",
        processing_time=0.002,
        reorder=window,
        handlers={
            "ScreenTapped": lambda e, ctx: handled.append((e.payload["user_id"], e.payload["n"]))
        },
    )
    sim.run(until=until)
    waits = sorted(
        s.started - s.produced for s in sim.spans if s.service == SERVICE and s.outcome == "handled"
    )
    last: dict = {}
    behind = 0
    for user, n in handled:
        if n < last.get(user, 0):
            behind += 1
        last[user] = max(n, last.get(user, 0))
    late = len(late_events(sim, "taps")) if window is not None else 0
    p95 = waits[max(0, math.ceil(0.95 * len(waits)) - 1)] if waits else 0.0
    report = {
        "window": window if window is not None else "(no buffer)",
        "handled": len(handled),
        "late": late,
        "handled out of order": behind,
        "mean wait": round(sum(waits) / len(waits), 2) if waits else 0.0,
        "p95 wait": round(p95, 2),
    }
    return sim, report


def window_sweep(windows=(None, 0.5, 1.0, 1.5, 2.0, 4.0), **options):
    """:func:`late_world`'s report for each window, as a DataFrame."""
    import pandas as pd

    return pd.DataFrame([late_world(w, **options)[1] for w in windows])
