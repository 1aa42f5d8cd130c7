"""Notebook 16: the recommender of notebook 13 on a real broker (Redis Streams), or on the simulator without one.

::

    frontend (a producer process) --UserViewedProduct--> product-views (3 partitions, keyed by user)
        --> recommender group: recommender-1 and recommender-2, two consumer processes
              --RecommendationGenerated--> recommendations
              --> product-views.DLT  (the poison view, after max_deliveries tries)

The handler is notebook 13's, unchanged: an online
:class:`~eda_sim.ai.models.ItemToItemRecommender` learns from each view, then
publishes a recommendation (:func:`recommender_handler`). What happens in one
run (:func:`run_story`):

* ``recommender-1`` reads partitions 0 and 2, ``recommender-2`` partition 1
  (round-robin by member name, on both backends);
* the frontend publishes 30 views and, among them, one **poison** view: a view
  of user ``u006`` (partition 1) without a product id, which the handler
  refuses every time. The service treats every error as transient (as a
  service does when it cannot tell), so only a count of deliveries stops it:
  after ``max_deliveries`` tries it is dead-lettered with its origin and error;
* with ``kill=True``, ``recommender-1`` is killed (SIGKILL on Redis) mid-stream
  while it has events in flight; ``recommender-2`` takes its partitions over,
  claims the events it left pending and handles them, then everything after.

On **Redis** (:class:`Backend` finds a server: ``$EDA_REDIS_URL``, else a
throwaway ``redis-server`` it starts) the frontend and the two consumers are
real OS processes (``multiprocessing``, forkserver where there is one, else
spawn) running :func:`eda_sim.backends.redis.backend.run_service`, the kill is a real
SIGKILL and the hand-over is Redis's pending-entries list and ``XCLAIM``.
Without a server, the **simulator** runs the same handler with the same
policies: the crash is :meth:`~eda_sim.core.simulation.Simulation.crash`, the
hand-over a rebalance after ``session.timeout.ms``, and the count of tries is
the retry policy's (a consumer group keeps no delivery counter; share groups do).

Which backend ran, and its timing, can differ from run to run and machine to
machine; what the guarantees fix cannot. :meth:`Run.summary` (the repr of a
:class:`Run`) reports only the latter: views produced, recommendations, lost
and duplicated views, the dead letter and its tries, who was killed and
whether the other took over, and whether each user's recommendations kept the
order of their views. The same settings give the same summary on both
backends (the idempotent policy makes "duplicated: 0" a guarantee, not
luck). :meth:`Run.details` shows what varies: who handled how many, how many
events were in flight at the kill and were claimed, seconds taken.

A run on Redis deletes only its own topics and keys first (the three topics
below and the ``recommender`` group's ``eda:`` keys), never the whole server.

Example::

    backend = Backend.find()          # Redis if one is reachable or can be started, else the simulator
    run = run_story(backend)          # kill one consumer mid-stream, dead-letter the poison view
    run                               # the summary: the same on both backends
    print(run.details())              # what differs: processes, timings, claims
    backend.close()
"""

from __future__ import annotations

import atexit
import multiprocessing
import shutil
import tempfile
import time
from dataclasses import dataclass, field

import pandas as pd

from eda_sim.ai.datagen import clickstream
from eda_sim.ai.models import ItemToItemRecommender
from eda_sim.backends.redis.server import ENV_URL, RedisServer, installed, start_hint, url_from_env
from eda_sim.core.clock import SIM_EPOCH
from eda_sim.course.nb13.world import _recommend_handler
from eda_sim.kafka.partitioner import crc32_partition
from eda_sim.services.events import Event
from eda_sim.services.retries import Retry

