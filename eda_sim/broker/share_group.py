"""Share groups (KIP-932, "queues for Kafka"): many consumers per partition, one acknowledgement per record.

In a consumer group a partition has one reader; in a *share group* the
members share the records of each partition, so a group can have more members
than partitions. The broker keeps, per partition, a window of records in
flight, each in one of four states:

* ``AVAILABLE``: may be handed to a member;
* ``ACQUIRED``: handed to one member, under an acquisition lock that lasts
  ``share.record.lock.duration.ms`` (broker default
  ``group.share.record.lock.duration.ms``, 30 s);
* ``ACKNOWLEDGED``: the member accepted it (processed);
* ``ARCHIVED``: rejected, or its delivery count reached
  ``group.share.delivery.count.limit`` (5): never delivered again.

Each acquisition adds one to the record's delivery count. A member
acknowledges each record with ``ACCEPT``, ``RELEASE`` (available again, for
any member) or ``REJECT`` (archived); a lock that expires releases the record,
as does a member leaving with records in hand. The share-partition start
offset (SPSO) moves past records that are acknowledged or archived. A new
share group starts at the log end (``share.auto.offset.reset``, ``latest``),
as Kafka's do.

Dead letters: Kafka is adding a dead-letter topic for share groups (KIP-1191,
group config ``errors.deadletterqueue.topic.name``, not in a release yet).
The simulator models it as the course models dead-letter topics
(:func:`eda_sim.services.retries.dead_letter`): with the group config set, an archived
record is copied there with its origin and why.

Simplifications: one coordinator answers at once; members heartbeat only as
far as their session goes (a crashed member's locks simply expire); the
assignor is Kafka's simple one in spirit: with more members than partitions
every partition is shared by several members.
"""

from __future__ import annotations

from eda_sim.broker.group_consumer import broker_setting
from eda_sim.core.errors import KafkaError, KafkaException

AVAILABLE, ACQUIRED, ACKNOWLEDGED, ARCHIVED = "AVAILABLE", "ACQUIRED", "ACKNOWLEDGED", "ARCHIVED"
#: Acknowledgement types, numbered as confluent-kafka's ``AcknowledgeType``.
ACCEPT, RELEASE, REJECT = 1, 2, 3
ACK_NAMES = {ACCEPT: "ACCEPT", RELEASE: "RELEASE", REJECT: "REJECT"}

#: Group configs a share group understands (``kafka-configs --entity-type groups``), with defaults;
#: ``None`` means the broker's ``group.share.*`` setting.
GROUP_CONFIG = {
    "share.auto.offset.reset": "latest",
    "share.record.lock.duration.ms": None,
    "share.delivery.count.limit": None,
    "errors.deadletterqueue.topic.name": None,
}


class RecordState:
    """One in-flight record of a share-partition."""

    __slots__ = ("state", "delivery_count", "member", "lock")

    def __init__(self):
        self.state = AVAILABLE
        self.delivery_count = 0
        self.member: str | None = None
        self.lock = (
            0  # acquisition number: a lock timer only releases the acquisition it was set for
        )


class SharePartition:
    """The broker's state of one partition for one share group."""

    def __init__(self, start: int):
        self.spso = start  # share-partition start offset: everything before it is done
        self.records: dict = {}  # offset -> RecordState, for offsets >= spso that were ever acquired

    def advance(self) -> None:
        """Move the start offset past records that are acknowledged or archived."""
        while True:
            rec = self.records.get(self.spso)
            if rec is None or rec.state not in (ACKNOWLEDGED, ARCHIVED):
                return
            del self.records[self.spso]
            self.spso += 1


