"""Kafka transactions: the coordinator, commit and abort markers, and the last stable offset.

A *transactional producer* (one with ``transactional.id``) writes to several
partitions, and commits a consumer group's offsets, as one atomic unit: all of
it becomes visible to ``read_committed`` consumers, or none of it does. The
pieces, as Kafka has them:

* ``init_transactions()`` registers the ``transactional.id`` with the
  *transaction coordinator*, which keeps one producer id per transactional id
  and bumps its *epoch* on every call. An older instance with the same id (a
  *zombie*: crashed, stalled, replaced) is thereby *fenced*: its transaction
  still open is aborted, and anything it sends later carries a stale epoch and
  is refused (librdkafka raises a fatal ``_FENCED`` error).
* ``begin_transaction()``, then ``produce()``: the first record for a partition
  adds the partition to the transaction. Records are appended to the log at
  once, like any other, but stay *uncommitted*.
* ``send_offsets_to_transaction(offsets, group_metadata)`` puts the consumer
  group's next offsets in the transaction: they count as committed only if it
  commits (the read-process-write loop).
* ``commit_transaction()`` / ``abort_transaction()``: the coordinator writes a
  *control record* (a commit or abort marker) into every partition of the
  transaction. A marker occupies an offset like a record, but no consumer ever
  receives it, so a consumer sees a gap in the offsets.
* The *last stable offset* (LSO) of a partition is the first offset of its
  oldest open transaction (the log end when none is open). A ``read_committed``
  consumer (librdkafka's default) reads only below the LSO and skips records of
  aborted transactions; a ``read_uncommitted`` one reads up to the end and sees
  everything, aborted records included. Either skips the markers.
* ``transaction.timeout.ms`` (librdkafka default 60 000): a transaction still
  open that long after it started is aborted by the coordinator, which bumps
  the epoch, so the producer that opened it is fenced on its next call.

Simplifications, named: one broker holds the coordinator and every partition,
so markers are written in the instant the coordinator decides (real Kafka
writes them in a second phase, and keeps the LSO back until they land); the
timeout fires exactly after ``transaction.timeout.ms`` (Kafka checks every
``transaction.abort.timed.out.transaction.cleanup.interval.ms``, 10 s).

Example::

    sim = Simulation(seed=1)
    sim.create_topic("ledger", partitions=1)
    p = sim.producer({"transactional.id": "payments-0"})
    p.init_transactions()
    p.begin_transaction()
    p.produce("ledger", key="acct-1", value="+12")
    p.commit_transaction()
"""

from __future__ import annotations

from eda_sim.core.errors import KafkaError, KafkaException

#: The broker's ``transaction.max.timeout.ms``: a producer asking for more is refused.
MAX_TRANSACTION_TIMEOUT_MS = 900000

#: A control record's key: version 0 and the marker type (0 abort, 1 commit), as Kafka writes it.
_MARKER_KEYS = {"abort": b"\x00\x00\x00\x00", "commit": b"\x00\x00\x00\x01"}

#: Client-side transaction states, as librdkafka names them.
INIT, READY, IN_TRANSACTION, ABORTABLE_ERROR, FATAL_ERROR = (
    "Init",
    "Ready",
    "InTransaction",
    "AbortableError",
    "FatalError",
)


def _error(name: str, reason: str, *, fatal=False, abortable=False, retriable=False):
    return KafkaException(
        KafkaError(
            getattr(KafkaError, name),
            reason,
            fatal=fatal,
            retriable=retriable,
            txn_requires_abort=abortable,
        )
    )