VIEWS = "product-views"
RECOMMENDATIONS = "recommendations"
DLT = VIEWS + ".DLT"
SERVICE = "recommender"
#: The two consumer processes; sorted by name, the first reads partitions 0 and 2, the second partition 1.
INSTANCES = ("recommender-1", "recommender-2")
PARTITIONS = 3
#: The user whose view is poison: ``u005`` hashes (CRC32) to partition 1, read by ``recommender-2``, which survives.
POISON_USER = "u005"
#: How long the handler works on one view (model inference), seconds: real on Redis, virtual on the simulator.
WORK = 0.02
#: Seconds between two views from the frontend.
EVERY = 0.03
CLAIM_IDLE_MS = 200
SESSION_TIMEOUT_MS = 600
K = 5


# ----------------------------------------------------------------------------- the events and the handler


def views(n: int = 30, *, poison_at: int = 8, seed: int = 10, every: float = EVERY) -> list[dict]:
    """The frontend's output: ``n`` views from notebook 13's clickstream, ``every`` seconds apart, plus one poison.

    A clickstream of eight users, so each user has several views (six users
    appear in the first 30, ``u006`` among them). The poison view (at
    position ``poison_at``) is a view of :data:`POISON_USER` without a
    ``product_id``: notebook 13's handler refuses it with a ``ValueError``.
    Items are dicts for a :class:`~eda_sim.services.service.Source` (``time``,
    ``type``, ``user_id``, ``session_id``, ``product_id``, ``category``).
    """
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= 90:
        raise ValueError(f"n must be a whole number of views from 1 to 90, got {n!r}")
    if isinstance(poison_at, bool) or not isinstance(poison_at, int) or not 0 <= poison_at <= n:
        raise ValueError(f"poison_at must be a position from 0 to n={n}, got {poison_at!r}")
    stream = [
        v
        for v in clickstream(seed, users=8, products=40, duration=120.0)
        if v["type"] == "UserViewedProduct"
    ]
    items = [{k: v for k, v in view.items() if k != "time"} for view in stream[:n]]
    items.insert(
        poison_at,
        {
            "type": "UserViewedProduct",
            "user_id": POISON_USER,
            "session_id": "s-poison",
            "category": "garden",
        },
    )
    return [{"time": round(i * every, 6), **item} for i, item in enumerate(items)]


def is_poison(payload) -> bool:
    """Whether a view payload is the poison one (no product id)."""
    return not payload.get("product_id")


def recommender_handler(k: int = K):
    """Notebook 13's handler around a fresh :class:`~eda_sim.ai.models.ItemToItemRecommender`.

    It learns from each view, then emits ``RecommendationGenerated`` (user,
    items, model, model version, the product viewed) keyed by user; a view
    without a product id raises ``ValueError``. Each consumer process builds
    its own, so each model learns only from the partitions its process reads.
    """
    return _recommend_handler(
        ItemToItemRecommender(k=k, history=5, window=120.0), "item-to-item", k
    )


def _working(handler, seconds: float):
    """The handler after ``seconds`` of real work per event (the model's inference time, on a real clock)."""

    def on_view(event, ctx):
        time.sleep(seconds)
        handler(event, ctx)

    return on_view


def _retry(max_deliveries: int, all_transient: bool, backoff: float) -> Retry:
    return Retry(
        attempts=max_deliveries,
        backoff=backoff,
        factor=1.0,
        permanent=() if all_transient else Retry.permanent,
    )


# ----------------------------------------------------------------------------- where it runs


