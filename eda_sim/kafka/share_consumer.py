"""The share consumer: a share-group member, shaped like ``confluent_kafka.ShareConsumer``.

confluent-kafka has had a ``ShareConsumer`` since 2.16 (librdkafka 2.16, in
"Preview"), and the names here are its: ``subscribe``, ``poll`` (a batch of
messages), ``acknowledge(message, ack_type)``, ``acknowledge_offset``,
``commit_sync``, ``commit_async``, ``set_acknowledgement_commit_callback``,
``close``; ``AcknowledgeType.ACCEPT`` / ``RELEASE`` / ``REJECT``;
``Message.delivery_count()``; ``share.acknowledgement.mode`` ``implicit`` (the
default: the next poll or commit accepts everything the last poll returned)
or ``explicit`` (acknowledge each record; poll refuses while any is
unacknowledged). Settings that belong to consumer groups
(``group.instance.id``, ``enable.auto.commit``, ``auto.offset.reset``,
``group.protocol``, ``session.timeout.ms``, ...) are refused with librdkafka's
words: in a share group the broker owns them. The Java client is
``KafkaShareConsumer`` with the same ideas (``acknowledge(record, type)``,
``commitSync``).

Acknowledgements travel with the next ``poll`` or commit, as in the real
client; the simulator applies them at that instant.

Example::

    sim = Simulation(seed=1)
    sim.create_topic("orders", partitions=2)
    c = ShareConsumer({"bootstrap.servers": sim.bootstrap_servers, "group.id": "workers",
                       "share.acknowledgement.mode": "explicit"})
    c.subscribe(["orders"])
    for msg in c.poll(1.0):
        c.acknowledge(msg, AcknowledgeType.ACCEPT)
    c.commit_sync()
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType

from eda_sim.broker.share_group import ACCEPT, REJECT, RELEASE, share_group
from eda_sim.core.errors import KafkaError, KafkaException, fail
from eda_sim.kafka import config as _config
from eda_sim.kafka.message import Message, TopicPartition


class AcknowledgeType(enum.IntEnum):
    """How a share-group member settles a record, numbered as confluent-kafka's."""

    ACCEPT = ACCEPT
    RELEASE = RELEASE
    REJECT = REJECT


class IllegalStateException(RuntimeError):
    """A call the share consumer's state does not allow (confluent-kafka raises its own class of this name)."""


class ShareMessage(Message):
    """A message handed out by a share group: a :class:`~eda_sim.message.Message` with its delivery count."""

    __slots__ = ("_delivery",)

    def __init__(self, topic, partition, offset, rec, delivery: int):
        super().__init__(topic, partition, offset, rec)
        self._delivery = delivery

    def delivery_count(self) -> int:
        """1 the first time the group hands the record out; one more for each time it comes back."""
        return self._delivery


_NOT_APPLICABLE = (
    "group.instance.id",
    "enable.auto.commit",
    "auto.offset.reset",
    "group.protocol",
    "group.remote.assignor",
    "partition.assignment.strategy",
    "enable.auto.offset.store",
    "auto.commit.interval.ms",
)
_BROKER_SIDE = ("session.timeout.ms", "heartbeat.interval.ms")

#: Share consumer properties: key -> (default, checker).
SHARE_CONSUMER = {
    "bootstrap.servers": (None, _config.str_value),
    "client.id": ("rdkafka", _config.str_value),
    "group.id": (None, _config.str_value),
    "share.acknowledgement.mode": ("implicit", _config.one_of("implicit", "explicit")),
    "max.poll.records": (500, _config.int_value(1)),
    "max.poll.interval.ms": (300000, _config.int_value(1)),
    "error_cb": (None, _config.callable_value),
    "debug": ("", _config.str_value),
}


