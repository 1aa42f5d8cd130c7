"""Services: named consumers of events that react with handlers and publish new events.

This is the level the AI flows of the course are built at. A service

* consumes event types from topics as a consumer group named after it, with
  ``instances`` members (each a :class:`~eda_sim.services.members.Member` on the clock);
* has one handler per event type, ``handler(event, ctx)``, that may publish new
  events with ``ctx.emit(topic, type, payload, key=...)``; those carry the
  handled event's correlation id and its id as their causation id, without the
  handler doing anything;
* spends ``processing_time`` per event (seconds, or a function of the
  simulation's random generator);
* opts into policies: ``retry`` (:class:`~eda_sim.services.retries.Retry`) with a
  dead-letter topic, ``idempotent`` (an :class:`~eda_sim.services.idempotency.Inbox`),
  ``schemas`` (reader schemas per event type: unknown fields dropped, defaults
  filled, invalid events dead-lettered), ``value_deserializer`` (records in
  Confluent's wire format, read with a schema registry deserializer; a record
  that does not deserialize is dead-lettered with the reason), ``reorder`` (a
  :class:`~eda_sim.services.ordering.ReorderBuffer` window) and ``max_in_flight``
  (records taken per poll: backpressure).

Each event handled leaves a span in ``sim.spans`` (who, when it started and
finished, how it ended), from which traces and latency metrics are drawn.

Example::

    sim = Simulation(seed=1)
    sim.create_topic("views", partitions=3)
    sim.create_topic("recommendations", partitions=3)
    source = Source(sim, "frontend", "views", [
        {"time": 0.5, "type": "UserViewedProduct", "user_id": "u1", "product_id": "p9"}], key="user_id")

    def recommend(event, ctx):
        ctx.emit("recommendations", "RecommendationGenerated",
                 {"user_id": event.payload["user_id"], "items": ["p3", "p4"]}, key=event.key)

    svc = Service(sim, "recommender", consumes=["views"], handlers={"UserViewedProduct": recommend},
                  produces={"recommendations": ["RecommendationGenerated"]}, retry=Retry(attempts=3))
    sim.run(until=5)
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterable
from typing import TYPE_CHECKING, Any

import simpy

from eda_sim.core.checks import count, seconds
from eda_sim.core.errors import KafkaException
from eda_sim.core.spans import OUTCOMES, Span  # noqa: F401 - Span and OUTCOMES are part of this module's vocabulary
from eda_sim.services.events import Event
from eda_sim.services.idempotency import Inbox
from eda_sim.services.members import Member, processing_seconds
from eda_sim.services.retries import NO_RETRY, Retry, dead_letter

if TYPE_CHECKING:
    import pandas as pd

    from eda_sim.core.simulation import Simulation
    from eda_sim.kafka.message import Message
    from eda_sim.kafka.producer import Producer

#: Headers every published event carries, so tracing works without parsing values.
H_EVENT_ID = "event-id"
H_EVENT_TYPE = "event-type"
H_CORRELATION = "correlation-id"
H_CAUSATION = "causation-id"
H_SCHEMA_VERSION = "schema-version"


def event_headers(event: Event) -> list:
    """The headers a published event carries: id, type, correlation, causation, schema version."""
    return [
        (H_EVENT_ID, event.id),
        (H_EVENT_TYPE, event.type),
        (H_CORRELATION, event.correlation_id),
        (H_CAUSATION, event.causation_id or ""),
        (H_SCHEMA_VERSION, str(event.schema_version)),
    ]


def publish(
    producer: Producer,
    topic: str,
    event: Event,
    partition: int = -1,
    serializer: Callable | None = None,
) -> None:
    """Produce ``event`` to ``topic``, keyed by ``event.key``, with tracing headers.

    The value is the event as JSON, or, with a ``serializer`` (a schema registry serializer such
    as ``JSONSerializer`` or ``AvroSerializer``), the event's payload in Confluent's wire format;
    the event's id, type and trace then travel only in the headers.
    """
    headers = event_headers(event)
    if serializer is None:
        value = event.to_json()
    else:
        from eda_sim.kafka.schema_registry import MessageField, SerializationContext

        value = serializer(
            event.payload.thaw(), SerializationContext(topic, MessageField.VALUE, headers)
        )
    producer.produce(
        topic,
        value=value,
        key=event.key,
        headers=headers,
        partition=partition,
    )


def _header_text(headers, name: str) -> str | None:
    for k, v in headers or ():
        if k == name:
            return v.decode() if isinstance(v, (bytes, bytearray)) else v
    return None


def event_from_record(message: Message, deserializer: Callable) -> Event:
    """The event a record carries when its value is a payload in Confluent's wire format.

    ``deserializer`` (e.g. ``JSONDeserializer`` or ``AvroDeserializer``) reads the payload; the
    event's id, type and trace come from the headers :func:`publish` writes. Raises the
    deserializer's ``SerializationError``, or ``ValueError`` when the headers lack the event type.
    """
    from eda_sim.kafka.schema_registry import MessageField, SerializationContext

    headers = message.headers()
    ctx = SerializationContext(message.topic(), MessageField.VALUE, headers)
    payload = deserializer(message.value(), ctx)
    etype = _header_text(headers, H_EVENT_TYPE)
    if not etype:
        raise ValueError(f"record has no {H_EVENT_TYPE!r} header, so its event type is unknown")
    if not isinstance(payload, dict):
        raise ValueError(f"the deserialized value is a {type(payload).__name__}, not an object")
    key = message.key()
    eid = (
        _header_text(headers, H_EVENT_ID)
        or f"{message.topic()}-{message.partition()}-{message.offset()}"
    )
    return Event.create(
        etype,
        payload,
        key=key.decode() if isinstance(key, (bytes, bytearray)) else key,
        time=message.time(),
        id=eid,
        correlation_id=_header_text(headers, H_CORRELATION) or eid,
        causation_id=_header_text(headers, H_CAUSATION) or None,
        schema_version=int(_header_text(headers, H_SCHEMA_VERSION) or 1),
    )


def new_event(
    sim: Simulation,
    type: str,
    payload: dict,
    *,
    key: str | None = None,
    parent: Event | None = None,
    schema_version: int = 1,
    id: str | None = None,
) -> Event:
    """An event stamped now with a deterministic id; with ``parent``, it continues the parent's trace."""
    eid = id or f"evt-{sim.next_number('event'):06d}"
    correlation = parent.correlation_id if parent is not None else eid
    return Event.create(
        type,
        payload,
        key=key,
        time=sim.now,
        id=eid,
        correlation_id=correlation,
        causation_id=parent.id if parent is not None else None,
        schema_version=schema_version,
    )


