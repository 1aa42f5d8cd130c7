"""Tracing: follow one request across services, hop by hop, from the events it caused.

Every event a :class:`~eda_sim.services.service.Source` or a service publishes carries
tracing headers (``event-id``, ``event-type``, ``correlation-id``,
``causation-id``; see :func:`eda_sim.services.service.event_headers`). All the events
one request caused share its correlation id (the id of the request's first
event, the *root*), and each names the event it was caused by. Read from the
topic logs and joined with the services' spans (``sim.spans``), they form the
request's causal tree: which event caused which, who published each, and for
each service that handled it how long it waited in the log (``queue_time``)
and how long the handling took (``processing_time``).

Example::

    from eda_sim.course.nb00.world import ai_flow

    sim = ai_flow(seed=1, until=10)     # the course's AI flow, run for 10 virtual seconds
    first = correlation_ids(sim)[0]     # the requests, in the order they started
    trace(sim, first)                   # one row per event and handling service
    where_stuck(sim, first)             # None, or the hop that failed or still waits

Decisions worth knowing:

* Dead-letter copies (records carrying ``kafka_dlt-original-topic``) are not
  events of their own: the event is the original record. Re-driven copies and
  a producer's retried duplicates are the same event too; a row shows the
  record its service actually handled, and ``deliveries`` counts how often the
  service was handed the event (more than 1: redelivered after a crash or a
  re-drive).
* For a service that finished an event more than once, the row shows its
  first successful handling, or else its latest attempt.
* A service whose only spans are ``skipped`` (it consumes the topic but has no
  handler for the type) passed the event by; it gets no row.
* Records removed by retention are still traced from the spans that handled
  them, with ``producer`` unknown ("").
"""

from __future__ import annotations

import bisect

from eda_sim.services.retries import H_OFFSET, H_PARTITION, H_TOPIC
from eda_sim.services.service import H_CAUSATION, H_CORRELATION, H_EVENT_ID, H_EVENT_TYPE

#: Columns of :func:`trace`, in order.
TRACE_COLUMNS = (
    "event_id",
    "type",
    "causation_id",
    "depth",
    "topic",
    "partition",
    "offset",
    "producer",
    "published_at",
    "service",
    "instance",
    "started",
    "finished",
    "queue_time",
    "processing_time",
    "outcome",
    "attempts",
    "deliveries",
    "error",
)

#: Columns of :func:`trace_edges`, in order.
EDGE_COLUMNS = (
    "parent",
    "child",
    "type",
    "topic",
    "producer",
    "parent_published_at",
    "child_published_at",
    "delay",
    "queue_time",
    "processing_time",
)

_FAILED = ("dead_lettered", "failed")


def _text(value) -> str:
    return (
        value.decode(errors="replace")
        if isinstance(value, bytes)
        else ("" if value is None else str(value))
    )


class _Copy:
    """One record of an event in a topic log (the original, a re-driven copy, or a dead-letter copy)."""

    __slots__ = (
        "event_id",
        "type",
        "correlation_id",
        "causation_id",
        "topic",
        "partition",
        "offset",
        "time",
        "origin",
    )

    def __init__(
        self, event_id, type, correlation_id, causation_id, topic, partition, offset, time, origin
    ):
        self.event_id = event_id
        self.type = type
        self.correlation_id = correlation_id
        self.causation_id = causation_id
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.time = time
        self.origin = origin  # (topic, partition, offset) a dead-letter copy came from, else None


