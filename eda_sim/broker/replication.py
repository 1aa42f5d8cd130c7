"""Replication: a cluster of brokers, leaders and followers, the ISR, and failover.

With ``Simulation(brokers=3)`` every partition of a topic created with
``replication_factor=3`` has three replicas, one per broker. One replica leads:
producers write to it, and consumers read from it. The others follow: each
sends fetch requests to the leader on the virtual clock and appends what comes
back. The rules are Kafka's:

* **log end offset** (LEO): per replica, one past the newest record it holds.
* **high watermark** (HW): the leader's HW is the smallest LEO among the
  in-sync replicas. Consumers read only below it, and a record below it is on
  every in-sync replica ("committed").
* **in-sync replicas** (ISR): the leader, and each follower that has caught up
  with the leader's log end within ``replica.lag.time.max.ms`` (default
  30000). A follower that falls further behind is dropped (``isr_shrunk``); one
  that catches up to the HW again is added back (``isr_expanded``).
* **acks**: with ``acks=1`` the leader answers once it has appended; with
  ``acks=all`` once the HW has passed the batch, so every in-sync replica has
  it. With ``acks=all`` and fewer in-sync replicas than ``min.insync.replicas``
  the leader refuses the write (``NOT_ENOUGH_REPLICAS``), or, when the ISR
  shrank after it appended, answers ``NOT_ENOUGH_REPLICAS_AFTER_APPEND``.
* **leader epochs**: every election starts a new epoch. A replica that follows
  a new leader first cuts its log back to where its history and the leader's
  part (KIP-101: the end of the last epoch both have), so replicas agree below
  the HW.
* **the controller** notices a crashed broker after
  ``broker.session.timeout.ms`` (KRaft's default 9000) and moves leadership of
  its partitions to the first live in-sync replica. With none left the
  partition is offline, unless ``unclean.leader.election.enable`` lets an
  out-of-sync replica lead: it then leads with what it has, and records the
  others had and it never got are gone.

* **preferred leaders**: with ``auto.leader.rebalance.enable`` (default true)
  the controller moves leadership back to each partition's first replica every
  ``leader.imbalance.check.interval.seconds`` (300) once it is in sync again.
* **the producer** (librdkafka's rules): retriable errors are retried with an
  exponential backoff from ``retry.backoff.ms`` up to 1 s, until ``retries``
  or ``message.timeout.ms`` runs out (then ``_MSG_TIMED_OUT``); a batch whose
  leader is gone waits for a new one. An idempotent producer's sequence numbers
  let a new leader drop a retried batch it already has and refuse one out of
  order; when an unclean election lost sequences it had acknowledged, it starts
  them afresh (librdkafka bumps the epoch, KIP-360).

Simplifications, named: the group and transaction coordinators do not fail
with their broker; the controller never fails; a follower copies a whole batch
per fetch with no size limit; compaction is not modelled on a cluster.

``Simulation(brokers=1)`` (the default) never builds this machinery: the
single broker keeps one plain log per partition.

Example::

    sim = Simulation(seed=1, brokers=3)
    sim.create_topic("payments", partitions=1, replication_factor=3,
                     config={"min.insync.replicas": 2})
    sim.crash_broker(0, at=5.0)
    sim.cluster.describe("payments")     # leader, replicas, ISR, HW, LEO per partition
"""

from __future__ import annotations

from bisect import bisect_left
from operator import itemgetter

from eda_sim.broker.topics import PartitionLog, Record
from eda_sim.core.errors import KafkaError, fail

#: Broker-level settings the cluster models, with Kafka's defaults.
BROKER_DEFAULTS = {
    "min.insync.replicas": 1,
    "unclean.leader.election.enable": False,
    "replica.lag.time.max.ms": 30000,
    "broker.session.timeout.ms": 9000,  # KRaft: how long until the controller fences a silent broker
    "default.replication.factor": 1,
    # the controller moves leadership back to each partition's first (preferred) replica
    "auto.leader.rebalance.enable": True,
    "leader.imbalance.check.interval.seconds": 300,
}

#: librdkafka's retry.backoff.max.ms default: the ceiling of its exponential retry backoff.
RETRY_BACKOFF_MAX_MS = 1000

#: Topic-level settings that override the broker's.
TOPIC_KEYS = ("min.insync.replicas", "unclean.leader.election.enable")


def _as_bool(key, value) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise fail("INVALID_CONFIG", f"{key!r} expects true or false, got {value!r}")


def _as_int(key, value, low: int) -> int:
    try:
        n = int(value)
    except (TypeError, ValueError):
        n = None
    if isinstance(value, bool) or n is None or n < low or (isinstance(value, float) and n != value):
        raise fail("INVALID_CONFIG", f"{key!r} expects a whole number >= {low}, got {value!r}")
    return n


def check_settings(settings: dict, allowed, where: str) -> dict:
    """Validate replication settings; unknown keys get an error listing the ones modelled."""
    out = {}
    for key, value in settings.items():
        if key not in allowed:
            raise fail(
                "INVALID_CONFIG",
                f"unknown {where} property {key!r}; the simulator models: {', '.join(allowed)}",
            )
        if key in ("unclean.leader.election.enable", "auto.leader.rebalance.enable"):
            out[key] = _as_bool(key, value)
        else:
            out[key] = _as_int(key, value, 1 if key != "replica.lag.time.max.ms" else 0)
    return out