@dataclass
class Backend:
    """Where :func:`run_story` runs: a Redis server (``kind="redis"``) or the simulator (``kind="simulator"``).

    :meth:`find` picks one; ``str(backend)`` says which and why in one line,
    with :func:`~eda_sim.backends.redis.server.start_hint` when there is no server.
    """

    kind: str
    url: str | None = None
    why: str = ""
    server: RedisServer | None = field(default=None, repr=False)
    _tmp: str | None = field(default=None, repr=False)

    @classmethod
    def find(cls, *, start: bool = True) -> Backend:
        """``$EDA_REDIS_URL`` if a server answers there; else, with ``start``, a throwaway ``redis-server``
        on a free loopback port (stopped by :meth:`close` or when Python exits); else the simulator."""
        from eda_sim.backends.redis.backend import reachable

        url = url_from_env()
        note = ""
        if url is not None:
            if reachable(url):
                warm_up()
                return cls("redis", url, f"the server in ${ENV_URL}")
            note = f"${ENV_URL} is set, but no Redis server answers there. "
        if start and installed():
            tmp = tempfile.mkdtemp(prefix="eda-redis-")
            try:
                server = RedisServer(tmp).start()
            except RuntimeError as err:
                shutil.rmtree(tmp, ignore_errors=True)
                note += (
                    f"redis-server is installed but did not start ({str(err).splitlines()[0]}). "
                )
            else:
                why = "a throwaway redis-server started for this notebook" + (
                    f"; {note.strip()}" if note else ""
                )
                backend = cls("redis", server.url, why, server, tmp)
                atexit.register(backend.close)
                warm_up()
                return backend
        return cls(
            "simulator",
            None,
            note
            + "No Redis server is reachable, so the simulator runs the same handler. "
            + start_hint(),
        )

    @property
    def redis(self) -> bool:
        """True when runs go to a Redis server."""
        return self.kind == "redis"

    def __str__(self) -> str:
        if self.redis:
            return f"Redis at {self.url} ({self.why})"
        return self.why

    def close(self) -> None:
        """Stop the server this backend started, if any, and remove its directory; later runs go to the simulator."""
        if self.server is not None:
            self.server.stop()
            self.server = None
            self.kind, self.url = "simulator", None
            self.why = (
                "The throwaway redis-server of this notebook was stopped, so the simulator runs the story; "
                "Backend.find() starts a new one."
            )
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None


# ----------------------------------------------------------------------------- one run, described the same way on both


@dataclass
class Run:
    """What one :func:`run_story` produced, backend-independent.

    ``summary()`` (also the repr) holds what the guarantees fix; ``details()``
    what depends on timing and on the backend.
    """

    backend: str
    produced: int
    good: int
    recommended: int
    duplicated: int
    lost: int
    dead: list
    killed: str | None
    survivor: str | None
    taken_over: bool
    in_order: bool
    handled: dict
    owners: dict
    in_flight_at_kill: int
    claimed: int
    seconds: float
    where: str = ""
    deliveries: int | None = None

    def summary(self) -> str:
        """The run's guarantees in a few lines: identical on Redis and on the simulator for the same settings."""
        lines = [
            f"views produced: {self.produced} ({self.good} good, {self.produced - self.good} poison)",
            f"recommendations: {self.recommended} for {self.good} good views",
            f"lost: {self.lost}, duplicated: {self.duplicated}",
        ]
        for d in self.dead:
            tries = f"{d['attempts']} {'try' if d['attempts'] == 1 else 'tries'}"
            lines.append(
                f"dead-lettered: a view of {d['key']} ({d['error']}: {d['message']}), after {tries}"
            )
        if not self.dead:
            lines.append("dead-lettered: nothing")
        if self.killed is None:
            lines.append("killed mid-stream: nobody")
        else:
            took = (
                "took over its partitions and finished them"
                if self.taken_over
                else "did NOT take its partitions over"
            )
            lines.append(f"killed mid-stream: {self.killed}; {self.survivor} {took}")
        lines.append(
            "each user's recommendations follow the order of their views: "
            + ("yes" if self.in_order else "NO")
        )
        return "\n".join(lines)

    __repr__ = summary

    def _repr_pretty_(self, p, cycle) -> None:
        p.text(self.summary())

    def details(self) -> str:
        """Who handled what and what was in flight at the kill and claimed (varies by run on Redis).

        How long a Redis run took is in ``seconds``, not here: it is a wall-clock reading, and this
        text is saved in notebook 16.
        """
        if self.backend == "redis":
            lines = [
                f"ran on {self.where or self.backend} (run.seconds has the wall-clock time it took)"
            ]
        else:
            lines = [f"ran on {self.where or self.backend} in {self.seconds:.1f} virtual s"]
        for name in INSTANCES:
            parts = ", ".join(str(p) for p in sorted(self.owners.get(name, ())))
            fate = "killed" if name == self.killed else "stopped cleanly"
            lines.append(
                f"{name}: read partition(s) {parts or '-'} at first, handled {self.handled.get(name, 0)} "
                f"views, {fate}"
            )
        if self.killed is not None:
            how = (
                "claimed from the pending-entries list"
                if self.backend == "redis"
                else "redelivered from the last committed offset"
            )
            lines.append(
                f"in flight in {self.killed} when it died: {self.in_flight_at_kill}; {how} by "
                f"{self.survivor}: {self.claimed}"
            )
        if self.deliveries:
            lines.append(
                f"the poison view was delivered {self.deliveries} time(s) before it was dead-lettered "
                "(XPENDING's count)"
            )
        return "\n".join(lines)


