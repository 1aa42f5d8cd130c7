"""A real broker behind the same code: Kafka-shaped clients and services on Redis Streams.

The simulator's client (:mod:`eda_sim.kafka`) and service layer
(:mod:`eda_sim.services.service`) run on a virtual clock inside one Python process.
This module runs the same learner code against a real Redis server (7.0 or
later), in real time, across real OS processes:

* :class:`Producer` and :class:`Consumer` have confluent-kafka's shape and take
  the same config dicts, with ``bootstrap.servers`` a ``redis://host:port/db``
  URL (or, when it is left out, ``$EDA_REDIS_URL``).
* :func:`run_service` runs the same ``handler(event, ctx)`` functions as
  :class:`eda_sim.services.service.Service`, with retries, dead letters, idempotency
  and tracing headers; :func:`publish` sends an :class:`~eda_sim.services.events.Event`.
* :data:`DIFFERENCES` (and :func:`differences`) says where Redis Streams is
  not Kafka and what this backend does about it.

How Kafka's ideas are built from Redis's own machinery:

* **Topics and partitions.** Redis has no partitions; a topic is ``N`` streams
  named ``<topic>:<partition>``, its partition count kept in the hash
  ``eda:topics`` (:func:`create_topic`). A keyed record goes to
  ``crc32_partition(key, N)`` (librdkafka's default), exactly as in the simulator, so one key's
  records form one ordered log. An entry holds the fields ``timestamp`` (ms),
  ``key``, ``value`` and ``headers`` (JSON); a missing field is ``None``.
* **Offsets.** An entry id ``<ms>-<seq>`` maps to the integer
  ``ms * 10**20 + seq`` (:func:`entry_id_to_offset`): exact, increasing with the
  stream's order, but with gaps, unlike Kafka's consecutive offsets.
  ``msg.entry_id()`` gives the id itself.
* **Consumer groups.** A Redis consumer group lives on one stream, so joining
  creates the group on each partition's stream (``XGROUP CREATE ... MKSTREAM``
  at ``$`` for ``auto.offset.reset=latest``, ``0`` for ``earliest``);
  ``poll``/``consume`` are ``XREADGROUP``.
* **Acknowledgements.** Redis acknowledges entries, not an offset per
  partition: ``commit(message)`` is ``XACK`` of that entry; ``commit()`` acks
  every entry handed out and stored as processed (all of them with
  ``enable.auto.offset.store``, the default). What is delivered and not yet
  acknowledged waits in the group's pending-entries list (PEL).
* **Redelivery is claim-driven.** Nothing is re-read after a crash by itself:
  a consumer lists the entries pending longer than ``redis.claim.idle.ms``
  (``XPENDING ... IDLE``) and claims them (``XCLAIM``); they come with their
  delivery count raised, which :func:`run_service` uses to dead-letter an
  event after ``max_deliveries`` deliveries. (Not ``XAUTOCLAIM``: it would
  also claim the entries the caller is still working on, see ``_claim``.)
* **Partition ownership** (``redis.partition.ownership``):

  - ``"leased"`` (the default): the live members of a group (a sorted set of
    heartbeats) share the partitions round-robin by member index, and a
    member reads a partition only while it holds that partition's lease
    (``SET <lease> <member> NX PX session.timeout.ms``, renewed by ``poll``).
    One reader per partition at a time keeps **per-key order** as a Kafka
    partition does: entries of a key are handled in stream order. A member
    that dies stops renewing; after ``session.timeout.ms`` another member
    takes the lease, claims the dead member's pending entries once they are
    idle for ``redis.claim.idle.ms`` and handles them *before* reading new
    entries of that partition. A member gives a lease up only when it has no
    unacknowledged entries in that partition. What can still reorder a key:
    an entry put back for redelivery (``nack``, a failed delivery under
    :func:`run_service`) comes back after later entries, and a member paused
    longer than the session (a zombie) may still finish a stale entry.
  - ``"shared"``: every member reads every partition and Redis hands each
    entry to one of them (Redis balances entries, not partitions). Throughput
    scales, but two entries of one key may be handled at once by two members:
    per-key order holds only within one member's deliveries.

Exactly what is atomic, and where this differs from Kafka, is in
:data:`DIFFERENCES`. Timing here is real (wall clock); the determinism rules of
the simulator stop at the network.

Example (with ``EDA_REDIS_URL`` set, or a server from
:class:`eda_sim.backends.redis.server.RedisServer`)::

    from eda_sim.backends.redis.backend import Consumer, Producer, create_topic

    url = server.url
    create_topic(url, "orders", partitions=3)
    p = Producer({"bootstrap.servers": url})
    p.produce("orders", key="user-7", value='{"total": 12.5}')
    p.flush()
    c = Consumer({"bootstrap.servers": url, "group.id": "billing", "auto.offset.reset": "earliest",
                  "enable.auto.commit": False})
    c.subscribe(["orders"])
    msg = c.poll(1.0)
    c.commit(message=msg, asynchronous=False)     # XACK of that entry
    c.close()
"""

from __future__ import annotations

import base64
import json
import os
import random
import re
import signal
import threading
import time
from collections import deque
from urllib.parse import urlsplit, urlunsplit

from eda_sim.backends.redis.server import ENV_URL
from eda_sim.core.clock import SIM_EPOCH
from eda_sim.core.errors import KafkaError, KafkaException, fail
from eda_sim.kafka import config as _config
from eda_sim.kafka.admin import ClusterMetadata, PartitionMetadata, TopicMetadata
from eda_sim.kafka.consumer import check_subscription
from eda_sim.kafka.message import (
    EPOCH_MS,
    OFFSET_BEGINNING,
    OFFSET_END,
    OFFSET_INVALID,
    Message,
    TopicPartition,
)
from eda_sim.kafka.partitioner import Partitioner, crc32_partition
from eda_sim.kafka.producer import _headers as _normalise_headers
from eda_sim.kafka.producer import _to_bytes
from eda_sim.services.events import Event
from eda_sim.services.retries import (
    DLT_SUFFIX,
    H_ATTEMPTS,
    H_EXCEPTION,
    H_GROUP,
    H_MESSAGE,
    H_OFFSET,
    H_PARTITION,
    H_TOPIC,
    NO_RETRY,
    Retry,
    dead_letter_headers,
)
from eda_sim.services.service import OUTCOMES, Span, event_headers

__all__ = [
    # confluent-kafka's names, so that only the import line changes
    "KafkaError",
    "KafkaException",
    "OFFSET_BEGINNING",
    "OFFSET_END",
    "OFFSET_INVALID",
    "TopicPartition",
    "Consumer",
    "DIFFERENCES",
    "MalformedEntry",
    "MaxDeliveriesExceeded",
    "Producer",
    "RedisContext",
    "RedisMessage",
    "RedisService",
    "connect",
    "create_topic",
    "dead_letters",
    "delete_topic",
    "differences",
    "entry_id_to_offset",
    "offset_to_entry_id",
    "pending",
    "publish",
    "reachable",
    "read_topic",
    "resolve_url",
    "run_service",
    "spans_frame",
    "stream_key",
    "topics",
]

#: Prefix of every key this backend keeps besides the streams themselves.
META_PREFIX = "eda:"
TOPICS_KEY = META_PREFIX + "topics"
#: Extra dead-letter header: the Redis delivery count when the entry was dead-lettered.
H_DELIVERIES = "dlt-deliveries"
#: Extra dead-letter header on a malformed entry: its raw fields, as JSON.
H_RAW = "dlt-raw-fields"
#: Span outcome for a delivery that failed and was left pending to be claimed again.
REDELIVER = "redeliver"

_FIELDS = (b"timestamp", b"key", b"value", b"headers")
_TOPIC_NAME = re.compile(r"[A-Za-z0-9._-]{1,249}")
_OFFSET_SCALE = 10**20  # > 2**64, the largest sequence number of an entry id
_EPOCH_S = SIM_EPOCH.timestamp()


# ----------------------------------------------------------------------------- URLs and connections


