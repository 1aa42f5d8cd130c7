"""``Simulation``: one deterministic world with a virtual clock, a broker and a journal.

Everything in a simulation happens on a virtual clock (SimPy's environment):
nothing waits for real time, and nothing reads the wall clock. One seeded
random generator makes every random choice, so the same seed and the same
calls give the same journal, byte for byte.

Clients find their simulation through ``bootstrap.servers``: a simulation
named ``local`` answers at ``sim://local`` (its ``bootstrap_servers``). That
keeps a learner's client code the same shape as code for a real cluster, where
``bootstrap.servers`` names the brokers. Creating a simulation with a name that
is taken replaces the older one, so re-running a notebook cell just works.

The registry of names holds simulations *weakly*: keep a reference to your
simulation (``sim = Simulation(...)``) for as long as clients should reach it.
A simulation nothing refers to any more is freed like any other object, and
its address then answers ``_TRANSPORT`` with a message that says so. Holding
every world a long kernel or test run ever made would keep all their journals
in memory (a million-record run holds hundreds of megabytes).

Example::

    sim = Simulation(seed=7)
    sim.create_topic("clicks", partitions=3)
    p = sim.producer()
    for i in range(6):
        p.produce("clicks", key=f"user-{i % 2}", value=f"click {i}")
    p.flush()                            # advances the clock until acknowledged
    sim.journal.frame(kind="appended")   # what the broker did, as a DataFrame
"""

from __future__ import annotations

import random
import weakref
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import simpy

from eda_sim.broker.group import Group
from eda_sim.broker.group_consumer import BROKER_DEFAULTS, ConsumerGroup, check_broker_settings
from eda_sim.broker.topics import Broker
from eda_sim.broker.transactions import TransactionCoordinator
from eda_sim.core.checks import instant, seconds
from eda_sim.core.errors import fail
from eda_sim.core.journal import Journal
from eda_sim.core.measures import lag
from eda_sim.core.spans import SpanLog

if TYPE_CHECKING:
    import pandas as pd

    from eda_sim.broker.topics import Topic
    from eda_sim.kafka.consumer import Consumer
    from eda_sim.kafka.producer import Producer
    from eda_sim.services.members import Member

_SIMULATIONS: weakref.WeakValueDictionary[str, Simulation] = weakref.WeakValueDictionary()
_FREED: set = set()  # names whose simulation was garbage-collected, for a clearer error


def _freed(name: str) -> None:
    if name not in _SIMULATIONS:
        _FREED.add(name)


_INF = float("inf")


def resolve_simulation(bootstrap_servers: str | None) -> Simulation:
    """Find the live simulation that ``bootstrap.servers`` names (``sim://NAME``)."""
    live = (
        ", ".join(f"sim://{n}" for n in sorted(_SIMULATIONS)) or "none (create a Simulation first)"
    )
    if not bootstrap_servers:
        raise fail(
            "_INVALID_ARG",
            f'set "bootstrap.servers" to a simulation\'s address, e.g. sim.bootstrap_servers; live: {live}',
        )
    if not bootstrap_servers.startswith("sim://"):
        raise fail(
            "_INVALID_ARG",
            f"bootstrap.servers={bootstrap_servers!r} is not a simulation. The simulated client only reaches "
            f"sim://NAME addresses (live: {live}); for a real Kafka cluster use confluent_kafka itself.",
        )
    name = bootstrap_servers[len("sim://") :]
    sim = _SIMULATIONS.get(name)
    if sim is None:
        if name in _FREED:
            raise fail(
                "_TRANSPORT",
                f"no simulation answers at {bootstrap_servers!r}: the Simulation called {name!r} was "
                f"freed because nothing referred to it any more. Keep a reference to it "
                f"(sim = Simulation(name={name!r}, ...)) while clients use it; live: {live}",
            )
        raise fail("_TRANSPORT", f"no simulation answers at {bootstrap_servers!r}; live: {live}")
    return sim