def _outcome(
    backend,
    views_in,
    recs,
    dead_rows,
    spans,
    *,
    killed,
    kill_time,
    owners,
    in_flight,
    claimed,
    seconds,
    where,
) -> Run:
    """Build a :class:`Run` from events read back from either backend.

    ``views_in``: the view events in produced order per partition; ``recs``:
    the recommendation events in topic order; ``dead_rows``: dicts with key,
    error, message, attempts (and deliveries on Redis); ``spans``: a frame
    with instance, partition, started, outcome.
    """
    good = [e for e in views_in if not is_poison(e.payload)]
    ids = {e.id for e in good}
    causes = [r.causation_id for r in recs]
    distinct = set(causes) & ids
    per_user: dict = {}
    for e in good:
        per_user.setdefault(e.key, []).append(e.id)
    seen: dict = {}
    for r in recs:
        seen.setdefault(r.key, []).append(r.causation_id)
    in_order = all(list(dict.fromkeys(seen.get(u, []))) == order for u, order in per_user.items())
    handled = spans[spans.outcome == "handled"]
    survivor = None
    taken = False
    if killed is not None:
        survivor = next(n for n in INSTANCES if n != killed)
        theirs = set(owners.get(killed, ()))
        after = handled[
            (handled.instance == survivor)
            & handled.partition.isin(theirs)
            & (handled.started >= kill_time)
        ]
        taken = len(after) > 0
    counts = handled.groupby("instance").size().to_dict()
    return Run(
        backend=backend,
        produced=len(views_in),
        good=len(good),
        recommended=len(distinct),
        duplicated=len(causes) - len(set(causes)),
        lost=len(ids - distinct),
        dead=dead_rows,
        killed=killed,
        survivor=survivor,
        taken_over=taken,
        in_order=in_order,
        handled={k: int(v) for k, v in counts.items()},
        owners=owners,
        in_flight_at_kill=in_flight,
        claimed=claimed,
        seconds=seconds,
        where=where,
    )


def _check(kill, max_deliveries, all_transient, n) -> None:
    if not isinstance(kill, bool):
        raise TypeError(f"kill must be True or False, got {kill!r}")
    if (
        isinstance(max_deliveries, bool)
        or not isinstance(max_deliveries, int)
        or not 1 <= max_deliveries <= 10
    ):
        raise ValueError(
            f"max_deliveries must be a whole number from 1 to 10, got {max_deliveries!r}"
        )
    if not isinstance(all_transient, bool):
        raise TypeError(f"all_transient must be True or False, got {all_transient!r}")
    if isinstance(n, bool) or not isinstance(n, int) or not 6 <= n <= 90:
        raise ValueError(f"n must be a whole number of views from 6 to 90, got {n!r}")