def _safe_url(url: str) -> str:
    """``url`` with any password replaced by ``***``, fit for an error message."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return "<unparseable URL>"
    if parts.password is None:
        return url
    user = parts.username or ""
    host = parts.hostname or ""
    netloc = f"{user}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


def resolve_url(url: str | None = None) -> str:
    """``url``, else ``$EDA_REDIS_URL``; a ``KafkaException`` says what is expected when neither is usable."""
    if url is None or (isinstance(url, str) and not url.strip()):
        url = os.environ.get(ENV_URL, "").strip() or None
    if url is None:
        raise fail(
            "_INVALID_ARG",
            f'no Redis server given: set "bootstrap.servers" to a redis://host:port/db URL '
            f"or the environment variable {ENV_URL}",
        )
    if not isinstance(url, str):
        raise fail(
            "_INVALID_ARG",
            f"a Redis URL must be a str like redis://host:port/db, got {type(url).__name__}",
        )
    scheme = url.split("://", 1)[0] if "://" in url else ""
    if scheme not in ("redis", "rediss", "unix"):
        raise fail(
            "_INVALID_ARG",
            f"bootstrap.servers must be a Redis URL (redis://, rediss:// or unix://), "
            f"got {_safe_url(url)!r}",
        )
    return url


def _transport(url: str, err: BaseException, doing: str = "reach") -> KafkaException:
    return fail(
        "_TRANSPORT", f"cannot {doing} Redis at {_safe_url(url)}: {type(err).__name__}: {err}"
    )


def connect(url: str | None = None, timeout_ms: int = 2000):
    """A ``redis.Redis`` client for ``url`` that has answered ``PING``.

    Connecting and every reply are bounded by ``timeout_ms``; there are no
    hidden retries, so an unreachable server gives a ``KafkaException``
    (``_TRANSPORT``) naming the URL within about that time.
    """
    import redis
    from redis.backoff import NoBackoff
    from redis.retry import Retry as _RedisRetry

    url = resolve_url(url)
    seconds = timeout_ms / 1000.0
    try:
        client = redis.Redis.from_url(
            url,
            socket_connect_timeout=seconds,
            socket_timeout=seconds,
            retry=_RedisRetry(NoBackoff(), 0),
            decode_responses=False,
        )
        client.ping()
    except redis.RedisError as err:
        raise _transport(url, err) from None
    except (OSError, ValueError) as err:
        raise _transport(url, err) from None
    return client


def reachable(url: str | None = None, timeout_ms: int = 500) -> bool:
    """Whether a Redis server answers at ``url`` (or ``$EDA_REDIS_URL``) within ``timeout_ms``; never raises."""
    try:
        connect(url, timeout_ms).close()
    except KafkaException:
        return False
    return True


def _redis_errors():
    import redis

    return redis.RedisError


def _connection_errors():
    import redis

    return (redis.ConnectionError, redis.TimeoutError)


# ----------------------------------------------------------------------------- offsets


def entry_id_to_offset(entry_id) -> int:
    """The integer offset of a stream entry id: ``"1700000000123-5"`` -> ``1700000000123 * 10**20 + 5``.

    Exact for every valid id, and ordered as the stream is (ids increase);
    unlike Kafka's offsets the integers have gaps.
    """
    if isinstance(entry_id, bytes):
        entry_id = entry_id.decode("ascii")
    ms, _, seq = str(entry_id).partition("-")
    try:
        return int(ms) * _OFFSET_SCALE + int(seq or 0)
    except ValueError:
        raise ValueError(
            f"a stream entry id looks like '<milliseconds>-<sequence>', got {entry_id!r}"
        ) from None


def offset_to_entry_id(offset: int) -> str:
    """The stream entry id of an offset from :func:`entry_id_to_offset`."""
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise ValueError(f"an offset must be an int >= 0, got {offset!r}")
    return f"{offset // _OFFSET_SCALE}-{offset % _OFFSET_SCALE}"


def _id_str(entry_id) -> str:
    return entry_id.decode("ascii") if isinstance(entry_id, bytes) else str(entry_id)


def _after(entry_id) -> int:
    """The offset just after an entry id; 0 after ``0-0`` (nothing yet)."""
    return 0 if _id_str(entry_id) == "0-0" else entry_id_to_offset(entry_id) + 1


def _id_key(entry_id: str) -> tuple:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


# ----------------------------------------------------------------------------- topics


def stream_key(topic: str, partition: int) -> str:
    """The Redis stream that holds one partition of a topic: ``"<topic>:<partition>"``."""
    return f"{topic}:{partition}"


def _check_topic_name(name) -> str:
    if not isinstance(name, str) or not _TOPIC_NAME.fullmatch(name):
        raise fail(
            "_INVALID_ARG",
            f"a topic name is 1 to 249 of the characters a-z A-Z 0-9 . _ - "
            f"(as in Kafka), got {name!r}",
        )
    return name


def _client(url_or_client, timeout_ms: int = 2000):
    if url_or_client is None or isinstance(url_or_client, str):
        url = resolve_url(url_or_client)
        return connect(url, timeout_ms), url
    return url_or_client, getattr(url_or_client, "_eda_url", "the given Redis client")


def create_topic(
    url, name: str, partitions: int = 1, *, maxlen: int | None = None, exist_ok: bool = False
) -> int:
    """Create topic ``name`` with ``partitions`` streams; return its partition count.

    The count is stored in the hash ``eda:topics`` (``HSETNX``: one creator
    wins); the streams themselves appear with their first entry or group.
    ``maxlen`` keeps each partition's stream at about that many entries (every
    produce trims with ``XADD MAXLEN ~``): Redis's retention, by count rather
    than Kafka's time or bytes. ``url`` may also be a ``redis.Redis`` client.
    An existing topic is an error (``TOPIC_ALREADY_EXISTS``) unless
    ``exist_ok``, and then its partition count is returned as it is.
    """
    _check_topic_name(name)
    if isinstance(partitions, bool) or not isinstance(partitions, int) or partitions < 1:
        raise fail(
            "INVALID_PARTITIONS", f"partitions must be a whole number >= 1, got {partitions!r}"
        )
    if maxlen is not None and (
        isinstance(maxlen, bool) or not isinstance(maxlen, int) or maxlen < 1
    ):
        raise ValueError(f"maxlen must be None or a whole number of entries >= 1, got {maxlen!r}")
    client, url = _client(url)
    meta = json.dumps({"partitions": partitions, "maxlen": maxlen}, sort_keys=True)
    try:
        if client.hsetnx(TOPICS_KEY, name, meta):
            return partitions
        existing = _parse_meta(client.hget(TOPICS_KEY, name))
    except _redis_errors() as err:
        raise _transport(url, err, "create a topic on") from None
    if not exist_ok:
        raise fail(
            "TOPIC_ALREADY_EXISTS", f"topic {name!r} already exists with {existing[0]} partition(s)"
        )
    return existing[0]


def _parse_meta(raw) -> tuple:
    data = json.loads(raw)
    return int(data["partitions"]), data.get("maxlen")


def topics(url) -> dict:
    """``{topic: partition count}`` of every topic created on the server, sorted by name."""
    client, url = _client(url)
    try:
        raw = client.hgetall(TOPICS_KEY)
    except _redis_errors() as err:
        raise _transport(url, err, "read topics from") from None
    return {k.decode(): _parse_meta(v)[0] for k, v in sorted(raw.items())}


def delete_topic(url, name: str) -> None:
    """Delete a topic: its streams (with their consumer groups) and its entry in ``eda:topics``."""
    client, url = _client(url)
    try:
        raw = client.hget(TOPICS_KEY, name)
        if raw is None:
            known = ", ".join(topics(client)) or "none"
            raise fail("UNKNOWN_TOPIC_OR_PART", f"topic {name!r} does not exist; topics: {known}")
        n = _parse_meta(raw)[0]
        pipe = client.pipeline(transaction=True)
        pipe.delete(*[stream_key(name, p) for p in range(n)])
        pipe.hdel(TOPICS_KEY, name)
        pipe.execute()
    except _redis_errors() as err:
        raise _transport(url, err, "delete a topic on") from None


class _TopicCache:
    """Topic metadata read once per client (topics do not grow here)."""

    def __init__(self, client, url):
        self.client = client
        self.url = url
        self.info: dict = {}

    def get(self, name: str) -> tuple:
        info = self.info.get(name)
        if info is None:
            try:
                raw = self.client.hget(TOPICS_KEY, name)
            except _redis_errors() as err:
                raise _transport(self.url, err, "read topic metadata from") from None
            if raw is None:
                known = ", ".join(topics(self.client)) or "none"
                raise fail(
                    "_UNKNOWN_TOPIC",
                    f"topic {name!r} does not exist on {_safe_url(self.url)}; "
                    f"topics: {known}; create it with create_topic(url, {name!r}, partitions)",
                )
            info = self.info[name] = _parse_meta(raw)
        return info


def _metadata(client, url, topic=None) -> ClusterMetadata:
    names = topics(client)
    if topic is not None:
        if topic not in names:
            raise fail(
                "_UNKNOWN_TOPIC",
                f"topic {topic!r} does not exist; topics: {', '.join(names) or 'none'}",
            )
        names = {topic: names[topic]}
    safe = _safe_url(url)
    return ClusterMetadata(
        safe,
        {0: safe},
        {
            n: TopicMetadata(n, {i: PartitionMetadata(i, 0, [0], [0]) for i in range(c)}, None)
            for n, c in names.items()
        },
    )


# ----------------------------------------------------------------------------- entries


class MalformedEntry(ValueError):
    """A stream entry this backend cannot read as a record (missing or unknown fields, bad headers)."""


def _encode_headers(headers) -> str:
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


def _decode_entry(fields: dict) -> tuple:
    """``(timestamp ms, key, value, headers)`` of an entry's fields; :class:`MalformedEntry` says what is wrong."""
    if not fields:
        raise MalformedEntry("the entry has no fields")
    unknown = sorted(k.decode("utf-8", "replace") for k in fields if k not in _FIELDS)
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


def _xadd_args(stream: str, maxlen, ts_ms: int, key, value, headers_json) -> list:
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


def _raw_fields_json(fields: dict) -> str:
    return json.dumps(
        {
            k.decode("utf-8", "replace"): (
                v.decode("utf-8", "replace") if isinstance(v, bytes) else v
            )
            for k, v in (fields or {}).items()
        },
        sort_keys=True,
    )


def _now_ms() -> int:
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


def _error_message(code: str, reason: str) -> RedisMessage:
    return RedisMessage(
        None, None, None, 0, None, None, None, 0, KafkaError(getattr(KafkaError, code), reason)
    )


# ----------------------------------------------------------------------------- config


_EXTRA_COMMON = {"socket.timeout.ms": (2000, _config.int_value(1))}
_CONSUMER_SCHEMA = {
    **_config.CONSUMER,
    **_EXTRA_COMMON,
    "group.instance.id": (None, _config.str_value),
    "redis.claim.idle.ms": (30000, _config.int_value(0)),
    "redis.partition.ownership": ("leased", _config.one_of("leased", "shared")),
}
_PRODUCER_SCHEMA = {**_config.PRODUCER, **_EXTRA_COMMON}


def _resolve(config, schema: dict, kind: str) -> dict:
    if config is not None and isinstance(config, dict):
        for key in config:
            if _config.ALIASES.get(key, key) not in schema:
                import difflib

                near = difflib.get_close_matches(str(key), list(schema), n=1)
                hint = f' (did you mean "{near[0]}"?)' if near else ""
                raise fail(
                    "_INVALID_ARG",
                    f'No such configuration property: "{key}"{hint}; the Redis-backed '
                    f"{kind} knows: " + ", ".join(sorted(schema)),
                )
    return _config.resolve(config, schema, kind)


# ----------------------------------------------------------------------------- producer


