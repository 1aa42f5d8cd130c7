"""``AdminClient``, ``NewTopic`` and ``NewPartitions``, shaped like confluent-kafka's.

Admin operations return a dict of futures keyed by topic (group, partition), as
the real client does; in the simulator they are already resolved when returned.
Besides topics, the admin client reads and moves consumer groups' committed
offsets, describes, lists and deletes groups (:mod:`eda_sim.kafka.admin_groups`),
looks offsets up by rule and deletes records (:mod:`eda_sim.kafka.admin_records`).

Example::

    sim = Simulation(seed=1)
    admin = AdminClient({"bootstrap.servers": sim.bootstrap_servers})
    futures = admin.create_topics([NewTopic("payments", num_partitions=3)])
    futures["payments"].result()      # None, or raises KafkaException
"""

from __future__ import annotations

from concurrent.futures import Future
from typing import TYPE_CHECKING, NamedTuple

from eda_sim.broker.topics import check_topic_name, check_topic_property
from eda_sim.core.errors import KafkaException, fail
from eda_sim.kafka import admin_groups as _groups
from eda_sim.kafka import admin_records as _records
from eda_sim.kafka import config as _config
from eda_sim.kafka.admin_groups import (
    ConsumerGroupDescription,
    ConsumerGroupListing,
    ConsumerGroupState,
    ConsumerGroupTopicPartitions,
    ConsumerGroupType,
    ListConsumerGroupsResult,
    MemberAssignment,
    MemberDescription,
)
from eda_sim.kafka.admin_records import (
    DeletedRecords,
    IsolationLevel,
    ListOffsetsResultInfo,
    OffsetSpec,
)
from eda_sim.kafka.message import TopicPartition

if TYPE_CHECKING:
    from eda_sim.core.simulation import Simulation

__all__ = [
    "AdminClient",
    "ClusterMetadata",
    "ConsumerGroupDescription",
    "ConsumerGroupListing",
    "ConsumerGroupState",
    "ConsumerGroupTopicPartitions",
    "ConsumerGroupType",
    "DeletedRecords",
    "IsolationLevel",
    "ListConsumerGroupsResult",
    "ListOffsetsResultInfo",
    "MemberAssignment",
    "MemberDescription",
    "NewPartitions",
    "NewTopic",
    "Node",
    "OffsetSpec",
    "PartitionMetadata",
    "TopicCollection",
    "TopicDescription",
    "TopicMetadata",
    "TopicPartitionInfo",
]


class NewTopic:
    """A topic to create: name, partition count, replication factor (-1: the broker default) and config."""

    def __init__(
        self,
        topic: str,
        num_partitions: int = 1,
        replication_factor: int = -1,
        config: dict | None = None,
    ):
        self.topic = topic
        self.num_partitions = num_partitions
        self.replication_factor = replication_factor
        self.config = dict(config or {})

    def __repr__(self) -> str:
        return f"NewTopic(topic={self.topic},num_partitions={self.num_partitions})"


class NewPartitions:
    """Grow ``topic`` to ``new_total_count`` partitions."""

    def __init__(self, topic: str, new_total_count: int):
        self.topic = topic
        self.new_total_count = new_total_count

    def __repr__(self) -> str:
        return f"NewPartitions(topic={self.topic},new_total_count={self.new_total_count})"


class PartitionMetadata(NamedTuple):
    """One partition's metadata: leader broker (-1 while offline), replica brokers, in-sync ones.

    With one broker every partition is ``(id, 0, [0], [0])``.
    """

    id: int
    leader: int
    replicas: list
    isrs: list


class TopicMetadata(NamedTuple):
    """A topic's metadata: ``partitions`` maps id -> :class:`PartitionMetadata`."""

    topic: str
    partitions: dict
    error: object


class ClusterMetadata(NamedTuple):
    """Cluster metadata: ``topics`` maps name -> :class:`TopicMetadata`."""

    cluster_id: str
    brokers: dict
    topics: dict