class Transaction:
    """One transaction of one producer instance, as the coordinator tracks it."""

    __slots__ = ("txn_id", "producer_id", "epoch", "number", "state", "partitions", "offsets")

    def __init__(self, txn_id: str, producer_id: int, epoch: int, number: int):
        self.txn_id = txn_id
        self.producer_id = producer_id
        self.epoch = epoch
        self.number = number  # 1, 2, ... per transactional id: names it in the journal
        self.state = "ongoing"  # then "committed" or "aborted"
        self.partitions: dict = {}  # (topic, partition) -> first offset written in this transaction
        self.offsets: dict = {}  # group id -> {(topic, partition): offset}

    @property
    def name(self) -> str:
        """``<transactional.id>#<number>``: how the journal names this transaction."""
        return f"{self.txn_id}#{self.number}"

    def __repr__(self) -> str:
        return f"<Transaction {self.name} {self.state} epoch={self.epoch}>"


class PartitionTransactions:
    """What one partition knows of transactions: whose records it holds, where its markers are."""

    __slots__ = ("records", "markers", "marker_of", "open")

    def __init__(self):
        self.records: dict = {}  # offset -> Transaction, for records written inside a transaction
        self.markers: dict = {}  # offset -> "commit" or "abort"
        self.marker_of: dict = {}  # offset of a marker -> the Transaction it ends
        self.open: dict = {}  # Transaction -> its first offset here, while it is ongoing

    def last_stable_offset(self, log_end: int) -> int:
        """The first offset of the oldest open transaction, or ``log_end`` when none is open."""
        return min(self.open.values()) if self.open else log_end

    def visible(self, offset: int, read_committed: bool) -> bool:
        """Whether a consumer with this isolation level is handed the record at ``offset``."""
        if offset in self.markers:
            return False
        if not read_committed:
            return True
        txn = self.records.get(offset)
        return txn is None or txn.state == "committed"

    def status(self, offset: int) -> str:
        """``record``, ``commit marker``, ``abort marker``, or the state of the record's transaction."""
        if offset in self.markers:
            return f"{self.markers[offset]} marker"
        txn = self.records.get(offset)
        return "record" if txn is None else txn.state


class ConsumerGroupMetadata:
    """What ``Consumer.consumer_group_metadata()`` returns: opaque to the application, as in confluent-kafka."""

    __slots__ = ("group_id", "generation_id", "member_id")

    def __init__(self, group_id: str, generation_id: int, member_id: str | None):
        self.group_id = group_id
        self.generation_id = generation_id
        self.member_id = member_id

    def __repr__(self) -> str:
        return f"ConsumerGroupMetadata({self.group_id!r}, generation={self.generation_id}, member={self.member_id!r})"


class _Registration:
    __slots__ = ("producer_id", "epoch", "current", "count", "bumped_because")

    def __init__(self, producer_id: int):
        self.producer_id = producer_id
        self.epoch = -1
        self.current: Transaction | None = None
        self.count = 0
        self.bumped_because = ""


