"""Worlds for the consumer-group lesson: sharing partitions, rebalancing, eviction and rebalance storms.

A group of workers (:class:`~eda_sim.services.members.Member` processes named
``worker-1``, ``worker-2``, ...) reads the ``orders`` topic, fed at a steady
rate. The stories:

* ``group_world`` / ``consumers_sweep``: adding workers raises throughput
  until there is one per partition; after that the extra workers own nothing
  and sit idle, whatever the backlog;
* ``rebalance_story``: a worker joins, one leaves cleanly, one crashes; each
  change is a rebalance, and the crash makes the new owner process again what
  the crashed worker had processed but not committed (``processed_twice``);
* ``storm_once`` / ``storm_sweep``: when one poll's batch takes longer than
  ``max.poll.interval.ms`` to process, the worker is evicted although it is
  alive, its commit is refused, its partitions move, it rejoins on its next
  poll and the cycle repeats: a rebalance storm, eager or cooperative.

Example::

    consumers_sweep(range(1, 9))                # throughput and lag stop improving at 4 (the partitions)
    sim = rebalance_story("cooperative-sticky")
    rebalances(sim)                             # the generations and who owned what
    storm_sweep()                               # evictions, rebalances, duplicates, throughput per setting
"""

from __future__ import annotations

from collections import Counter, defaultdict

from eda_sim.core.measures import group_lag
from eda_sim.core.simulation import Simulation
from eda_sim.services.load import Feed
from eda_sim.services.members import Member

TOPIC = "orders"
GROUP = "workers"
#: The rebalance story's timeline, in virtual seconds.
JOIN_AT, LEAVE_AT, CRASH_AT = 5.0, 10.0, 14.0
STRATEGIES = ("range", "cooperative-sticky")


def _orders(prefix: str = "customer"):
    """An endless stream of orders keyed by one of 997 customers."""
    i = 0
    while True:
        yield f"{prefix}-{i % 997}", f"order {i}"
        i += 1


def _check_strategy(strategy: str) -> None:
    known = ("range", "roundrobin", "cooperative-sticky")
    if strategy not in known:
        raise ValueError(
            f"unknown strategy {strategy!r}; assignment strategies are: {', '.join(known)}"
        )


def group_world(
    consumers: int = 2,
    *,
    partitions: int = 4,
    rate: float = 450.0,
    processing_time: float = 0.01,
    max_poll_records: int = 100,
    strategy: str = "range",
    max_poll_interval_ms: int = 300000,
    backlog: int = 0,
    commit: str = "after",
    until: float = 5.0,
    seed: int = 4,
    name: str = "scaling",
) -> Simulation:
    """``consumers`` workers in group ``workers`` reading ``orders`` (``partitions`` partitions).

    Orders arrive at ``rate`` per second (after ``backlog`` orders already
    waiting in the log); each takes a worker ``processing_time`` seconds, so
    one worker handles ``1 / processing_time`` per second. Workers commit
    after processing each poll's batch (``commit="auto"``: on Kafka's
    auto-commit timer instead). Runs to ``until`` (0: not at all, for live
    controls) and returns the simulation.
    """
    if isinstance(consumers, bool) or not isinstance(consumers, int) or consumers < 0:
        raise ValueError(f"consumers must be a whole number >= 0, got {consumers!r}")
    _check_strategy(strategy)
    # Sessions shorter than a real broker allows: Kafka refuses a session.timeout.ms under
    # group.min.session.timeout.ms (6 s by default), so this demo lowers the broker's minimum.
    sim = Simulation(seed=seed, name=name, broker_config={"group.min.session.timeout.ms": 100})
    sim.create_topic(TOPIC, partitions=partitions)
    config = {
        "auto.offset.reset": "earliest",
        "partition.assignment.strategy": strategy,
        "max.poll.interval.ms": max_poll_interval_ms,
        "session.timeout.ms": 3000,
    }
    for k in range(consumers):
        Member(
            sim,
            GROUP,
            [TOPIC],
            name=f"worker-{k + 1}",
            processing_time=processing_time,
            max_poll_records=max_poll_records,
            commit=commit,
            config=config,
        )
    if backlog:  # produced after the workers are created, so they all join before the first fetch
        producer = sim.producer({"client.id": "backlog"})
        for key, value in _take(_orders("waiting"), backlog):
            producer.produce(TOPIC, key=key, value=value)
        producer.flush()
    Feed(sim, TOPIC, _orders(), rate=rate, config={"client.id": "shop"}, start=0.0)
    if until > sim.now:
        sim.run(until=until)
    return sim


