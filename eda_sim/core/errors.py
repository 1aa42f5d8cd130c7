"""Kafka's error vocabulary, shaped like confluent-kafka's ``KafkaError`` and ``KafkaException``.

Codes and names are librdkafka's, so an error a learner meets in the simulator
reads the same as the one real Kafka would give. Negative codes are
librdkafka's local errors (they start with an underscore); positive ones come
from the broker protocol.
"""

from __future__ import annotations

_CODES = {
    "_MAX_POLL_EXCEEDED": -147,
    "_FENCED": -144,
    "_FATAL": -150,
    "_NOT_CONFIGURED": -145,
    "_PURGE_QUEUE": -152,
    "_PURGE_INFLIGHT": -151,
    "_TIMED_OUT": -185,
    "_VALUE_DESERIALIZATION": -159,
    "_KEY_DESERIALIZATION": -160,
    "_VALUE_SERIALIZATION": -161,
    "_KEY_SERIALIZATION": -162,
    "_AUTO_OFFSET_RESET": -140,
    "_NO_OFFSET": -168,
    "_STATE": -172,
    "_CONFLICT": -173,
    "_INVALID_ARG": -186,
    "_UNKNOWN_TOPIC": -188,
    "_UNKNOWN_PARTITION": -190,
    "_PARTITION_EOF": -191,
    "_MSG_TIMED_OUT": -192,
    "_TRANSPORT": -195,
    "_UNKNOWN_GROUP": -179,
    "OFFSET_OUT_OF_RANGE": 1,
    "LEADER_NOT_AVAILABLE": 5,
    "NOT_LEADER_OR_FOLLOWER": 6,
    "REQUEST_TIMED_OUT": 7,
    "NOT_ENOUGH_REPLICAS": 19,
    "NOT_ENOUGH_REPLICAS_AFTER_APPEND": 20,
    "INVALID_REPLICATION_FACTOR": 38,
    "OUT_OF_ORDER_SEQUENCE_NUMBER": 45,
    "UNKNOWN_TOPIC_OR_PART": 3,
    "MSG_SIZE_TOO_LARGE": 10,
    "TOPIC_EXCEPTION": 17,  # Kafka's INVALID_TOPIC_EXCEPTION (librdkafka's name)
    "ILLEGAL_GENERATION": 22,
    "UNKNOWN_MEMBER_ID": 25,
    "INVALID_SESSION_TIMEOUT": 26,
    "REBALANCE_IN_PROGRESS": 27,
    "TOPIC_ALREADY_EXISTS": 36,
    "INVALID_PARTITIONS": 37,
    "INVALID_CONFIG": 40,
    "POLICY_VIOLATION": 44,
    "NON_EMPTY_GROUP": 68,
    "GROUP_ID_NOT_FOUND": 69,
    "INVALID_RECORD": 87,
    "INCONSISTENT_GROUP_PROTOCOL": 23,
    "INVALID_PRODUCER_EPOCH": 47,
    "INVALID_TXN_STATE": 48,
    "INVALID_TRANSACTION_TIMEOUT": 50,
    "CONCURRENT_TRANSACTIONS": 51,
    "PRODUCER_FENCED": 90,
    "FENCED_INSTANCE_ID": 82,
    "FENCED_MEMBER_EPOCH": 110,
    "STALE_MEMBER_EPOCH": 113,
    "INVALID_RECORD_STATE": 121,
}
_NAMES = {code: name for name, code in _CODES.items()}
_RETRIABLE = {
    "REBALANCE_IN_PROGRESS",
    "_TRANSPORT",
    "_MSG_TIMED_OUT",
    # the broker protocol marks these retriable: a later attempt may find a leader or enough replicas
    "LEADER_NOT_AVAILABLE",
    "NOT_LEADER_OR_FOLLOWER",
    "REQUEST_TIMED_OUT",
    "NOT_ENOUGH_REPLICAS",
    "NOT_ENOUGH_REPLICAS_AFTER_APPEND",
    "OUT_OF_ORDER_SEQUENCE_NUMBER",
}


class KafkaError:
    """An error code with a reason, as confluent-kafka's ``KafkaError``.

    ``KafkaError.UNKNOWN_TOPIC_OR_PART`` and the other codes are class
    attributes, so ``err.code() == KafkaError._NO_OFFSET`` reads as it does
    with the real client.
    """

    __slots__ = ("_code", "_reason", "_fatal", "_retriable", "_txn_requires_abort")

    def __init__(
        self,
        code: int,
        reason: str | None = None,
        fatal: bool = False,
        retriable: bool = False,
        txn_requires_abort: bool = False,
    ):
        if code not in _NAMES:
            raise ValueError(f"unknown Kafka error code {code!r}; known codes: {sorted(_CODES)}")
        self._code = code
        self._reason = reason or _NAMES[code]
        self._fatal = fatal
        self._retriable = retriable
        self._txn_requires_abort = txn_requires_abort

    def code(self) -> int:
        """The numeric code."""
        return self._code

    def name(self) -> str:
        """The code's name, e.g. ``UNKNOWN_TOPIC_OR_PART``."""
        return _NAMES[self._code]

    def str(self) -> str:
        """The human-readable reason."""
        return self._reason

    def retriable(self) -> bool:
        """Whether trying again may succeed."""
        return self._retriable or _NAMES[self._code] in _RETRIABLE

    def fatal(self) -> bool:
        """Whether the client can no longer be used."""
        return self._fatal

    def txn_requires_abort(self) -> bool:
        """Whether the current transaction failed and must be aborted (``abort_transaction()``) before a new one."""
        return self._txn_requires_abort

    def __eq__(self, other):
        if isinstance(other, KafkaError):
            return self._code == other.code()
        if isinstance(other, int):
            return self._code == other
        return NotImplemented

    def __hash__(self):
        return hash(self._code)

    def __repr__(self) -> str:
        return f'KafkaError{{code={self.name()},val={self._code},str="{self._reason}"}}'

    __str__ = __repr__


for _name, _code in _CODES.items():
    setattr(KafkaError, _name, _code)


class KafkaException(Exception):
    """Raised by the client; ``args[0]`` is the :class:`KafkaError`, as with confluent-kafka."""

    def __init__(self, error: KafkaError | int, reason: str | None = None):
        if isinstance(error, int):
            error = KafkaError(error, reason)
        super().__init__(error)

    @property
    def error(self) -> KafkaError:
        """The :class:`KafkaError` this exception carries."""
        return self.args[0]

    def __str__(self) -> str:
        return f"{self.args[0].name()}: {self.args[0].str()}"


def fail(name: str, reason: str) -> KafkaException:
    """Build a :class:`KafkaException` from an error name and a reason."""
    return KafkaException(KafkaError(_CODES[name], reason))