def replication_options(sim, config: dict | None, replication_factor) -> tuple:
    """Split a topic's config into (plain config, replication factor, replication settings), checked.

    One broker (``sim.cluster is None``) keeps one copy: a replication factor
    above 1 is ``INVALID_REPLICATION_FACTOR``, as Kafka answers when a topic
    asks for more replicas than there are brokers.
    """
    config = dict(config or {})
    settings = check_settings(
        {k: config.pop(k) for k in list(config) if k in TOPIC_KEYS}, TOPIC_KEYS, "topic"
    )
    cluster = sim.cluster
    if cluster is not None and "compact" in str(config.get("cleanup.policy", "")):
        raise fail(
            "INVALID_CONFIG",
            "the simulator does not model compaction on a cluster of brokers yet; "
            "use cleanup.policy=delete, or a one-broker Simulation for compaction",
        )
    brokers = 1 if cluster is None else sum(n.alive for n in cluster.nodes)
    if replication_factor is None or replication_factor == -1:
        replication_factor = 1 if cluster is None else cluster.config["default.replication.factor"]
    if (
        isinstance(replication_factor, bool)
        or not isinstance(replication_factor, int)
        or not 1 <= replication_factor <= brokers
    ):
        raise fail(
            "INVALID_REPLICATION_FACTOR",
            f"replication_factor must be a whole number from 1 to the {brokers} live broker(s), "
            f"got {replication_factor!r}"
            + ("; Simulation(brokers=3) builds a cluster of three" if cluster is None else ""),
        )
    if cluster is None and settings.get("min.insync.replicas", 1) > 1:
        raise fail(
            "INVALID_CONFIG",
            "min.insync.replicas above 1 would refuse every acks=all write on a single broker; "
            "use Simulation(brokers=3) and replication_factor=3",
        )
    return config, replication_factor, settings


class Replica:
    """One copy of a partition on one broker: its log, high watermark and leader-epoch history."""

    __slots__ = ("broker", "log", "hw", "epochs", "batches", "producers")

    def __init__(self, broker: int, log: PartitionLog):
        self.broker = broker
        self.log = log
        self.hw = 0
        self.epochs: list = []  # (leader epoch, first offset written in it), as Kafka's epoch cache
        self.batches: list = []  # (base offset, count, producer id, base sequence, epoch)
        self.producers: dict = {}  # producer id -> [last sequence, {base sequence: base offset}]

    @property
    def leo(self) -> int:
        """The log end offset: one past the newest record this replica holds."""
        return self.log.log_end_offset

    def append(self, records: list, nbytes: int, now: float, pid, base_seq, epoch: int) -> int:
        """Append a batch written in leader epoch ``epoch``; return its first offset."""
        if not self.epochs or self.epochs[-1][0] < epoch:
            self.epochs.append((epoch, self.leo))
        first = self.log.append(records, nbytes, now)
        self.batches.append((first, len(records), pid, base_seq, epoch, nbytes))
        if pid is not None:
            state = self.producers.get(pid)
            if state is None:
                state = self.producers[pid] = [-1, {}]
            state[0] = base_seq + len(records) - 1
            state[1][base_seq] = first
            if len(state[1]) > 5:  # Kafka remembers the last five batches per producer
                del state[1][min(state[1])]
        return first

    def truncate(self, offset: int) -> int:
        """Cut the log back to ``offset``; return how many records went."""
        gone = self.leo - offset
        if gone <= 0:
            return 0
        self.log.truncate(offset)
        while self.batches and self.batches[-1][0] >= offset:
            self.batches.pop()
        while self.epochs and self.epochs[-1][1] >= offset:
            self.epochs.pop()
        if self.hw > offset:
            self.hw = offset
        # The producer state is rebuilt from the batches that are left, as Kafka rebuilds it from the log.
        self.producers = {}
        for first, count, pid, seq, _epoch, _n in self.batches:
            if pid is not None:
                state = self.producers.setdefault(pid, [-1, {}])
                state[0] = seq + count - 1
                state[1][seq] = first
                if len(state[1]) > 5:
                    del state[1][min(state[1])]
        return gone

    def restart_at(self, offset: int, now: float) -> None:
        """Drop the whole log and continue empty from ``offset`` (the leader no longer has older records)."""
        log = self.log
        fresh = PartitionLog(log.topic, log.index, log.config, now)
        fresh._base = fresh.log_start_offset = fresh._segments[0].base = offset
        self.log = fresh
        self.batches = []
        self.producers = {}
        self.epochs = [e for e in self.epochs if e[1] < offset][-1:]
        self.hw = offset

    def epoch_end(self, epoch: int) -> int:
        """Where ``epoch`` ends in this replica's history: the start of the next epoch, or the LEO."""
        for i, (e, _start) in enumerate(self.epochs):
            if e == epoch:
                return self.epochs[i + 1][1] if i + 1 < len(self.epochs) else self.leo
        return -1


def divergence(follower: Replica, leader: Replica) -> int:
    """The offset a follower must truncate to before following ``leader`` (KIP-101).

    Walk both leader-epoch histories: where an epoch starts at the same offset
    on both, the logs agree up to the end of that epoch on the shorter side;
    the first epoch the leader does not have (or has starting elsewhere) is
    where the follower's history parts from the leader's.
    """
    leader_starts = dict(leader.epochs)
    for i, (epoch, start) in enumerate(follower.epochs):
        if leader_starts.get(epoch) != start:
            return start
        f_end = follower.epochs[i + 1][1] if i + 1 < len(follower.epochs) else follower.leo
        l_end = leader.epoch_end(epoch)
        if f_end != l_end:
            return min(f_end, l_end, follower.leo)
    return follower.leo


