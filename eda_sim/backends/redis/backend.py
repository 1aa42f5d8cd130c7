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

The backend is a package of one idea per module, and this module gathers their
public names so that ``from eda_sim.backends.redis.backend import ...`` keeps
working: ``keys`` (names in Redis, entry ids as offsets), ``connection``,
``entries`` (records as stream entries, ``RedisMessage``), ``admin`` (topics),
``config``, ``producer``, ``consumer``, ``service`` (``RedisService``,
``run_service``, ``publish``), ``reading`` (records, dead letters, pending
entries, spans) and ``differences``.
"""

from __future__ import annotations

from eda_sim.backends.redis.admin import create_topic, delete_topic, topics
from eda_sim.backends.redis.connection import connect, reachable, resolve_url
from eda_sim.backends.redis.consumer import Consumer
from eda_sim.backends.redis.differences import DIFFERENCES, differences
from eda_sim.backends.redis.entries import MalformedEntry, RedisMessage
from eda_sim.backends.redis.keys import entry_id_to_offset, offset_to_entry_id, stream_key
from eda_sim.backends.redis.producer import Producer
from eda_sim.backends.redis.reading import dead_letters, pending, read_topic, spans_frame
from eda_sim.backends.redis.service import (
    MaxDeliveriesExceeded,
    RedisContext,
    RedisService,
    publish,
    run_service,
)
from eda_sim.core.errors import KafkaError, KafkaException
from eda_sim.kafka.message import OFFSET_BEGINNING, OFFSET_END, OFFSET_INVALID, TopicPartition

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
