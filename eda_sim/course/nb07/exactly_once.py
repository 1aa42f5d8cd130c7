"""The edge of exactly-once: a payments service that charges a database and emits an event.

Each ``PaymentCaptured`` input is *charged* (a row in the service's SQLite
database, :class:`~eda_sim.services.outbox.SideEffectStore`) and announced with a
``PaymentPosted`` event on the ``posted`` topic (its id is the payment's, so
copies can be recognised). The service is crashed after one step of its loop
and replaced; then we count, per payment, the charges in the database and the
events a ``read_committed`` reader of ``posted`` receives.

The six strategies, in teaching order:

==========================  ==============================================================
``commit before``           commit the input offsets, then charge and emit (at-most-once)
``commit after``            charge and emit, flush, then commit (at-least-once)
``idempotent inbox``        commit after, and charge inside a local transaction with an inbox
``Kafka transactions``      events and input offsets in one Kafka transaction; the charge is
                            outside it, so a retried batch charges again
``transactions + inbox``    Kafka transactions, and the charge guarded by the inbox
``outbox + inbox``          charge, inbox and the outgoing event in one local transaction; a
                            relay publishes the outbox at least once; commit after
==========================  ==============================================================

Example::

    effects_sweep()          # one row per strategy: lost and duplicated charges and events
"""

from __future__ import annotations

import json
from collections import Counter

from eda_sim import kafka
from eda_sim.core.errors import KafkaException
from eda_sim.core.simulation import Simulation
from eda_sim.course.nb07.program import next_offsets, rewind
from eda_sim.services.outbox import Relay, SideEffectStore

STRATEGIES = {
    "commit before": "commit the offsets, then charge and emit: at-most-once",
    "commit after": "charge and emit, then commit: at-least-once",
    "idempotent inbox": "commit after; the charge and its event id in one database transaction",
    "Kafka transactions": "events and offsets in one Kafka transaction; the charge outside it",
    "transactions + inbox": "Kafka transactions, and the charge deduplicated by the inbox",
    "outbox + inbox": "charge, inbox and outgoing event in one database transaction; a relay publishes",
}

_TRANSACTIONAL = ("Kafka transactions", "transactions + inbox")
_INBOX = ("idempotent inbox", "transactions + inbox", "outbox + inbox")


def payment_inputs(n: int = 8) -> list[dict]:
    """``n`` payments over three accounts, each with a stable id chosen by its producer."""
    return [
        {"id": f"pay-{i:03d}", "account": f"acct-{i % 3}", "amount": 5 + (i * 7) % 20}
        for i in range(n)
    ]


def payment_service(kafka, consumer, producer, store, strategy, *, batch=3, idle_polls=8):
    """One instance of the payments service: a generator yielding the name of each step it finishes.

    Uses only confluent-kafka names on ``kafka``, ``consumer`` and ``producer``
    and the store's ``handle`` for the database. ``strategy`` is one of
    :data:`STRATEGIES`.
    """
    transactional = strategy in _TRANSACTIONAL
    inbox = strategy in _INBOX
    relay = Relay(store, producer) if strategy == "outbox + inbox" else None
    consumer.subscribe(["payments"])
    idle = 0
    while idle < idle_polls:
        messages = [m for m in consumer.consume(batch, 1.0) if m.error() is None]
        if not messages:
            idle += 1
            continue
        idle = 0
        yield "polled"
        if strategy == "commit before":
            consumer.commit(asynchronous=False)
            yield "committed"
        if transactional:
            producer.begin_transaction()
        try:
            for m in messages:
                pay = json.loads(m.value())
                event = json.dumps({"id": pay["id"], "account": pay["account"]})
                outgoing = ("posted", pay["account"], event) if relay is not None else None
                store.handle(
                    pay["id"], pay["account"], pay["amount"], inbox=inbox, outgoing=outgoing
                )
                yield "charged"
                if relay is None:
                    # Emitted even when the inbox refused the charge: an aborted transaction may have
                    # taken the first copy with it, and the event's id lets downstream drop extras.
                    producer.produce("posted", key=pay["account"], value=event)
                    yield "emitted"
            if transactional:
                producer.send_offsets_to_transaction(
                    next_offsets(kafka, messages), consumer.consumer_group_metadata()
                )
                producer.commit_transaction()
            elif relay is not None:
                seqs = relay.send()
                yield "published"
                store.mark_published(seqs)
            else:
                producer.flush(10.0)
                yield "flushed"  # the events are out; the offsets are not committed yet
            if not transactional and strategy != "commit before":
                consumer.commit(asynchronous=False)
        except KafkaException as exc:
            if not (transactional and exc.args[0].txn_requires_abort()):
                raise
            producer.abort_transaction()
            rewind(kafka, consumer)
            continue
        yield "committed"


