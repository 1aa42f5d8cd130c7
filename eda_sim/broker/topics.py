"""The broker: topics, partitions as append-only logs, and retention.

A partition is a log. Records are appended at the end and get the next
offset; nothing is ever changed or reordered. The log-start offset is the
oldest offset still kept, the log-end offset the next one to be written.
Retention removes whole segments from the start, so the log-start offset only
moves forward. Reading does not remove anything: every consumer group reads
the same log at its own pace.

By default the simulator runs one broker and keeps one copy of each
partition. ``Simulation(brokers=3)`` builds a cluster instead, and a topic's
``replication_factor`` copies of each partition are kept by
:mod:`eda_sim.broker.replication` (leaders, followers, in-sync replicas, failover).

Example::

    sim = Simulation(seed=1)
    topic = sim.create_topic("clicks", partitions=3, config={"retention.ms": 60_000})
    topic.partitions[0].log_end_offset      # 0 until something is produced
"""

from __future__ import annotations

import bisect
from typing import NamedTuple

from eda_sim.broker import compaction
from eda_sim.core.errors import fail

#: Topic-level properties the simulator models, with Kafka's defaults.
TOPIC_DEFAULTS = {
    "retention.ms": 604800000,  # 7 days; -1 keeps records forever
    "retention.bytes": -1,  # per partition; -1 means no size limit
    "segment.bytes": 1073741824,  # a segment rolls at this size...
    "segment.ms": 604800000,  # ...or at this age
    **compaction.COMPACTION_DEFAULTS,  # cleanup.policy and the cleaner's settings
}

#: Kafka's lower bound for each modelled topic property (LogConfig's validators; all are longs).
#: ``retention.bytes`` has none: any negative value means no size limit, as in Kafka.
#: ``segment.bytes`` is at least 1 here: the simulator counts key, value and header bytes, not
#: Kafka's wire bytes, so Kafka's own minimum (14 bytes up to 3.x, 1 MiB from 4.0) does not
#: translate; a small segment is how a notebook shows retention at work.
TOPIC_RANGES = {"retention.ms": -1, "retention.bytes": None, "segment.bytes": 1, "segment.ms": 1}

#: Kafka's limit on a topic name's length.
MAX_TOPIC_NAME = 249

#: How often the broker looks for segments to delete (log.retention.check.interval.ms).
RETENTION_CHECK_MS = 300000

# A stored record is a plain tuple for speed and memory: (timestamp, key, value, headers).
TIMESTAMP, KEY, VALUE, HEADERS = range(4)


class Record(NamedTuple):
    """A record as stored in a partition's log, with its position."""

    topic: str
    partition: int
    offset: int
    timestamp: float
    key: bytes | None
    value: bytes | None
    headers: tuple | None


class _Segment:
    __slots__ = ("base", "size", "max_time", "created")

    def __init__(self, base: int, created: float):
        self.base = base
        self.size = 0
        self.max_time = float("-inf")
        self.created = created


