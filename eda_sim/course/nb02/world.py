"""Worlds for notebook 02: producers, consumer groups, and a broker that keeps what it is given.

The shop's front end publishes ``UserViewedProduct`` events to ``page-views``
without knowing who reads them. Two consumer groups read the same topic, each
at its own pace: ``recommender`` shares the partitions among its members
(parallel processing), ``analytics`` is one member that sees every event too
(fan-out). Taking ``analytics`` offline for a while shows the broker keeping
the events until it comes back; a topic with a short retention shows that
records go by age, whether anyone read them or not.

Example::

    sim = shop_world(offline=(4.0, 10.0), until=20.0)
    catch_up_report(sim, "analytics")        # produced, processed once, twice, never
    retention_timeline()                     # log start moving while nobody reads
    come_back(8 * 86400)                     # offsets expired: starts over at auto.offset.reset
"""

from __future__ import annotations

import random
from collections import Counter

from eda_sim.core.simulation import Simulation
from eda_sim.services.load import Feed, Source
from eda_sim.services.members import Member

#: The topic the shop's front end publishes to.
TOPIC = "page-views"
#: The group every exercise world starts with: it must not be disturbed by a new reader.
FIRST_GROUP = "recommender"


def page_views(
    duration: float = 30.0, rate: float = 20.0, users: int = 12, products: int = 20, seed: int = 2
) -> list[dict]:
    """``UserViewedProduct`` items for a :class:`~eda_sim.services.service.Source`, Poisson arrivals at ``rate`` per second."""
    rng = random.Random(seed)
    out, t = [], 0.0
    while True:
        t += rng.expovariate(rate)
        if t >= duration:
            return out
        out.append(
            {
                "time": round(t, 4),
                "type": "UserViewedProduct",
                "user_id": f"user-{rng.randrange(users):03d}",
                "product_id": f"p{rng.randrange(products):02d}",
            }
        )


def shop_world(
    seed: int = 2,
    *,
    until: float = 20.0,
    recommenders: int = 2,
    analytics: bool = True,
    offline: tuple | None = None,
    partitions: int = 3,
    rate: float = 20.0,
    duration: float = 30.0,
    name: str = "shop",
) -> Simulation:
    """The front end, the broker and two consumer groups, run to ``until`` (0 for a world to step through).

    ``recommenders`` members share the partitions of ``page-views`` in group
    ``recommender`` (0.02 s per event each); with ``analytics`` one member in
    group ``analytics`` reads every event too (0.03 s per event: it can catch
    up, but not instantly). ``offline=(stop, back)`` stops the analytics member
    cleanly at ``stop`` and starts it again (a new process, the same group) at
    ``back``: a deploy, a maintenance window. All members start at the end of
    the log, which is empty at t = 0, so each group sees every event.
    """
    if isinstance(recommenders, bool) or not isinstance(recommenders, int) or recommenders < 0:
        raise ValueError(f"recommenders must be a whole number >= 0, got {recommenders!r}")
    if offline is not None:
        if not (isinstance(offline, tuple) and len(offline) == 2 and 0 <= offline[0] < offline[1]):
            raise ValueError(
                f"offline must be (stop, back) virtual times with stop < back, got {offline!r}"
            )
        if not analytics:
            raise ValueError("offline takes the analytics consumer offline; set analytics=True")
    sim = Simulation(seed=seed, name=name)
    sim.create_topic(TOPIC, partitions=partitions)
    Source(sim, "frontend", TOPIC, page_views(duration, rate, seed=seed), key="user_id")
    for i in range(recommenders):
        Member(
            sim,
            FIRST_GROUP,
            [TOPIC],
            name=f"recommender-{'abcdefgh'[i % 8]}{'' if i < 8 else i}",
            processing_time=0.02,
        )
    if analytics:
        first = Member(
            sim, "analytics", [TOPIC], name="analytics", processing_time=0.03, max_poll_records=50
        )
        if offline is not None:
            stop, back = offline
            sim.at(stop, first.stop)
            Member(
                sim,
                "analytics",
                [TOPIC],
                name="analytics-back",
                processing_time=0.03,
                max_poll_records=50,
                start=back,
            )
    if until:
        sim.run(until=until)
    return sim


def processed_counts(sim, group: str, topic: str = TOPIC, member: str | None = None) -> Counter:
    """How many times ``group`` (or only its member named ``member``) finished each record, by ``(partition, offset)``.

    Read from the journal's ``processed`` rows, whose detail is the member's name.
    """
    seen: Counter = Counter()
    for r in sim.journal.rows("processed"):
        if r.group == group and r.topic == topic and (member is None or r.detail == member):
            seen.update((r.partition, o) for o in range(r.offset, r.offset + r.count))
    return seen