def declare_event_types(sim: Simulation, topic: str, types: Iterable[str], who: str) -> None:
    """Record in ``sim.event_catalog`` that ``who`` writes events of ``types`` to ``topic`` (the flow picture reads it)."""
    catalog = sim.event_catalog
    for t in types:
        if not isinstance(t, str) or not t:
            raise ValueError(f"{who}: event types must be non-empty strings, got {t!r}")
        catalog.setdefault(t, set()).add((who, topic))


class Context:
    """What a handler gets besides the event: the clock, the service, and ``emit``."""

    __slots__ = ("sim", "service", "instance", "event", "attempt", "_out")

    def __init__(
        self,
        sim: Simulation,
        service: Service,
        instance: ServiceInstance,
        event: Event,
        attempt: int,
    ) -> None:
        self.sim = sim
        self.service = service
        self.instance = instance
        self.event = event
        self.attempt = attempt
        self._out = []

    @property
    def now(self) -> float:
        """The virtual time."""
        return self.sim.now

    def emit(
        self, topic: str, type: str, payload: dict, key: str | None = None, schema_version: int = 1
    ) -> Event:
        """Publish a new event caused by the one being handled (sent when the handler succeeds).

        Its id is derived from the handled event's id, this service and the
        emit's position (``<parent id>/<service>/<n>``), so when the handled
        event is delivered again after a crash, the same ids go out again and
        an idempotent consumer downstream can drop the copies.
        """
        if topic not in self.sim.broker.topics:
            self.sim.topic(topic)  # raises, naming the topics that exist
        ev = new_event(
            self.sim,
            type,
            payload,
            key=key if key is not None else self.event.key,
            parent=self.event,
            schema_version=schema_version,
            id=f"{self.event.id}/{self.service.name}/{len(self._out) + 1}",
        )
        self._out.append((topic, ev))
        return ev


