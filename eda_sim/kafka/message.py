"""``Message`` and ``TopicPartition``, shaped like confluent-kafka's.

A message's fields are read through methods (``msg.value()``, not
``msg.value``), exactly as with the real client, so code moves unchanged.
"""

from __future__ import annotations

from eda_sim.core.clock import SIM_EPOCH

#: Offsets with a special meaning, as in confluent-kafka.
OFFSET_BEGINNING = -2
OFFSET_END = -1
OFFSET_STORED = -1000
OFFSET_INVALID = -1001

#: ``timestamp()`` types, as in confluent-kafka.
TIMESTAMP_NOT_AVAILABLE = 0
TIMESTAMP_CREATE_TIME = 1

#: Virtual time 0 (``SIM_EPOCH``) in milliseconds since the Unix epoch.
EPOCH_MS = int(SIM_EPOCH.timestamp() * 1000)


def to_epoch_ms(virtual_seconds: float) -> int:
    """A virtual time as milliseconds since the Unix epoch (the simulation starts at SIM_EPOCH)."""
    return EPOCH_MS + int(round(virtual_seconds * 1000))


class Message:
    """One record handed to the application by ``poll``/``consume``, or an error event."""

    __slots__ = ("_topic", "_partition", "_offset", "_rec", "_error")

    def __init__(self, topic, partition, offset, rec, error=None):
        self._topic = topic
        self._partition = partition
        self._offset = offset
        self._rec = rec  # the stored tuple (timestamp, key, value, headers), or None
        self._error = error

    def topic(self) -> str | None:
        """The topic the message came from."""
        return self._topic

    def partition(self) -> int | None:
        """The partition the message came from."""
        return self._partition

    def offset(self) -> int | None:
        """Its offset in the partition."""
        return self._offset

    def key(self) -> bytes | None:
        """The key as bytes, or None."""
        return self._rec[1] if self._rec else None

    def value(self) -> bytes | None:
        """The value as bytes, or None."""
        return self._rec[2] if self._rec else None

    def headers(self) -> list | None:
        """Headers as a list of ``(name, bytes)`` tuples, or None, as confluent-kafka returns them."""
        h = self._rec[3] if self._rec else None
        return list(h) if h else None

    def timestamp(self) -> tuple:
        """``(TIMESTAMP_CREATE_TIME, milliseconds since the Unix epoch)``."""
        if not self._rec:
            return (TIMESTAMP_NOT_AVAILABLE, -1)
        return (TIMESTAMP_CREATE_TIME, to_epoch_ms(self._rec[0]))

    def time(self) -> float:
        """Simulator extra: the create time in virtual seconds."""
        return self._rec[0] if self._rec else float("nan")

    def delivery_count(self) -> int | None:
        """How many times a share group has handed this record out (None outside a share group)."""
        return None

    def error(self):
        """A :class:`~eda_sim.core.errors.KafkaError` for an error event, else None."""
        return self._error

    def __len__(self) -> int:
        v = self.value()
        return len(v) if v else 0

    def __repr__(self) -> str:
        if self._error is not None:
            return f"<Message error={self._error.name()}>"
        return f"<Message {self._topic}[{self._partition}]@{self._offset} key={self.key()!r} value={self.value()!r}>"


class TopicPartition:
    """A (topic, partition, offset) triple, as confluent-kafka's."""

    __slots__ = ("topic", "partition", "offset", "error", "metadata", "leader_epoch")

    def __init__(
        self,
        topic: str,
        partition: int = -1,
        offset: int = OFFSET_INVALID,
        metadata=None,
        leader_epoch=None,
    ):
        if not isinstance(topic, str):
            raise TypeError(f"TopicPartition topic must be a str, got {type(topic).__name__}")
        # As confluent-kafka: whole numbers only ('0', 1.5 or NaN is a TypeError there too).
        for name, value in (("partition", partition), ("offset", offset)):
            if not isinstance(value, int):
                raise TypeError(
                    f"TopicPartition {name} must be an int, got {type(value).__name__} {value!r}"
                )
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.metadata = metadata
        self.leader_epoch = leader_epoch
        self.error = None

    def __eq__(self, other):
        if not isinstance(other, TopicPartition):
            return NotImplemented
        return (self.topic, self.partition, self.offset) == (
            other.topic,
            other.partition,
            other.offset,
        )

    def __hash__(self):
        return hash((self.topic, self.partition))

    def __lt__(self, other):
        return (self.topic, self.partition) < (other.topic, other.partition)

    def __repr__(self) -> str:
        err = "" if self.error is None else f",error={self.error!r}"
        return f"TopicPartition{{topic={self.topic},partition={self.partition},offset={self.offset}{err}}}"
