"""Consumer groups through the admin client: their committed offsets, their state, their deletion.

The request and result types are confluent-kafka 2.16's
(``ConsumerGroupTopicPartitions``, ``ConsumerGroupDescription``,
``MemberDescription``, ``MemberAssignment``, ``ConsumerGroupListing``,
``ListConsumerGroupsResult``, ``ConsumerGroupState``, ``ConsumerGroupType``),
and the answers are what Kafka's group coordinator gives:

* listing a group's offsets shows what it committed; a partition it never
  committed on (or a group that does not exist) reads ``OFFSET_INVALID`` (-1001);
* altering offsets works only while the group has no members: Kafka's
  coordinator takes an admin's OffsetCommit (no member id, generation -1)
  only from an empty group, and answers each partition ``UNKNOWN_MEMBER_ID``
  otherwise. The result still resolves: the errors are on the partitions, as
  librdkafka reports them. A topic that does not exist fails its own
  partitions with ``UNKNOWN_TOPIC_OR_PART``; offsets are not checked against
  the log (a member that resumes out of range follows ``auto.offset.reset``);
* deleting a group that has members fails with ``NON_EMPTY_GROUP``, one that
  does not exist with ``GROUP_ID_NOT_FOUND`` (as describing it does, since
  Kafka 4.0's KIP-1043; older brokers described it as ``DEAD``).

Simplifications: a simulated rebalance completes at once, so a group with
members is always ``STABLE``; a member's ``host`` is ``/127.0.0.1``; share
groups are not listed.

Example::

    from eda_sim.kafka import AdminClient

    sim = Simulation(seed=1)
    sim.create_topic("payments", partitions=1)
    admin = AdminClient({"bootstrap.servers": sim.bootstrap_servers})
    request = [ConsumerGroupTopicPartitions("billing", [TopicPartition("payments", 0, 42)])]
    admin.alter_consumer_group_offsets(request)["billing"].result()   # the group resumes at 42
"""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING

from eda_sim.core.errors import KafkaError, fail
from eda_sim.kafka.message import OFFSET_INVALID, TopicPartition

if TYPE_CHECKING:
    from eda_sim.core.simulation import Simulation


class ConsumerGroupState(Enum):
    """A consumer group's state, as confluent-kafka's enum (the values are librdkafka's)."""

    UNKNOWN = 0
    PREPARING_REBALANCING = 1
    COMPLETING_REBALANCING = 2
    STABLE = 3
    DEAD = 4
    EMPTY = 5

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, ConsumerGroupState):
            return NotImplemented
        return self.value < other.value


class ConsumerGroupType(Enum):
    """Which protocol a group runs: ``CLASSIC``, or ``CONSUMER`` (KIP-848), as confluent-kafka's enum."""

    UNKNOWN = 0
    CONSUMER = 1
    CLASSIC = 2

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, ConsumerGroupType):
            return NotImplemented
        return self.value < other.value


class ConsumerGroupTopicPartitions:
    """A group and some of its partitions: the request and the result of the group-offset calls.

    ``topic_partitions`` None (listing only) means every partition the group
    committed on; in a result each :class:`TopicPartition` carries the
    committed ``offset`` and, where Kafka refused it, an ``error``.
    """

    def __init__(self, group_id: str, topic_partitions: list | None = None):
        self.group_id = group_id
        self.topic_partitions = topic_partitions

    def __repr__(self) -> str:
        return f"ConsumerGroupTopicPartitions({self.group_id!r}, {self.topic_partitions!r})"


class MemberAssignment:
    """The partitions (a list of :class:`TopicPartition`) a member owns."""

    def __init__(self, topic_partitions: list | None):
        self.topic_partitions = topic_partitions or []

    def __repr__(self) -> str:
        return f"MemberAssignment({[(tp.topic, tp.partition) for tp in self.topic_partitions]})"