def run_payments(strategy: str, crash_after: int | None = None, *, n: int = 8, seed: int = 11):
    """Run the service over ``n`` payments, crashing it after step ``crash_after`` (None: no crash).

    Returns a dict: the strategy, the crash step and what it interrupted, and
    per payment how many charges the database holds and how many
    ``PaymentPosted`` events a read_committed reader received: lost and
    duplicated, for each.
    """
    if strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {strategy!r}; strategies are: {', '.join(STRATEGIES)}")
    # Sessions shorter than a real broker allows: Kafka refuses a session.timeout.ms under
    # group.min.session.timeout.ms (6 s by default), so this demo lowers the broker's minimum.
    sim = Simulation(
        seed=seed, name="payments-eos", broker_config={"group.min.session.timeout.ms": 100}
    )
    sim.create_topic("payments", partitions=2)
    sim.create_topic("posted", partitions=2)
    feeder = sim.producer({"enable.idempotence": True})
    for pay in payment_inputs(n):
        feeder.produce("payments", key=pay["account"], value=json.dumps(pay))
    feeder.flush()
    store = SideEffectStore()
    transactional = strategy in _TRANSACTIONAL

    def start():
        conf = {"bootstrap.servers": sim.bootstrap_servers, "enable.idempotence": True}
        if transactional:
            conf["transactional.id"] = "payments-0"
        producer = kafka.Producer(conf)
        if transactional:
            producer.init_transactions(10.0)
        consumer = kafka.Consumer(
            {
                "bootstrap.servers": sim.bootstrap_servers,
                "group.id": "payments-service",
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "session.timeout.ms": 1000,
            }
        )
        return consumer, producer, payment_service(kafka, consumer, producer, store, strategy)

    consumer, producer, steps = start()
    done = []
    interrupted = ""
    for step in steps:
        done.append(step)
        if crash_after is not None and len(done) == crash_after + 1:
            interrupted = step
            sim.crash(consumer)
            sim.crash(producer)  # what it had queued and not sent dies with it
            break
    if interrupted:
        consumer, producer, steps = start()
        for _step in steps:
            pass
    reader = sim.consumer({"group.id": "audit", "auto.offset.reset": "earliest"})
    reader.subscribe(["posted"])
    events: Counter = Counter()
    while True:
        got = reader.consume(100, 0.5)
        if not got:
            break
        events.update(json.loads(m.value())["id"] for m in got if m.error() is None)
    charges = Counter(pid for pid, _, _ in store.charges())
    ids = [p["id"] for p in payment_inputs(n)]
    return {
        "strategy": strategy,
        "crash_after": crash_after,
        "step": interrupted,
        "charges_lost": sum(1 for i in ids if charges[i] == 0),
        "charges_duplicated": sum(1 for i in ids if charges[i] > 1),
        "events_lost": sum(1 for i in ids if events[i] == 0),
        "events_duplicated": sum(1 for i in ids if events[i] > 1),
    }


def effects_sweep(strategies=tuple(STRATEGIES), n: int = 8, steps: int = 14):
    """Crash after each of the first ``steps`` steps under each strategy; one row per strategy.

    The columns add up what went wrong over all the crash points: payments
    charged never or more than once in the database, and ``PaymentPosted``
    events a read_committed reader received never or more than once.
    """
    import pandas as pd

    rows = []
    for s in strategies:
        runs = [run_payments(s, k, n=n) for k in range(steps)]
        rows.append(
            {
                "strategy": s,
                "crash points": len(runs),
                **{
                    col: sum(r[col] for r in runs)
                    for col in (
                        "charges_lost",
                        "charges_duplicated",
                        "events_lost",
                        "events_duplicated",
                    )
                },
            }
        )
    return pd.DataFrame(rows).set_index("strategy")


# -- the exercise: a learner's batch handler under a crash at every point --------------------------


class _Crash(BaseException):
    """Raised inside the learner's handler to stop the instance dead (a BaseException: no except catches it)."""


