"""Ordering by event time: a reorder buffer, late events, and finding out-of-order pairs.

Kafka keeps order within a partition and nowhere else: a consumer sees one
partition's records in the order they were appended, which is not always the
order in which things happened. A phone that was offline sends its events
late; two front ends race; records of one user with random keys land in
different partitions and are appended in whatever order the batches arrive.

A :class:`ReorderBuffer` restores event-time order within a bounded delay.
It holds events back and tracks a *watermark*: the largest event time seen
minus ``window`` seconds, the claim "nothing older than this is still on its
way". Every held event at or before the watermark is released in event-time
order (ties in arrival order). An event that arrives after the buffer already
released a later one cannot be put back in order: it is *late*, and it is
handed to ``on_late`` with the reason, never dropped silently. The window is
the trade: a wider window tolerates longer delays and adds that much latency.

In a service, ``Service(..., reorder=2.0)`` keeps one buffer per partition
(Kafka orders per partition, and one key's events share one) in each
instance. Late events go to the side topic ``<topic>.late`` (created like the
source topic) with the reason in the header ``late-reason``, and a journal row
of kind ``late``. A partition that brings no record for ``window`` virtual
seconds is flushed: the watermark only moves with events, and a quiet
partition would otherwise hold its last events forever (stream processors call
this idleness).

Offsets: an event held in the buffer is not processed yet, so its offset must
not be committed. Each instance stores, per partition, the lowest offset still
held in the buffer (or one past the newest record pushed when nothing is
held); commits never pass a held event. After a crash the group restarts from
that offset and reads the held events again, so none is lost; events after it
that were already handled are delivered again (at least once: make the
handler idempotent, e.g. ``idempotent=True``). An instance that stops (scaled
in) or loses a partition in a rebalance drops what it held for it; the next
owner reads it again from the committed offset. With ``commit="before"`` the
service chose at-most-once, and held events are committed before they are
handled, as that policy says.

Example::

    from eda_sim import Event
    from eda_sim import Simulation
    from eda_sim.services.load import DelayedSource
    from eda_sim.services.ordering import ReorderBuffer, out_of_order_pairs, late_events
    from eda_sim.services.service import Service

    buf = ReorderBuffer(2.0)                    # or ReorderBuffer(2.0, on_emit=..., on_late=...)
    for i, t in enumerate([1.0, 4.0, 7.0, 3.2, 6.5]):
        buf.push(Event.create("ScreenTapped", {}, id=f"e{i}", time=t))
    [e.time for e in buf.emitted]               # [1.0, 4.0]: the watermark is 7.0 - 2.0 = 5.0
    buf.late[0][1]                              # 'event time 3.2 s is behind the watermark 5.0 s (window 2.0 s)'
    buf.flush()                                 # end of stream: 6.5 and 7.0 come out too

    sim = Simulation(seed=3)
    sim.create_topic("taps", partitions=1)
    taps = [{"time": i * 0.5, "type": "ScreenTapped", "user_id": "u1", "n": i} for i in range(20)]
    DelayedSource(sim, "phone", "taps", taps, key="user_id", delay=lambda rng: rng.expovariate(1.0))
    seen = []
    Service(sim, "counter", consumes="taps", handlers={"ScreenTapped": lambda e, ctx: seen.append(e.time)},
            reorder=2.0)
    sim.run(until=30)
    seen == sorted(seen)                        # True: handled in event-time order
    late_events(sim, "taps")                    # what came too late, and why
    out_of_order_pairs(sim, "taps")             # the log itself, pair by pair
    out_of_order_pairs(sim, "taps", group="counter")   # in the order the service had them delivered
"""

from __future__ import annotations

import bisect
import heapq
import json
import math
from collections import deque
from typing import NamedTuple

from eda_sim.core.errors import KafkaException
from eda_sim.kafka.message import TopicPartition
from eda_sim.services.events import Event
from eda_sim.services.retries import H_VALUE_DROPPED

__all__ = [
    "H_LATE_REASON",
    "LATE_SUFFIX",
    "ReorderBuffer",
    "late_events",
    "late_topic",
    "ordering_report",
    "out_of_order_pairs",
]