class Service:
    """A named service: a consumer group with handlers per event type and opt-in policies."""

    def __init__(
        self,
        sim: Simulation,
        name: str,
        *,
        consumes: str | list[str],
        handlers: dict,
        produces: dict | None = None,
        instances: int = 1,
        processing_time: float | Callable = 0.01,
        retry: Retry | None = None,
        dead_letter: bool | str = True,
        idempotent: bool = False,
        schemas: dict | None = None,
        reorder: float | None = None,
        max_in_flight: int = 100,
        commit: str = "after",
        config: dict | None = None,
        poll_timeout: float = 0.1,
        value_deserializer: Callable | None = None,
    ) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError(f"a service needs a non-empty name, got {name!r}")
        topics = [consumes] if isinstance(consumes, str) else list(consumes)
        for t in topics:
            sim.topic(t)
        if not isinstance(handlers, dict) or not handlers:
            raise ValueError(
                f"{name}: handlers must be a dict of event type -> function(event, ctx)"
            )
        catalog = sim.event_catalog
        for etype, fn in handlers.items():
            if not callable(fn):
                raise TypeError(f"{name}: the handler for {etype!r} is not callable")
            if catalog and etype not in catalog:
                raise ValueError(
                    f"{name} handles {etype!r}, but no source or service produces it; "
                    f"produced types: {', '.join(sorted(catalog))}"
                )
        count(instances, f"{name}: instances", low=1)
        count(max_in_flight, f"{name}: max_in_flight", low=1)
        if not callable(processing_time):
            seconds(processing_time, f"{name}: processing_time (or a function of a random.Random)")
        seconds(poll_timeout, f"{name}: poll_timeout", positive=True)
        if retry is not None and not isinstance(retry, Retry):
            raise TypeError(
                f"{name}: retry must be a Retry(...) policy, got {type(retry).__name__}"
            )
        self.sim = sim
        self.name = name
        self.topics = topics
        self.handlers = dict(handlers)
        self.retry = retry or NO_RETRY
        self.dead_letter = dead_letter
        self.inbox = Inbox(name) if idempotent else None
        # (topic, partition, offset) of records an instance committed before handling (commit="before")
        # and dropped unfinished: it crashed, left, or lost the partition while its reorder buffer held
        # them. At-most-once lost them unless someone reads them again; reconcile() counts them.
        self.at_risk: set = set()
        self.schemas = dict(schemas or {})
        if value_deserializer is not None and not callable(value_deserializer):
            raise TypeError(
                f"{name}: value_deserializer must be callable (value, ctx), e.g. a JSONDeserializer"
            )
        self.value_deserializer = value_deserializer
        self.reorder = reorder
        self.processing_time = processing_time
        self.max_in_flight = max_in_flight
        self.commit = commit
        self.poll_timeout = poll_timeout
        self._config = {"auto.offset.reset": "earliest", **(config or {})}
        self.producer = sim.producer({"client.id": name})
        for topic, types in (produces or {}).items():
            sim.topic(topic)
            declare_event_types(sim, topic, types, name)
        self.instances: list = []
        for _ in range(instances):
            self.add_instance()
        if name in sim.services:
            raise ValueError(
                f"a service called {name!r} exists already; services: {', '.join(sorted(sim.services))}"
            )
        sim.services[name] = self

    @property
    def consumer_config(self) -> dict:
        """The consumer configuration each instance starts from (a copy)."""
        return dict(self._config)

    def __repr__(self) -> str:
        alive = sum(1 for i in self.instances if i.alive)
        return f"<Service {self.name}: {alive}/{len(self.instances)} instances running>"

    def add_instance(self) -> ServiceInstance:
        """Start one more instance (group member)."""
        inst = ServiceInstance(self, f"{self.name}-{len(self.instances) + 1}")
        self.instances.append(inst)
        return inst

    def remove_instance(self) -> ServiceInstance | None:
        """Stop the newest running instance cleanly; it leaves the group after its current batch."""
        for inst in reversed(self.instances):
            if inst.alive and not inst.stopping:
                inst.stop()
                return inst
        return None

    @property
    def running(self) -> int:
        """How many instances are running and not stopping."""
        return sum(1 for i in self.instances if i.alive and not i.stopping)

    def dropped(self, topic: str, partition: int) -> set:
        """Offsets of ``topic``-``partition`` this service dropped under at-most-once, finished or not.

        Committed before handling (``commit="before"``), dropped unfinished by an
        instance that crashed, left or lost the partition, and still behind the
        group's committed offset, so nobody will read them again. Those no span
        finished are what :func:`reconcile` counts as ``lost``.
        """
        group = self.sim.groups.get(self.name)
        behind = group.committed.get((topic, partition), 0) if group is not None else 0
        return {o for (t, p, o) in self.at_risk if t == topic and p == partition and o < behind}


