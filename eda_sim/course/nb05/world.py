"""Worlds for the delivery lessons: commit timing, crashes, duplicates and the ledger.

``crash_sweep`` crashes a consumer at every moment of its poll-process-commit
cycle under each commit strategy and counts what was lost and what was
processed twice. ``payments_world`` is the ledger that double-counts under
at-least-once delivery unless its consumer is idempotent.

Example::

    crash_sweep()                             # one row per strategy and crash time
    sim, ledger = payments_world(crash_at=1.03, idempotent=False)
    sum(ledger.values())                      # more than the payments made
"""

from __future__ import annotations

from collections import Counter

from eda_sim.core.simulation import Simulation
from eda_sim.services.load import Source
from eda_sim.services.members import Member
from eda_sim.services.service import Service

#: The commit strategies compared, in teaching order, with what each promises.
STRATEGIES = {
    "before": "commit, then process: at-most-once",
    "after": "process, then commit: at-least-once",
    "auto": "auto-commit on a timer: commits what was polled, processed or not",
    "store": "auto-commit of stored offsets: store_offsets() after processing each record "
    "(enable.auto.offset.store=false), librdkafka's at-least-once",
}


def crash_once(
    strategy: str,
    crash_at: float,
    *,
    records: int = 12,
    batch: int = 4,
    per_record: float = 0.1,
    auto_commit_ms: int = 700,
    seed: int = 5,
    client: str = "confluent-kafka",
) -> dict:
    """One partition, one consumer, one crash at ``crash_at``; the consumer restarts 1 s later.

    ``client`` is ``"confluent-kafka"`` (librdkafka's commit rules) or
    ``"java"`` (Kafka's Java ``KafkaConsumer``: auto-commit inside ``poll()``).

    Returns what happened to every record: how many were never processed
    (lost), how many were processed more than once (duplicated), and the
    group's final lag, which reads 0 in every case.
    """
    # Sessions shorter than a real broker allows: Kafka refuses a session.timeout.ms under
    # group.min.session.timeout.ms (6 s by default), so this demo lowers the broker's minimum.
    sim = Simulation(
        seed=seed, name="crash-once", broker_config={"group.min.session.timeout.ms": 100}
    )
    sim.create_topic("jobs", partitions=1)
    producer = sim.producer()
    for i in range(records):
        producer.produce("jobs", key="job", value=str(i))
    producer.flush()
    start = sim.now
    done: Counter = Counter()
    member = Member(
        sim,
        "workers",
        ["jobs"],
        name="worker",
        processing_time=per_record,
        commit=strategy,
        max_poll_records=batch,
        on_record=lambda m: done.update([int(m.value())]),
        client=client,
        config={
            "auto.offset.reset": "earliest",
            "session.timeout.ms": 500,
            "auto.commit.interval.ms": auto_commit_ms,
        },
    )
    sim.crash(member, at=start + crash_at)
    sim.restart(member, at=start + crash_at + 1.0)
    sim.run(until=start + crash_at + 1.0 + records * per_record + 6)
    lag = int(sim.offsets("workers", "jobs")["lag"].fillna(records).sum())
    return {
        "strategy": strategy,
        "crash_at": round(crash_at, 3),
        "lost": sum(1 for i in range(records) if done[i] == 0),
        "duplicated": sum(1 for i in range(records) if done[i] > 1),
        "final_lag": lag,
    }


def crash_sweep(strategies=tuple(STRATEGIES), times=None, **options):
    """Crash at each of ``times`` (default: every 0.1 s of the first 1.3 s) under each strategy.

    Returns a DataFrame with one row per (strategy, crash time): lost,
    duplicated and final lag.
    """
    import pandas as pd

    for s in strategies:
        if s not in STRATEGIES:
            raise ValueError(f"unknown strategy {s!r}; strategies are: {', '.join(STRATEGIES)}")
    times = [round(0.05 + 0.1 * i, 3) for i in range(13)] if times is None else list(times)
    return pd.DataFrame([crash_once(s, t, **options) for s in strategies for t in times])


#: How each client is named in the tables: the library a learner would run.
CLIENT_NAMES = {"confluent-kafka": "confluent-kafka (librdkafka)", "java": "Java KafkaConsumer"}


def auto_commit_by_client(times=None, **options):
    """The crash-point sweep of ``auto`` under each client: same records, batches, timer and crashes.

    Returns a DataFrame with one row per crash time and, under each client's
    name, the records lost and the records processed twice.
    """
    import pandas as pd

    times = [round(0.05 + 0.1 * i, 3) for i in range(13)] if times is None else list(times)
    rows = [
        dict(crash_once("auto", t, client=client, **options), client=name)
        for client, name in CLIENT_NAMES.items()
        for t in times
    ]
    table = pd.DataFrame(rows).pivot(
        index="crash_at", columns="client", values=["lost", "duplicated"]
    )
    order = pd.MultiIndex.from_product([list(CLIENT_NAMES.values()), ["lost", "duplicated"]])
    return table.swaplevel(axis=1).reindex(columns=order)


def payments(n: int = 40, every: float = 0.02, seed: int = 0) -> list[dict]:
    """``n`` PaymentCaptured items for three accounts; two are equal in every field but their id."""
    out = [
        {
            "time": round(i * every, 6),
            "type": "PaymentCaptured",
            "account": f"acct-{i % 3}",
            "amount": 5 + (i * 7) % 20,
        }
        for i in range(n)
    ]
    out[n // 2] = dict(
        out[n // 2 - 3], time=out[n // 2]["time"]
    )  # same account, same amount: a real second payment
    return out


def payments_world(
    handler=None,
    *,
    crash_at: float | None = 0.43,
    idempotent: bool = False,
    seed: int = 4,
    n: int = 40,
):
    """A ledger service posting payments, one instance crashing at ``crash_at`` and restarting.

    ``handler(event, ctx)`` posts a payment (default: add the amount to the
    returned ledger). Returns ``(sim, ledger)``; the ledger is a Counter of
    account -> total posted.
    """
    # Sessions shorter than a real broker allows: Kafka refuses a session.timeout.ms under
    # group.min.session.timeout.ms (6 s by default), so this demo lowers the broker's minimum.
    sim = Simulation(
        seed=seed, name="payments", broker_config={"group.min.session.timeout.ms": 100}
    )
    sim.create_topic("payments", partitions=2)
    Source(sim, "checkout", "payments", payments(n), key="account")
    ledger: Counter = Counter()

    def post(event, ctx):
        ledger[event.payload["account"]] += event.payload["amount"]

    svc = Service(
        sim,
        "ledger",
        consumes="payments",
        handlers={"PaymentCaptured": handler or post},
        idempotent=idempotent,
        processing_time=0.03,
        max_in_flight=10,
        config={"session.timeout.ms": 300},
    )
    if crash_at is not None:
        sim.crash(svc.instances[0], at=crash_at)
        sim.restart(svc.instances[0], at=crash_at + 0.5)
    sim.run(until=10)
    return sim, ledger


def expected_totals(n: int = 40) -> Counter:
    """What the ledger should hold: every payment counted exactly once."""
    totals: Counter = Counter()
    for p in payments(n):
        totals[p["account"]] += p["amount"]
    return totals


def duplicates_delivered(sim, service: str = "ledger") -> int:
    """How many deliveries of the service were second (or later) copies of an event."""
    seen: Counter = Counter(
        s.event_id for s in sim.spans if s.service == service and s.outcome != "skipped"
    )
    return sum(n - 1 for n in seen.values())