def _take(iterator, n: int):
    for _ in range(n):
        yield next(iterator)


def processed_counts(sim, topic: str = TOPIC) -> Counter:
    """How many times each ``(partition, offset)`` of ``topic`` was processed, from the journal."""
    done: Counter = Counter()
    for r in sim.journal.rows("processed"):
        if r.topic == topic:
            done.update((r.partition, o) for o in range(r.offset, r.offset + r.count))
    return done


def duplicates(sim, topic: str = TOPIC) -> int:
    """Processings beyond the first: records handled again after a rebalance moved them."""
    return sum(n - 1 for n in processed_counts(sim, topic).values())


def members_table(sim, group: str = GROUP):
    """One row per worker: its member id now, the partitions it owns now, and how many records it processed."""
    import pandas as pd

    g = sim.groups.get(group)
    rows = []
    for name in sorted((n for n, m in sim.members.items() if m.group_id == group), key=_natural):
        m = sim.members[name]
        mid = m.consumer.member_id
        owned = g.assignment.get(mid, []) if g is not None and mid is not None else []
        owns = ", ".join(f"p{p}" for _t, p in owned) or ("(none)" if mid else "(not in the group)")
        rows.append(
            {
                "worker": name,
                "member_id": mid or "-",
                "partitions": owns,
                "processed": m.processed_total,
            }
        )
    return pd.DataFrame(rows, columns=["worker", "member_id", "partitions", "processed"])


def _natural(name: str):
    head, _, tail = name.rpartition("-")
    return (head, int(tail)) if tail.isdigit() else (name, 0)


def group_summary(sim, group: str = GROUP) -> dict:
    """Workers, how many processed nothing (idle all along), records processed per second, and the lag now."""
    table = members_table(sim, group)
    idle = int((table["processed"] == 0).sum())
    seconds = sim.now or 1.0
    return {
        "consumers": len(table),
        "busy": len(table) - idle,
        "idle": idle,
        "throughput": round(float(table["processed"].sum()) / seconds, 1),
        "lag": group_lag(sim, group, [TOPIC]),
    }


def consumers_sweep(counts=range(1, 9), **options):
    """:func:`group_summary` of :func:`group_world` for each number of consumers in ``counts``."""
    import pandas as pd

    return pd.DataFrame([group_summary(group_world(c, **options)) for c in counts])


# -- rebalancing ---------------------------------------------------------------------------------


def rebalance_story(strategy: str = "range", *, until: float = 24.0, seed: int = 4) -> Simulation:
    """Six partitions and workers on Kafka's auto-commit (every 5 s): a join, a clean leave and a crash.

    ``worker-1`` and ``worker-2`` start at 0; ``worker-3`` joins at 5 s;
    ``worker-2`` leaves cleanly at 10 s (committing on the way out);
    ``worker-1`` crashes at 14 s, four seconds after its last auto-commit, and
    the group removes it when its 3 s session times out. Orders arrive at 150
    per second; a worker handles 100 per second, up to 100 per poll.
    """
    sim = group_world(
        2,
        partitions=6,
        rate=150,
        processing_time=0.01,
        max_poll_records=100,
        strategy=strategy,
        commit="auto",
        until=0,
        seed=seed,
        name=f"story-{strategy}",
    )
    Member(
        sim,
        GROUP,
        [TOPIC],
        name="worker-3",
        processing_time=0.01,
        max_poll_records=100,
        commit="auto",
        start=JOIN_AT,
        config={
            "auto.offset.reset": "earliest",
            "session.timeout.ms": 3000,
            "partition.assignment.strategy": strategy,
        },
    )
    sim.at(LEAVE_AT, sim.members["worker-2"].stop)
    sim.crash(sim.members["worker-1"], at=CRASH_AT)
    sim.run(until=until)
    return sim