def cluster_metadata(sim: Simulation, topic: str | None = None) -> ClusterMetadata:
    """Metadata of ``sim``'s brokers and its topics (or just ``topic``).

    With a cluster (``Simulation(brokers=N)``) each partition names its leader,
    replicas and in-sync replicas, and ``brokers`` lists only the live brokers,
    as a real cluster's metadata does.
    """
    names = [topic] if topic is not None else sorted(sim.broker.topics)
    topics = {}
    cluster = sim.cluster
    for name in names:
        t = sim.broker.topic(name)
        if cluster is None:
            parts = {i: PartitionMetadata(i, 0, [0], [0]) for i in range(t.partition_count)}
        else:
            parts = {
                p.index: PartitionMetadata(
                    p.index, -1 if p.offline else p.leader, list(p.assignment), list(p.isr)
                )
                for p in t.partitions
            }
        topics[name] = TopicMetadata(name, parts, None)
    if cluster is None:
        brokers = {0: sim.bootstrap_servers}
    else:
        brokers = {n.id: f"{sim.bootstrap_servers}/{n.id}" for n in cluster.nodes if n.alive}
    return ClusterMetadata(sim.bootstrap_servers, brokers, topics)


class Node:
    """A broker, as confluent-kafka's ``Node``: id, host and port (the simulator names hosts broker-N)."""

    def __init__(self, id: int, host: str, port: int, rack: str | None = None):
        self.id = id
        self.id_string = str(id)
        self.host = host
        self.port = port
        self.rack = rack

    def __repr__(self) -> str:
        return f"Node({self.id}, {self.host}:{self.port})"


class TopicCollection:
    """Topics named for :meth:`AdminClient.describe_topics`, as confluent-kafka's ``TopicCollection``."""

    def __init__(self, topic_names: list):
        self.topic_names = topic_names


class TopicPartitionInfo:
    """One partition in a :class:`TopicDescription`: its leader ``Node`` (None while offline), replicas, ISR."""

    def __init__(self, id: int, leader: Node | None, replicas: list, isr: list):
        self.id = id
        self.leader = leader
        self.replicas = replicas
        self.isr = isr

    def __repr__(self) -> str:
        lead = self.leader.id if self.leader is not None else None
        return (
            f"TopicPartitionInfo(id={self.id}, leader={lead}, replicas={[n.id for n in self.replicas]}, "
            f"isr={[n.id for n in self.isr]})"
        )


class TopicDescription:
    """What :meth:`AdminClient.describe_topics` returns per topic (``topic_id`` is not modelled: None)."""

    def __init__(self, name: str, topic_id: object, is_internal: bool, partitions: list):
        self.name = name
        self.topic_id = topic_id
        self.is_internal = is_internal
        self.partitions = partitions
        self.authorized_operations = None

    def __repr__(self) -> str:
        return f"TopicDescription({self.name!r}, partitions={self.partitions})"


def _node(broker: int) -> Node:
    return Node(broker, f"broker-{broker}", 9092)


def describe_topic(sim: Simulation, name: str) -> TopicDescription:
    """The :class:`TopicDescription` of ``name`` on ``sim`` (a clear error if it does not exist)."""
    meta = cluster_metadata(sim, name).topics[name]
    parts = [
        TopicPartitionInfo(
            p.id,
            _node(p.leader) if p.leader >= 0 else None,
            [_node(b) for b in p.replicas],
            [_node(b) for b in p.isrs],
        )
        for p in (meta.partitions[i] for i in sorted(meta.partitions))
    ]
    return TopicDescription(name, None, False, parts)


def _done(result=None, error=None) -> Future:
    f: Future = Future()
    if error is None:
        f.set_result(result)
    else:
        f.set_exception(error)
    return f