#: The header a late event carries in the side topic, saying why it was late.
H_LATE_REASON = "late-reason"
#: Late events of ``topic`` go to ``topic + LATE_SUFFIX``.
LATE_SUFFIX = ".late"


def _secs(x: float) -> str:
    """Seconds for people: 3.2, 5.0, 1234.568 (milliseconds at most)."""
    return repr(round(x, 3) + 0.0)


def _check_window(window) -> float:
    if isinstance(window, bool) or not isinstance(window, (int, float)):
        raise TypeError(
            f"window must be a number of virtual seconds > 0, got {type(window).__name__} {window!r}"
        )
    if window != window or window == math.inf:
        raise ValueError(f"window must be a finite number of virtual seconds > 0, got {window!r}")
    if window == 0:
        raise ValueError("a window of zero cannot reorder anything; use window > 0")
    if window < 0:
        raise ValueError(f"a negative window ({window!r}) cannot reorder anything; use window > 0")
    return float(window)


class ReorderBuffer:
    """Hold events back and release them in event-time order, within ``window`` seconds of delay.

    ``push(event)`` takes anything with a numeric ``time`` (an :class:`Event`,
    or your own record). The *watermark* is the largest time pushed minus
    ``window`` (and, after :meth:`flush`, at least the last time released).
    Every held event with ``time <= watermark`` is passed to ``on_emit(event)``,
    in event-time order, ties in arrival order. An event earlier than the last
    one released is late: ``on_late(event, reason)`` gets it. Without
    callbacks, released events collect in ``emitted`` and late ones in
    ``late`` (pairs of event and reason).

    ``window <= 0`` raises ``ValueError``: a buffer that holds nothing back
    cannot reorder anything.
    """

    def __init__(self, window: float, on_emit=None, on_late=None):
        self.window = _check_window(window)
        for name, fn in (("on_emit", on_emit), ("on_late", on_late)):
            if fn is not None and not callable(fn):
                raise TypeError(f"{name} must be a function or None, got {type(fn).__name__}")
        self.emitted: list = []
        self.late: list = []
        self._on_emit = on_emit if on_emit is not None else self.emitted.append
        self._on_late = (
            on_late if on_late is not None else (lambda ev, why: self.late.append((ev, why)))
        )
        self._heap: list = []  # (time, arrival number, event)
        self._arrivals = 0
        self._max = -math.inf  # largest event time pushed (late ones excluded)
        self._floor = -math.inf  # the watermark never goes below this (raised by flush)
        self._last = -math.inf  # time of the last event released
        self.pushed = 0
        self.released = 0
        self.late_count = 0

    def __repr__(self) -> str:
        return (
            f"<ReorderBuffer window={_secs(self.window)} s: {len(self._heap)} held, {self.released} released, "
            f"{self.late_count} late, watermark {self.watermark:g}>"
        )

    @property
    def watermark(self) -> float:
        """Event time up to which everything is released (``-inf`` before the first event)."""
        return max(self._max - self.window, self._floor)

    @property
    def pending(self) -> int:
        """How many events are held, waiting for the watermark."""
        return len(self._heap)

    @property
    def last_released(self) -> float:
        """The event time of the last event released (``-inf`` before any)."""
        return self._last

    def push(self, event) -> int:
        """Take one event; release what the watermark passed; return how many were released."""
        t = getattr(event, "time", None)
        if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t):
            raise TypeError(
                f"push() expects an event with a finite numeric .time (virtual seconds), got {event!r}"
            )
        self.pushed += 1
        if t < self._last:
            self.late_count += 1
            reason = (
                f"event time {_secs(t)} s is behind the watermark {_secs(self.watermark)} s "
                f"(window {_secs(self.window)} s)"
            )
            self._on_late(event, reason)
            return 0
        self._arrivals += 1
        heapq.heappush(self._heap, (t, self._arrivals, event))
        if t > self._max:
            self._max = t
        return self._release(self.watermark)

    def flush(self) -> int:
        """Release everything held, in event-time order (end of stream); return how many."""
        n = self._release(math.inf)
        if self._last > self._floor:
            self._floor = self._last
        return n

    def _release(self, limit: float) -> int:
        heap = self._heap
        n = 0
        while heap and heap[0][0] <= limit:
            t, _, event = heapq.heappop(heap)
            self._last = t
            self.released += 1
            n += 1
            self._on_emit(event)
        return n