class MemberDescription:
    """One member of a described group: ids, host, its assignment (and its target, KIP-848)."""

    def __init__(
        self,
        member_id: str,
        client_id: str,
        host: str,
        assignment: MemberAssignment,
        group_instance_id: str | None = None,
        target_assignment: MemberAssignment | None = None,
    ):
        self.member_id = member_id
        self.client_id = client_id
        self.host = host
        self.assignment = assignment
        self.target_assignment = target_assignment
        self.group_instance_id = group_instance_id

    def __repr__(self) -> str:
        return f"MemberDescription({self.member_id!r}, assignment={self.assignment!r})"


class ConsumerGroupDescription:
    """What ``describe_consumer_groups`` says of a group, as confluent-kafka's class."""

    def __init__(
        self,
        group_id: str,
        is_simple_consumer_group: bool,
        members: list,
        partition_assignor: str,
        state: ConsumerGroupState,
        coordinator: object,
        authorized_operations: list | None = None,
        type: ConsumerGroupType = ConsumerGroupType.UNKNOWN,
    ):
        self.group_id = group_id
        self.is_simple_consumer_group = is_simple_consumer_group
        self.members = members
        self.authorized_operations = authorized_operations or None
        self.partition_assignor = partition_assignor
        self.state = state
        self.type = type
        self.coordinator = coordinator

    def __repr__(self) -> str:
        return (
            f"ConsumerGroupDescription({self.group_id!r}, state={self.state.name}, "
            f"type={self.type.name}, partition_assignor={self.partition_assignor!r}, "
            f"members={self.members!r})"
        )


class ConsumerGroupListing:
    """One group in ``list_consumer_groups``: id, whether it is simple, state and type."""

    def __init__(
        self,
        group_id: str,
        is_simple_consumer_group: bool,
        state: ConsumerGroupState | None = None,
        type: ConsumerGroupType | None = None,
    ):
        self.group_id = group_id
        self.is_simple_consumer_group = is_simple_consumer_group
        if state is not None:
            self.state = state
        if type is not None:
            self.type = type

    def __repr__(self) -> str:
        return f"ConsumerGroupListing({self.group_id!r}, state={getattr(self, 'state', None)})"


class ListConsumerGroupsResult:
    """``list_consumer_groups``' answer: ``valid`` listings and ``errors``."""

    def __init__(self, valid: list | None = None, errors: list | None = None):
        self.valid = valid
        self.errors = errors


# -- checks of the requests, with confluent-kafka's messages (and what was expected) ----------------


def _check_partition_list(tps: object, *, offsets: bool) -> None:
    if not isinstance(tps, list):
        raise TypeError(
            f"'topic_partitions' must be a list of TopicPartition, got {type(tps).__name__}"
        )
    if not tps:
        raise ValueError("'topic_partitions' cannot be empty: name at least one TopicPartition")
    for tp in tps:
        if tp is None:
            raise ValueError("Element of 'topic_partitions' cannot be None")
        if not isinstance(tp, TopicPartition):
            raise TypeError(
                f"Element of 'topic_partitions' must be of type TopicPartition, got {tp!r}"
            )
        if not tp.topic:
            raise ValueError(
                "Element of 'topic_partitions' must not have 'topic' attribute as Empty"
            )
        if tp.partition < 0:
            raise ValueError(
                f"Element of 'topic_partitions' must not have negative 'partition' value ({tp!r})"
            )
        if offsets and tp.offset < 0:
            raise ValueError(
                "Element of 'topic_partitions' must not have negative value for 'offset' field "
                f"({tp!r}): give the offset the group should resume from"
            )
        if not offsets and tp.offset != OFFSET_INVALID:
            raise ValueError(
                f"Element of 'topic_partitions' must not have 'offset' value ({tp!r}): "
                "listing reads the offsets, name only topic and partition"
            )


