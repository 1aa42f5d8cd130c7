"""Windows on event time, a watermark, a grace period, and what happens to late records.

A windowed aggregation groups a keyed stream into windows of *event time* (when
a thing happened, carried in the record), not processing time (when the
processor got to it): a card's transactions from 12:00 to 12:01 belong together
however late the phone uploads them.

Three kinds, with Kafka Streams' names:

* :class:`TumblingWindows` ``(size)``: back to back, each time in exactly one;
* :class:`HoppingWindows` ``(size, step)``: overlapping, a new one every
  ``step``; each time falls in ``size / step`` of them (a velocity feature:
  "transactions in the last 60 s", refreshed every 10 s);
* :class:`SessionWindows` ``(gap)``: per key, records closer than ``gap`` to
  each other form one session; a session ends after ``gap`` of silence.

The *watermark* is the claim "nothing older than this is still coming": the
largest event time seen so far minus the ``lateness`` allowed for
out-of-order arrival. A window ``[start, end)`` *closes* when the watermark
passes ``end + grace``; then its final result is emitted and its state may go.
A record whose every window has already closed cannot be counted any more: it
is *late*, and it is handed back with the reason (the stream processor sends it
to a side topic), never dropped in silence.

Two ways to emit: ``emit="updates"`` sends the new aggregate each time a record
changes it (Kafka Streams' default, a changelog of the window); ``emit="final"``
sends one result per window when it closes (``suppress(untilWindowCloses)``),
later by ``lateness + grace`` but never revised.

:class:`WindowedAggregate` is the state machine, plain and clock-free, so that
it can be checked against :func:`batch_aggregate` (the same windows computed
over all events at once): for any arrival order in which no record is later
than ``lateness``, both give the same final results.

Kafka Streams' watermark is its *stream time* (the largest timestamp seen,
lateness 0) per task; Flink's is "largest seen minus the out-of-orderness
bound"; quix-streams and bytewax follow the same two ideas.

Example::

    agg = WindowedAggregate(HoppingWindows(size=60, step=10), lateness=5, grace=10, emit="final")
    agg.push("card-1", 12.0)          # -> [] : windows still open
    agg.push("card-1", 200.0)         # -> final counts of the windows that closed
    agg.push("card-1", 3.0)           # -> [] and agg.late holds it with the reason
"""

from __future__ import annotations

import math
from typing import NamedTuple

from eda_sim.core.checks import at_least, positive

EMITS = ("updates", "final")
AGGREGATES = ("count", "sum")


def _positive(name: str, value, allow_zero: bool = False) -> float:
    if allow_zero:
        return at_least(value, name, 0, "a finite number of seconds")
    return positive(value, name, "a finite number of seconds")


class Window(NamedTuple):
    """A window of event time, ``[start, end)``."""

    start: float
    end: float


class TumblingWindows:
    """Fixed, non-overlapping windows of ``size`` seconds, aligned to time 0."""

    kind = "tumbling"

    def __init__(self, size: float):
        self.size = _positive("size", size)

    def __repr__(self) -> str:
        return f"TumblingWindows(size={self.size:g})"

    def windows_for(self, t: float) -> list[Window]:
        """The windows an event at time ``t`` belongs to (one)."""
        start = math.floor(t / self.size) * self.size
        return [Window(start, start + self.size)]


class HoppingWindows:
    """Windows of ``size`` seconds starting every ``step`` seconds (``step`` <= ``size``)."""

    kind = "hopping"

    def __init__(self, size: float, step: float):
        self.size = _positive("size", size)
        self.step = _positive("step", step)
        if self.step > self.size:
            raise ValueError(
                f"a hopping window's step ({step!r}) must not exceed its size ({size!r}); "
                "with step == size it is a tumbling window"
            )

    def __repr__(self) -> str:
        return f"HoppingWindows(size={self.size:g}, step={self.step:g})"

    def windows_for(self, t: float) -> list[Window]:
        """Every window ``[k*step, k*step + size)`` that contains ``t``, oldest first."""
        last = math.floor(t / self.step)
        out = []
        k = last
        while k * self.step + self.size > t:
            out.append(Window(k * self.step, k * self.step + self.size))
            k -= 1
        out.reverse()
        return out


class SessionWindows:
    """Per-key sessions: records within ``gap`` seconds of each other join one session."""

    kind = "session"

    def __init__(self, gap: float):
        self.gap = _positive("gap", gap)

    def __repr__(self) -> str:
        return f"SessionWindows(gap={self.gap:g})"


class Emitted(NamedTuple):
    """One result of a windowed aggregation: a key, its window, the aggregate, final or an update."""

    key: str
    window: Window
    value: float
    final: bool


class Late(NamedTuple):
    """A record that came after its windows closed, with the reason."""

    key: str
    time: float
    watermark: float
    reason: str