class Simulation:
    """A deterministic world: clock, seeded randomness, one broker, a journal.

    ``seed`` fixes every random choice; ``journal=False`` keeps counts but
    stores no rows (for benchmarks); ``network_latency`` is the one-way delay
    between a client and the broker, in virtual seconds. ``brokers`` above 1
    builds a cluster (:mod:`eda_sim.broker.replication`) whose brokers are numbered
    from 0, with ``broker_config`` for its settings (``min.insync.replicas``,
    ``unclean.leader.election.enable``, ``replica.lag.time.max.ms``,
    ``broker.session.timeout.ms``, ``default.replication.factor``).
    ``broker_config`` also takes the group coordinator's settings, with one
    broker or many (:data:`eda_sim.broker.group_consumer.BROKER_DEFAULTS`): a
    demo that needs sessions shorter than Kafka allows lowers
    ``group.min.session.timeout.ms`` here, in the open.
    """

    def __init__(
        self,
        seed: int = 0,
        *,
        name: str = "local",
        journal: bool = True,
        network_latency: float = 0.002,
        brokers: int = 1,
        broker_config: dict | None = None,
    ):
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise TypeError(f"seed must be an int, got {type(seed).__name__}")
        if not isinstance(name, str) or not name or "/" in name:
            raise ValueError(f"name must be a non-empty string without '/', got {name!r}")
        seconds(network_latency, "network_latency")
        if isinstance(brokers, bool) or not isinstance(brokers, int) or brokers < 1:
            raise ValueError(f"brokers must be a whole number >= 1, got {brokers!r}")
        if broker_config is not None and not isinstance(broker_config, dict):
            raise TypeError(
                f"broker_config must be a dict of broker settings, got {broker_config!r}"
            )
        # Group-coordinator settings (BROKER_DEFAULTS) hold on any broker; the rest set up replication.
        group_settings = {k: v for k, v in (broker_config or {}).items() if k in BROKER_DEFAULTS}
        cluster_settings = {
            k: v for k, v in (broker_config or {}).items() if k not in BROKER_DEFAULTS
        }
        if brokers == 1 and cluster_settings:
            raise ValueError(
                f"broker_config {', '.join(map(repr, cluster_settings))}: replication settings need "
                "brokers >= 2 (e.g. Simulation(brokers=3, ...)); settings of the group coordinator "
                f"work with one broker: {', '.join(BROKER_DEFAULTS)}"
            )
        self.seed = seed
        self.name = name
        self.env = simpy.Environment()
        self.random = random.Random(seed)
        self.journal = Journal(self.env, enabled=journal)
        self.network_latency = float(network_latency)
        self.cluster = None
        if brokers > 1:
            from eda_sim.broker.replication import Cluster

            self.cluster = Cluster(self, brokers, cluster_settings)
        self.broker = Broker(self)
        self.transactions = TransactionCoordinator(self)
        self.groups: dict[str, Group] = {}
        self.share_groups: dict = {}  # group id -> eda_sim.broker.share_group.ShareGroup
        #: Broker settings of the group coordinator (session limits, offset retention, ``group.consumer.*``,
        #: ``group.share.*``): Kafka's defaults, with what ``broker_config`` set.
        self.broker_config: dict = dict(BROKER_DEFAULTS)
        self.broker_config.update(group_settings)
        check_broker_settings(self)
        self.members: dict = {}  # name -> Member, for processes on the clock
        self.producers: dict = {}  # name -> Producer
        self.services: dict = {}  # name -> Service (eda_sim.services.service)
        self.spans = SpanLog()  # one Span per event a service finished handling, in order
        self.event_catalog: dict = {}  # event type -> {(producer or service, topic)} declared
        self._counters: dict = {}
        self._running = False
        self._data_signal = self.env.event()
        self.data_version = 0  # counts signal_data calls: a consumer fetches again when it moved
        _SIMULATIONS[name] = self
        _FREED.discard(name)
        weakref.finalize(self, _freed, name)

    def __repr__(self) -> str:
        return f"Simulation(seed={self.seed}, name={self.name!r}, now={self.now:g})"

    # -- the clock -------------------------------------------------------------------

    @property
    def now(self) -> float:
        """The virtual time, in seconds since the simulation started."""
        return self.env.now

    @property
    def bootstrap_servers(self) -> str:
        """The address clients use to reach this simulation: ``sim://NAME``."""
        return f"sim://{self.name}"

    def step(self, horizon: float = 60.0) -> list:
        """Advance to the next thing that happens; return the journal rows it wrote.

        Runs the clock until at least one journal row is written, nothing is
        left to do, or ``horizon`` virtual seconds pass (idle members keep
        polling, so an idle world would otherwise never stop).
        """
        self.require_outside_run("Simulation.step")
        seconds(horizon, "horizon", positive=True)
        before = self.journal.written
        stored = len(self.journal)
        deadline = self.now + horizon
        while self.journal.written == before and self.advance(deadline):
            pass
        return self.journal.rows()[stored:] if self.journal.enabled else []

    def run(self, until: float) -> Simulation:
        """Run the clock up to virtual time ``until`` (seconds); returns the simulation."""
        self.require_outside_run("Simulation.run")
        instant(until, "until", not_before=self.now)
        if until > self.now:
            self._running = True
            try:
                self.env.run(until=until)
            finally:
                self._running = False
        return self

    def at(self, time: float, action: Callable[..., Any], *args: Any) -> None:
        """Call ``action(*args)`` at virtual time ``time`` (now or later)."""
        instant(time, "time", not_before=self.now)
        if not callable(action):
            raise TypeError(f"action must be a function to call at time {time:g}, got {action!r}")

        def later():
            yield self.env.timeout(time - self.now)
            action(*args)

        self.env.process(later())

    # -- for the client and broker layers: blocking calls and the data signal ----------

    def advance(self, deadline: float) -> bool:
        """Process the next event if it is due by ``deadline``; else move the clock to it. True if work was done.

        What a blocking client call (``consume``, ``flush``, ``commit``) loops on
        from a notebook cell.
        """
        env = self.env
        nxt = env.peek()
        if nxt <= deadline and nxt != _INF:
            self._running = True
            try:
                env.step()
            finally:
                self._running = False
            return True
        if deadline != _INF and deadline > env.now:
            self._running = True
            try:
                env.run(until=deadline)
            finally:
                self._running = False
        return False

    def require_outside_run(self, what: str) -> None:
        """Refuse a blocking call (``what``) made from a process on the clock: it would deadlock."""
        if self._running:
            raise RuntimeError(
                f"{what} blocks on the virtual clock and cannot be called from a process on that clock; "
                "call it from a notebook cell, or use a Member to run a consumer on the clock"
            )

    @property
    def running(self) -> bool:
        """Whether a process on the clock is running now (a blocking call would deadlock)."""
        return self._running

    @property
    def data_signal(self) -> simpy.Event:
        """The event a waiting poll yields on; :meth:`signal_data` fires it when records arrive."""
        return self._data_signal

    def signal_data(self) -> None:
        """Wake every poll waiting for records (a produce or a committed transaction made some readable)."""
        self.data_version += 1
        sig = self._data_signal
        if sig.callbacks:
            sig.succeed()
            self._data_signal = self.env.event()

    # -- names, deterministic ---------------------------------------------------------

    def next_number(self, counter: str) -> int:
        """The next number (1, 2, ...) of the named counter: deterministic ids and names."""
        n = self._counters.get(counter, 0) + 1
        self._counters[counter] = n
        return n

    def new_member_id(self, client_id: str) -> str:
        """A new group member id for ``client_id`` (``client_id-N``)."""
        return f"{client_id}-{self.next_number('member:' + client_id)}"

    def new_producer_name(self, client_id: str, given: str | None) -> str:
        """``given`` if no producer has it yet, else the next ``producer-N``."""
        name = (
            given
            if given and given not in self.producers
            else f"producer-{self.next_number('producer')}"
        )
        return name

    def new_producer_id(self) -> int:
        """A new producer id (PID) for an idempotent or transactional producer."""
        return 1000 + self.next_number("producer-id")

    def ensure_group(self, group_id: str, protocol: str | None = None) -> Group:
        """The group ``group_id``, created if new; a member joining with ``protocol`` sets an empty group's protocol."""
        group = self.groups.get(group_id)
        if group is None or (
            protocol is not None and group.protocol_type != protocol and not group.members
        ):
            kind = ConsumerGroup if protocol == "consumer" else Group
            new = kind(self, group_id)
            if group is not None:
                # the offsets belong to the group id, whatever its protocol
                new.committed, new.committed_at = group.committed, group.committed_at
            group = self.groups[group_id] = new
        return group

    def on_partitions_changed(self, topic: str, reason: str | None = None) -> None:
        """Rebalance every group subscribed to ``topic``: its partitions changed (``reason`` says how)."""
        for gid in sorted(self.groups):
            group = self.groups[gid]
            if any(topic in c.subscribed_topics for c in group.members.values()):
                group.rebalance(reason or f"{topic} gained partitions")

    # The old private names, kept only while branches written before the rename land; new code
    # uses the public names above (tests/test_layout.py counts reaches like ``sim._advance``).
    _advance = advance
    _require_outside_run = require_outside_run
    _signal_data = signal_data
    _next = next_number
    _new_member_id = new_member_id
    _new_producer_name = new_producer_name
    _new_producer_id = new_producer_id
    _group = ensure_group
    _on_partitions_changed = on_partitions_changed

    # -- building the world -------------------------------------------------------------

    def create_topic(
        self,
        name: str,
        partitions: int = 1,
        config: dict | None = None,
        replication_factor: int | None = None,
    ) -> Topic:
        """Create a topic with ``partitions`` partitions (and optional retention config).

        With ``Simulation(brokers=N)`` each partition gets ``replication_factor``
        replicas on different brokers, and ``config`` may also set
        ``min.insync.replicas`` and ``unclean.leader.election.enable``.
        """
        return self.broker.create_topic(name, partitions, config, replication_factor)

    def add_partitions(self, name: str, total: int) -> Topic:
        """Grow a topic to ``total`` partitions; subscribed groups rebalance."""
        return self.broker.add_partitions(name, total)

    def topic(self, name: str) -> Topic:
        """The topic called ``name`` (a clear error lists the topics if there is none)."""
        return self.broker.topic(name)

    def producer(self, config: dict | None = None, **settings: Any) -> Producer:
        """A :class:`~eda_sim.kafka.producer.Producer` bound to this simulation.

        Settings may be given as a dict of librdkafka keys or as keyword
        arguments with ``_`` for ``.`` (``enable_idempotence=True``).
        """
        from eda_sim.kafka.producer import Producer

        cfg = _merge(config, settings)
        cfg.setdefault("bootstrap.servers", self.bootstrap_servers)
        p = Producer(cfg, sim=self)
        self.producers[p.name] = p
        return p

    def consumer(self, config: dict | None = None, **settings: Any) -> Consumer:
        """A :class:`~eda_sim.kafka.consumer.Consumer` bound to this simulation."""
        from eda_sim.kafka.consumer import Consumer

        cfg = _merge(config, settings)
        cfg.setdefault("bootstrap.servers", self.bootstrap_servers)
        return Consumer(cfg, sim=self)

    def member(self, group_id: str, topics: list[str], **options: Any) -> Member:
        """Start a group member as a process on the clock; see :class:`~eda_sim.services.members.Member`."""
        from eda_sim.services.members import Member

        return Member(self, group_id, topics, **options)

    # -- faults ----------------------------------------------------------------------------

    def lose_acks(self, producer: Producer, n: int = 1) -> None:
        """Make the next ``n`` acknowledgements to ``producer`` get lost on the way back."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 1:
            raise ValueError(f"n must be a whole number >= 1, got {n!r}")
        producer.lose_acks(n)

    def crash(self, target: Member | Consumer | Producer, at: float | None = None) -> None:
        """Crash a Member, Consumer or Producer now or at virtual time ``at``: no commit, no leave."""
        if at is not None and instant(at, "at", not_before=self.now) > self.now:
            return self.at(at, self.crash, target)
        if hasattr(target, "crash"):
            target.crash()
        else:
            raise TypeError(f"crash() expects a Member or a Consumer, got {type(target).__name__}")

    def restart(self, target: Member | Consumer, at: float | None = None) -> None:
        """Restart a crashed Member or Consumer now or at ``at``; it rejoins as a new member."""
        if at is not None and instant(at, "at", not_before=self.now) > self.now:
            return self.at(at, self.restart, target)
        if hasattr(target, "restart"):
            target.restart()
        else:
            raise TypeError(
                f"restart() expects a Member or a Consumer, got {type(target).__name__}"
            )

    # -- broker faults (a cluster: Simulation(brokers=N)) ----------------------------------------

    def _cluster(self, what: str):
        if self.cluster is None:
            raise RuntimeError(
                f"{what} needs a cluster of brokers: create the simulation with Simulation(brokers=3)"
            )
        return self.cluster

    def _later(self, at, action, *args) -> bool:
        if at is not None and at > self.now:
            self.at(at, action, *args)
            return True
        return False

    def crash_broker(self, broker: int, at: float | None = None) -> None:
        """Broker ``broker`` stops abruptly, now or at virtual time ``at``; the controller notices after
        ``broker.session.timeout.ms`` and elects new leaders for its partitions."""
        cluster = self._cluster("crash_broker")
        cluster.node(broker)
        if not self._later(at, cluster.crash, broker):
            cluster.crash(broker)

    def restart_broker(self, broker: int, at: float | None = None) -> None:
        """A crashed broker comes back with its logs, now or at ``at``; its replicas catch up."""
        cluster = self._cluster("restart_broker")
        cluster.node(broker)
        if not self._later(at, cluster.restart, broker):
            cluster.restart(broker)

    def cut_broker(self, broker: int, at: float | None = None) -> None:
        """Drop replication traffic to and from ``broker`` (a network partition between brokers)."""
        cluster = self._cluster("cut_broker")
        cluster.node(broker)
        if not self._later(at, cluster.set_cut, broker, True):
            cluster.set_cut(broker, True)

    def heal_broker(self, broker: int, at: float | None = None) -> None:
        """Let replication traffic to and from ``broker`` flow again."""
        cluster = self._cluster("heal_broker")
        cluster.node(broker)
        if not self._later(at, cluster.set_cut, broker, False):
            cluster.set_cut(broker, False)

    def slow_broker(self, broker: int, delay: float, at: float | None = None) -> None:
        """Make each fetch of ``broker``'s followers take ``delay`` virtual seconds longer (0 = normal)."""
        cluster = self._cluster("slow_broker")
        cluster.node(broker)
        if isinstance(delay, bool) or not isinstance(delay, (int, float)) or not 0 <= delay < _INF:
            raise ValueError(f"delay must be a finite number of seconds >= 0, got {delay!r}")
        if not self._later(at, cluster.set_slow, broker, delay):
            cluster.set_slow(broker, delay)

    def faults(self, schedule: Iterable[tuple]) -> None:
        """Schedule broker faults: ``(time, action, broker[, delay])`` steps.

        ``action`` is one of ``crash``, ``restart``, ``cut``, ``heal``, ``slow``
        (``slow`` takes the extra delay in seconds as a fourth item).
        """
        actions = {
            "crash": self.crash_broker,
            "restart": self.restart_broker,
            "cut": self.cut_broker,
            "heal": self.heal_broker,
            "slow": self.slow_broker,
        }
        steps = list(schedule)
        for step in steps:
            if not isinstance(step, (tuple, list)) or len(step) not in (3, 4):
                raise ValueError(f"a fault step is (time, action, broker[, delay]), got {step!r}")
            if step[1] not in actions:
                raise ValueError(f"unknown fault {step[1]!r}; faults are: {', '.join(actions)}")
            if (len(step) == 4) != (step[1] == "slow"):
                raise ValueError(
                    f"only 'slow' takes a delay: (time, 'slow', broker, delay), got {step!r}"
                )
        for time, action, broker, *rest in steps:
            actions[action](broker, *rest, at=time)

    # -- looking at it ------------------------------------------------------------------------

    def group(self, group_id: str) -> Group:
        """The consumer group ``group_id``; a clear error lists the groups that exist."""
        if group_id not in self.groups:
            raise ValueError(
                f"unknown group {group_id!r}; groups are: {', '.join(sorted(self.groups)) or 'none yet'}"
            )
        return self.groups[group_id]

    def offsets(self, group_id: str | None = None, topic: str | None = None) -> pd.DataFrame:
        """Per partition: log start and end, and for each group its committed offset, lag and owner.

        A group is listed on the topics it subscribes to or has committed on
        (as ``kafka-consumer-groups --describe`` lists it), or on ``topic``
        when one is named. Topics no group reads appear once with an empty group.

        Lag is :func:`eda_sim.core.measures.lag`, the course's one definition:
        log-end offset minus committed offset, counted from the log start where
        the group has committed nothing yet (``kafka-consumer-groups`` prints
        "-" there; the committed column stays empty).
        """
        import pandas as pd

        groups = (
            [self.group(group_id)]
            if group_id is not None
            else [self.groups[g] for g in sorted(self.groups)]
        )
        topics = (
            [self.topic(topic)]
            if topic is not None
            else [self.broker.topics[t] for t in sorted(self.broker.topics)]
        )
        rows = []
        for t in topics:
            for log in t.partitions:
                base = {
                    "topic": t.name,
                    "partition": log.index,
                    "log_start": log.log_start_offset,
                    "log_end": log.log_end_offset,
                }
                subscribed = [
                    g
                    for g in groups
                    if any(t.name in c.subscribed_topics for c in g.members.values())
                    or any(tp[0] == t.name for tp in g.committed)
                ]
                if group_id is None and not subscribed:
                    rows.append(
                        {
                            **base,
                            "group": "",
                            "committed": None,
                            "lag": None,
                            "owner": "",
                            "position": None,
                        }
                    )
                # Like kafka-consumer-groups --describe: a group's rows are the topics it
                # subscribes to or has committed on, unless the caller names the topic.
                for g in groups if group_id is not None and topic is not None else subscribed:
                    committed = g.committed.get((t.name, log.index))
                    owner = g.owner.get((t.name, log.index), "")
                    consumer = g.members.get(owner)
                    position = (
                        consumer.positions.get((t.name, log.index))
                        if consumer is not None
                        else None
                    )
                    rows.append(
                        {
                            **base,
                            "group": g.group_id,
                            "committed": committed,
                            "lag": lag(log.log_start_offset, log.log_end_offset, committed),
                            "owner": owner,
                            "position": position,
                        }
                    )
        frame = pd.DataFrame(
            rows,
            columns=[
                "topic",
                "partition",
                "group",
                "log_start",
                "log_end",
                "committed",
                "lag",
                "owner",
                "position",
            ],
        )
        for col in ("committed", "lag", "position"):
            frame[col] = frame[col].astype("Int64")
        return frame

    def records(self, topic: str, decode: bool = True) -> pd.DataFrame:
        """Every retained record of ``topic`` as a DataFrame (partition, offset, time, key, value); markers left out."""
        import pandas as pd

        rows = []
        for log in self.topic(topic).partitions:
            txns = self.transactions.partitions.get((topic, log.index))
            for r in log.records():
                if txns is not None and r.offset in txns.markers:
                    continue  # a commit or abort marker: no reader is ever handed one
                key, value = r.key, r.value
                if decode:
                    key = key.decode(errors="replace") if key is not None else None
                    value = value.decode(errors="replace") if value is not None else None
                rows.append(
                    {
                        "partition": r.partition,
                        "offset": r.offset,
                        "time": r.timestamp,
                        "key": key,
                        "value": value,
                    }
                )
        return pd.DataFrame(rows, columns=["partition", "offset", "time", "key", "value"])


def _merge(config: dict | None, settings: dict) -> dict:
    cfg = dict(config or {})
    for key, value in settings.items():
        cfg[
            key.replace("_", ".") if key not in ("on_delivery", "on_commit", "error_cb") else key
        ] = value
    return cfg