class ShareGroup:
    """The coordinator's view of one share group: members, their partitions, and every record in flight."""

    protocol_type = "share"

    def __init__(self, sim, group_id: str, config: dict | None = None):
        self._sim = sim
        self.group_id = group_id
        self.config = dict(GROUP_CONFIG)
        self.configure(config or {})
        self.members: dict = {}  # member id -> ShareConsumer
        self.assignment: dict = {}  # member id -> sorted (topic, partition)
        self.partitions: dict = {}  # (topic, partition) -> SharePartition
        self.epoch = 0
        self.outcomes: dict = {}  # (topic, partition, offset) -> "accepted" | "rejected" | "archived"
        self._acquisitions = 0
        self._dlq_producer = None

    def __repr__(self) -> str:
        return f"ShareGroup({self.group_id!r}, epoch={self.epoch}, members={list(self.members)})"

    def configure(self, config: dict) -> None:
        """Set group configs (names as ``kafka-configs --entity-type groups`` takes them)."""
        for key, value in config.items():
            if key not in GROUP_CONFIG:
                raise ValueError(
                    f"unknown share group config {key!r}; known: {', '.join(GROUP_CONFIG)}"
                )
            if key == "share.auto.offset.reset" and value not in ("earliest", "latest"):
                raise ValueError(
                    f"share.auto.offset.reset must be earliest or latest, got {value!r}"
                )
            if key in ("share.record.lock.duration.ms", "share.delivery.count.limit") and (
                isinstance(value, bool) or not isinstance(value, int) or value < 1
            ):
                raise ValueError(f"{key} must be a whole number >= 1, got {value!r}")
            self.config[key] = value

    @property
    def lock_duration(self) -> float:
        """Seconds an acquisition lock lasts."""
        ms = self.config["share.record.lock.duration.ms"]
        return (ms or broker_setting(self._sim, "group.share.record.lock.duration.ms")) / 1000.0

    @property
    def delivery_limit(self) -> int:
        """Deliveries after which a record that comes back is archived instead."""
        return self.config["share.delivery.count.limit"] or broker_setting(
            self._sim, "group.share.delivery.count.limit"
        )

    # -- membership -------------------------------------------------------------------

    def join(self, consumer) -> None:
        """Add a member and share the partitions out again."""
        self.members[consumer.member_id] = consumer
        self._sim.journal.write(
            "joined",
            consumer.member_id,
            self.group_id,
            detail=",".join(sorted(consumer.subscribed_topics)),
        )
        self.reassign(f"{consumer.member_id} joined")

    def leave(self, member_id: str, kind: str = "left", reason: str = "left the group") -> None:
        """Take a member out; records it holds go back to AVAILABLE (or are archived at the limit)."""
        if member_id not in self.members:
            return
        for (topic, part), sp in sorted(self.partitions.items()):
            for offset in sorted(
                o for o, r in sp.records.items() if r.state == ACQUIRED and r.member == member_id
            ):
                self._give_back(
                    topic, part, offset, sp.records[offset], "released: its member left"
                )
        del self.members[member_id]
        self.assignment.pop(member_id, None)
        self._sim.journal.write(kind, member_id, self.group_id, detail=reason)
        self.reassign(f"{member_id} {kind}")

    def reassign(self, reason: str) -> None:
        """Kafka's simple assignor in spirit: partitions spread over members, shared when members outnumber them."""
        self.epoch += 1
        broker = self._sim.broker
        ids = sorted(self.members)
        out = {m: [] for m in ids}
        topics = sorted(
            {t for c in self.members.values() for t in c.subscribed_topics if t in broker.topics}
        )
        parts = [(t, p) for t in topics for p in range(broker.topics[t].partition_count)]
        if ids and parts:
            subscribed = {m: self.members[m].subscribed_topics for m in ids}
            slots = max(len(ids), len(parts))
            for i in range(slots):  # deal partitions to members in turn until both are covered
                tp = parts[i % len(parts)]
                m = ids[i % len(ids)]
                if tp[0] in subscribed[m] and tp not in out[m]:
                    out[m].append(tp)
        self.assignment = {m: sorted(v) for m, v in out.items()}
        for tp in parts:
            self._partition(tp)
        detail = " ".join(
            f"{m}=[{','.join(f'{t}-{p}' for t, p in v)}]" for m, v in self.assignment.items()
        )
        self._sim.journal.write(
            "rebalanced",
            "coordinator",
            self.group_id,
            count=self.epoch,
            detail=f"{reason}: {detail}",
        )

    def _partition(self, tp) -> SharePartition:
        sp = self.partitions.get(tp)
        if sp is None:
            log = self._sim.broker.topics[tp[0]].partitions[tp[1]]
            start = (
                log.log_start_offset
                if self.config["share.auto.offset.reset"] == "earliest"
                else log.log_end_offset
            )
            sp = self.partitions[tp] = SharePartition(start)
        return sp

    # -- acquiring and acknowledging --------------------------------------------------------

    def acquire(self, member_id: str, max_records: int) -> list:
        """Acquire up to ``max_records`` available records from the member's partitions, in offset order per partition.

        Returns ``(topic, partition, offset, stored record, delivery count)`` tuples.
        """
        parts = self.assignment.get(member_id, [])
        if not parts:
            return []
        topics = self._sim.broker.topics
        out: list = []
        start = self._acquisitions % len(parts)  # take turns over the partitions
        self._acquisitions += 1
        for i in range(len(parts)):
            topic, part = tp = parts[(start + i) % len(parts)]
            sp = self.partitions[tp]
            log = topics[topic].partitions[part]
            if sp.spso < log.log_start_offset:  # retention removed records the group never finished
                for o in [o for o in sp.records if o < log.log_start_offset]:
                    del sp.records[o]
                sp.spso = log.log_start_offset
            offset, first, taken = sp.spso, None, 0
            while offset < log.log_end_offset and len(out) < max_records:
                rec = sp.records.get(offset)
                if rec is None:
                    rec = sp.records[offset] = RecordState()
                if rec.state == AVAILABLE:
                    rec.state, rec.member = ACQUIRED, member_id
                    rec.delivery_count += 1
                    rec.lock += 1
                    out.append((topic, part, offset, log.read(offset, 1)[0], rec.delivery_count))
                    self._sim.env.process(self._lock_timer(tp, offset, rec.lock))
                    first = offset if first is None else first
                    taken += 1
                elif taken:
                    self._write_run("acquired", member_id, topic, part, first, taken)
                    first, taken = None, 0
                offset += 1
            if taken:
                self._write_run("acquired", member_id, topic, part, first, taken)
            if len(out) >= max_records:
                break
        return out

    def _write_run(self, kind, member_id, topic, part, first, count) -> None:
        self._sim.journal.write(kind, member_id, self.group_id, topic, part, first, count)

    def acknowledge(
        self, member_id: str, topic: str, part: int, offset: int, ack_type: int
    ) -> KafkaError | None:
        """Apply one acknowledgement; an error (``INVALID_RECORD_STATE``) when the member does not hold the record."""
        sp = self.partitions.get((topic, part))
        rec = sp.records.get(offset) if sp is not None else None
        if rec is None or rec.state != ACQUIRED or rec.member != member_id:
            state = "not in flight" if rec is None else f"{rec.state} by {rec.member or 'nobody'}"
            return KafkaError(
                KafkaError.INVALID_RECORD_STATE,
                f"{topic}-{part}@{offset} is {state}, not acquired by {member_id} (its lock expired?)",
            )
        name = ACK_NAMES[ack_type]
        self._sim.journal.write(
            "acknowledged", member_id, self.group_id, topic, part, offset, 1, name
        )
        if ack_type == ACCEPT:
            rec.state, rec.member = ACKNOWLEDGED, None
            self._done(topic, part, offset, "accepted")
        elif ack_type == REJECT:
            self._archive(topic, part, offset, rec, "rejected", f"rejected by {member_id}")
        else:
            self._give_back(topic, part, offset, rec, f"released by {member_id}")
        sp.advance()
        return None

    def _give_back(self, topic, part, offset, rec, why: str) -> None:
        """Make a record available again, or archive it when it was delivered as often as allowed."""
        if rec.delivery_count >= self.delivery_limit:
            self._archive(
                topic,
                part,
                offset,
                rec,
                "archived",
                f"{why}; delivery count {rec.delivery_count} reached the limit",
            )
        else:
            rec.state, rec.member = AVAILABLE, None
        self.partitions[(topic, part)].advance()

    def _archive(self, topic, part, offset, rec, outcome: str, why: str) -> None:
        rec.state, rec.member = ARCHIVED, None
        self._sim.journal.write(
            "archived", "coordinator", self.group_id, topic, part, offset, rec.delivery_count, why
        )
        self._done(topic, part, offset, outcome)
        dlq = self.config["errors.deadletterqueue.topic.name"]
        if dlq:
            self._dead_letter(topic, part, offset, rec.delivery_count, why, dlq)

    def _done(self, topic, part, offset, outcome: str) -> None:
        self.outcomes[(topic, part, offset)] = outcome

    def _dead_letter(self, topic, part, offset, attempts, why, dlq) -> None:
        from eda_sim.kafka.message import Message
        from eda_sim.services.retries import dead_letter

        if self._dlq_producer is None:
            self._dlq_producer = self._sim.producer({"client.id": f"{self.group_id}-dlq"})
        rec = self._sim.broker.topics[topic].partitions[part].read(offset, 1)[0]
        dead_letter(
            self._sim,
            self._dlq_producer,
            Message(topic, part, offset, rec),
            ShareRecordArchived(why),
            attempts,
            self.group_id,
            dlq,
        )

    def _lock_timer(self, tp, offset: int, lock: int):
        yield self._sim.env.timeout(self.lock_duration)
        sp = self.partitions.get(tp)
        rec = sp.records.get(offset) if sp is not None else None
        if rec is not None and rec.state == ACQUIRED and rec.lock == lock:
            member = rec.member
            self._sim.journal.write(
                "lock_expired",
                member,
                self.group_id,
                tp[0],
                tp[1],
                offset,
                rec.delivery_count,
                f"not acknowledged within {self.lock_duration:g} s (share.record.lock.duration.ms)",
            )
            self._give_back(tp[0], tp[1], offset, rec, f"lock of {member} expired")

    # -- looking at it --------------------------------------------------------------------------

    def in_flight(self) -> dict:
        """Per partition: the start offset and how many records are in each state now."""
        out = {}
        for tp, sp in sorted(self.partitions.items()):
            counts = {AVAILABLE: 0, ACQUIRED: 0, ACKNOWLEDGED: 0, ARCHIVED: 0}
            for rec in sp.records.values():
                counts[rec.state] += 1
            out[tp] = {"spso": sp.spso, **counts}
        return out

    def frame(self):
        """One row per share-partition now: who shares it and where each of its records stands.

        Columns: ``topic``, ``partition``, ``members`` (members it is assigned
        to), ``log_end``, ``start`` (the share-partition start offset: every
        record before it is settled), ``acquired`` (handed to a member, lock
        running), ``available`` (from ``start`` to ``log_end``, neither acquired
        nor settled: released, lock expired, or not fetched yet), and what was
        settled since the group began: ``accepted``, ``rejected`` and
        ``archived`` (delivered ``share.delivery.count.limit`` times).
        """
        import pandas as pd

        topics = self._sim.broker.topics
        settled: dict = {}
        for (topic, part, _offset), outcome in self.outcomes.items():
            row = settled.setdefault((topic, part), {"accepted": 0, "rejected": 0, "archived": 0})
            row[outcome] += 1
        rows = []
        for tp, sp in sorted(self.partitions.items()):
            if tp[0] not in topics:  # deleted since
                continue
            log_end = topics[tp[0]].partitions[tp[1]].log_end_offset
            states = [r.state for o, r in sp.records.items() if o >= sp.spso]
            acquired = states.count(ACQUIRED)
            done = states.count(ACKNOWLEDGED) + states.count(ARCHIVED)
            rows.append(
                {
                    "topic": tp[0],
                    "partition": tp[1],
                    "members": sum(1 for parts in self.assignment.values() if tp in parts),
                    "log_end": log_end,
                    "start": sp.spso,
                    "acquired": acquired,
                    "available": max(log_end - sp.spso - acquired - done, 0),
                    **settled.get(tp, {"accepted": 0, "rejected": 0, "archived": 0}),
                }
            )
        columns = ["topic", "partition", "members", "log_end", "start", "acquired", "available"]
        return pd.DataFrame(rows, columns=columns + ["accepted", "rejected", "archived"])


class ShareRecordArchived(Exception):
    """Why a share group archived a record (the cause a dead letter carries)."""


def share_group(sim, group_id: str, config: dict | None = None) -> ShareGroup:
    """The share group ``group_id`` of ``sim``, created with group ``config`` if new (or reconfigured)."""
    groups = sim.share_groups
    group = groups.get(group_id)
    if group is None:
        if group_id in sim.groups:
            raise KafkaException(
                KafkaError(
                    KafkaError.INCONSISTENT_GROUP_PROTOCOL,
                    f"{group_id!r} is a consumer group; a share group needs a group id of its own",
                )
            )
        group = groups[group_id] = ShareGroup(sim, group_id, config)
    elif config:
        group.configure(config)
    return group
