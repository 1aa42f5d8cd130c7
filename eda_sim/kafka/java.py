"""The Java client's consumer, for side-by-side lessons: ``KafkaConsumer`` (NOT confluent-kafka).

Everything else in :mod:`eda_sim.kafka` is confluent-kafka's surface and
behaves as librdkafka does. Kafka's Java client
(``org.apache.kafka.clients.consumer.KafkaConsumer``) differs in two ways a
lesson depends on, and this module shows them:

* **Auto-commit inside ``poll()``.** There is no timer thread. Each
  ``poll()`` first checks whether ``auto.commit.interval.ms`` has passed since
  the last auto-commit (the clock restarts when an assignment arrives) and, if
  so, commits the positions the *previous* polls left: the records handed out
  before this call. A loop that processes each batch before polling again is
  therefore at-least-once. The consumer also commits its positions on
  ``close()`` and before giving partitions up in a rebalance; a crash commits
  nothing. librdkafka's timer instead commits the *stored* offsets, stored as
  ``poll`` hands records out (``enable.auto.offset.store=true``), so records
  handed out but not yet processed can be committed: a crash then loses them.
* **``max.poll.records``** (500 by default) caps what one ``poll()`` returns.
  confluent-kafka has no such property (librdkafka refuses it); the batch size
  is the ``num_messages`` argument of each ``consume()`` call instead.

Their fetch buffers differ too, in a way no lesson turns on: Java fetches a
partition again only once every record buffered for it has been returned
(``AbstractFetch.fetchablePartitions`` leaves out partitions with buffered
data), with no ``queued.min.messages`` and no ``fetch.queue.backoff.ms``. The
model runs the librdkafka queue underneath with ``queued.min.messages=1``
(fetch when empty) and no backoff, which is that rule.

``max.poll.interval.ms`` means the same in both clients: a member that does
not poll within it is removed from the group.

The methods keep Java's names (``commitSync``) so that this class is never
mistaken for ``confluent_kafka.Consumer``; ``poll(timeout)`` takes seconds
where Java takes a ``Duration``, and returns a list of records (Java's
``ConsumerRecords``) whose ``.topic() .partition() .offset() .key() .value()``
are the Java record's accessors.

One simplification: the simulator applies a rebalance the moment it happens,
where Java applies it inside the member's next ``poll()``. So before giving
partitions up this consumer commits what the polls before its latest one
returned (what the application has surely processed), never more than Java
would commit, sometimes one batch less: that batch is read again by the new
owner.

Example::

    sim = Simulation(seed=1)
    sim.create_topic("orders", partitions=1)
    consumer = KafkaConsumer({"bootstrap.servers": sim.bootstrap_servers, "group.id": "billing",
                              "auto.offset.reset": "earliest", "max.poll.records": 100})
    consumer.subscribe(["orders"])
    records = consumer.poll(1.0)   # at most 100 records; commits the previous poll's positions
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any

from eda_sim.core.errors import KafkaError, KafkaException, fail
from eda_sim.kafka import config as _config
from eda_sim.kafka.consumer import Consumer
from eda_sim.kafka.message import Message, TopicPartition

if TYPE_CHECKING:
    from eda_sim.core.simulation import Simulation

#: The Java consumer's properties this simulator models: key -> (default, checker). Java's defaults.
JAVA_CONSUMER = {
    "bootstrap.servers": (None, _config.str_value),
    "group.id": (None, _config.str_value),
    "client.id": (None, _config.str_value),
    "enable.auto.commit": (True, _config.one_of(True, False, "true", "false")),
    "auto.commit.interval.ms": (5000, _config.int_value(0, 2147483647)),
    "max.poll.records": (500, _config.int_value(1, 2147483647)),
    "max.poll.interval.ms": (300000, _config.int_value(1, 2147483647)),
    "session.timeout.ms": (45000, _config.int_value(1, 2147483647)),
    "heartbeat.interval.ms": (3000, _config.int_value(1, 2147483647)),
    "auto.offset.reset": ("latest", _config.one_of("latest", "earliest", "none")),
    "isolation.level": ("read_uncommitted", _config.one_of("read_uncommitted", "read_committed")),
    "group.instance.id": (None, _config.str_value),
}

#: The keys handed on unchanged to the group member underneath (same name and meaning in both clients).
_SHARED_KEYS = (
    "bootstrap.servers",
    "group.id",
    "auto.offset.reset",
    "isolation.level",
    "session.timeout.ms",
    "heartbeat.interval.ms",
    "max.poll.interval.ms",
    "group.instance.id",
)


class CommitFailedException(KafkaException):
    """Java's ``CommitFailedException``: the group refused a ``commitSync`` (rebalanced or evicted)."""


