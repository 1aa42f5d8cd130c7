"""Spans: one row per event a service finished handling, the raw material of traces and latency.

``sim.spans`` is a :class:`SpanLog`: it reads like a list of :class:`Span`
(iterate, index, ``len``) and only services append to it.

Example::

    sim = Simulation(seed=1)
    sim.create_topic("orders")

    def bill(event, ctx):
        if event.payload.get("bad"):
            raise ValueError("no amount")

    Source(sim, "shop", "orders", [{"time": 0.1, "type": "OrderPlaced"},
                                   {"time": 0.2, "type": "OrderPlaced", "bad": True}])
    Service(sim, "billing", consumes="orders", handlers={"OrderPlaced": bill})
    sim.run(until=5)
    for s in sim.spans:
        if s.outcome == "dead_lettered":
            print(s.service, s.event_id, s.error)
"""

from __future__ import annotations

from typing import NamedTuple

from eda_sim.core.appendlog import AppendLog


class Span(NamedTuple):
    """One event's handling by one service: the raw material of traces and latency."""

    service: str
    instance: str
    event_id: str
    event_type: str
    correlation_id: str
    causation_id: str
    topic: str
    partition: int
    offset: int
    produced: float  # the record's create time
    started: float
    finished: float
    outcome: str  # one of OUTCOMES, or late (sent aside by the reorder policy)
    attempts: int
    error: str


#: How a service's handling of an event can end (the reorder policy adds "late").
OUTCOMES = ("handled", "duplicate", "skipped", "dead_lettered", "failed")


class SpanLog(AppendLog):
    """Spans in the order their handling finished; reads like a list of :class:`Span`."""

    # Written as plain tuples, handed out as Span (see AppendLog): a service keeps a span per event,
    # and spans only written cost the garbage collector almost nothing.

    __slots__ = ()

    def __init__(self):
        super().__init__(row_type=Span)

    def append(self, span) -> None:
        """Add one span (a :class:`Span`, or a plain tuple of its fields in order)."""
        if len(span) != len(Span._fields):
            raise ValueError(
                f"a span has {len(Span._fields)} fields ({', '.join(Span._fields)}), got {len(span)}"
            )
        AppendLog.append(self, span if span.__class__ is tuple else tuple(span))

    def __repr__(self) -> str:
        return repr(list(self))
