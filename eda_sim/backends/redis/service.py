"""The service runner on Redis: :class:`RedisService` (retries, idempotency, dead letters, spans as on the simulator), ``run_service`` for a process, ``publish``."""

from __future__ import annotations

import json
import signal
import threading
import time

from eda_sim.backends.redis.admin import create_topic
from eda_sim.backends.redis.connection import (
    connection_errors,
    resolve_url,
    safe_url,
    transport_error,
)
from eda_sim.backends.redis.consumer import Consumer
from eda_sim.backends.redis.entries import RedisMessage, encode_headers, xadd_args
from eda_sim.backends.redis.keys import EPOCH_S, H_DELIVERIES, META_PREFIX, REDELIVER, stream_key
from eda_sim.backends.redis.producer import Producer
from eda_sim.core.errors import KafkaError, KafkaException
from eda_sim.kafka.message import (
    EPOCH_MS,
)
from eda_sim.kafka.partitioner import crc32_partition
from eda_sim.services.events import Event
from eda_sim.services.retries import (
    DLT_SUFFIX,
    NO_RETRY,
    Retry,
    dead_letter_headers,
)
from eda_sim.services.service import OUTCOMES, Span, event_headers

# ----------------------------------------------------------------------------- service layer


class MaxDeliveriesExceeded(Exception):
    """An entry was delivered ``max_deliveries`` times without being acknowledged (a poison pill)."""


# KEYS[1] inbox set, KEYS[2] source stream; ARGV[1] event id, ARGV[2] group, ARGV[3] entry id,
# ARGV[4] the side effects and emitted events as a JSON list of commands.
_IDEMPOTENT = """
local fresh = redis.call('SADD', KEYS[1], ARGV[1])
if fresh == 1 then
  local cmds = cjson.decode(ARGV[4])
  for i = 1, #cmds do
    local ok = redis.pcall(unpack(cmds[i]))
    if type(ok) == 'table' and ok.err then
      redis.call('SREM', KEYS[1], ARGV[1])
      return redis.error_reply('side effect ' .. i .. ' (' .. tostring(cmds[i][1]) .. ') failed: ' .. ok.err)
    end
  end
end
redis.call('XACK', KEYS[2], ARGV[2], ARGV[3])
return fresh
"""


def _scalar(value, what: str):
    if isinstance(value, bool) or not isinstance(value, (str, int, float, bytes)):
        raise TypeError(
            f"{what} must be str, int, float or bytes, got {type(value).__name__} {value!r}"
        )
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise TypeError(
                f"{what}: bytes must be UTF-8 text to travel in a side effect"
            ) from None
    return (
        value if isinstance(value, str) else repr(value) if isinstance(value, float) else str(value)
    )