class PartitionLog:
    """One partition: an append-only log of records with offsets."""

    __slots__ = (
        "topic",
        "index",
        "_records",
        "_base",
        "log_start_offset",
        "_segments",
        "_config",
        "_roll",
        "sparse",
    )

    offline = False  # a single broker's log always has its leader; see eda_sim.broker.replication

    def __init__(self, topic: str, index: int, config: dict, now: float = 0.0):
        self.topic = topic
        self.index = index
        self._records: list = []
        self._base = 0  # offset of self._records[0]
        self.log_start_offset = 0
        self._segments = [_Segment(0, now)]
        self._config = config
        self._roll = compaction.roll_seconds(config)
        self.sparse = False  # True once compaction removed records: the log has gaps (None slots)

    @property
    def log_end_offset(self) -> int:
        """The offset the next record will get (one past the newest)."""
        return self._base + len(self._records)

    def __len__(self) -> int:
        """How many records are retained."""
        return self.log_end_offset - self.log_start_offset

    @property
    def size_bytes(self) -> int:
        """Bytes retained (key, value and header sizes)."""
        return sum(s.size for s in self._segments)

    def append(self, batch: list, nbytes: int, now: float) -> int:
        """Append a batch of stored-record tuples; return the first offset."""
        first = self.log_end_offset
        seg = self._segments[-1]
        cfg = self._config
        if seg.size and (
            seg.size + nbytes > cfg["segment.bytes"] or now - seg.created >= self._roll
        ):
            seg = _Segment(first, now)
            self._segments.append(seg)
        self._records.extend(batch)
        seg.size += nbytes
        newest = batch[-1][TIMESTAMP]
        if newest > seg.max_time:
            seg.max_time = newest
        return first

    def truncate(self, offset: int) -> None:
        """Remove every record from ``offset`` on (a replica following a new leader does this)."""
        if not self.log_start_offset <= offset <= self.log_end_offset:
            raise ValueError(
                f"cannot truncate {self.topic}[{self.index}] to {offset}: outside "
                f"[{self.log_start_offset}, {self.log_end_offset}]"
            )
        del self._records[offset - self._base :]
        segs = self._segments
        while len(segs) > 1 and segs[-1].base >= offset:
            segs.pop()
        # sizes of what is left: recount the last segment from its records
        seg = segs[-1]
        seg.size = sum(
            (len(k) if k else 0)
            + (len(v) if v else 0)
            + sum(len(n) + len(x or b"") for n, x in h or ())
            for _t, k, v, h in self._records[max(seg.base, self.log_start_offset) - self._base :]
        )

    @property
    def config(self) -> dict:
        """The topic's settings, shared by its partitions (Kafka's names and units)."""
        return self._config

    def stored(self, offset: int):
        """The stored tuple ``(timestamp, key, value, headers)`` at ``offset``; None for a gap left by
        compaction or an offset outside the retained log."""
        if not self.log_start_offset <= offset < self.log_end_offset:
            return None
        return self._records[offset - self._base]

    def segments(self) -> list:
        """The retained segments, oldest first, as ``(base offset, end offset, bytes, newest
        timestamp)``; the last one is the active segment."""
        segs = self._segments
        ends = [s.base for s in segs[1:]] + [self.log_end_offset]
        return [(s.base, end, s.size, s.max_time) for s, end in zip(segs, ends)]

    def remove(self, offsets) -> None:
        """Remove the records at ``offsets`` (the log cleaner's work): every offset stays where it
        is, the log gets gaps (``sparse``) and its segments shrink by the records' sizes."""
        segs = self._segments
        bases = [s.base for s in segs]
        for o in offsets:
            rec = self._records[o - self._base]
            if rec is None:
                continue
            self._records[o - self._base] = None
            segs[bisect.bisect_right(bases, o) - 1].size -= compaction.record_size(rec)
            self.sparse = True

    def read(self, offset: int, max_records: int) -> list:
        """Up to ``max_records`` stored tuples from ``offset`` (which must be retained).

        In a compacted log (``sparse``) removed records read as ``None``: the
        offsets stay where they were, and a reader skips the gaps.
        """
        i = offset - self._base
        return self._records[i : i + max_records]

    def record(self, offset: int) -> Record:
        """The record at ``offset``; ``ValueError`` if it is outside the retained log."""
        if not self.log_start_offset <= offset < self.log_end_offset:
            raise ValueError(
                f"offset {offset} is outside {self.topic}[{self.index}]'s log "
                f"[{self.log_start_offset}, {self.log_end_offset})"
            )
        t = self._records[offset - self._base]
        if t is None:
            raise ValueError(
                f"offset {offset} of {self.topic}[{self.index}] was removed by compaction"
            )
        return Record(self.topic, self.index, offset, *t)

    def records(self, start: int | None = None, end: int | None = None) -> list[Record]:
        """Retained records with offsets in ``[start, end)`` as :class:`Record` tuples."""
        lo = self.log_start_offset if start is None else max(start, self.log_start_offset)
        hi = self.log_end_offset if end is None else min(end, self.log_end_offset)
        recs, base = self._records, self._base
        return [
            Record(self.topic, self.index, o, *recs[o - base])
            for o in range(lo, hi)
            if recs[o - base] is not None  # a gap left by compaction
        ]

    def enforce_retention(self, now: float) -> int:
        """Delete whole segments that retention allows to go; return how many records went.

        A closed segment goes when its newest record is strictly older than
        ``retention.ms`` (exactly ``retention.ms`` old stays, as in Kafka), or while the log without it is still at least
        ``retention.bytes``. The active segment is rolled and deleted only when
        all of it is past ``retention.ms``, as Kafka does; size never deletes it.
        """
        cfg = self._config
        if not compaction.deletes(cfg):  # cleanup.policy=compact: retention never deletes
            return 0
        ms, max_bytes = cfg["retention.ms"], cfg["retention.bytes"]
        removed_to = self.log_start_offset
        segs = self._segments
        total = self.size_bytes
        while segs:
            seg = segs[0]
            active = len(segs) == 1
            end = self.log_end_offset if active else segs[1].base
            if end == seg.base:  # empty segment
                break
            # Kafka deletes a segment only when strictly older than retention.ms
            # (UnifiedLog: now - largestTimestamp > retentionMs). Times are whole
            # milliseconds; half of one absorbs the float error of the difference.
            by_time = ms >= 0 and now - seg.max_time > (ms + 0.5) / 1000.0
            by_size = not active and max_bytes >= 0 and total - seg.size >= max_bytes
            if not (by_time or by_size):
                break
            total -= seg.size
            removed_to = end
            segs.pop(0)
            if active:
                segs.append(_Segment(end, now))
        return self._start_at(removed_to)

    def delete_records(self, offset: int) -> int:
        """Move the log start up to ``offset`` (Kafka's DeleteRecords); return how many records went.

        Every record below ``offset`` becomes unreadable at once; the segments
        wholly below it are deleted, and the one that holds ``offset`` stays
        (with its size) until retention deletes it, as Kafka keeps a segment
        file until all of it is below the log start. An ``offset`` at or
        below the log start changes nothing; the caller checks that it is not
        beyond the log end.
        """
        if offset <= self.log_start_offset:
            return 0
        segs = self._segments
        while len(segs) > 1 and segs[1].base <= offset:
            segs.pop(0)
        return self._start_at(offset)

    def _start_at(self, offset: int) -> int:
        """Make ``offset`` the log start, dropping the records below it; return how many went."""
        gone = offset - self.log_start_offset
        if gone > 0:
            self.log_start_offset = offset
            # Compact the backing list only when enough is dead, so trimming stays O(1) amortised.
            dead = offset - self._base
            if dead > 1024 and dead * 2 > len(self._records):
                del self._records[:dead]
                self._base = offset
            else:
                for i in range(self.log_start_offset - gone - self._base, dead):
                    self._records[i] = None
        return max(gone, 0)


