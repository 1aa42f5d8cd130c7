"""``AdminClient``, ``NewTopic`` and ``NewPartitions``, shaped like confluent-kafka's.

Admin operations return a dict of futures keyed by topic, as the real client
does; in the simulator they are already resolved when returned.

Example::

    admin = AdminClient({"bootstrap.servers": sim.bootstrap_servers})
    futures = admin.create_topics([NewTopic("payments", num_partitions=3)])
    futures["payments"].result()      # None, or raises KafkaException
"""

from __future__ import annotations

from concurrent.futures import Future
from typing import NamedTuple

from eda_sim.core.errors import KafkaException, fail
from eda_sim.kafka import config as _config


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


def cluster_metadata(sim, topic: str | None = None) -> ClusterMetadata:
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


def _done(result=None, error=None) -> Future:
    f: Future = Future()
    if error is None:
        f.set_result(result)
    else:
        f.set_exception(error)
    return f


class AdminClient:
    """Create topics, add partitions and read metadata on a simulation."""

    def __init__(self, config: dict | None = None, *, sim=None):
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
        """Create each :class:`NewTopic`; returns ``{topic: Future}``."""
        out = {}
        for nt in new_topics:
            if not isinstance(nt, NewTopic):
                raise TypeError(
                    f"create_topics() expects NewTopic objects, got {type(nt).__name__}"
                )
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
                    if nt.topic in self._sim.broker.topics:
                        raise fail("TOPIC_ALREADY_EXISTS", f"topic {nt.topic!r} already exists")
                else:
                    self._sim.broker.create_topic(nt.topic, count, nt.config, nt.replication_factor)
                out[nt.topic] = _done()
            except KafkaException as err:
                out[nt.topic] = _done(error=err)
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

    def list_topics(self, topic: str | None = None, timeout: float = -1) -> ClusterMetadata:
        """The cluster's metadata."""
        return cluster_metadata(self._sim, topic)
