"""Worlds for the state notebook: a feature store on a compacted topic, velocity windows, a join, a crash.

* :func:`feature_store_world`: the recommender's per-user features published to
  the compacted topic ``user-features``; one user asks to be forgotten (a
  tombstone).
* :func:`velocity_world`: card transactions, some delayed on their way (a
  terminal that was offline), one card under *card testing* (a burst of small
  charges); a :class:`~eda_sim.streams.StreamApp` counts transactions per card
  in hopping windows on event time.
* :func:`join_world`: transactions enriched with the card holder's profile from
  a :class:`~eda_sim.tables.Table`; profiles change while transactions flow.
"""

from __future__ import annotations

import random

from eda_sim.core.simulation import Simulation
from eda_sim.services.ordering import DelayedSource
from eda_sim.services.service import Source
from eda_sim.services.streams import StreamApp
from eda_sim.services.tables import Table
from eda_sim.services.windows import HoppingWindows

FEATURES = "user-features"
TRANSACTIONS = "transactions"
VELOCITY = "card-velocity"
PROFILES = "card-profiles"
#: A card making this many charges inside one window is flagged as card testing.
FLAG_AT = 8
#: The card under attack, and when its burst of small charges starts (event time).
TESTED_CARD = "card-13"
BURST_START = 300.0


def feature_store_world(seed: int = 1, until: float = 240.0) -> Simulation:
    """Five users' features updated every few seconds on a compacted topic; ``user-4`` is deleted at 100 s."""
    sim = Simulation(seed=seed, name="features")
    sim.create_topic(
        FEATURES,
        partitions=1,
        config={"cleanup.policy": "compact", "segment.ms": 20000, "delete.retention.ms": 60000},
    )
    rng = random.Random(seed)
    items = []
    for i in range(150):
        user = f"user-{i % 5}"
        if user == "user-4" and i * 0.8 > 100:
            continue
        items.append(
            {
                "time": i * 0.8,
                "type": "FeatureUpdated",
                "user": user,
                "views_last_hour": rng.randrange(0, 40),
                "favourite": rng.choice(["books", "games", "music", "garden"]),
            }
        )
    Source(sim, "feature-pipeline", FEATURES, items, key="user")
    producer = sim.producer({"client.id": "privacy-desk"})
    sim.at(100.5, lambda: producer.produce(FEATURES, None, b"user-4"))  # forget user-4: a tombstone
    sim.run(until=until)
    return sim


def transactions(
    seed: int = 7, max_delay: float = 20.0, cards: int = 20, until: float = 600.0
) -> list:
    """Card charges: each card about once a minute, ``card-13`` ten small charges in 45 s from 300 s.

    One charge in six reaches the broker late, up to ``max_delay`` seconds after it happened.
    """
    rng = random.Random(seed)
    items = []
    for c in range(cards):
        t = rng.uniform(0, 60)
        while t < until:
            items.append(
                {
                    "time": round(t, 3),
                    "card": f"card-{c:02d}",
                    "amount": round(rng.uniform(5, 120), 2),
                }
            )
            t += rng.expovariate(1 / 60.0)
    for i in range(10):
        items.append({"time": BURST_START + i * 5.0, "card": TESTED_CARD, "amount": 1.0})
    items.sort(key=lambda x: (x["time"], x["card"]))
    for item in items:
        item["type"] = "CardCharged"
        late = rng.random() < 1 / 6
        item["arrival"] = round(
            item["time"] + (rng.uniform(0, max_delay) if late else rng.uniform(0, 0.5)), 3
        )
    return items


