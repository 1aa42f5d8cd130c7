"""Checks for notebook 12 (tracing): carry the trace through a handler."""

from __future__ import annotations

from eda_sim.core.simulation import Simulation
from eda_sim.course.feedback import checker
from eda_sim.services.events import Event
from eda_sim.services.load import Source
from eda_sim.services.service import Service


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
    "Exercise 09 · keep the trace unbroken through the enricher",
    hint="publish with ctx.emit(topic, type, payload): it stamps the new event with the handled event's "
    "correlation id and its id as the causation id; an event built from scratch starts a new trace",
)
def check_trace_carried(fb, handler) -> None:
    """Run the learner's enricher and check every OrderEnriched event continues its order's trace."""
    if not callable(handler):
        fb.miss("enrich should be a function(event, ctx)")
        return
    sim = enrichment_world(handler)
    orders = {
        Event.from_json(r.value).id: Event.from_json(r.value)
        for log in sim.topic("orders").partitions
        for r in log.records()
    }
    enriched = [
        Event.from_json(r.value)
        for log in sim.topic("orders-enriched").partitions
        for r in log.records()
    ]
    if not fb.expect(
        len(enriched) == len(orders),
        f"each of the {len(orders)} orders produced one OrderEnriched",
        f"{len(enriched)} OrderEnriched events for {len(orders)} orders",
    ):
        return
    caused = [e for e in enriched if e.causation_id in orders]
    fb.expect(
        len(caused) == len(enriched),
        "every OrderEnriched names the order it came from as its cause",
        f"{len(enriched) - len(caused)} OrderEnriched events have no causation id pointing at an order",
    )
    same = [e for e in caused if e.correlation_id == orders[e.causation_id].correlation_id]
    fb.expect(
        len(same) == len(enriched),
        "every OrderEnriched carries its order's correlation id",
        f"{len(enriched) - len(same)} OrderEnriched events start a trace of their own",
    )