_decode = Event.from_json


class ServiceInstance(Member):
    """One member of a service's group: polls, handles each event with the policies, commits."""

    def __init__(self, service: Service, name: str):
        self.service = service
        self._reorder = None
        self.committed_batch = None  # with commit="before": the batch committed and not yet handled
        if (
            service.reorder is not None
        ):  # checked before the member exists: a bad window leaves no member behind
            from eda_sim.services.ordering import InstanceReorder

            self._reorder = InstanceReorder(self, service.reorder)
        super().__init__(
            service.sim,
            service.name,
            service.topics,
            name=name,
            processing_time=service.processing_time,
            commit=service.commit,
            max_poll_records=service.max_in_flight,
            poll_timeout=service.poll_timeout,
            config={**service.consumer_config, "enable.auto.offset.store": False},
        )

    # Each record waits on the clock once per try (its processing time) and between tries (the
    # backoff), with a timeout each: instances handle records concurrently and whatever their
    # handlers do (emit, write the journal, draw processing times from the shared generator,
    # fill the shared inbox) must interleave in time order with the other instances and the
    # broker. One timeout per run of records would move those effects to the end of the run.
    def _run(self):
        consumer = self.consumer
        try:
            while not self._stopping:
                msgs = yield from consumer.poll_in_process(self.max_poll_records, self.poll_timeout)
                if (
                    self._reorder is not None
                ):  # holds events back by event time and stores offsets itself
                    yield from self._reorder.step(msgs)
                    continue
                if not msgs or msgs[0].error() is not None:
                    continue
                if self.commit == "before":
                    for m in msgs:
                        consumer.store_offsets(m)
                    self.commit_stored()
                    self.committed_batch = msgs
                for m in msgs:
                    yield from self.handle_record(m)
                    # hot path: per record, what store_offsets(m) does without its checks
                    tp = (m._topic, m._partition)  # hot path
                    owned = tp in consumer._assignment  # hot path
                    if owned and not (consumer.crashed or consumer._closed):  # hot path
                        consumer._stored[tp] = m._offset + 1  # hot path
                    else:
                        try:
                            consumer.store_offsets(m)
                        except KafkaException:
                            pass  # revoked while we handled it: the new owner starts from the committed offset
                self.committed_batch = None
                if self.commit == "after":
                    self.commit_stored()
            if self._reorder is not None and self.commit == "before":
                self.service.at_risk.update(
                    self._reorder.held()
                )  # committed, still held, dropped on leaving
            consumer.close()
            self._process = None
        except simpy.Interrupt:
            if (
                self.commit == "before"
            ):  # everything polled was committed: what is not finished is at risk
                at_risk = self.service.at_risk
                if self.committed_batch is not None:
                    at_risk.update(
                        (m.topic(), m.partition(), m.offset()) for m in self.committed_batch
                    )
                if self._reorder is not None:
                    at_risk.update(self._reorder.held())
            self.committed_batch = None
            consumer.crash()
            self._process = None

    def handle_record(self, m: Message) -> Generator[simpy.Event, Any, None]:
        """Handle one record, a generator that yields a timeout per wait (the reorder policy uses it too)."""
        svc = self.service
        sim = self.sim
        env = sim.env
        # hot path: per record, simpy's clock and the message's fields without method calls
        started = env._now  # hot path
        rec = m._rec  # hot path
        topic, partition, offset = m._topic, m._partition, m._offset  # hot path
        produced = rec[0]
        try:
            if svc.value_deserializer is None:
                event = _decode(rec[2])
            else:
                event = event_from_record(m, svc.value_deserializer)
        except Exception as err:  # noqa: BLE001 - whatever a bad record raises, it is dead-lettered
            # a record that does not deserialize (bad JSON, wrong magic byte, unknown schema id,
            # payload invalid for its schema) goes to the dead-letter topic with the reason
            self._give_up(m, None, err, 0, started, produced)
            return
        cid = event.correlation_id
        cause = event.causation_id or ""
        handler = svc.handlers.get(event.type)
        if handler is None:
            self._span(event, cid, cause, m, produced, started, "skipped", 0, "")
            return
        inbox = svc.inbox
        if inbox is not None and event.id in inbox._index:  # hot path: per event
            self.settle_duplicate(m, event, cid, cause, produced, started, 0)
            return
        if svc.schemas:
            schema = svc.schemas.get(event.type)
            if schema is not None:
                from eda_sim.services.schemas import conform

                try:
                    event = Event.create(
                        event.type,
                        conform(event.payload.thaw(), schema),
                        key=event.key,
                        time=event.time,
                        id=event.id,
                        correlation_id=cid,
                        causation_id=cause or None,
                        schema_version=event.schema_version,
                        headers=event.headers,
                    )
                except Exception as err:  # noqa: BLE001 - a record the schema cannot read is malformed
                    self._give_up(m, event, err, 1, started, produced)
                    return
        attempt = 0
        pt = self.processing_time
        while True:
            attempt += 1
            wait = processing_seconds(pt, sim.random) if callable(pt) else pt
            if wait:
                yield env.timeout(wait)
            if inbox is not None and event.id in inbox._index:  # hot path: per event
                # Another instance finished the same event while this one worked on it (a rebalance
                # handed the partition over mid-batch). The inbox's insert and the side effect are
                # one transaction, so the unique constraint refuses it and nothing happens twice.
                self.settle_duplicate(m, event, cid, cause, produced, started, attempt - 1)
                return
            ctx = Context(sim, svc, self, event, attempt)
            try:
                handler(event, ctx)
            except Exception as err:  # noqa: BLE001 - a handler's failure is data here, not a crash
                retry = svc.retry
                if retry.is_permanent(err) or attempt >= retry.attempts:
                    self._give_up(m, event, err, attempt, started, produced)
                    return
                delay = retry.delay(attempt)
                sim.journal.write(
                    "retry_scheduled",
                    self.consumer.member_id or self.name,
                    svc.name,
                    topic,
                    partition,
                    offset,
                    1,
                    f"{type(err).__name__}: {err}; try {attempt + 1} in {delay:g} s",
                )
                if delay:
                    yield env.timeout(delay)
                continue
            break
        now = env._now  # hot path
        out = ctx._out  # hot path: per event, the events the handler emitted
        if out:
            try:
                for to, ev in out:
                    publish(svc.producer, to, ev)
            except (KafkaException, TypeError, ValueError) as err:
                # The broker or the client refused an emitted event (too large, topic deleted):
                # the handling did not complete, so the event is dead-lettered with the reason.
                # Events emitted before the refused one stay published (no transaction here).
                self._give_up(m, event, err, attempt, started, produced)
                return
        if inbox is not None:
            inbox.add(
                event.id, now, self.name
            )  # same instant as the handler's side effect: one transaction
        sim.journal.write(
            "handled",
            self.consumer.member_id or self.name,
            svc.name,
            topic,
            partition,
            offset,
            1,
            f"{event.type} {event.id} after {attempt} tries"
            if attempt > 1
            else f"{event.type} {event.id}",
        )
        sim.spans.append(
            (
                svc.name,
                self.name,
                event.id,
                event.type,
                cid,
                cause,
                topic,
                partition,
                offset,
                produced,
                started,
                now,
                "handled",
                attempt,
                "",
            )
        )

    def _give_up(self, m, event, err, attempts, started, produced) -> None:
        svc = self.service
        text = f"{type(err).__name__}: {err}"
        inbox = svc.inbox
        eid = event.id if event is not None else f"{m.topic()}-{m.partition()}@{m.offset()}"
        if inbox is not None and eid in inbox:
            # Settled by an earlier delivery (a redelivery after a crash or a rebalance): one
            # outcome per event, so an idempotent service does not dead-letter it a second time.
            self.settle_duplicate(m, event, "", "", produced, started, attempts, eid=eid)
            return
        if svc.dead_letter:
            name = svc.dead_letter if isinstance(svc.dead_letter, str) else None
            dead_letter(self.sim, svc.producer, m, err, attempts, svc.name, name)
            outcome = "dead_lettered"
        else:
            self.sim.journal.write(
                "failed",
                self.consumer.member_id or self.name,
                svc.name,
                m.topic(),
                m.partition(),
                m.offset(),
                1,
                f"{text}; no dead-letter topic: skipped",
            )
            outcome = "failed"
        if inbox is not None:
            inbox.add(eid, self.sim.now, self.name, outcome)
        if event is None:
            etype, cid, cause = "(malformed)", "", ""
            self.sim.spans.append(
                Span(
                    svc.name,
                    self.name,
                    eid,
                    etype,
                    cid,
                    cause,
                    m.topic(),
                    m.partition(),
                    m.offset(),
                    produced,
                    started,
                    self.sim.now,
                    outcome,
                    attempts,
                    text,
                )
            )
        else:
            self._span(
                event,
                event.correlation_id,
                event.causation_id or "",
                m,
                produced,
                started,
                outcome,
                attempts,
                text,
            )

    def settle_duplicate(
        self,
        m: Message,
        event: Event | None,
        cid: str,
        cause: str,
        produced: float,
        started: float,
        attempts: int,
        eid: str | None = None,
    ) -> None:
        """Account for an event the inbox has seen already: journal row and span, no effect."""
        svc = self.service
        svc.inbox.refused += 1
        eid = event.id if event is not None else eid
        etype = event.type if event is not None else "(malformed)"
        settled = svc.inbox.outcome(eid)
        self.sim.journal.write(
            "duplicate_skipped",
            self.consumer.member_id or self.name,
            svc.name,
            m.topic(),
            m.partition(),
            m.offset(),
            1,
            f"{etype} {eid} already in the inbox"
            + ("" if settled == "handled" else f" ({settled})"),
        )
        if event is None:
            self.sim.spans.append(
                Span(
                    svc.name,
                    self.name,
                    eid,
                    etype,
                    "",
                    "",
                    m.topic(),
                    m.partition(),
                    m.offset(),
                    produced,
                    started,
                    self.sim.now,
                    "duplicate",
                    attempts,
                    "",
                )
            )
            return
        if not cid:
            cid, cause = event.correlation_id, event.causation_id or ""
        self._span(event, cid, cause, m, produced, started, "duplicate", attempts, "")

    def _span(self, event, cid, cause, m, produced, started, outcome, attempts, error):
        self.sim.spans.append(
            Span(
                self.service.name,
                self.name,
                event.id,
                event.type,
                cid,
                cause,
                m.topic(),
                m.partition(),
                m.offset(),
                produced,
                started,
                self.sim.now,
                outcome,
                attempts,
                error,
            )
        )

    def commit_stored(self) -> None:
        """Commit the stored offsets now; a refusal is in the journal, not raised."""
        try:
            self.consumer.commit(asynchronous=False)
        except KafkaException:
            pass  # refused or nothing stored: the journal has the reason