class WindowedAggregate:
    """Count (or sum) per key and window on event time, with a watermark, grace and late records.

    ``push(key, time, value=1)`` returns what to emit now (a list of
    :class:`Emitted`); late records collect in ``late`` (and are returned by
    ``push`` as ``[]``; ask :meth:`is_late` first to route them). ``close_all()``
    ends the stream and emits every window still open (final).

    The state is ``windows``: ``{(key, start): [end, aggregate]}`` (for sessions
    ``start`` and ``end`` are the first and last event times) and
    ``max_time``, the largest event time seen; both survive a restore. After
    each push, ``changed`` and ``removed`` name the windows it touched, which is
    what a changelog must record.
    """

    def __init__(
        self,
        windows,
        *,
        lateness: float = 0.0,
        grace: float = 0.0,
        emit: str = "updates",
        aggregate: str = "count",
    ):
        if not isinstance(windows, (TumblingWindows, HoppingWindows, SessionWindows)):
            raise TypeError(
                "windows must be TumblingWindows(size), HoppingWindows(size, step) or SessionWindows(gap), "
                f"got {type(windows).__name__}"
            )
        if emit not in EMITS:
            raise ValueError(f"emit must be one of {', '.join(EMITS)}, got {emit!r}")
        if aggregate not in AGGREGATES:
            raise ValueError(f"aggregate must be one of {', '.join(AGGREGATES)}, got {aggregate!r}")
        self.spec = windows
        self.lateness = _positive("lateness", lateness, allow_zero=True)
        self.grace = _positive("grace", grace, allow_zero=True)
        self.emit = emit
        self.aggregate = aggregate
        self.windows: dict = {}
        self.max_time = -math.inf
        self.late: list[Late] = []
        self.missed: list = []  # (key, time, window): an early window closed, a later one counted it
        self.changed: list = []  # (key, start) of windows the last push created or changed
        self.removed: list = []  # (key, start) of windows the last push closed or merged away

    @property
    def watermark(self) -> float:
        """Largest event time seen minus the allowed lateness (-inf before the first record)."""
        return self.max_time - self.lateness

    def _closes_at(self, end: float) -> float:
        extra = self.spec.gap if isinstance(self.spec, SessionWindows) else 0.0
        return end + extra + self.grace

    def is_late(self, time: float) -> str:
        """Why a record at event time ``time`` is too late now, or "" when it can still be counted."""
        wm = self.watermark
        if isinstance(self.spec, SessionWindows):
            last_end = time
        else:
            last_end = self.spec.windows_for(time)[-1].end
        if self._closes_at(last_end) <= wm:
            return (
                f"event time {time:g} s: its windows closed at watermark {self._closes_at(last_end):g} s "
                f"(window end + grace {self.grace:g} s); the watermark is {wm:g} s "
                f"(max event time {self.max_time:g} s - lateness {self.lateness:g} s)"
            )
        return ""

    def push(self, key: str, time: float, value: float = 1.0) -> list[Emitted]:
        """Add one record; return what to emit now (updates and/or windows that closed)."""
        why = self.is_late(time)
        if why:
            self.late.append(Late(key, time, self.watermark, why))
            return []
        add = 1.0 if self.aggregate == "count" else float(value)
        out: list[Emitted] = []
        self.removed = []
        if isinstance(self.spec, SessionWindows):
            touched = self._session(key, time, add)
        else:
            touched = []
            for w in self.spec.windows_for(time):
                if self._closes_at(w.end) <= self.watermark:
                    # this one closed; a later window of the same record is still open. Kafka Streams
                    # counts these in a metric; here they are listed, never silent.
                    self.missed.append((key, time, w))
                    continue
                slot = self.windows.get((key, w.start))
                if slot is None:
                    slot = self.windows[(key, w.start)] = [w.end, 0.0]
                slot[1] += add
                touched.append((key, w.start))
        self.changed = touched
        if self.emit == "updates":
            for k, start in touched:
                end, agg = self.windows[(k, start)]
                out.append(Emitted(k, Window(start, end), agg, False))
        if time > self.max_time:
            self.max_time = time
            out.extend(self._close(self.watermark))
        return out

    def _session(self, key: str, time: float, add: float) -> list:
        gap = self.spec.gap
        merged_start, merged_end, total = time, time, add
        for k, start in sorted(k for k in self.windows if k[0] == key):
            end, agg = self.windows[(k, start)]
            if start - gap <= time <= end + gap:
                merged_start = min(merged_start, start)
                merged_end = max(merged_end, end)
                total += agg
                del self.windows[(k, start)]
                self.removed.append((k, start))
        self.windows[(key, merged_start)] = [merged_end, total]
        # the merged session may keep the start (and so the key) of one it absorbed: not removed
        self.removed = [k for k in self.removed if k != (key, merged_start)]
        self.changed = [(key, merged_start)]
        return self.changed

    def _close(self, watermark: float) -> list[Emitted]:
        done = sorted(
            (k for k, (end, _) in self.windows.items() if self._closes_at(end) <= watermark),
            key=lambda k: (self.windows[k][0], k),
        )
        out = []
        for k in done:
            end, agg = self.windows.pop(k)
            self.removed.append(k)
            if self.emit == "final":
                out.append(Emitted(k[0], Window(k[1], end), agg, True))
        return out

    def close_all(self) -> list[Emitted]:
        """End of stream: close every window still open (final results with ``emit="final"``)."""
        self.removed = []
        return self._close(math.inf)


def batch_aggregate(windows, events, aggregate: str = "count") -> dict:
    """The same windows computed over all ``events`` at once: ``{(key, Window): aggregate}``.

    ``events`` are ``(key, time)`` or ``(key, time, value)`` tuples in any
    order. This is the reference the streaming computation must agree with.
    """
    out: dict = {}
    items = [(e[0], e[1], e[2] if len(e) > 2 else 1.0) for e in events]
    if isinstance(windows, SessionWindows):
        by_key: dict = {}
        for k, t, v in items:
            by_key.setdefault(k, []).append((t, v))
        for k in sorted(by_key):
            run = sorted(by_key[k])
            start = prev = run[0][0]
            acc = 0.0
            for t, v in run:
                if t - prev > windows.gap:
                    out[(k, Window(start, prev))] = acc
                    start, acc = t, 0.0
                acc += 1.0 if aggregate == "count" else v
                prev = t
            out[(k, Window(start, prev))] = acc
        return out
    for k, t, v in items:
        for w in windows.windows_for(t):
            out[(k, w)] = out.get((k, w), 0.0) + (1.0 if aggregate == "count" else v)
    return out
