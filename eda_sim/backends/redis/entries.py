"""A record as a stream entry (fields, headers as JSON) and back, and :class:`RedisMessage`, the message a poll returns."""

from __future__ import annotations

import base64
import json
import time

from eda_sim.backends.redis.keys import ENTRY_FIELDS, entry_id_to_offset, stream_key
from eda_sim.core.errors import KafkaError
from eda_sim.kafka.message import (
    EPOCH_MS,
    OFFSET_INVALID,
    Message,
)

# ----------------------------------------------------------------------------- entries


class MalformedEntry(ValueError):
    """A stream entry this backend cannot read as a record (missing or unknown fields, bad headers)."""


def encode_headers(headers) -> str:
    out = []
    for name, value in headers:
        if value is None:
            out.append([name, None])
        else:
            try:
                out.append([name, value.decode("utf-8")])
            except UnicodeDecodeError:
                out.append([name, {"base64": base64.b64encode(value).decode("ascii")}])
    return json.dumps(out, separators=(",", ":"))


def _decode_headers(raw: bytes) -> tuple:
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as err:
        raise MalformedEntry(f"field 'headers' is not JSON: {err}") from None
    if not isinstance(data, list):
        raise MalformedEntry(
            f"field 'headers' must be a JSON list of [name, value] pairs, got {type(data).__name__}"
        )
    out = []
    for item in data:
        if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], str)):
            raise MalformedEntry(f"field 'headers' must hold [name, value] pairs, got {item!r}")
        name, value = item
        if value is None:
            out.append((name, None))
        elif isinstance(value, str):
            out.append((name, value.encode("utf-8")))
        elif isinstance(value, dict) and isinstance(value.get("base64"), str):
            try:
                out.append((name, base64.b64decode(value["base64"], validate=True)))
            except ValueError:
                raise MalformedEntry(f"header {name!r} has invalid base64") from None
        else:
            raise MalformedEntry(
                f"header {name!r} must be a string, null or {{'base64': ...}}, got {value!r}"
            )
    return tuple(out)


def decode_entry(fields: dict) -> tuple:
    """``(timestamp ms, key, value, headers)`` of an entry's fields; :class:`MalformedEntry` says what is wrong."""
    if not fields:
        raise MalformedEntry("the entry has no fields")
    unknown = sorted(k.decode("utf-8", "replace") for k in fields if k not in ENTRY_FIELDS)
    if unknown:
        raise MalformedEntry(
            f"unknown field(s) {', '.join(map(repr, unknown))}; a record has the fields "
            "timestamp, key, value, headers"
        )
    raw_ts = fields.get(b"timestamp")
    if raw_ts is None:
        raise MalformedEntry("field 'timestamp' is missing")
    try:
        ts = int(raw_ts)
        if ts < 0:
            raise ValueError
    except ValueError:
        raise MalformedEntry(
            f"field 'timestamp' must be milliseconds since the Unix epoch, got {raw_ts!r}"
        ) from None
    raw_h = fields.get(b"headers")
    headers = _decode_headers(raw_h) if raw_h is not None else None
    return ts, fields.get(b"key"), fields.get(b"value"), headers


def xadd_args(stream: str, maxlen, ts_ms: int, key, value, headers_json) -> list:
    args = ["XADD", stream]
    if maxlen:
        args += ["MAXLEN", "~", str(maxlen)]
    args += ["*", "timestamp", str(ts_ms)]
    if key is not None:
        args += ["key", key]
    if value is not None:
        args += ["value", value]
    if headers_json is not None:
        args += ["headers", headers_json]
    return args


def raw_fields_json(fields: dict) -> str:
    return json.dumps(
        {
            k.decode("utf-8", "replace"): (
                v.decode("utf-8", "replace") if isinstance(v, bytes) else v
            )
            for k, v in (fields or {}).items()
        },
        sort_keys=True,
    )


def wall_ms() -> int:
    return int(time.time() * 1000)


def _sim_seconds(ms: int) -> float:
    return (ms - EPOCH_MS) / 1000.0


class RedisMessage(Message):
    """A record read from (or delivered to) Redis: a :class:`~eda_sim.kafka.message.Message` plus the entry id.

    ``offset()`` is :func:`entry_id_to_offset` of the entry id; ``timestamp()``
    is the record's milliseconds as stored; ``time()`` is seconds since
    :data:`~eda_sim.core.clock.SIM_EPOCH`, as in the simulator.
    """

    __slots__ = ("_entry_id", "_deliveries", "_ts_ms")

    def __init__(
        self, topic, partition, entry_id, ts_ms, key, value, headers, deliveries=1, error=None
    ):
        rec = None if error is not None else (_sim_seconds(ts_ms), key, value, headers)
        super().__init__(
            topic,
            partition,
            entry_id_to_offset(entry_id) if entry_id else OFFSET_INVALID,
            rec,
            error,
        )
        self._entry_id = entry_id
        self._deliveries = deliveries
        self._ts_ms = ts_ms

    def entry_id(self) -> str | None:
        """The Redis stream entry id, ``"<ms>-<seq>"``."""
        return self._entry_id

    def stream(self) -> str | None:
        """The Redis stream key, ``"<topic>:<partition>"``."""
        return None if self._topic is None else stream_key(self._topic, self._partition)

    def delivery_count(self) -> int:
        """How many times the consumer group has delivered this entry (1 the first time; XPENDING's count)."""
        return self._deliveries

    def timestamp(self) -> tuple:
        """``(TIMESTAMP_CREATE_TIME, milliseconds since the Unix epoch)``."""
        if self._rec is None:
            return (0, -1)
        return (1, self._ts_ms)

    def __repr__(self) -> str:
        if self._error is not None:
            return f"<RedisMessage error={self._error.name()}>"
        return (
            f"<RedisMessage {self._topic}[{self._partition}]@{self._entry_id} key={self.key()!r} "
            f"value={self.value()!r}{f' deliveries={self._deliveries}' if self._deliveries > 1 else ''}>"
        )


def error_message(code: str, reason: str) -> RedisMessage:
    return RedisMessage(
        None, None, None, 0, None, None, None, 0, KafkaError(getattr(KafkaError, code), reason)
    )