def run_story(
    backend: Backend | str | None = None,
    *,
    kill: bool = True,
    max_deliveries: int = 3,
    all_transient: bool = True,
    n: int = 30,
) -> Run:
    """Produce ``n`` views and a poison one, consume them with two recommenders, kill one mid-stream; report.

    ``backend``: a :class:`Backend`, a Redis URL, or None/``"simulator"`` for
    the simulator. ``max_deliveries``: tries before the poison view is
    dead-lettered (Redis: deliveries counted by the pending-entries list;
    simulator: the retry policy's attempts). ``all_transient``: treat every
    error as transient (True), or let the default policy treat ``ValueError``
    as permanent and dead-letter at once (False). Both backends use the
    idempotent policy (an inbox of event ids), so a redelivered view never
    recommends twice.
    """
    _check(kill, max_deliveries, all_transient, n)
    if isinstance(backend, str) and backend != "simulator":
        backend = Backend("redis", backend, "the given server")
    if isinstance(backend, Backend) and backend.redis:
        return _run_redis(
            backend.url,
            n=n,
            kill=kill,
            max_deliveries=max_deliveries,
            all_transient=all_transient,
            where=str(backend),
        )
    return _run_sim(n=n, kill=kill, max_deliveries=max_deliveries, all_transient=all_transient)


# ----------------------------------------------------------------------------- on the simulator


def _run_sim(*, n, kill, max_deliveries, all_transient, seed: int = 13) -> Run:
    from eda_sim.core.simulation import Simulation
    from eda_sim.services.load import Source
    from eda_sim.services.retries import dead_letters
    from eda_sim.services.service import Service, spans_frame

    items = views(n)
    # Sessions shorter than a real broker allows: Kafka refuses a session.timeout.ms under
    # group.min.session.timeout.ms (6 s by default), so this demo lowers the broker's minimum.
    sim = Simulation(
        seed=seed, name="real-broker", broker_config={"group.min.session.timeout.ms": 100}
    )
    for topic in (VIEWS, RECOMMENDATIONS):
        sim.create_topic(topic, partitions=PARTITIONS)
    Source(sim, "frontend", VIEWS, items, key="user_id", produces=["UserViewedProduct"])
    config = {
        "session.timeout.ms": SESSION_TIMEOUT_MS,
        "heartbeat.interval.ms": SESSION_TIMEOUT_MS // 4,
        "partition.assignment.strategy": "roundrobin",
    }
    svc = Service(
        sim,
        SERVICE,
        consumes=VIEWS,
        handlers={"UserViewedProduct": recommender_handler()},
        produces={RECOMMENDATIONS: ["RecommendationGenerated"]},
        instances=2,
        processing_time=WORK,
        retry=_retry(max_deliveries, all_transient, CLAIM_IDLE_MS / 1000),
        idempotent=True,
        max_in_flight=5,
        poll_timeout=0.02,
        config=config,
    )
    end = items[-1]["time"] + 5.0
    sim.run(until=0.2)
    owners = {i.name: sorted(tp.partition for tp in i.consumer.assignment()) for i in svc.instances}
    killed, kill_time, in_flight = None, float("inf"), 0
    if kill:
        sim.run(until=round(0.4 * items[-1]["time"], 3))
        poisoned = crc32_partition(POISON_USER.encode(), PARTITIONS)
        victim = next(i for i in svc.instances if poisoned not in owners[i.name])
        killed, kill_time = victim.name, sim.now
        done = {(s.partition, s.offset) for s in sim.spans if s.instance == killed}
        offsets = sim.offsets(SERVICE, VIEWS)
        for row in offsets.itertuples(index=False):
            if row.partition in owners[killed]:
                start = 0 if pd.isna(row.committed) else int(row.committed)  # nothing committed
                in_flight += sum(
                    1 for o in range(start, int(row.log_end)) if (row.partition, o) in done
                )
        sim.crash(victim)
    sim.run(until=end)
    views_in = [
        Event.from_json(r.value) for log in sim.topic(VIEWS).partitions for r in log.records()
    ]
    views_in.sort(key=lambda e: e.time)
    recs = [
        Event.from_json(r.value)
        for log in sim.topic(RECOMMENDATIONS).partitions
        for r in log.records()
    ]
    dead = (
        [
            {"key": r.key, "error": r.error, "message": r.message, "attempts": int(r.attempts)}
            for r in dead_letters(sim, DLT).itertuples(index=False)
        ]
        if DLT in sim.broker.topics
        else []
    )
    return _outcome(
        "simulator",
        views_in,
        recs,
        dead,
        spans_frame(sim, SERVICE),
        killed=killed,
        kill_time=kill_time,
        owners=owners,
        in_flight=in_flight,
        claimed=svc.inbox.refused,
        seconds=end,
        where="the simulator",
    )


