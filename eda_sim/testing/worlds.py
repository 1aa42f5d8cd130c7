"""Small worlds that tests (the project's and a learner's own) build again and again.

A test of a broker promise usually needs the same three things: a seeded
simulation with a few topics, some records already in them, and a consumer
that reads from the start. These helpers build them in one line each, so a
test reads as the promise it checks.

Example::

    from eda_sim.testing.worlds import filled, reader, topics

    sim = topics({"orders": 3, "receipts": 3}, seed=1)
    filled(sim, "orders", 12, key=lambda i: f"customer-{i % 4}")
    c = reader(sim, "billing", ["orders"])
    len(c.consume(100, timeout=1.0))        # 12
"""

from __future__ import annotations

from eda_sim.core.simulation import Simulation

__all__ = ["SHORT_SESSIONS", "churn", "filled", "reader", "topics"]


#: Broker settings for a world whose consumers use sessions shorter than Kafka allows (6 s): the
#: broker's lowest allowed ``session.timeout.ms`` comes down to 100 ms, in the open.
SHORT_SESSIONS = {"group.min.session.timeout.ms": 100}


def topics(
    partitions: dict, *, seed: int = 1, name: str | None = None, broker_config: dict | None = None
) -> Simulation:
    """A simulation with one topic per entry of ``partitions`` ({topic: partition count}).

    ``broker_config`` goes to :class:`Simulation` (e.g. :data:`SHORT_SESSIONS`).
    """
    named = {} if name is None else {"name": name}
    sim = Simulation(seed=seed, broker_config=broker_config, **named)
    for topic, count in partitions.items():
        sim.create_topic(topic, partitions=count)
    return sim


def filled(sim, topic: str, records: int, *, key=None, value=str, partition: int = -1, config=None):
    """Produce ``records`` records to ``topic`` and flush; record ``i`` has ``key(i)`` and ``value(i)``.

    ``key`` None sends records without a key; ``partition`` >= 0 pins them all to
    one partition. Returns the simulation, so calls chain.
    """
    producer = sim.producer(config or {})
    for i in range(records):
        producer.produce(
            topic,
            key=None if key is None else key(i),
            value=value(i),
            partition=partition,
        )
    producer.flush()
    return sim


def reader(sim, group: str, subscribe, **config):
    """A consumer of ``group`` reading ``subscribe`` from the log start, manual commits; extra config by keyword.

    Keyword names use underscores for dots (``isolation_level="read_uncommitted"``).
    """
    settings = {"group.id": group, "auto.offset.reset": "earliest", "enable.auto.commit": False}
    settings.update({k.replace("_", "."): v for k, v in config.items()})
    consumer = sim.consumer(settings)
    consumer.subscribe(list(subscribe))
    return consumer


#: What a churn schedule can do to a service's instances.
CHURN_OPS = ("crash", "restart", "add", "remove", "stop")


def churn(sim, service, ops) -> None:
    """Schedule ``ops``, ``(op, time, which)`` triples, against ``service``'s instances.

    ``op`` is one of :data:`CHURN_OPS`; ``which`` picks an instance (modulo how
    many there are when the op fires). A restart of a live instance does nothing.
    """
    for op, _t, _which in ops:
        if op not in CHURN_OPS:
            raise ValueError(f"unknown churn op {op!r}; valid: {', '.join(CHURN_OPS)}")

    def act(op, which):
        inst = service.instances[which % len(service.instances)]
        if op == "crash":
            sim.crash(inst)
        elif op == "restart" and not inst.alive:
            sim.restart(inst)
        elif op == "add":
            service.add_instance()
        elif op == "remove":
            service.remove_instance()
        elif op == "stop":
            inst.stop()

    for op, t, which in ops:
        sim.at(t, act, op, which)