# ----------------------------------------------------------------------------- sources


def late_topic(sim, topic: str) -> str:
    """The side topic for ``topic``'s late events (``<topic>.late``), created like ``topic`` if missing."""
    name = topic + LATE_SUFFIX
    if name not in sim.broker.topics:
        sim.create_topic(name, partitions=sim.topic(topic).partition_count)
    return name


class _Held(NamedTuple):
    time: float
    message: object
    event: Event


class _Partition:
    """One partition's buffer in one instance, and the offsets it still holds."""

    __slots__ = ("buffer", "ready", "held", "done", "last_offset", "last_arrival")

    def __init__(self, window: float, on_late):
        self.ready: deque = deque()
        self.buffer = ReorderBuffer(window, self.ready.append, on_late)
        self.held: list = []  # heap of offsets pushed into the buffer
        self.done: set = set()  # offsets that left the buffer while a lower one is still held
        self.last_offset = -1
        self.last_arrival = 0.0

    def release(self, offset: int) -> None:
        self.done.add(offset)
        held, done = self.held, self.done
        while held and held[0] in done:
            done.discard(heapq.heappop(held))

    def next_to_commit(self) -> int:
        return self.held[0] if self.held else self.last_offset + 1


class InstanceReorder:
    """The reorder policy inside one :class:`~eda_sim.services.service.ServiceInstance` (``Service(reorder=...)``).

    It replaces the body of the instance's poll loop (see :meth:`step`):
    records are decoded and pushed into their partition's buffer; released
    events go through the instance's usual handling (inbox, schemas, retries,
    dead letters, spans); late ones go to ``<topic>.late``; offsets are stored
    so that a commit never passes an event still held.
    """

    def __init__(self, instance, window):
        if isinstance(window, ReorderBuffer):
            window = window.window
        try:
            self.window = _check_window(window)
        except TypeError:
            raise TypeError(
                f"{instance.service.name}: reorder must be a window in virtual seconds (e.g. "
                f"reorder=2.0), got {type(window).__name__} {window!r}"
            ) from None
        self.instance = instance
        self._parts: dict = {}
        self._member = None
        for topic in instance.service.topics:
            late_topic(instance.service.sim, topic)

    def step(self, msgs):
        """One turn of the poll loop: push what was polled, flush quiet partitions, commit by policy."""
        inst = self.instance
        consumer = inst.consumer
        self._forget_lost(consumer)
        batch = bool(msgs) and msgs[0].error() is None
        if batch:
            if inst.commit == "before":
                for m in msgs:
                    consumer.store_offsets(m)
                inst.commit_stored()
                inst.committed_batch = msgs
            for m in msgs:
                yield from self._push(m)
            inst.committed_batch = None
        flushed = yield from self._flush_quiet()
        if (batch or flushed) and inst.commit == "after":
            inst.commit_stored()

    def held(self, tp: tuple | None = None) -> list:
        """(topic, partition, offset) of the records in this instance's buffers (or ``tp``'s), not yet handled."""
        parts = sorted(self._parts.items()) if tp is None else [(tp, self._parts[tp])]
        return [(t, p, o) for (t, p), part in parts for o in part.held if o not in part.done]

    def _forget_lost(self, consumer) -> None:
        # A new member id (after a crash or an eviction) or a revoked partition: the group will
        # deliver the held events again from the committed offset, so the buffers start over.
        # With commit="before" the held events were committed already: nobody will deliver them
        # again, so dropping them loses them (at-most-once), and reconcile() counts them as lost.
        inst = self.instance
        if consumer.member_id != self._member:
            if inst.commit == "before":
                inst.service.at_risk.update(self.held())
            self._member = consumer.member_id
            self._parts.clear()
            return
        owned = set(consumer.owned_partitions)
        for tp in [tp for tp in self._parts if tp not in owned]:
            if inst.commit == "before":
                inst.service.at_risk.update(self.held(tp))
            del self._parts[tp]

    def _push(self, m):
        inst = self.instance
        offset = m._offset  # hot path: per record, the field without a method call
        tp = (m._topic, m._partition)  # hot path
        part = self._parts.get(tp)
        if part is None or offset <= part.last_offset:  # new, or rewound by a rebalance: start over
            part = self._parts[tp] = _Partition(self.window, self._late)
        part.last_offset = offset
        part.last_arrival = inst.sim.now
        try:
            event = Event.from_json(m.value())
        except Exception:  # noqa: BLE001 - no event time to order by: dead-lettered as malformed now
            yield from inst.handle_record(m)
        else:
            heapq.heappush(part.held, offset)
            part.buffer.push(_Held(event.time, m, event))
            yield from self._handle_ready(part)
        self._store(tp, part)

    def _handle_ready(self, part):
        inst = self.instance
        while part.ready:
            held = part.ready.popleft()
            yield from inst.handle_record(held.message)
            part.release(held.message._offset)  # hot path: per record

    def _flush_quiet(self):
        now = self.instance.sim.now
        flushed = False
        for tp in sorted(self._parts):
            part = self._parts.get(tp)
            if part is None or not part.buffer.pending or now - part.last_arrival < self.window:
                continue
            part.buffer.flush()
            yield from self._handle_ready(part)
            self._store(tp, part)
            flushed = True
        return flushed

    def _store(self, tp, part) -> None:
        consumer = self.instance.consumer
        if self.instance.commit == "before" or tp not in consumer._assignment:  # hot path
            return  # a partition revoked meanwhile: its new owner starts from the committed offset
        consumer.store_offsets(offsets=[TopicPartition(tp[0], tp[1], part.next_to_commit())])

    def _late(self, held: _Held, reason: str) -> None:
        from eda_sim.services.service import Span

        inst = self.instance
        svc = inst.service
        sim = inst.sim
        m, event = held.message, held.event
        part = self._parts.get((m.topic(), m.partition()))
        inbox = svc.inbox
        if inbox is not None and event.id in inbox:
            # Settled by an earlier delivery: one outcome per event, not a late copy as well.
            inst.settle_duplicate(m, event, "", "", m.time(), sim.now, 0)
            if part is not None:
                part.release(m.offset())
            return
        target = late_topic(sim, m.topic())
        partition = m.partition() if m.partition() < sim.topic(target).partition_count else -1
        headers = list(m.headers() or []) + [(H_LATE_REASON, reason)]
        try:
            svc.producer.produce(
                target,
                value=m.value(),
                key=m.key(),
                headers=headers,
                partition=partition,
                timestamp=m.timestamp()[1],
            )
        except KafkaException as err:
            if err.error.name() != "MSG_SIZE_TOO_LARGE":
                raise
            # With the late-reason header the record is over message.max.bytes: it goes aside
            # without its value, as a too-large dead letter does (H_VALUE_DROPPED says so).
            size = len(m.value() or b"")
            headers.append((H_VALUE_DROPPED, f"{size} bytes: too large to send aside whole"))
            svc.producer.produce(
                target,
                value=None,
                key=m.key(),
                headers=headers,
                partition=partition,
                timestamp=m.timestamp()[1],
            )
        sim.journal.write(
            "late",
            inst.consumer.member_id or inst.name,
            svc.name,
            m.topic(),
            m.partition(),
            m.offset(),
            1,
            f"{event.type} {event.id}: {reason} -> {target}",
        )
        sim.spans.append(
            Span(
                svc.name,
                inst.name,
                event.id,
                event.type,
                event.correlation_id,
                event.causation_id or "",
                m.topic(),
                m.partition(),
                m.offset(),
                m.time(),
                sim.now,
                sim.now,
                "late",
                0,
                reason,
            )
        )
        if inbox is not None:
            inbox.add(event.id, sim.now, inst.name, "late")
        if part is not None:
            part.release(m.offset())