def catch_up_report(sim, group: str, topic: str = TOPIC, member: str | None = None) -> dict:
    """Every record of ``topic`` against what ``group`` (or one ``member``) processed.

    Keys: ``group``, ``produced`` (records in the log), ``processed once``,
    ``more than once`` and ``never`` (not processed, or not yet).
    """
    seen = processed_counts(sim, group, topic, member)
    log_end = {log.index: log.log_end_offset for log in sim.topic(topic).partitions}
    produced = sum(log_end.values())
    once = sum(1 for n in seen.values() if n == 1)
    return {
        "group": group,
        "produced": produced,
        "processed once": once,
        "more than once": sum(1 for n in seen.values() if n > 1),
        "never": sum(1 for p, end in log_end.items() for o in range(end) if (p, o) not in seen),
    }


def retention_timeline(
    retention_ms: int = 60_000,
    segment_ms: int = 20_000,
    rate: float = 1.0,
    until: float = 1200.0,
    every: float = 300.0,
    seed: int = 2,
):
    """A topic nobody reads, with a short retention: its log start and end every ``every`` seconds.

    One partition, ``rate`` records per second, ``retention.ms`` and
    ``segment.ms`` as given. The broker checks retention every five minutes
    (Kafka's ``log.retention.check.interval.ms``) and deletes whole closed
    segments whose newest record is older than ``retention.ms``; the
    ``retained`` column never exceeds what the retention allows plus a segment
    and a check interval.
    """
    import pandas as pd

    sim = Simulation(seed=seed, name="retention")
    sim.create_topic(
        "clicks-short",
        partitions=1,
        config={"retention.ms": retention_ms, "segment.ms": segment_ms},
    )
    Feed(
        sim, "clicks-short", ((None, f"click {i}") for i in range(int(rate * until) + 1)), rate=rate
    )
    rows = []
    t = every
    while t <= until + 1e-9:
        sim.run(until=t)
        log = sim.topic("clicks-short").partitions[0]
        rows.append(
            {
                "time": t,
                "log_start": log.log_start_offset,
                "log_end": log.log_end_offset,
                "retained": len(log),
                "expired": log.log_start_offset,
                "groups reading": len(sim.groups),
            }
        )
        t += every
    return pd.DataFrame(rows)


def come_back(
    away: float, *, topic_retention_ms: int = -1, reset: str = "earliest", seed: int = 2
) -> dict:
    """A group reads 3 of 6 records, commits, leaves for ``away`` seconds and comes back: where does it start?

    The topic keeps records for ``topic_retention_ms`` (-1: forever; 10-minute
    segments), and the broker has Kafka's defaults: committed offsets of an
    empty group expire after ``offsets.retention.minutes`` (7 days). A group
    whose offset expired, or whose offset points at records retention deleted
    (out of range), starts where ``auto.offset.reset`` (``reset``) says.
    """
    sim = Simulation(seed=seed, name="come-back")
    sim.create_topic(
        "orders", partitions=1, config={"retention.ms": topic_retention_ms, "segment.ms": 600_000}
    )
    producer = sim.producer()
    for i in range(6):
        producer.produce("orders", value=f"order {i}")
    producer.flush()
    settings = {"group.id": "billing", "auto.offset.reset": reset, "enable.auto.commit": False}
    consumer = sim.consumer(settings)
    consumer.subscribe(["orders"])
    consumer.commit(message=consumer.consume(3, timeout=1.0)[-1], asynchronous=False)
    consumer.close()
    sim.run(until=sim.now + away)
    producer.produce("orders", value="order 6")  # something new arrived while it was away
    producer.flush()
    committed = sim.group("billing").committed.get(("orders", 0))
    seen = len(sim.journal.rows())
    back = sim.consumer(settings)
    back.subscribe(["orders"])
    first = back.consume(1, timeout=1.0)
    resets = [r.detail for r in sim.journal.rows()[seen:] if r.kind == "offset_reset"]
    log = sim.topic("orders").partitions[0]
    return {
        "away": f"{away / 86400:g} days" if away >= 86400 else f"{away / 3600:g} h",
        "topic retention": "forever"
        if topic_retention_ms < 0
        else f"{topic_retention_ms / 3_600_000:g} h",
        "committed when back": "none (expired)" if committed is None else committed,
        "log start": log.log_start_offset,
        "first offset read": first[0].offset() if first and first[0].error() is None else None,
        "why": resets[0] if resets else "resumed at the committed offset",
    }


def second_group_world(config: dict, *, join_at: float = 10.0, until: float = 25.0, seed: int = 2):
    """The shop with only the recommender group for ``join_at`` seconds; then a member with ``config`` joins.

    Returns ``(sim, member)``; the member is called ``trending`` and
    processes 0.01 s per event. Used by notebook 02's exercise check.
    """
    if not isinstance(config, dict):
        raise TypeError(f"config must be a dict of consumer settings, got {type(config).__name__}")
    sim = shop_world(seed, until=join_at, analytics=False, name="second-group")
    member = Member(
        sim,
        str(config.get("group.id", "")),
        [TOPIC],
        name="trending",
        processing_time=0.01,
        config=dict(config),
    )
    sim.run(until=until)
    return sim, member
