"""Flow control: rate limits, storms of load, backpressure, and autoscaling on lag.

A storm is a surge of events that outruns the consumers. Three answers, all
on the virtual clock:

* **Rate-limit the producers.** A :class:`TokenBucket` lets ``burst`` records
  through at once and ``rate`` per second after that; :class:`LimitedFeed`
  offers records at one rate and sends them no faster than its bucket allows.
  The surplus waits at the producer (``backlog``), not at the broker.
* **Backpressure.** A service takes at most ``max_in_flight`` records per poll
  (``Service(..., max_in_flight=50)``) and polls again only when it has
  handled them. So the work a consumer holds is bounded: when events arrive
  faster than it handles them, its memory does not grow; the surplus stays in
  the log and shows up as consumer lag (log end minus committed offset) at the
  broker, where it is durable, visible (``sim.offsets(...)``) and can be
  shared out. Lag is the signal to watch and to scale on.
* **Scale out by lag.** An :class:`Autoscaler` reads a service's lag every
  ``interval`` seconds, adds an instance when it is above ``scale_out_lag`` and
  removes one when it is below ``scale_in_lag``, waiting ``cooldown`` seconds
  after every decision. Instances beyond the number of partitions would sit
  idle (a partition belongs to one member of a group), so it refuses to go
  past that cap and says so in the journal.

A :class:`Storm` adds a burst of events at a given rate for a given time on top
of the normal traffic, and marks its window in the journal (``storm_started``,
``storm_ended``).

Example::

    from eda_sim import Simulation
    from eda_sim.flow import Autoscaler, Storm, TokenBucket, LimitedFeed
    from eda_sim.services import Service, Source

    sim = Simulation(seed=8)
    sim.create_topic("clicks", partitions=4)
    Source(sim, "site", "clicks", [{"time": i * 0.1, "type": "Clicked", "user": f"u{i % 9}"} for i in range(600)],
           key="user")
    Storm(sim, "clicks", rate=300, duration=10, start=20,
          make=lambda i: {"type": "Clicked", "user": f"bot{i % 50}"}, key="user")
    svc = Service(sim, "ranker", consumes="clicks", handlers={"Clicked": lambda e, ctx: None},
                  processing_time=0.01, max_in_flight=50)
    scaler = Autoscaler(sim, svc, max_instances=8, scale_out_lag=200, scale_in_lag=20, cooldown=5, interval=1)
    sim.run(until=90)
    scaler.decisions          # when it scaled, at what lag, from how many instances to how many
    scaler.samples            # lag and instances every interval: the chart of notebook 08

    bucket = TokenBucket(rate=5, burst=10)
    bucket.take(0.0)          # 0.0: a token is there; wait 0 s
"""

from __future__ import annotations

import math
from collections import deque

__all__ = ["Autoscaler", "LimitedFeed", "Storm", "TokenBucket", "group_lag"]


def _positive(value, name: str, what: str = "a number") -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be {what} > 0, got {value!r}")
    if value <= 0:
        raise ValueError(f"{name} must be {what} > 0, got {value!r}")
    return float(value)


def _at_least(value, name: str, low: float, what: str) -> float:
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value < low
    ):
        raise ValueError(f"{name} must be {what} >= {low:g}, got {value!r}")
    return float(value)


