"""Load on the clock: every load generator of the course, in one place.

* :class:`Feed` produces ``(key, value)`` records at a steady rate;
* :class:`LimitedFeed` offers records at one rate and sends them through a
  :class:`~eda_sim.services.ratelimit.TokenBucket`; the surplus waits at the
  producer (``backlog``);
* :class:`Storm` adds a burst on top of the normal traffic and marks its window
  in the journal (``storm_started``, ``storm_ended``).

* :class:`Source` publishes *events* (types, payloads, event times) the way a
  front end or an API would, with tracing headers;
* :class:`DelayedSource` publishes events late: a phone that was offline, a
  slow uplink (the out-of-order arrivals of notebook 03).

Example::

    sim = Simulation(seed=1)
    sim.create_topic("clicks", partitions=3)
    feed = Feed(sim, "clicks", ((f"user-{i % 10}", f"click {i}") for i in range(1000)), rate=100)
    sim.run(until=12)
    feed.produced        # 1000
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from eda_sim.core.checks import at_least as _at_least
from eda_sim.core.checks import instant, seconds
from eda_sim.core.checks import positive as _positive
from eda_sim.core.errors import KafkaException
from eda_sim.services.events import Event
from eda_sim.services.ratelimit import TokenBucket
from eda_sim.services.service import declare_event_types, new_event, publish

if TYPE_CHECKING:
    from eda_sim.core.simulation import Simulation
    from eda_sim.kafka.producer import Producer


class Feed:
    """Produce ``(key, value)`` pairs to ``topic`` at ``rate`` records per virtual second.

    Records go out in ticks of ``tick`` seconds (all records due in a tick are
    produced at its start), through ``producer`` or a new producer made from
    ``config``. ``start`` delays the first record.
    """

    def __init__(
        self,
        sim: Simulation,
        topic: str,
        records: Iterable,
        rate: float,
        *,
        producer: Producer | None = None,
        config: dict | None = None,
        tick: float = 0.01,
        start: float = 0.0,
        headers: dict | list | None = None,
    ) -> None:
        rate = _positive(rate, "rate", "a number of records per second")
        seconds(tick, "tick", positive=True)
        seconds(start, "start")
        sim.topic(topic)
        self.sim = sim
        self.topic = topic
        self.rate = float(rate)
        self.tick = float(tick)
        self.producer = producer if producer is not None else sim.producer(config)
        self.headers = headers
        self.produced = 0
        self.done = False
        self._records = iter(records)
        self.process = sim.env.process(self._run(start))

    def _run(self, start: float):
        env = self.sim.env
        if start > 0:
            yield env.timeout(start)
        produce = self.producer.produce
        topic, headers = self.topic, self.headers
        owed = 0.0
        while True:
            owed += self.rate * self.tick
            n = int(owed)
            owed -= n
            for _ in range(n):
                item = next(self._records, None)
                if item is None:
                    self.done = True
                    return
                produce(topic, key=item[0], value=item[1], headers=headers)
                self.produced += 1
            self.producer.poll(0)
            yield env.timeout(self.tick)


class LimitedFeed:
    """Offer ``(key, value)`` records at ``rate`` per second, and send them no faster than ``limit`` allows.

    Record ``i`` is offered at ``start + i / rate`` and queues at the
    producer; the sender takes it from the queue once the
    :class:`TokenBucket` ``limit`` grants a token (without ``limit``, at once).
    ``offered``, ``produced`` and ``backlog`` (offered, not sent yet) count
    records; ``waited`` sums the seconds records spent queued.
    """

    def __init__(
        self,
        sim: Simulation,
        topic: str,
        records: Iterable,
        rate: float,
        *,
        limit: TokenBucket | None = None,
        producer: Producer | None = None,
        config: dict | None = None,
        start: float = 0.0,
        headers: dict | list | None = None,
    ) -> None:
        self.rate = _positive(rate, "rate", "a number of records per second")
        if limit is not None and not isinstance(limit, TokenBucket):
            raise TypeError(
                f"limit must be a TokenBucket(rate=..., burst=...) or None, got {type(limit).__name__}"
            )
        start = _at_least(start, "start", 0.0, "a virtual time in seconds")
        if start < sim.now:
            raise ValueError(f"start={start:g} is in the past: the clock is at {sim.now:g} s")
        sim.topic(topic)
        self.sim = sim
        self.topic = topic
        self.limit = limit
        self.start = start
        self.producer = producer if producer is not None else sim.producer(config)
        self.headers = headers
        self.offered = 0
        self.produced = 0
        self.waited = 0.0
        self.done = False
        self._records = iter(records)
        self._queue: deque = deque()  # (offered at, key, value): the records the limit holds back
        self._all_offered = False
        self._wake = None
        self.process = sim.env.process(self._offer())
        self._sender = sim.env.process(self._send())

    @property
    def backlog(self) -> int:
        """Records offered but not sent yet: what the rate limit holds back at the producer."""
        return self.offered - self.produced

    def _notify(self) -> None:
        wake = self._wake
        if wake is not None and not wake.triggered:
            wake.succeed()

    def _offer(self):
        env = self.sim.env
        i = 0
        for key, value in self._records:
            due = self.start + i / self.rate
            if due > env.now:
                yield env.timeout(due - env.now)
            self._queue.append((env.now, key, value))
            self.offered += 1
            i += 1
            self._notify()
        self._all_offered = True
        self._notify()

    def _send(self):
        env = self.sim.env
        produce, topic, headers, limit = self.producer.produce, self.topic, self.headers, self.limit
        queue = self._queue
        while True:
            if not queue:
                if self._all_offered:
                    break
                self._wake = env.event()
                yield self._wake
                continue
            offered_at, key, value = queue.popleft()
            if limit is not None:
                wait = limit.take(env.now)
                if wait:
                    yield env.timeout(wait)
            produce(topic, key=key, value=value, headers=headers)
            self.produced += 1
            self.waited += env.now - offered_at
            if self.produced % 100 == 0:
                self.producer.poll(0)
        self.done = True
        self.producer.poll(0)


class Storm:
    """A burst of ``rate * duration`` records on ``topic``, ``rate`` per second from ``start`` for ``duration`` s.

    ``make(i)`` gives record ``i``: a dict with a ``type`` (an event, published
    by a :class:`~eda_sim.services.service.Source` with tracing headers; ``key`` names
    the payload field to key by) or a ``(key, value)`` pair (a raw record, sent
    by a :class:`~eda_sim.services.load.Feed`). Event ``i`` is published at
    ``start + i / rate``. The window is marked in the journal by a
    ``storm_started`` row at ``start`` and a ``storm_ended`` row at
    ``start + duration``.
    """

    def __init__(
        self,
        sim: Simulation,
        topic: str,
        rate: float,
        duration: float,
        start: float,
        make: Callable[[int], Any],
        *,
        key: str | None = None,
        name: str | None = None,
    ):
        self.rate = _positive(rate, "rate", "a number of records per second")
        self.duration = _positive(duration, "duration", "a number of virtual seconds")
        self.start = _at_least(start, "start", 0.0, "a virtual time in seconds")
        if self.start < sim.now:
            raise ValueError(f"start={start:g} is in the past: the clock is at {sim.now:g} s")
        if not callable(make):
            raise TypeError(
                f"make must be a function of the record number i, got {type(make).__name__}"
            )
        sim.topic(topic)
        self.sim = sim
        self.topic = topic
        self.name = name or f"storm-{sim.next_number('storm')}"
        self.records = int(round(self.rate * self.duration))
        if self.records < 1:
            raise ValueError(
                f"rate * duration = {self.rate * self.duration:g} records: a storm needs at least one"
            )
        made = [make(i) for i in range(self.records)]
        if all(isinstance(m, dict) for m in made):
            untyped = next((m for m in made if not m.get("type")), None)
            if untyped is not None:
                raise ValueError(f"make(i) returned an event dict without a 'type': {untyped!r}")

            items = [{**m, "time": self.start + i / self.rate} for i, m in enumerate(made)]
            self._source = Source(sim, self.name, topic, items, key=key, start=self.start)
            self._feed = None
        elif all(isinstance(m, tuple) and len(m) == 2 for m in made):
            self._source = None
            self._feed = Feed(
                sim,
                topic,
                made,
                self.rate,
                start=self.start - sim.now,
                config={"client.id": self.name},
            )
        else:
            bad = next(
                m for m in made if not (isinstance(m, dict) or isinstance(m, tuple) and len(m) == 2)
            )
            raise TypeError(
                f"make(i) must return an event dict with a 'type' or a (key, value) pair for every i, "
                f"got {bad!r}"
            )
        sim.at(
            self.start,
            self._mark,
            "storm_started",
            f"{self.rate:g} records/s for {self.duration:g} s ({self.records} records)",
            self.records,
        )
        sim.at(self.start + self.duration, self._ended)

    def __repr__(self) -> str:
        return (
            f"<Storm {self.name} on {self.topic}: {self.rate:g}/s for {self.duration:g} s from "
            f"{self.start:g} s, {self.produced}/{self.records} produced>"
        )

    @property
    def window(self) -> tuple:
        """``(start, end)`` of the storm, in virtual seconds."""
        return (self.start, self.start + self.duration)

    @property
    def produced(self) -> int:
        """Records produced so far."""
        return self._source.published if self._source is not None else self._feed.produced

    def _mark(self, kind: str, detail: str, count: int) -> None:
        self.sim.journal.write(kind, self.name, "", self.topic, -1, -1, count, detail)

    def _ended(self) -> None:
        self._mark(
            "storm_ended", f"{self.produced} of {self.records} records produced", self.produced
        )


class Source:
    """A producer of events at given virtual times (an app front end, a sensor, a batch upload).

    ``items`` are dicts with a ``time`` (virtual seconds) and a ``type`` (or
    pass ``type=``); the other fields form the payload, and ``key`` names the
    field to key by. An item that is ``str`` or ``bytes`` is produced as a raw,
    possibly malformed, value: the way to inject a broken event.
    """

    def __init__(
        self,
        sim: Simulation,
        name: str,
        topic: str,
        items: Iterable,
        *,
        key: str | None = None,
        type: str | None = None,
        produces: list[str] | None = None,
        start: float = 0.0,
        value_serializer: Callable | None = None,
    ):
        sim.topic(topic)
        start = instant(start, f"{name}: start", not_before=0)
        items = list(items)
        for i, item in enumerate(items):
            if isinstance(item, dict) and "time" in item:
                instant(item["time"], f"{name}: item {i}'s 'time'", not_before=0)
            if isinstance(item, dict) and not (type or item.get("type")):
                raise ValueError(
                    f"{name}: item {i} has no 'type' and the Source has no type=: {item!r}"
                )
            elif not isinstance(item, (dict, str, bytes)):
                raise TypeError(
                    f"{name}: item {i} must be a dict with a 'type' (an event) or str/bytes "
                    f"(a raw value), got {type(item).__name__} {item!r}"
                )
        self.sim = sim
        self.value_serializer = value_serializer
        self.name = name
        self.topic = topic
        self.key = key
        self.type = type
        self.producer = sim.producer({"client.id": name})
        self.published = 0
        self.refused = 0  # raw items the producer refused (too large)
        types = produces or sorted(
            {type} if type else {i["type"] for i in items if isinstance(i, dict) and "type" in i}
        )
        declare_event_types(sim, topic, types, name)
        self.process = sim.env.process(self._run(items, start))

    def _run(self, items, start: float):
        env = self.sim.env
        last = start
        for item in items:
            at = item.get("time", last) if isinstance(item, dict) else last
            if at > env.now:
                yield env.timeout(at - env.now)
            last = at
            self.emit(item)
        self.producer.poll(0)

    def emit(self, item: Any) -> None:
        """Publish one item now (a dict becomes an event; str/bytes go out raw).

        An item the producer refuses (over ``message.max.bytes``) is not
        published: a ``refused`` journal row says why and ``refused`` counts
        it, and the source goes on, as a front end that logs a failed send.
        """
        if isinstance(item, (str, bytes)):
            try:
                self.producer.produce(self.topic, value=item)
            except KafkaException as err:
                self.refused += 1
                self.sim.journal.write(
                    "refused", self.name, "", self.topic, -1, -1, 1, f"produce() refused it: {err}"
                )
                return
        else:
            payload = {k: v for k, v in item.items() if k not in ("time", "type")}
            etype = self.type or item.get("type")
            if not etype:
                raise ValueError(
                    f"{self.name}: item has no 'type' and the Source has no type=: {item!r}"
                )
            key = payload.get(self.key) if self.key else None
            try:
                publish(
                    self.producer,
                    self.topic,
                    new_event(self.sim, etype, payload, key=None if key is None else str(key)),
                    serializer=self.value_serializer,
                )
            except KafkaException as err:
                self.refused += 1
                self.sim.journal.write(
                    "refused", self.name, "", self.topic, -1, -1, 1, f"produce() refused it: {err}"
                )
                return
        self.published += 1


class DelayedSource:
    """A source whose events reach the broker late: a phone that was offline, a slow uplink.

    ``items`` are dicts like :class:`~eda_sim.services.service.Source` takes: ``time`` is
    when the event happened (its event time), ``type`` its type, the rest the
    payload, and ``key`` names the field to key by. Each item is published at
    ``time + delay``: ``delay`` is seconds, or a function of the simulation's
    random generator drawn once per item, in item order; an item's own
    ``"arrival"`` field (a virtual time) overrides both. Items are published in
    arrival order (ties in item order), each with its own event time, so the
    log holds them out of event-time order.
    """

    def __init__(
        self,
        sim: Simulation,
        name: str,
        topic: str,
        items: Iterable,
        *,
        delay: float | Callable = 0.0,
        key: str | None = None,
        type: str | None = None,
    ):
        from eda_sim.services.service import declare_event_types

        if not isinstance(name, str) or not name:
            raise ValueError(f"a DelayedSource needs a non-empty name, got {name!r}")
        if not callable(delay) and (
            isinstance(delay, bool)
            or not isinstance(delay, (int, float))
            or not 0 <= delay < math.inf
        ):
            raise ValueError(
                f"delay must be seconds >= 0 or a function of a random.Random, got {delay!r}"
            )
        sim.topic(topic)
        self.sim = sim
        self.name = name
        self.topic = topic
        self.key = key
        self.type = type
        schedule = []
        for i, item in enumerate(items):
            when = item.get("time") if isinstance(item, dict) else None
            if (
                isinstance(when, bool)
                or not isinstance(when, (int, float))
                or not 0 <= when < math.inf
            ):
                raise ValueError(
                    f"{name}: item {i} must be a dict with a 'time' (its event time, seconds >= 0), "
                    f"got {item!r}"
                )
            etype = type or item.get("type")
            if not etype:
                raise ValueError(
                    f"{name}: item {i} has no 'type' and the DelayedSource has no type=: {item!r}"
                )
            if "arrival" in item:
                at = item["arrival"]
            else:
                d = float(delay(sim.random)) if callable(delay) else float(delay)
                if not 0 <= d < math.inf:
                    raise ValueError(
                        f"{name}: the delay for item {i} is {d!r}; delays must be seconds >= 0"
                    )
                at = item["time"] + d
            if isinstance(at, bool) or not isinstance(at, (int, float)) or at < sim.now:
                raise ValueError(
                    f"{name}: item {i} would arrive at {at!r}, before now ({sim.now:g} s)"
                )
            schedule.append((float(at), i, etype, item))
        schedule.sort(key=lambda s: (s[0], s[1]))
        self.schedule = [(at, item) for at, _, _, item in schedule]
        declare_event_types(sim, topic, sorted({s[2] for s in schedule}), name)
        self.producer = sim.producer({"client.id": name})
        self.published = 0
        self.refused = 0  # items the producer refused (too large)
        self.process = sim.env.process(self._run(schedule))

    def _run(self, schedule):
        from eda_sim.services.service import new_event, publish

        env = self.sim.env
        for at, _, etype, item in schedule:
            if at > env.now:
                yield env.timeout(at - env.now)
            payload = {k: v for k, v in item.items() if k not in ("time", "type", "arrival")}
            key = payload.get(self.key) if self.key else None
            ev = new_event(self.sim, etype, payload, key=None if key is None else str(key))
            ev = Event.create(ev.type, ev.payload, id=ev.id, key=ev.key, time=item["time"])
            try:
                publish(self.producer, self.topic, ev)
            except KafkaException as err:  # too large: refused, counted, and the source goes on
                self.refused += 1
                self.sim.journal.write(
                    "refused", self.name, "", self.topic, -1, -1, 1, f"produce() refused it: {err}"
                )
                continue
            self.published += 1
        self.producer.poll(0)


# ---------------------------------------------------------------------- in a service