def late_events(sim, topic: str):
    """The late events of ``topic`` (or of the side topic named directly) as a DataFrame, with the reason."""
    import pandas as pd

    name = topic if topic.endswith(LATE_SUFFIX) else topic + LATE_SUFFIX
    if name not in sim.broker.topics:
        known = ", ".join(sorted(t for t in sim.broker.topics if t.endswith(LATE_SUFFIX))) or "none"
        raise ValueError(
            f"no late-event topic {name!r}: only services with reorder=... make one; late topics: {known}"
        )
    rows = []
    for log in sim.topic(name).partitions:
        for r in log.records():
            reason = next(
                (
                    v.decode() if isinstance(v, bytes) else v
                    for k, v in r.headers or ()
                    if k == H_LATE_REASON
                ),
                None,
            )
            try:
                ev = Event.from_json(r.value)
                eid, etype, etime = ev.id, ev.type, ev.time
            except (ValueError, TypeError, UnicodeDecodeError):
                eid, etype, etime = None, None, math.nan
            rows.append(
                {
                    "partition": r.partition,
                    "offset": r.offset,
                    "key": r.key.decode(errors="replace") if r.key is not None else None,
                    "event_id": eid,
                    "type": etype,
                    "event_time": etime,
                    "arrived": r.timestamp,
                    "reason": reason,
                }
            )
    return pd.DataFrame(
        rows,
        columns=[
            "partition",
            "offset",
            "key",
            "event_id",
            "type",
            "event_time",
            "arrived",
            "reason",
        ],
    )