def velocity_world(
    size: float = 60.0,
    step: float = 10.0,
    lateness: float = 0.0,
    grace: float = 0.0,
    *,
    max_delay: float = 20.0,
    instances: int = 2,
    standby_replicas: int = 0,
    crash_at: float | None = None,
    dedupe: bool = False,
    emit: str = "final",
    until: float = 700.0,
):
    """Card velocity: charges per card in hopping windows on event time; returns ``(sim, app)``.

    ``emit="final"`` sends one count per window when it closes; ``"updates"`` a new count each
    time a charge changes it.
    """
    sim = Simulation(seed=11, name="velocity")
    sim.create_topic(TRANSACTIONS, partitions=2)
    sim.create_topic(VELOCITY, partitions=2)
    DelayedSource(sim, "terminals", TRANSACTIONS, transactions(max_delay=max_delay), key="card")
    app = StreamApp(
        sim,
        "velocity",
        source=TRANSACTIONS,
        instances=instances,
        standby_replicas=standby_replicas,
        commit_interval=30.0,
        dedupe=dedupe,
        restore_time=0.002,
    )
    app.window(
        "per_card",
        HoppingWindows(size, step),
        lateness=lateness,
        grace=grace,
        emit=emit,
        by="card",
        output=VELOCITY,
    )
    if crash_at is not None:
        sim.at(crash_at, app.instances[0].crash)
    sim.run(until=until)
    return sim, app


def flagged(app, at: int = FLAG_AT) -> dict:
    """Cards whose count reached ``at`` in some final window: ``{card: (start, end, count)}``."""
    out = {}
    for (card, start, end), n in app.results().items():
        if n >= at and (card not in out or n > out[card][2]):
            out[card] = (start, end, int(n))
    return dict(sorted(out.items()))


def join_world(poll_interval: float = 1.0, seed: int = 3):
    """Transactions enriched with the holder's home country; profiles move now and then.

    Returns ``(sim, app)``; ``app.stale_joins()`` lists the transactions joined
    with a profile the holder no longer had when the charge happened.
    """
    sim = Simulation(seed=seed, name="join")
    sim.create_topic(PROFILES, partitions=1, config={"cleanup.policy": "compact"})
    sim.create_topic(TRANSACTIONS, partitions=2)
    sim.create_topic("enriched-counts", partitions=2)
    rng = random.Random(seed)
    countries = ["FR", "JP", "BR", "KE", "CA"]
    profiles = [
        {
            "time": 0.0,
            "type": "ProfileUpdated",
            "card": f"card-{c:02d}",
            "country": rng.choice(countries),
        }
        for c in range(8)
    ]
    for _ in range(30):
        profiles.append(
            {
                "time": round(rng.uniform(5, 115), 3),
                "type": "ProfileUpdated",
                "card": f"card-{rng.randrange(8):02d}",
                "country": rng.choice(countries),
            }
        )
    profiles.sort(key=lambda x: x["time"])
    Source(sim, "crm", PROFILES, profiles, key="card")
    charges = [
        {
            "time": round(i * 0.5 + 0.1, 3),
            "type": "CardCharged",
            "card": f"card-{rng.randrange(8):02d}",
        }
        for i in range(240)
    ]
    Source(sim, "terminals", TRANSACTIONS, charges, key="card")
    table = Table(sim, PROFILES, poll_interval=poll_interval)
    app = StreamApp(sim, "enrich", source=TRANSACTIONS)
    app.join("profile", table, on="card")
    app.apply(
        "country",
        lambda v: {"card": v["card"], "country": (v["profile"] or {}).get("country", "unknown")},
    )
    app.window(
        "per_country", HoppingWindows(60, 60), by="country", emit="final", output="enriched-counts"
    )
    sim.run(until=150)
    return sim, app


def log_frame(sim, topic: str, partition: int = 0):
    """A partition's records as a table: offset, key, value (``None`` for a tombstone), time."""
    import pandas as pd

    rows = [
        (
            r.offset,
            r.key.decode() if r.key else None,
            None if r.value is None else "…" + r.value.decode()[-38:],
            round(r.timestamp, 1),
        )
        for r in sim.topic(topic).partitions[partition].records()
    ]
    return pd.DataFrame.from_records(rows, columns=["offset", "key", "value (tail)", "time"])
