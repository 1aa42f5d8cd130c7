"""Checks for notebook 12 (tracing): carry the trace through a handler."""

from __future__ import annotations

from eda_sim.core.simulation import Simulation
from eda_sim.course.feedback import checker, same_code, takes
from eda_sim.services.events import Event
from eda_sim.services.load import Source
from eda_sim.services.service import Service

#: The exercise cell's starting handler: it builds the new event from scratch, starting a new trace.
STARTER = """
def enrich(event, ctx):
    enriched = new_event(
        ctx.sim, "OrderEnriched", {"order": event.payload["order"], "vip": True}, key=event.key
    )
    publish(ctx.service.producer, "orders-enriched", enriched)
"""
TYPE = "OrderEnriched"


def enrichment_world(handler, n: int = 6):
    """Orders flow through an ``enricher`` service that runs ``handler``; returns the simulation."""
    sim = Simulation(seed=9, name="tracing-exercise")
    sim.create_topic("orders", partitions=2)
    sim.create_topic("orders-enriched", partitions=2)
    Source(
        sim,
        "shop",
        "orders",
        [
            {"time": 0.1 * i, "type": "OrderPlaced", "order": f"o{i}", "total": 10 + i}
            for i in range(n)
        ],
        key="order",
    )
    Service(
        sim,
        "enricher",
        consumes="orders",
        handlers={"OrderPlaced": handler},
        produces={"orders-enriched": ["OrderEnriched"]},
    )
    sim.run(until=5)
    return sim


@checker(
    "trace-carried",
    "Exercise 12 · keep the trace unbroken through the enricher",
    items=[
        ("one-each", 1, "each order produces one enriched event"),
        ("type", 1, f"the enriched events are of type {TYPE}"),
        ("causation", 2, "each enriched event names its order as its cause"),
        ("correlation", 2, "each enriched event carries its order's correlation id"),
    ],
    hints=[
        "look at the ids of an event the handler publishes: which of them say where it came from?",
        "publish with ctx.emit(topic, type, payload): it stamps the new event with the handled event's "
        "correlation id and its id as the causation id; an event built from scratch starts a new trace",
    ],
    starter=lambda handler: same_code(handler, STARTER),
    not_answered="enrich is still the starting handler, which builds the new event from scratch; change "
    "it, then run the cell again",
)
def check_trace_carried(fb, handler) -> None:
    """Run the learner's enricher and check every OrderEnriched event continues its order's trace."""
    wrong = takes(handler, "event", "ctx")
    if wrong:
        fb.invalid(f"enrich {wrong}")
        return
    sim = enrichment_world(fb.guard(handler, "enrich"))
    fb.stop_if_raised()
    orders = {
        Event.from_json(r.value).id: Event.from_json(r.value)
        for log in sim.topic("orders").partitions
        for r in log.records()
    }
    out = [
        Event.from_json(r.value)
        for log in sim.topic("orders-enriched").partitions
        for r in log.records()
    ]
    elsewhere = sorted(
        f"{name} ({n})"
        for name, topic in sim.broker.topics.items()
        if name not in ("orders", "orders-enriched") and not name.endswith(".DLT")
        for n in [sum(log.log_end_offset for log in topic.partitions)]
        if n
    )
    if not fb.mark(
        "one-each",
        len(out) == len(orders),
        f"each of the {len(orders)} orders produced one event on orders-enriched",
        f"{len(out)} events on orders-enriched for {len(orders)} orders"
        + (f"; your handler published to {', '.join(elsewhere)} instead" if elsewhere else ""),
    ):
        return
    types = sorted({e.type for e in out} - {TYPE})
    fb.mark(
        "type",
        not types,
        f"every event is an {TYPE}",
        f"the enricher published {', '.join(types)}, not {TYPE}: a consumer of orders-enriched subscribes "
        "to the type its contract names",
    )
    caused = [e for e in out if e.causation_id in orders]
    fb.mark(
        "causation",
        len(caused) == len(out),
        "every enriched event names the order it came from as its cause",
        f"{len(out) - len(caused)} enriched events have no causation id pointing at an order",
    )
    same = [e for e in caused if e.correlation_id == orders[e.causation_id].correlation_id]
    fb.mark(
        "correlation",
        len(same) == len(out),
        "every enriched event carries its order's correlation id",
        f"{len(out) - len(same)} enriched events start a trace of their own",
    )


hint = check_trace_carried.hint