def rebalances(sim, group: str = GROUP):
    """The group's generations: when, why, and who owned which partitions afterwards."""
    import pandas as pd

    rows = []
    for r in sim.journal.rows("rebalanced"):
        if r.group != group:
            continue
        if "; revoke round: " in r.detail:
            why, owners = r.detail.split("; revoke round: ", 1)
            why += " (revoke round)"
        else:
            why, _, owners = r.detail.partition(": ")
        rows.append(
            {
                "time": round(r.time, 3),
                "generation": r.count,
                "why": why,
                "owners": owners.replace(f"{TOPIC}-", "p") or "(nobody)",
            }
        )
    return pd.DataFrame(rows, columns=["time", "generation", "why", "owners"])


def revocations(sim, at: float, group: str = GROUP, width: float = 1e-6):
    """The partitions each member gave up in the rebalance at virtual time ``at``."""
    import pandas as pd

    rows = [
        {"member": r.actor, "revoked": r.detail.replace(f"{TOPIC}-", "p"), "count": r.count}
        for r in sim.journal.rows("revoked")
        if r.group == group and abs(r.time - at) <= width
    ]
    return pd.DataFrame(rows, columns=["member", "revoked", "count"])


def journal_at(sim, at: float, group: str = GROUP, width: float = 1e-6):
    """The journal's group rows (joined, revoked, rebalanced, assigned, left, ...) at virtual time ``at``.

    Partitions are written ``p0``, ``p1``, ... for short.
    """
    kinds = ("joined", "left", "evicted", "session_expired", "revoked", "rebalanced", "assigned")
    frame = sim.journal.frame()
    rows = frame[
        (frame.kind.isin(kinds)) & (frame.group == group) & ((frame.time - at).abs() <= width)
    ]
    rows = rows[["kind", "actor", "detail"]].reset_index(drop=True)
    rows["detail"] = rows["detail"].str.replace(f"{TOPIC}-", "p", regex=False)
    return rows


def processed_twice(sim, topic: str = TOPIC):
    """Runs of offsets processed more than once: partition, offsets, how many, first by, again by."""
    import pandas as pd

    by: dict = defaultdict(list)
    for r in sim.journal.rows("processed"):
        if r.topic == topic:
            for o in range(r.offset, r.offset + r.count):
                by[(r.partition, o)].append(r.detail)
    rows = []
    for (p, o), who in sorted(by.items()):
        if len(who) < 2:
            continue
        first, again = who[0], ", ".join(who[1:])
        last = rows[-1] if rows else None
        if (
            last
            and last["partition"] == p
            and last["_end"] == o
            and last["first_by"] == first
            and last["again_by"] == again
        ):
            last["_end"] = o + 1
            last["records"] += 1
        else:
            rows.append(
                {
                    "partition": p,
                    "_start": o,
                    "_end": o + 1,
                    "records": 1,
                    "first_by": first,
                    "again_by": again,
                }
            )
    for row in rows:
        row["offsets"] = f"{row.pop('_start')}-{row.pop('_end') - 1}"
    return pd.DataFrame(rows, columns=["partition", "offsets", "records", "first_by", "again_by"])


# -- eviction and rebalance storms ---------------------------------------------------------------


def storm_once(
    processing_time: float = 0.02,
    max_poll_records: int = 200,
    strategy: str = "range",
    *,
    max_poll_interval_ms: int = 2000,
    consumers: int = 3,
    partitions: int = 6,
    rate: float = 50.0,
    backlog: int = 2000,
    until: float = 20.0,
    seed: int = 4,
) -> dict:
    """Workers returning to a backlog: does one poll's batch fit in ``max.poll.interval.ms``?

    A batch of ``max_poll_records`` takes ``processing_time * max_poll_records``
    seconds. Longer than ``max_poll_interval_ms`` (2 s here; Kafka's default is
    300 s) and the worker is evicted mid-batch, its commit is refused, the new
    owners start again from the committed offset, and the worker rejoins on its
    next poll: a rebalance storm. Returns the counts of one run.
    """
    sim = group_world(
        consumers,
        partitions=partitions,
        rate=rate,
        processing_time=processing_time,
        max_poll_records=max_poll_records,
        strategy=strategy,
        max_poll_interval_ms=max_poll_interval_ms,
        backlog=backlog,
        until=until,
        seed=seed,
        name="storm-sweep",
    )
    return storm_counts(sim, processing_time, max_poll_records, strategy)