class Producer:
    """A producer on Redis, shaped like ``confluent_kafka.Producer``.

    ``produce`` queues a record; queued records go to Redis in one pipeline
    of ``XADD`` commands when ``batch.num.messages`` are queued, when
    ``linger.ms`` has passed at the next ``produce``/``poll``, or on ``flush``
    (there is no background thread: a record waits in the queue until one of
    these calls). Delivery callbacks run inside ``poll``/``flush`` with the
    record's offset (its entry id as an integer).

    ``partitioner`` works as in the simulator (CRC32 of the key by default, as librdkafka);
    a record without a key goes to a partition drawn per record from a
    ``random.Random(0)`` (no sticky batching). ``enable.idempotence`` is
    refused: Redis 7.0 has no idempotent append (see :data:`DIFFERENCES`).
    ``acks``, ``retries`` and ``compression.type`` are accepted and have no
    effect: Redis acknowledges every ``XADD`` once it is in memory.
    """

    def __init__(self, config: dict | None = None):
        cfg = self._config = _resolve(config, _PRODUCER_SCHEMA, "producer")
        if cfg["enable.idempotence"]:
            raise fail(
                "_INVALID_ARG",
                "enable.idempotence=true: Redis 7.0 has no idempotent producer (no producer id "
                "or sequence numbers on XADD), so a retried XADD can append a duplicate; "
                "leave it off and deduplicate on the consumer (run_service(idempotent=True))",
            )
        self._url = resolve_url(cfg["bootstrap.servers"])
        self._r = connect(self._url, cfg["socket.timeout.ms"])
        self._topics = _TopicCache(self._r, self._url)
        self.name = cfg["client.id"]
        self._random = random.Random(0)
        self._partitioner = Partitioner(
            cfg["partitioner"], self._random, cfg["sticky.partitioning.linger.ms"] / 1000.0
        )
        self._linger = cfg["linger.ms"] / 1000.0
        self._max_records = cfg["batch.num.messages"]
        self._default_cb = cfg["on_delivery"]
        self._queue: list = []  # (topic, partition, xadd args, callback, ts_ms, key, value, headers)
        self._first_queued = 0.0
        self._reports: deque = deque()
        self.sent_total = 0
        self.acked_total = 0

    def __repr__(self) -> str:
        return f"<redis Producer {self.name} {_safe_url(self._url)}>"

    def __len__(self) -> int:
        """Records not yet sent plus delivery reports not yet served."""
        return len(self._queue) + len(self._reports)

    def produce(
        self,
        topic,
        value=None,
        key=None,
        partition=-1,
        on_delivery=None,
        timestamp=0,
        headers=None,
        callback=None,
    ):
        """Queue one record for ``topic``; it goes out with the next pipeline (see the class doc)."""
        partitions, maxlen = self._topics.get(topic)
        if key is not None and key.__class__ is not bytes:
            key = _to_bytes(key, "key")
        if value is not None and value.__class__ is not bytes:
            value = _to_bytes(value, "value")
        if partition < 0:
            partition = self._partitioner.partition(topic, key, partitions, time.monotonic())
        elif partition >= partitions:
            raise fail(
                "_UNKNOWN_PARTITION",
                f"topic {topic!r} has partitions 0..{partitions - 1}, not {partition}",
            )
        ts = int(timestamp) if timestamp else _now_ms()
        hdrs = _normalise_headers(headers)[0] if headers is not None else None
        args = _xadd_args(
            stream_key(topic, partition),
            maxlen,
            ts,
            key,
            value,
            _encode_headers(hdrs) if hdrs else None,
        )
        if not self._queue:
            self._first_queued = time.monotonic()
        self._queue.append(
            (
                topic,
                partition,
                args,
                on_delivery or callback or self._default_cb,
                ts,
                key,
                value,
                hdrs,
            )
        )
        if (
            len(self._queue) >= self._max_records
            or time.monotonic() - self._first_queued >= self._linger
        ):
            self._send()

    def _send(self) -> None:
        queue = self._queue
        if not queue:
            return
        pipe = self._r.pipeline(transaction=False)
        for item in queue:
            pipe.execute_command(*item[2])
        try:
            replies = pipe.execute(raise_on_error=False)
        except _redis_errors() as err:
            raise _transport(self._url, err, "send records to") from None
        self._queue = []
        self.sent_total += len(queue)
        for (topic, partition, _args, cb, ts, key, value, hdrs), reply in zip(queue, replies):
            if isinstance(reply, Exception):
                err = KafkaError(
                    KafkaError._INVALID_ARG,
                    f"XADD to {stream_key(topic, partition)} failed: {reply}",
                )
                if cb is not None:
                    self._reports.append(
                        (cb, err, RedisMessage(topic, partition, None, ts, key, value, hdrs))
                    )
                continue
            self.acked_total += 1
            if cb is not None:
                self._reports.append(
                    (cb, None, RedisMessage(topic, partition, _id_str(reply), ts, key, value, hdrs))
                )

    def poll(self, timeout: float = 0) -> int:
        """Send what has lingered long enough (everything, given a timeout) and serve delivery callbacks."""
        if self._queue and (timeout or time.monotonic() - self._first_queued >= self._linger):
            self._send()
        served = 0
        while self._reports:
            cb, err, msg = self._reports.popleft()
            cb(err, msg)
            served += 1
        return served

    def flush(self, timeout: float | None = None) -> int:
        """Send everything queued, serve the delivery callbacks, and return what is left (0)."""
        self._send()
        self.poll(0)
        return len(self)

    def list_topics(self, topic: str | None = None, timeout: float = -1) -> ClusterMetadata:
        """The topics on the server, as ``AdminClient.list_topics`` returns them."""
        return _metadata(self._r, self._url, topic)

    def close(self) -> None:
        """Flush, then close the connection (an extra: confluent-kafka's producer has no close)."""
        self.flush()
        self._r.close()


# ----------------------------------------------------------------------------- consumer


_HEARTBEAT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('PEXPIRE', KEYS[1], ttl * 4)
return redis.call('ZRANGE', KEYS[1], 0, -1)
"""

# Modes per lease key: 'want' acquires or renews, 'keep' only renews, 'drop' releases.
_LEASES = """
local me, ttl = ARGV[1], tonumber(ARGV[2])
local out = {}
for i, key in ipairs(KEYS) do
  local mode = ARGV[i + 2]
  local holder = redis.call('GET', key)
  if holder == me then
    if mode == 'drop' then redis.call('DEL', key); out[i] = 0
    else redis.call('PEXPIRE', key, ttl); out[i] = 1 end
  elseif holder == false and mode == 'want' then
    redis.call('SET', key, me, 'PX', ttl); out[i] = 1
  else
    out[i] = 0
  end