# ----------------------------------------------------------------------------- on Redis, in real processes


def produce(url: str, items: list, go=None, every: float = EVERY) -> int:
    """The frontend process: wait for ``go``, then publish ``items`` as events ``every`` seconds; return how many."""
    from eda_sim.backends.redis.backend import Producer, publish

    if go is not None and not go.wait(30):
        return 0
    producer = Producer({"bootstrap.servers": url, "client.id": "frontend"})
    started = time.monotonic()
    try:
        for i, item in enumerate(items):
            payload = {k: v for k, v in item.items() if k not in ("time", "type")}
            event = Event.create(
                item["type"],
                payload,
                key=payload["user_id"],
                time=item["time"],
                id=f"evt-{i + 1:06d}",
            )
            publish(producer, VIEWS, event)
            producer.flush()
            delay = started + (i + 1) * every - time.monotonic()
            if delay > 0:
                time.sleep(delay)
    finally:
        producer.close()
    return len(items)


def consume(
    url: str, instance: str, max_deliveries: int = 3, all_transient: bool = True, work: float = WORK
) -> dict:
    """One recommender process: notebook 13's handler under :func:`~eda_sim.backends.redis.backend.run_service`.

    Idempotent, ``max_deliveries`` tries for a failing view (one per
    delivery), claims after :data:`CLAIM_IDLE_MS`, session
    :data:`SESSION_TIMEOUT_MS`; SIGTERM stops it cleanly, SIGKILL leaves its
    pending entries to be claimed.
    """
    from eda_sim.backends.redis.backend import run_service

    return run_service(
        url,
        SERVICE,
        VIEWS,
        {"UserViewedProduct": _working(recommender_handler(), work)},
        produces={RECOMMENDATIONS: ["RecommendationGenerated"]},
        retry=_retry(1, all_transient, 0.0),
        idempotent=True,
        max_deliveries=max_deliveries,
        claim_idle_ms=CLAIM_IDLE_MS,
        session_timeout_ms=SESSION_TIMEOUT_MS,
        max_in_flight=5,
        poll_timeout=0.02,
        instance=instance,
        config={"heartbeat.interval.ms": 50},
    )


_CONTEXT = None


def _processes():
    """The multiprocessing context: forkserver (children fork from a server that imported this module, the
    backend and the redis client once) where the platform has it, else spawn."""
    global _CONTEXT
    if _CONTEXT is None:
        if "forkserver" in multiprocessing.get_all_start_methods():
            _CONTEXT = multiprocessing.get_context("forkserver")
            _CONTEXT.set_forkserver_preload([__name__, "eda_sim.backends.redis.backend", "redis"])
        else:  # pragma: no cover - Windows
            _CONTEXT = multiprocessing.get_context("spawn")
    return _CONTEXT


def warm_up() -> None:
    """Start the forkserver now (it imports this module once, in the background), so the first run is quicker."""
    ctx = _processes()
    if ctx.get_start_method() == "forkserver":
        from multiprocessing import forkserver

        forkserver.ensure_running()


def reset(url: str) -> None:
    """Delete this scenario's topics and the ``recommender`` group's keys (inbox, spans, attempts, leases)."""
    from eda_sim.backends.redis.backend import connect, delete_topic, topics

    client = connect(url)
    try:
        existing = topics(client)
        for topic in (VIEWS, RECOMMENDATIONS, DLT):
            if topic in existing:
                delete_topic(client, topic)
        keys = [f"eda:{kind}:{SERVICE}" for kind in ("inbox", "attempts", "spans")]
        keys += list(client.scan_iter(match=f"eda:group:{SERVICE}:*", count=1000))
        client.delete(*keys)
    finally:
        client.close()