def _check(config: dict | None) -> dict:
    for key in config or ():
        if key in _NOT_APPLICABLE:
            raise fail(
                "_INVALID_ARG",
                f"Failed to create share consumer: `{key}` is not applicable for share consumer",
            )
        if key in _BROKER_SIDE:
            raise fail(
                "_INVALID_ARG",
                f"Failed to create share consumer: {_config.BROKER_SIDE_UNDER_CONSUMER[key]}",
            )
    resolved = _config.resolve(config, SHARE_CONSUMER, "share consumer")
    if not resolved["group.id"]:
        raise fail("_INVALID_ARG", 'a share consumer needs "group.id" set in its config')
    return resolved


class ShareConsumer:
    """A member of a share group (KIP-932), shaped like ``confluent_kafka.ShareConsumer``."""

    def __init__(self, config: dict | None = None, *, sim=None):
        from eda_sim.core.simulation import resolve_simulation

        self._config = _check(config)
        self._sim = (
            sim if sim is not None else resolve_simulation(self._config["bootstrap.servers"])
        )
        self.group_id = self._config["group.id"]
        self.client_id = self._config["client.id"]
        self.member_id: str | None = None
        self._subscription: frozenset = frozenset()
        self._explicit = self._config["share.acknowledgement.mode"] == "explicit"
        self._in_hand: dict = {}  # (topic, partition, offset) -> acknowledged type or None, from the last poll
        self._pending: list = []  # (topic, partition, offset, type) not yet sent
        self._callback = None
        self._errors: list = []  # error events the next poll hands out
        self._closed = False
        self.crashed = False
        self._last_poll = self._sim.now

    def __repr__(self) -> str:
        return f"<ShareConsumer {self.member_id or self.client_id} group={self.group_id!r}>"

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False

    # -- subscription --------------------------------------------------------------------

    def subscribe(self, topics) -> None:
        """Set the subscription (replacing any); the group is joined on the next ``poll``.

        A topic that does not exist is reported by the next ``poll`` as an
        error event (``UNKNOWN_TOPIC_OR_PART``), as the consumer does.
        """
        self._usable()
        if isinstance(topics, str) or not all(isinstance(t, str) and t for t in topics):
            raise ValueError(f"subscribe() expects a list of topic names, got {topics!r}")
        if len(set(topics)) != len(topics):
            raise ValueError(f"subscribe() got duplicate topic names: {topics!r}")
        known = self._sim.broker.topics
        self._errors = [
            Message(
                t,
                None,
                None,
                None,
                KafkaError(
                    KafkaError.UNKNOWN_TOPIC_OR_PART,
                    f"Subscribed topic not available: {t}: Broker: Unknown topic or partition "
                    f"(topics are: {', '.join(sorted(known)) or 'none'})",
                ),
            )
            for t in sorted(set(topics) - set(known))
        ]
        if not topics:
            return self.unsubscribe()
        self._subscription = frozenset(topics)
        if self.member_id is not None:
            share_group(self._sim, self.group_id).reassign(f"{self.member_id} changed subscription")

    def subscription(self) -> list:
        """The subscribed topics."""
        self._usable()
        return sorted(self._subscription)

    @property
    def subscribed_topics(self) -> frozenset:
        """Simulator extra for the share-group coordinator: the subscribed topics, with no state check."""
        return self._subscription

    @property
    def config(self) -> Mapping:
        """Simulator extra: the resolved configuration (defaults filled in), read-only."""
        return MappingProxyType(self._config)

    def unsubscribe(self) -> None:
        """Leave the share group (records in hand go back to the group) and drop the subscription."""
        self._usable()
        self._leave()
        self._subscription = frozenset()

    # -- polling ----------------------------------------------------------------------------

    def poll(self, timeout: float = -1) -> list:
        """A batch of messages (empty if none arrives within ``timeout`` virtual seconds), each acquired for this member."""
        self._usable()
        self._before_poll()
        self._sim.require_outside_run("ShareConsumer.poll")
        if self._errors:
            out, self._errors = self._errors, []
            return out
        if timeout is None or timeout < 0:
            timeout = float("inf")
        out = self._acquire()
        deadline = self._sim.now + timeout
        while not out and self._sim.advance(deadline):
            out = self._acquire()
        return out

    def poll_in_process(self, timeout: float):
        """Simulator extra: ``poll`` for a process on the clock, a generator it ``yield from``s."""
        self._usable()
        self._before_poll()
        if self._errors:
            out, self._errors = self._errors, []
            return out
        out = self._acquire()
        if out or timeout <= 0:
            return out
        env = self._sim.env
        yield env.any_of([self._sim.data_signal, env.timeout(timeout)])
        return self._acquire()

    def _before_poll(self) -> None:
        if not self._subscription:
            raise IllegalStateException("Consumer is not subscribed to any topics")
        if self._explicit:
            open_ = [k for k, v in self._in_hand.items() if v is None]
            if open_:
                t, p, o = open_[0]
                raise IllegalStateException(
                    f"explicit acknowledgement mode: {len(open_)} record(s) of the last poll are not acknowledged "
                    f"(first {t}-{p}@{o}); acknowledge every record before polling again"
                )
        self._last_poll = self._sim.now
        self._flush_acks()

    def _acquire(self) -> list:
        if self.member_id is None:
            self.member_id = self._sim.new_member_id(self.client_id)
            share_group(self._sim, self.group_id).join(self)
            self._sim.env.process(self._watchdog(self.member_id))
        got = share_group(self._sim, self.group_id).acquire(
            self.member_id, self._config["max.poll.records"]
        )
        msgs = [ShareMessage(t, p, o, rec, n) for t, p, o, rec, n in got]
        if msgs:
            self._in_hand = {(t, p, o): None for t, p, o, _, _ in got}
        return msgs

    # -- acknowledging ------------------------------------------------------------------------

    def acknowledge(self, message, ack_type=AcknowledgeType.ACCEPT) -> None:
        """Mark a polled message ``ACCEPT`` (done), ``RELEASE`` (give it back) or ``REJECT`` (never again);
        sent with the next ``poll`` or commit. Explicit acknowledgement mode only."""
        if not isinstance(message, Message):
            raise TypeError(
                f"acknowledge() expects a Message returned by poll(), got {type(message).__name__}"
            )
        self.acknowledge_offset(message.topic(), message.partition(), message.offset(), ack_type)

    def acknowledge_offset(self, topic, partition, offset, ack_type=AcknowledgeType.ACCEPT) -> None:
        """:meth:`acknowledge` by topic, partition and offset."""
        self._usable()
        if not self._explicit:
            raise IllegalStateException(
                "acknowledge() needs share.acknowledgement.mode=explicit; in implicit mode the next poll "
                "or commit accepts everything the last poll returned"
            )
        if isinstance(ack_type, bool) or ack_type not in (ACCEPT, RELEASE, REJECT):
            raise ValueError(
                f"ack_type must be AcknowledgeType.ACCEPT, RELEASE or REJECT, got {ack_type!r}"
            )
        if topic is None or partition < 0 or offset < 0:
            raise ValueError(
                f"acknowledge needs a topic and a partition and offset >= 0, got {topic!r}, {partition}, {offset}"
            )
        key = (topic, partition, offset)
        if key not in self._in_hand or self._in_hand[key] is not None:
            raise IllegalStateException(
                f"{topic}-{partition}@{offset} is not in flight for this consumer"
            )
        self._in_hand[key] = int(ack_type)
        self._pending.append((topic, partition, offset, int(ack_type)))

    def _implicit(self) -> None:
        if not self._explicit:
            for key, done in self._in_hand.items():
                if done is None:
                    self._in_hand[key] = ACCEPT
                    self._pending.append((*key, ACCEPT))

    def _flush_acks(self) -> dict:
        """Send pending acknowledgements; per partition None or the error the broker gave."""
        self._implicit()
        results: dict = {}
        if not self._pending:
            return results
        group = share_group(self._sim, self.group_id)
        sent, self._pending = self._pending, []
        by_tp: dict = {}
        for topic, part, offset, ack in sent:
            err = (
                group.acknowledge(self.member_id, topic, part, offset, ack)
                if self.member_id
                else KafkaError(KafkaError.UNKNOWN_MEMBER_ID, "not a member of the share group")
            )
            tp = TopicPartition(topic, part)
            by_tp.setdefault(tp, set()).add(offset)
            if err is not None:
                results[tp] = KafkaException(err)
            else:
                results.setdefault(tp, None)
        if self._callback is not None:
            for tp, offsets in sorted(by_tp.items()):
                self._callback({tp: offsets}, results[tp])
        return results

    def commit_sync(self, timeout: float = 60) -> dict:
        """Send pending acknowledgements now; per ``TopicPartition`` None or a ``KafkaException``."""
        self._usable()
        return self._flush_acks()

    def commit_async(self) -> None:
        """Send pending acknowledgements; results go to the acknowledgement commit callback."""
        self._usable()
        self._flush_acks()

    def set_acknowledgement_commit_callback(self, callback) -> None:
        """``callback(offsets, exception)``: offsets is ``{TopicPartition: set of offsets}``, exception None on success."""
        if callback is not None and not callable(callback):
            raise TypeError(
                f"the acknowledgement commit callback must be callable, got {type(callback).__name__}"
            )
        self._callback = callback

    # -- leaving ----------------------------------------------------------------------------------

    def close(self) -> None:
        """Send pending acknowledgements and leave the share group; records still in hand go back to it."""
        if self._closed:
            return
        if not self.crashed:
            if self.member_id is not None:
                self._flush_acks()
            self._leave()
        self._closed = True

    def _leave(self) -> None:
        if self.member_id is not None:
            share_group(self._sim, self.group_id).leave(self.member_id)
            self.member_id = None
        self._in_hand = {}
        self._pending = []

    def crash(self) -> None:
        """Stop dead: nothing is acknowledged; the records in hand come back when their locks expire."""
        if self.crashed or self._closed:
            return
        self.crashed = True
        self._sim.journal.write(
            "crashed",
            self.member_id or self.client_id,
            self.group_id,
            detail="acquired records return when their acquisition locks expire",
        )
        group = share_group(self._sim, self.group_id)
        member = self.member_id
        if member is not None:
            seconds = broker_session(self._sim)
            self._sim.env.process(_expire(self._sim, group, member, seconds))

    def _watchdog(self, member: str):
        """Leave the share group if the application does not poll within ``max.poll.interval.ms``."""
        interval = self._config["max.poll.interval.ms"] / 1000.0
        env = self._sim.env
        while self.member_id == member and not self.crashed and not self._closed:
            wait = self._last_poll + interval - env.now
            if wait > 0:
                yield env.timeout(wait)
                continue
            # the records in hand go back to the group; acknowledging them now fails (not in flight)
            share_group(self._sim, self.group_id).leave(
                member, "evicted", f"no poll for {interval:g} s (max.poll.interval.ms)"
            )
            self.member_id = None
            self._in_hand = {}
            self._pending = []
            return

    def _usable(self) -> None:
        if self._closed:
            raise IllegalStateException("Share consumer is closed")
        if self.crashed:
            raise fail("_STATE", f"{self.member_id or self.client_id} has crashed")


def broker_session(sim) -> float:
    """Seconds without heartbeats before a share-group member is removed (``group.share.session.timeout.ms``)."""
    from eda_sim.broker.group_consumer import broker_setting

    return broker_setting(sim, "group.share.session.timeout.ms") / 1000.0


def _expire(sim, group, member: str, seconds: float):
    yield sim.env.timeout(seconds)
    if member in group.members:
        group.leave(
            member,
            "session_expired",
            f"no heartbeat for {seconds:g} s (group.share.session.timeout.ms)",
        )