class ReplicatedPartition:
    sparse = False  # compaction is not modelled on a cluster: no gaps

    """A partition with replicas on several brokers, seen by clients as one log.

    It stands where a :class:`~eda_sim.broker.PartitionLog` stands in a topic,
    so consumers need not know about replication: ``log_end_offset`` is what a
    consumer may read up to (the leader's high watermark, which never moves
    backwards for a consumer while elections are clean, as KIP-207 promises),
    and ``read`` reads the leader's log. ``offline`` is True while no replica
    leads.
    """

    def __init__(self, cluster, topic: str, index: int, assignment: list, config: dict, now: float):
        self.cluster = cluster
        self.topic = topic
        self.index = index
        self.assignment = list(assignment)  # broker ids; the first is the preferred leader
        self.replicas = {b: Replica(b, PartitionLog(topic, index, config, now)) for b in assignment}
        self.leader = assignment[0]
        self.epoch = 0
        self.isr = list(assignment)
        self.visible = 0  # what consumers may read up to
        self._config = config
        self.replicas[self.leader].epochs.append((0, 0))
        # the leader's view of each follower: fetch offset, last caught-up time, LEO at its last fetch and when
        self.follower_state = {b: [0, now, 0, now] for b in assignment}
        self.parked: list = []  # followers whose fetch the leader holds until there is news
        self.pending: list = []  # acks=all requests waiting for the HW
        self.waiting: list = []  # (producer, batch) waiting for a leader

    def __repr__(self) -> str:
        return (
            f"<ReplicatedPartition {self.topic}[{self.index}] leader={self.leader} "
            f"epoch={self.epoch} isr={self.isr} hw={self.visible}>"
        )

    # -- what a client sees --------------------------------------------------------

    @property
    def offline(self) -> bool:
        """True while no live replica leads (reads and writes wait)."""
        return self.leader < 0 or not self.cluster.nodes[self.leader].alive

    def _shown(self) -> Replica:
        """The leader's replica, or while offline the last leader's (for counts only)."""
        return self.replicas[self.leader if self.leader >= 0 else self._last_leader()]

    def _last_leader(self) -> int:
        return self.isr[0] if self.isr else self.assignment[0]

    @property
    def log_end_offset(self) -> int:
        """What consumers may read up to: the leader's high watermark."""
        return self.visible

    @property
    def high_watermark(self) -> int:
        """The leader's high watermark (same as ``log_end_offset``)."""
        return self.visible

    @property
    def leader_log_end_offset(self) -> int:
        """The leader's own log end offset (records above the HW are not yet committed)."""
        return self._shown().leo

    @property
    def log_start_offset(self) -> int:
        """The oldest offset the leader still keeps."""
        return self._shown().log.log_start_offset

    @property
    def size_bytes(self) -> int:
        """Bytes the leader retains."""
        return self._shown().log.size_bytes

    def __len__(self) -> int:
        return self.visible - self.log_start_offset

    def read(self, offset: int, max_records: int) -> list:
        """Up to ``max_records`` of the leader's stored tuples from ``offset``."""
        return self._shown().log.read(offset, max_records)

    def stored(self, offset: int):
        """The leader's stored tuple ``(timestamp, key, value, headers)`` at ``offset``, or None."""
        return self._shown().log.stored(offset)

    def record(self, offset: int) -> Record:
        """The leader's record at ``offset``."""
        return self._shown().log.record(offset)

    def records(self, start: int | None = None, end: int | None = None) -> list[Record]:
        """The leader's records in ``[start, end)``, including any above the HW."""
        return self._shown().log.records(start, end)

    def append(self, batch: list, nbytes: int, now: float) -> int:
        """Append a batch at the leader outside a producer (e.g. a transaction marker); first offset."""
        first = self._shown().append(batch, nbytes, now, None, None, self.epoch)
        if not self.offline:
            self.cluster._advance_hw(self)
            self.cluster._wake_fetchers(self)
        return first

    def enforce_retention(self, now: float) -> int:
        """Retention on every replica; return how many records the leader's log lost."""
        shown = self._shown()
        gone = 0
        for b in self.assignment:
            n = self.replicas[b].log.enforce_retention(now)
            if self.replicas[b] is shown:
                gone = n
        return gone

    def epoch_at(self, offset: int) -> int:
        """The leader epoch the leader's record at ``offset`` was written in (its epoch cache)."""
        found = self.epoch
        for epoch, start in self._shown().epochs:
            if start > offset:
                break
            found = epoch
        return found

    def delete_records(self, offset: int) -> int:
        """DeleteRecords on the leader and on every replica that holds ``offset``; return how many
        records the leader's log lost. A follower that has not reached ``offset`` yet starts over
        at the leader's log start at its next fetch, as a Kafka follower does."""
        shown = self._shown()
        gone = 0
        for b in self.assignment:
            replica = self.replicas[b]
            if replica is shown or replica.leo >= offset:
                n = replica.log.delete_records(offset)
                if replica is shown:
                    gone = n
        return gone

    def setting(self, key: str):
        """A topic setting, or the broker default where the topic does not set it."""
        return self.cluster.topic_settings[self.topic].get(key, self.cluster.config[key])


