"""The consumer: one implementation, driven from a notebook cell or by a process.

``Consumer`` has confluent-kafka's shape: configure it with ``group.id``,
``enable.auto.commit``, ``auto.offset.reset`` and friends, ``subscribe``, then
``poll``/``consume`` and ``commit``. Called from a notebook cell, ``poll(1.0)``
advances the virtual clock by at most its timeout while it waits for records.
A :class:`~eda_sim.services.members.Member` drives the very same object from a process
on the clock.

Positions and commits follow Kafka:

* the *position* is the offset of the next record ``poll`` will hand out;
* the *committed* offset, kept per partition by the group, is where a new
  owner starts: the last processed offset + 1;
* with ``enable.auto.commit`` (the default) the consumer commits the offsets of
  what ``poll`` returned, every ``auto.commit.interval.ms``, whether or not the
  application has processed it yet; also when partitions are revoked in a
  rebalance and on ``close``;
* a partition with no committed offset starts where ``auto.offset.reset``
  says: ``latest`` (the default: only new records), ``earliest``, or ``none``
  (an error).

Instead of ``subscribe``, ``assign(partitions)`` consumes exactly the
partitions given, from the offsets given, with no group membership and no
rebalance (librdkafka's manual assignment; ``incremental_assign``,
``incremental_unassign`` and ``unassign`` change it). Its commits still go to
``group.id``, as a simple consumer's: accepted only while the group has no
members. Inside a subscribed consumer's ``on_assign``/``on_revoke`` the same
calls are how a real client takes and gives up its partitions; here the
coordinator has already done it, and the calls apply the start offsets given.

Example::

    sim = Simulation(seed=1)
    sim.create_topic("orders", partitions=2)
    c = Consumer({"bootstrap.servers": sim.bootstrap_servers, "group.id": "billing",
                  "auto.offset.reset": "earliest", "enable.auto.commit": False})
    c.subscribe(["orders"])
    msg = c.poll(1.0)          # None if nothing arrives within 1 virtual second
    if msg is not None and msg.error() is None:
        ...                    # process it, then
        c.commit(message=msg, asynchronous=False)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from eda_sim.core.checks import timeout as _timeout
from eda_sim.core.errors import KafkaError, KafkaException, fail
from eda_sim.kafka import config as _config
from eda_sim.kafka import fetchqueue as _fq
from eda_sim.kafka.message import (
    OFFSET_BEGINNING,
    OFFSET_END,
    OFFSET_INVALID,
    OFFSET_STORED,
    Message,
    TopicPartition,
)

if TYPE_CHECKING:
    from eda_sim.broker.transactions import ConsumerGroupMetadata
    from eda_sim.core.simulation import Simulation
    from eda_sim.kafka.admin import ClusterMetadata

#: Seconds librdkafka waits between JoinGroup attempts after one failed (its join interval, 1 s).
JOIN_BACKOFF = 1.0


def check_subscription(topics: list[str], group_id: str | None) -> None:
    """The argument checks ``subscribe()`` makes on every backend, as confluent-kafka makes them.

    A list of topic name strings (``TypeError`` otherwise), not empty and
    without repeats (librdkafka's ``_INVALID_ARG``), and a ``group.id``.
    """
    if not isinstance(topics, (list, tuple)) or not all(isinstance(t, str) for t in topics):
        raise TypeError(
            f"expected list of topic unicode strings: subscribe() takes a list of topic names, "
            f"e.g. ['orders'], got {type(topics).__name__} {topics!r}"
        )
    if not topics:
        raise fail(
            "_INVALID_ARG",
            "Failed to set subscription: the topic list is empty; name at least one topic "
            "(to stop consuming, call unsubscribe())",
        )
    repeated = sorted({t for t in topics if topics.count(t) > 1})
    if repeated:
        raise fail(
            "_INVALID_ARG",
            f"Failed to set subscription: {', '.join(repeated)} listed more than once",
        )
    if not group_id:
        raise fail("_INVALID_ARG", 'subscribe() needs "group.id" set in the consumer config')


def _window_end(until: float, now: float, wait: float) -> float:
    """The end of the backoff window that holds ``now`` when windows of ``wait`` follow each other from ``until``."""
    return until + wait * ((now - until) // wait + 1)


def _delay_to(until: float, now: float) -> float:
    """The delay that brings the clock from ``now`` to ``until`` or just past it, never a rounding short."""
    delay = until - now
    return delay if now + delay >= until else math.nextafter(delay, math.inf)


def _partition_list(partitions, what: str) -> list:
    """``(topic, partition)`` pairs of a list of ``TopicPartition``, checked as confluent-kafka checks them."""
    if not isinstance(partitions, (list, tuple)) or not all(
        isinstance(tp, TopicPartition) for tp in partitions
    ):
        raise TypeError(
            f"expected list of TopicPartition: {what}() takes e.g. [TopicPartition('orders', 0)], "
            f"got {type(partitions).__name__} {partitions!r}"
        )
    return [(tp.topic, tp.partition) for tp in partitions]


#: The logical start offsets librdkafka takes in an assignment (besides OFFSET_TAIL(n), -2000 - n).
_START_OFFSETS = (OFFSET_BEGINNING, OFFSET_END, OFFSET_STORED, OFFSET_INVALID)


def _format(parts) -> str:
    return "[" + ",".join(f"{t}-{p}" for t, p in sorted(parts)) + "]"


class Consumer:
    """A consumer group member, shaped like ``confluent_kafka.Consumer``."""

    def __init__(self, config: dict | None = None, *, sim: Simulation | None = None):
        from eda_sim.core.simulation import resolve_simulation

        _config.check_group_protocol(config)
        self._config = _config.resolve(config, _config.CONSUMER, "consumer")
        self._sim = (
            sim if sim is not None else resolve_simulation(self._config["bootstrap.servers"])
        )
        self.group_id = self._config["group.id"]
        if not self.group_id:
            # confluent-kafka refuses a consumer without a group at construction, in these words.
            raise ValueError(
                'Failed to create consumer: group.id must be set (e.g. {"group.id": "billing"}); '
                "the group is what commits offsets and shares partitions"
            )
        self.client_id = self._config["client.id"]
        self.member_id: str | None = None
        self._subscription: frozenset = frozenset()
        self._assignment: list = []  # sorted (topic, partition) pairs
        # assign()/incremental_assign() outside a group: the partitions are this client's alone
        # (librdkafka's manual assignment); its journal rows name it after its handle, as
        # librdkafka names it (client.id#consumer-N), given at the first assign()
        self._manual = False
        self._manual_actor: str | None = None
        self._assign_offsets: dict = {}  # the start offset assign() was given, as assignment() shows it
        # inside on_assign / on_revoke / on_lost: (kind, the callback's partitions), else None
        self._in_callback: tuple | None = None
        self._positions: dict = {}
        self._stored: dict = {}
        # the committed offset this client knows per assigned partition: fetched when the partition was
        # assigned, then moved by its own successful commits (librdkafka's rktp_committed_pos)
        self._committed_pos: dict = {}
        self._lost: dict = {}  # offsets stored for partitions lost in an eviction, kept until the next poll
        self._pending_errors: list = []
        self._join_after = 0.0  # a refused JoinGroup: no new attempt before this virtual time
        self._callbacks = (None, None, None)
        self._closed = False
        self._fenced = (
            False  # another process took this group.instance.id (fatal, as in librdkafka)
        )
        self._incarnation = 0  # one per join: background loops of an older one stop
        self._group_poll_hook = (
            None  # KIP-848: a revocation the next poll carries out (eda_sim.broker.group_consumer)
        )
        self.crashed = False
        self._last_poll = self._sim.now
        self._rr = 0
        self._last_runs: list = []  # (topic, partition, first offset, count) of the last fetch
        self.delivered_total = 0
        self._read_committed = self._config["isolation.level"] == "read_committed"
        self._unstable: set = set()  # assigned partitions whose offsets wait on an open transaction
        self._generation = -1  # the group generation seen at the last poll
        # librdkafka's local fetch queue (eda_sim.kafka.fetchqueue): per partition, what was fetched
        # ahead of the position; the whole consumer's value bytes; the partitions paused.
        cfg = self._config
        self._queues: dict = {}
        self._queued_bytes = 0
        self._paused: set = set()
        self._min_msgs = cfg["queued.min.messages"]
        self._max_queued_bytes = cfg["queued.max.messages.kbytes"] * 1024
        self._partition_fetch_bytes = cfg["fetch.message.max.bytes"]
        self._fetch_max_bytes = _fq.effective_fetch_max_bytes(
            cfg, "fetch.max.bytes" in (config or {})
        )
        self._fetch_due = True  # something may be fetchable that the last top-up did not see
        self._data_seen = -1  # sim.data_version at the last top-up
        self._fetch_round = 0
        self._auto_store = cfg["enable.auto.offset.store"]
        self._fetch_min_bytes = cfg["fetch.min.bytes"]
        self._fetch_wait = cfg["fetch.wait.max.ms"] / 1000.0
        self._fetch_held_since = None  # a Fetch the broker holds for fetch.min.bytes, since when
        # fetch.queue.backoff.ms: per partition found at its queue limits, no fetch before this instant
        # (librdkafka's rktp_ts_fetch_backoff); the earliest end a waiting poll must wake for; the wake-ups
        # already on the clock
        self._queue_backoff = cfg["fetch.queue.backoff.ms"] / 1000.0
        self._backoff: dict = {}
        self._backoff_next = None
        self._backoff_wakes: set = set()
        self._stats_next = (
            self._sim.now + cfg["statistics.interval.ms"] / 1000.0
            if cfg["statistics.interval.ms"] and cfg["stats_cb"] is not None
            else None
        )

    def __repr__(self) -> str:
        return f"<Consumer {self.member_id or self.client_id} group={self.group_id!r}>"

    # -- subscription --------------------------------------------------------------

    def subscribe(
        self,
        topics: list[str],
        on_assign: Callable | None = None,
        on_revoke: Callable | None = None,
        on_lost: Callable | None = None,
    ) -> None:
        """Subscribe to topics; the group is joined on the next ``poll``, as with Kafka.

        A topic that does not exist is not an error here: as librdkafka does, the
        next ``poll`` returns an error event ``UNKNOWN_TOPIC_OR_PART`` ("Subscribed
        topic not available") for it, and the consumer goes on with the others.
        """
        self._check_usable()
        check_subscription(topics, self.group_id)
        known = self._sim.broker.topics
        for t in sorted(set(topics) - set(known)):
            self._pending_errors.append(
                Message(
                    t,
                    None,
                    None,
                    None,
                    KafkaError(
                        KafkaError.UNKNOWN_TOPIC_OR_PART,
                        f"Subscribed topic not available: {t}: Broker: Unknown topic or partition "
                        f"(topics are: {', '.join(sorted(known)) or 'none'})",
                    ),
                )
            )
        self._subscription = frozenset(topics)
        self._callbacks = (on_assign, on_revoke, on_lost)
        if self.member_id is not None:
            self._sim.ensure_group(self.group_id).rebalance(
                f"{self.member_id} changed subscription"
            )

    def unsubscribe(self) -> None:
        """Leave the group and drop the subscription."""
        self._check_usable()
        self._leave()
        self._subscription = frozenset()

    def assignment(self) -> list[TopicPartition]:
        """The partitions assigned now (by the group, or by ``assign()`` with the start offsets it was given)."""
        self._check_usable()
        offsets = self._assign_offsets
        return [
            TopicPartition(t, p, offsets.get((t, p), OFFSET_INVALID)) for t, p in self._assignment
        ]

    def memberid(self) -> str | None:
        """The member id the group gave this consumer, or None outside a group."""
        return self.member_id

    # -- manual assignment (assign, unassign, incremental_assign, incremental_unassign) ---------

    def assign(self, partitions: list) -> None:
        """Consume exactly ``partitions`` (a list of ``TopicPartition``), replacing the current assignment.

        librdkafka's manual assignment: no group membership, no rebalance;
        each partition's ``offset`` says where to start: an offset, or
        ``OFFSET_BEGINNING``, ``OFFSET_END``, ``OFFSET_STORED`` /
        ``OFFSET_INVALID`` (the default: the group's committed offset, else
        ``auto.offset.reset``), or ``OFFSET_TAIL(n)`` (``-2000 - n``: ``n``
        before the end). Commits go to ``group.id`` as a simple consumer's do
        (generation -1, no member id): the coordinator accepts them while the
        group has no members and answers ``UNKNOWN_MEMBER_ID`` otherwise.

        As librdkafka, the old assignment is cleared first (its stored offsets
        committed when ``enable.auto.commit`` is on) and a bad list then
        raises ``_INVALID_ARG`` with nothing assigned. Inside a rebalance
        callback of a subscribed consumer see :meth:`incremental_assign`.
        """
        self._check_usable()
        pairs = _partition_list(partitions, "assign")
        self._check_method("assign", "Failed to set assignment")
        if self._in_callback is not None:
            self._assign_in_callback(partitions, pairs, incremental=False)
            return
        self._manual_drop(list(self._assignment), "assign() replaces the assignment")
        problem = self._bad_additions(partitions)
        if problem is not None:
            raise fail(problem[0], f"Failed to set assignment: {problem[1]}")
        self._manual_add(partitions, "assign()")

    def unassign(self) -> None:
        """Stop consuming every assigned partition (``assign([])``); commits stored offsets with auto-commit."""
        self._check_usable()
        self._check_method("unassign", "Failed to remove assignment")
        if self._in_callback is not None:
            self._unassign_in_callback(list(self._assignment))
            return
        self._manual_drop(list(self._assignment), "unassign()")

    def incremental_assign(self, partitions: list) -> None:
        """Add ``partitions`` (with their start offsets, as :meth:`assign`) to the current assignment.

        librdkafka refuses a list with a partition twice (``_INVALID_ARG``
        "Duplicate ... in input list"), an invalid start offset
        (``_INVALID_ARG``) or a partition already assigned (``_CONFLICT``
        "... is already part of the current assignment").

        In a group under ``cooperative-sticky``, a real client's ``on_assign``
        calls ``incremental_assign(partitions)`` (confluent-kafka calls it
        for the application when the callback does not). The simulated
        coordinator has already handed those partitions over when
        ``on_assign`` runs, so there the call takes the offsets given as the
        partitions' start positions (OFFSET_STORED/INVALID: the committed
        offset they already start from) and changes nothing else: the same
        callback code runs here and on a real cluster. Outside a group
        (``group.id`` only for commits) it adds to a manual assignment.
        """
        self._check_usable()
        pairs = _partition_list(partitions, "incremental_assign")
        self._check_method("incremental_assign", None)
        if self._in_callback is not None:
            self._assign_in_callback(partitions, pairs, incremental=True)
            return
        problem = self._bad_additions(partitions)
        if problem is not None:
            raise fail(*problem)
        self._manual_add(partitions, "incremental_assign()")

    def incremental_unassign(self, partitions: list) -> None:
        """Remove ``partitions`` from the current assignment (their offsets are ignored).

        librdkafka refuses a partition that is not assigned (``_INVALID_ARG``
        "... can't be unassigned since it is not in the current
        assignment"; on an empty assignment "Can't subtract from empty
        assignment"). In a cooperative group's ``on_revoke``/``on_lost`` the
        call gives up the partitions the callback names, as the coordinator
        was about to take them (confluent-kafka makes the call itself when
        the callback does not).
        """
        self._check_usable()
        pairs = _partition_list(partitions, "incremental_unassign")
        self._check_method("incremental_unassign", None)
        if len(set(pairs)) != len(pairs):
            dup = sorted(tp for tp in set(pairs) if pairs.count(tp) > 1)[0]
            raise fail("_INVALID_ARG", f"Duplicate {dup[0]} [{dup[1]}] in input list")
        if not self._assignment and pairs:
            raise fail("_INVALID_ARG", "Can't subtract from empty assignment")
        assigned = set(self._assignment)
        for t, p in sorted(pairs):
            if (t, p) not in assigned:
                raise fail(
                    "_INVALID_ARG",
                    f"{t} [{p}] can't be unassigned since it is not in the current assignment",
                )
        if self._in_callback is not None:
            self._unassign_in_callback(pairs)
            return
        self._manual_drop(sorted(pairs), "incremental_unassign()")

    def _actor(self) -> str:
        """Who this consumer is in the journal: its member id in a group, its handle name when assigned by hand."""
        return self.member_id or self._manual_actor or self.client_id

    def _check_method(self, method: str, prefix: str | None) -> None:
        """librdkafka's check of the assignment method against the group's rebalance protocol.

        A member of an eager group changes its assignment with ``assign()`` /
        ``unassign()``, one of a cooperative group (``cooperative-sticky``, or
        any KIP-848 group) with the incremental pair; otherwise ``_STATE``.
        Outside a rebalance callback librdkafka also lets a member change its
        local assignment with the matching method (out of step with what the
        group thinks it owns, until the next rebalance); the simulator keeps a
        member's assignment the group's and refuses with ``_STATE`` (call
        ``unsubscribe()`` first to assign by hand).
        """
        if self.member_id is None:
            return
        group = self._sim.groups[self.group_id]
        cooperative = group.protocol_type == "consumer" or group.protocol == "cooperative"
        incremental = method.startswith("incremental")
        if cooperative and not incremental:
            why = (
                "Changes to the current assignment must be made using incremental_assign() or "
                "incremental_unassign() when rebalance protocol type is COOPERATIVE"
            )
            raise fail("_STATE", f"{prefix}: Local: Erroneous state ({why})")
        if not cooperative and incremental:
            raise fail(
                "_STATE",
                "Changes to the current assignment must be made using assign() when rebalance "
                "protocol type is EAGER",
            )
        if self._in_callback is None:
            raise fail(
                "_STATE",
                f"{method}(): {self.member_id} is a member of group {self.group_id!r}, whose "
                "coordinator hands out its partitions; change them inside on_assign/on_revoke/"
                "on_lost, or unsubscribe() first to assign partitions by hand (librdkafka would "
                "change the local assignment out of step with the group; the simulator keeps a "
                "member's assignment the group's)",
            )

    def _bad_additions(self, partitions: list) -> tuple | None:
        """What librdkafka refuses in a list of partitions to add: (error name, reason), or None."""
        assigned = set(self._assignment)
        previous = None
        for tp in sorted(partitions, key=lambda tp: (tp.topic, tp.partition)):
            off = tp.offset
            if off < 0 and off > -2000 and off not in _START_OFFSETS:
                return (
                    "_INVALID_ARG",
                    f"{tp.topic} [{tp.partition}] has invalid start offset {off}",
                )
            if previous == (tp.topic, tp.partition):
                return ("_INVALID_ARG", f"Duplicate {tp.topic} [{tp.partition}] in input list")
            if (tp.topic, tp.partition) in assigned:
                return (
                    "_CONFLICT",
                    f"{tp.topic} [{tp.partition}] is already part of the current assignment",
                )
            previous = (tp.topic, tp.partition)
            topic = self._sim.broker.topics.get(tp.topic)
            if topic is None or not 0 <= tp.partition < topic.partition_count:
                # librdkafka accepts it and waits for the partition to appear; the simulator refuses
                return (
                    "_UNKNOWN_PARTITION",
                    f"{tp.topic} [{tp.partition}] does not exist (topics: "
                    f"{', '.join(sorted(self._sim.broker.topics)) or 'none'}); the simulator "
                    "assigns only existing partitions",
                )
        return None

    def _manual_add(self, partitions: list, how: str) -> None:
        """Add ``partitions`` to a manual assignment and work out where each starts."""
        if not partitions:
            return
        sim = self._sim
        if self._manual_actor is None:
            self._manual_actor = (
                f"{self.client_id}#consumer-{sim.next_number('handle:' + self.client_id)}"
            )
        if not self._manual:
            self._manual = True
            self._generation = -1  # outside the group: consumer_group_metadata() says generation -1
            self._incarnation += 1
            if self._config["enable.auto.commit"] and self._config["auto.commit.interval.ms"] > 0:
                sim.env.process(self._auto_commit_loop(None, self._incarnation))
        parts = sorted((tp.topic, tp.partition) for tp in partitions)
        actor = self._manual_actor
        sim.journal.write(
            "assigned",
            actor,
            self.group_id,
            count=len(parts),
            detail=f"{how}: {_format(parts)}",
            data=tuple(parts),
        )
        self._assignment = sorted(set(self._assignment) | set(parts))
        group = sim.groups.get(self.group_id)
        for tp in sorted(partitions, key=lambda tp: (tp.topic, tp.partition)):
            key = (tp.topic, tp.partition)
            self._assign_offsets[key] = tp.offset
            self._stored.pop(key, None)  # librdkafka resets the stored offset on assignment
            committed = group.committed.get(key) if group is not None else None
            self._know_committed(key, committed)
            self._start_at(key, tp.offset, committed)
        self._fetch_due = True

    def _start_at(self, tp, offset: int, committed) -> None:
        """Set ``tp``'s start position from an assign() offset, as librdkafka's fetcher starts it."""
        sim = self._sim
        log = sim.broker.topics[tp[0]].partitions[tp[1]]
        end = log.log_end_offset
        if self._read_committed:
            end = sim.transactions.last_stable_offset(tp[0], tp[1])
        if offset in (OFFSET_STORED, OFFSET_INVALID):
            self._start_from_committed(tp, committed)
            return
        if offset == OFFSET_BEGINNING:
            pos = log.log_start_offset
        elif offset == OFFSET_END:
            pos = end
        elif offset <= -2000:  # OFFSET_TAIL(n): n records before the end
            pos = max(log.log_start_offset, end - (-2000 - offset))
        else:
            pos = offset  # out of the log's range: the first fetch resets it (auto.offset.reset)
        self._move_to(tp, pos, "seeked", "start offset of the assignment")

    def _forget(self, parts) -> None:
        """Drop everything this client holds for ``parts``: position, fetch queue, pause, stored offset."""
        gone = set(parts)
        self._unstable.difference_update(gone)
        self._assignment = [tp for tp in self._assignment if tp not in gone]
        for tp in parts:
            self._positions.pop(tp, None)
            q = self._queues.pop(tp, None)
            if q is not None:
                self._queued_bytes -= q.nbytes
            self._paused.discard(tp)
            self._backoff.pop(tp, None)
            self._committed_pos.pop(tp, None)
            self._stored.pop(tp, None)
            self._assign_offsets.pop(tp, None)

    def _manual_drop(self, parts: list, how: str) -> None:
        """Remove ``parts`` from a manual assignment; with auto-commit, commit their stored offsets first.

        librdkafka's ``rd_kafka_assignment_serve_removals`` commits the
        stored offsets of partitions leaving the assignment when
        ``enable.auto.commit`` is on, then forgets them.
        """
        if not parts:
            return
        if self._config["enable.auto.commit"]:
            leaving = set(parts)
            offs = {tp: o for tp, o in self._stored_to_commit().items() if tp in leaving}
            if offs:
                self._commit(offs)
        self._forget(parts)
        self._sim.journal.write(
            "revoked",
            self._actor(),
            self.group_id,
            count=len(parts),
            detail=f"{how}: {_format(parts)}",
            data=tuple(sorted(parts)),
        )
        if not self._assignment:
            self._manual = False
            self._incarnation += 1  # the auto-commit timer of the manual assignment stops

    def _assign_in_callback(self, partitions: list, pairs: list, incremental: bool) -> None:
        """``assign``/``incremental_assign`` called from a rebalance callback of a group member."""
        kind, given = self._in_callback
        if kind != "assign":
            if not pairs and not incremental:
                self._unassign_in_callback(
                    list(self._assignment)
                )  # assign([]) / assign(None): unassign
                return
            raise fail(
                "_STATE",
                f"{'incremental_' if incremental else ''}assign() inside on_{kind}: the partitions "
                "are being taken away; give them up with "
                f"{'incremental_unassign(partitions)' if incremental else 'unassign()'}",
            )
        handed = set(given)
        if len(set(pairs)) != len(pairs):
            dup = sorted(tp for tp in set(pairs) if pairs.count(tp) > 1)[0]
            raise fail("_INVALID_ARG", f"Duplicate {dup[0]} [{dup[1]}] in input list")
        for tp in sorted(partitions, key=lambda tp: (tp.topic, tp.partition)):
            key = (tp.topic, tp.partition)
            off = tp.offset
            if off < 0 and off > -2000 and off not in _START_OFFSETS:
                raise fail(
                    "_INVALID_ARG", f"{tp.topic} [{tp.partition}] has invalid start offset {off}"
                )
            if key not in handed:
                if incremental and key in self._assignment:
                    raise fail(
                        "_CONFLICT",
                        f"{tp.topic} [{tp.partition}] is already part of the current assignment",
                    )
                raise fail(
                    "_INVALID_ARG",
                    f"{tp.topic} [{tp.partition}] was not handed to this member in this rebalance "
                    f"(on_assign got {_format(given)}); pass the callback's own list (simulator: "
                    "inside a rebalance a member takes exactly what the coordinator gives)",
                )
        for tp in partitions:
            key = (tp.topic, tp.partition)
            self._assign_offsets[key] = tp.offset
            if tp.offset not in (OFFSET_STORED, OFFSET_INVALID):
                self._start_at(key, tp.offset, None)

    def _unassign_in_callback(self, pairs: list) -> None:
        """``unassign``/``incremental_unassign`` called from a rebalance callback of a group member.

        In ``on_revoke``/``on_lost`` the partitions go at once, as the
        coordinator was about to take them (their stored offsets are dropped:
        commit before giving them up). In ``on_assign`` it is refused.
        """
        kind, _given = self._in_callback
        if kind == "assign":
            raise fail(
                "_STATE",
                "unassign inside on_assign: the coordinator has just handed these partitions to "
                "this member; to stop reading one, pause() it",
            )
        self._forget(pairs)

    def offsets_for_times(
        self, partitions: list, timeout: float | None = None
    ) -> list[TopicPartition]:
        """Per partition, the earliest offset whose record timestamp is at or after the one given.

        Each ``TopicPartition``'s ``offset`` carries a timestamp in
        milliseconds since the Unix epoch (as ``Message.timestamp()`` gives
        them); the answer's ``offset`` is the first offset, in log order,
        whose record's timestamp is greater than or equal to it, or -1 when no
        record is that recent. As the broker's ListOffsets does, -1 asks for
        the end, -2 for the log start, -3 for the record with the largest
        timestamp; under ``read_committed`` only offsets below the last stable
        offset are answered. A partition that does not exist raises
        ``_UNKNOWN_PARTITION``, as librdkafka does for the whole call.
        """
        self._check_usable()
        _partition_list(partitions, "offsets_for_times")
        if timeout is not None:
            _timeout(timeout)
        from eda_sim.kafka.admin_records import OffsetSpec, TimestampSpec, lookup

        sim = self._sim
        for tp in partitions:
            topic = sim.broker.topics.get(tp.topic)
            if topic is None or not 0 <= tp.partition < topic.partition_count:
                raise fail(
                    "_UNKNOWN_PARTITION",
                    f"Failed to get offsets: Local: Unknown partition ({tp.topic} [{tp.partition}])",
                )
        # the broker's one ListOffsets answer (AdminClient.list_offsets asks the same)
        named = {
            -1: OffsetSpec.latest(),
            -2: OffsetSpec.earliest(),
            -3: OffsetSpec.max_timestamp(),
        }
        return [
            TopicPartition(
                tp.topic,
                tp.partition,
                lookup(
                    sim, tp, named.get(tp.offset) or TimestampSpec(tp.offset), self._read_committed
                ).offset,
            )
            for tp in partitions
        ]

    # -- read-only views for the group coordinator and the service layer (simulator extras) --

    @property
    def config(self) -> Mapping:
        """The resolved configuration (defaults filled in), read-only."""
        return MappingProxyType(self._config)

    @property
    def subscribed_topics(self) -> frozenset:
        """The topics subscribed to (empty when not subscribed)."""
        return self._subscription

    @property
    def positions(self) -> Mapping:
        """The next offset to fetch per owned ``(topic, partition)``, read-only."""
        return MappingProxyType(self._positions)

    @property
    def stored_offsets(self) -> Mapping:
        """The offsets stored for the next commit per ``(topic, partition)``, read-only."""
        return MappingProxyType(self._stored)

    @property
    def owned_partitions(self) -> tuple:
        """The ``(topic, partition)`` pairs this member owns now, sorted (``assignment()`` without the check)."""
        return tuple(self._assignment)

    @property
    def last_runs(self) -> list:
        """The last fetch as runs of ``(topic, partition, first offset, count)``."""
        return self._last_runs

    @property
    def closed(self) -> bool:
        """Whether ``close()`` was called."""
        return self._closed

    def run_at_next_poll(self, action: Callable[[], None]) -> bool:
        """Have the next poll call ``action`` first (KIP-848 revocations); False if one is already waiting."""
        if self._group_poll_hook is not None:
            return False
        self._group_poll_hook = action
        return True

    # -- polling ---------------------------------------------------------------------

    def poll(self, timeout: float | None = None) -> Message | None:
        """Return one message (or an error event), or None if none arrives within ``timeout`` virtual seconds.

        ``timeout`` in seconds; negative or None waits until something comes.
        """
        sim = self._sim
        # hot path: a poll loop over records already fetched. When nothing else waits for this poll
        # (no error, rebalance, reset, fetch or statistics due), hand out the next record of the
        # partition served last, or the next in turn that holds one, exactly as _serve would;
        # otherwise the full path.
        if (
            self._data_seen == sim.data_version
            and not self._fetch_due
            and (self.member_id is not None or self._manual)
            and not self._pending_errors
            and self._group_poll_hook is None
            and not self._lost
            and not self._unstable
            and self._stats_next is None
            and not self.crashed
            and not self._closed
            and not sim._running  # hot path: per poll, the property's field
            and (
                timeout is None
                or (timeout.__class__ is float and timeout == timeout)
                or timeout.__class__ is int
            )
        ):
            parts = self._assignment
            n = len(parts)
            queues = self._queues
            positions = self._positions
            rr = self._rr
            for i in range(n):
                tp = parts[(rr + i) % n]
                q = queues.get(tp)
                if q is None:
                    continue
                if q.gaps:
                    break  # offsets with no record to hand out: the full path counts them
                pos = positions.get(tp)
                if pos is None or q.end <= pos:
                    continue
                # PartitionQueue.take(pos, 1) inlined: the queue is dense, its head is at pos
                topic, part = tp
                h = q.head
                recs = q.recs
                cum = q.cum
                msg = Message(topic, part, pos, recs[h])
                nbytes = cum[h + 1] - cum[h]
                h += 1
                held = len(recs) - h
                # librdkafka hands out a partition's fetched records as one run: the same partition
                # serves the next poll until its queue is empty, then the next partition in turn
                self._rr = rr + i if held else rr + i + 1
                if not held:
                    q.recs = []
                    q.offs = []
                    q.cum = [0]
                    q.head = 0
                else:
                    q.head = h
                    if h > 65536 and h > held:
                        q.compact()
                queued = self._queued_bytes = self._queued_bytes - nbytes
                self._last_runs = [(topic, part, pos, 1)]
                pos += 1
                positions[tp] = pos
                if self._auto_store:
                    self._stored[tp] = pos
                self._last_poll = sim.env._now  # hot path: per poll
                member = self.member_id
                if member is not None:
                    self._generation = sim.groups[self.group_id].generation
                else:
                    member = self._manual_actor
                sim.journal.write("delivered", member, self.group_id, topic, part, pos - 1, 1)
                if held == self._min_msgs - 1 or queued < self._max_queued_bytes <= queued + nbytes:
                    self._fetch_due = True  # below a threshold that held the fetcher back
                    if self._backoff:
                        self._backoff_runs_on(list(self._backoff))
                self.delivered_total += 1
                return msg
        out = self.consume(1, -1 if timeout is None else timeout)
        return out[0] if out else None

    def consume(self, num_messages: int = 1, timeout: float = -1) -> list[Message]:
        """Return up to ``num_messages`` messages, waiting at most ``timeout`` virtual seconds (-1: until any).

        As confluent-kafka: ``num_messages`` is 0 to 1,000,000 (0 returns an
        empty list at once); ``timeout`` is a number of seconds, negative for
        no limit. NaN and values that are not numbers are refused.
        """
        if not isinstance(num_messages, int):
            raise TypeError(
                f"num_messages must be an int from 0 to 1000000, got {type(num_messages).__name__} "
                f"{num_messages!r}"
            )
        if not 0 <= num_messages <= 1000000:
            raise ValueError(
                f"num_messages must be between 0 and 1000000 (1M), got {num_messages!r}"
            )
        timeout = _timeout(timeout)
        self._check_usable()
        if num_messages == 0:
            return []
        self._sim.require_outside_run("Consumer.consume/poll")
        out = self._fetch(num_messages)
        deadline = self._sim.now + timeout
        while not out and self._sim.advance(deadline):
            out = self._fetch(num_messages)
        return out

    def _fetch_held(self) -> bool:
        """Whether the broker still holds the Fetch request: fewer than ``fetch.min.bytes`` to send
        and ``fetch.wait.max.ms`` not over since the request came (then it answers with what it has)."""
        sim = self._sim
        now = sim.now
        since = self._fetch_held_since
        if since is not None and now >= since + self._fetch_wait:
            self._fetch_held_since = None
            return False
        if self._fetchable_bytes(self._fetch_min_bytes) >= self._fetch_min_bytes:
            self._fetch_held_since = None
            return False
        if since is None:
            self._fetch_held_since = now
            if self._fetch_wait > 0:
                sim.env.timeout(self._fetch_wait)  # the broker's answer wakes a waiting poll
            else:
                return False
        self._fetch_due = True  # look again at the next poll
        return True

    def _fetchable_bytes(self, enough: int) -> int:
        """Wire bytes the partitions that may fetch have beyond what was fetched (counted up to ``enough``)."""
        sim = self._sim
        now = sim.now
        total = 0
        for tp in self._assignment:
            pos = self._positions.get(tp)
            if tp in self._paused or pos is None:
                continue
            q = self._queues.get(tp)
            full = q is not None and (
                q.count >= self._min_msgs or self._queued_bytes >= self._max_queued_bytes
            )
            if (full or self._backoff) and self._backed_off(tp, full, now):
                continue
            log = sim.broker.topics[tp[0]].partitions[tp[1]]
            stop = log.log_end_offset
            if self._read_committed:
                stop = sim.transactions.last_stable_offset(tp[0], tp[1])
            start = max(q.end if q is not None else pos, log.log_start_offset)
            for r in log.read(start, max(0, stop - start)):
                if r is not None:
                    total += _fq.wire_size(r)
                    if total >= enough:
                        return total
        return total

    def poll_in_process(
        self, num_messages: int, timeout: float
    ) -> Generator[Any, Any, list[Message]]:
        """Simulator extra: ``consume`` for a process on the clock, a generator it ``yield from``s."""
        out = self._fetch(num_messages)
        if out or timeout <= 0:
            return out
        env = self._sim.env
        wake = [self._sim.data_signal, env.timeout(timeout)]
        if self._fetch_held_since is not None:  # the broker answers a held Fetch when its wait ends
            wake.append(env.timeout(max(0.0, self._fetch_held_since + self._fetch_wait - env.now)))
        if self._backoff_next is not None and self._backoff_next > env.now:
            wake.append(env.timeout(_delay_to(self._backoff_next, env.now)))  # the backoff is over
        yield env.any_of(wake)
        return self._fetch(num_messages)

    def _fetch(self, max_n: int) -> list:
        self._check_usable()
        self._last_poll = self._sim.now
        if self._lost:
            self._lost = {}  # this poll hands the loss to the application (librdkafka's rebalance callback)
        if self._pending_errors:
            return [self._pending_errors.pop(0)]
        if self.member_id is None and self._subscription:
            if self._fenced or self._sim.now < self._join_after:
                return []
            self._join()
            if self._pending_errors:
                return [self._pending_errors.pop(0)]
        if self.member_id is None and not self._manual:
            return []
        if self._group_poll_hook is not None:
            hook, self._group_poll_hook = self._group_poll_hook, None
            hook()
        if self.member_id is not None:
            # The generation as this member knows it: librdkafka learns of a rebalance only inside poll.
            self._generation = self._sim.groups[self.group_id].generation
        if self._stats_next is not None and self._sim.now >= self._stats_next:
            self._emit_stats()
        parts = self._assignment
        if not parts:
            return []
        if self._unstable:
            self._resolve_unstable()
        topped = False
        if self._fetch_due or self._data_seen != self._sim.data_version:
            self._top_up()
            topped = True
            if self._pending_errors:
                return [self._pending_errors.pop(0)]
        out = self._serve(max_n)
        if not out and not topped:
            # Nothing held: look at the logs once more (a reset, or records no signal announced).
            self._top_up()
            if self._pending_errors:
                return [self._pending_errors.pop(0)]
            out = self._serve(max_n)
        self.delivered_total += len(out)
        return out

    def _serve(self, max_n: int) -> list:
        """Hand out up to ``max_n`` records from the fetch queues: the partition served last goes on
        while it holds records, then the others in turn (one run per partition, as librdkafka)."""
        parts = self._assignment
        n = len(parts)
        out: list = []
        runs = self._last_runs = []
        journal = self._sim.journal
        store = self._config["enable.auto.offset.store"]
        queues = self._queues
        positions = self._positions
        min_msgs = self._min_msgs
        start = self._rr % n
        actor = self._actor()
        for i in range(n):
            tp = parts[(start + i) % n]
            q = queues.get(tp)
            if q is None:
                continue
            pos = positions.get(tp)
            if pos is None:
                continue
            take = q.end - pos
            if take <= 0:
                continue
            room = max_n - len(out)
            if take > room:
                take = room
            msgs, nbytes = q.take(tp[0], tp[1], pos, take)
            self._queued_bytes -= nbytes
            out.extend(msgs)
            topic, part = tp
            runs.append((topic, part, pos, take))
            positions[tp] = pos + take
            if store:
                self._stored[tp] = pos + take
            journal.write("delivered", actor, self.group_id, topic, part, pos, take)
            left = q.count
            if left < min_msgs <= left + len(msgs) or (
                self._queued_bytes < self._max_queued_bytes <= self._queued_bytes + nbytes
            ):
                # the queue fell below a threshold that held the fetcher back: it may fetch again
                self._fetch_due = True
                if self._backoff:
                    self._backoff_runs_on(list(self._backoff))
            # the next call goes on with this partition while it holds records (one run per partition,
            # as librdkafka's queue hands them out), else with the next one
            self._rr = start + i + (1 if left == 0 else 0)
            if len(out) >= max_n:
                break
        return out

    def _top_up(self) -> None:
        """Fetch ahead into the queues until every fetchable partition is at its limits or caught up.

        Each round is one Fetch request over the partitions that may fetch: not
        paused, fewer than ``queued.min.messages`` held, the consumer under
        ``queued.max.messages.kbytes``; at most ``fetch.message.max.bytes`` per
        partition and ``fetch.max.bytes`` in all, the first record of the
        request always (see :mod:`eda_sim.kafka.fetchqueue`).
        """
        sim = self._sim
        self._fetch_due = False
        self._data_seen = sim.data_version
        self._backoff_next = None
        backoff = self._backoff
        now = sim.now
        parts = self._assignment
        n = len(parts)
        queues = self._queues
        positions = self._positions
        paused = self._paused
        topics = sim.broker.topics
        txns = sim.transactions.partitions  # empty until a transactional producer writes
        rc = self._read_committed
        min_msgs = self._min_msgs
        max_bytes = self._max_queued_bytes
        per_partition = self._partition_fetch_bytes
        journal = sim.journal
        while True:
            if self._fetch_min_bytes > 1 and self._fetch_held():
                return
            left = self._fetch_max_bytes
            fetched = 0
            first = self._fetch_round % n
            self._fetch_round += 1
            for i in range(n):
                tp = parts[(first + i) % n]
                if tp in paused:
                    continue
                pos = positions.get(tp)
                if pos is None:
                    continue
                q = queues.get(tp)
                if q is None:
                    q = queues[tp] = _fq.PartitionQueue(pos)
                full = q.count >= min_msgs or self._queued_bytes >= max_bytes
                if (full or backoff) and self._backed_off(tp, full, now):
                    continue
                log = topics[tp[0]].partitions[tp[1]]
                if log.offline:  # a replicated partition with no leader to fetch from
                    continue
                if q.end < log.log_start_offset or q.end > log.log_end_offset:
                    if q.count:
                        continue  # what is held is handed out first; the fetch resets after
                    pos = self._reset(
                        tp,
                        log,
                        f"offset {q.end} out of range [{log.log_start_offset}, {log.log_end_offset}]",
                    )
                    if pos is None:
                        continue
                txp = txns.get(tp) if txns else None
                stop = log.log_end_offset
                if txp is not None and rc:
                    stop = txp.last_stable_offset(stop)  # read_committed reads only below the LSO
                if stop <= q.end:
                    continue
                if left <= 0:
                    break
                start, held = q.end, q.count
                wire, nbytes = q.fill(
                    log,
                    stop,
                    min(per_partition, left),
                    not fetched,
                    txp,
                    rc,
                )
                self._queued_bytes += nbytes
                if q.end > start:
                    journal.write(
                        "fetched",
                        self._actor(),
                        self.group_id,
                        tp[0],
                        tp[1],
                        start,
                        q.end - start,
                        f"{q.count - held} records, {nbytes} bytes into the fetch queue",
                    )
                left -= wire
                fetched += wire
            if not fetched:
                return

    def _move_to(self, tp, offset: int, kind: str | None = None, detail: str = "") -> None:
        """Make ``offset`` the position of ``tp``, drop what was fetched for it and fetch next from
        there (librdkafka purges the queue); journal it as ``kind`` (``seeked``, ``offset_reset``)
        when given."""
        self._positions[tp] = offset
        q = self._queues.get(tp)
        if q is not None:
            self._queued_bytes -= q.clear(offset)
        self._backoff.pop(tp, None)  # the fetch starts over: librdkafka clears the backoff
        self._fetch_due = True
        if kind is not None:
            self._sim.journal.write(
                kind, self._actor(), self.group_id or "", tp[0], tp[1], offset, 0, detail
            )

    def _drop_queues(self) -> None:
        self._queues = {}
        self._queued_bytes = 0
        self._backoff.clear()
        self._paused = set()
        self._fetch_due = True

    def _backed_off(self, tp, full: bool, now: float) -> bool:
        """librdkafka's fetch decision for ``tp`` as far as its queue goes: True if it may not fetch now.

        As ``rd_kafka_toppar_fetch_decide``: a partition inside its ``fetch.queue.backoff.ms`` is
        not fetched; one found at ``queued.min.messages`` / ``queued.max.messages.kbytes`` is not
        fetched either, and backs off (from now, or, when an earlier backoff ended with the queue
        still at its limits, from that end, window after window).
        """
        backoff = self._backoff
        until = backoff.get(tp)
        if until is not None and now < until:
            if not full:
                self._wake_at(until)
            return True
        if full:
            wait = self._queue_backoff
            if wait:
                backoff[tp] = now + wait if until is None else _window_end(until, now, wait)
            return True
        if until is not None:
            del backoff[tp]
        return False

    def _backoff_runs_on(self, parts) -> None:
        """``parts`` were at their queue limits until now: a backoff of theirs that ended meanwhile was renewed
        at its end, window after window, as librdkafka's fetcher decides again when a backoff ends."""
        backoff = self._backoff
        now = self._sim.now
        for tp in parts:
            until = backoff.get(tp)
            if until is not None and until <= now:
                backoff[tp] = _window_end(until, now, self._queue_backoff)

    def _wake_at(self, until: float) -> None:
        """A partition may fetch again at ``until``: the next poll looks again, and a waiting one wakes then."""
        self._fetch_due = True
        if self._backoff_next is None or until < self._backoff_next:
            self._backoff_next = until
        if until not in self._backoff_wakes:
            now = self._sim.now
            self._backoff_wakes = {t for t in self._backoff_wakes if t > now}
            self._backoff_wakes.add(until)
            self._sim.env.timeout(_delay_to(until, now))  # an event on the clock: consume() wakes

    # -- flow control and the fetch queue ------------------------------------------------

    def pause(self, partitions: list) -> None:
        """Stop fetching ``partitions`` (a list of ``TopicPartition``); ``poll`` returns none of their records.

        As librdkafka does, the records already fetched for a paused partition
        are dropped from the fetch queue, and ``resume`` fetches again from the
        position (the offset after the last record handed out), so nothing is
        lost or handed out twice. The assignment does not change: the group
        still counts the partitions as this member's, and the member keeps
        polling (which keeps it in the group). Partitions not assigned to this
        consumer are ignored, as librdkafka ignores them. A partition given up in
        a rebalance is no longer paused when it is assigned again.
        """
        self._check_usable()
        assigned = set(self._assignment)
        now_paused = []
        dropped = 0
        for tp in _partition_list(partitions, "pause"):
            if tp in assigned and tp not in self._paused:
                self._paused.add(tp)
                now_paused.append(tp)
                q = self._queues.get(tp)
                if tp in self._backoff and (
                    (q is not None and q.count >= self._min_msgs)
                    or self._queued_bytes >= self._max_queued_bytes
                ):
                    self._backoff_runs_on([tp])  # held back until now; no new backoff while paused
                if q is not None:
                    dropped += q.count
                    self._queued_bytes -= q.clear(self._positions.get(tp, q.end))
        self._journal_flow("paused", now_paused, f"{dropped} fetched records dropped")

    def resume(self, partitions: list) -> None:
        """Fetch ``partitions`` (a list of ``TopicPartition``) again, from their positions."""
        self._check_usable()
        resumed = []
        for tp in _partition_list(partitions, "resume"):
            if tp in self._paused:
                self._paused.discard(tp)
                resumed.append(tp)
                q = self._queues.get(tp)
                if q is not None:
                    self._queued_bytes -= q.clear(self._positions.get(tp, q.end))
                self._fetch_due = True
        self._journal_flow("resumed", resumed, "fetching again from the position")

    def _journal_flow(self, kind: str, parts: list, what: str) -> None:
        """A ``paused`` or ``resumed`` row for ``parts`` (none when empty): the board replays them."""
        if parts:
            self._sim.journal.write(
                kind,
                self._actor(),
                self.group_id,
                count=len(parts),
                detail=f"{len(parts)} partitions; {what}",
                data=tuple(sorted(parts)),
            )

    def paused(self) -> list[TopicPartition]:
        """Simulator extra (the Java client's ``paused()``): the assigned partitions paused now, sorted."""
        return [TopicPartition(t, p) for t, p in sorted(self._paused)]

    def fetch_queue(self) -> dict:
        """Simulator extra: what the consumer holds fetched ahead, per assigned ``(topic, partition)``.

        ``{(topic, partition): (records, bytes)}``, bytes counted as librdkafka
        counts ``fetchq_size`` (value bytes). The queue is as the last poll left
        it: fetching happens inside ``poll``. The same figures reach ``stats_cb``
        in librdkafka's statistics JSON when ``statistics.interval.ms`` is set.
        """
        return {
            tp: (q.count, q.nbytes) if (q := self._queues.get(tp)) is not None else (0, 0)
            for tp in self._assignment
        }

    @property
    def queued_bytes(self) -> int:
        """Simulator extra: value bytes held in the fetch queue over all partitions (librdkafka's limit counts these)."""
        return self._queued_bytes

    @property
    def queued_records(self) -> int:
        """Simulator extra: records held in the fetch queue over all partitions."""
        return sum(q.count for q in self._queues.values())

    def stats(self) -> dict:
        """librdkafka's statistics for this consumer, as the dict ``stats_cb``'s JSON decodes to.

        The fields the simulator knows, under librdkafka's names (STATISTICS.md):
        top level ``name``, ``client_id``, ``type``, ``ts`` (microseconds of
        virtual time), ``time`` (seconds since the epoch, virtual), ``rxmsgs``;
        per partition under ``topics`` -> topic -> ``partitions`` -> id:
        ``fetchq_cnt``, ``fetchq_size``, ``fetch_state``, ``next_offset``,
        ``app_offset``, ``stored_offset``, ``committed_offset``, ``lo_offset``,
        ``hi_offset``, ``ls_offset``, ``consumer_lag``, ``consumer_lag_stored``,
        ``rxmsgs``, ``rxbytes``; and ``cgrp`` with ``state`` and ``assignment_size``.
        """
        from eda_sim.kafka.message import EPOCH_MS

        sim = self._sim
        now = sim.now
        group = sim.groups.get(self.group_id)
        committed = group.committed if group is not None else {}
        topics: dict = {}
        rx = 0
        for tp in self._assignment:
            topic, part = tp
            log = sim.broker.topics[topic].partitions[part]
            q = self._queues.get(tp)
            hi = log.log_end_offset
            ls = sim.transactions.last_stable_offset(topic, part)
            end = ls if self._read_committed else hi
            app = self._positions.get(tp, OFFSET_INVALID)
            stored = self._stored.get(tp, OFFSET_INVALID)
            done = committed.get(tp, OFFSET_INVALID)
            rx += q.rxmsgs if q is not None else 0
            topics.setdefault(topic, {"topic": topic, "partitions": {}})["partitions"][
                str(part)
            ] = {
                "partition": part,
                "fetchq_cnt": q.count if q is not None else 0,
                "fetchq_size": q.nbytes if q is not None else 0,
                "fetch_state": "active" if app != OFFSET_INVALID else "offset-query",
                "next_offset": q.end if q is not None else app,
                "app_offset": app,
                "stored_offset": stored,
                "committed_offset": done,
                "lo_offset": log.log_start_offset,
                "hi_offset": hi,
                "ls_offset": ls,
                "consumer_lag": end - done if done >= 0 else -1,
                "consumer_lag_stored": end - stored if stored >= 0 else -1,
                "rxmsgs": q.rxmsgs if q is not None else 0,
                "rxbytes": q.rxbytes if q is not None else 0,
            }
        return {
            "name": f"{self.client_id}#consumer-{self.member_id or '-'}",
            "client_id": self.client_id,
            "type": "consumer",
            "ts": int(round(now * 1e6)),
            "time": (EPOCH_MS // 1000) + int(now),
            "rxmsgs": rx,
            "topics": topics,
            "cgrp": {
                "state": "up" if self.member_id is not None else "init",
                "assignment_size": len(self._assignment),
            },
        }

    def _emit_stats(self) -> None:
        """Hand ``stats_cb`` the statistics JSON; poll calls it once ``statistics.interval.ms`` has passed."""
        import json

        interval = self._config["statistics.interval.ms"] / 1000.0
        now = self._sim.now
        while self._stats_next <= now:
            self._stats_next += interval
        self._config["stats_cb"](json.dumps(self.stats(), sort_keys=True))

    # -- offsets ---------------------------------------------------------------------

    def commit(
        self, message: Message | None = None, offsets: list | None = None, asynchronous: bool = True
    ) -> list[TopicPartition] | None:
        """Commit offsets: a message's (its offset + 1), explicit ones, or all stored positions.

        Synchronous commits return the committed ``TopicPartition`` list and
        raise :class:`KafkaException` when the group refuses them (this member
        was evicted, or lost the partitions in a rebalance); asynchronous ones
        report failures to the ``on_commit`` callback and the journal.
        """
        self._check_usable()
        if message is not None and offsets is not None:
            raise ValueError("commit() takes message or offsets, not both")
        if message is not None:
            if message.error() is not None:
                raise ValueError(
                    "cannot commit an error event; commit a message that carries a record"
                )
            offs = {(message.topic(), message.partition()): message.offset() + 1}
        elif offsets is not None:
            offs = {}
            for tp in offsets:
                if not isinstance(tp, TopicPartition) or tp.offset < 0:
                    raise ValueError(
                        f"commit(offsets=...) expects TopicPartitions with offsets >= 0, got {tp!r}"
                    )
                offs[(tp.topic, tp.partition)] = tp.offset
        else:
            offs = self._stored_to_commit()
            if not offs and self._lost:
                # Evicted since the last poll: librdkafka learns of the loss only at the next poll, so
                # the commit still goes to the coordinator, which refuses it (not a member any more).
                offs = dict(self._lost)
            if not offs:
                raise fail(
                    "_NO_OFFSET",
                    "nothing to commit: no offset stored beyond the committed one for the assigned "
                    "partitions",
                )
        reason = self._commit(offs)
        parts = [TopicPartition(t, p, o) for (t, p), o in sorted(offs.items())]
        if reason is not None:
            err = KafkaError(
                KafkaError.UNKNOWN_MEMBER_ID
                if self.member_id is None
                else KafkaError.ILLEGAL_GENERATION,
                f"commit refused: {reason}",
            )
            if not asynchronous:
                raise KafkaException(err)
            if self._config["on_commit"]:
                self._config["on_commit"](err, parts)
            return None
        if self._config["on_commit"]:
            self._config["on_commit"](None, parts)
        return None if asynchronous else parts

    def _commit(self, offsets: dict) -> str | None:
        group = self._sim.ensure_group(self.group_id) if self.group_id else None
        if group is None:
            return "the consumer has no group.id"
        if self.member_id is None and self._manual:
            # a simple consumer's OffsetCommit: generation -1, no member id
            reason = group.commit_simple(self._manual_actor, offsets)
        else:
            member = self.member_id or f"{self.client_id}(not in group)"
            reason = group.commit(member, offsets)
        if reason is None:
            self._committed_pos.update(offsets)
        return reason

    def _stored_to_commit(self) -> dict:
        """What a commit of the stored offsets sends: per assigned partition, its stored offset when
        that is beyond the committed offset this client knows.

        librdkafka (``rd_kafka_topic_partition_list_set_offsets`` for a
        commit) leaves out a partition whose stored offset is not greater
        than its committed one: ``commit()`` with nothing new stored raises
        ``_NO_OFFSET``, the auto-commit timer sends nothing, and an offset
        stored behind the committed one (after a seek back) is not committed
        until it passes it; committing explicit ``offsets`` moves a group back.
        """
        known = self._committed_pos
        stored = self._stored
        return {
            tp: stored[tp]
            for tp in self._assignment
            if tp in stored and stored[tp] > known.get(tp, -1)
        }

    def store_offsets(self, message: Message | None = None, offsets: list | None = None) -> None:
        """Store offsets for the next commit (use with ``enable.auto.offset.store=false``).

        As librdkafka does, only partitions assigned to this consumer are
        stored: after a rebalance took a partition away, storing its offset
        would let a later commit move the group backwards. If none of the
        given partitions is assigned, ``KafkaException`` (``_STATE``) says so.
        """
        self._check_usable()
        items = []
        if message is not None:
            items.append(((message.topic(), message.partition()), message.offset() + 1))
        for tp in offsets or ():
            items.append(((tp.topic, tp.partition), tp.offset))
        assigned = set(self._assignment)
        stored = 0
        for tp, offset in items:
            if tp in assigned:
                self._stored[tp] = offset
                stored += 1
        if items and not stored:
            names = ", ".join(f"{t}-{p}" for (t, p), _ in items)
            raise fail(
                "_STATE",
                f"store_offsets: {names} is not assigned to this consumer (revoked in a rebalance?)",
            )

    def committed(self, partitions: list, timeout: float | None = None) -> list[TopicPartition]:
        """The group's committed offset for each partition (``OFFSET_INVALID`` when none)."""
        self._check_usable()
        group = self._sim.ensure_group(self.group_id)
        return [
            TopicPartition(
                tp.topic,
                tp.partition,
                group.committed.get((tp.topic, tp.partition), OFFSET_INVALID),
            )
            for tp in partitions
        ]

    def position(self, partitions: list) -> list[TopicPartition]:
        """This member's position (next offset to hand out) for each partition."""
        self._check_usable()
        return [
            TopicPartition(
                tp.topic,
                tp.partition,
                self._positions.get((tp.topic, tp.partition), OFFSET_INVALID),
            )
            for tp in partitions
        ]

    def seek(self, partition: TopicPartition) -> None:
        """Move the position of an assigned partition to an offset inside its log."""
        self._check_usable()
        tp = (partition.topic, partition.partition)
        if tp not in self._positions and tp not in self._assignment:
            raise fail(
                "_STATE",
                f"seek: {partition.topic}-{partition.partition} is not assigned to this consumer; "
                f"assigned: {[f'{t}-{p}' for t, p in self._assignment]}",
            )
        log = self._sim.broker.topic(partition.topic).partition(partition.partition)
        offset = partition.offset
        if offset == OFFSET_BEGINNING:
            offset = log.log_start_offset
        elif offset == OFFSET_END:
            offset = log.log_end_offset
        if not log.log_start_offset <= offset <= log.log_end_offset:
            raise fail(
                "OFFSET_OUT_OF_RANGE",
                f"seek to {offset} is outside {partition.topic}-{partition.partition}'s log "
                f"[{log.log_start_offset}, {log.log_end_offset}]",
            )
        self._move_to(tp, offset, "seeked")

    def get_watermark_offsets(
        self, partition: TopicPartition, timeout: float | None = None, cached: bool = False
    ) -> tuple[int, int]:
        """``(low, high)``: the log-start offset and the end this consumer can read to.

        The end is the log-end offset under ``read_uncommitted`` and the last
        stable offset under ``read_committed``, as librdkafka asks the broker
        with the consumer's isolation level.
        """
        self._check_usable()
        log = self._sim.broker.topic(partition.topic).partition(partition.partition)
        high = log.log_end_offset
        if self._read_committed:
            high = self._sim.transactions.last_stable_offset(partition.topic, partition.partition)
        return log.log_start_offset, high

    def consumer_group_metadata(self) -> ConsumerGroupMetadata:
        """The group's id, generation and this member's id, for ``send_offsets_to_transaction()``."""
        self._check_usable()
        from eda_sim.broker.transactions import ConsumerGroupMetadata

        # The generation seen at the last poll: a rebalance since then makes the offsets stale (KIP-447).
        return ConsumerGroupMetadata(self.group_id, self._generation, self.member_id)

    def list_topics(self, topic: str | None = None, timeout: float = -1) -> ClusterMetadata:
        """Cluster metadata, as ``AdminClient.list_topics``."""
        from eda_sim.kafka.admin import cluster_metadata

        return cluster_metadata(self._sim, topic)

    def close(self) -> None:
        """Commit (with auto-commit on), leave the group and release the consumer.

        A static member (``group.instance.id``) does not leave: the group keeps
        its partitions for it until ``session.timeout.ms`` passes (KIP-345).
        """
        if self._closed:
            return
        self._check_usable()
        self._leave(terminating=True)
        if self._manual:
            self._manual_drop(list(self._assignment), "close()")
        self._closed = True

    # -- group callbacks (called by the coordinator) ------------------------------

    def _join(self) -> None:
        sim = self._sim
        group = sim.ensure_group(self.group_id, self._config["group.protocol"])
        try:
            group.check_join(self)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.INVALID_SESSION_TIMEOUT:
                raise
            # librdkafka: a refused JoinGroup is a consumer error that poll() returns (not fatal), and
            # the next JoinGroup waits for its join interval, 1 s (rd_interval_backoff on rkcg_join_intvl)
            self._join_after = sim.now + JOIN_BACKOFF
            sim.env.timeout(JOIN_BACKOFF)  # so that a blocking poll wakes for the next attempt
            self._pending_errors.append(Message(None, None, None, None, exc.args[0]))
            sim.journal.write(
                "join_failed", self.client_id, self.group_id, detail=exc.args[0].str()
            )
            return
        if self._manual:
            # librdkafka: the group's first assignment replaces a manual one made before the join
            self._manual_drop(list(self._assignment), "the group's assignment replaces assign()")
        self.member_id = sim.new_member_id(self.client_id)
        self._incarnation += 1
        # a static member may get its old member id back
        group.join(self)
        member = self.member_id
        sim.env.process(self._watchdog(member, self._incarnation))
        if self._config["enable.auto.commit"] and self._config["auto.commit.interval.ms"] > 0:
            sim.env.process(self._auto_commit_loop(member, self._incarnation))

    def _leave(self, terminating: bool = False) -> None:
        if self.member_id is None:
            return
        group = self._sim.ensure_group(self.group_id)
        if terminating and self._config["group.instance.id"] is not None:
            group.depart(self.member_id, "static member closed without leaving")
            group.expire_later(self.member_id, self._session_timeout(), self._expiry_reason())
        else:
            group.remove(self.member_id, "left", "left the group")
        self.member_id = None

    def _session_timeout(self) -> float:
        """Seconds without heartbeats before the group removes this member."""
        return self._sim.ensure_group(self.group_id).session_timeout(self)

    def _expiry_reason(self) -> str:
        return self._sim.ensure_group(self.group_id).expiry_reason(self)

    def group_fenced(self, instance: str) -> None:
        """Another consumer joined with this one's ``group.instance.id``: this one is fenced for good."""
        self._assignment = []
        self._positions = {}
        self._stored = {}
        self._committed_pos = {}
        self._drop_queues()
        self.member_id = None
        self._fenced = True
        self._pending_errors.append(
            Message(
                None,
                None,
                None,
                None,
                KafkaError(
                    KafkaError.FENCED_INSTANCE_ID,
                    f"another consumer joined with group.instance.id={instance}; this one is fenced",
                    fatal=True,
                ),
            )
        )

    def group_assigned(self, parts: list) -> None:
        """The coordinator hands this member ``parts`` ((topic, partition) pairs): set positions, call on_assign."""
        group = self._sim.ensure_group(self.group_id)
        pending = self._sim.transactions.pending_offsets
        for tp in parts:
            if pending(self.group_id, tp) is not None:
                # KIP-447: offsets held by an open transaction are not stable yet; wait for its end.
                self._positions.pop(tp, None)
                self._unstable.add(tp)
                continue
            committed = group.committed.get(tp)
            self._know_committed(tp, committed)
            self._start_from_committed(tp, committed)
        self._assignment = sorted(set(self._assignment) | set(parts))
        self._fetch_due = True
        if self._callbacks[0] is not None:
            self._in_callback = ("assign", list(parts))
            try:
                # as librdkafka hands them to the rebalance callback: no offsets (OFFSET_INVALID),
                # so that passing the list back to (incremental_)assign starts at the committed offset
                self._callbacks[0](self, [TopicPartition(t, p) for t, p in parts])
            finally:
                self._in_callback = None

    def _start_from_committed(self, tp, committed) -> None:
        """Start ``tp`` at its committed offset when the log still holds it, else follow
        ``auto.offset.reset`` (an out-of-range committed offset falls back too, as in librdkafka)."""
        log = self._sim.broker.topics[tp[0]].partitions[tp[1]]
        if committed is not None and log.log_start_offset <= committed <= log.log_end_offset:
            self._move_to(tp, committed)  # nothing fetched before this assignment is kept
        else:
            why = (
                "no committed offset"
                if committed is None
                else f"committed offset {committed} out of range"
            )
            self._reset(tp, log, why)

    def _know_committed(self, tp, committed) -> None:
        """Remember the committed offset fetched for a newly assigned partition (None: there is none)."""
        if committed is None:
            self._committed_pos.pop(tp, None)
        else:
            self._committed_pos[tp] = committed

    def _resolve_unstable(self) -> None:
        pending = self._sim.transactions.pending_offsets
        ready = sorted(tp for tp in self._unstable if pending(self.group_id, tp) is None)
        if ready:
            self._unstable.difference_update(ready)
            group = self._sim.ensure_group(self.group_id)
            for tp in ready:
                committed = group.committed.get(tp)
                self._know_committed(tp, committed)
                self._start_from_committed(tp, committed)

    def group_revoked(self, parts: list, lost: bool) -> None:
        """The coordinator takes ``parts`` back (``lost``: without a chance to commit); call on_revoke/on_lost."""
        if parts and not lost and not self.crashed and self._config["enable.auto.commit"]:
            # Kafka's clients commit what was polled before giving partitions up.
            given_up = set(parts)
            offs = {tp: o for tp, o in self._stored_to_commit().items() if tp in given_up}
            if offs:
                self._commit(offs)
        callback = self._callbacks[2 if lost else 1]
        if callback is None and lost:
            callback = self._callbacks[1]
        if callback is not None and parts and not self.crashed:
            self._in_callback = ("lost" if lost else "revoke", list(parts))
            try:
                callback(self, [TopicPartition(t, p) for t, p in parts])
            finally:
                self._in_callback = None
        if lost:
            for tp in parts:
                stored = self._stored.get(tp)
                if stored is not None:
                    self._lost[tp] = stored
        # What was fetched for a partition given up is dropped, never handed out; a pause ends with it.
        self._forget(parts)

    def _reset(self, tp, log, why: str):
        policy = self._config["auto.offset.reset"]
        if policy == "none":
            self._positions.pop(tp, None)
            self._pending_errors.append(
                Message(
                    tp[0],
                    tp[1],
                    OFFSET_INVALID,
                    None,
                    KafkaError(
                        KafkaError._AUTO_OFFSET_RESET,
                        f"{tp[0]}-{tp[1]}: {why} and auto.offset.reset is none; seek or commit an offset first",
                    ),
                )
            )
            self._sim.journal.write(
                "offset_reset",
                self._actor(),
                self.group_id,
                tp[0],
                tp[1],
                -1,
                0,
                f"{why}; auto.offset.reset=none: error",
            )
            return None
        pos = log.log_start_offset if policy == "earliest" else log.log_end_offset
        self._move_to(tp, pos, "offset_reset", f"{why}; auto.offset.reset={policy}")
        return pos

    # -- background work on the clock -----------------------------------------------

    def _watchdog(self, member: str, incarnation: int):
        """Evict this member if it does not poll within max.poll.interval.ms."""
        interval = self._config["max.poll.interval.ms"] / 1000.0
        env = self._sim.env
        while (
            self.member_id == member
            and self._incarnation == incarnation
            and not self.crashed
            and not self._closed
        ):
            wait = self._last_poll + interval - env.now
            if wait > 0:
                yield env.timeout(wait)
                continue
            group = self._sim.ensure_group(self.group_id)
            group.evict(member, f"no poll for {interval:g} s (max.poll.interval.ms)")
            self.member_id = None
            self._pending_errors.append(
                Message(
                    None,
                    None,
                    None,
                    None,
                    KafkaError(
                        KafkaError._MAX_POLL_EXCEEDED,
                        f"{member} did not poll within max.poll.interval.ms={self._config['max.poll.interval.ms']}; "
                        "it left the group and will rejoin on the next poll",
                    ),
                )
            )
            return

    def _auto_commit_loop(self, member: str, incarnation: int):
        interval = self._config["auto.commit.interval.ms"] / 1000.0
        env = self._sim.env
        while True:
            yield env.timeout(interval)
            if (
                self.member_id != member
                or self._incarnation != incarnation
                or self.crashed
                or self._closed
            ):
                return
            offs = self._stored_to_commit()
            if offs:
                self._commit(offs)

    # -- simulator controls --------------------------------------------------------------

    def crash(self) -> None:
        """Stop dead: no commit, no leave. The group notices after session.timeout.ms."""
        if self.crashed or self._closed:
            return
        self.crashed = True
        self._group_poll_hook = None
        member = self.member_id
        self._sim.journal.write(
            "crashed",
            self._actor(),
            self.group_id or "",
            detail="no commit, no leave; the group waits for session.timeout.ms",
        )
        if member is not None:
            group = self._sim.ensure_group(self.group_id)
            group.expire_later(member, self._session_timeout(), self._expiry_reason())

    def restart(self) -> None:
        """Come back after a crash as a new member with empty local state."""
        if not self.crashed:
            raise ValueError(f"{self!r} has not crashed; only a crashed consumer can be restarted")
        old = self.member_id
        if self._manual and self._assignment:
            # a manual assignment does not survive the process: the restarted client assigns anew
            self._sim.journal.write(
                "revoked",
                self._manual_actor,
                self.group_id,
                count=len(self._assignment),
                detail=f"crashed: {_format(self._assignment)}",
                data=tuple(self._assignment),
            )
        self.crashed = False
        self.member_id = None
        self._assignment = []
        self._manual = False
        self._assign_offsets = {}
        self._incarnation += 1
        self._positions = {}
        self._stored = {}
        self._committed_pos = {}
        self._lost = {}
        self._unstable = set()
        self._drop_queues()
        self._pending_errors = []
        self._last_poll = self._sim.now
        self._sim.journal.write(
            "restarted",
            old or self._manual_actor or self.client_id,
            self.group_id or "",
            detail="rejoins on its next poll as a new member"
            if self._config["group.instance.id"] is None
            else "rejoins on its next poll; inside session.timeout.ms as the same static member",
        )

    def _check_usable(self) -> None:
        if self._closed:
            raise RuntimeError("Consumer closed")
        if self.crashed:
            raise fail(
                "_STATE",
                f"{self.member_id or self.client_id} has crashed; restart it with sim.restart(...)",
            )
