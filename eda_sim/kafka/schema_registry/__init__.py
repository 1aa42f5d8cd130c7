"""A schema registry and serializers shaped like confluent-kafka's ``confluent_kafka.schema_registry``.

Code written against this package runs against Confluent's after changing the imports and giving
the client a ``url``::

    from eda_sim.kafka.schema_registry import (
        Schema, SchemaRegistryClient, JSONSerializer, SerializationContext, MessageField,
    )

    registry = SchemaRegistryClient()
    serialize = JSONSerializer(schema_str, registry)
    value = serialize({"user_id": "u7"}, SerializationContext("views", MessageField.VALUE))
    value[:5]   # b'\\x00\\x00\\x00\\x00\\x01': magic byte 0, then schema id 1

The modules: :mod:`.client` (subjects, versions, ids, compatibility levels), :mod:`.serde` (the
wire format, subject name strategies, serializers), :mod:`.json_diff` (Confluent's JSON Schema
rules), :mod:`.avro_compat` (Avro's schema resolution rules).
"""

from eda_sim.kafka.schema_registry.client import (
    COMPATIBILITY_LEVELS,
    SCHEMA_TYPES,
    Problem,
    RegisteredSchema,
    Schema,
    SchemaRegistryClient,
    SchemaRegistryError,
    Verdict,
)
from eda_sim.kafka.schema_registry.serde import (
    MAGIC_BYTE,
    AvroDeserializer,
    AvroSerializer,
    JSONDeserializer,
    JSONSerializer,
    MessageField,
    SerializationContext,
    SerializationError,
    pack,
    record_subject_name_strategy,
    topic_record_subject_name_strategy,
    topic_subject_name_strategy,
    unpack,
)

__all__ = [
    "COMPATIBILITY_LEVELS",
    "MAGIC_BYTE",
    "SCHEMA_TYPES",
    "AvroDeserializer",
    "AvroSerializer",
    "JSONDeserializer",
    "JSONSerializer",
    "MessageField",
    "Problem",
    "RegisteredSchema",
    "Schema",
    "SchemaRegistryClient",
    "SchemaRegistryError",
    "SerializationContext",
    "SerializationError",
    "Verdict",
    "pack",
    "record_subject_name_strategy",
    "topic_record_subject_name_strategy",
    "topic_subject_name_strategy",
    "unpack",
]