class Topic:
    """A named topic with an ordered list of :class:`PartitionLog`."""

    replication_factor = 1

    def __init__(self, name: str, partitions: int, config: dict, now: float = 0.0):
        self.name = name
        self.config = config
        self.partitions = [PartitionLog(name, i, config, now) for i in range(partitions)]
        self.deleted = False  # set by Broker.delete_topic; clients holding the object look again

    def __repr__(self) -> str:
        return f"Topic({self.name!r}, partitions={len(self.partitions)})"

    @property
    def partition_count(self) -> int:
        """How many partitions the topic has."""
        return len(self.partitions)

    def partition(self, index: int) -> PartitionLog:
        """The partition with this index, or a clear error naming the valid range."""
        if not isinstance(index, int) or not 0 <= index < len(self.partitions):
            raise fail(
                "_UNKNOWN_PARTITION",
                f"topic {self.name!r} has partitions 0..{len(self.partitions) - 1}, not {index!r}",
            )
        return self.partitions[index]


class IdempotenceState(NamedTuple):
    """What the broker remembers per (producer id, partition) to drop retried batches."""

    last_seq: int
    batches: dict  # base sequence -> base offset of recent batches


class Broker:
    """The single simulated broker: holds topics and appends batches."""

    def __init__(self, sim):
        self._sim = sim
        self.topics: dict[str, Topic] = {}
        self._idempotence: dict = {}
        self._retention_started = False
        self.appended_total = 0  # records appended, duplicates from retries included
        self.expired_total = 0  # records removed by retention
        self.cleaner = compaction.LogCleaner(self, sim)

    def create_topic(
        self,
        name: str,
        partitions: int = 1,
        config: dict | None = None,
        replication_factor: int | None = None,
    ) -> Topic:
        """Create a topic; ``KafkaException`` for a name or config Kafka refuses, or if it exists.

        The name follows Kafka's rule (``TOPIC_EXCEPTION``, Kafka's
        INVALID_TOPIC_EXCEPTION): 1 to 249 characters of ASCII letters, digits,
        ``.``, ``_`` and ``-``, and not ``.`` or ``..``. Config values follow
        Kafka's types and ranges (``INVALID_CONFIG``): see :data:`TOPIC_RANGES`.
        A partition count that is not a whole number >= 1 is a ``ValueError``.
        ``replication_factor`` and the ``min.insync.replicas`` and
        ``unclean.leader.election.enable`` settings need ``Simulation(brokers=N)``.
        """
        check_topic_name(name)
        if isinstance(partitions, bool) or not isinstance(partitions, int) or partitions < 1:
            raise ValueError(f"a topic needs a whole number of partitions >= 1, got {partitions!r}")
        if name in self.topics:
            raise fail("TOPIC_ALREADY_EXISTS", f"topic {name!r} already exists")
        from eda_sim.broker.replication import replication_options

        config, rf, settings = replication_options(self._sim, config, replication_factor)
        cfg = dict(TOPIC_DEFAULTS)
        if config is not None and not isinstance(config, dict):
            raise TypeError(
                f"topic config must be a dict of Kafka topic properties, got {config!r}"
            )
        for key, value in (config or {}).items():
            cfg[key] = check_topic_property(key, value)
        topic = Topic(name, partitions, cfg, self._sim.now)
        note = _cfg_note(cfg)
        cluster = self._sim.cluster
        if cluster is not None:
            cluster.topic_settings[name] = settings
            topic.partitions = cluster.new_partitions(name, 0, partitions, rf, cfg)
            topic.replication_factor = rf
            note = ", ".join(
                x
                for x in (
                    f"replication.factor={rf}",
                    note,
                    *(f"{k}={v}" for k, v in settings.items()),
                )
                if x
            )
        self.topics[name] = topic
        # on a cluster: the replication factor and each partition's replicas (the first leads)
        placement = (
            (rf, tuple(tuple(p.assignment) for p in topic.partitions))
            if cluster is not None
            else ()
        )
        self._sim.journal.write(
            "topic_created",
            "broker",
            topic=name,
            count=partitions,
            detail=note,
            data=placement,
        )
        if (
            cfg["retention.ms"] != TOPIC_DEFAULTS["retention.ms"] or cfg["retention.bytes"] >= 0
        ) and not self._retention_started:
            self._retention_started = True
            self._sim.env.process(self._retention_loop())
        if compaction.is_compacted(cfg):
            self.cleaner.start()
        return topic

    def add_partitions(self, name: str, total: int) -> Topic:
        """Grow a topic to ``total`` partitions (Kafka can only add, never remove)."""
        topic = self.topic(name)
        if isinstance(total, bool) or not isinstance(total, int) or total <= topic.partition_count:
            raise fail(
                "INVALID_PARTITIONS",
                f"topic {name!r} has {topic.partition_count} partitions; the new total must be a larger integer, got {total!r}",
            )
        now = self._sim.now
        first = topic.partition_count
        data = ()
        if self._sim.cluster is not None:
            topic.partitions.extend(
                self._sim.cluster.new_partitions(
                    name,
                    topic.partition_count,
                    total - topic.partition_count,
                    topic.replication_factor,
                    topic.config,
                )
            )
            rf = topic.replication_factor
            data = (rf, tuple(tuple(p.assignment) for p in topic.partitions[first:]))
        else:
            topic.partitions.extend(
                PartitionLog(name, i, topic.config, now)
                for i in range(topic.partition_count, total)
            )
        self._sim.journal.write("partitions_added", "broker", topic=name, count=total, data=data)
        self._sim.on_partitions_changed(name)
        return topic

    def delete_topic(self, name: str) -> None:
        """Delete a topic: its records, and every group's committed offsets for it.

        As in Kafka, a producer that sends to it afterwards is answered
        ``UNKNOWN_TOPIC_OR_PART`` (at ``produce()`` here, or in the delivery
        report of a batch already on its way), and groups subscribed to it
        rebalance without its partitions.
        """
        topic = self.topic(name)
        del self.topics[name]
        topic.deleted = True
        for key in [k for k in self._idempotence if k[1] == name]:
            del self._idempotence[key]
        sim = self._sim
        sim.journal.write("topic_deleted", "broker", topic=name, count=topic.partition_count)
        # Rebalance first: members giving the partitions up may commit them on the way out.
        sim.on_partitions_changed(name, f"{name} was deleted")
        for gid in sorted(sim.groups):
            group = sim.groups[gid]
            for tp in [tp for tp in group.committed if tp[0] == name]:
                del group.committed[tp]

    def topic(self, name: str) -> Topic:
        """The topic called ``name``, or a ``KafkaException`` listing the topics that exist."""
        try:
            return self.topics[name]
        except (KeyError, TypeError):
            known = ", ".join(sorted(self.topics)) or "none yet"
            raise fail(
                "UNKNOWN_TOPIC_OR_PART", f"unknown topic {name!r}; topics are: {known}"
            ) from None

    def refusal(self, topic: str, batch: list) -> str:
        """Why the broker refuses a batch for ``topic`` (Kafka's INVALID_RECORD), or ""."""
        if compaction.is_compacted(self.topics[topic].config) and any(
            r[KEY] is None for r in batch
        ):
            return f"compacted topic {topic!r} cannot accept a record without a key"
        return ""

    def append(
        self, producer, topic: str, partition: int, batch: list, nbytes: int, base_seq: int | None
    ):
        """Append a producer's batch; return ``(first_offset, duplicate)``.

        With an idempotent producer (``base_seq`` given) a batch whose sequence
        the broker has already appended is not written again: the original
        offset comes back and ``duplicate`` is True.
        """
        log = self.topics[topic].partitions[partition]
        journal = self._sim.journal
        if base_seq is not None:
            key = (producer.producer_id, topic, partition)
            state = self._idempotence.get(key)
            if state is not None and base_seq <= state.last_seq:
                first = state.batches.get(base_seq, -1)
                journal.write(
                    "duplicate_dropped",
                    "broker",
                    "",
                    topic,
                    partition,
                    first,
                    len(batch),
                    f"{producer.name} sequence {base_seq} already appended",
                )
                return first, True
            batches = state.batches if state is not None else {}
        first = log.append(batch, nbytes, self._sim.env.now)
        self.appended_total += len(batch)
        if base_seq is not None:
            batches[base_seq] = first
            if len(batches) > 5:  # Kafka remembers the last five batches per producer and partition
                del batches[min(batches)]
            self._idempotence[key] = IdempotenceState(base_seq + len(batch) - 1, batches)
        journal.write("appended", "broker", "", topic, partition, first, len(batch), producer.name)
        return first, False

    def enforce_retention(self) -> int:
        """Run retention on every partition now; return how many records were removed."""
        now = self._sim.now
        total = 0
        for name in sorted(self.topics):
            for log in self.topics[name].partitions:
                start = log.log_start_offset
                gone = log.enforce_retention(now)
                if gone:
                    total += gone
                    self._sim.journal.write(
                        "expired", "broker", "", name, log.index, start, gone, "retention"
                    )
        self.expired_total += total
        return total

    def delete_records(self, name: str, partition: int, offset: int, actor: str = "admin") -> int:
        """Delete the records of ``name[partition]`` below ``offset``: Kafka's DeleteRecords.

        ``offset`` -1 (``OFFSET_END``) means the high watermark, which deletes
        every record there is. The log start moves to ``offset`` (never back)
        and the new log start, the partition's *low watermark*, is returned.
        Consumers positioned below it get ``OFFSET_OUT_OF_RANGE`` at their next
        fetch and follow ``auto.offset.reset``; committed offsets stay as they
        are (a group that resumes below the log start resets the same way).

        Kafka's errors: ``OFFSET_OUT_OF_RANGE`` for an offset beyond the high
        watermark or below -1, ``POLICY_VIOLATION`` on a topic whose
        ``cleanup.policy`` lacks ``delete``, ``UNKNOWN_TOPIC_OR_PART`` for a
        topic or partition that does not exist. The journal gets an
        ``expired`` row (actor ``admin``), so every view's log start follows.
        """
        if name not in self.topics:
            known = ", ".join(sorted(self.topics)) or "none yet"
            raise fail("UNKNOWN_TOPIC_OR_PART", f"unknown topic {name!r}; topics are: {known}")
        topic = self.topics[name]
        if (
            isinstance(partition, bool)
            or not isinstance(partition, int)
            or not (0 <= partition < topic.partition_count)
        ):
            raise fail(
                "UNKNOWN_TOPIC_OR_PART",
                f"topic {name!r} has partitions 0..{topic.partition_count - 1}, not {partition!r}",
            )
        log = topic.partitions[partition]
        if not compaction.deletes(topic.config):
            raise fail(
                "POLICY_VIOLATION",
                f"records of {name}[{partition}] cannot be deleted: its cleanup.policy is "
                f"{topic.config['cleanup.policy']!r}, which lacks 'delete'",
            )
        high = log.log_end_offset  # the high watermark (on a cluster: what consumers may read)
        target = high if offset == -1 else offset
        if target < 0 or target > high:
            raise fail(
                "OFFSET_OUT_OF_RANGE",
                f"cannot delete the records of {name}[{partition}] before offset {offset}: "
                f"pick an offset from 0 to the high watermark {high}, or -1 (OFFSET_END) for all",
            )
        start = log.log_start_offset
        gone = log.delete_records(target)
        if gone:
            self._sim.journal.write(
                "expired", actor, "", name, partition, start, gone, f"DeleteRecords before {target}"
            )
        return log.log_start_offset

    def _retention_loop(self):
        while True:
            yield self._sim.env.timeout(RETENTION_CHECK_MS / 1000.0)
            self.enforce_retention()