def java_config(props: dict | None) -> dict:
    """Check Java consumer properties and return them complete with Java's defaults.

    A key the model does not know is refused (the Java client would only log
    "supplied but isn't a known config" and ignore it, which hides a
    librdkafka-only key such as ``enable.auto.offset.store``).
    """
    if props is None:
        props = {}
    if not isinstance(props, dict):
        raise TypeError(f"KafkaConsumer takes a dict of Java consumer properties, got {props!r}")
    unknown = sorted(str(k) for k in props if k not in JAVA_CONSUMER)
    if unknown:
        raise fail(
            "_INVALID_ARG",
            f"the Java KafkaConsumer model does not know {', '.join(unknown)} (a real Java client "
            f"would log that it isn't a known config and ignore it); it knows: "
            + ", ".join(sorted(JAVA_CONSUMER)),
        )
    out = {key: default for key, (default, _) in JAVA_CONSUMER.items()}
    for key, value in props.items():
        out[key] = JAVA_CONSUMER[key][1](key, value)
    out["enable.auto.commit"] = out["enable.auto.commit"] in (True, "true")
    return out


class KafkaConsumer:
    """Kafka's Java consumer (``org.apache.kafka.clients.consumer.KafkaConsumer``), modelled.

    Not confluent-kafka's ``Consumer``: see the module docstring for how the
    two differ (auto-commit inside ``poll()``, ``max.poll.records``).
    """

    def __init__(self, props: dict | None = None, *, sim: Simulation | None = None):
        cfg = java_config(props)
        if not cfg["group.id"]:
            raise ValueError(
                'KafkaConsumer needs "group.id" to subscribe and commit (e.g. {"group.id": "billing"})'
            )
        from eda_sim.core.simulation import resolve_simulation

        self.config = cfg
        self._sim = sim if sim is not None else resolve_simulation(cfg["bootstrap.servers"])
        inner = {key: cfg[key] for key in _SHARED_KEYS if cfg[key] is not None}
        # Java's default client.id is "consumer-<group>-<n>"; the member underneath keeps Java's commit
        # rules out of librdkafka's: no timer, no offset store of its own.
        inner["client.id"] = cfg["client.id"] or f"consumer-{cfg['group.id']}"
        inner["enable.auto.commit"] = False
        # Java's default list is [range, cooperative-sticky]: a group of such members uses range.
        inner["partition.assignment.strategy"] = "range"
        # Java's fetch buffer: a partition is fetched again only when nothing of it is buffered.
        inner["queued.min.messages"] = 1
        inner["fetch.queue.backoff.ms"] = 0
        inner["queued.max.messages.kbytes"] = 2097151
        self._consumer = Consumer(inner, sim=self._sim)
        self._max_records = cfg["max.poll.records"]
        self._auto = cfg["enable.auto.commit"]
        self._interval = cfg["auto.commit.interval.ms"] / 1000.0
        self._next_auto_commit = self._sim.now + self._interval
        self._before_latest_poll: dict = {}  # positions when the latest poll() began
        self._after_latest_poll: dict = {}  # positions when it returned
        self._listener: tuple = (None, None, None)

    def __repr__(self) -> str:
        return f"<Java KafkaConsumer {self.member_id or self._consumer.client_id} group={self.config['group.id']!r}>"

    # -- Java's API ------------------------------------------------------------------

    def subscribe(
        self,
        topics: list[str],
        on_assigned: Callable | None = None,
        on_revoked: Callable | None = None,
        on_lost: Callable | None = None,
    ) -> None:
        """Subscribe; the optional callbacks are a ``ConsumerRebalanceListener``'s three methods.

        Each is called with the list of ``TopicPartition`` (Java passes only
        the collection): ``onPartitionsAssigned``, ``onPartitionsRevoked``
        (after the auto-commit of the revoked partitions) and
        ``onPartitionsLost`` (no commit: the partitions already have a new owner).
        """
        self._listener = (on_assigned, on_revoked, on_lost)
        self._consumer.subscribe(
            topics, on_assign=self._assigned, on_revoke=self._revoked, on_lost=self._lost
        )

    def poll(self, timeout: float) -> list[Message]:
        """Return at most ``max.poll.records`` records, waiting up to ``timeout`` virtual seconds.

        First, with auto-commit on and ``auto.commit.interval.ms`` elapsed,
        commit the positions that the earlier polls left (Java checks again
        on each pass while it waits).
        """
        self._check_timeout(timeout)
        self._begin_poll()
        out = self._records(self._max_records)
        deadline = self._sim.now + timeout
        while not out:
            wake = self._wake(deadline)
            if not self._sim.advance(wake) and wake == deadline:
                break
            self._maybe_auto_commit()
            out = self._records(self._max_records)
        self._after_latest_poll = dict(self._consumer.positions)
        return out

    def commitSync(
        self, offsets: list[TopicPartition] | None = None
    ) -> None:  # Java's name, on purpose
        """Commit the positions of every owned partition (what the polls so far returned), or ``offsets``.

        Raises :class:`CommitFailedException` when the group refuses it.
        """
        if offsets is None:
            offsets = self._positions_of(self._consumer.owned_partitions)
            if not offsets and self._consumer.member_id is None:
                # Evicted since the last poll: Java still holds that poll's positions until the next
                # poll, so the commit goes to the group, which refuses it.
                offsets = self._positions_of(self._after_latest_poll, self._after_latest_poll)
            if not offsets:
                return
        try:
            self._consumer.commit(offsets=offsets, asynchronous=False)
        except KafkaException as err:
            raise CommitFailedException(
                KafkaError(err.error.code(), f"CommitFailedException: {err.error.str()}")
            ) from None

    def assignment(self) -> list[TopicPartition]:
        """The partitions this member owns now."""
        return self._consumer.assignment()

    def position(self, partition: TopicPartition) -> int:
        """The offset of the next record ``poll()`` returns from ``partition``."""
        return self._consumer.position([partition])[0].offset

    def committed(self, partitions: list[TopicPartition]) -> list[TopicPartition]:
        """The group's committed offset for each partition."""
        return self._consumer.committed(partitions)

    def close(self) -> None:
        """With auto-commit on, commit the positions (synchronously), then leave the group."""
        if self._consumer.closed:
            return
        if self._auto and not self._consumer.crashed and self._consumer.member_id is not None:
            self._commit_quietly(self._positions_of(self._consumer.owned_partitions))
        self._consumer.close()

    # -- simulator extras (the same ones confluent-kafka's model has) ---------------------

    @property
    def max_poll_records(self) -> int:
        """``max.poll.records``: the most records one ``poll()`` returns."""
        return self._max_records

    @property
    def member_id(self) -> str | None:
        """The member id the group gave this consumer, or None outside a group."""
        return self._consumer.member_id

    @property
    def group_id(self) -> str:
        """``group.id``."""
        return self._consumer.group_id

    @property
    def crashed(self) -> bool:
        """Whether the consumer crashed (and was not restarted)."""
        return self._consumer.crashed

    @property
    def closed(self) -> bool:
        """Whether ``close()`` was called."""
        return self._consumer.closed

    @property
    def last_runs(self) -> list:
        """The last fetch as runs of ``(topic, partition, first offset, count)``."""
        return self._consumer.last_runs

    def poll_in_process(
        self, num_messages: int, timeout: float
    ) -> Generator[Any, Any, list[Message]]:
        """``poll`` for a process on the clock, a generator it ``yield from``s.

        Returns at most ``min(num_messages, max.poll.records)`` records.
        """
        n = min(num_messages, self._max_records)
        self._begin_poll()
        out = yield from self._records_in_process(n)
        env = self._sim.env
        deadline = env.now + timeout
        while not out and env.now < deadline:
            wake = self._wake(deadline)
            yield env.any_of([self._sim.data_signal, env.timeout(wake - env.now)])
            self._maybe_auto_commit()
            out = yield from self._records_in_process(n)
        self._after_latest_poll = dict(self._consumer.positions)
        return out

    def crash(self) -> None:
        """Stop dead: no commit, no leave."""
        self._consumer.crash()

    def restart(self) -> None:
        """Come back after a crash as a new member with empty local state."""
        self._consumer.restart()
        self._before_latest_poll = {}
        self._after_latest_poll = {}
        self._next_auto_commit = self._sim.now + self._interval

    # -- Java's commit rules ------------------------------------------------------------------

    def _begin_poll(self) -> None:
        self._before_latest_poll = dict(self._consumer.positions)
        self._maybe_auto_commit()

    def _records(self, n: int) -> list[Message]:
        """What one fetch hands out, as Java's poll does: records only.

        librdkafka reports events such as "max poll interval exceeded" or a
        missing topic as error messages among the records; Java logs them and
        carries on (rejoining the group after an eviction), and raises only
        a fatal error (a fenced static member).
        """
        while True:
            out = self._consumer.consume(n, 0)
            if not out or not self._is_event(out[0]):
                return out

    def _records_in_process(self, n: int) -> Generator[Any, Any, list[Message]]:
        while True:
            out = yield from self._consumer.poll_in_process(n, 0)
            if not out or not self._is_event(out[0]):
                return out

    @staticmethod
    def _is_event(message: Message) -> bool:
        err = message.error()
        if err is not None and err.fatal():
            raise KafkaException(err)
        return err is not None

    def _wake(self, deadline: float) -> float:
        """When a waiting poll wakes next: at its deadline, or earlier for a due auto-commit.

        Java's poll never sleeps past the next auto-commit (``timeToNextPoll``).
        """
        due = self._next_auto_commit
        if self._auto and self._consumer.member_id is not None and self._sim.now < due < deadline:
            return due
        return deadline

    def _maybe_auto_commit(self) -> None:
        """Java's ``maybeAutoCommitOffsetsAsync``: commit the positions once the interval has passed."""
        if not self._auto or self._consumer.member_id is None:
            return
        if self._sim.now + 1e-9 < self._next_auto_commit:
            return
        self._next_auto_commit = self._sim.now + self._interval
        self._commit_quietly(self._positions_of(self._consumer.owned_partitions))

    def _positions_of(self, parts, positions=None) -> list[TopicPartition]:
        positions = self._consumer.positions if positions is None else positions
        return [TopicPartition(t, p, positions[(t, p)]) for t, p in parts if (t, p) in positions]

    def _commit_quietly(self, offsets: list[TopicPartition]) -> None:
        """An auto-commit: a refusal is logged (the journal's commit_failed row), not raised."""
        group = self._sim.ensure_group(self.group_id)
        offsets = [
            tp for tp in offsets if group.committed.get((tp.topic, tp.partition)) != tp.offset
        ]
        if offsets:
            self._consumer.commit(offsets=offsets, asynchronous=True)

    def _assigned(self, _consumer, partitions: list[TopicPartition]) -> None:
        # Java restarts the auto-commit clock when an assignment arrives (onJoinComplete).
        self._next_auto_commit = self._sim.now + self._interval
        if self._listener[0] is not None:
            self._listener[0](partitions)

    def _revoked(self, _consumer, partitions: list[TopicPartition]) -> None:
        if self._auto:
            # Java commits in onJoinPrepare, inside poll(), after the application finished its batch.
            # Here the rebalance may come mid-batch, so commit only what the polls before the latest
            # one returned: never more than Java would (see the module docstring).
            group = self._sim.ensure_group(self.group_id)
            wanted = [(tp.topic, tp.partition) for tp in partitions]
            self._commit_quietly(
                [
                    tp
                    for tp in self._positions_of(wanted, self._before_latest_poll)
                    # never backwards: a commitSync or close may already have committed more
                    if tp.offset > group.committed.get((tp.topic, tp.partition), -1)
                ]
            )
        if self._listener[1] is not None:
            self._listener[1](partitions)

    def _lost(self, _consumer, partitions: list[TopicPartition]) -> None:
        if self._listener[2] is not None:
            self._listener[2](partitions)
        elif self._listener[1] is not None:
            self._listener[1](
                partitions
            )  # Java's default onPartitionsLost calls onPartitionsRevoked

    @staticmethod
    def _check_timeout(timeout) -> None:
        if isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or not timeout >= 0:
            raise ValueError(
                f"poll(timeout) takes a number of seconds >= 0 (Java: a Duration), got {timeout!r}"
            )