class TransactionCoordinator:
    """The broker side: producer ids and epochs per ``transactional.id``, transactions, markers."""

    def __init__(self, sim):
        self._sim = sim
        self.partitions: dict = {}  # (topic, partition) -> PartitionTransactions, once a transaction wrote there
        self._ids: dict = {}  # transactional.id -> _Registration
        self.transactions: list = []  # every Transaction, in the order they started
        self._timeout_ms: dict = {}  # transactional.id -> its producer's transaction.timeout.ms

    # -- what readers ask -------------------------------------------------------------------

    def last_stable_offset(self, topic: str, partition: int) -> int:
        """The partition's last stable offset (its log end when no transaction is open there)."""
        log = self._sim.broker.topic(topic).partition(partition)
        txns = self.partitions.get((topic, partition))
        return log.log_end_offset if txns is None else txns.last_stable_offset(log.log_end_offset)

    def pending_offsets(self, group_id: str, tp) -> Transaction | None:
        """The open transaction holding offsets of ``group_id`` for ``tp``, if any (KIP-447's unstable offsets)."""
        for txn in self.transactions[::-1]:
            if txn.state == "ongoing" and tp in txn.offsets.get(group_id, ()):
                return txn
        return None

    # -- what a transactional producer asks ------------------------------------------------------

    def init_producer_id(self, txn_id: str, timeout_ms: int) -> tuple[int, int]:
        """Register ``txn_id``: bump its epoch, abort the older instance's open transaction."""
        if timeout_ms > MAX_TRANSACTION_TIMEOUT_MS:
            raise _error(
                "INVALID_TRANSACTION_TIMEOUT",
                f"transaction.timeout.ms={timeout_ms} is above the broker's "
                f"transaction.max.timeout.ms={MAX_TRANSACTION_TIMEOUT_MS}",
                fatal=True,
            )
        reg = self._ids.get(txn_id)
        if reg is None:
            reg = self._ids[txn_id] = _Registration(self._sim.new_producer_id())
        if reg.current is not None and reg.current.state == "ongoing":
            self._end(reg.current, commit=False, why="fenced by a new instance")
        reg.current = None
        reg.epoch += 1
        reg.bumped_because = f"a newer instance of {txn_id!r} called init_transactions"
        # A new epoch starts its sequence numbers again at 0 (the broker forgets the old ones).
        idem = self._sim.broker._idempotence
        for key in [k for k in idem if k[0] == reg.producer_id]:
            del idem[key]
        if self._sim.cluster is not None:  # each replica keeps its own producer state
            for name in sorted(self._sim.broker.topics):
                for part in self._sim.broker.topics[name].partitions:
                    for replica in part.replicas.values():
                        replica.producers.pop(reg.producer_id, None)
        self._sim.journal.write(
            "txn_init",
            txn_id,
            detail=f"producer id {reg.producer_id}, epoch {reg.epoch}",
        )
        return reg.producer_id, reg.epoch

    def check_epoch(self, txn_id: str, epoch: int) -> None:
        """Refuse a stale epoch: the caller is fenced (a fatal ``_FENCED``, as librdkafka reports it)."""
        reg = self._ids[txn_id]
        if epoch != reg.epoch:
            self._sim.journal.write(
                "txn_fenced",
                txn_id,
                detail=f"epoch {epoch} is stale (now {reg.epoch}): {reg.bumped_because}",
            )
            raise _error(
                "_FENCED",
                f"producer fenced: transactional.id {txn_id!r} epoch {epoch} is stale (now {reg.epoch}) "
                f"because {reg.bumped_because}",
                fatal=True,
            )

    def _transaction(self, txn_id: str, epoch: int) -> Transaction:
        self.check_epoch(txn_id, epoch)
        reg = self._ids[txn_id]
        txn = reg.current
        if txn is None or txn.state != "ongoing":
            reg.count += 1
            txn = reg.current = Transaction(txn_id, reg.producer_id, epoch, reg.count)
            self.transactions.append(txn)
            timeout = self._timeout_ms.get(txn_id, 60000) / 1000.0
            ev = self._sim.env.timeout(timeout)
            ev.callbacks.append(lambda _ev, t=txn: self._expire(t))
        return txn

    def set_timeout(self, txn_id: str, timeout_ms: int) -> None:
        """Remember the producer's ``transaction.timeout.ms`` for its transactions."""
        self._timeout_ms[txn_id] = timeout_ms

    def add_partition(self, txn_id: str, epoch: int, topic: str, partition: int) -> Transaction:
        """AddPartitionsToTxn: the transaction now spans this partition (its timer starts with the first)."""
        return self._transaction(txn_id, epoch)

    def appended(
        self, txn: Transaction, topic: str, partition: int, first: int, count: int
    ) -> None:
        """Note records the broker appended for ``txn``: they are uncommitted until its marker."""
        tp = (topic, partition)
        parts = self.partitions.get(tp)
        if parts is None:
            parts = self.partitions[tp] = PartitionTransactions()
        if tp not in txn.partitions:
            txn.partitions[tp] = first
            parts.open[txn] = first
        records = parts.records
        for offset in range(first, first + count):
            records[offset] = txn

    def add_offsets(self, txn_id: str, epoch: int, metadata, offsets: dict) -> Transaction:
        """TxnOffsetCommit: hold the group's offsets in the transaction, checking the member (KIP-447)."""
        txn = self._transaction(txn_id, epoch)
        group = self._sim.groups.get(metadata.group_id)
        member = metadata.member_id
        if not member and metadata.generation_id < 0:
            # no member id, generation -1: a consumer that assigned its partitions itself. Kafka's
            # coordinator checks nothing more for a transactional offset commit without them
            # (GroupCoordinator.validateOffsetCommit: "This does not apply to transactional offset
            # commits"), whether or not the group has members.
            pass
        elif group is None or member is None or member not in group.members:
            raise _error(
                "UNKNOWN_MEMBER_ID",
                f"send_offsets_to_transaction: {member} is not a member of group {metadata.group_id!r} "
                "(evicted or expired); abort the transaction",
                abortable=True,
            )
        elif metadata.generation_id != group.generation:
            raise _error(
                "ILLEGAL_GENERATION",
                f"send_offsets_to_transaction: group {metadata.group_id!r} is at generation {group.generation}, "
                f"the metadata is from generation {metadata.generation_id}; abort the transaction",
                abortable=True,
            )
        txn.offsets.setdefault(metadata.group_id, {}).update(offsets)
        self._sim.journal.write(
            "txn_offsets",
            txn_id,
            metadata.group_id,
            count=len(offsets),
            detail=f"{txn.name}: "
            + ", ".join(f"{t}-{p}@{o}" for (t, p), o in sorted(offsets.items())),
        )
        return txn

    def end(self, txn_id: str, epoch: int, commit: bool) -> Transaction | None:
        """EndTxn: write the markers (and, on commit, the offsets); None if nothing was in the transaction."""
        self.check_epoch(txn_id, epoch)
        txn = self._ids[txn_id].current
        if txn is None or txn.state != "ongoing":
            return None
        self._end(txn, commit, why="")
        return txn

    def _end(self, txn: Transaction, commit: bool, why: str) -> None:
        sim = self._sim
        kind = "commit" if commit else "abort"
        txn.state = "committed" if commit else "aborted"
        now = sim.env.now
        for tp in sorted(txn.partitions):
            log = sim.broker.topics[tp[0]].partitions[tp[1]]
            offset = log.append([(now, _MARKER_KEYS[kind], None, None)], 4, now)
            parts = self.partitions[tp]
            parts.markers[offset] = kind
            parts.marker_of[offset] = txn
            parts.open.pop(txn, None)
            sim.journal.write(
                "txn_marker", "broker", "", tp[0], tp[1], offset, 1, f"{kind} {txn.name}"
            )
        if commit:
            for group_id in sorted(txn.offsets):
                group = sim.ensure_group(group_id)
                for tp, offset in sorted(txn.offsets[group_id].items()):
                    group.store_committed(tp, offset, txn.txn_id, txn.name)
        sim.journal.write(
            "txn_committed" if commit else "txn_aborted",
            txn.txn_id,
            count=len(txn.partitions),
            detail=txn.name + (f": {why}" if why else ""),
        )
        sim.signal_data()

    def _expire(self, txn: Transaction) -> None:
        if txn.state != "ongoing":
            return
        reg = self._ids[txn.txn_id]
        timeout = self._timeout_ms.get(txn.txn_id, 60000)
        self._sim.journal.write(
            "txn_timed_out",
            txn.txn_id,
            detail=f"{txn.name} open for transaction.timeout.ms={timeout}",
        )
        self._end(txn, commit=False, why="timed out")
        if reg.epoch == txn.epoch:
            reg.epoch += 1
            reg.bumped_because = (
                f"the coordinator aborted {txn.name} after transaction.timeout.ms={timeout} "
                "and bumped the epoch"
            )