def _copies(sim, correlation_id: str | None = None) -> list:
    """Every retained record that carries an event id (of one trace, if given), in topic, partition, offset order."""
    out = []
    topics = sim.broker.topics
    want = None if correlation_id is None else correlation_id.encode()
    for name in sorted(topics):
        for log in topics[name].partitions:
            for r in log.records():
                if not r.headers:
                    continue
                h = {}
                for k, v in r.headers:
                    if k not in h:
                        h[k] = v
                if want is not None and h.get(H_CORRELATION) != want:
                    continue
                eid = h.get(H_EVENT_ID)
                if eid is None:
                    continue
                origin = None
                if H_TOPIC in h:
                    origin = (
                        _text(h[H_TOPIC]),
                        int(_text(h.get(H_PARTITION)) or -1),
                        int(_text(h.get(H_OFFSET)) or -1),
                    )
                out.append(
                    _Copy(
                        _text(eid),
                        _text(h.get(H_EVENT_TYPE)),
                        _text(h.get(H_CORRELATION)),
                        _text(h.get(H_CAUSATION)),
                        r.topic,
                        r.partition,
                        r.offset,
                        r.timestamp,
                        origin,
                    )
                )
    return out


def correlation_ids(sim) -> list:
    """The correlation ids (one per request) seen in the topic logs and spans, in the order they started.

    A request starts when its first event was published; ties keep id order.
    """
    first: dict = {}
    for c in _copies(sim):
        if c.origin is None and c.correlation_id:
            t = first.get(c.correlation_id)
            if t is None or c.time < t:
                first[c.correlation_id] = c.time
    for s in sim.spans:
        if s.correlation_id:
            t = first.get(s.correlation_id)
            if t is None or s.produced < t:
                first[s.correlation_id] = s.produced
    return [cid for cid, _ in sorted(first.items(), key=lambda kv: (kv[1], kv[0]))]


def _unknown(sim, correlation_id) -> ValueError:
    known = sorted(correlation_ids(sim))
    if not known:
        return ValueError(
            f"unknown correlation id {correlation_id!r}; no traced events yet "
            "(publish with a Source or a Service, and run the simulation)"
        )
    shown = ", ".join(known[:5]) + (", ..." if len(known) > 5 else "")
    return ValueError(
        f"unknown correlation id {correlation_id!r}; {len(known)} exist, e.g. {shown}"
    )


def _producers(sim):
    """A lookup (topic, partition, offset) -> producer name, from the 'appended' journal rows."""
    runs: dict = {}
    for r in sim.journal:
        if r.kind == "appended":
            runs.setdefault((r.topic, r.partition), []).append((r.offset, r.count, r.detail))
    firsts = {tp: [x[0] for x in v] for tp, v in runs.items()}

    def lookup(topic, partition, offset, etype):
        v = runs.get((topic, partition))
        if v:
            i = bisect.bisect_right(firsts[(topic, partition)], offset) - 1
            if i >= 0 and offset < v[i][0] + v[i][1]:
                return v[i][2]
        # no journal (switched off) or the row is gone: the one declared producer of this type there, if unique
        who = sorted(w for w, t in sim.event_catalog.get(etype, ()) if t == topic)
        return who[0] if len(who) == 1 else ""

    return lookup


def _collect(sim, correlation_id):
    """The events and spans of one trace: (events by id, spans by id, dead-letter copies)."""
    if not isinstance(correlation_id, str):
        raise TypeError(
            f"correlation_id must be a str such as 'evt-000001', got {type(correlation_id).__name__}"
        )
    events: dict = {}
    dead: list = []
    for c in _copies(sim, correlation_id):
        if c.origin is not None:
            dead.append(c)
            continue
        e = events.get(c.event_id)
        if e is None or (c.time, c.topic, c.partition, c.offset) < (
            e.time,
            e.topic,
            e.partition,
            e.offset,
        ):
            events[c.event_id] = c
    spans: dict = {}
    for s in sim.spans:
        if s.correlation_id != correlation_id:
            continue
        spans.setdefault(s.event_id, []).append(s)
        if s.event_id not in events:  # its record was removed by retention: the span still tells
            events[s.event_id] = _Copy(
                s.event_id,
                s.event_type,
                s.correlation_id,
                s.causation_id,
                s.topic,
                s.partition,
                s.offset,
                s.produced,
                None,
            )
    if not events:
        raise _unknown(sim, correlation_id)
    return events, spans, dead