#: The calls a crash can come before, on each object the handler is given.
WATCHED = {
    "store": ("handle",),
    "producer": ("produce", "send_offsets_to_transaction", "commit_transaction"),
    "consumer": ("commit",),
}


class _Watched:
    """Forwards everything to ``target``; before each watched call, asks ``tick`` whether to crash."""

    def __init__(self, target, names, tick, role):
        self._target, self._names, self._tick, self._role = target, names, tick, role

    def __getattr__(self, name):
        value = getattr(self._target, name)
        if name not in self._names:
            return value

        def call(*args, **kwargs):
            self._tick(f"{self._role}.{name}")
            return value(*args, **kwargs)

        return call


def exercise_run(process_batch, crash_before: int | None, *, n: int = 6, seed: int = 13) -> dict:
    """Run ``process_batch(messages, consumer, producer, store)`` as a payments service.

    The producer is transactional (``init_transactions()`` done) and the
    consumer reads ``payments`` with auto-commit off. The instance is crashed
    just before its ``crash_before``-th watched call (a charge, a produce,
    ``send_offsets_to_transaction``, ``commit_transaction`` or a consumer
    ``commit``) and replaced. Returns the crash point and, per payment id, how
    many charges the database holds and how many events a read_committed reader
    of ``posted`` got.
    """
    # Sessions shorter than a real broker allows: Kafka refuses a session.timeout.ms under
    # group.min.session.timeout.ms (6 s by default), so this demo lowers the broker's minimum.
    sim = Simulation(
        seed=seed, name="payments-exercise", broker_config={"group.min.session.timeout.ms": 100}
    )
    sim.create_topic("payments", partitions=2)
    sim.create_topic("posted", partitions=2)
    feeder = sim.producer({"enable.idempotence": True})
    for pay in payment_inputs(n):
        feeder.produce("payments", key=pay["account"], value=json.dumps(pay))
    feeder.flush()
    store = SideEffectStore()
    calls: list = []

    def tick(name: str) -> None:
        calls.append(name)
        if crash_before is not None and len(calls) == crash_before + 1:
            raise _Crash(name)

    def start():
        producer = kafka.Producer(
            {"bootstrap.servers": sim.bootstrap_servers, "transactional.id": "payments-0"}
        )
        producer.init_transactions(10.0)
        consumer = kafka.Consumer(
            {
                "bootstrap.servers": sim.bootstrap_servers,
                "group.id": "payments-service",
                "enable.auto.commit": False,
                "auto.offset.reset": "earliest",
                "session.timeout.ms": 1000,
            }
        )
        consumer.subscribe(["payments"])
        return consumer, producer

    consumer, producer = start()
    crashed_at = ""
    idle = 0
    while idle < 8:
        messages = [m for m in consumer.consume(3, 1.0) if m.error() is None]
        if not messages:
            idle += 1
            continue
        idle = 0
        try:
            process_batch(
                messages,
                _Watched(consumer, WATCHED["consumer"], tick, "consumer"),
                _Watched(producer, WATCHED["producer"], tick, "producer"),
                _Watched(store, WATCHED["store"], tick, "store"),
            )
        except _Crash as crash:
            crashed_at = f"before {crash.args[0]}"
            sim.crash(consumer)
            sim.crash(producer)
            consumer, producer = start()
    reader = sim.consumer({"group.id": "audit", "auto.offset.reset": "earliest"})
    reader.subscribe(["posted"])
    events: Counter = Counter()
    while True:
        got = reader.consume(100, 0.5)
        if not got:
            break
        for m in got:
            if m.error() is None:
                events[json.loads(m.value()).get("id")] += 1
    charges = Counter(pid for pid, _, _ in store.charges())
    ids = [p["id"] for p in payment_inputs(n)]
    return {
        "crash": crashed_at or "no crash",
        "calls": len(calls),
        "charged_twice": [i for i in ids if charges[i] > 1],
        "never_charged": [i for i in ids if charges[i] == 0],
        "posted_twice": [i for i in ids if events[i] > 1],
        "never_posted": [i for i in ids if events[i] == 0],
    }


def exercise_sweep(process_batch, n: int = 6) -> list[dict]:
    """:func:`exercise_run` without a crash, then crashed before each watched call it made."""
    first = exercise_run(process_batch, None, n=n)
    return [first] + [exercise_run(process_batch, k, n=n) for k in range(first["calls"])]