def spans_frame(sim: Simulation, service: str | None = None) -> pd.DataFrame:
    """``sim.spans`` as a DataFrame (optionally one service's)."""
    import pandas as pd

    rows = [s for s in sim.spans if service is None or s.service == service]
    return pd.DataFrame(rows, columns=Span._fields)


def reconcile(sim: Simulation, service: str | Service) -> pd.DataFrame:
    """Account for every record in the topics a service consumes, at this instant.

    One row per topic: ``produced`` (records appended, retries' duplicates
    included), ``processed`` (offsets whose handling finished: handled,
    skipped as a duplicate or as not for this service), ``dead_lettered``
    (sent to the dead-letter topic, or failed without one), ``late`` (sent
    aside to ``<topic>.late`` by the reorder policy), ``in_flight`` (retained offsets not finished yet: being handled or waiting
    in the log), ``expired`` (removed by retention before they were finished),
    ``lost`` (committed before they were handled, by a service with
    ``commit="before"``, and never finished because the instance crashed:
    at-most-once delivery; Kafka will not hand them out again), and
    ``balanced``: produced = processed + dead_lettered + late + in_flight + expired + lost.

    Each offset counts once. Under at-least-once delivery a redelivered record
    can be handled again (that is the contract); one that a later delivery
    dead-letters or sends aside counts there, as its copy in that topic does.
    With ``idempotent=True`` each event ends exactly one way, whatever the
    redeliveries: handled, dead-lettered, late (or lost, with ``commit="before"``).
    """
    import pandas as pd

    svc = service if isinstance(service, Service) else sim.services.get(service)
    if svc is None:
        known = ", ".join(sorted(sim.services)) or "none"
        raise ValueError(f"unknown service {service!r}; services are: {known}")
    # (topic, partition, offset) -> how its handling ended, counted once: an offset handled by one
    # delivery and dead-lettered or sent aside by another (at-least-once, without idempotent=True)
    # counts where its copy went, so these counts agree with the dead-letter and late topics.
    rank = {"processed": 0, "late": 1, "dead_lettered": 2}
    finished: dict = {}
    for s in sim.spans:
        if s.service == svc.name:
            key = (s.topic, s.partition, s.offset)
            outcome = _SETTLED.get(s.outcome, "processed")
            if rank[outcome] >= rank[finished.get(key, "processed")]:
                finished[key] = outcome
    rows = []
    for name in svc.topics:
        counts = {
            "processed": 0,
            "dead_lettered": 0,
            "late": 0,
            "in_flight": 0,
            "expired": 0,
            "lost": 0,
        }
        produced = 0
        for log in sim.topic(name).partitions:
            produced += log.log_end_offset
            done_here = {k[2]: v for k, v in finished.items() if k[0] == name and k[1] == log.index}
            for _offset, outcome in done_here.items():
                counts[outcome] += 1
            lost = svc.dropped(name, log.index) - done_here.keys()
            counts["lost"] += len(lost)
            counts["expired"] += sum(
                1 for o in range(0, log.log_start_offset) if o not in done_here and o not in lost
            )
            counts["in_flight"] += sum(
                1
                for o in range(log.log_start_offset, log.log_end_offset)
                if o not in done_here and o not in lost
            )
        total = sum(counts.values())
        rows.append({"topic": name, "produced": produced, **counts, "balanced": produced == total})
    return pd.DataFrame(
        rows,
        columns=[
            "topic",
            "produced",
            "processed",
            "dead_lettered",
            "late",
            "in_flight",
            "expired",
            "lost",
            "balanced",
        ],
    )