def _wait(check, timeout: float, every: float = 0.005) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(every)
    return False


def _now_s() -> float:
    return time.time() - SIM_EPOCH.timestamp()


def _run_redis(url: str, *, n, kill, max_deliveries, all_transient, where: str = "") -> Run:
    from eda_sim.backends.redis.backend import (
        connect,
        create_topic,
        dead_letters,
        pending,
        read_topic,
        spans_frame,
    )

    started = time.monotonic()
    items = views(n)
    good = sum(1 for i in items if i.get("product_id"))
    reset(url)
    for topic in (VIEWS, RECOMMENDATIONS, DLT):
        create_topic(url, topic, PARTITIONS)
    client = connect(url)
    ctx = _processes()
    go = ctx.Event()
    procs = {
        name: ctx.Process(
            target=consume, args=(url, name, max_deliveries, all_transient), name=name, daemon=True
        )
        for name in INSTANCES
    }
    procs["frontend"] = ctx.Process(
        target=produce, args=(url, items, go), name="frontend", daemon=True
    )
    owners = {
        name: [p for p in range(PARTITIONS) if p % len(INSTANCES) == i]
        for i, name in enumerate(INSTANCES)
    }
    leases = {p: f"eda:group:{SERVICE}:lease:{VIEWS}:{p}" for p in range(PARTITIONS)}
    killed, kill_time, in_flight = None, float("inf"), 0

    def recommended():
        return sum(client.xlen(f"{RECOMMENDATIONS}:{p}") for p in range(PARTITIONS))

    try:
        for p in procs.values():
            p.start()

        def joined():
            dead = [p.name for p in procs.values() if p.exitcode is not None]
            if dead:
                raise RuntimeError(
                    f"process(es) {', '.join(dead)} ended before the run started (exit codes "
                    f"{[procs[d].exitcode for d in dead]}); is {url} still reachable?"
                )
            return all(
                client.get(leases[p]) == name.encode()
                for name, parts in owners.items()
                for p in parts
            )

        if not _wait(joined, 60, every=0.01):
            raise RuntimeError(
                f"the two recommender processes did not join the group on {url} within 60 s"
            )
        go.set()
        if kill:
            victim = INSTANCES[0]

            def busy():  # a third of the way or more, with views in flight in the victim (at half-way regardless)
                done = recommended()
                if done < 0.35 * good:
                    return False
                return done >= 0.5 * good or any(
                    c["name"] == victim.encode() and c["pending"]
                    for p in owners[victim]
                    for c in client.xpending(f"{VIEWS}:{p}", SERVICE)["consumers"]
                )

            _wait(busy, 30, every=0.002)
            procs[victim].kill()  # SIGKILL: no ack, no leave; its entries stay pending
            procs[victim].join(5)
            killed, kill_time = victim, _now_s()
            held = pending(url, VIEWS, SERVICE)
            in_flight = int((held.consumer == victim).sum())
            orphans = set(held[held.consumer == victim].entry_id)

        def finished():
            return (
                recommended() >= good
                and client.xlen(f"{DLT}:{crc32_partition(POISON_USER.encode(), 3)}")
                and pending(url, VIEWS, SERVICE).empty
            )

        _wait(finished, 30, every=0.02)
        procs["frontend"].join(10)
        for name in INSTANCES:
            if procs[name].is_alive():
                procs[name].terminate()  # SIGTERM: finish the batch, ack, leave
        for name in INSTANCES:
            procs[name].join(10)
    finally:
        for p in procs.values():
            if p.is_alive():
                p.kill()
                p.join(5)
        client.close()
    views_in = [Event.from_json(m.value()) for m in read_topic(url, VIEWS)]
    views_in.sort(key=lambda e: e.time)
    recs = [Event.from_json(m.value()) for m in read_topic(url, RECOMMENDATIONS)]
    letters = dead_letters(url, DLT)
    dead = [
        {"key": r.key, "error": r.error, "message": r.message, "attempts": int(r.attempts)}
        for r in letters.itertuples(index=False)
    ]
    spans = spans_frame(url, SERVICE)
    claimed = 0
    if killed is not None:
        by_entry = {
            (m.partition(), m.entry_id()): Event.from_json(m.value()).id
            for m in read_topic(url, VIEWS)
        }
        orphan_ids = {eid for (p, e), eid in by_entry.items() if e in orphans}
        survivor = spans[(spans.instance != killed) & spans.event_id.isin(orphan_ids)]
        claimed = int(survivor.event_id.nunique())
    run = _outcome(
        "redis",
        views_in,
        recs,
        dead,
        spans,
        killed=killed,
        kill_time=kill_time,
        owners=owners,
        in_flight=in_flight,
        claimed=claimed,
        seconds=time.monotonic() - started,
        where=where or url,
    )
    run.deliveries = int(letters.deliveries.max()) if len(letters) else None
    return run


