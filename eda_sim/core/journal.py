"""The journal: an append-only record of everything that happened in a simulation.

Every picture and table in the course is a view of the journal. A row is one
thing that happened at one virtual instant. Rows about records name a range of
offsets (``offset`` is the first, ``count`` how many), the way Kafka moves
records in batches; that keeps the journal small enough to record a million
records.

Columns, in order:

==========  ===============================================================
seq         position in the journal, 0, 1, 2, ...
time        virtual seconds since the simulation started
kind        what happened (see ``KINDS``)
actor       who did it: a producer, a group member, ``broker`` or ``coordinator``
group       the consumer group, or "" when none is involved
topic       the topic, or ""
partition   the partition, or -1
offset      the first offset concerned, or -1
count       how many records (or offsets) the row covers, 0 when none
detail      a short human-readable note (an error, an assignment, a reason)
data        the row's structured facts, for programs (a tuple): the
            ``(topic, partition)`` pairs of an assignment or revocation, the
            topics a member subscribed to; ``()`` when there are none
==========  ===============================================================

``detail`` is for people and is never parsed; what a program reads back is in
``data``. :meth:`Journal.frame` leaves ``data`` out unless asked
(``frame(data=True)``), so tables stay readable.

Example::

    sim = Simulation(seed=1)
    ...
    sim.journal.frame()                       # a pandas DataFrame
    sim.journal.frame(kind="committed")       # only the commits
"""

from __future__ import annotations

import hashlib
from typing import NamedTuple

from eda_sim.core.appendlog import CHUNK, AppendLog

COLUMNS = (
    "seq",
    "time",
    "kind",
    "actor",
    "group",
    "topic",
    "partition",
    "offset",
    "count",
    "detail",
)

#: Every kind of row the core writes, with what it means. The service layer adds its own.
KINDS = {
    "topic_created": "a topic was created (count = partitions; data = (replication factor, replicas per partition) on a cluster)",
    "partitions_added": "a topic grew to more partitions (count = new total; data as topic_created's, new partitions only)",
    "topic_deleted": "a topic was deleted with its records and the groups' offsets for it",
    "produced": "a producer sent a batch to the broker (count = records)",
    "appended": "the broker appended a batch to a partition's log",
    "duplicate_dropped": "the broker dropped a retried batch it already had (idempotent producer)",
    "acked": "the producer got the broker's acknowledgement",
    "ack_lost": "an acknowledgement was lost on the way back (injected fault)",
    "retried": "the producer sent a batch again after no acknowledgement",
    "producer_closed": "a producer flushed and closed (count = records left undelivered)",
    "joined": "a consumer joined its group",
    "join_failed": "the group coordinator refused a JoinGroup (detail says why, e.g. INVALID_SESSION_TIMEOUT)",
    "left": "a consumer left its group cleanly",
    "offsets_expired": "the coordinator deleted committed offsets after offsets.retention.minutes: an empty group's, or a live group's for topics no member subscribes to",
    "group_deleted": "an admin deleted an empty group with its committed offsets (data = the (topic, partition) pairs whose offsets went)",
    "revoked": "partitions were taken from a member in a rebalance",
    "assigned": "partitions were given to a member in a rebalance",
    "rebalanced": "the group moved to a new generation (detail = the assignment)",
    "offset_reset": "a member had no committed offset and followed auto.offset.reset",
    "fetched": "a member's client fetched records ahead into its local fetch queue (offset = first offset fetched, count = offsets covered; detail = records and bytes)",
    "delivered": "a poll handed records to a member",
    "paused": "a member paused partitions (data = the (topic, partition) pairs): no fetching, what was fetched is dropped",
    "resumed": "a member resumed paused partitions (data = the (topic, partition) pairs): fetching starts again from the position",
    "processed": "a member finished processing records",
    "committed": "the group's committed offset for a partition moved (offset = new committed)",
    "commit_failed": "a commit was refused (detail says why); nothing changed",
    "seeked": "a member moved its position with seek",
    "evicted": "a member was removed for not polling within max.poll.interval.ms",
    "session_expired": "a crashed member was removed after session.timeout.ms without heartbeats",
    "crashed": "a member (or producer) stopped abruptly, without committing or leaving",
    "restarted": "a crashed member came back as a new member",
    "rejoined": "a static member (group.instance.id) came back inside its session and kept its partitions",
    "epoch": "a member of a consumer-protocol group (KIP-848) reached an epoch (count) or its assignment changed",
    "acquired": "a share group handed records to a member under an acquisition lock (count = records)",
    "acknowledged": "a share-group member acknowledged a record (detail = ACCEPT, RELEASE or REJECT)",
    "archived": "a share group archived a record: rejected, or delivered as often as allowed (count = deliveries)",
    "lock_expired": "a share-group member did not acknowledge a record within its acquisition lock",
    "departed": "a static member closed without leaving; the group keeps its partitions until its session expires",
    "expired": "records left the start of a log (offset = old log start, count = records): retention (actor broker) or an admin's DeleteRecords (actor admin, detail says so)",
    "compacted": "the log cleaner compacted a partition (offset = log start, count = records removed)",
    "refused": "the broker refused a batch (detail says why, e.g. no key on a compacted topic, NOT_ENOUGH_REPLICAS)",
    "restored": "a stream task rebuilt its state store from the changelog (count = records, detail = time)",
    # replication (eda_sim.broker.replication; only with Simulation(brokers=N), N > 1)
    "replicated": "a follower appended records it fetched from the leader (actor = broker-N)",
    "delivery_failed": "the producer gave up on a batch; its delivery reports carry the error",
    "isr_shrunk": "followers left a partition's in-sync replicas (count = ISR size after, data = the ISR)",
    "isr_expanded": "a follower caught up and rejoined the in-sync replicas (count = ISR size after, data = the ISR)",
    "leader_elected": "the controller chose a partition's leader (offset = its log end, count = leader epoch, data = (leader, epoch, ISR))",
    "partition_offline": "a partition's leader failed and no replica may lead it",
    "truncated": "a replica cut its log back to where it agrees with the leader (count = records removed)",
    "broker_crashed": "a broker stopped abruptly (data = (broker,))",
    "broker_fenced": "the controller noticed a crashed broker (after broker.session.timeout.ms)",
    "broker_restarted": "a crashed broker came back with the logs it had (data = (broker,))",
    "broker_cut": "replication traffic to and from a broker is dropped (a network partition)",
    "broker_healed": "replication traffic to and from a broker flows again",
    "sequence_reset": "an idempotent producer found acknowledged sequences gone from a new leader and restarted its sequence (KIP-360 epoch bump)",
    "broker_slowed": "a broker's follower fetches got slower (or fast again)",
    # the service layer (eda_sim.services.service, eda_sim.services.retries)
    "handled": "a service's handler finished an event (detail = type and id)",
    "retry_scheduled": "a handler failed and the event will be tried again after a backoff",
    "dead_lettered": "an event went to a dead-letter topic with its origin and error",
    "failed": "a handler gave up on an event and no dead-letter topic was configured",
    "duplicate_skipped": "an idempotent service skipped an event id already in its inbox",
    "redriven": "dead letters were sent back to their original topics",
    # ordering and flow (eda_sim.services.ordering, eda_sim.services.autoscale)
    "late": "an event came after the reorder watermark passed its time; it went to <topic>.late (detail = why)",
    "storm_started": "a storm of extra load began (detail = rate, duration and records)",
    "storm_ended": "a storm's window closed (count = records it produced)",
    "scaled": "an autoscaler added or removed an instance, or refused at its cap (detail = lag and count)",
    # transactions (eda_sim.broker.transactions)
    "txn_init": "init_transactions: a transactional.id got its producer id and a new epoch",
    "txn_offsets": "a group's offsets were put in a transaction (send_offsets_to_transaction)",
    "txn_marker": "the broker wrote a commit or abort marker (a control record) at an offset",
    "txn_committed": "a transaction committed: its records and offsets count (count = partitions)",
    "txn_aborted": "a transaction aborted: read_committed readers skip its records (detail = why)",
    "txn_timed_out": "the coordinator aborted a transaction open longer than transaction.timeout.ms",
    "txn_fenced": "a producer with a stale epoch was refused (a newer instance or a timeout bumped it)",
}


