"""Worlds for notebook 04's share group: more consumers than partitions, and what it costs.

The shop of :mod:`eda_sim.course.nb04.world` writes 450 orders a second to a
topic of only two partitions. A consumer group can use two workers there, one
per partition; a share group (KIP-932) can use six, because its members share
the records of each partition. The price: records of one key are handled by
different workers at the same time, so they finish out of order.

Example::

    share_vs_group(6)        # throughput of a consumer group and of a share group, same six workers
    key_order(share_world(6))  # customers whose orders finished out of offset order
"""

from __future__ import annotations

from collections import defaultdict

from eda_sim.broker.share_group import share_group
from eda_sim.course.nb04.world import GROUP, TOPIC
from eda_sim.services.share_members import ShareWorker

RATE = 450.0
#: Customers placing the orders: few enough that one customer's orders often sit in one poll's batch.
CUSTOMERS = 20
#: Orders waiting when the workers start: a backlog is when each poll brings a full batch.
BACKLOG = 600


def _orders(customers: int = CUSTOMERS):
    i = 0
    while True:
        yield f"customer-{i % customers}", f"order {i}"
        i += 1


def share_world(
    consumers: int = 6,
    *,
    partitions: int = 2,
    rate: float = RATE,
    processing_time: float = 0.01,
    max_poll_records: int = 20,
    backlog: int = 0,
    handler=None,
    group_config: dict | None = None,
    until: float = 5.0,
    seed: int = 4,
):
    """``consumers`` share-group workers on ``orders`` (``partitions`` partitions), 0.01 s per order.

    The group starts at the log's beginning (``share.auto.offset.reset=earliest``;
    Kafka's default is ``latest``). ``handler(message)`` may return an
    acknowledgement type or raise (see :class:`~eda_sim.services.share_members.ShareWorker`).
    """
    from eda_sim.core.simulation import Simulation

    if isinstance(consumers, bool) or not isinstance(consumers, int) or consumers < 0:
        raise ValueError(f"consumers must be a whole number >= 0, got {consumers!r}")
    sim = Simulation(seed=seed, name=f"share-{consumers}")
    sim.create_topic(TOPIC, partitions=partitions)
    share_group(sim, GROUP, {"share.auto.offset.reset": "earliest", **(group_config or {})})
    for k in range(consumers):
        ShareWorker(
            sim,
            GROUP,
            [TOPIC],
            name=f"worker-{k + 1}",
            processing_time=processing_time,
            max_poll_records=max_poll_records,
            handler=handler,
        )
    _start(sim, rate, backlog)
    if until > sim.now:
        sim.run(until=until)
    return sim


def _group_world(consumers: int, partitions: int, until: float):
    """The same shop and workers as a consumer group (at the same customers' orders)."""
    from eda_sim.core.simulation import Simulation
    from eda_sim.services.members import Member

    sim = Simulation(seed=4, name=f"group-{consumers}")
    sim.create_topic(TOPIC, partitions=partitions)
    config = {"auto.offset.reset": "earliest"}
    for k in range(consumers):
        Member(
            sim,
            GROUP,
            [TOPIC],
            name=f"worker-{k + 1}",
            processing_time=0.01,
            max_poll_records=20,
            config=config,
        )
    _start(sim, RATE, BACKLOG)
    sim.run(until=until)
    return sim


def _start(sim, rate: float, backlog: int) -> None:
    """``backlog`` orders already waiting, then the shop's steady stream."""
    from eda_sim.services.load import Feed

    orders = _orders()
    if backlog:
        producer = sim.producer({"client.id": "backlog"})
        for _ in range(backlog):
            key, value = next(orders)
            producer.produce(TOPIC, key=key, value=value)
        producer.flush()
    Feed(sim, TOPIC, orders, rate=rate, config={"client.id": "shop"}, start=0.0)


def _processed_per_s(sim) -> float:
    done = sum(r.count for r in sim.journal.rows("processed") if r.topic == TOPIC)
    return round(done / (sim.now or 1.0), 1)


def share_vs_group(consumers: int = 6, *, partitions: int = 2, until: float = 5.0):
    """Orders processed per second and customers served out of order, by a consumer group and a share group."""
    import pandas as pd

    rows = []
    for kind, sim in (
        ("consumer group", _group_world(consumers, partitions, until)),
        (
            "share group",
            share_world(consumers, partitions=partitions, backlog=BACKLOG, until=until),
        ),
    ):
        order = key_order(sim)
        rows.append(
            {
                "group": kind,
                "consumers": consumers,
                "partitions": partitions,
                "processed_per_s": _processed_per_s(sim),
                "keys_out_of_order": int((order["out_of_order"] > 0).sum()) if len(order) else 0,
            }
        )
    return pd.DataFrame(rows)


def key_order(sim, topic: str = TOPIC):
    """Per key: orders processed, and how many finished before an earlier order of the same key."""
    import pandas as pd

    offsets_by_key: dict = defaultdict(list)
    log = sim.broker.topics[topic]
    for r in sim.journal.rows("processed"):
        if r.topic != topic:
            continue
        part = log.partitions[r.partition]
        for offset in range(r.offset, r.offset + r.count):
            key = part.read(offset, 1)[0][1]
            offsets_by_key[(key or b"").decode()].append((r.partition, offset))
    rows = []
    for key in sorted(offsets_by_key):
        seen = offsets_by_key[key]
        late = sum(1 for a, b in zip(seen, seen[1:]) if b < a)
        rows.append({"key": key, "processed": len(seen), "out_of_order": late})
    return pd.DataFrame(rows, columns=["key", "processed", "out_of_order"])


def share_outcomes(sim, group: str = GROUP):
    """How each record a share group finished ended: accepted, rejected or archived, with counts."""
    import pandas as pd

    g = sim.share_groups[group]
    counts: dict = defaultdict(int)
    for outcome in g.outcomes.values():
        counts[outcome] += 1
    return pd.DataFrame(
        [{"outcome": k, "records": counts[k]} for k in ("accepted", "rejected", "archived")],
        columns=["outcome", "records"],
    )