class RedisContext:
    """What a handler gets besides the event, on Redis: ``emit``, ``effect``, the time, and the attempt.

    The same handler code as in :class:`eda_sim.services.service.Service` works:
    ``ctx.emit(topic, type, payload, key=...)`` publishes an event caused by
    the one being handled when the handler succeeds, with correlation and
    causation ids and the tracing headers. Emitted event ids are derived from
    the handled event's id (``<id>/<service>/<n>``), so a redelivered event
    emits the same ids and a downstream idempotent service drops the copies.

    Redis-only extras: ``ctx.effect(*command)`` queues a Redis command (e.g.
    ``ctx.effect("HINCRBY", "totals", key, 1)``) as a side effect that runs
    atomically with the emitted events and, under the idempotent policy,
    with the inbox insert and the acknowledgement; ``ctx.redis`` is the
    client, for reads; ``ctx.deliveries`` is the Redis delivery count.
    """

    __slots__ = (
        "service",
        "instance",
        "event",
        "attempt",
        "deliveries",
        "message",
        "redis",
        "_out",
        "_effects",
    )

    sim = None  # no simulation here; handlers that need the time use ctx.now

    def __init__(self, service, instance, event, attempt, message):
        self.service = service
        self.instance = instance
        self.event = event
        self.attempt = attempt
        self.deliveries = message.delivery_count()
        self.message = message
        self.redis = service._r
        self._out = []
        self._effects = []

    @property
    def now(self) -> float:
        """Wall-clock seconds since :data:`~eda_sim.core.clock.SIM_EPOCH` (real time, unlike the simulator)."""
        return max(0.0, time.time() - EPOCH_S)

    def emit(
        self, topic: str, type: str, payload: dict, key: str | None = None, schema_version: int = 1
    ) -> Event:
        """Publish a new event caused by the one being handled (sent when the handler succeeds)."""
        self.service._topics.get(topic)  # an unknown topic raises, naming the topics there are
        parent = self.event
        ev = Event.create(
            type,
            payload,
            key=key if key is not None else parent.key,
            time=self.now,
            id=f"{parent.id}/{self.service.name}/{len(self._out) + 1}",
            correlation_id=parent.correlation_id,
            causation_id=parent.id,
            schema_version=schema_version,
        )
        self._out.append((topic, ev))
        return ev

    def effect(self, command: str, *args) -> None:
        """Queue one Redis command as a side effect of handling this event (see the class doc)."""
        if not isinstance(command, str) or not command.strip():
            raise TypeError(
                f"effect() needs a Redis command name first, e.g. effect('HINCRBY', key, field, 1); "
                f"got {command!r}"
            )
        self._effects.append(
            [command] + [_scalar(a, f"effect argument {i + 1}") for i, a in enumerate(args)]
        )