# ------------------------------------------------------------------ looking at a log

PAIR_COLUMNS = [
    "key",
    "first_partition",
    "first_offset",
    "first_time",
    "second_partition",
    "second_offset",
    "second_time",
]


def _key_order(k):
    return (k is None, str(k))


def _append_ranks(sim, topic: str, partitions: int):
    """Per partition, sorted (first offset, journal seq) of the broker's appends, or None without a journal."""
    if not sim.journal.enabled:
        return None
    runs = [[] for _ in range(partitions)]
    for r in sim.journal:
        if r.kind == "appended" and r.topic == topic:
            runs[r.partition].append((r.offset, r.seq))
    return [sorted(rs) for rs in runs]


def _delivery_ranks(sim, topic: str, group: str) -> dict:
    """(partition, offset) -> journal seq of the first time ``group`` had the record delivered."""
    if not sim.journal.enabled:
        raise ValueError(
            "group= orders records by the journal's 'delivered' rows, and this simulation's journal "
            "is off (Simulation(journal=False)); leave group=None to use append order"
        )
    if group not in sim.groups:
        raise ValueError(
            f"unknown group {group!r}; groups are: {', '.join(sorted(sim.groups)) or 'none yet'}"
        )
    first: dict = {}
    for r in sim.journal:
        if r.kind == "delivered" and r.topic == topic and r.group == group:
            for o in range(r.offset, r.offset + r.count):
                first.setdefault((r.partition, o), r.seq)
    return first


def _read(value, key: str | None, time_field: str | None):
    """(payload-ish dict, event time or None) of a record value, or None if it cannot be read."""
    try:
        ev = Event.from_json(value)
        body, t = ev.payload, ev.time
    except (ValueError, TypeError, UnicodeDecodeError):
        try:
            body = json.loads(value) if value is not None else None
        except (ValueError, UnicodeDecodeError):
            return None
        if not isinstance(body, dict):
            return None
        t = body.get("time") if time_field is None else None
    if time_field is not None:
        t = body.get(time_field)
    if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t):
        return None
    return body, float(t)


def _ordered_records(
    sim, topic: str, key: str | None, time_field: str | None, group: str | None = None
):
    """Readable records as [rank, timestamp, partition, offset, group key, event time], in order; and counts."""
    t = sim.topic(topic)
    if group is not None:
        delivered = _delivery_ranks(sim, topic, group)
        ranks = None
    else:
        delivered = None
        ranks = _append_ranks(sim, topic, t.partition_count)
    rows, unreadable, undelivered = [], 0, 0
    for log in t.partitions:
        for r in log.records():
            got = _read(r.value, key, time_field)
            if got is None:
                unreadable += 1
                continue
            body, when = got
            if key is None:
                k = r.key.decode(errors="replace") if r.key is not None else None
            else:
                k = body.get(key)
                k = k if k is None or isinstance(k, (str, int, float, bool)) else str(k)
            rank = None
            if delivered is not None:
                rank = delivered.get((r.partition, r.offset))
                if rank is None:
                    undelivered += 1
                    continue
            elif ranks is not None:
                runs = ranks[r.partition]
                i = bisect.bisect_right(runs, (r.offset, math.inf)) - 1
                rank = runs[i][1] if i >= 0 else None
            rows.append([rank, r.timestamp, r.partition, r.offset, k, when])
    if any(
        row[0] is None for row in rows
    ):  # no journal (or part of it off): fall back to create time
        rows.sort(key=lambda row: (row[1], row[2], row[3]))
    else:
        rows.sort(key=lambda row: (row[0], row[3]))
    return rows, unreadable, undelivered