#: How a span's outcome counts in :func:`reconcile`.
_SETTLED = {"dead_lettered": "dead_lettered", "failed": "dead_lettered", "late": "late"}


def events_frame(sim: Simulation, topic: str) -> pd.DataFrame:
    """The events in ``topic`` as a DataFrame: time, type, key, id, then one column per payload field.

    Records that are not valid events (malformed input) are left out; see the
    dead-letter topic for those.
    """
    import pandas as pd

    rows = []
    for log in sim.topic(topic).partitions:
        for r in log.records():
            try:
                e = Event.from_json(r.value)
            except (ValueError, TypeError):
                continue
            rows.append(
                {
                    "time": r.timestamp,
                    "partition": r.partition,
                    "offset": r.offset,
                    "type": e.type,
                    "key": e.key,
                    "id": e.id,
                    **e.payload.thaw(),
                }
            )
    frame = pd.DataFrame(rows)
    return (
        frame.sort_values(["time", "partition", "offset"], kind="stable").reset_index(drop=True)
        if rows
        else frame
    )


def decode(message: Message) -> Event:
    """Parse a consumed message's value as an :class:`Event` (``ValueError`` says what is wrong)."""
    return Event.from_json(message.value())


def __getattr__(name):
    # Source moved to eda_sim.services.load (every load generator in one module); this keeps
    # `from eda_sim.services.service import Source` working without a circular import.
    if name == "Source":
        from eda_sim.services.load import Source

        return Source
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