_TOPIC_CHARS = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")
_LONG = 2**63 - 1


def check_topic_name(name) -> None:
    """Refuse a topic name Kafka refuses (``TOPIC_EXCEPTION``), saying which rule it breaks."""
    if not isinstance(name, str):
        raise fail(
            "TOPIC_EXCEPTION", f"a topic name must be a string, got {type(name).__name__} {name!r}"
        )
    rule = "1 to 249 characters of ASCII letters, digits, '.', '_' and '-', and not '.' or '..'"
    if not name:
        why = "it is empty"
    elif name in (".", ".."):
        why = f"{name!r} is not allowed"
    elif len(name) > MAX_TOPIC_NAME:
        why = f"it is {len(name)} characters long"
    else:
        bad = sorted({c for c in name if c not in _TOPIC_CHARS})
        if not bad:
            return
        why = f"it contains {', '.join(repr(c) for c in bad)}"
    shown = name if len(name) <= 60 else name[:57] + "..."
    raise fail("TOPIC_EXCEPTION", f"invalid topic name {shown!r}: {why}; a topic name is {rule}")


def check_topic_property(key: str, value):
    """A topic property's value as Kafka reads it; ``INVALID_CONFIG`` for an unknown key or a bad value."""
    if key not in TOPIC_DEFAULTS:
        raise fail(
            "INVALID_CONFIG",
            f"unknown topic property {key!r}; the simulator models: {', '.join(TOPIC_DEFAULTS)}",
        )
    if key in compaction.COMPACTION_DEFAULTS:
        return compaction.topic_value(key, value)
    return topic_config_value(key, value)


