"""A partition's offsets through the admin client: looking them up, and deleting records below one.

``list_offsets`` asks the partition leader for an offset by rule (Kafka's
ListOffsets), with confluent-kafka 2.16's ``OffsetSpec``:

* ``OffsetSpec.earliest()``: the log start offset (the *low watermark*);
* ``OffsetSpec.latest()``: the high watermark, or under
  ``isolation_level=IsolationLevel.READ_COMMITTED`` the last stable offset;
* ``OffsetSpec.for_timestamp(ms)``: the first offset whose record's timestamp
  is at least ``ms``, with that timestamp; -1 (and timestamp -1) when none is;
* ``OffsetSpec.max_timestamp()``: the offset of the record with the largest
  timestamp, which need not be the newest record (producers set timestamps).

Each answer is a :class:`ListOffsetsResultInfo` (``offset``, ``timestamp``:
-1 for earliest and latest, ``leader_epoch``).

``delete_records`` is Kafka's DeleteRecords: the log start moves up to the
given offset and the records below it are gone for every reader, whatever the
topic's retention; the answer is a :class:`DeletedRecords` with the new
``low_watermark``. See :meth:`eda_sim.broker.topics.Broker.delete_records`
for its rules and errors.

Example::

    from eda_sim.kafka import AdminClient

    sim = Simulation(seed=1)
    sim.create_topic("payments", partitions=1)
    admin = AdminClient({"bootstrap.servers": sim.bootstrap_servers})
    tp = TopicPartition("payments", 0)
    admin.list_offsets({tp: OffsetSpec.latest()})[TopicPartition("payments", 0, -1)].result()
    admin.delete_records([TopicPartition("payments", 0, OFFSET_END)])   # everything there is
"""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING

from eda_sim.core.errors import fail
from eda_sim.kafka.message import OFFSET_END, TopicPartition, to_epoch_ms

if TYPE_CHECKING:
    from eda_sim.core.simulation import Simulation

#: librdkafka's codes for the rules (``TopicPartition.offset`` of a list_offsets future's key).
OFFSET_SPEC_MAX_TIMESTAMP = -3
OFFSET_SPEC_EARLIEST = -2
OFFSET_SPEC_LATEST = -1


class IsolationLevel(Enum):
    """Which offsets ``list_offsets(latest)`` may answer, as confluent-kafka's enum."""

    READ_UNCOMMITTED = 0
    READ_COMMITTED = 1


class OffsetSpec:
    """The rule an offset is looked up by: build one with :meth:`earliest`, :meth:`latest`,
    :meth:`max_timestamp` or :meth:`for_timestamp`."""

    _value: int = 0

    def __new__(cls, index: int | None = None):
        # OffsetSpec(-1) is latest, (-2) earliest, (-3) max_timestamp, (ms >= 0) for_timestamp(ms),
        # as confluent-kafka's constructor; the subclasses are built directly.
        if cls is not OffsetSpec:
            return object.__new__(cls)
        by_code = {spec.code: spec for spec in (_EARLIEST, _LATEST, _MAX_TIMESTAMP)}
        if index in by_code and not isinstance(index, bool):
            return by_code[index]
        return OffsetSpec.for_timestamp(index)

    def __init__(self, *args: object):
        pass  # the instance is complete: __new__ chose it

    @property
    def code(self) -> int:
        """What librdkafka sends: the timestamp, or -1 latest, -2 earliest, -3 max timestamp."""
        return self._value

    @classmethod
    def earliest(cls) -> OffsetSpec:
        """The log start offset."""
        return _EARLIEST

    @classmethod
    def latest(cls) -> OffsetSpec:
        """The high watermark (last stable offset under read_committed)."""
        return _LATEST

    @classmethod
    def max_timestamp(cls) -> OffsetSpec:
        """The offset of the record with the largest timestamp."""
        return _MAX_TIMESTAMP

    @classmethod
    def for_timestamp(cls, timestamp: int) -> OffsetSpec:
        """The first offset whose timestamp is at least ``timestamp`` (ms since the Unix epoch)."""
        if isinstance(timestamp, bool) or not isinstance(timestamp, int):
            raise TypeError(
                "for_timestamp() takes milliseconds since the Unix epoch (an int >= 0), "
                f"got {type(timestamp).__name__} {timestamp!r}"
            )
        if timestamp < 0:
            raise ValueError(
                f"a timestamp is milliseconds since the Unix epoch (>= 0), got {timestamp}; the "
                "negative codes are OffsetSpec(-1) latest, (-2) earliest, (-3) max_timestamp"
            )
        return TimestampSpec(timestamp)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, OffsetSpec):
            return NotImplemented
        return self.code < other.code


class TimestampSpec(OffsetSpec):
    """``OffsetSpec.for_timestamp(ms)``."""

    def __init__(self, timestamp: int):
        self.timestamp = timestamp
        self._value = timestamp

    def __repr__(self) -> str:
        return f"OffsetSpec.for_timestamp({self.timestamp})"


class EarliestSpec(OffsetSpec):
    """``OffsetSpec.earliest()``."""

    _value = OFFSET_SPEC_EARLIEST

    def __repr__(self) -> str:
        return "OffsetSpec.earliest()"


class LatestSpec(OffsetSpec):
    """``OffsetSpec.latest()``."""

    _value = OFFSET_SPEC_LATEST

    def __repr__(self) -> str:
        return "OffsetSpec.latest()"


class MaxTimestampSpec(OffsetSpec):
    """``OffsetSpec.max_timestamp()``."""

    _value = OFFSET_SPEC_MAX_TIMESTAMP

    def __repr__(self) -> str:
        return "OffsetSpec.max_timestamp()"


