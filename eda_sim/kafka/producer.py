"""The producer: batches records per partition and sends them over a simulated network.

``Producer`` has confluent-kafka's shape: ``produce(topic, value, key,
headers=..., on_delivery=...)`` queues a record and returns at once; the record
travels in a batch after ``linger.ms``, the broker appends it, and the
acknowledgement comes back after the network latency. Delivery callbacks run
inside ``poll()`` or ``flush()``, as with the real client. ``flush()`` in a
notebook cell advances the virtual clock until every record is acknowledged.

The partition of a keyed record is ``crc32(key) % partitions``, librdkafka's
default ``consistent_random``; ``partitioner="murmur2_random"`` gives
``murmur2(key) % partitions`` as Kafka's Java client does, which every
non-Java producer of a topic shared with Java producers needs. A record without a key sticks to a randomly chosen partition
for ``sticky.partitioning.linger.ms``, then another is drawn from the
simulation's seeded generator.

Lost acknowledgements can be injected (``sim.lose_acks(producer, n)``): the
producer waits ``request.timeout.ms`` and sends the batch again. The broker
already has it, so without ``enable.idempotence`` the retry appends a duplicate;
with it, the broker recognises the producer id and sequence number and drops
the copy.

Example::

    sim = Simulation(seed=1)
    sim.create_topic("orders", partitions=3)
    p = Producer({"bootstrap.servers": sim.bootstrap_servers, "enable.idempotence": True})
    p.produce("orders", key="user-7", value='{"total": 12.5}')
    p.flush()
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import TYPE_CHECKING

from eda_sim.core.checks import timeout as _timeout
from eda_sim.core.errors import KafkaError, fail
from eda_sim.kafka import config as _config
from eda_sim.kafka.message import EPOCH_MS, Message
from eda_sim.kafka.partitioner import Partitioner

if TYPE_CHECKING:
    from eda_sim.broker.transactions import ConsumerGroupMetadata
    from eda_sim.core.simulation import Simulation
    from eda_sim.kafka.admin import ClusterMetadata
    from eda_sim.kafka.message import TopicPartition

#: Bytes librdkafka adds to key + value + headers when it checks a record against
#: ``message.max.bytes`` at ``produce()`` time (measured with confluent-kafka 2.16).
_RECORD_OVERHEAD = 36


def _idempotence_conflict(rule: str, value):
    return fail(
        "_INVALID_ARG",
        f"Failed to create producer: {rule} when `enable.idempotence` is true (got {value!r}); "
        "the broker remembers only the last 5 batches per producer and partition, so more in "
        "flight, or no retries, would break the guarantee",
    )


class _Batch:
    __slots__ = (
        "topic",
        "partition",
        "records",
        "nbytes",
        "callbacks",
        "base_seq",
        "attempt",
        "open",
        "epoch",
        "created",
        "done",
        "requesting",
        "draining",
        "waiting",
    )

    def __init__(self, topic, partition, created=0.0):
        self.topic = topic
        self.partition = partition
        self.records = []
        self.nbytes = 0
        self.callbacks = None
        self.base_seq = None
        self.attempt = 0
        self.open = True
        self.epoch = -1  # the producer epoch a transactional batch carries
        # when the first record was produced: message.timeout.ms counts from it
        self.created = created
        self.done = False
        self.requesting = False  # holds one of max.in.flight's request slots
        self.draining = False  # an idempotent retry its partition waits for
        self.waiting = False  # ready, waiting for a request slot (still open while not full)


def to_bytes(value: str | bytes | bytearray | memoryview | None, what: str) -> bytes | None:
    """``value`` (bytes-like, str or None) as bytes; ``what`` names it in the error for any other type."""
    if value is None or type(value) is bytes:
        return value
    if type(value) is str:
        return value.encode()
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value)
    raise TypeError(
        f"{what} must be str, bytes or None, got {type(value).__name__}; serialise it first (e.g. json.dumps)"
    )


def normalise_headers(headers: dict | list | None) -> tuple[tuple | None, int]:
    """Headers as a tuple of ``(str, bytes | None)`` pairs and their size in bytes.

    ``headers`` is a dict or a list of ``(name, value)`` pairs, values ``str``,
    ``bytes`` or ``None``, as confluent-kafka takes them.
    """
    if headers is None:
        return None, 0
    items = headers.items() if isinstance(headers, dict) else headers
    out = []
    size = 0
    try:
        for name, value in items:
            # The common shapes first: publish() hands over str names and str or bytes values.
            cls = value.__class__
            if name.__class__ is str and (cls is bytes or cls is str):
                if cls is str:
                    value = value.encode()
                out.append((name, value))
                size += len(name) + len(value)
                continue
            if not isinstance(name, str):
                raise TypeError(f"header name {name!r} is a {type(name).__name__}")
            value = to_bytes(value, f"header {name!r}")
            out.append((name, value))
            size += len(name) + (len(value) if value else 0)
    except (TypeError, ValueError) as err:
        raise TypeError(
            f"headers must be a dict or a list of (str, str|bytes|None) pairs: {err}"
        ) from None
    return tuple(out), size


class Producer:
    """A producer, shaped like ``confluent_kafka.Producer``."""

    def __init__(self, config: dict | None = None, *, sim: Simulation | None = None):
        from eda_sim.core.simulation import resolve_simulation

        self._config = cfg = _config.resolve(config, _config.PRODUCER, "producer")
        self._sim = sim if sim is not None else resolve_simulation(cfg["bootstrap.servers"])
        self.name = self._sim.new_producer_name(cfg["client.id"], (config or {}).get("client.id"))
        # transactional.id implies the idempotent producer, as librdkafka sets it.
        self.idempotent = cfg["enable.idempotence"] or cfg["transactional.id"] is not None
        given = {_config.ALIASES.get(k, k) for k in (config or {})}
        if self.idempotent:
            # librdkafka refuses what would break idempotence, with these words, when the producer
            # is created: the broker remembers only the last 5 batches per producer and partition,
            # so a retry sent after more than 5 later batches could no longer be recognised.
            if "acks" in given and cfg["acks"] != "all":
                raise _idempotence_conflict("`acks` must be set to `all`", cfg["acks"])
            if cfg["retries"] < 1:
                raise _idempotence_conflict("`retries` must be set >= 1", cfg["retries"])
            if "max.in.flight.requests.per.connection" not in given:
                cfg["max.in.flight.requests.per.connection"] = 5
            elif cfg["max.in.flight.requests.per.connection"] > 5:
                raise _idempotence_conflict(
                    "`max.in.flight` must be set <= 5",
                    cfg["max.in.flight.requests.per.connection"],
                )
            cfg["acks"] = "all"
        self._max_in_flight = cfg["max.in.flight.requests.per.connection"]
        self._max_message = cfg["message.max.bytes"]
        self._requests = 0  # batches sent and not yet acknowledged (requests in flight)
        self._ready: deque = deque()  # batches ready to go, waiting for a slot or a drain
        self._draining: dict = {}  # (topic, partition) -> idempotent retries it waits for
        self._closed = False
        self._txn = None
        if cfg["transactional.id"] is not None:
            from eda_sim.broker.transactions import ProducerTransactions

            self._txn = ProducerTransactions(
                self, cfg["transactional.id"], cfg["transaction.timeout.ms"]
            )
        # A transactional producer gets its id from the coordinator in init_transactions().
        self.producer_id = (
            self._sim.new_producer_id() if self.idempotent and self._txn is None else None
        )
        self._linger = cfg["linger.ms"] / 1000.0
        self._sticky_linger = cfg["sticky.partitioning.linger.ms"] / 1000.0
        self._latency = self._sim.network_latency
        self._partitioner = Partitioner(
            cfg["partitioner"], self._sim.random, cfg["sticky.partitioning.linger.ms"] / 1000.0
        )
        self._batches: dict = {}
        self._seq: dict = {}
        self._topics: dict = {}
        self._reports: deque = deque()
        self._lose_acks = 0
        self._env = self._sim.env
        self._default_cb = cfg["on_delivery"]
        self._max_records = cfg["batch.num.messages"]
        self._max_bytes = cfg["batch.size"]
        self.in_flight = 0
        self.sent_total = 0
        self.acked_total = 0

    def __repr__(self) -> str:
        return f"<Producer {self.name}{' idempotent' if self.idempotent else ''}>"

    def __len__(self) -> int:
        """Records not yet acknowledged plus delivery reports not yet served."""
        return self.in_flight + len(self._reports)

    def produce(
        self,
        topic: str,
        value: str | bytes | None = None,
        key: str | bytes | None = None,
        partition: int = -1,
        on_delivery: Callable | None = None,
        timestamp: int = 0,
        headers: dict | list | None = None,
        callback: Callable | None = None,
    ) -> None:
        """Queue one record for ``topic``; it is sent in a batch after ``linger.ms``.

        Refused at once, as confluent-kafka refuses them: a ``partition`` or
        ``timestamp`` (milliseconds since the Unix epoch, 0 for now) that is not
        an ``int`` (``TypeError``); a partition the topic does not have
        (``_UNKNOWN_PARTITION``); a record larger than ``message.max.bytes``
        (``MSG_SIZE_TOO_LARGE``); a topic that does not exist
        (``UNKNOWN_TOPIC_OR_PART``); any call after :meth:`close` (``RuntimeError``).
        """
        # This is the hot path of every benchmark: keep it flat and cheap.
        if self._closed:
            raise RuntimeError("Producer has been closed")
        if self._txn is not None:
            self._txn.on_produce()
        t = self._topics.get(topic)
        if t is None or t.deleted:
            t = self._topics[topic] = self._sim.broker.topic(topic)
        if partition.__class__ is not int and not isinstance(partition, int):
            raise TypeError(
                f"partition must be an int (-1, the default, lets the partitioner choose), "
                f"got {type(partition).__name__} {partition!r}"
            )
        if timestamp.__class__ is not int and not isinstance(timestamp, int):
            raise TypeError(
                "timestamp must be an int: milliseconds since the Unix epoch (0, the default, "
                f"means now), got {type(timestamp).__name__} {timestamp!r}"
            )
        if key is not None and key.__class__ is not bytes:
            key = to_bytes(key, "key")
        if value is not None and value.__class__ is not bytes:
            value = to_bytes(value, "value")
        n = len(t.partitions)
        if partition == -1:
            keyed = self._partitioner.keyed
            if key and keyed is not None:
                # hot path: a keyed record goes straight to the partitioner's hash, as
                # Partitioner.partition would send it; every other case is decided there
                partition = keyed(key, n)
            else:
                now = self._env._now  # hot path: per record, simpy's clock without the property
                partition = self._partitioner.partition(topic, key, n, now)
        if partition >= n or partition < -1:
            raise fail(
                "_UNKNOWN_PARTITION",
                f"topic {topic!r} has partitions 0..{n - 1}, not {partition} "
                "(-1, the default, lets the partitioner choose)",
            )
        # hot path: per record, simpy's clock without the property
        now = (timestamp - EPOCH_MS) / 1000.0 if timestamp else self._env._now  # hot path
        size = (len(key) if key else 0) + (len(value) if value else 0)
        hdrs = None
        if headers is not None:
            hdrs, hsize = normalise_headers(headers)
            size += hsize
        if size + _RECORD_OVERHEAD > self._max_message:
            raise fail(
                "MSG_SIZE_TOO_LARGE",
                f"Unable to produce message: Broker: Message size too large: key, value and headers "
                f"take {size} bytes, and with {_RECORD_OVERHEAD} bytes of record overhead that is "
                f"more than message.max.bytes={self._max_message} (configurable 1000..1000000000)",
            )
        batch = self._batches.get((topic, partition))
        if batch is None:
            batch = self._open_batch(topic, partition)
        cb = on_delivery or callback or self._default_cb
        if cb is not None or batch.callbacks is not None:
            if batch.callbacks is None:
                batch.callbacks = [None] * len(batch.records)
            batch.callbacks.append(cb)
        records = batch.records
        records.append((now, key, value, hdrs))
        batch.nbytes += size
        self.in_flight += 1
        if batch.waiting:
            # A batch waiting for a request slot grows; message.timeout.ms then counts from its
            # newest record (librdkafka times out each record on its own; a batch stays whole here).
            batch.created = self._env._now  # hot path: per record
        if len(records) >= self._max_records or batch.nbytes >= self._max_bytes:
            self._send(batch)

    def _open_batch(self, topic, partition) -> _Batch:
        now = self._env._now  # hot path: per batch, simpy's clock without the property
        batch = self._batches[(topic, partition)] = _Batch(topic, partition, now)
        ev = self._sim.env.timeout(self._linger)
        ev.callbacks.append(lambda _ev, b=batch: self._send(b) if b.open else None)
        return batch

    def _send(self, batch: _Batch) -> None:
        """``batch`` is ready: send it now if a request slot is free, else it waits its turn.

        As in librdkafka, a batch waiting for one of ``max.in.flight``'s slots
        (or for its partition to drain an idempotent retry) keeps taking new
        records until it is full, so waiting makes batches bigger, not more.
        """
        if not batch.waiting:
            if self._requests < self._max_in_flight and not (
                self._draining and (batch.topic, batch.partition) in self._draining
            ):
                self._request(batch)
                return
            batch.waiting = True
            self._ready.append(batch)
        if batch.open and (
            len(batch.records) >= self._max_records or batch.nbytes >= self._max_bytes
        ):
            batch.open = False  # full: the next record opens a new batch
            del self._batches[(batch.topic, batch.partition)]

    def _request(self, batch: _Batch) -> None:
        """Close ``batch`` and send it as one request, taking a slot of max.in.flight."""
        batch.waiting = False
        if batch.open:
            batch.open = False
            del self._batches[(batch.topic, batch.partition)]
        if self.idempotent:
            key = (batch.topic, batch.partition)
            batch.base_seq = self._seq.get(key, 0)
            self._seq[key] = batch.base_seq + len(batch.records)
        if self._txn is not None:
            batch.epoch = self._txn.on_send(batch.topic, batch.partition)
        self.sent_total += len(batch.records)
        self._sim.journal.write(
            "produced", self.name, "", batch.topic, batch.partition, -1, len(batch.records)
        )
        self._requests += 1
        batch.requesting = True
        self._transmit(batch)

    def _pump(self) -> None:
        """Send waiting batches, oldest first, while slots are free (skipping draining partitions)."""
        ready = self._ready
        while ready and self._requests < self._max_in_flight:
            draining = self._draining
            nxt = next(
                (b for b in ready if not draining or (b.topic, b.partition) not in draining), None
            )
            if nxt is None:
                return
            ready.remove(nxt)
            self._request(nxt)

    def _request_done(self, batch: _Batch) -> None:
        """``batch`` is finished (acknowledged or given up): free its slot, send what waits."""
        if batch.draining:
            self._drained(batch)
        if batch.requesting:
            batch.requesting = False
            self._requests -= 1
        elif batch.waiting:  # given up (purged, timed out) before it was ever sent
            batch.waiting = False
            self._ready.remove(batch)
        if self._ready:
            self._pump()

    def _transmit(self, batch: _Batch) -> None:
        env = self._sim.env
        ev = env.timeout(self._latency)
        ev.callbacks.append(lambda _ev: self._arrive(batch))

    def _arrive(self, batch: _Batch) -> None:
        if batch.topic not in self._sim.broker.topics:  # deleted while the batch travelled
            err = KafkaError(
                KafkaError.UNKNOWN_TOPIC_OR_PART,
                f"Broker: Unknown topic or partition: {batch.topic!r} was deleted",
            )
            self._later(batch, -1, err)
            return
        refused = self._sim.broker.refusal(batch.topic, batch.records)
        if refused:  # the broker's answer, reported like any failed delivery
            self._sim.journal.write(
                "refused",
                "broker",
                "",
                batch.topic,
                batch.partition,
                -1,
                len(batch.records),
                refused,
            )
            self._delivered(batch, -1, KafkaError(KafkaError.INVALID_RECORD, refused))
            return
        txn = None
        if self._txn is not None:
            txn = self._txn.on_arrive(batch.epoch)
            if isinstance(
                txn, KafkaError
            ):  # a stale epoch: the broker refuses a fenced producer's batch
                self._delivered(batch, -1, txn)
                return
        cluster = self._sim.cluster
        # several brokers: leaders, followers and acks (eda_sim.broker.replication)
        if cluster is not None:
            cluster.produce(self, batch, txn)
            return
        first, dup = self._sim.broker.append(
            self, batch.topic, batch.partition, batch.records, batch.nbytes, batch.base_seq
        )
        if txn is not None and not dup:
            self._sim.transactions.appended(
                txn, batch.topic, batch.partition, first, len(batch.records)
            )
        self._sim.signal_data()
        if self._config["acks"] == "0":
            self._delivered(batch, -1)
            return
        if first < 0:
            # An idempotent retry of a batch the broker no longer remembers (it keeps the last 5
            # per producer and partition): Kafka answers OUT_OF_ORDER_SEQUENCE_NUMBER, never a
            # success without an offset. max.in.flight <= 5 keeps this from happening.
            err = KafkaError(
                KafkaError.OUT_OF_ORDER_SEQUENCE_NUMBER,
                f"Broker: Out of order sequence number: sequence {batch.base_seq} is no longer "
                "among the 5 batches the broker remembers for this producer and partition",
            )
            self._later(batch, -1, err)
            return
        ev = self._sim.env.timeout(self._latency)
        ev.callbacks.append(lambda _ev: self._ack(batch, first))

    def _ack(self, batch: _Batch, first: int) -> None:
        journal = self._sim.journal
        if self._lose_acks > 0:
            self._lose_acks -= 1
            journal.write(
                "ack_lost",
                self.name,
                "",
                batch.topic,
                batch.partition,
                first,
                len(batch.records),
                f"no reply; retry after request.timeout.ms={self._config['request.timeout.ms']}",
            )
            if batch.attempt >= self._config["retries"]:
                self._delivered(
                    batch,
                    -1,
                    KafkaError(KafkaError._MSG_TIMED_OUT, "no acknowledgement and no retries left"),
                )
                return
            if self.idempotent and not batch.draining:
                # librdkafka drains the partition before an idempotent retry: nothing newer goes
                # to it until the retried batch is answered, so the retry is always among the
                # last 5 batches the broker remembers (max.in.flight <= 5 bounds the rest).
                batch.draining = True
                tp = (batch.topic, batch.partition)
                self._draining[tp] = self._draining.get(tp, 0) + 1
            ev = self._sim.env.timeout(self._config["request.timeout.ms"] / 1000.0)
            ev.callbacks.append(lambda _ev: self._retry(batch))
            return
        journal.write(
            "acked", self.name, "", batch.topic, batch.partition, first, len(batch.records)
        )
        self._delivered(batch, first)

    def _drained(self, batch: _Batch) -> None:
        """A retried batch was answered: its partition takes new batches again, held ones first."""
        batch.draining = False
        tp = (batch.topic, batch.partition)
        left = self._draining[tp] - 1
        if left:
            self._draining[tp] = left
            return
        del self._draining[tp]
        if self._ready:
            self._pump()

    def _later(self, batch: _Batch, first: int, error) -> None:
        """Deliver an error report after the reply's way back (the broker answered)."""
        ev = self._sim.env.timeout(self._latency)
        ev.callbacks.append(lambda _ev: self._delivered(batch, first, error))

    def _retry(self, batch: _Batch) -> None:
        batch.attempt += 1
        self._sim.journal.write(
            "retried",
            self.name,
            "",
            batch.topic,
            batch.partition,
            -1,
            len(batch.records),
            f"attempt {batch.attempt + 1}"
            + (f", sequence {batch.base_seq}" if self.idempotent else ""),
        )
        self._transmit(batch)

    def _delivered(self, batch: _Batch, first: int, error=None) -> None:
        batch.done = True
        n = len(batch.records)
        self.in_flight -= n
        self._request_done(batch)
        if error is None:
            self.acked_total += n
        if batch.callbacks is not None:
            for i, cb in enumerate(batch.callbacks):
                if cb is not None:
                    offset = first + i if first >= 0 else -1
                    msg = Message(batch.topic, batch.partition, offset, batch.records[i])
                    self._reports.append((cb, error, msg))

    # -- simulator extras ------------------------------------------------------------------

    @property
    def config(self) -> Mapping:
        """The resolved configuration (defaults filled in), read-only."""
        return MappingProxyType(self._config)

    def lose_acks(self, n: int) -> None:
        """Lose the next ``n`` acknowledgements on the way back (``Simulation.lose_acks`` checks ``n``)."""
        self._lose_acks += n

    def poll(self, timeout: float = 0) -> int:
        """Serve delivery callbacks; wait up to ``timeout`` virtual seconds for one. Returns how many ran.

        ``timeout`` is seconds (negative or None: until a report comes); NaN and
        anything that is not a number are refused.
        """
        if self._closed:
            raise RuntimeError("Producer has been closed")
        wait = _timeout(timeout) if timeout.__class__ is not int else timeout
        if wait and not self._reports:
            self._sim.require_outside_run("Producer.poll with a timeout")
            deadline = self._sim.now + (float("inf") if wait < 0 else wait)
            while not self._reports and self.in_flight and self._sim.advance(deadline):
                pass
        served = 0
        while self._reports:
            cb, err, msg = self._reports.popleft()
            cb(err, msg)
            served += 1
        return served

    def flush(self, timeout: float | None = None) -> int:
        """Send everything now and advance the clock until all is acknowledged; return what is left.

        ``timeout`` is seconds (negative or None: until everything is acknowledged).
        """
        if self._closed:
            raise RuntimeError("Producer has been closed")
        wait = _timeout(timeout)
        self._sim.require_outside_run("Producer.flush")
        for batch in sorted(self._batches.values(), key=lambda b: (b.topic, b.partition)):
            self._send(batch)
        deadline = self._sim.now + wait
        while self.in_flight and self._sim.advance(deadline):
            pass
        self.poll(0)
        return len(self)

    def close(self, timeout: float | None = None) -> bool:
        """Flush (as librdkafka does before it shuts down), then close; returns True.

        After ``close()`` the producer refuses ``produce``, ``poll`` and
        ``flush`` with ``RuntimeError("Producer has been closed")``, as
        confluent-kafka does; closing again is a no-op. Records still
        unacknowledged when ``timeout`` runs out are not waited for.
        """
        if not self._closed:
            self.flush(timeout)
            self._closed = True
            self._sim.journal.write(
                "producer_closed", self.name, count=len(self), detail="records not delivered"
            )
        return True

    def list_topics(self, topic: str | None = None, timeout: float = -1) -> ClusterMetadata:
        """Cluster metadata, as ``AdminClient.list_topics``."""
        from eda_sim.kafka.admin import cluster_metadata

        return cluster_metadata(self._sim, topic)

    # -- transactions (eda_sim.broker.transactions has the rules) ------------------------------------

    def crash(self) -> None:
        """Stop dead, as a killed process: records still queued for a batch are lost, none is sent.

        Requests already on the wire still reach the broker. Use
        ``sim.crash(producer)``; the object is not used again (a new instance
        takes over).
        """
        for key in sorted(self._batches):
            batch = self._batches.pop(key)
            batch.open = False
            self.in_flight -= len(batch.records)
        self._reports.clear()
        self._sim.journal.write("crashed", self.name, detail="queued records lost with the process")

    def _transactions(self):
        if self._txn is None:
            raise fail(
                "_NOT_CONFIGURED",
                "The Transactional API requires transactional.id to be configured",
            )
        return self._txn

    def init_transactions(self, timeout: float | None = None) -> None:
        """Register ``transactional.id``: bump the epoch, fence and abort an older instance's transaction."""
        self._transactions().init(timeout)

    def begin_transaction(self) -> None:
        """Start a transaction; ``produce()`` is allowed only inside one."""
        self._transactions().begin()

    def send_offsets_to_transaction(
        self,
        positions: list[TopicPartition],
        group_metadata: ConsumerGroupMetadata,
        timeout: float | None = None,
    ) -> None:
        """Put a consumer group's next offsets in the transaction: committed only if it commits."""
        self._transactions().send_offsets(positions, group_metadata, timeout)

    def commit_transaction(self, timeout: float | None = None) -> None:
        """Flush, then commit: the records and offsets become visible to read_committed readers together."""
        self._transactions().commit(timeout)

    def abort_transaction(self, timeout: float | None = None) -> None:
        """Purge what is queued, then abort: read_committed readers never see the transaction's records."""
        self._transactions().abort(timeout)