def topic_config_value(key: str, value) -> int:
    """A topic property's value as Kafka reads it (a long, or its decimal text), range checked.

    ``INVALID_CONFIG`` with Kafka's wording for anything else: a ``bool`` (not a
    number to Kafka, though Python calls it an int), a float, NaN, text that is
    not a whole number, or a value below the property's minimum.
    """
    if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
        number = int(value.strip())
    elif isinstance(value, int) and not isinstance(value, bool):
        number = value
    else:
        raise fail(
            "INVALID_CONFIG",
            f"Invalid value {value!r} for configuration {key}: Not a number of type LONG "
            "(a whole number of " + ("milliseconds" if key.endswith(".ms") else "bytes") + ")",
        )
    low = TOPIC_RANGES[key]
    if low is not None and number < low:
        raise fail(
            "INVALID_CONFIG",
            f"Invalid value {number} for configuration {key}: Value must be at least {low}"
            + (" (-1 keeps records forever)" if key == "retention.ms" else ""),
        )
    if not -_LONG - 1 <= number <= _LONG:
        raise fail(
            "INVALID_CONFIG",
            f"Invalid value {number} for configuration {key}: out of range of a LONG",
        )
    return number


def _cfg_note(cfg: dict) -> str:
    changed = [f"{k}={v}" for k, v in cfg.items() if v != TOPIC_DEFAULTS[k]]
    return ", ".join(changed)