class AdminClient:
    """Create topics, add partitions and read metadata on a simulation."""

    def __init__(self, config: dict | None = None, *, sim: Simulation | None = None):
        from eda_sim.core.simulation import resolve_simulation

        self._config = _config.resolve(config, _config.ADMIN, "admin client")
        self._sim = (
            sim if sim is not None else resolve_simulation(self._config["bootstrap.servers"])
        )

    def create_topics(
        self,
        new_topics: list,
        operation_timeout: float = 0,
        request_timeout: float = -1,
        validate_only: bool = False,
    ) -> dict:
        """Create each :class:`NewTopic`; returns ``{topic: Future}``.

        Each topic succeeds or fails on its own, as with the real client: a bad
        name (``TOPIC_EXCEPTION``), a bad config (``INVALID_CONFIG``), a bad
        partition count (``INVALID_PARTITIONS``) or a name that exists
        (``TOPIC_ALREADY_EXISTS``) fails that topic's future and no other.
        An empty list, or anything but a list of :class:`NewTopic`, is refused
        at once (confluent-kafka's ``ValueError``/``TypeError``).
        """
        if not isinstance(new_topics, list):
            raise TypeError(
                f"create_topics() expects a list of NewTopic objects, got {type(new_topics).__name__}"
            )
        if not new_topics:
            raise ValueError("Expected non-empty list of NewTopic objects")
        for nt in new_topics:
            if not isinstance(nt, NewTopic):
                raise TypeError(
                    f"create_topics() expects NewTopic objects, got {type(nt).__name__}"
                )
        broker = self._sim.broker
        out = {}
        for nt in new_topics:
            try:
                count = nt.num_partitions
                if count == -1:  # KIP-464: the broker's num.partitions, 1 by default
                    count = 1
                if isinstance(count, bool) or not isinstance(count, int) or count < 1:
                    # Kafka's broker refuses it; the future carries the error, as with a real cluster.
                    raise fail(
                        "INVALID_PARTITIONS",
                        f"topic {nt.topic!r}: num_partitions must be >= 1 (or -1 for the broker default), got {count!r}",
                    )
                if validate_only:
                    check_topic_name(nt.topic)
                    for key, value in nt.config.items():
                        check_topic_property(key, value)
                    if nt.topic in broker.topics:
                        raise fail("TOPIC_ALREADY_EXISTS", f"topic {nt.topic!r} already exists")
                else:
                    broker.create_topic(nt.topic, count, nt.config, nt.replication_factor)
                result = _done()
            except (KafkaException, TypeError) as err:
                if not isinstance(err, KafkaException):
                    err = fail("INVALID_CONFIG", str(err))
                result = _done(error=err)
            # A name given twice: the first request decides (the broker sees one CreateTopics entry).
            out.setdefault(nt.topic, result)
        return out

    def delete_topics(
        self, topics: list, operation_timeout: float = 0, request_timeout: float = -1
    ) -> dict:
        """Delete each named topic; returns ``{topic: Future}``.

        A topic that does not exist fails its own future with
        ``UNKNOWN_TOPIC_OR_PART``. After a deletion, producing to the topic is
        answered ``UNKNOWN_TOPIC_OR_PART`` and subscribed groups rebalance
        without it; its records and committed offsets are gone.
        """
        if not isinstance(topics, list):
            raise TypeError(f"argument 1 must be list, not {type(topics).__name__}")
        if not topics:
            raise ValueError("Expected non-empty list of topic strings")
        out = {}
        for name in topics:
            if not isinstance(name, str):
                raise TypeError(f"delete_topics() expects topic names (str), got {name!r}")
            try:
                self._sim.broker.delete_topic(name)
                result = _done()
            except KafkaException as err:
                result = _done(error=err)
            out.setdefault(name, result)
        return out

    def create_partitions(
        self,
        new_partitions: list,
        operation_timeout: float = 0,
        request_timeout: float = -1,
        validate_only: bool = False,
    ) -> dict:
        """Grow each topic to its :class:`NewPartitions` total; returns ``{topic: Future}``."""
        out = {}
        for np_ in new_partitions:
            try:
                if not validate_only:
                    self._sim.broker.add_partitions(np_.topic, np_.new_total_count)
                out[np_.topic] = _done()
            except KafkaException as err:
                out[np_.topic] = _done(error=err)
        return out

    def describe_topics(self, topics: TopicCollection, **kwargs: object) -> dict:
        """Describe each named topic: ``{name: Future}`` resolving to a :class:`TopicDescription`
        with each partition's leader, replicas and in-sync replicas."""
        if not isinstance(topics, TopicCollection):
            raise TypeError(
                f"describe_topics() expects a TopicCollection(['topic', ...]), got {type(topics).__name__}"
            )
        out = {}
        for name in topics.topic_names:
            try:
                out[name] = _done(describe_topic(self._sim, name))
            except KafkaException as err:
                out[name] = _done(error=err)
        return out

    def list_topics(self, topic: str | None = None, timeout: float = -1) -> ClusterMetadata:
        """The cluster's metadata."""
        return cluster_metadata(self._sim, topic)

    # -- consumer groups (eda_sim.kafka.admin_groups) ---------------------------------------------

    def list_consumer_group_offsets(
        self, list_consumer_group_offsets_request: list, **kwargs: object
    ) -> dict:
        """A group's committed offsets: ``{group_id: Future}`` resolving to a
        :class:`ConsumerGroupTopicPartitions` (one group per request, as confluent-kafka allows).

        With ``topic_partitions=None``, every partition the group committed on;
        a named partition it never committed on reads ``OFFSET_INVALID`` (-1001).
        """
        req = _groups.check_offsets_request(list_consumer_group_offsets_request, "listing")
        return {req.group_id: _done(_groups.list_offsets(self._sim, req))}

    def alter_consumer_group_offsets(
        self, alter_consumer_group_offsets_request: list, **kwargs: object
    ) -> dict:
        """Set a group's committed offsets: ``{group_id: Future}`` resolving to a
        :class:`ConsumerGroupTopicPartitions` whose partitions carry any ``error``.

        Kafka takes it only while the group has no members: otherwise each
        partition's ``error`` is ``UNKNOWN_MEMBER_ID`` and nothing changes.
        """
        req = _groups.check_offsets_request(alter_consumer_group_offsets_request, "altering")
        return {req.group_id: _done(_groups.alter_offsets(self._sim, req))}

    def list_consumer_groups(self, **kwargs: object) -> Future:
        """Every consumer group: a Future resolving to a :class:`ListConsumerGroupsResult`.

        ``states`` and ``types`` (sets of :class:`ConsumerGroupState` and
        :class:`ConsumerGroupType`) keep only the groups that match.
        """
        unknown = sorted(set(kwargs) - {"states", "types", "request_timeout"})
        if unknown:
            raise TypeError(
                f"list_consumer_groups() got unexpected arguments {unknown}; it takes states, "
                "types and request_timeout"
            )
        result = _groups.listing(self._sim, kwargs.get("states"), kwargs.get("types"))
        return _done(result)

    def describe_consumer_groups(self, group_ids: list, **kwargs: object) -> dict:
        """Describe groups: ``{group_id: Future}`` resolving to a :class:`ConsumerGroupDescription`
        (state, type, assignor, coordinator, members with their assignments), or failing with
        ``GROUP_ID_NOT_FOUND``."""
        _groups.check_group_ids(group_ids, "described")
        out = {}
        for gid in group_ids:
            try:
                out[gid] = _done(_groups.describe(self._sim, gid, self._coordinator()))
            except KafkaException as err:
                out[gid] = _done(error=err)
        return out

    def delete_consumer_groups(self, group_ids: list, **kwargs: object) -> dict:
        """Delete empty groups with their committed offsets: ``{group_id: Future}`` resolving to
        None, or failing with ``NON_EMPTY_GROUP`` or ``GROUP_ID_NOT_FOUND``."""
        _groups.check_group_ids(group_ids, "deleted")
        out = {}
        for gid in group_ids:
            try:
                _groups.delete(self._sim, gid)
                out[gid] = _done()
            except KafkaException as err:
                out[gid] = _done(error=err)
        return out

    def _coordinator(self) -> Node:
        cluster = self._sim.cluster
        if cluster is None:
            return _node(0)
        alive = [n.id for n in cluster.nodes if n.alive]
        return _node(alive[0] if alive else 0)

    # -- offsets and records (eda_sim.kafka.admin_records) ------------------------------------------

    def list_offsets(self, topic_partition_offsets: dict, **kwargs: object) -> dict:
        """Look offsets up by rule: ``{TopicPartition(topic, p, spec code): Future}`` resolving to a
        :class:`ListOffsetsResultInfo`; ``isolation_level`` (an :class:`IsolationLevel`,
        ``READ_UNCOMMITTED`` by default) decides what ``latest`` may answer."""
        level = kwargs.get("isolation_level")
        _records.check_list_offsets_request(topic_partition_offsets, level)
        committed = level is IsolationLevel.READ_COMMITTED
        out = {}
        for tp, spec in topic_partition_offsets.items():
            key = TopicPartition(tp.topic, tp.partition, spec.code)
            try:
                out[key] = _done(_records.lookup(self._sim, tp, spec, committed))
            except KafkaException as err:
                out[key] = _done(error=err)
        return out

    def delete_records(self, topic_partition_offsets: list, **kwargs: object) -> dict:
        """Delete each partition's records below its ``offset`` (-1, ``OFFSET_END``: all of them):
        ``{TopicPartition: Future}`` resolving to :class:`DeletedRecords` (the new low watermark).

        Kafka's DeleteRecords: the log start moves, whatever the retention;
        ``OFFSET_OUT_OF_RANGE`` for an offset beyond the high watermark.
        """
        _records.check_delete_records_request(topic_partition_offsets)
        out = {}
        for tp in topic_partition_offsets:
            try:
                out[tp] = _done(_records.delete(self._sim, tp))
            except KafkaException as err:
                out[tp] = _done(error=err)
        return out