def check_offsets_request(request: object, verb: str) -> ConsumerGroupTopicPartitions:
    """Check a list/alter request as confluent-kafka does; return its one entry."""
    if request is None:
        raise TypeError("request cannot be None")
    if not isinstance(request, list):
        raise TypeError(
            f"request must be a list of one ConsumerGroupTopicPartitions, got {type(request).__name__}"
        )
    if len(request) != 1:
        raise ValueError(
            f"Currently we support {verb} offsets for a single consumer group only "
            f"(got {len(request)} requests)"
        )
    req = request[0]
    if not isinstance(req, ConsumerGroupTopicPartitions):
        raise TypeError(
            f"Expected list of 'ConsumerGroupTopicPartitions', got {type(req).__name__}"
        )
    if not isinstance(req.group_id, str):
        raise TypeError(f"'group_id' must be a string, got {req.group_id!r}")
    if not req.group_id:
        raise ValueError("'group_id' cannot be empty")
    if verb == "altering":
        if req.topic_partitions is None:
            raise ValueError("'topic_partitions' cannot be null: name the partitions to alter")
        _check_partition_list(req.topic_partitions, offsets=True)
    elif req.topic_partitions is not None:
        _check_partition_list(req.topic_partitions, offsets=False)
    return req


def check_group_ids(group_ids: object, verb: str) -> None:
    """Check a describe/delete request: a non-empty list of group id strings."""
    if not isinstance(group_ids, list):
        raise TypeError(
            f"Expected input to be list of group ids to be {verb}, got {type(group_ids).__name__}"
        )
    if not group_ids:
        raise ValueError(f"Expected at least one group to be {verb}")
    for gid in group_ids:
        if not isinstance(gid, str):
            raise TypeError(f"Expected list of group ids (str) to be {verb}, got {gid!r}")


# -- the coordinator's answers ---------------------------------------------------------------------


def _partition_error(sim: Simulation, tp: TopicPartition) -> KafkaError | None:
    topics = sim.broker.topics
    if tp.topic not in topics or tp.partition >= topics[tp.topic].partition_count:
        known = ", ".join(sorted(topics)) or "none yet"
        return fail(
            "UNKNOWN_TOPIC_OR_PART",
            f"{tp.topic}[{tp.partition}] does not exist; topics are: {known}",
        ).args[0]
    return None


def list_offsets(
    sim: Simulation, req: ConsumerGroupTopicPartitions
) -> ConsumerGroupTopicPartitions:
    """The group's committed offsets (OffsetFetch): for the named partitions, or all it committed on."""
    group = sim.groups.get(req.group_id)
    committed = group.committed if group is not None else {}
    if req.topic_partitions is None:
        tps = [TopicPartition(t, p, committed[(t, p)]) for t, p in sorted(committed)]
    else:
        tps = [
            TopicPartition(
                tp.topic, tp.partition, committed.get((tp.topic, tp.partition), OFFSET_INVALID)
            )
            for tp in req.topic_partitions
        ]
    return ConsumerGroupTopicPartitions(req.group_id, tps)


def alter_offsets(
    sim: Simulation, req: ConsumerGroupTopicPartitions
) -> ConsumerGroupTopicPartitions:
    """Commit offsets for a group as an admin (OffsetCommit with no member, generation -1).

    Each partition succeeds or fails on its own: ``UNKNOWN_MEMBER_ID`` while
    the group has members (it must be empty), ``UNKNOWN_TOPIC_OR_PART`` for a
    partition that does not exist. A group id never seen is created, empty,
    holding the offsets. Each stored offset writes a ``committed`` row with
    actor ``admin``.
    """
    group = sim.groups.get(req.group_id)
    out = []
    for tp in req.topic_partitions:
        result = TopicPartition(tp.topic, tp.partition, tp.offset)
        error = _partition_error(sim, tp)
        if error is None and group is not None and group.members:
            error = fail(
                "UNKNOWN_MEMBER_ID",
                f"group {req.group_id!r} has members ({', '.join(group.members)}): Kafka alters "
                "a group's offsets only while it is empty; stop its consumers first",
            ).args[0]
        if error is None:
            if group is None:
                group = sim.ensure_group(req.group_id)
            group.store_committed(
                (tp.topic, tp.partition), tp.offset, "admin", "alter_consumer_group_offsets"
            )
        result.error = error
        out.append(result)
    return ConsumerGroupTopicPartitions(req.group_id, out)


