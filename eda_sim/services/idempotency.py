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
    inbox.add("evt-000002", time=2.0)   # the same id again raises DuplicateEventError
    inbox.table()                  # the rows, as a DataFrame a learner can inspect
"""

from __future__ import annotations

from eda_sim.core.appendlog import AppendLog


class DuplicateEventError(ValueError):
    """The unique constraint on event ids refused a second insert."""


class Inbox:
    """A table of processed event ids with a unique constraint on the id."""

    # The unique index maps an id to its row number: a dict of strings to ints, which the garbage
    # collector stops tracking, unlike one holding a tuple per id. The rows live in an AppendLog.

    def __init__(self, name: str):
        self.name = name
        self._index: dict[str, int] = {}  # event id -> row number
        self._rows = AppendLog()  # (event id, time, by, outcome), in insertion order
        self.refused = 0

    def __contains__(self, event_id: str) -> bool:
        return event_id in self._index

    def __len__(self) -> int:
        return len(self._index)

    def __repr__(self) -> str:
        return f"<Inbox {self.name}: {len(self._index)} event ids>"

    def add(self, event_id: str, time: float, by: str = "", outcome: str = "handled") -> None:
        """Insert an id; :class:`DuplicateEventError` if it is already there (nothing changes).

        ``outcome`` is how the service finished with the event: ``handled``
        (its side effect happened), ``dead_lettered``, ``failed`` or ``late``. A
        service with ``idempotent=True`` settles each event once, whichever way
        it ended, so a redelivered poison event is not dead-lettered twice.
        """
        if not isinstance(event_id, str) or not event_id:
            raise ValueError(f"an event id must be a non-empty string, got {event_id!r}")
        index = self._index
        if event_id in index:
            self.refused += 1
            _, first_time, first_by, first_outcome = self._rows[index[event_id]]
            raise DuplicateEventError(
                f"event {event_id} is already in inbox {self.name!r} "
                f"({first_outcome} at {first_time:g} s by {first_by})"
            )
        index[event_id] = len(index)
        self._rows.append((event_id, time, by, outcome))

    def outcome(self, event_id: str) -> str | None:
        """How the event ended (``handled``, ``dead_lettered``, ``failed``, ``late``), or None if unseen."""
        row = self._index.get(event_id)
        return None if row is None else self._rows[row][3]

    def table(self):
        """The inbox as a DataFrame: event_id, time, by, outcome."""
        import pandas as pd

        return pd.DataFrame(list(self._rows), columns=["event_id", "time", "by", "outcome"])