def _order(events: dict) -> list:
    """(event id, depth) in depth-first order from the root(s); children by publication time."""
    children: dict = {}
    roots = []
    for eid, e in events.items():
        parent = e.causation_id
        if parent and parent in events and parent != eid:
            children.setdefault(parent, []).append(eid)
        else:
            roots.append(eid)

    def when(eid):
        e = events[eid]
        return (e.time, eid)

    out = []
    # The true root (no parent) first; events whose parent is not in the logs follow, with unknown depth.
    roots.sort(key=lambda eid: (bool(events[eid].causation_id), when(eid)))
    seen = set()
    for root in roots:
        base = 0 if not events[root].causation_id else None
        stack = [(root, base)]
        while stack:
            eid, depth = stack.pop()
            if eid in seen:
                continue
            seen.add(eid)
            out.append((eid, depth))
            for child in sorted(children.get(eid, ()), key=when, reverse=True):
                stack.append((child, None if depth is None else depth + 1))
    return out


def _pick(spans: list):
    """The span that stands for a service's handling: the first successful one, else the latest."""
    for s in spans:
        if s.outcome == "handled":
            return s
    return spans[-1]


def _duration(later: float, earlier: float) -> float:
    """``later - earlier`` in seconds, rounded to the microsecond.

    Times are binary floats, so a plain difference carries noise a learner
    reads (0.087 prints as 0.08700000000000152); a microsecond is far below
    any hop time the course shows, so rounding there loses nothing a learner uses.
    """
    return round(float(later) - float(earlier), 6)


def trace(sim, correlation_id: str):
    """The causal tree of one request: one row per event and service that handled it.

    Columns (see ``TRACE_COLUMNS``): the event (``event_id``, ``type``,
    ``causation_id`` = its parent, ``depth`` from the root = 0, ``topic``,
    ``partition``, ``offset``, ``producer`` = the source or service that
    published it, ``published_at`` = the record's time), and the handling
    service's ``service``, ``instance``, ``started``, ``finished``,
    ``queue_time`` (started - published_at), ``processing_time`` (finished -
    started, retries' backoffs included), ``outcome``, ``attempts``,
    ``deliveries`` and ``error``. An event no service has handled (yet) has one
    row with the handling columns empty. Rows are in tree order: each event
    after its parent, siblings by publication time.

    ``ValueError`` for an unknown correlation id, naming some that exist.
    """
    import pandas as pd

    events, spans, _ = _collect(sim, correlation_id)
    producer = _producers(sim)
    rows = []
    for eid, depth in _order(events):
        e = events[eid]
        base = {
            "event_id": eid,
            "type": e.type,
            "causation_id": e.causation_id,
            "depth": depth,
            "topic": e.topic,
            "partition": e.partition,
            "offset": e.offset,
            "producer": producer(e.topic, e.partition, e.offset, e.type),
            "published_at": e.time,
        }
        by_service: dict = {}
        for s in spans.get(eid, ()):
            by_service.setdefault(s.service, []).append(s)
        handled = []
        for _svc, ss in by_service.items():
            real = [s for s in ss if s.outcome != "skipped"]
            if real:
                handled.append((_pick(real), len(ss)))
        if not handled:
            rows.append(base)
            continue
        handled.sort(key=lambda x: (x[0].started, x[0].service))
        for s, n in handled:
            rows.append(
                {
                    **base,
                    "topic": s.topic,
                    "partition": s.partition,
                    "offset": s.offset,
                    "published_at": s.produced,
                    "service": s.service,
                    "instance": s.instance,
                    "started": s.started,
                    "finished": s.finished,
                    "queue_time": _duration(s.started, s.produced),
                    "processing_time": _duration(s.finished, s.started),
                    "outcome": s.outcome,
                    "attempts": s.attempts,
                    "deliveries": n,
                    "error": s.error,
                }
            )
    frame = pd.DataFrame(rows, columns=list(TRACE_COLUMNS))
    frame["depth"] = frame["depth"].astype("Int64")
    for col in ("attempts", "deliveries"):
        frame[col] = frame[col].astype("Int64")
    return frame