_EARLIEST, _LATEST, _MAX_TIMESTAMP = EarliestSpec(), LatestSpec(), MaxTimestampSpec()


class ListOffsetsResultInfo:
    """One partition's answer to ``list_offsets``: offset, timestamp (ms; -1 when it has none) and
    the leader epoch (None when unknown)."""

    def __init__(self, offset: int, timestamp: int, leader_epoch: int):
        self.offset = offset
        self.timestamp = timestamp
        self.leader_epoch = leader_epoch if leader_epoch >= 0 else None

    def __repr__(self) -> str:
        return (
            f"ListOffsetsResultInfo(offset={self.offset}, timestamp={self.timestamp}, "
            f"leader_epoch={self.leader_epoch})"
        )


class DeletedRecords:
    """One partition's answer to ``delete_records``: its new ``low_watermark`` (log start offset)."""

    def __init__(self, low_watermark: int):
        self.low_watermark = low_watermark

    def __repr__(self) -> str:
        return f"DeletedRecords(low_watermark={self.low_watermark})"


def check_list_offsets_request(request: object, isolation_level: object) -> None:
    """Refuse what confluent-kafka refuses, saying what was expected."""
    if not isinstance(request, dict):
        raise TypeError(
            "Expected topic_partition_offsets to be dict of [TopicPartition, OffsetSpec] for "
            f"list offsets request, got {type(request).__name__}"
        )
    for tp, spec in request.items():
        if not isinstance(tp, TopicPartition):
            raise TypeError(f"partition must be a TopicPartition, got {tp!r}")
        if not tp.topic:
            raise ValueError("partition topic name cannot be empty")
        if tp.partition < 0:
            raise ValueError(f"partition index must be non-negative, got {tp.partition}")
        if not isinstance(spec, OffsetSpec):
            raise TypeError(
                f"Value must be a OffsetSpec (OffsetSpec.earliest(), latest(), max_timestamp() "
                f"or for_timestamp(ms)), got {spec!r}"
            )
    if isolation_level is not None and not isinstance(isolation_level, IsolationLevel):
        raise TypeError(
            "isolation_level argument should be an IsolationLevel (READ_UNCOMMITTED or "
            f"READ_COMMITTED), got {isolation_level!r}"
        )


def check_delete_records_request(request: object) -> None:
    """Refuse what confluent-kafka refuses: a list of TopicPartition with partitions >= 0."""
    if not isinstance(request, list):
        raise TypeError(
            f"Expected Request to be a list of TopicPartition(topic, partition, offset), got "
            f"'{type(request).__name__}'"
        )
    seen = set()
    for tp in request:
        if not isinstance(tp, TopicPartition):
            raise TypeError(
                f"Element of the request list must be of type 'TopicPartition' got '{type(tp).__name__}'"
            )
        if tp.partition < 0:
            raise ValueError(f"'partition' cannot be negative, got {tp!r}")
        if (tp.topic, tp.partition) in seen:
            raise ValueError(f"Duplicate partitions not allowed: {tp.topic}[{tp.partition}]")
        seen.add((tp.topic, tp.partition))


def _log(sim: Simulation, tp: TopicPartition):
    topics = sim.broker.topics
    if tp.topic not in topics:
        known = ", ".join(sorted(topics)) or "none yet"
        raise fail("UNKNOWN_TOPIC_OR_PART", f"unknown topic {tp.topic!r}; topics are: {known}")
    topic = topics[tp.topic]
    if tp.partition >= topic.partition_count:
        raise fail(
            "UNKNOWN_TOPIC_OR_PART",
            f"topic {tp.topic!r} has partitions 0..{topic.partition_count - 1}, not {tp.partition}",
        )
    return topic.partitions[tp.partition]


def _epoch(log, offset: int) -> int:
    """The leader epoch the record at ``offset`` was written in: 0 on one broker."""
    epoch_at = getattr(log, "epoch_at", None)
    return 0 if epoch_at is None else epoch_at(offset)


def lookup(
    sim: Simulation, tp: TopicPartition, spec: OffsetSpec, read_committed: bool
) -> ListOffsetsResultInfo:
    """Answer one partition's ListOffsets request by ``spec``."""
    log = _log(sim, tp)
    start = log.log_start_offset
    end = log.log_end_offset
    if read_committed:
        end = sim.transactions.last_stable_offset(tp.topic, tp.partition)
    if isinstance(spec, EarliestSpec):
        return ListOffsetsResultInfo(start, -1, _epoch(log, start))
    if isinstance(spec, LatestSpec):
        return ListOffsetsResultInfo(end, -1, _epoch(log, end))
    best_offset, best_ms = -1, -1
    for offset in range(start, end):
        stored = log.stored(offset)
        if stored is None:  # removed by compaction
            continue
        ms = to_epoch_ms(stored[0])
        if isinstance(spec, TimestampSpec):
            if ms >= spec.timestamp:
                return ListOffsetsResultInfo(offset, ms, _epoch(log, offset))
        elif ms > best_ms:  # max_timestamp: the first record with the largest timestamp
            best_offset, best_ms = offset, ms
    if best_offset < 0:
        return ListOffsetsResultInfo(OFFSET_END, -1, -1)
    return ListOffsetsResultInfo(best_offset, best_ms, _epoch(log, best_offset))


def delete(sim: Simulation, tp: TopicPartition) -> DeletedRecords:
    """Delete ``tp``'s records below ``tp.offset`` (-1: all of them); the new low watermark."""
    return DeletedRecords(sim.broker.delete_records(tp.topic, tp.partition, tp.offset))
