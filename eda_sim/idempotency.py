"""Idempotent consumers: an inbox of processed event ids with a unique constraint.

Under at-least-once delivery, duplicates are part of the contract: a crash
before a commit, a rebalance or a producer retry delivers an event again. A
consumer is *idempotent* when handling an event twice has the effect of
handling it once. The inbox pattern gets there: record each processed event id
in a table with a unique constraint, in the same transaction as the side
effect, and skip an event whose id is already there.

Example::

    inbox = Inbox("billing")
    inbox.add("evt-000001", time=1.5)
    "evt-000001" in inbox          # True
    inbox.add("evt-000001", time=2.0)   # raises DuplicateEventError
    inbox.table()                  # the rows, as a DataFrame a learner can inspect
"""

from __future__ import annotations


class DuplicateEventError(ValueError):
    """The unique constraint on event ids refused a second insert."""


class Inbox:
    """A table of processed event ids with a unique constraint on the id."""

    def __init__(self, name: str):
        self.name = name
        self._rows: dict[str, tuple] = {}  # event id -> (time, by); insertion-ordered
        self.refused = 0

    def __contains__(self, event_id: str) -> bool:
        return event_id in self._rows

    def __len__(self) -> int:
        return len(self._rows)

    def __repr__(self) -> str:
        return f"<Inbox {self.name}: {len(self._rows)} event ids>"

    def add(self, event_id: str, time: float, by: str = "") -> None:
        """Insert an id; :class:`DuplicateEventError` if it is already there (nothing changes)."""
        if not isinstance(event_id, str) or not event_id:
            raise ValueError(f"an event id must be a non-empty string, got {event_id!r}")
        if event_id in self._rows:
            self.refused += 1
            first_time, first_by = self._rows[event_id]
            raise DuplicateEventError(
                f"event {event_id} is already in inbox {self.name!r} (processed at {first_time:g} s by {first_by})"
            )
        self._rows[event_id] = (time, by)

    def table(self):
        """The inbox as a DataFrame: event_id, time, by."""
        import pandas as pd

        return pd.DataFrame([(k, t, b) for k, (t, b) in self._rows.items()], columns=["event_id", "time", "by"])
