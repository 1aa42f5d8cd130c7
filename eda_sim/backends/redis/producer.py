"""A ``Producer`` in confluent-kafka's shape that appends to Redis streams (``XADD``), one stream per partition."""

from __future__ import annotations

import random
import time
from collections import deque

from eda_sim.backends.redis.admin import TopicCache, cluster_metadata
from eda_sim.backends.redis.config import PRODUCER_SCHEMA, resolve_config
from eda_sim.backends.redis.connection import (
    connect,
    redis_errors,
    resolve_url,
    safe_url,
    transport_error,
)
from eda_sim.backends.redis.entries import RedisMessage, encode_headers, wall_ms, xadd_args
from eda_sim.backends.redis.keys import id_str, stream_key
from eda_sim.core.errors import KafkaError, fail
from eda_sim.kafka.admin import ClusterMetadata
from eda_sim.kafka.partitioner import Partitioner
from eda_sim.kafka.producer import normalise_headers as _normalise_headers
from eda_sim.kafka.producer import to_bytes as _to_bytes

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
        cfg = self._config = resolve_config(config, PRODUCER_SCHEMA, "producer")
        if cfg["enable.idempotence"]:
            raise fail(
                "_INVALID_ARG",
                "enable.idempotence=true: Redis 7.0 has no idempotent producer (no producer id "
                "or sequence numbers on XADD), so a retried XADD can append a duplicate; "
                "leave it off and deduplicate on the consumer (run_service(idempotent=True))",
            )
        self._url = resolve_url(cfg["bootstrap.servers"])
        self._r = connect(self._url, cfg["socket.timeout.ms"])
        self._topics = TopicCache(self._r, self._url)
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
        return f"<redis Producer {self.name} {safe_url(self._url)}>"

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
        ts = int(timestamp) if timestamp else wall_ms()
        hdrs = _normalise_headers(headers)[0] if headers is not None else None
        args = xadd_args(
            stream_key(topic, partition),
            maxlen,
            ts,
            key,
            value,
            encode_headers(hdrs) if hdrs else None,
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
        except redis_errors() as err:
            raise transport_error(self._url, err, "send records to") from None
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
                    (cb, None, RedisMessage(topic, partition, id_str(reply), ts, key, value, hdrs))
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
        return cluster_metadata(self._r, self._url, topic)

    def close(self) -> None:
        """Flush, then close the connection (an extra: confluent-kafka's producer has no close)."""
        self.flush()
        self._r.close()