class Row(NamedTuple):
    """One journal row; see the module docstring for the columns."""

    seq: int
    time: float
    kind: str
    actor: str
    group: str
    topic: str
    partition: int
    offset: int
    count: int
    detail: str
    data: tuple = ()


class Journal:
    """Append-only list of :class:`Row`; can be switched off for speed.

    When off, nothing is stored but ``seq`` still counts, so counters kept
    elsewhere (by the broker and the clients) stay exact.
    """

    # Rows are written as plain tuples into an AppendLog, which hands them out as Row: a journal
    # only written (a long benchmark run) costs the garbage collector almost nothing; see there.

    def __init__(self, clock, enabled: bool = True):
        self._clock = clock
        self.enabled = enabled
        self._rows = AppendLog(row_type=Row)
        self._seq = 0

    def write(
        self,
        kind,
        actor="",
        group="",
        topic="",
        partition=-1,
        offset=-1,
        count=0,
        detail="",
        data=(),
    ):
        """Append a row stamped with the current virtual time."""
        if self.enabled:
            # A row per poll of a consumer loop: AppendLog.append inlined, simpy's clock read
            # without its property.
            rows = self._rows
            tail = rows._tail  # hot path: per consumer poll
            now = self._clock._now  # hot path: per consumer poll
            tail.append(
                (self._seq, now, kind, actor, group, topic, partition, offset, count, detail, data)
            )
            if len(tail) == CHUNK:
                rows._chunks.append(tuple(tail))  # hot path: per consumer poll
                rows._tail = []  # hot path: per consumer poll
        self._seq += 1

    def __len__(self) -> int:
        return len(self._rows)

    def __iter__(self):
        return iter(self._rows)

    def __getitem__(self, index):
        return self._rows[index]

    @property
    def written(self) -> int:
        """How many rows were written, stored or not."""
        return self._seq

    def rows(self, kind: str | None = None) -> list[Row]:
        """The stored rows, optionally only those of one kind."""
        if kind is None:
            return list(self._rows)
        return [r for r in self._rows if r.kind == kind]

    def frame(self, kind: str | None = None, since: int = 0, data: bool = False):
        """The journal as a pandas DataFrame (one row per :class:`Row`); ``data=True`` adds the ``data`` column."""
        import pandas as pd

        rows = self._rows.since(since) if since else list(self._rows)
        if kind is not None:
            rows = [r for r in rows if r.kind == kind]
        frame = pd.DataFrame.from_records(rows, columns=Row._fields)
        return frame if data else frame.drop(columns="data")

    def digest(self) -> str:
        """A SHA-256 of the stored rows: equal digests mean byte-identical journals."""
        h = hashlib.sha256()
        for r in self._rows:
            h.update(repr(tuple(r)).encode())
            h.update(b"\n")
        return h.hexdigest()