class TokenBucket:
    """A token bucket on the virtual clock: ``burst`` tokens at most, refilled at ``rate`` per second.

    ``take(now)`` takes a token and returns how many seconds to wait before
    using it: 0 when one is there, else until the refill brings it. The token
    is reserved at once (the bucket may go into debt), so callers queue up in
    order and, over any stretch of time ``T``, at most ``burst + rate * T``
    tokens are used. In a process::

        wait = bucket.take(env.now)
        if wait:
            yield env.timeout(wait)
        producer.produce(...)

    The bucket starts full. ``now`` must not go backwards.
    """

    def __init__(self, rate: float, burst: float = 1):
        self.rate = _positive(rate, "rate", "a number of tokens per second")
        self.burst = _positive(burst, "burst", "a number of tokens")
        self._tokens = self.burst
        self._at = None  # time of the last take

    def __repr__(self) -> str:
        return f"TokenBucket(rate={self.rate:g}, burst={self.burst:g})"

    def _refill(self, now) -> float:
        if isinstance(now, bool) or not isinstance(now, (int, float)) or not math.isfinite(now):
            raise ValueError(f"now must be a virtual time in seconds, got {now!r}")
        if self._at is not None and now < self._at:
            raise ValueError(
                f"now={now!r} is before the last take at {self._at!r}: the clock only moves forward"
            )
        tokens = self._tokens
        if self._at is not None:
            tokens = min(self.burst, tokens + (now - self._at) * self.rate)
        return tokens

    def tokens(self, now: float) -> float:
        """Tokens available at ``now`` (negative: that many are owed to callers already waiting)."""
        return self._refill(now)

    def take(self, now: float, n: float = 1) -> float:
        """Take ``n`` tokens at ``now``; return the seconds to wait before using them (0 if none)."""
        n = _positive(n, "n", "a number of tokens")
        if n > self.burst:
            raise ValueError(
                f"cannot take {n:g} tokens at once from a bucket that holds {self.burst:g} (burst)"
            )
        tokens = self._refill(now)
        self._at = float(now)
        self._tokens = tokens - n
        return 0.0 if tokens >= n else (n - tokens) / self.rate

    def try_take(self, now: float, n: float = 1) -> bool:
        """Take ``n`` tokens only if they are there now; True if taken (nothing is reserved otherwise)."""
        n = _positive(n, "n", "a number of tokens")
        tokens = self._refill(now)
        self._at = float(now)
        if tokens >= n:
            self._tokens = tokens - n
            return True
        self._tokens = tokens
        return False


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
        sim,
        topic: str,
        records,
        rate: float,
        *,
        limit: TokenBucket | None = None,
        producer=None,
        config: dict | None = None,
        start: float = 0.0,
        headers=None,
    ):
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
    by a :class:`~eda_sim.services.Source` with tracing headers; ``key`` names
    the payload field to key by) or a ``(key, value)`` pair (a raw record, sent
    by a :class:`~eda_sim.workload.Feed`). Event ``i`` is published at
    ``start + i / rate``. The window is marked in the journal by a
    ``storm_started`` row at ``start`` and a ``storm_ended`` row at
    ``start + duration``.
    """

    def __init__(
        self,
        sim,
        topic: str,
        rate: float,
        duration: float,
        start: float,
        make,
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
        self.name = name or f"storm-{sim._next('storm')}"
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
            from .services import Source

            items = [{**m, "time": self.start + i / self.rate} for i, m in enumerate(made)]
            self._source = Source(sim, self.name, topic, items, key=key, start=self.start)
            self._feed = None
        elif all(isinstance(m, tuple) and len(m) == 2 for m in made):
            from .workload import Feed

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


def group_lag(sim, group_id: str, topics) -> int:
    """Records in ``topics`` that group ``group_id`` has not committed yet.

    Sum over partitions of log end minus committed offset; a partition with no
    commit counts from its log start (everything retained is still to do).
    """
    group = sim.groups.get(group_id)
    committed = group.committed if group is not None else {}
    lag = 0
    for name in topics:
        for log in sim.topic(name).partitions:
            c = committed.get((name, log.index))
            lag += log.log_end_offset - (
                log.log_start_offset if c is None else max(c, log.log_start_offset)
            )
    return lag


DECISION_COLUMNS = ["time", "lag", "action", "before", "after", "reason"]


class Autoscaler:
    """Scale a service's instances on its consumer-group lag, on the virtual clock.

    Every ``interval`` seconds it reads the lag (:func:`group_lag`) and decides:

    * lag > ``scale_out_lag``: add an instance, unless the service already
      runs as many as the consumed topics have partitions (more would sit
      idle) or ``max_instances``: then the refusal is recorded;
    * lag < ``scale_in_lag`` and more than ``min_instances`` running: stop
      the newest instance (it finishes its batch, commits and leaves);
    * fewer than ``min_instances`` running (a crash): add one.

    After every decision, refusals included, it waits ``cooldown`` seconds
    before the next, so that a rebalance settles and the lag shows the effect.
    Each decision is a journal row of kind ``scaled`` and a row of
    ``decisions``; ``samples`` has the lag and instance count of every check.
    The partition cap is the largest partition count among the consumed topics
    with the ``range`` assignor (it assigns topic by topic), and their total
    with the others.
    """

    def __init__(
        self,
        sim,
        service,
        *,
        min_instances: int = 1,
        max_instances: int | None = None,
        scale_out_lag: float = 100,
        scale_in_lag: float = 10,
        cooldown: float = 10.0,
        interval: float = 1.0,
    ):
        from .services import Service

        if isinstance(service, str):
            if service not in sim.services:
                known = ", ".join(sorted(sim.services)) or "none"
                raise ValueError(f"unknown service {service!r}; services are: {known}")
            service = sim.services[service]
        if not isinstance(service, Service):
            raise TypeError(f"service must be a Service or its name, got {type(service).__name__}")
        for name, value in (("min_instances", min_instances), ("max_instances", max_instances)):
            if name == "max_instances" and value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a whole number >= 1, got {value!r}")
        if max_instances is not None and max_instances < min_instances:
            raise ValueError(
                f"max_instances ({max_instances}) must be >= min_instances ({min_instances})"
            )
        self.scale_out_lag = _at_least(scale_out_lag, "scale_out_lag", 0, "a number of records")
        self.scale_in_lag = _at_least(scale_in_lag, "scale_in_lag", 0, "a number of records")
        if self.scale_in_lag >= self.scale_out_lag:
            raise ValueError(
                f"scale_in_lag ({scale_in_lag!r}) must be below scale_out_lag ({scale_out_lag!r}), "
                "or the autoscaler would flap between the two"
            )
        self.cooldown = _at_least(cooldown, "cooldown", 0, "a number of virtual seconds")
        self.interval = _positive(interval, "interval", "a number of virtual seconds")
        self.sim = sim
        self.service = service
        self.name = f"{service.name}-autoscaler"
        self.min_instances = min_instances
        self.max_instances = max_instances
        self._decisions: list = []
        self._samples: list = []
        self._last_decision = -math.inf
        self._stopped = False
        self.process = sim.env.process(self._run())

    def __repr__(self) -> str:
        return (
            f"<Autoscaler {self.service.name}: {self.service.running} running, "
            f"{len(self._decisions)} decisions>"
        )

    def lag(self) -> int:
        """The service's consumer-group lag now (see :func:`group_lag`)."""
        return group_lag(self.sim, self.service.name, self.service.topics)

    def partition_cap(self) -> int:
        """How many instances can own a partition at once; more would sit idle."""
        counts = [self.sim.topic(t).partition_count for t in self.service.topics]
        group = self.sim.groups.get(self.service.name)
        strategy = group.strategy if group is not None and group.strategy else "range"
        return max(counts) if strategy == "range" else sum(counts)

    def stop(self) -> None:
        """Stop deciding (from the next check on); instances stay as they are."""
        self._stopped = True

    def _run(self):
        env = self.sim.env
        while not self._stopped:
            yield env.timeout(self.interval)
            if not self._stopped:
                self.check()

    def check(self) -> str | None:
        """Look at the lag now and decide; return the action taken (None when nothing was due)."""
        svc = self.service
        now = self.sim.now
        lag = self.lag()
        running = svc.running
        self._samples.append((now, lag, running))
        if now - self._last_decision < self.cooldown - 1e-9:
            return None
        cap = self.partition_cap()
        if running < self.min_instances:
            svc.add_instance()
            return self._decide(
                lag, "scale_out", running, f"{running} running < min_instances {self.min_instances}"
            )
        if lag > self.scale_out_lag:
            if running >= cap:
                return self._decide(
                    lag,
                    "refused",
                    running,
                    f"lag {lag} > {self.scale_out_lag:g}, but {running} "
                    f"instances already own the {cap} partitions; more would sit idle",
                )
            if self.max_instances is not None and running >= self.max_instances:
                return self._decide(
                    lag,
                    "refused",
                    running,
                    f"lag {lag} > {self.scale_out_lag:g}, but "
                    f"max_instances is {self.max_instances}",
                )
            svc.add_instance()
            return self._decide(lag, "scale_out", running, f"lag {lag} > {self.scale_out_lag:g}")
        if lag < self.scale_in_lag and running > self.min_instances:
            svc.remove_instance()
            return self._decide(lag, "scale_in", running, f"lag {lag} < {self.scale_in_lag:g}")
        return None

    def _decide(self, lag: int, action: str, before: int, reason: str) -> str:
        after = self.service.running
        self._last_decision = self.sim.now
        self._decisions.append((self.sim.now, lag, action, before, after, reason))
        topic = self.service.topics[0] if len(self.service.topics) == 1 else ""
        self.sim.journal.write(
            "scaled",
            self.name,
            self.service.name,
            topic,
            -1,
            -1,
            after,
            f"{action}: {reason}; instances {before} -> {after}",
        )
        return action

    @property
    def decisions(self):
        """Every decision as a DataFrame: time, lag, action (scale_out, scale_in, refused), before, after, reason."""
        import pandas as pd

        return pd.DataFrame(self._decisions, columns=DECISION_COLUMNS)

    @property
    def samples(self):
        """Every check as a DataFrame: time, lag, instances (running)."""
        import pandas as pd

        return pd.DataFrame(self._samples, columns=["time", "lag", "instances"])