def _check_fields(key, time_field) -> None:
    if key is not None and (not isinstance(key, str) or not key):
        raise ValueError(
            f"key must be a payload field name (str) or None for the record key, got {key!r}"
        )
    if time_field is not None and (not isinstance(time_field, str) or not time_field):
        raise ValueError(
            f"time_field must be a payload field name (str) or None for the event time, "
            f"got {time_field!r}"
        )


def _pairs(rows) -> list:
    groups: dict = {}
    for row in rows:
        groups.setdefault(row[4], []).append(row)
    pairs = []
    for k in sorted(groups, key=_key_order):
        top = None  # the earlier record with the latest event time
        for row in groups[k]:
            if top is not None and row[5] < top[5]:
                pairs.append((k, top[2], top[3], top[5], row[2], row[3], row[5]))
            if top is None or row[5] > top[5]:
                top = row
    return pairs


def out_of_order_pairs(
    sim,
    topic: str,
    key: str | None = None,
    time_field: str | None = None,
    *,
    group: str | None = None,
):
    """Pairs of records of one key where the later record happened earlier, as a DataFrame.

    Records are grouped by their record key, or by the payload field ``key``
    when given (e.g. ``key="user_id"`` for unkeyed records). Within a group,
    records are taken in log order within a partition and in append order
    across partitions (the journal's ``appended`` rows; record timestamps when
    the journal is off); with ``group``, in the order that consumer group had
    them delivered (first delivery; records it has not seen yet are left out
    and counted in ``frame.attrs["undelivered"]``). A consumer reading several
    partitions interleaves them, so one user's unkeyed events can reach it
    out of order even when the log looks tidy. The event time is the event's
    ``time``, or the payload field ``time_field``. A record is out of order when some earlier
    record of its group has a later event time; it is paired with the earlier
    record it is furthest behind (the first such one on ties), so each
    out-of-order record appears once.

    Columns: key, first_partition, first_offset, first_time, second_partition,
    second_offset, second_time. ``frame.attrs["unreadable"]`` counts records
    with no readable event time (malformed values), which are left out.
    """
    _check_fields(key, time_field)
    import pandas as pd

    rows, unreadable, undelivered = _ordered_records(sim, topic, key, time_field, group)
    frame = pd.DataFrame(_pairs(rows), columns=PAIR_COLUMNS)
    frame.attrs["unreadable"] = unreadable
    if group is not None:
        frame.attrs["undelivered"] = undelivered
    return frame


def ordering_report(
    sim,
    topic: str,
    key: str | None = None,
    time_field: str | None = None,
    *,
    group: str | None = None,
):
    """Per key: how many records, over how many partitions, how many out of order, and by how much at most.

    Arguments as for :func:`out_of_order_pairs`.

    Columns: key, records, partitions, out_of_order, max_behind (seconds of
    event time the worst out-of-order record is behind, 0.0 when none).
    """
    import pandas as pd

    _check_fields(key, time_field)
    rows, _, _ = _ordered_records(sim, topic, key, time_field, group)
    stats: dict = {}
    for row in rows:
        s = stats.setdefault(row[4], [0, set()])
        s[0] += 1
        s[1].add(row[2])
    bad: dict = {}
    for k, _p1, _o1, first, _p2, _o2, second in _pairs(rows):
        n, worst = bad.get(k, (0, 0.0))
        bad[k] = (n + 1, max(worst, first - second))
    out = [
        {
            "key": k,
            "records": stats[k][0],
            "partitions": len(stats[k][1]),
            "out_of_order": bad.get(k, (0, 0.0))[0],
            "max_behind": bad.get(k, (0, 0.0))[1],
        }
        for k in sorted(stats, key=_key_order)
    ]
    return pd.DataFrame(out, columns=["key", "records", "partitions", "out_of_order", "max_behind"])


def __getattr__(name):
    # DelayedSource moved to eda_sim.services.load with the other load generators.
    if name == "DelayedSource":
        from eda_sim.services.load import DelayedSource

        return DelayedSource
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