class _Node:
    __slots__ = ("id", "alive", "cut", "slow", "incarnation")

    def __init__(self, broker_id: int):
        self.id = broker_id
        self.alive = True
        self.cut = False  # replication traffic to and from it is dropped
        self.slow = 0.0  # extra seconds on each of its fetches
        self.incarnation = 0


_NOT_ENOUGH = KafkaError.NOT_ENOUGH_REPLICAS
_base_of = itemgetter(0)


class Cluster:
    """The brokers of a simulation, the replicated partitions, and the controller."""

    def __init__(self, sim, brokers: int, config: dict | None = None):
        self._sim = sim
        self.config = dict(BROKER_DEFAULTS)
        self.config.update(check_settings(config or {}, BROKER_DEFAULTS, "broker"))
        self.nodes = [_Node(i) for i in range(brokers)]
        self.partitions: list = []
        self.topic_settings: dict = {}
        self._topics_made = 0
        self._checking = False
        self.acked_seq: dict = {}  # (producer id, topic, partition) -> last sequence acknowledged

    def __repr__(self) -> str:
        alive = [n.id for n in self.nodes if n.alive]
        return f"<Cluster brokers={len(self.nodes)} alive={alive}>"

    # -- topics ----------------------------------------------------------------------

    def place(self, partitions: int, replication_factor: int, first: int = 0) -> list:
        """Replica lists, round-robin across brokers (Kafka's rack-unaware placement, fixed start)."""
        live = [node.id for node in self.nodes if node.alive]
        n = len(live)
        start = self._topics_made % n
        return [
            [live[(start + p + j) % n] for j in range(replication_factor)]
            for p in range(first, first + partitions)
        ]

    def new_partitions(self, topic: str, first: int, count: int, rf: int, config: dict) -> list:
        """Build ``count`` replicated partitions for ``topic`` from index ``first``."""
        now = self._sim.now
        made = []
        for p, assignment in zip(range(first, first + count), self.place(count, rf, first)):
            part = ReplicatedPartition(self, topic, p, assignment, config, now)
            self.partitions.append(part)
            made.append(part)
            for b in assignment:
                if b != part.leader:
                    self._fetch(part, b)
        if not first:
            self._topics_made += 1
        if not self._checking:
            self._checking = True
            self._sim.env.process(self._isr_loop())
            if self.config["auto.leader.rebalance.enable"]:
                self._sim.env.process(self._rebalance_loop())
        return made

    def topic_partitions(self, topic: str) -> list:
        """The replicated partitions of ``topic``, in index order."""
        return [p for p in self.partitions if p.topic == topic]

    # -- producing -----------------------------------------------------------------------

    def produce(self, producer, batch, txn=None) -> None:
        """A producer's batch reaches the cluster: append at the leader and answer per ``acks``.

        ``txn`` is the open transaction the batch belongs to, if any: the leader
        registers the append with the transaction coordinator, as one broker does.
        """
        sim = self._sim
        part = sim.broker.topics[batch.topic].partitions[batch.partition]
        if self._expired(producer, batch):
            return
        leader = part.leader
        if leader < 0 or not self.nodes[leader].alive:
            # no usable leader in the producer's metadata: the batch waits in its queue for one
            part.waiting.append((producer, batch))
            self._timeout_later(producer, batch, part)
            return
        journal = sim.journal
        acks = producer.config["acks"]
        if acks == "all" and len(part.isr) < part.setting("min.insync.replicas"):
            self._refuse(
                producer,
                batch,
                part,
                KafkaError(
                    _NOT_ENOUGH,
                    f"{len(part.isr)} in-sync replica(s) {part.isr}, min.insync.replicas="
                    f"{part.setting('min.insync.replicas')}",
                ),
            )
            return
        rep = part.replicas[leader]
        n = len(batch.records)
        pid = producer.producer_id if batch.base_seq is not None else None
        if pid is not None:
            state = rep.producers.get(pid)
            last = state[0] if state is not None else -1
            if batch.base_seq <= last:
                first = state[1].get(batch.base_seq, -1)
                journal.write(
                    "duplicate_dropped",
                    "broker",
                    "",
                    batch.topic,
                    batch.partition,
                    first,
                    n,
                    f"{producer.name} sequence {batch.base_seq} already appended (broker {leader})",
                )
                self._answer(producer, batch, part, first)
                return
            acked = self.acked_seq.get((pid, batch.topic, batch.partition), -1)
            if batch.base_seq == acked + 1 and last < acked:
                # Sequences the producer had acknowledged are gone from this leader (an unclean
                # election): waiting cannot fill the gap. librdkafka bumps the producer epoch and
                # starts the partition's sequence afresh (KIP-360); the effect here is the same.
                journal.write(
                    "sequence_reset",
                    producer.name,
                    "",
                    batch.topic,
                    batch.partition,
                    -1,
                    acked - last,
                    f"broker {leader} lacks acknowledged sequences {last + 1}..{acked}: "
                    "epoch bumped, sequence restarted",
                )
                if state is None:
                    state = rep.producers[pid] = [-1, {}]
                state[0] = last = batch.base_seq - 1
            if batch.base_seq != last + 1:
                self._refuse(
                    producer,
                    batch,
                    part,
                    KafkaError(
                        KafkaError.OUT_OF_ORDER_SEQUENCE_NUMBER,
                        f"sequence {batch.base_seq}, broker {leader} expected {last + 1}",
                    ),
                )
                return
        first = rep.append(
            batch.records, batch.nbytes, sim.env.now, pid, batch.base_seq, part.epoch
        )
        sim.broker.appended_total += n
        if txn is not None:
            sim.transactions.appended(txn, batch.topic, batch.partition, first, n)
        journal.write(
            "appended", "broker", "", batch.topic, batch.partition, first, n, producer.name
        )
        self._advance_hw(part)
        self._wake_fetchers(part)
        if acks == "0":
            producer._delivered(batch, -1)
        elif acks == "1":
            self._answer(producer, batch, part, first)
        else:
            entry = [first + n, producer, batch, first, part.epoch, leader, False]
            if part.visible >= first + n:
                self._complete(part, entry)
            else:
                part.pending.append(entry)
                ev = sim.env.timeout(producer.config["request.timeout.ms"] / 1000.0)
                ev.callbacks.append(lambda _ev: self._request_timeout(part, entry))

    def _answer(self, producer, batch, part, first: int) -> None:
        def answered(_ev):
            if batch.done:
                return
            if batch.base_seq is not None:  # what the idempotent producer knows was written
                key = (producer.producer_id, batch.topic, batch.partition)
                end = batch.base_seq + len(batch.records) - 1
                if end > self.acked_seq.get(key, -1):
                    self.acked_seq[key] = end
            producer._ack(batch, first)

        ev = self._sim.env.timeout(producer._latency)
        ev.callbacks.append(answered)

    def _refuse(self, producer, batch, part, error: KafkaError) -> None:
        self._sim.journal.write(
            "refused",
            "broker",
            "",
            batch.topic,
            batch.partition,
            -1,
            len(batch.records),
            f"{producer.name}: {error.name()}: {error.str()}",
        )
        ev = self._sim.env.timeout(producer._latency)
        ev.callbacks.append(lambda _ev: self._failed(producer, batch, error))

    def _failed(self, producer, batch, error: KafkaError) -> None:
        """The producer got an error back: retry after ``retry.backoff.ms``, or report it."""
        if self._expired(producer, batch):
            return
        cfg = producer.config
        if error.retriable() and batch.attempt < cfg["retries"]:
            # librdkafka backs off exponentially from retry.backoff.ms up to retry.backoff.max.ms
            backoff = min(cfg["retry.backoff.ms"] * 2**batch.attempt, RETRY_BACKOFF_MAX_MS)
            ev = self._sim.env.timeout(backoff / 1000.0)
            ev.callbacks.append(lambda _ev: producer._retry(batch) if not batch.done else None)
            return
        self._give_up(producer, batch, error)

    def _give_up(self, producer, batch, error: KafkaError) -> None:
        if batch.done:
            return
        batch.done = True
        self._sim.journal.write(
            "delivery_failed",
            producer.name,
            "",
            batch.topic,
            batch.partition,
            -1,
            len(batch.records),
            f"{error.name()}: {error.str()}",
        )
        producer._delivered(batch, -1, error)

    def _expired(self, producer, batch) -> bool:
        """Fail the batch with ``_MSG_TIMED_OUT`` if ``message.timeout.ms`` has passed since produce()."""
        if batch.done:
            return True
        limit = producer.config["message.timeout.ms"]
        if limit and self._sim.now - batch.created >= limit / 1000.0:
            self._give_up(
                producer,
                batch,
                KafkaError(KafkaError._MSG_TIMED_OUT, f"message.timeout.ms={limit} passed"),
            )
            return True
        return False

    def _timeout_later(self, producer, batch, part) -> None:
        """While the batch waits for a leader, ``message.timeout.ms`` may run out."""
        limit = producer.config["message.timeout.ms"]
        if not limit:
            return

        def check(_ev):
            if any(b is batch for _p, b in part.waiting) and self._expired(producer, batch):
                part.waiting = [w for w in part.waiting if w[1] is not batch]

        ev = self._sim.env.timeout(max(0.0, batch.created + limit / 1000.0 - self._sim.now))
        ev.callbacks.append(check)

    def _request_timeout(self, part, entry) -> None:
        if not entry[6]:
            entry[6] = True
            part.pending = [e for e in part.pending if e is not entry]
            producer, batch = entry[1], entry[2]
            self._refuse(
                producer,
                batch,
                part,
                KafkaError(
                    KafkaError.REQUEST_TIMED_OUT, "the in-sync replicas did not all confirm in time"
                ),
            )

    def _complete(self, part, entry) -> None:
        entry[6] = True
        producer, batch, first = entry[1], entry[2], entry[3]
        if len(part.isr) < part.setting("min.insync.replicas"):
            self._refuse(
                producer,
                batch,
                part,
                KafkaError(
                    KafkaError.NOT_ENOUGH_REPLICAS_AFTER_APPEND,
                    f"appended at offset {first}, but the ISR shrank to {part.isr}",
                ),
            )
            return
        self._answer(producer, batch, part, first)

    # -- the high watermark ----------------------------------------------------------

    def _advance_hw(self, part) -> None:
        leader = part.replicas[part.leader]
        hw = leader.leo
        for b in part.isr:
            if b != part.leader:
                off = part.follower_state[b][0]
                if off < hw:
                    hw = off
        if hw > leader.hw:
            leader.hw = hw
            self._wake_fetchers(part)  # followers learn the new HW (Kafka completes held fetches)
        if leader.hw > part.visible:
            part.visible = leader.hw
            self._sim.signal_data()
            if part.pending:
                done = [e for e in part.pending if e[0] <= part.visible]
                if done:
                    part.pending = [e for e in part.pending if e[0] > part.visible]
                    for e in done:
                        self._complete(part, e)

    # -- followers -----------------------------------------------------------------------

    def _usable(self, b: int) -> bool:
        node = self.nodes[b]
        return node.alive and not node.cut

    def _fetch(self, part, follower: int) -> None:
        """The follower sends a fetch from its LEO; it reaches the leader after the latency."""
        if follower == part.leader or not self._usable(follower):
            return
        node = self.nodes[follower]
        rep = part.replicas[follower]
        offset, epoch, inc = rep.leo, part.epoch, node.incarnation
        ev = self._sim.env.timeout(self._sim.network_latency + node.slow)
        ev.callbacks.append(lambda _ev: self._serve(part, follower, offset, epoch, inc))

    def _stale(self, part, follower: int, epoch: int, inc: int) -> bool:
        node = self.nodes[follower]
        return (
            part.epoch != epoch
            or node.incarnation != inc
            or not self._usable(follower)
            or part.leader < 0
            or not self._usable(part.leader)
        )

    def _serve(self, part, follower: int, offset: int, epoch: int, inc: int) -> None:
        """The leader handles a follower's fetch: note its progress, maybe widen the ISR, answer."""
        if self._stale(part, follower, epoch, inc):
            return
        now = self._sim.now
        leader = part.replicas[part.leader]
        start = leader.log.log_start_offset
        if offset < start:
            # retention removed what the follower asks for: it starts over at the leader's log start
            part.replicas[follower].restart_at(start, now)
            offset = start
        st = part.follower_state[follower]
        st[0] = offset
        leo = leader.leo
        if offset >= leo:
            st[1] = now
        elif offset >= st[2]:
            st[1] = st[3]  # it had caught up with the LEO of its previous fetch
        st[2], st[3] = leo, now
        if (
            follower not in part.isr
            and offset >= leader.hw
            and offset >= part.replicas[part.leader].epochs[-1][1]
        ):
            part.isr = sorted(part.isr + [follower], key=part.assignment.index)
            self._sim.journal.write(
                "isr_expanded",
                "broker",
                "",
                part.topic,
                part.index,
                offset,
                len(part.isr),
                f"broker {follower} caught up; isr={part.isr}",
                data=tuple(part.isr),
            )
        self._advance_hw(part)
        if offset >= leo and self._follower_hw(part, follower) >= leader.hw:
            part.parked.append((follower, inc))  # nothing new: hold the fetch until there is
            return
        self._respond(part, follower, offset, epoch, inc)

    def _follower_hw(self, part, follower: int) -> int:
        return part.replicas[follower].hw

    def _respond(self, part, follower: int, offset: int, epoch: int, inc: int) -> None:
        leader = part.replicas[part.leader]
        batches = leader.batches[bisect_left(leader.batches, offset, key=_base_of) :]
        hw = leader.hw
        log = leader.log
        payload = [(b, log.read(b[0], b[1])) for b in batches]
        node = self.nodes[follower]
        ev = self._sim.env.timeout(self._sim.network_latency + node.slow)
        ev.callbacks.append(lambda _ev: self._receive(part, follower, payload, hw, epoch, inc))

    def _wake_fetchers(self, part) -> None:
        if part.parked:
            parked, part.parked = part.parked, []
            for follower, inc in parked:
                if not self._stale(part, follower, part.epoch, inc):
                    self._respond(part, follower, part.replicas[follower].leo, part.epoch, inc)

    def _receive(self, part, follower: int, payload: list, hw: int, epoch: int, inc: int) -> None:
        """The follower appends what the leader sent, takes the leader's HW, and fetches again."""
        if self._stale(part, follower, epoch, inc):
            return
        rep = part.replicas[follower]
        now = self._sim.now
        got = 0
        first = rep.leo
        for meta, records in payload:
            if meta[0] != rep.leo or len(records) != meta[1]:
                continue  # already have it (a response overtaken by another), or retention took it
            base, count, pid, seq, e, nbytes = meta
            rep.append(records, nbytes, now, pid, seq, e)
            got += count
        new_hw = min(hw, rep.leo)
        if new_hw > rep.hw:
            rep.hw = new_hw
        if got:
            self._sim.journal.write(
                "replicated",
                f"broker-{follower}",
                "",
                part.topic,
                part.index,
                first,
                got,
                f"from broker {part.leader}, epoch {part.epoch}; hw={rep.hw}",
            )
        self._fetch(part, follower)

    def _isr_loop(self):
        env = self._sim.env
        while True:
            yield env.timeout(self.config["replica.lag.time.max.ms"] / 2000.0 or 0.5)
            self.check_isr()

    def _rebalance_loop(self):
        env = self._sim.env
        while True:
            yield env.timeout(self.config["leader.imbalance.check.interval.seconds"])
            self.rebalance_leaders()

    def rebalance_leaders(self) -> None:
        """Preferred leader election: a broker that leads fewer than 90% of the partitions it is the
        first replica of (leader.imbalance.per.broker.percentage=10) takes back those whose replica on
        it is alive and in sync."""
        for node in self.nodes:
            if not node.alive or node.cut:
                continue
            mine = [p for p in self.partitions if p.assignment[0] == node.id]
            lost = [p for p in mine if p.leader != node.id]
            if not mine or len(lost) * 10 <= len(mine):
                continue
            for part in lost:
                if node.id in part.isr and part.leader >= 0:
                    self._elect(part, "preferred replica election", preferred=True)

    def check_isr(self) -> None:
        """Drop from each ISR the followers that have not caught up within ``replica.lag.time.max.ms``."""
        now = self._sim.now
        lag = self.config["replica.lag.time.max.ms"] / 1000.0
        for part in self.partitions:
            if part.leader < 0 or not self.nodes[part.leader].alive:
                continue
            for follower, inc in part.parked:
                # a held fetch is a follower at the leader's log end (Kafka's would time out and come
                # again every replica.fetch.wait.max.ms, each time caught up)
                if not self._stale(part, follower, part.epoch, inc):
                    part.follower_state[follower][1] = now
            late = [
                b for b in part.isr if b != part.leader and now - part.follower_state[b][1] > lag
            ]
            if late:
                part.isr = [b for b in part.isr if b not in late]
                self._sim.journal.write(
                    "isr_shrunk",
                    "broker",
                    "",
                    part.topic,
                    part.index,
                    part.replicas[part.leader].hw,
                    len(part.isr),
                    f"broker(s) {late} fell behind for over replica.lag.time.max.ms={self.config['replica.lag.time.max.ms']}; isr={part.isr}",
                    data=tuple(part.isr),
                )
                self._advance_hw(part)

    # -- brokers failing and coming back -----------------------------------------------------

    def node(self, broker) -> _Node:
        """The broker with this id, or a clear error naming the valid ids."""
        if (
            isinstance(broker, bool)
            or not isinstance(broker, int)
            or not 0 <= broker < len(self.nodes)
        ):
            raise ValueError(f"broker must be one of 0..{len(self.nodes) - 1}, got {broker!r}")
        return self.nodes[broker]

    def crash(self, broker: int) -> None:
        """Broker ``broker`` stops: its replicas stop serving; the controller notices after the session timeout."""
        node = self.node(broker)
        if not node.alive:
            return
        node.alive = False
        node.incarnation += 1
        self._sim.journal.write(
            "broker_crashed", f"broker-{broker}", detail="stopped abruptly", data=(broker,)
        )
        # open connections break: requests waiting at this leader fail and are retried elsewhere
        for part in self.partitions:
            if part.leader == broker and part.pending:
                pending, part.pending = part.pending, []
                for entry in pending:
                    entry[6] = True
                    producer, batch = entry[1], entry[2]
                    ev = self._sim.env.timeout(producer._latency)
                    ev.callbacks.append(
                        lambda _ev, p=producer, b=batch: self._failed(
                            p, b, KafkaError(KafkaError._TRANSPORT, f"broker {broker} went down")
                        )
                    )
        ev = self._sim.env.timeout(self.config["broker.session.timeout.ms"] / 1000.0)
        inc = node.incarnation
        ev.callbacks.append(lambda _ev: self._fence(broker, inc))

    def _fence(self, broker: int, inc: int) -> None:
        node = self.nodes[broker]
        if node.alive or node.incarnation != inc:
            return
        self._sim.journal.write(
            "broker_fenced",
            "controller",
            detail=f"broker {broker} missed broker.session.timeout.ms",
        )
        for part in self.partitions:
            if broker not in part.assignment:
                continue
            if part.leader == broker:
                self._elect(part, f"broker {broker} failed")
            elif broker in part.isr:
                part.isr = [b for b in part.isr if b != broker]
                self._sim.journal.write(
                    "isr_shrunk",
                    "controller",
                    "",
                    part.topic,
                    part.index,
                    part.replicas[part.leader].hw if part.leader >= 0 else -1,
                    len(part.isr),
                    f"broker {broker} is down; isr={part.isr}",
                    data=tuple(part.isr),
                )
                if part.leader >= 0:
                    self._advance_hw(part)

    def _elect(self, part, why: str, preferred: bool = False) -> None:
        """Choose a new leader: the first live in-sync replica, else (if allowed) any live replica.

        ``preferred`` moves leadership to the partition's first replica (which
        must be alive and in sync); the old leader, still alive, follows it.
        """
        live = [b for b in part.assignment if self.nodes[b].alive]
        clean = [b for b in live if b in part.isr]
        old = part.leader
        if preferred:
            clean = [part.assignment[0]]
            if old >= 0 and part.pending:  # requests at the old leader: it is no longer the leader
                pending, part.pending = part.pending, []
                for entry in pending:
                    entry[6] = True
                    self._refuse(
                        entry[1],
                        entry[2],
                        part,
                        KafkaError(
                            KafkaError.NOT_LEADER_OR_FOLLOWER, f"broker {old} no longer leads"
                        ),
                    )
        if clean:
            new, kind = clean[0], "clean"
        elif live and part.setting("unclean.leader.election.enable"):
            new, kind = live[0], "unclean"
        else:
            if old >= 0:
                # no one may lead: the partition goes offline; the ISR keeps its last member (KRaft)
                part.leader = -1
                part.isr = [old] if old in part.isr else part.isr[:1]
                self._sim.journal.write(
                    "partition_offline",
                    "controller",
                    "",
                    part.topic,
                    part.index,
                    part.visible,
                    0,
                    f"{why}; no in-sync replica is alive"
                    + (
                        ""
                        if part.setting("unclean.leader.election.enable")
                        else " and unclean.leader.election.enable=false"
                    ),
                )
            return
        part.leader = new
        part.epoch += 1
        rep = part.replicas[new]
        rep.epochs.append((part.epoch, rep.leo))
        lost = 0
        if kind == "clean":
            part.isr = [b for b in part.assignment if b in part.isr and self.nodes[b].alive]
            rep.hw = max(rep.hw, min(part.visible, rep.leo))
        else:
            part.isr = [new]
            rep.hw = rep.leo
            if rep.leo < part.visible:
                lost = part.visible - rep.leo
                part.visible = rep.leo
        now = self._sim.now
        for b in part.assignment:
            part.follower_state[b] = [part.replicas[b].leo, now, 0, now]
        part.parked = []
        self._sim.journal.write(
            "leader_elected",
            "controller",
            "",
            part.topic,
            part.index,
            rep.leo,
            part.epoch,
            f"broker {new} leads ({kind}, epoch {part.epoch}); {why}; isr={part.isr}"
            + (f"; {lost} committed record(s) it never had are gone" if lost else ""),
            data=(new, part.epoch, tuple(part.isr)),
        )
        for b in part.assignment:
            if b != new and self.nodes[b].alive:
                self._follow(part, b)
        self._advance_hw(part)
        self._sim.signal_data()
        self._release_waiting(part)

    def _release_waiting(self, part) -> None:
        """Batches that waited for a leader go to the one there is now."""
        waiting, part.waiting = part.waiting, []
        for producer, batch in waiting:
            if not batch.done:
                producer._retry(batch)

    def _follow(self, part, b: int) -> None:
        """Replica ``b`` starts following the current leader: truncate where histories part, then fetch."""
        rep = part.replicas[b]
        cut = divergence(rep, part.replicas[part.leader])
        if cut < rep.leo:
            gone = rep.truncate(cut)
            self._sim.journal.write(
                "truncated",
                f"broker-{b}",
                "",
                part.topic,
                part.index,
                cut,
                gone,
                f"records the leader (broker {part.leader}, epoch {part.epoch}) does not have",
            )
        self._fetch(part, b)

    def restart(self, broker: int) -> None:
        """Broker ``broker`` comes back with the logs it had; each replica follows its leader or leads."""
        node = self.node(broker)
        if node.alive:
            return
        node.alive = True
        node.incarnation += 1
        self._sim.journal.write(
            "broker_restarted", f"broker-{broker}", detail="back with its logs", data=(broker,)
        )
        for part in self.partitions:
            if broker not in part.assignment:
                continue
            if part.leader >= 0 and not self.nodes[part.leader].alive:
                continue  # the controller has not yet moved this leader; it will
            if part.leader == broker:
                # it crashed and came back before the controller noticed: it still leads
                self._fetch_all(part)
                self._release_waiting(part)
            elif part.leader < 0:
                self._elect(part, f"broker {broker} came back")
            else:
                self._follow(part, broker)

    def _fetch_all(self, part) -> None:
        for b in part.assignment:
            if b != part.leader:
                self._fetch(part, b)

    def set_cut(self, broker: int, cut: bool) -> None:
        """Cut (or heal) replication traffic to and from ``broker``; clients still reach it."""
        node = self.node(broker)
        if node.cut == cut:
            return
        node.cut = cut
        node.incarnation += 1
        self._sim.journal.write(
            "broker_cut" if cut else "broker_healed",
            f"broker-{broker}",
            detail="replication traffic dropped" if cut else "replication traffic flows again",
        )
        if not cut and node.alive:
            for part in self.partitions:
                if broker in part.assignment and part.leader >= 0:
                    if part.leader == broker:
                        self._fetch_all(part)
                    else:
                        self._follow(part, broker)

    def set_slow(self, broker: int, delay: float) -> None:
        """Add ``delay`` virtual seconds to each fetch of ``broker``'s follower replicas."""
        node = self.node(broker)
        if (
            isinstance(delay, bool)
            or not isinstance(delay, (int, float))
            or not 0 <= delay < float("inf")
        ):
            raise ValueError(f"delay must be a finite number of seconds >= 0, got {delay!r}")
        node.slow = float(delay)
        self._sim.journal.write(
            "broker_slowed", f"broker-{broker}", detail=f"its fetches take {delay:g} s longer"
        )

    # -- looking at it -------------------------------------------------------------------------

    def describe(self, topic: str | None = None):
        """Per partition and replica: broker, role, in ISR, LEO, HW, leader epoch, alive."""
        import pandas as pd

        rows = []
        for part in self.partitions:
            if topic is not None and part.topic != topic:
                continue
            for b in part.assignment:
                rep = part.replicas[b]
                rows.append(
                    {
                        "topic": part.topic,
                        "partition": part.index,
                        "broker": b,
                        "role": "leader" if b == part.leader else "follower",
                        "in_isr": b in part.isr,
                        "log_end": rep.leo,
                        "high_watermark": rep.hw,
                        "epoch": rep.epochs[-1][0] if rep.epochs else -1,
                        "alive": self.nodes[b].alive,
                    }
                )
        return pd.DataFrame(
            rows,
            columns=[
                "topic",
                "partition",
                "broker",
                "role",
                "in_isr",
                "log_end",
                "high_watermark",
                "epoch",
                "alive",
            ],
        )