def _existing(sim: Simulation, group_id: str):
    """The group, or ``GROUP_ID_NOT_FOUND`` naming the groups there are."""
    group = sim.groups.get(group_id)
    if group is None:
        known = ", ".join(sorted(sim.groups)) or "none yet"
        raise fail("GROUP_ID_NOT_FOUND", f"group {group_id!r} does not exist; groups are: {known}")
    return group


def _type(group: object) -> ConsumerGroupType:
    return (
        ConsumerGroupType.CONSUMER
        if group.protocol_type == "consumer"
        else ConsumerGroupType.CLASSIC
    )


def _state(group: object) -> ConsumerGroupState:
    return ConsumerGroupState.STABLE if group.members else ConsumerGroupState.EMPTY


def _tps(parts: list) -> list:
    return [TopicPartition(t, p) for t, p in sorted(parts)]


def describe(sim: Simulation, group_id: str, coordinator: object) -> ConsumerGroupDescription:
    """Describe a group as its coordinator does; ``GROUP_ID_NOT_FOUND`` if it does not exist."""
    group = _existing(sim, group_id)
    consumer_type = group.protocol_type == "consumer"
    members = []
    for member_id, consumer in group.members.items():
        target = None
        if consumer_type:
            target = MemberAssignment(_tps(group.target.get(member_id, [])))
        members.append(
            MemberDescription(
                member_id,
                consumer.config["client.id"],
                "/127.0.0.1",
                MemberAssignment(_tps(group.assignment.get(member_id, []))),
                consumer.config["group.instance.id"],
                target,
            )
        )
    if consumer_type:
        assignor = group.assignor or ""
    else:
        # an empty classic group has no protocol until members join again
        assignor = (group.strategy or "") if group.members else ""
    return ConsumerGroupDescription(
        group_id,
        group.standalone,
        members,
        assignor,
        _state(group),
        coordinator,
        None,
        _type(group),
    )


def listing(
    sim: Simulation, states: object = None, types: object = None
) -> ListConsumerGroupsResult:
    """Every consumer group, by id, optionally only those in ``states`` or of ``types`` (sets)."""
    for name, value, kind in (
        ("states", states, ConsumerGroupState),
        ("types", types, ConsumerGroupType),
    ):
        if value is None:
            continue
        if not isinstance(value, set):
            raise TypeError(
                f"'{name}' must be a set of {kind.__name__}, got {type(value).__name__}"
            )
        for item in value:
            if not isinstance(item, kind):
                raise TypeError(
                    f"All elements of {name} must be of type {kind.__name__} "
                    f"(one of {', '.join(m.name for m in kind)}), got {item!r}"
                )
    valid = []
    for gid in sorted(sim.groups):
        group = sim.groups[gid]
        state, kind = _state(group), _type(group)
        if states and state not in states:
            continue
        if types and kind not in types:
            continue
        valid.append(ConsumerGroupListing(gid, group.standalone, state, kind))
    return ListConsumerGroupsResult(valid, [])


def delete(sim: Simulation, group_id: str) -> None:
    """Delete an empty group with its committed offsets (DeleteGroups).

    ``NON_EMPTY_GROUP`` while it has members (a crashed member counts until
    its session expires), ``GROUP_ID_NOT_FOUND`` if there is no such group.
    The journal gets a ``group_deleted`` row listing the offsets that went.
    """
    group = _existing(sim, group_id)
    if group.members:
        raise fail(
            "NON_EMPTY_GROUP",
            f"group {group_id!r} has members ({', '.join(group.members)}): only an empty group "
            "can be deleted; stop its consumers first",
        )
    gone = tuple(sorted(group.committed))
    del sim.groups[group_id]
    sim.journal.write(
        "group_deleted",
        "admin",
        group_id,
        count=len(gone),
        detail=f"delete_consumer_groups: {len(gone)} committed offsets went",
        data=gone,
    )