class RedisService:
    """A named service on Redis: one group member with handlers per event type and opt-in policies.

    Construct it in the process that runs it, then call :meth:`run`;
    :func:`run_service` does both and is what a ``multiprocessing`` target or
    a script calls. Parameters as :class:`eda_sim.services.service.Service`, plus:

    * ``idempotent``: an inbox (the Redis set ``eda:inbox:<service>``, whose
      ``SADD`` returns 0 for an id already there: the unique constraint). The
      inbox insert, the ``ctx.effect`` side effects, the emitted events and
      the ``XACK`` run in one Lua script, so they happen together or not at
      all and a duplicate leaves no trace. Without it, effects and emitted
      events go in one ``MULTI``/``EXEC`` per event and the acks after each
      batch (commit after processing): at-least-once.
    * ``max_deliveries``: a failure that outlives ``retry`` leaves the entry
      pending, to be claimed again after ``claim_idle_ms``, until the handler
      has run on ``max_deliveries`` deliveries of it; then it is
      dead-lettered (headers as the simulator's, plus ``dlt-deliveries``,
      XPENDING's delivery count). A redelivered entry on which the handler
      already started ``max_deliveries`` times without finishing (it took the
      process down each time: a poison pill) is dead-lettered without
      running it. Deliveries count when the handler *starts* on them
      (recorded in the hash ``eda:attempts:<service>`` before it runs on a
      redelivery; the first delivery is assumed started), because XPENDING's
      count also rises for entries merely fetched in a batch with a crashing
      one. A redelivered entry is acknowledged on its own, in the same
      ``MULTI``/``EXEC`` as its effects, so a crash on the next one does not
      bring it back. ``max_deliveries=1`` dead-letters after the first
      delivery's retries, as the simulator does. Permanent errors are
      dead-lettered at once.
    * ``claim_idle_ms``, ``session_timeout_ms``, ``ownership``: the
      consumer's ``redis.claim.idle.ms``, ``session.timeout.ms`` and
      ``redis.partition.ownership``.

    Limits: only Redis commands queued with ``ctx.effect`` share the atomic
    step; anything else a handler does (an HTTP call, a file) runs at least
    once. Redis has no rollback: if a side effect fails at run time, the
    ones before it stay applied (the event is then retried). In Redis
    Cluster a script may only touch keys of one hash slot, so the inbox, the
    effects and the output streams would need one ``{hash tag}``.
    """

    def __init__(
        self,
        url,
        name: str,
        consumes,
        handlers: dict,
        *,
        produces=None,
        retry: Retry | None = None,
        dead_letter=True,
        idempotent: bool = False,
        schemas: dict | None = None,
        max_deliveries: int = 5,
        claim_idle_ms: int = 30000,
        session_timeout_ms: int = 10000,
        ownership: str = "leased",
        max_in_flight: int = 100,
        poll_timeout: float = 0.1,
        instance: str | None = None,
        config: dict | None = None,
        trace: bool = True,
    ):
        if not isinstance(name, str) or not name:
            raise ValueError(f"a service needs a non-empty name, got {name!r}")
        topics_ = [consumes] if isinstance(consumes, str) else list(consumes)
        if not isinstance(handlers, dict) or not handlers:
            raise ValueError(
                f"{name}: handlers must be a dict of event type -> function(event, ctx)"
            )
        for etype, fn in handlers.items():
            if not callable(fn):
                raise TypeError(f"{name}: the handler for {etype!r} is not callable")
        if retry is not None and not isinstance(retry, Retry):
            raise TypeError(
                f"{name}: retry must be a Retry(...) policy, got {type(retry).__name__}"
            )
        if (
            isinstance(max_deliveries, bool)
            or not isinstance(max_deliveries, int)
            or max_deliveries < 1
        ):
            raise ValueError(
                f"{name}: max_deliveries must be a whole number >= 1, got {max_deliveries!r}"
            )
        self.url = resolve_url(url)
        self.name = name
        self.topics = topics_
        self.handlers = dict(handlers)
        self.retry = retry or NO_RETRY
        self.dead_letter = dead_letter
        self.idempotent = idempotent
        self.schemas = dict(schemas or {})
        self.max_deliveries = max_deliveries
        self.max_in_flight = max_in_flight
        self.poll_timeout = poll_timeout
        self.trace = trace
        conf = {
            "bootstrap.servers": self.url,
            "group.id": name,
            "client.id": name,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "redis.claim.idle.ms": claim_idle_ms,
            "session.timeout.ms": session_timeout_ms,
            "heartbeat.interval.ms": max(1, min(3000, session_timeout_ms // 4)),
            "redis.partition.ownership": ownership,
            **(config or {}),
        }
        if (
            instance is not None
        ):  # a fixed instance name is a static member: it takes its own pending back
            conf["group.instance.id"] = instance
        self.consumer = Consumer(conf)
        self.instance = self.consumer.name
        self._r = self.consumer.redis
        self._topics = self.consumer.topic_cache
        for topic in list(topics_) + list(produces or {}):
            self._topics.get(topic)
        self.inbox_key = f"{META_PREFIX}inbox:{name}"
        self.attempts_key = f"{META_PREFIX}attempts:{name}"
        self.spans_key = f"{META_PREFIX}spans:{name}"
        self._script = self._r.register_script(_IDEMPOTENT)
        self._spans: list = []
        self._acks_pending = False
        self.counts = dict.fromkeys(OUTCOMES + (REDELIVER,), 0)
        self.counts["claimed"] = 0
        self._stop = False

    def __repr__(self) -> str:
        return f"<RedisService {self.name} instance={self.instance} {safe_url(self.url)}>"

    def stop(self) -> None:
        """Ask :meth:`run` to finish its batch, acknowledge and leave."""
        self._stop = True

    def run(
        self,
        *,
        stop_after: float | None = None,
        stop_when_idle: float | None = None,
        max_events: int | None = None,
        stop_event=None,
    ) -> dict:
        """Poll, handle and acknowledge until told to stop; return the counts of outcomes.

        Stops after ``stop_after`` seconds, after ``stop_when_idle`` seconds
        with nothing to do, after ``max_events`` handled entries, when
        ``stop_event`` (a ``threading``/``multiprocessing`` Event) is set, on
        :meth:`stop`, or on SIGTERM/SIGINT when running in a main thread:
        each finishes the batch in hand, acknowledges it and leaves the group.
        """
        consumer = self.consumer
        started = time.monotonic()
        last_work = started
        done = 0
        restore = self._install_signals()
        try:
            consumer.subscribe(self.topics)
            while not self._stop:
                if stop_event is not None and stop_event.is_set():
                    break
                now = time.monotonic()
                if stop_after is not None and now - started >= stop_after:
                    break
                if stop_when_idle is not None and now - last_work >= stop_when_idle:
                    break
                if max_events is not None and done >= max_events:
                    break
                msgs = consumer.consume(self.max_in_flight, self.poll_timeout)
                msgs = [m for m in msgs if m.error() is None]
                if not msgs:
                    continue
                for m in msgs:
                    self._handle(m)
                    done += 1
                    consumer.maintain()  # keep the leases while a batch is handled
                self._finish_batch()
                last_work = time.monotonic()
        finally:
            try:
                self._finish_batch()
            finally:
                consumer.close()
                for sig, handler in restore:
                    signal.signal(sig, handler)
        return dict(self.counts, instance=self.instance)

    def _install_signals(self) -> list:
        if threading.current_thread() is not threading.main_thread():
            return []
        restore = []
        for sig in (signal.SIGTERM, signal.SIGINT):
            restore.append((sig, signal.getsignal(sig)))
            signal.signal(sig, lambda *_: self.stop())
        return restore

    def _finish_batch(self) -> None:
        pipe = None
        if self._acks_pending:
            self._acks_pending = False
            try:
                self.consumer.commit(asynchronous=False)
            except KafkaException as err:
                if err.error.code() != KafkaError._NO_OFFSET:
                    raise
        if self._spans:
            pipe = self._r.pipeline(transaction=False)
            for span in self._spans:
                pipe.xadd(
                    self.spans_key,
                    {k: "" if v is None else str(v) for k, v in span._asdict().items()},
                    maxlen=100000,
                    approximate=True,
                )
            self._spans = []
            pipe.execute()

    # -- one entry ------------------------------------------------------------------

    def _handle(self, m: RedisMessage) -> None:
        started = _now_s()
        redelivered = m.delivery_count() > 1
        prior_starts = prior_tries = 0
        if redelivered:
            self.counts["claimed"] += 1
            raw = self._r.hmget(self.attempts_key, _field(m, "starts"), _field(m, "tries"))
            prior_starts, prior_tries = (int(x) if x else 0 for x in raw)
        # Deliveries on which the handler started before this one: the first (assumed), then those recorded.
        before = prior_starts + 1 if redelivered else 0
        if before >= self.max_deliveries:
            err = MaxDeliveriesExceeded(
                f"the handler started on {before} deliveries of this entry without "
                f"finishing it (max_deliveries={self.max_deliveries})"
            )
            self._give_up(m, None, err, max(before, prior_tries), started)
            return
        try:
            event = Event.from_json(m.value())
        except (ValueError, TypeError, UnicodeDecodeError) as err:
            self._give_up(m, None, err, 0, started)
            return
        handler = self.handlers.get(event.type)
        if handler is None:
            self._done(m, event, started, "skipped", 0, "")
            return
        if self.idempotent and self._r.sismember(self.inbox_key, event.id):
            self._done(m, event, started, "duplicate", 0, "")
            return
        schema = self.schemas.get(event.type)
        if schema is not None:
            from eda_sim.services.schemas import conform

            try:
                event = Event.create(
                    event.type,
                    conform(event.payload.thaw(), schema),
                    key=event.key,
                    time=event.time,
                    id=event.id,
                    correlation_id=event.correlation_id,
                    causation_id=event.causation_id,
                    schema_version=event.schema_version,
                    headers=event.headers,
                )
            except ValueError as err:
                self._give_up(m, event, err, 1, started)
                return
        if redelivered:  # recorded before the handler runs, so a crash inside it still counts
            self._r.hincrby(self.attempts_key, _field(m, "starts"), 1)
        attempt = 0
        while True:
            attempt += 1
            ctx = RedisContext(self, self.instance, event, attempt, m)
            try:
                handler(event, ctx)
                outcome = self._apply(m, event, ctx, redelivered)
            except connection_errors() as err:
                raise transport_error(self.url, err, "apply side effects on") from None
            except Exception as err:  # noqa: BLE001 - a handler's failure is data here, not a crash
                if self.retry.is_permanent(err) or attempt >= self.retry.attempts:
                    if self.retry.is_permanent(err) or before + 1 >= self.max_deliveries:
                        self._give_up(m, event, err, prior_tries + attempt, started)
                    else:
                        self._redeliver(m, event, err, attempt, started)
                    return
                delay = self.retry.delay(attempt)
                if delay:
                    time.sleep(delay)
                continue
            self._done(
                m, event, started, outcome, attempt, "", acked=self.idempotent or redelivered
            )
            return

    def _apply(self, m: RedisMessage, event: Event, ctx: RedisContext, redelivered: bool) -> str:
        """Run the side effects and emit the events: atomically with the inbox and the ack, or in MULTI/EXEC.

        A first delivery (at-least-once policy) is acknowledged with its batch,
        as a Kafka consumer commits after processing; a redelivered entry is
        acknowledged in the same MULTI/EXEC as its effects, so that a crash on
        a later entry does not deliver (and count) it again.
        """
        commands = [list(c) for c in ctx._effects]
        for topic, ev in ctx._out:
            partitions, maxlen = self._topics.get(topic)
            # A keyless event goes by its id's hash: spread, and the same partition on a redelivery.
            p = crc32_partition(ev.key_bytes or ev.id.encode(), partitions)
            hdrs = [(k, v.encode()) for k, v in event_headers(ev)]
            commands.append(
                xadd_args(
                    stream_key(topic, p),
                    maxlen,
                    int(round(ev.time * 1000)) + EPOCH_MS,
                    ev.key,
                    ev.to_json(),
                    encode_headers(hdrs),
                )
            )
        if redelivered:
            commands.append(["HDEL", self.attempts_key, _field(m, "starts"), _field(m, "tries")])
        if self.idempotent:
            fresh = self._script(
                keys=[self.inbox_key, m.stream()],
                args=[event.id, self.consumer.group_id, m.entry_id(), json.dumps(commands)],
            )
            self.consumer.settle(m.stream(), [m.entry_id()])
            return "handled" if fresh == 1 else "duplicate"
        if redelivered:
            commands.append(["XACK", m.stream(), self.consumer.group_id, m.entry_id()])
        if commands:
            pipe = self._r.pipeline(transaction=True)
            for c in commands:
                pipe.execute_command(*c)
            pipe.execute()
        if redelivered:
            self.consumer.settle(m.stream(), [m.entry_id()])
        return "handled"

    def _redeliver(self, m, event, err, attempt, started) -> None:
        self._r.hincrby(self.attempts_key, _field(m, "tries"), attempt)
        self.consumer.nack(m)
        self._span(
            m,
            event,
            started,
            REDELIVER,
            attempt,
            f"{type(err).__name__}: {err}; left pending for redelivery "
            f"(delivery {m.delivery_count()}, max_deliveries={self.max_deliveries})",
        )

    def _give_up(self, m, event, err, attempts, started) -> None:
        text = f"{type(err).__name__}: {err}"
        pipe = self._r.pipeline(transaction=True)
        if self.dead_letter:
            target = (
                self.dead_letter if isinstance(self.dead_letter, str) else m.topic() + DLT_SUFFIX
            )
            n = create_topic(self._r, target, self._topics.get(m.topic())[0], exist_ok=True)
            exc = type(err)
            built = dead_letter_headers(
                m.topic(),
                m.partition(),
                m.entry_id(),
                m.timestamp()[1],
                self.consumer.group_id,
                exc,
                str(err),
                attempts,
            )
            built.append((H_DELIVERIES, str(m.delivery_count())))
            headers = list(m.headers() or []) + [(k, v.encode()) for k, v in built]
            p = m.partition() if m.partition() < n else 0
            pipe.execute_command(
                *xadd_args(
                    stream_key(target, p),
                    None,
                    m.timestamp()[1],
                    m.key(),
                    m.value(),
                    encode_headers(headers),
                )
            )
            outcome = "dead_lettered"
        else:
            outcome = "failed"
        pipe.xack(m.stream(), self.consumer.group_id, m.entry_id())
        pipe.hdel(self.attempts_key, _field(m, "starts"), _field(m, "tries"))
        pipe.execute()
        self.consumer.settle(m.stream(), [m.entry_id()])
        self._span(m, event, started, outcome, attempts, text)

    def _done(self, m, event, started, outcome, attempts, error, acked=False) -> None:
        if not acked:
            self.consumer.store_offsets(m)
            self._acks_pending = True
        self._span(m, event, started, outcome, attempts, error)

    def _span(self, m, event, started, outcome, attempts, error) -> None:
        self.counts[outcome] += 1
        if not self.trace:
            return
        if event is None:
            eid, etype, cid, cause = (
                f"{m.topic()}-{m.partition()}@{m.entry_id()}",
                "(malformed)",
                "",
                "",
            )
        else:
            eid, etype, cid, cause = (
                event.id,
                event.type,
                event.correlation_id,
                event.causation_id or "",
            )
        self._spans.append(
            Span(
                self.name,
                self.instance,
                eid,
                etype,
                cid,
                cause,
                m.topic(),
                m.partition(),
                m.offset(),
                m.time(),
                started,
                _now_s(),
                outcome,
                attempts,
                error,
            )
        )


def _field(m: RedisMessage, what: str) -> str:
    return f"{m.stream()}/{m.entry_id()}/{what}"


def _now_s() -> float:
    return time.time() - EPOCH_S


def run_service(
    url,
    name: str,
    consumes,
    handlers: dict,
    *,
    stop_after: float | None = None,
    stop_when_idle: float | None = None,
    max_events: int | None = None,
    stop_event=None,
    **policies,
) -> dict:
    """Run a service on Redis in this process until it is told to stop; return the counts of outcomes.

    ``handlers`` are the same ``handler(event, ctx)`` functions as for
    :class:`eda_sim.services.service.Service`. ``policies`` are those of
    :class:`RedisService` (``retry``, ``idempotent``, ``max_deliveries``,
    ``claim_idle_ms``, ``session_timeout_ms``, ``ownership``,
    ``dead_letter``, ``schemas``, ``max_in_flight``, ``instance``, ...). To run
    it in another OS process, pass module-level handlers to a
    ``multiprocessing`` process (``target=run_service``); SIGTERM stops it
    cleanly, SIGKILL leaves its pending entries for the other members to claim.
    """
    service = RedisService(url, name, consumes, handlers, **policies)
    return service.run(
        stop_after=stop_after,
        stop_when_idle=stop_when_idle,
        max_events=max_events,
        stop_event=stop_event,
    )


def publish(url_or_producer, topic: str, event: Event, partition: int = -1) -> None:
    """Produce ``event`` to ``topic`` as JSON, keyed by ``event.key``, with the tracing headers.

    Given a :class:`Producer` (or any confluent-shaped producer) it only
    queues the record, as :func:`eda_sim.services.service.publish` does; given a URL
    it connects, sends and flushes (convenient for one event, slow in a loop).
    """
    if not isinstance(event, Event):
        raise TypeError(
            f"publish() sends an eda_sim.services.events.Event, got {type(event).__name__}"
        )
    if isinstance(url_or_producer, str) or url_or_producer is None:
        producer = Producer({"bootstrap.servers": resolve_url(url_or_producer)})
        try:
            producer.produce(
                topic,
                value=event.to_json(),
                key=event.key,
                headers=event_headers(event),
                partition=partition,
            )
        finally:
            producer.close()
        return
    url_or_producer.produce(
        topic,
        value=event.to_json(),
        key=event.key,
        headers=event_headers(event),
        partition=partition,
    )