def trace_edges(frame):
    """Parent -> child pairs of a :func:`trace` frame, with the hop's timings: data for a tree picture.

    One row per caused event: ``parent``, ``child``, the child's ``type``,
    ``topic`` and ``producer``, both publication times, ``delay`` (child
    published - parent published), and the producing service's ``queue_time``
    and ``processing_time`` on the parent (NaN when the producer's handling of
    the parent is not in the frame).
    """
    import pandas as pd

    missing = [
        c
        for c in ("event_id", "causation_id", "published_at", "producer", "service")
        if c not in frame
    ]
    if missing:
        raise ValueError(
            f"trace_edges expects a trace(sim, correlation_id) frame; missing columns: {', '.join(missing)}"
        )
    first = frame.drop_duplicates("event_id").set_index("event_id")
    handling = {
        (r.event_id, r.service): (r.queue_time, r.processing_time)
        for r in frame.itertuples(index=False)
        if isinstance(r.service, str)
    }
    rows = []
    for eid, r in first.iterrows():
        parent = r["causation_id"]
        if not parent or parent not in first.index:
            continue
        p = first.loc[parent]
        q, pt = handling.get((parent, r["producer"]), (float("nan"), float("nan")))
        rows.append(
            {
                "parent": parent,
                "child": eid,
                "type": r["type"],
                "topic": r["topic"],
                "producer": r["producer"],
                "parent_published_at": p["published_at"],
                "child_published_at": r["published_at"],
                "delay": _duration(r["published_at"], p["published_at"]),
                "queue_time": q,
                "processing_time": pt,
            }
        )
    return pd.DataFrame(rows, columns=list(EDGE_COLUMNS))


def _expected(sim, topic: str, etype: str) -> list:
    """The services that should handle an event of ``etype`` in ``topic``: they consume it and have a handler."""
    return [
        name
        for name in sorted(sim.services)
        if topic in sim.services[name].topics and etype in sim.services[name].handlers
    ]


def _why_waiting(sim, svc_name: str, e, now: float) -> str:
    """Why ``svc_name`` has not finished the event ``e`` yet, from the group's state and the journal."""
    svc = sim.services[svc_name]
    tp = (e.topic, e.partition)
    where = f"{e.topic}-{e.partition}@{e.offset}"
    head = f"{svc_name} has not finished {e.event_id} ({e.type}) in {where}, published {now - e.time:.3g} s ago"
    for r in reversed(sim.journal.rows("retry_scheduled")):
        if r.group == svc_name and (r.topic, r.partition, r.offset) == (
            e.topic,
            e.partition,
            e.offset,
        ):
            return f"{head}: being retried after {r.detail}"
    running = any(i.alive for i in svc.instances)
    none_running = "" if running else f"; no instance of {svc_name} is running"
    group = sim.groups.get(svc_name)
    owner = group.owner.get(tp) if group is not None else None
    consumer = group.members.get(owner) if owner is not None else None
    if consumer is not None and consumer.crashed:
        timeout = consumer.config["session.timeout.ms"] / 1000.0
        return (
            f"{head}: {e.topic}-{e.partition} is still assigned to {owner}, which crashed; the group "
            f"reassigns it only after session.timeout.ms ({timeout:g} s) without heartbeats{none_running}"
        )
    if not running:
        return f"{head}: no instance of {svc_name} is running (crashed or stopped)"
    if owner is None:
        return f"{head}: {e.topic}-{e.partition} has no owner in group {svc_name} (waiting for a rebalance)"
    committed = group.committed.get(tp)
    end = sim.topic(e.topic).partitions[e.partition].log_end_offset
    ahead = max(e.offset - (committed if committed is not None else 0), 0)
    return (
        f"{head}: in progress or queued in {e.topic}-{e.partition} (owner {owner}); "
        f"{ahead} record(s) before it from the committed offset "
        f"{committed if committed is not None else '(none yet)'}, log end {end}"
    )