class ProducerTransactions:
    """The client side of a transactional producer: librdkafka's transaction state machine."""

    def __init__(self, producer, txn_id: str, timeout_ms: int):
        self._producer = producer
        self._sim = producer._sim
        self.txn_id = txn_id
        self.timeout_ms = timeout_ms
        self.state = INIT
        self.epoch = -1
        self._error: KafkaException | None = None
        self._txn: Transaction | None = None

    @property
    def _coordinator(self) -> TransactionCoordinator:
        return self._sim.transactions

    def _require(self, *states: str) -> None:
        if self.state in states:
            return
        if self.state in (FATAL_ERROR, ABORTABLE_ERROR) and self._error is not None:
            raise self._error
        raise _error("_STATE", f"Operation not valid in state {self.state}")

    def _fatal(self, exc: KafkaException) -> KafkaException:
        self.state = FATAL_ERROR
        self._error = exc
        return exc

    def _abortable(self, exc: KafkaException) -> KafkaException:
        if self.state != FATAL_ERROR:
            self.state = ABORTABLE_ERROR
            self._error = exc
        return exc

    def _round_trip(self) -> None:
        """Wait one request-response with the coordinator on the virtual clock."""
        sim = self._sim
        deadline = sim.now + 2 * sim.network_latency
        while sim.advance(deadline):
            pass

    # -- the API -------------------------------------------------------------------------------

    def init(self, timeout) -> None:
        self._require(INIT)
        self._sim.require_outside_run("Producer.init_transactions")
        coordinator = self._coordinator
        coordinator.set_timeout(self.txn_id, self.timeout_ms)
        self._round_trip()
        try:
            pid, epoch = coordinator.init_producer_id(self.txn_id, self.timeout_ms)
        except KafkaException as exc:
            raise self._fatal(exc) from None
        self._producer.producer_id = pid
        self.epoch = epoch
        self.state = READY

    def begin(self) -> None:
        self._require(READY)
        self.state = IN_TRANSACTION
        self._txn = None

    def on_produce(self) -> None:
        """``produce()`` is allowed only inside a transaction (librdkafka returns ``_STATE`` otherwise)."""
        if self.state == IN_TRANSACTION:
            return
        if self.state == FATAL_ERROR:
            raise _error("_FATAL", f"producer has a fatal error: {self._error}", fatal=True)
        raise _error(
            "_STATE",
            f"produce() needs an open transaction (begin_transaction()); the producer is in state {self.state}",
        )

    def on_send(self, topic: str, partition: int) -> int:
        """A batch leaves the producer: add its partition to the transaction; returns the epoch it carries."""
        try:
            self._txn = self._coordinator.add_partition(self.txn_id, self.epoch, topic, partition)
        except KafkaException as exc:
            self._fatal(exc)
        return self.epoch

    def on_arrive(self, epoch: int):
        """The broker checks a batch's epoch before appending; returns the Transaction, or an error."""
        try:
            self._coordinator.check_epoch(self.txn_id, epoch)
        except KafkaException as exc:
            self._fatal(exc)
            return KafkaError(KafkaError.PRODUCER_FENCED, exc.args[0].str())
        return self._coordinator._ids[self.txn_id].current

    def send_offsets(self, positions, group_metadata, timeout) -> None:
        self._require(IN_TRANSACTION)
        if not isinstance(group_metadata, ConsumerGroupMetadata):
            raise TypeError(
                "send_offsets_to_transaction: group_metadata must come from consumer.consumer_group_metadata(), "
                f"got {type(group_metadata).__name__}"
            )
        offsets = {}
        for tp in positions:
            if not hasattr(tp, "topic") or not hasattr(tp, "offset"):
                raise TypeError(
                    f"send_offsets_to_transaction expects a list of TopicPartition, got {tp!r}"
                )
            if tp.offset >= 0:  # logical and invalid offsets are ignored, as in confluent-kafka
                offsets[(tp.topic, tp.partition)] = tp.offset
        if not offsets:
            return
        self._sim.require_outside_run("Producer.send_offsets_to_transaction")
        self._round_trip()
        try:
            self._txn = self._coordinator.add_offsets(
                self.txn_id, self.epoch, group_metadata, offsets
            )
        except KafkaException as exc:
            raise (self._fatal(exc) if exc.args[0].fatal() else self._abortable(exc)) from None

    def commit(self, timeout) -> None:
        self._require(IN_TRANSACTION)
        self._sim.require_outside_run("Producer.commit_transaction")
        left = self._producer.flush(timeout)
        if self.state != IN_TRANSACTION:
            raise self._error
        if left:  # librdkafka: the timeout ran out first; the call may simply be made again
            raise _error(
                "_TIMED_OUT",
                f"commit_transaction: {left} record(s) not acknowledged within {timeout} s; "
                "call commit_transaction() again",
                retriable=True,
            )
        self._round_trip()
        try:
            self._coordinator.end(self.txn_id, self.epoch, commit=True)
        except KafkaException as exc:
            raise self._fatal(exc) from None
        self.state = READY
        self._txn = None

    def abort(self, timeout) -> None:
        self._require(IN_TRANSACTION, ABORTABLE_ERROR)
        self._sim.require_outside_run("Producer.abort_transaction")
        producer = self._producer
        # Purge what was not sent yet; what is in flight is awaited (and lands inside the aborted transaction).
        purge = KafkaError(KafkaError._PURGE_QUEUE, "purged by abort_transaction()")
        for key in sorted(producer._batches):
            batch = producer._batches.pop(key)
            batch.open = False
            producer._delivered(batch, -1, purge)
        producer.flush(timeout)
        self._round_trip()
        try:
            self._coordinator.end(self.txn_id, self.epoch, commit=False)
        except KafkaException as exc:
            raise self._fatal(exc) from None
        self.state = READY
        self._error = None
        self._txn = None


