"""Spans: one row per event a service finished handling, the raw material of traces and latency.

``sim.spans`` is a :class:`SpanLog`: it reads like a list of :class:`Span`
(iterate, index, ``len``) and only services append to it.

Example::

    for s in sim.spans:
        if s.outcome == "dead_lettered":
            print(s.service, s.event_id, s.error)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from .appendlog import AppendLog


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

_new = tuple.__new__


def _as_span(stored: tuple) -> Span:
    return _new(Span, stored)


class SpanLog(Sequence):
    """Spans in the order their handling finished; reads like a list of :class:`Span`."""

    # Stored as plain tuples in an AppendLog (see there why), handed out as Span: the collector
    # untracks plain tuples of strings and numbers but never a NamedTuple, and a service keeps a
    # span per event.

    __slots__ = ("_rows",)

    def __init__(self):
        self._rows = AppendLog()

    def append(self, span) -> None:
        """Add one span (a :class:`Span`, or a plain tuple of its fields in order)."""
        if len(span) != len(Span._fields):
            raise ValueError(f"a span has {len(Span._fields)} fields ({', '.join(Span._fields)}), got {len(span)}")
        self._rows.append(span if span.__class__ is tuple else tuple(span))

    def __len__(self) -> int:
        return len(self._rows)

    def __iter__(self):
        return map(_as_span, self._rows)

    def __getitem__(self, index):
        if isinstance(index, slice):
            return [_new(Span, r) for r in self._rows[index]]
        return _new(Span, self._rows[index])

    def __repr__(self) -> str:
        return repr(list(self))
