"""The confluent-kafka-shaped client of the simulator.

Write producer and consumer code against this module exactly as you would
against ``confluent_kafka``; to run it on a real cluster, change the import
and ``bootstrap.servers``::

    from eda_sim.kafka import Producer, Consumer      # from confluent_kafka import ...
    conf = {"bootstrap.servers": sim.bootstrap_servers}  # "broker1:9092"

The client modelled is librdkafka's, defaults included: ``partitioner`` is
``consistent_random`` (CRC32), where Kafka's Java client uses murmur2. Set
``partitioner=murmur2_random`` when a key's partition must match a Java
producer's.

Kafka's Java consumer differs from librdkafka where two lessons depend on
it: its auto-commit runs inside ``poll()`` for what the earlier polls
returned, and ``max.poll.records`` caps a poll. :mod:`eda_sim.kafka.java`
models it as ``KafkaConsumer``, kept out of this module's names so that it is
never taken for confluent-kafka's ``Consumer``.

Transactions take confluent-kafka's calls too: a producer with
``transactional.id`` has ``init_transactions``, ``begin_transaction``,
``send_offsets_to_transaction(offsets, consumer.consumer_group_metadata())``,
``commit_transaction`` and ``abort_transaction``; consumers default to
``isolation.level=read_committed``, as librdkafka does. The rules are in
:mod:`eda_sim.broker.transactions`.

The admin client has confluent-kafka's group and record calls too:
``list_consumer_group_offsets``/``alter_consumer_group_offsets`` with
``ConsumerGroupTopicPartitions``, ``describe_consumer_groups``,
``list_consumer_groups``, ``delete_consumer_groups``, ``list_offsets`` with
``OffsetSpec`` and ``delete_records`` (:mod:`eda_sim.kafka.admin_groups`,
:mod:`eda_sim.kafka.admin_records`). confluent-kafka keeps some of these
names in ``confluent_kafka.admin``; here all are in both modules.

Share groups (KIP-932) take confluent-kafka 2.16's ``ShareConsumer`` with
``AcknowledgeType``; see :mod:`eda_sim.kafka.share_consumer`.
"""

from eda_sim.core.errors import KafkaError, KafkaException
from eda_sim.kafka.admin import (
    AdminClient,
    ClusterMetadata,
    ConsumerGroupDescription,
    ConsumerGroupListing,
    ConsumerGroupState,
    ConsumerGroupTopicPartitions,
    ConsumerGroupType,
    DeletedRecords,
    IsolationLevel,
    ListConsumerGroupsResult,
    ListOffsetsResultInfo,
    MemberAssignment,
    MemberDescription,
    NewPartitions,
    NewTopic,
    Node,
    OffsetSpec,
    TopicCollection,
    TopicDescription,
    TopicMetadata,
    TopicPartitionInfo,
)
from eda_sim.kafka.consumer import Consumer
from eda_sim.kafka.message import (
    OFFSET_BEGINNING,
    OFFSET_END,
    OFFSET_INVALID,
    OFFSET_STORED,
    TIMESTAMP_CREATE_TIME,
    TIMESTAMP_NOT_AVAILABLE,
    Message,
    TopicPartition,
)
from eda_sim.kafka.producer import Producer
from eda_sim.kafka.share_consumer import AcknowledgeType, IllegalStateException, ShareConsumer

__all__ = [
    "AcknowledgeType",
    "AdminClient",
    "ClusterMetadata",
    "Consumer",
    "ConsumerGroupDescription",
    "ConsumerGroupListing",
    "ConsumerGroupState",
    "ConsumerGroupTopicPartitions",
    "ConsumerGroupType",
    "DeletedRecords",
    "IllegalStateException",
    "IsolationLevel",
    "KafkaError",
    "KafkaException",
    "ListConsumerGroupsResult",
    "ListOffsetsResultInfo",
    "MemberAssignment",
    "MemberDescription",
    "Message",
    "NewPartitions",
    "NewTopic",
    "Node",
    "OFFSET_BEGINNING",
    "OFFSET_END",
    "OFFSET_INVALID",
    "OFFSET_STORED",
    "OffsetSpec",
    "Producer",
    "ShareConsumer",
    "TIMESTAMP_CREATE_TIME",
    "TIMESTAMP_NOT_AVAILABLE",
    "TopicCollection",
    "TopicDescription",
    "TopicMetadata",
    "TopicPartition",
    "TopicPartitionInfo",
]