def storm_counts(
    sim, processing_time: float, max_poll_records: int, strategy: str, group: str = GROUP
) -> dict:
    """Evictions, rebalances, partitions revoked, duplicates, records processed and committed per second, lag.

    ``processed_per_s`` counts all the work done, repeats included;
    ``committed_per_s`` only the progress the group keeps.
    """
    kinds = Counter()
    revoked = 0
    for r in sim.journal.rows():
        if r.group == group and r.kind in ("evicted", "rebalanced", "revoked"):
            kinds[r.kind] += 1
            if r.kind == "revoked":
                revoked += r.count
    g = sim.groups.get(group)
    committed = sum(g.committed.values()) if g is not None else 0
    done = processed_counts(sim)
    seconds = sim.now or 1.0
    return {
        "processing_ms": round(processing_time * 1000, 3),
        "max_poll_records": max_poll_records,
        "batch_s": round(processing_time * max_poll_records, 3),
        "strategy": strategy,
        "evictions": kinds["evicted"],
        "rebalances": kinds["rebalanced"],
        "revoked": revoked,
        "duplicates": sum(done.values()) - len(done),
        "processed_per_s": round(sum(done.values()) / seconds, 1),
        "committed_per_s": round(committed / seconds, 1),
        "lag": group_lag(sim, group, [TOPIC]),
    }


def storm_sweep(
    processing_times=(0.005, 0.02), max_poll_records=(50, 500), strategies=STRATEGIES, **options
):
    """:func:`storm_once` for every processing time x ``max.poll.records`` x strategy, as a DataFrame."""
    import pandas as pd

    for s in strategies:
        _check_strategy(s)
    return pd.DataFrame(
        [
            storm_once(pt, n, s, **options)
            for pt in processing_times
            for n in max_poll_records
            for s in strategies
        ]
    )


def handover(on_revoke=None, *, records: int = 20, processed: int = 12, seed: int = 4) -> dict:
    """A member with manual commits hands its partitions to a newcomer: what is processed twice?

    Member ``a`` (``enable.auto.commit=false``) processes ``processed`` of
    ``records`` orders on two partitions without committing; then ``b`` joins
    and the group rebalances (eager: ``a`` gives up both partitions, then gets
    one back). ``on_revoke`` is ``a``'s rebalance callback, as in
    ``consumer.subscribe(topics, on_revoke=...)``. Returns how many ``a``
    processed, the partitions revoked from it, and how many of its processed
    orders ``b`` receives again.
    """
    sim = Simulation(seed=seed, name="handover")
    sim.create_topic(TOPIC, partitions=2)
    producer = sim.producer()
    for i in range(records):
        producer.produce(TOPIC, key=f"customer-{i % 5}", value=str(i))
    producer.flush()
    conf = {"group.id": GROUP, "auto.offset.reset": "earliest", "enable.auto.commit": False}
    a = sim.consumer({**conf, "client.id": "a"})
    revoked: list = []

    def callback(consumer, partitions):
        revoked.extend(tp.partition for tp in partitions)
        if on_revoke is not None:
            on_revoke(consumer, partitions)

    a.subscribe([TOPIC], on_revoke=callback)
    done = {m.value() for m in a.consume(processed, timeout=1.0)}
    b = sim.consumer({**conf, "client.id": "b"})
    b.subscribe([TOPIC])
    again = [m for m in b.consume(records, timeout=1.0) if m.value() in done]
    return {
        "a processed": len(done),
        "revoked from a": sorted(revoked),
        "b processes again": len(again),
    }