# -- what a learner looks at ---------------------------------------------------------------------


def partition_table(sim, topic: str):
    """Every offset of ``topic``: what sits there and what each isolation level hands out.

    Columns: partition, offset, what (record or commit/abort marker),
    transaction (its name, or "" outside one), state (committed, aborted, open
    or "" outside one), value, and for ``read_committed`` and
    ``read_uncommitted`` readers: ``yes``, ``no`` (never handed out), or
    ``not yet`` (at or above the last stable offset, waiting for a commit or
    an abort).
    """
    import pandas as pd

    coordinator = sim.transactions
    rows = []
    for log in sim.topic(topic).partitions:
        txns = coordinator.partitions.get((topic, log.index))
        lso = coordinator.last_stable_offset(topic, log.index)
        for r in log.records():
            marker = txns.markers.get(r.offset) if txns is not None else None
            txn = None
            if txns is not None:
                txn = txns.marker_of.get(r.offset) if marker else txns.records.get(r.offset)
            state = "" if txn is None else "open" if txn.state == "ongoing" else txn.state
            if marker is not None:
                committed = uncommitted = "no"
            else:
                uncommitted = "yes"
                committed = "not yet" if r.offset >= lso else "no" if state == "aborted" else "yes"
            rows.append(
                {
                    "partition": log.index,
                    "offset": r.offset,
                    "what": f"{marker} marker" if marker else "record",
                    "transaction": txn.name if txn is not None else "",
                    "state": state,
                    "value": None
                    if marker or r.value is None
                    else r.value.decode(errors="replace"),
                    "read_committed": committed,
                    "read_uncommitted": uncommitted,
                }
            )
    columns = ["partition", "offset", "what", "transaction", "state", "value"]
    return pd.DataFrame(rows, columns=columns + ["read_committed", "read_uncommitted"])


def stable_offsets(sim, topic: str):
    """Per partition of ``topic``: the log end offset (where read_uncommitted stops) and the last stable offset (read_committed)."""
    import pandas as pd

    rows = []
    for log in sim.topic(topic).partitions:
        lso = sim.transactions.last_stable_offset(topic, log.index)
        rows.append(
            {
                "partition": log.index,
                "log_end": log.log_end_offset,
                "last_stable": lso,
            }
        )
    return pd.DataFrame(rows)