# ----------------------------------------------------------------------------- the brokers' words for the same ideas


#: What each broker named in the chapter, and Redis Streams here, calls the ideas of the course.
TERMS = {
    "the stream of events": {
        "Kafka": "topic",
        "Kinesis": "data stream",
        "Event Hubs": "event hub",
        "Pub/Sub": "topic",
        "Redis Streams": "N streams <topic>:<p>",
    },
    "unit of order and scale": {
        "Kafka": "partition",
        "Kinesis": "shard",
        "Event Hubs": "partition",
        "Pub/Sub": "none exposed; ordering key",
        "Redis Streams": "one stream per partition",
    },
    "position of an event": {
        "Kafka": "offset",
        "Kinesis": "sequence number",
        "Event Hubs": "offset, sequence number",
        "Pub/Sub": "none; ack per message",
        "Redis Streams": "entry id <ms>-<seq>",
    },
    "independent reader": {
        "Kafka": "consumer group",
        "Kinesis": "consumer application (KCL)",
        "Event Hubs": "consumer group",
        "Pub/Sub": "subscription",
        "Redis Streams": "consumer group",
    },
    "progress saved": {
        "Kafka": "committed offset",
        "Kinesis": "checkpoint (DynamoDB lease)",
        "Event Hubs": "checkpoint",
        "Pub/Sub": "ack (ack deadline)",
        "Redis Streams": "XACK; pending entries list",
    },
    "how long events stay": {
        "Kafka": "retention.ms / .bytes",
        "Kinesis": "retention period (24 h+)",
        "Event Hubs": "retention time",
        "Pub/Sub": "message retention duration",
        "Redis Streams": "MAXLEN / MINID trimming",
    },
    "poison events": {
        "Kafka": "dead-letter topic (yours); share groups: delivery count, limit",
        "Kinesis": "none built in",
        "Event Hubs": "none built in",
        "Pub/Sub": "dead-letter topic, max attempts",
        "Redis Streams": "delivery count (XPENDING)",
    },
}

BROKERS = ("Kafka", "Kinesis", "Event Hubs", "Pub/Sub", "Redis Streams")


def broker_terms():
    """:data:`TERMS` as a DataFrame: one row per idea, one column per broker.

    Kinesis is Amazon Kinesis Data Streams (readers built with the Kinesis
    Client Library keep leases and checkpoints in a DynamoDB table; retention
    from 24 hours up to 365 days); Event Hubs is Azure Event Hubs (checkpoints
    kept in a store the reading client chooses); Pub/Sub is Google Cloud
    Pub/Sub (each subscription gets every message and its subscribers share
    them; ordering keys give per-key order; a dead-letter policy takes a
    maximum of 5 to 100 delivery attempts).
    """
    import pandas as pd

    frame = pd.DataFrame.from_dict(TERMS, orient="index", columns=list(BROKERS))
    frame.index.name = "idea"
    return frame