end
return out
"""

_consumer_seq = 0
_seq_lock = threading.Lock()


def _next_consumer_number() -> int:
    global _consumer_seq
    with _seq_lock:
        _consumer_seq += 1
        return _consumer_seq


class _Stream:
    __slots__ = ("topic", "partition", "key", "lease")

    def __init__(self, topic, partition, group):
        self.topic = topic
        self.partition = partition
        self.key = stream_key(topic, partition)
        self.lease = f"{META_PREFIX}group:{group}:lease:{self.key}"


class Consumer:
    """A consumer group member on Redis, shaped like ``confluent_kafka.Consumer``.

    The usual keys work (``group.id``, ``auto.offset.reset``,
    ``enable.auto.commit``, ``auto.commit.interval.ms``,
    ``enable.auto.offset.store``, ``session.timeout.ms``,
    ``heartbeat.interval.ms``, ``on_commit``), plus:

    * ``redis.partition.ownership``: ``"leased"`` (default) or ``"shared"``
      (see the module doc);
    * ``redis.claim.idle.ms`` (default 30000): claim entries pending that
      long (a dead or stuck member's);
    * ``group.instance.id``: a fixed member name (Kafka's static membership);
      a member restarted under the same name gets its own pending entries
      back at once;
    * ``socket.timeout.ms`` (default 2000): the bound on connecting and on
      every reply.

    Leases and heartbeats are renewed inside ``poll``/``consume`` (there is no
    background thread), so ``session.timeout.ms`` also bounds the time
    between polls. Auto-commit acks what earlier polls returned, at a poll
    after ``auto.commit.interval.ms`` and on ``close``.
    ``partition.assignment.strategy`` is accepted and ignored: partitions are
    shared round-robin by member index, and all members of a group are
    expected to subscribe to the same topics.
    """

    def __init__(self, config: dict | None = None):
        cfg = self._config = _resolve(config, _CONSUMER_SCHEMA, "consumer")
        self._url = resolve_url(cfg["bootstrap.servers"])
        self._r = connect(self._url, cfg["socket.timeout.ms"])
        self._r._eda_url = self._url
        self._meta = _TopicCache(self._r, self._url)
        self.group_id = cfg["group.id"]
        self.client_id = cfg["client.id"]
        fixed = cfg["group.instance.id"]
        self.name = fixed or f"{self.client_id}-{os.getpid()}-{_next_consumer_number()}"
        self._static = fixed is not None
        self._leased = cfg["redis.partition.ownership"] == "leased"
        self._claim_idle = cfg["redis.claim.idle.ms"]
        self._session = cfg["session.timeout.ms"]
        self._hb_every = min(cfg["heartbeat.interval.ms"], self._session / 3) / 1000.0
        self._claim_every = max(min(self._claim_idle / 2, 1000), 20) / 1000.0
        self._block_max = max(0.01, min(0.5, cfg["socket.timeout.ms"] / 4000.0, self._hb_every))
        self._autocommit = cfg["enable.auto.commit"]
        self._autocommit_every = cfg["auto.commit.interval.ms"] / 1000.0
        self._autostore = cfg["enable.auto.offset.store"]
        self._members_key = f"{META_PREFIX}group:{self.group_id}:members" if self.group_id else None
        self._heartbeat_script = self._r.register_script(_HEARTBEAT)
        self._lease_script = self._r.register_script(_LEASES)
        self._subscription: list = []
        self._streams: list = []  # _Stream, sorted by (topic, partition)
        self._by_key: dict = {}
        self._callbacks = (None, None, None)
        self._joined = False
        self._held: set = set()  # stream keys whose lease this member holds
        self._owned: set = set()  # stream keys it may read new entries from
        self._blocked: set = set()  # owned, but another member's pending entries come first
        self._buffer: deque = deque()  # fetched, not yet handed out
        self._outstanding: dict = {}  # stream key -> {entry id: message} handed out, not acknowledged
        self._stored: dict = {}  # stream key -> {entry id: offset} marked processed, to ack on commit()
        self._positions: dict = {}
        self._errors: list = []
        self._last_hb = -1e9
        self._last_claim = -1e9
        self._last_commit = time.monotonic()
        self._rr = 0
        self._closed = False
        self.delivered_total = 0
        self.claimed_total = 0
        self.dead_lettered_total = 0

    def __repr__(self) -> str:
        return f"<redis Consumer {self.name} group={self.group_id!r} {_safe_url(self._url)}>"

    # -- subscription --------------------------------------------------------------

    def subscribe(self, topics, on_assign=None, on_revoke=None, on_lost=None) -> None:
        """Subscribe to topics; the member joins (creating the groups on the streams) on the next poll."""
        self._check_usable()
        check_subscription(topics, self.group_id)
        streams = []
        for t in sorted(set(topics)):
            n = self._meta.get(t)[
                0
            ]  # an unknown topic is an error now, naming the topics there are
            streams += [_Stream(t, p, self.group_id) for p in range(n)]
        if self._joined:
            self._leave()
        self._subscription = sorted(set(topics))
        self._streams = streams
        self._by_key = {s.key: s for s in streams}
        self._callbacks = (on_assign, on_revoke, on_lost)

    def unsubscribe(self) -> None:
        """Leave the group and drop the subscription."""
        self._check_usable()
        self._leave()
        self._subscription, self._streams, self._by_key = [], [], {}

    def assignment(self) -> list[TopicPartition]:
        """The partitions this member reads now (leased: those it holds; shared: all, once joined)."""
        self._check_usable()
        return [TopicPartition(s.topic, s.partition) for s in self._streams if s.key in self._owned]

    def memberid(self) -> str:
        """This member's consumer name in the Redis groups."""
        return self.name

    # -- polling ---------------------------------------------------------------------

    def poll(self, timeout: float | None = None) -> RedisMessage | None:
        """One message (or an error event), or None if none arrives within ``timeout`` seconds."""
        out = self.consume(1, -1 if timeout is None else timeout)
        return out[0] if out else None

    def consume(self, num_messages: int = 1, timeout: float = -1) -> list:
        """Up to ``num_messages`` messages, waiting at most ``timeout`` seconds (-1: until any arrive)."""
        if (
            isinstance(num_messages, bool)
            or not isinstance(num_messages, int)
            or not 1 <= num_messages <= 1000000
        ):
            raise ValueError(
                f"num_messages must be an integer from 1 to 1000000, got {num_messages!r}"
            )
        self._check_usable()
        if not self._streams:
            return []  # nothing subscribed: nothing can arrive
        if timeout is None or timeout < 0:
            timeout = float("inf")
        deadline = time.monotonic() + timeout
        tried = False
        while True:
            self._maintain()
            if self._errors:
                return [self._errors.pop(0)]
            if self._buffer:
                return self._hand_out(num_messages)
            remaining = deadline - time.monotonic()
            if tried and remaining <= 0:
                return []
            tried = True
            self._read(num_messages, max(0.0, min(remaining, self._block_max)))

    def _hand_out(self, n: int) -> list:
        out = []
        buffer = self._buffer
        while buffer and len(out) < n:
            m = buffer.popleft()
            key = m.stream()
            self._outstanding.setdefault(key, {})[m._entry_id] = m
            if self._autostore:
                self._stored.setdefault(key, {})[m._entry_id] = m._offset
            self._positions[key] = m._offset + 1
            out.append(m)
        self.delivered_total += len(out)
        return out

    def _maintain(self) -> None:
        now = time.monotonic()
        try:
            if not self._joined:
                self._join()
                if not self._joined:
                    return  # a group is missing under auto.offset.reset=none: the error event says so
            if now - self._last_hb >= self._hb_every:
                self._heartbeat()
            if self._autocommit and now - self._last_commit >= self._autocommit_every:
                self._last_commit = now
                self._commit_stored(asynchronous=True)
            if now - self._last_claim >= self._claim_every:
                self._claim()
        except _redis_errors() as err:
            raise _transport(self._url, err, "talk to") from None

    def _join(self) -> None:
        from redis.exceptions import ResponseError

        policy = self._config["auto.offset.reset"]
        start = "$" if policy == "latest" else "0"
        if policy == "none":
            self._errors = []  # report each missing group once per attempt to join, not once per poll
        pipe = self._r.pipeline(transaction=False)
        for s in self._streams:
            if policy == "none":
                pipe.xinfo_groups(s.key)
            else:
                pipe.xgroup_create(s.key, self.group_id, id=start, mkstream=True)
        replies = pipe.execute(raise_on_error=False)
        for s, reply in zip(self._streams, replies):
            if policy == "none":
                names = [] if isinstance(reply, Exception) else [g["name"].decode() for g in reply]
                if self.group_id not in names:
                    self._errors.append(
                        _error_message(
                            "_AUTO_OFFSET_RESET",
                            (
                                f"{s.topic}-{s.partition}: group {self.group_id!r} has no position on stream {s.key} and "
                                "auto.offset.reset is none; create the group (earliest/latest) first"
                            ),
                        )
                    )
            elif isinstance(reply, ResponseError) and "BUSYGROUP" not in str(reply):
                raise reply
        if self._errors:
            return
        self._joined = True
        self._last_hb = -1e9
        if self._static:  # static membership: take back this name's own pending entries at once
            self._recover_own()

    def _recover_own(self) -> None:
        streams = {s.key: "0" for s in self._streams}
        while streams:
            got = self._r.xreadgroup(self.group_id, self.name, streams, count=500)
            done = set(streams)
            for raw_key, entries in got or ():
                key = raw_key.decode()
                real = [(i, f) for i, f in entries if f]
                if real:
                    streams[key] = _id_str(real[-1][0])
                    done.discard(key)
                    self._accept(
                        self._by_key[key], real, self._delivery_counts(key, real), claimed=True
                    )
            for key in done:
                streams.pop(key, None)

    def _heartbeat(self) -> None:
        self._last_hb = time.monotonic()
        if not self._leased:
            newly = {s.key for s in self._streams} - self._owned
            self._owned |= newly
            self._held = set(self._owned)
            if newly:
                self._assigned(newly)
            return
        members = sorted(
            m.decode()
            for m in self._heartbeat_script(
                keys=[self._members_key], args=[self.name, self._session]
            )
        )
        if self.name not in members:  # pragma: no cover - only if the server dropped our own write
            members = sorted(members + [self.name])
        index, count = members.index(self.name), len(members)
        desired = {s.key for j, s in enumerate(self._streams) if j % count == index}
        modes = []
        for s in self._streams:
            if s.key in desired:
                modes.append("want")
            elif self._unacked(s.key):
                modes.append("keep")
            else:
                modes.append("drop")
        got = self._lease_script(
            keys=[s.lease for s in self._streams], args=[self.name, self._session, *modes]
        )
        held = {s.key for s, ok in zip(self._streams, got) if ok}
        before = self._held
        self._held = held
        self._owned = held & desired
        gained = held - before
        released = {k for k in before - held if k not in desired and not self._unacked(k)}
        lost = before - held - released
        if gained:
            self._blocked |= gained
            self._check_blocked()
            self._assigned(gained)
        if released and self._callbacks[1] is not None:
            self._callbacks[1](self, self._tps(released))
        if lost:
            cb = self._callbacks[2] or self._callbacks[1]
            if cb is not None:
                cb(self, self._tps(lost))

    def _assigned(self, keys: set) -> None:
        if self._callbacks[0] is not None:
            self._callbacks[0](self, self._tps(keys))

    def _tps(self, keys) -> list:
        return [TopicPartition(s.topic, s.partition) for s in self._streams if s.key in keys]

    def _unacked(self, key: str) -> int:
        return len(self._outstanding.get(key, ())) + sum(
            1 for m in self._buffer if m.stream() == key
        )

    def _check_blocked(self) -> None:
        """Unblock owned streams in which no other member has entries pending."""
        if not self._blocked:
            return
        keys = sorted(self._blocked)
        pipe = self._r.pipeline(transaction=False)
        for key in keys:
            pipe.xpending(key, self.group_id)
        for key, summary in zip(keys, pipe.execute()):
            others = [
                c
                for c in summary.get("consumers") or ()
                if c["name"].decode() != self.name and c["pending"]
            ]
            if not others:
                self._blocked.discard(key)

    def _claim(self) -> None:
        """Claim entries pending longer than redis.claim.idle.ms in the streams this member owns.

        ``XPENDING ... IDLE`` lists them with their owners and delivery counts;
        ``XCLAIM`` (which checks the idle time again, atomically) takes them.
        XAUTOCLAIM would do both in one call but cannot leave out the entries
        this member is still working on itself: it would claim those too,
        raising their delivery counts (which dead-lettering counts on).
        """
        self._last_claim = time.monotonic()
        keys = sorted(self._owned)
        if not keys:
            return
        pipe = self._r.pipeline(transaction=False)
        for key in keys:
            pipe.xpending_range(key, self.group_id, "-", "+", 200, idle=self._claim_idle)
        listed = pipe.execute()
        mine = {(m.stream(), m._entry_id) for m in self._buffer}
        mine.update((key, i) for key, held in self._outstanding.items() for i in held)
        todo = []
        for key, rows in zip(keys, listed):
            wanted = {_id_str(r["message_id"]): r["times_delivered"] + 1 for r in rows}
            wanted = {i: n for i, n in wanted.items() if (key, i) not in mine}
            if wanted:
                todo.append((key, wanted))
        if todo:
            pipe = self._r.pipeline(transaction=False)
            for key, wanted in todo:
                pipe.xclaim(key, self.group_id, self.name, self._claim_idle, list(wanted))
            fresh = deque()
            for (key, wanted), entries in zip(todo, pipe.execute()):
                entries = [
                    (i, f) for i, f in entries if f
                ]  # an entry deleted meanwhile has no fields
                fresh.extend(
                    self._accept(self._by_key[key], entries, wanted, claimed=True, into=None)
                )
            self._buffer.extendleft(
                reversed(fresh)
            )  # older than anything read with '>': handed out first
        self._check_blocked()

    def _delivery_counts(self, key: str, entries) -> dict:
        """Entry id -> delivery count (XPENDING) for entries this member holds."""
        rows = self._r.xpending_range(
            key,
            self.group_id,
            min=_id_str(entries[0][0]),
            max=_id_str(entries[-1][0]),
            count=len(entries) + 100,
            consumername=self.name,
        )
        return {_id_str(r["message_id"]): r["times_delivered"] for r in rows}

    def _read(self, n: int, block: float) -> None:
        from redis.exceptions import ResponseError

        readable = [s for s in self._streams if s.key in self._owned and s.key not in self._blocked]
        if not readable:
            time.sleep(block)
            return
        start = self._rr % len(readable)
        self._rr += 1
        order = readable[start:] + readable[:start]
        block_ms = int(block * 1000)
        try:
            got = self._r.xreadgroup(
                self.group_id,
                self.name,
                {s.key: ">" for s in order},
                count=n,
                block=block_ms if block_ms > 0 else None,
            )
        except ResponseError as err:
            if "NOGROUP" in str(err):  # the stream or its group was deleted: create them again
                self._joined = False
                return
            raise _transport(self._url, err, "read from") from None
        except _redis_errors() as err:
            raise _transport(self._url, err, "read from") from None
        for raw_key, entries in got or ():
            self._accept(self._by_key[raw_key.decode()], entries, None)

    def _accept(self, s: _Stream, entries, deliveries, claimed=False, into="buffer"):
        """Decode entries into messages; dead-letter malformed ones. Returns the messages if ``into`` is None."""
        out = []
        bad = []
        for raw_id, fields in entries:
            entry_id = _id_str(raw_id)
            count = deliveries.get(entry_id, 2) if deliveries is not None else (2 if claimed else 1)
            try:
                ts, key, value, headers = _decode_entry(fields)
            except MalformedEntry as err:
                bad.append((entry_id, fields, str(err), count))
                continue
            out.append(RedisMessage(s.topic, s.partition, entry_id, ts, key, value, headers, count))
        if claimed:
            self.claimed_total += len(out)
        if bad:
            self._dead_letter_malformed(s, bad)
        if into is None:
            return out
        self._buffer.extend(out)
        return None

    def _dead_letter_malformed(self, s: _Stream, bad: list) -> None:
        target = s.topic + DLT_SUFFIX
        n = create_topic(self._r, target, self._meta.get(s.topic)[0], exist_ok=True)
        pipe = self._r.pipeline(transaction=True)
        for entry_id, fields, reason, count in bad:
            fields = fields or {}
            try:
                ts = int(fields.get(b"timestamp"))
            except (TypeError, ValueError):
                ts = _now_ms()
            headers = [
                *dead_letter_headers(
                    s.topic, s.partition, entry_id, ts, self.group_id, MalformedEntry, reason, 0
                ),
                (H_DELIVERIES, str(count)),
                (H_RAW, _raw_fields_json(fields)[:4000]),
            ]
            value = fields.get(b"value") if isinstance(fields.get(b"value"), bytes) else None
            key = fields.get(b"key") if isinstance(fields.get(b"key"), bytes) else None
            p = s.partition if s.partition < n else 0
            pipe.execute_command(
                *_xadd_args(
                    stream_key(target, p),
                    None,
                    ts,
                    key,
                    value,
                    _encode_headers([(k, v.encode()) for k, v in headers]),
                )
            )
            pipe.xack(s.key, self.group_id, entry_id)
        pipe.execute()
        self.dead_lettered_total += len(bad)

    # -- acknowledgements ------------------------------------------------------------

    def commit(self, message=None, offsets=None, asynchronous: bool = True):
        """Acknowledge entries (``XACK``): a message's entry, those below explicit offsets, or all stored.

        Returns, when synchronous, one ``TopicPartition`` per partition with
        the highest acknowledged offset + 1; an asynchronous commit returns
        None and reports to ``on_commit``. Redis accepts an ack from any
        member, even one whose lease moved (nothing fences a zombie's ack).
        """
        self._check_usable()
        if message is not None and offsets is not None:
            raise ValueError("commit() takes message or offsets, not both")
        if message is not None:
            if message.error() is not None:
                raise ValueError(
                    "cannot commit an error event; commit a message that carries a record"
                )
            entry = (
                message.entry_id()
                if isinstance(message, RedisMessage)
                else offset_to_entry_id(message.offset())
            )
            todo = {
                stream_key(message.topic(), message.partition()): {entry: entry_id_to_offset(entry)}
            }
        elif offsets is not None:
            todo = {}
            for tp in offsets:
                if not isinstance(tp, TopicPartition) or tp.offset < 0:
                    raise ValueError(
                        f"commit(offsets=...) expects TopicPartitions with offsets >= 0, got {tp!r}"
                    )
                key = stream_key(tp.topic, tp.partition)
                below = {
                    i: m._offset
                    for i, m in self._outstanding.get(key, {}).items()
                    if m._offset < tp.offset
                }
                if below:
                    todo.setdefault(key, {}).update(below)
        else:
            todo = {k: dict(v) for k, v in self._stored.items() if v}
            if not todo:
                raise fail(
                    "_NO_OFFSET",
                    "nothing to commit: no entries stored as processed since the last commit",
                )
        return self._ack(todo, asynchronous)

    def _commit_stored(self, asynchronous: bool):
        todo = {k: dict(v) for k, v in self._stored.items() if v}
        if todo:
            return self._ack(todo, asynchronous)
        return None

    def _ack(self, todo: dict, asynchronous: bool):
        keys = sorted(todo)
        pipe = self._r.pipeline(transaction=False)
        for key in keys:
            pipe.xack(key, self.group_id, *todo[key])
        try:
            pipe.execute()
        except _redis_errors() as err:
            exc = _transport(self._url, err, "acknowledge entries on")
            if not asynchronous:
                raise exc from None
            if self._config["on_commit"]:
                self._config["on_commit"](exc.error, [])
            return None
        parts = []
        for key in keys:
            self._settle(key, todo[key])
            s = self._by_key.get(key)
            topic, _, part = key.rpartition(":")
            parts.append(
                TopicPartition(
                    s.topic if s else topic,
                    s.partition if s else int(part),
                    max(todo[key].values()) + 1,
                )
            )
        if self._config["on_commit"]:
            self._config["on_commit"](None, parts)
        return None if asynchronous else parts

    def _settle(self, key: str, entry_ids) -> None:
        """Forget entries acknowledged (here or by a script) or put back for redelivery."""
        out = self._outstanding.get(key)
        stored = self._stored.get(key)
        for i in entry_ids:
            if out:
                out.pop(i, None)
            if stored:
                stored.pop(i, None)

    def store_offsets(self, message=None, offsets=None) -> None:
        """Mark entries processed for the next ``commit()``: a message's entry, or those below each offset."""
        self._check_usable()
        if message is not None:
            key = stream_key(message.topic(), message.partition())
            entry = (
                message.entry_id()
                if isinstance(message, RedisMessage)
                else offset_to_entry_id(message.offset())
            )
            self._stored.setdefault(key, {})[entry] = entry_id_to_offset(entry)
        for tp in offsets or ():
            key = stream_key(tp.topic, tp.partition)
            for i, m in self._outstanding.get(key, {}).items():
                if m._offset < tp.offset:
                    self._stored.setdefault(key, {})[i] = m._offset

    def nack(self, message) -> None:
        """Give an entry back unacknowledged (an extra): it stays pending and is claimed again after
        ``redis.claim.idle.ms`` with its delivery count raised. Later entries may be handled first."""
        self._check_usable()
        self._settle(message.stream(), [message.entry_id()])

    def committed(self, partitions: list, timeout: float | None = None) -> list[TopicPartition]:
        """Per partition, the offset below which the group has acknowledged every entry.

        That is the oldest pending entry's offset, or, with nothing pending,
        the last delivered entry's offset + 1; ``OFFSET_INVALID`` when the
        group does not exist on that stream. Entries after it may be
        acknowledged already: Redis acks entries, not a position.
        """
        self._check_usable()
        pipe = self._r.pipeline(transaction=False)
        for tp in partitions:
            key = stream_key(tp.topic, tp.partition)
            pipe.xinfo_groups(key)
            pipe.xpending(key, self.group_id)
        try:
            replies = pipe.execute(raise_on_error=False)
        except _redis_errors() as err:
            raise _transport(self._url, err, "read committed positions from") from None
        out = []
        for i, tp in enumerate(partitions):
            groups, summary = replies[2 * i], replies[2 * i + 1]
            offset = OFFSET_INVALID
            if not isinstance(groups, Exception) and not isinstance(summary, Exception):
                mine = [g for g in groups if g["name"].decode() == self.group_id]
                if mine:
                    if summary["pending"]:
                        offset = entry_id_to_offset(summary["min"])
                    else:
                        offset = _after(mine[0]["last-delivered-id"])
            out.append(TopicPartition(tp.topic, tp.partition, offset))
        return out

    def position(self, partitions: list) -> list[TopicPartition]:
        """The offset after the last entry this member handed out, per partition (``OFFSET_INVALID`` if none)."""
        self._check_usable()
        return [
            TopicPartition(
                tp.topic,
                tp.partition,
                self._positions.get(stream_key(tp.topic, tp.partition), OFFSET_INVALID),
            )
            for tp in partitions
        ]

    def seek(self, partition: TopicPartition) -> None:
        """Move the **group's** position on a partition (``XGROUP SETID``): every member reads from there.

        Kafka's seek is local to one consumer; a Redis group has one
        last-delivered id per stream. ``OFFSET_BEGINNING``/``OFFSET_END`` map
        to ``0``/``$``.
        """
        self._check_usable()
        key = stream_key(partition.topic, partition.partition)
        if key not in self._by_key:
            raise fail(
                "_STATE",
                f"seek: {partition.topic}-{partition.partition} is not in this consumer's "
                f"subscription; subscribed: {self._subscription}",
            )
        if partition.offset == OFFSET_BEGINNING:
            target = "0"
        elif partition.offset == OFFSET_END:
            target = "$"
        else:
            target = offset_to_entry_id(partition.offset - 1) if partition.offset > 0 else "0"
        try:
            self._r.xgroup_setid(key, self.group_id, target)
        except _redis_errors() as err:
            raise _transport(self._url, err, "seek on") from None
        self._buffer = deque(m for m in self._buffer if m.stream() != key)

    def get_watermark_offsets(
        self, partition: TopicPartition, timeout=None, cached: bool = False
    ) -> tuple:
        """``(low, high)``: the first retained entry's offset and the last entry's offset + 1."""
        self._check_usable()
        key = stream_key(partition.topic, partition.partition)
        try:
            info = self._r.xinfo_stream(key)
        except _redis_errors() as err:
            if "no such key" in str(err).lower():
                return (0, 0)
            raise _transport(self._url, err, "read watermarks from") from None
        high = _after(info["last-generated-id"])
        first = info.get("first-entry")
        return (entry_id_to_offset(first[0]) if first else high, high)

    def list_topics(self, topic: str | None = None, timeout: float = -1) -> ClusterMetadata:
        """The topics on the server, as ``AdminClient.list_topics`` returns them."""
        return _metadata(self._r, self._url, topic)

    def close(self) -> None:
        """Ack stored entries (with auto-commit), give the leases up and leave the group."""
        if self._closed:
            return
        try:
            if self._autocommit:
                self._commit_stored(asynchronous=False)
            self._leave()
        except KafkaException:
            pass  # closing must not fail because the server went away; pending entries will be claimed
        except _redis_errors():
            pass
        finally:
            self._closed = True
            self._r.close()

    def _leave(self) -> None:
        if not self._joined:
            return
        pipe = self._r.pipeline(transaction=False)
        if self._leased and self._held:
            self._lease_script(
                keys=[self._by_key[k].lease for k in sorted(self._held)],
                args=[self.name, self._session, *["drop"] * len(self._held)],
                client=pipe,
            )
        if self._members_key:
            pipe.zrem(self._members_key, self.name)
        if not any(self._outstanding.values()) and not self._buffer and not self._static:
            for (
                s
            ) in self._streams:  # tidy: a consumer with nothing pending can go from XINFO CONSUMERS
                pipe.xgroup_delconsumer(s.key, self.group_id, self.name)
        pipe.execute(raise_on_error=False)
        if self._held and self._callbacks[1] is not None:
            self._callbacks[1](self, self._tps(self._held))
        self._joined = False
        self._held, self._owned, self._blocked = set(), set(), set()
        self._buffer.clear()
        self._outstanding, self._stored = {}, {}

    def _check_usable(self) -> None:
        if self._closed:
            raise RuntimeError("Consumer closed")


# ----------------------------------------------------------------------------- service layer


class MaxDeliveriesExceeded(Exception):
    """An entry was delivered ``max_deliveries`` times without being acknowledged (a poison pill)."""


# KEYS[1] inbox set, KEYS[2] source stream; ARGV[1] event id, ARGV[2] group, ARGV[3] entry id,
# ARGV[4] the side effects and emitted events as a JSON list of commands.
_IDEMPOTENT = """
local fresh = redis.call('SADD', KEYS[1], ARGV[1])
if fresh == 1 then
  local cmds = cjson.decode(ARGV[4])
  for i = 1, #cmds do
    local ok = redis.pcall(unpack(cmds[i]))
    if type(ok) == 'table' and ok.err then
      redis.call('SREM', KEYS[1], ARGV[1])
      return redis.error_reply('side effect ' .. i .. ' (' .. tostring(cmds[i][1]) .. ') failed: ' .. ok.err)
    end
  end
end
redis.call('XACK', KEYS[2], ARGV[2], ARGV[3])
return fresh
"""


def _scalar(value, what: str):
    if isinstance(value, bool) or not isinstance(value, (str, int, float, bytes)):
        raise TypeError(
            f"{what} must be str, int, float or bytes, got {type(value).__name__} {value!r}"
        )
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise TypeError(
                f"{what}: bytes must be UTF-8 text to travel in a side effect"
            ) from None
    return (
        value if isinstance(value, str) else repr(value) if isinstance(value, float) else str(value)
    )


class RedisContext:
    """What a handler gets besides the event, on Redis: ``emit``, ``effect``, the time, and the attempt.

    The same handler code as in :class:`eda_sim.services.service.Service` works:
    ``ctx.emit(topic, type, payload, key=...)`` publishes an event caused by
    the one being handled when the handler succeeds, with correlation and
    causation ids and the tracing headers. Emitted event ids are derived from
    the handled event's id (``<id>/<service>/<n>``), so a redelivered event
    emits the same ids and a downstream idempotent service drops the copies.

    Redis-only extras: ``ctx.effect(*command)`` queues a Redis command (e.g.
    ``ctx.effect("HINCRBY", "totals", key, 1)``) as a side effect that runs
    atomically with the emitted events and, under the idempotent policy,
    with the inbox insert and the acknowledgement; ``ctx.redis`` is the
    client, for reads; ``ctx.deliveries`` is the Redis delivery count.
    """

    __slots__ = (
        "service",
        "instance",
        "event",
        "attempt",
        "deliveries",
        "message",
        "redis",
        "_out",
        "_effects",
    )

    sim = None  # no simulation here; handlers that need the time use ctx.now

    def __init__(self, service, instance, event, attempt, message):
        self.service = service
        self.instance = instance
        self.event = event
        self.attempt = attempt
        self.deliveries = message.delivery_count()
        self.message = message
        self.redis = service._r
        self._out = []
        self._effects = []

    @property
    def now(self) -> float:
        """Wall-clock seconds since :data:`~eda_sim.core.clock.SIM_EPOCH` (real time, unlike the simulator)."""
        return max(0.0, time.time() - _EPOCH_S)

    def emit(
        self, topic: str, type: str, payload: dict, key: str | None = None, schema_version: int = 1
    ) -> Event:
        """Publish a new event caused by the one being handled (sent when the handler succeeds)."""
        self.service._topics.get(topic)  # an unknown topic raises, naming the topics there are
        parent = self.event
        ev = Event.create(
            type,
            payload,
            key=key if key is not None else parent.key,
            time=self.now,
            id=f"{parent.id}/{self.service.name}/{len(self._out) + 1}",
            correlation_id=parent.correlation_id,
            causation_id=parent.id,
            schema_version=schema_version,
        )
        self._out.append((topic, ev))
        return ev

    def effect(self, command: str, *args) -> None:
        """Queue one Redis command as a side effect of handling this event (see the class doc)."""
        if not isinstance(command, str) or not command.strip():
            raise TypeError(
                f"effect() needs a Redis command name first, e.g. effect('HINCRBY', key, field, 1); "
                f"got {command!r}"
            )
        self._effects.append(
            [command] + [_scalar(a, f"effect argument {i + 1}") for i, a in enumerate(args)]
        )


class RedisService:
    """A named service on Redis: one group member with handlers per event type and opt-in policies.

    Construct it in the process that runs it, then call :meth:`run`;
    :func:`run_service` does both and is what a ``multiprocessing`` target or
    a script calls. Parameters as :class:`eda_sim.services.service.Service`, plus:

    * ``idempotent``: an inbox (the Redis set ``eda:inbox:<service>``, whose
      ``SADD`` returns 0 for an id already there: the unique constraint). The
      inbox insert, the ``ctx.effect`` side effects, the emitted events and
      the ``XACK`` run in one Lua script, so they happen together or not at
      all and a duplicate leaves no trace. Without it, effects and emitted
      events go in one ``MULTI``/``EXEC`` per event and the acks after each
      batch (commit after processing): at-least-once.
    * ``max_deliveries``: a failure that outlives ``retry`` leaves the entry
      pending, to be claimed again after ``claim_idle_ms``, until the handler
      has run on ``max_deliveries`` deliveries of it; then it is
      dead-lettered (headers as the simulator's, plus ``dlt-deliveries``,
      XPENDING's delivery count). A redelivered entry on which the handler
      already started ``max_deliveries`` times without finishing (it took the
      process down each time: a poison pill) is dead-lettered without
      running it. Deliveries count when the handler *starts* on them
      (recorded in the hash ``eda:attempts:<service>`` before it runs on a
      redelivery; the first delivery is assumed started), because XPENDING's
      count also rises for entries merely fetched in a batch with a crashing
      one. A redelivered entry is acknowledged on its own, in the same
      ``MULTI``/``EXEC`` as its effects, so a crash on the next one does not
      bring it back. ``max_deliveries=1`` dead-letters after the first
      delivery's retries, as the simulator does. Permanent errors are
      dead-lettered at once.
    * ``claim_idle_ms``, ``session_timeout_ms``, ``ownership``: the
      consumer's ``redis.claim.idle.ms``, ``session.timeout.ms`` and
      ``redis.partition.ownership``.

    Limits: only Redis commands queued with ``ctx.effect`` share the atomic
    step; anything else a handler does (an HTTP call, a file) runs at least
    once. Redis has no rollback: if a side effect fails at run time, the
    ones before it stay applied (the event is then retried). In Redis
    Cluster a script may only touch keys of one hash slot, so the inbox, the
    effects and the output streams would need one ``{hash tag}``.
    """

    def __init__(
        self,
        url,
        name: str,
        consumes,
        handlers: dict,
        *,
        produces=None,
        retry: Retry | None = None,
        dead_letter=True,
        idempotent: bool = False,
        schemas: dict | None = None,
        max_deliveries: int = 5,
        claim_idle_ms: int = 30000,
        session_timeout_ms: int = 10000,
        ownership: str = "leased",
        max_in_flight: int = 100,
        poll_timeout: float = 0.1,
        instance: str | None = None,
        config: dict | None = None,
        trace: bool = True,
    ):
        if not isinstance(name, str) or not name:
            raise ValueError(f"a service needs a non-empty name, got {name!r}")
        topics_ = [consumes] if isinstance(consumes, str) else list(consumes)
        if not isinstance(handlers, dict) or not handlers:
            raise ValueError(
                f"{name}: handlers must be a dict of event type -> function(event, ctx)"
            )
        for etype, fn in handlers.items():
            if not callable(fn):
                raise TypeError(f"{name}: the handler for {etype!r} is not callable")
        if retry is not None and not isinstance(retry, Retry):
            raise TypeError(
                f"{name}: retry must be a Retry(...) policy, got {type(retry).__name__}"
            )
        if (
            isinstance(max_deliveries, bool)
            or not isinstance(max_deliveries, int)
            or max_deliveries < 1
        ):
            raise ValueError(
                f"{name}: max_deliveries must be a whole number >= 1, got {max_deliveries!r}"
            )
        self.url = resolve_url(url)
        self.name = name
        self.topics = topics_
        self.handlers = dict(handlers)
        self.retry = retry or NO_RETRY
        self.dead_letter = dead_letter
        self.idempotent = idempotent
        self.schemas = dict(schemas or {})
        self.max_deliveries = max_deliveries
        self.max_in_flight = max_in_flight
        self.poll_timeout = poll_timeout
        self.trace = trace
        conf = {
            "bootstrap.servers": self.url,
            "group.id": name,
            "client.id": name,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "redis.claim.idle.ms": claim_idle_ms,
            "session.timeout.ms": session_timeout_ms,
            "heartbeat.interval.ms": max(1, min(3000, session_timeout_ms // 4)),
            "redis.partition.ownership": ownership,
            **(config or {}),
        }
        if (
            instance is not None
        ):  # a fixed instance name is a static member: it takes its own pending back
            conf["group.instance.id"] = instance
        self.consumer = Consumer(conf)
        self.instance = self.consumer.name
        self._r = self.consumer._r
        self._topics = self.consumer._meta
        for topic in list(topics_) + list(produces or {}):
            self._topics.get(topic)
        self.inbox_key = f"{META_PREFIX}inbox:{name}"
        self.attempts_key = f"{META_PREFIX}attempts:{name}"
        self.spans_key = f"{META_PREFIX}spans:{name}"
        self._script = self._r.register_script(_IDEMPOTENT)
        self._spans: list = []
        self._acks_pending = False
        self.counts = dict.fromkeys(OUTCOMES + (REDELIVER,), 0)
        self.counts["claimed"] = 0
        self._stop = False

    def __repr__(self) -> str:
        return f"<RedisService {self.name} instance={self.instance} {_safe_url(self.url)}>"

    def stop(self) -> None:
        """Ask :meth:`run` to finish its batch, acknowledge and leave."""
        self._stop = True

    def run(
        self,
        *,
        stop_after: float | None = None,
        stop_when_idle: float | None = None,
        max_events: int | None = None,
        stop_event=None,
    ) -> dict:
        """Poll, handle and acknowledge until told to stop; return the counts of outcomes.

        Stops after ``stop_after`` seconds, after ``stop_when_idle`` seconds
        with nothing to do, after ``max_events`` handled entries, when
        ``stop_event`` (a ``threading``/``multiprocessing`` Event) is set, on
        :meth:`stop`, or on SIGTERM/SIGINT when running in a main thread:
        each finishes the batch in hand, acknowledges it and leaves the group.
        """
        consumer = self.consumer
        started = time.monotonic()
        last_work = started
        done = 0
        restore = self._install_signals()
        try:
            consumer.subscribe(self.topics)
            while not self._stop:
                if stop_event is not None and stop_event.is_set():
                    break
                now = time.monotonic()
                if stop_after is not None and now - started >= stop_after:
                    break
                if stop_when_idle is not None and now - last_work >= stop_when_idle:
                    break
                if max_events is not None and done >= max_events:
                    break
                msgs = consumer.consume(self.max_in_flight, self.poll_timeout)
                msgs = [m for m in msgs if m.error() is None]
                if not msgs:
                    continue
                for m in msgs:
                    self._handle(m)
                    done += 1
                    consumer._maintain()  # keep the leases while a batch is handled
                self._finish_batch()
                last_work = time.monotonic()
        finally:
            try:
                self._finish_batch()
            finally:
                consumer.close()
                for sig, handler in restore:
                    signal.signal(sig, handler)
        return dict(self.counts, instance=self.instance)

    def _install_signals(self) -> list:
        if threading.current_thread() is not threading.main_thread():
            return []
        restore = []
        for sig in (signal.SIGTERM, signal.SIGINT):
            restore.append((sig, signal.getsignal(sig)))
            signal.signal(sig, lambda *_: self.stop())
        return restore

    def _finish_batch(self) -> None:
        pipe = None
        if self._acks_pending:
            self._acks_pending = False
            try:
                self.consumer.commit(asynchronous=False)
            except KafkaException as err:
                if err.error.code() != KafkaError._NO_OFFSET:
                    raise
        if self._spans:
            pipe = self._r.pipeline(transaction=False)
            for span in self._spans:
                pipe.xadd(
                    self.spans_key,
                    {k: "" if v is None else str(v) for k, v in span._asdict().items()},
                    maxlen=100000,
                    approximate=True,
                )
            self._spans = []
            pipe.execute()

    # -- one entry ------------------------------------------------------------------

    def _handle(self, m: RedisMessage) -> None:
        started = _now_s()
        redelivered = m.delivery_count() > 1
        prior_starts = prior_tries = 0
        if redelivered:
            self.counts["claimed"] += 1
            raw = self._r.hmget(self.attempts_key, _field(m, "starts"), _field(m, "tries"))
            prior_starts, prior_tries = (int(x) if x else 0 for x in raw)
        # Deliveries on which the handler started before this one: the first (assumed), then those recorded.
        before = prior_starts + 1 if redelivered else 0
        if before >= self.max_deliveries:
            err = MaxDeliveriesExceeded(
                f"the handler started on {before} deliveries of this entry without "
                f"finishing it (max_deliveries={self.max_deliveries})"
            )
            self._give_up(m, None, err, max(before, prior_tries), started)
            return
        try:
            event = Event.from_json(m.value())
        except (ValueError, TypeError, UnicodeDecodeError) as err:
            self._give_up(m, None, err, 0, started)
            return
        handler = self.handlers.get(event.type)
        if handler is None:
            self._done(m, event, started, "skipped", 0, "")
            return
        if self.idempotent and self._r.sismember(self.inbox_key, event.id):
            self._done(m, event, started, "duplicate", 0, "")
            return
        schema = self.schemas.get(event.type)
        if schema is not None:
            from eda_sim.services.schemas import conform

            try:
                event = Event.create(
                    event.type,
                    conform(event.payload.thaw(), schema),
                    key=event.key,
                    time=event.time,
                    id=event.id,
                    correlation_id=event.correlation_id,
                    causation_id=event.causation_id,
                    schema_version=event.schema_version,
                    headers=event.headers,
                )
            except ValueError as err:
                self._give_up(m, event, err, 1, started)
                return
        if redelivered:  # recorded before the handler runs, so a crash inside it still counts
            self._r.hincrby(self.attempts_key, _field(m, "starts"), 1)
        attempt = 0
        while True:
            attempt += 1
            ctx = RedisContext(self, self.instance, event, attempt, m)
            try:
                handler(event, ctx)
                outcome = self._apply(m, event, ctx, redelivered)
            except _connection_errors() as err:
                raise _transport(self.url, err, "apply side effects on") from None
            except Exception as err:  # noqa: BLE001 - a handler's failure is data here, not a crash
                if self.retry.is_permanent(err) or attempt >= self.retry.attempts:
                    if self.retry.is_permanent(err) or before + 1 >= self.max_deliveries:
                        self._give_up(m, event, err, prior_tries + attempt, started)
                    else:
                        self._redeliver(m, event, err, attempt, started)
                    return
                delay = self.retry.delay(attempt)
                if delay:
                    time.sleep(delay)
                continue
            self._done(
                m, event, started, outcome, attempt, "", acked=self.idempotent or redelivered
            )
            return

    def _apply(self, m: RedisMessage, event: Event, ctx: RedisContext, redelivered: bool) -> str:
        """Run the side effects and emit the events: atomically with the inbox and the ack, or in MULTI/EXEC.

        A first delivery (at-least-once policy) is acknowledged with its batch,
        as a Kafka consumer commits after processing; a redelivered entry is
        acknowledged in the same MULTI/EXEC as its effects, so that a crash on
        a later entry does not deliver (and count) it again.
        """
        commands = [list(c) for c in ctx._effects]
        for topic, ev in ctx._out:
            partitions, maxlen = self._topics.get(topic)
            # A keyless event goes by its id's hash: spread, and the same partition on a redelivery.
            p = crc32_partition(ev.key_bytes or ev.id.encode(), partitions)
            hdrs = [(k, v.encode()) for k, v in event_headers(ev)]
            commands.append(
                _xadd_args(
                    stream_key(topic, p),
                    maxlen,
                    int(round(ev.time * 1000)) + EPOCH_MS,
                    ev.key,
                    ev.to_json(),
                    _encode_headers(hdrs),
                )
            )
        if redelivered:
            commands.append(["HDEL", self.attempts_key, _field(m, "starts"), _field(m, "tries")])
        if self.idempotent:
            fresh = self._script(
                keys=[self.inbox_key, m.stream()],
                args=[event.id, self.consumer.group_id, m.entry_id(), json.dumps(commands)],
            )
            self.consumer._settle(m.stream(), [m.entry_id()])
            return "handled" if fresh == 1 else "duplicate"
        if redelivered:
            commands.append(["XACK", m.stream(), self.consumer.group_id, m.entry_id()])
        if commands:
            pipe = self._r.pipeline(transaction=True)
            for c in commands:
                pipe.execute_command(*c)
            pipe.execute()
        if redelivered:
            self.consumer._settle(m.stream(), [m.entry_id()])
        return "handled"

    def _redeliver(self, m, event, err, attempt, started) -> None:
        self._r.hincrby(self.attempts_key, _field(m, "tries"), attempt)
        self.consumer.nack(m)
        self._span(
            m,
            event,
            started,
            REDELIVER,
            attempt,
            f"{type(err).__name__}: {err}; left pending for redelivery "
            f"(delivery {m.delivery_count()}, max_deliveries={self.max_deliveries})",
        )

    def _give_up(self, m, event, err, attempts, started) -> None:
        text = f"{type(err).__name__}: {err}"
        pipe = self._r.pipeline(transaction=True)
        if self.dead_letter:
            target = (
                self.dead_letter if isinstance(self.dead_letter, str) else m.topic() + DLT_SUFFIX
            )
            n = create_topic(self._r, target, self._topics.get(m.topic())[0], exist_ok=True)
            exc = type(err)
            built = dead_letter_headers(
                m.topic(),
                m.partition(),
                m.entry_id(),
                m.timestamp()[1],
                self.consumer.group_id,
                exc,
                str(err),
                attempts,
            )
            built.append((H_DELIVERIES, str(m.delivery_count())))
            headers = list(m.headers() or []) + [(k, v.encode()) for k, v in built]
            p = m.partition() if m.partition() < n else 0
            pipe.execute_command(
                *_xadd_args(
                    stream_key(target, p),
                    None,
                    m.timestamp()[1],
                    m.key(),
                    m.value(),
                    _encode_headers(headers),
                )
            )
            outcome = "dead_lettered"
        else:
            outcome = "failed"
        pipe.xack(m.stream(), self.consumer.group_id, m.entry_id())
        pipe.hdel(self.attempts_key, _field(m, "starts"), _field(m, "tries"))
        pipe.execute()
        self.consumer._settle(m.stream(), [m.entry_id()])
        self._span(m, event, started, outcome, attempts, text)

    def _done(self, m, event, started, outcome, attempts, error, acked=False) -> None:
        if not acked:
            self.consumer.store_offsets(m)
            self._acks_pending = True
        self._span(m, event, started, outcome, attempts, error)

    def _span(self, m, event, started, outcome, attempts, error) -> None:
        self.counts[outcome] += 1
        if not self.trace:
            return
        if event is None:
            eid, etype, cid, cause = (
                f"{m.topic()}-{m.partition()}@{m.entry_id()}",
                "(malformed)",
                "",
                "",
            )
        else:
            eid, etype, cid, cause = (
                event.id,
                event.type,
                event.correlation_id,
                event.causation_id or "",
            )
        self._spans.append(
            Span(
                self.name,
                self.instance,
                eid,
                etype,
                cid,
                cause,
                m.topic(),
                m.partition(),
                m.offset(),
                m.time(),
                started,
                _now_s(),
                outcome,
                attempts,
                error,
            )
        )


def _field(m: RedisMessage, what: str) -> str:
    return f"{m.stream()}/{m.entry_id()}/{what}"


def _now_s() -> float:
    return time.time() - _EPOCH_S


def run_service(
    url,
    name: str,
    consumes,
    handlers: dict,
    *,
    stop_after: float | None = None,
    stop_when_idle: float | None = None,
    max_events: int | None = None,
    stop_event=None,
    **policies,
) -> dict:
    """Run a service on Redis in this process until it is told to stop; return the counts of outcomes.

    ``handlers`` are the same ``handler(event, ctx)`` functions as for
    :class:`eda_sim.services.service.Service`. ``policies`` are those of
    :class:`RedisService` (``retry``, ``idempotent``, ``max_deliveries``,
    ``claim_idle_ms``, ``session_timeout_ms``, ``ownership``,
    ``dead_letter``, ``schemas``, ``max_in_flight``, ``instance``, ...). To run
    it in another OS process, pass module-level handlers to a
    ``multiprocessing`` process (``target=run_service``); SIGTERM stops it
    cleanly, SIGKILL leaves its pending entries for the other members to claim.
    """
    service = RedisService(url, name, consumes, handlers, **policies)
    return service.run(
        stop_after=stop_after,
        stop_when_idle=stop_when_idle,
        max_events=max_events,
        stop_event=stop_event,
    )


def publish(url_or_producer, topic: str, event: Event, partition: int = -1) -> None:
    """Produce ``event`` to ``topic`` as JSON, keyed by ``event.key``, with the tracing headers.

    Given a :class:`Producer` (or any confluent-shaped producer) it only
    queues the record, as :func:`eda_sim.services.service.publish` does; given a URL
    it connects, sends and flushes (convenient for one event, slow in a loop).
    """
    if not isinstance(event, Event):
        raise TypeError(
            f"publish() sends an eda_sim.services.events.Event, got {type(event).__name__}"
        )
    if isinstance(url_or_producer, str) or url_or_producer is None:
        producer = Producer({"bootstrap.servers": resolve_url(url_or_producer)})
        try:
            producer.produce(
                topic,
                value=event.to_json(),
                key=event.key,
                headers=event_headers(event),
                partition=partition,
            )
        finally:
            producer.close()
        return
    url_or_producer.produce(
        topic,
        value=event.to_json(),
        key=event.key,
        headers=event_headers(event),
        partition=partition,
    )


# ----------------------------------------------------------------------------- reading back


def read_topic(url, topic: str) -> list:
    """Every retained record of a topic as :class:`RedisMessage` objects, partition by partition, in order.

    A read-only look (``XRANGE``), outside any consumer group; malformed
    entries come back as error messages.
    """
    client, url = _client(url)
    n = _TopicCache(client, url).get(topic)[0]
    out = []
    try:
        for p in range(n):
            for raw_id, fields in client.xrange(stream_key(topic, p)):
                entry_id = _id_str(raw_id)
                try:
                    ts, key, value, headers = _decode_entry(fields)
                    out.append(RedisMessage(topic, p, entry_id, ts, key, value, headers, 0))
                except MalformedEntry as err:
                    out.append(
                        _error_message("_INVALID_ARG", f"{stream_key(topic, p)}@{entry_id}: {err}")
                    )
    except _redis_errors() as err:
        raise _transport(url, err, "read from") from None
    return out


def _header(headers, name: str):
    for k, v in headers or ():
        if k == name:
            return v.decode(errors="replace") if isinstance(v, bytes) else v
    return None


def dead_letters(url, topic: str):
    """The dead letters in ``topic`` (e.g. ``"orders.DLT"``) as a DataFrame: where each came from and why.

    The columns of :func:`eda_sim.services.retries.dead_letters`, with
    ``original_offset`` and ``dlt_offset`` as entry ids, plus ``deliveries``.
    """
    import pandas as pd

    rows = []
    for m in read_topic(url, topic):
        if m.error() is not None:
            continue
        h = m.headers()
        value = m.value()
        text = None if value is None else value.decode(errors="replace")
        rows.append(
            {
                "original_topic": _header(h, H_TOPIC),
                "original_partition": int(_header(h, H_PARTITION) or -1),
                "original_offset": _header(h, H_OFFSET),
                "group": _header(h, H_GROUP),
                "error": (_header(h, H_EXCEPTION) or "").rsplit(".", 1)[-1],
                "message": _header(h, H_MESSAGE),
                "attempts": int(_header(h, H_ATTEMPTS) or 0),
                "deliveries": int(_header(h, H_DELIVERIES) or 0),
                "key": m.key().decode(errors="replace") if m.key() is not None else None,
                "value": text if text is None or len(text) <= 60 else text[:59] + "…",
                "dlt_offset": m.entry_id(),
            }
        )
    cols = [
        "original_topic",
        "original_partition",
        "original_offset",
        "group",
        "error",
        "message",
        "attempts",
        "deliveries",
        "key",
        "value",
        "dlt_offset",
    ]
    frame = pd.DataFrame(rows, columns=cols)
    if frame.empty:
        return frame
    order = frame["original_offset"].map(lambda i: _id_key(i) if i else (0, 0))
    frame = frame.assign(_o=order).sort_values(
        ["original_topic", "original_partition", "_o"], kind="stable"
    )
    return frame.drop(columns="_o").reset_index(drop=True)


def pending(url, topic: str, group: str):
    """The group's pending entries on a topic (``XPENDING``): partition, entry id, consumer, idle ms, deliveries."""
    import pandas as pd

    client, url = _client(url)
    n = _TopicCache(client, url).get(topic)[0]
    rows = []
    try:
        for p in range(n):
            try:
                entries = client.xpending_range(stream_key(topic, p), group, "-", "+", 100000)
            except _redis_errors() as err:
                if "NOGROUP" in str(err):
                    continue
                raise
            for e in entries:
                rows.append(
                    {
                        "partition": p,
                        "entry_id": _id_str(e["message_id"]),
                        "consumer": e["consumer"].decode(),
                        "idle_ms": e["time_since_delivered"],
                        "deliveries": e["times_delivered"],
                    }
                )
    except _redis_errors() as err:
        raise _transport(url, err, "read pending entries from") from None
    return pd.DataFrame(
        rows, columns=["partition", "entry_id", "consumer", "idle_ms", "deliveries"]
    )


def spans_frame(url, service: str):
    """The spans a Redis service wrote (``eda:spans:<service>``) as a DataFrame with the simulator's columns."""
    import pandas as pd

    client, url = _client(url)
    try:
        entries = client.xrange(f"{META_PREFIX}spans:{service}")
    except _redis_errors() as err:
        raise _transport(url, err, "read spans from") from None
    ints = {"partition", "offset", "attempts"}
    floats = {"produced", "started", "finished"}
    rows = []
    for _, fields in entries:
        row = {}
        for name in Span._fields:
            raw = fields.get(name.encode(), b"").decode()
            row[name] = int(raw) if name in ints else float(raw) if name in floats else raw
        rows.append(row)
    return pd.DataFrame(rows, columns=Span._fields)


# ----------------------------------------------------------------------------- how Redis differs from Kafka


#: Where Redis Streams (7.0) differs from Kafka, and what this backend does about it; one dict per aspect.
DIFFERENCES = [
    {
        "aspect": "acknowledgement",
        "kafka": "a committed offset per partition and group: everything below it counts as done",
        "redis_streams": "XACK per entry; delivered, unacknowledged entries wait in the group's "
        "pending-entries list (PEL), per consumer",
        "this_backend": "commit(message) acks that entry, commit() every entry stored as processed; committed() "
        "reports the offset below which all are acked (later ones may be acked too)",
    },
    {
        "aspect": "redelivery",
        "kafka": "rebalance-driven: when a member leaves or times out, the new owner re-reads from the "
        "committed offset, including records handled but not committed",
        "redis_streams": "claim-driven: nothing comes back by itself; a consumer claims (XCLAIM/XAUTOCLAIM) "
        "entries idle longer than a minimum, one by one; acked entries never come back",
        "this_backend": "members claim entries idle longer than redis.claim.idle.ms; only unacknowledged entries "
        "are redelivered, not the acked ones after them",
    },
    {
        "aspect": "poison events",
        "kafka": "consumer groups keep no delivery count: the application counts attempts itself (headers, "
        "retry topics); share groups (KIP-932, Kafka 4) count deliveries per record and archive a record at "
        "group.share.delivery.count.limit",
        "redis_streams": "XPENDING reports each entry's delivery count",
        "this_backend": "run_service dead-letters after max_deliveries deliveries, with dlt-deliveries in the headers",
    },
    {
        "aspect": "partitions",
        "kafka": "native: a topic has N partitions, each an ordered log on a leader broker",
        "redis_streams": "none: one stream is one ordered log (Redis Cluster spreads streams over shards by "
        "key slot)",
        "this_backend": "a topic is N streams <topic>:<p>; keys go to crc32(key) % N as in the simulator",
    },
    {
        "aspect": "partition ownership",
        "kafka": "the group's assignor gives each partition to one member: per-key order",
        "redis_streams": "a group hands each entry to whichever consumer asks: entries are balanced, "
        "partitions are not owned",
        "this_backend": "leased (default): a lease key per partition (SET NX PX) gives it one reader at a time, "
        "round-robin by member index: per-key order; shared: all read all, no per-key order "
        "across members",
    },
    {
        "aspect": "consumer group",
        "kafka": "one group spans all its topics and partitions, run by a group coordinator broker with "
        "generations and heartbeats",
        "redis_streams": "a group exists per stream (XGROUP CREATE on each); no coordinator, no membership",
        "this_backend": "creates the group on every partition's stream; membership is a sorted set of "
        "heartbeats, renewed by poll",
    },
    {
        "aspect": "offsets",
        "kafka": "consecutive integers per partition: 0, 1, 2, ...",
        "redis_streams": "entry ids <ms>-<seq>: increasing, time-based, with gaps",
        "this_backend": "offset() = ms * 10**20 + seq, exact and ordered; entry_id() gives the id",
    },
    {
        "aspect": "where a new group starts",
        "kafka": "auto.offset.reset, whenever a partition has no committed offset (or it is out of range)",
        "redis_streams": "the id given once to XGROUP CREATE: $ (new entries) or 0 (all)",
        "this_backend": "latest -> $, earliest -> 0, none -> an error event if the group is missing",
    },
    {
        "aspect": "seek",
        "kafka": "local to one consumer's position",
        "redis_streams": "XGROUP SETID moves the group's last-delivered id for every consumer",
        "this_backend": "seek() is XGROUP SETID: it moves the whole group on that partition",
    },
    {
        "aspect": "idempotent append",
        "kafka": "enable.idempotence: producer id + sequence numbers; the broker drops a retried batch's copy",
        "redis_streams": "7.0 has none: a retried XADD after a lost reply appends a duplicate. XADD with an "
        "explicit id is refused if the id is not above the stream's last id, which drops a "
        "retry only if one producer per stream chooses strictly increasing ids and remembers "
        "the last across restarts (and a lost entry's id is never reused)",
        "this_backend": "enable.idempotence is refused with this reason; duplicates are dropped by the consumer's "
        "inbox (run_service(idempotent=True))",
    },
    {
        "aspect": "transactions",
        "kafka": "transactions span produced records and consumed offsets (exactly-once read-process-write)",
        "redis_streams": "MULTI/EXEC and Lua scripts run atomically on one node (one hash slot in Cluster); "
        "no rollback of a command that fails at run time",
        "this_backend": "idempotent services run inbox SADD + side effects + emitted XADDs + XACK in one script; "
        "others use MULTI/EXEC per event and ack after the batch",
    },
    {
        "aspect": "retention",
        "kafka": "by time (retention.ms) or size (retention.bytes), deleting whole segments; or compaction "
        "by key",
        "redis_streams": "by count (XADD/XTRIM MAXLEN) or minimum id (MINID: an id is a time, so roughly by "
        "age), exact or ~ approximate; no compaction; bounded by memory",
        "this_backend": "create_topic(maxlen=...) trims each partition with XADD MAXLEN ~ on every produce",
    },
    {
        "aspect": "durability",
        "kafka": "replicated log on disk; acks=all waits for the in-sync replicas",
        "redis_streams": "in memory; RDB/AOF persistence optional; replication asynchronous (WAIT helps)",
        "this_backend": "acks is accepted and ignored; the test servers run with persistence off",
    },
    {
        "aspect": "zombie fencing",
        "kafka": "generation ids: a commit from an evicted member is refused",
        "redis_streams": "XACK from any consumer is accepted",
        "this_backend": "a member whose lease moved can still ack and write: at-least-once, dedupe downstream",
    },
    {
        "aspect": "liveness",
        "kafka": "a background thread heartbeats (session.timeout.ms); max.poll.interval.ms bounds processing",
        "redis_streams": "nothing: an idle consumer is just idle",
        "this_backend": "poll renews heartbeat and leases (run_service also between events), so "
        "session.timeout.ms bounds the time between polls",
    },
]


def differences():
    """:data:`DIFFERENCES` as a DataFrame: aspect, kafka, redis_streams, this_backend."""
    import pandas as pd

    return pd.DataFrame(DIFFERENCES, columns=["aspect", "kafka", "redis_streams", "this_backend"])