def where_stuck(sim, correlation_id: str) -> dict | None:
    """The hop where a request failed or still waits, with a reason; None if every hop finished.

    A *failed* hop is an event a service dead-lettered or gave up on (and never
    handled later, e.g. after a re-drive). A *waiting* hop is an event in a log
    that a service subscribed to its topic, with a handler for its type, has
    not finished: being retried, queued behind other records, or on a
    partition still owned by a crashed instance. A *lost* hop is an event a
    service committed before handling it (``commit="before"``, at-most-once)
    and dropped when its instance crashed or left: the group will not deliver
    it again. The earliest failure wins, then the earliest waiting or lost event.

    The dict has ``state`` ("failed", "waiting" or "lost"), ``correlation_id``,
    ``event_id``, ``type``, ``topic``, ``partition``, ``offset``, ``service``,
    ``since`` (when it failed, or was published), ``dead_letter_topic`` (or
    None) and ``reason``.
    """
    events, spans, dead = _collect(sim, correlation_id)
    failed = []
    for eid, ss in spans.items():  # noqa: B007
        by_service: dict = {}
        for s in ss:
            by_service.setdefault(s.service, []).append(s)
        for svc, group in by_service.items():  # noqa: B007
            s = _pick(group)
            if s.outcome in _FAILED:
                failed.append(s)
    if failed:
        s = min(failed, key=lambda s: (s.finished, s.event_id, s.service))
        dlt = None
        for c in dead:
            if c.origin == (s.topic, s.partition, s.offset):
                dlt = c.topic
                break
        what = "dead-lettered" if s.outcome == "dead_lettered" else "gave up on"
        reason = (
            f"{s.service} {what} {s.event_id} ({s.event_type}) from {s.topic}-{s.partition}@{s.offset} "
            f"after {s.attempts} attempt(s): {s.error}"
            + (f"; the event is in {dlt}" if dlt else "")
        )
        return {
            "state": "failed",
            "correlation_id": correlation_id,
            "event_id": s.event_id,
            "type": s.event_type,
            "topic": s.topic,
            "partition": s.partition,
            "offset": s.offset,
            "service": s.service,
            "since": s.finished,
            "dead_letter_topic": dlt,
            "reason": reason,
        }
    now = sim.now
    for eid, _ in sorted(((eid, e.time) for eid, e in events.items()), key=lambda x: (x[1], x[0])):
        e = events[eid]
        done = {s.service for s in spans.get(eid, ())}
        for svc in _expected(sim, e.topic, e.type):
            if svc not in done:
                if e.offset in sim.services[svc].dropped(e.topic, e.partition):
                    return {
                        "state": "lost",
                        "correlation_id": correlation_id,
                        "event_id": eid,
                        "type": e.type,
                        "topic": e.topic,
                        "partition": e.partition,
                        "offset": e.offset,
                        "service": svc,
                        "since": e.time,
                        "dead_letter_topic": None,
                        "reason": f"{svc} committed {e.topic}-{e.partition}@{e.offset} before handling it "
                        f"(commit='before', at-most-once) and the instance holding {eid} crashed or "
                        f"left; the group will not deliver it again",
                    }
                return {
                    "state": "waiting",
                    "correlation_id": correlation_id,
                    "event_id": eid,
                    "type": e.type,
                    "topic": e.topic,
                    "partition": e.partition,
                    "offset": e.offset,
                    "service": svc,
                    "since": e.time,
                    "dead_letter_topic": None,
                    "reason": _why_waiting(sim, svc, e, now),
                }
    return None
