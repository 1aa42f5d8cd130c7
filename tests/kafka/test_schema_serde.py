"""Tests for eda_sim.kafka.schema_registry.serde: Confluent's wire format, subject names, serializers."""

import io
import json
import struct

import fastavro
import pytest

from eda_sim.core.errors import KafkaError
from eda_sim.kafka.schema_registry import (
    AvroDeserializer,
    AvroSerializer,
    JSONDeserializer,
    JSONSerializer,
    MessageField,
    Schema,
    SchemaRegistryClient,
    SerializationContext,
    SerializationError,
    pack,
    record_subject_name_strategy,
    topic_record_subject_name_strategy,
    topic_subject_name_strategy,
    unpack,
)

VIEW = {
    "title": "UserViewedProduct",
    "type": "object",
    "properties": {"user_id": {"type": "string"}, "price": {"type": "number"}},
    "required": ["user_id"],
}
AVRO_VIEW = {
    "type": "record",
    "name": "UserViewedProduct",
    "namespace": "shop",
    "fields": [{"name": "user_id", "type": "string"}, {"name": "price", "type": "double"}],
}
CTX = SerializationContext("views", MessageField.VALUE)


def test_wire_format_is_magic_byte_then_big_endian_id_then_payload():
    assert pack(258, b"{}") == b"\x00\x00\x00\x01\x02{}"
    assert unpack(b"\x00\x00\x00\x01\x02{}") == (258, b"{}")
    with pytest.raises(SerializationError, match="magic byte 1"):
        unpack(b"\x01\x00\x00\x00\x01{}")
    with pytest.raises(SerializationError, match="too small"):
        unpack(b"\x00\x00")


def test_json_serializer_registers_under_the_topic_subject_and_writes_the_id():
    registry = SchemaRegistryClient()
    data = JSONSerializer(json.dumps(VIEW), registry)({"user_id": "u1", "price": 2.5}, CTX)
    schema_id = registry.get_latest_version("views-value").schema_id
    assert data[:5] == struct.pack(">bI", 0, schema_id)
    assert json.loads(data[5:]) == {"user_id": "u1", "price": 2.5}
    reader = JSONDeserializer(json.dumps(VIEW), schema_registry_client=registry)
    assert reader(data, CTX) == {"user_id": "u1", "price": 2.5}


def test_json_serializer_refuses_an_invalid_value():
    serialize = JSONSerializer(json.dumps(VIEW), SchemaRegistryClient())
    with pytest.raises(SerializationError, match="price") as err:
        serialize({"user_id": "u1", "price": "cheap"}, CTX)
    assert err.value.error.code() == KafkaError._VALUE_SERIALIZATION


def test_json_deserializer_does_not_fill_defaults():
    registry = SchemaRegistryClient()
    data = JSONSerializer(json.dumps(VIEW), registry)({"user_id": "u1"}, CTX)
    v2 = dict(
        VIEW, properties={**VIEW["properties"], "device": {"type": "string", "default": "web"}}
    )
    assert JSONDeserializer(json.dumps(v2), schema_registry_client=registry)(data, CTX) == {
        "user_id": "u1"
    }


@pytest.mark.parametrize(
    "mangle, reason",
    [
        (lambda d: b"\x01" + d[1:], "magic byte"),
        (lambda d: d[:1] + struct.pack(">I", 99) + d[5:], "unknown schema id 99"),
        (lambda d: d[:5] + b'{"user_id": 7}', "not valid for the schema"),
        (lambda d: d[:5] + b"\xff\xfe", "not JSON"),
    ],
)
def test_json_deserializer_names_what_is_wrong(mangle, reason):
    registry = SchemaRegistryClient()
    data = JSONSerializer(json.dumps(VIEW), registry)({"user_id": "u1"}, CTX)
    reader = JSONDeserializer(json.dumps(VIEW), schema_registry_client=registry)
    with pytest.raises(SerializationError, match=reason) as err:
        reader(mangle(data), CTX)
    assert err.value.error.code() == KafkaError._VALUE_DESERIALIZATION


def test_avro_round_trip_is_real_avro_binary():
    registry = SchemaRegistryClient()
    data = AvroSerializer(registry, json.dumps(AVRO_VIEW))({"user_id": "u1", "price": 2.5}, CTX)
    schema_id, payload = unpack(data)
    # the payload is plain Avro binary: fastavro reads it with the schema and nothing else
    assert fastavro.schemaless_reader(io.BytesIO(payload), fastavro.parse_schema(AVRO_VIEW)) == {
        "user_id": "u1",
        "price": 2.5,
    }
    assert payload == b"\x04u1" + struct.pack("<d", 2.5)
    assert AvroDeserializer(registry)(data, CTX) == {"user_id": "u1", "price": 2.5}


def test_avro_reader_schema_resolves_renames_and_defaults():
    registry = SchemaRegistryClient()
    data = AvroSerializer(registry, json.dumps(AVRO_VIEW))({"user_id": "u1", "price": 2.5}, CTX)
    reader = dict(
        AVRO_VIEW,
        fields=[
            {"name": "user_id", "type": "string"},
            {"name": "amount", "type": "double", "aliases": ["price"]},
            {"name": "device", "type": "string", "default": "web"},
        ],
    )
    value = AvroDeserializer(registry, json.dumps(reader))(data, CTX)
    assert value == {"user_id": "u1", "amount": 2.5, "device": "web"}


def test_avro_deserializer_reports_an_unreadable_payload():
    registry = SchemaRegistryClient()
    data = AvroSerializer(registry, json.dumps(AVRO_VIEW))({"user_id": "u1", "price": 2.5}, CTX)
    with pytest.raises(SerializationError, match="cannot read"):
        AvroDeserializer(registry)(data[:8], CTX)
    with pytest.raises(SerializationError, match="left over"):
        AvroDeserializer(registry)(data + b"\x00", CTX)
    json_id = registry.register_schema("other", Schema(json.dumps(VIEW), "JSON"))
    with pytest.raises(SerializationError, match="JSON schema"):
        AvroDeserializer(registry)(pack(json_id, b"{}"), CTX)


def test_subject_name_strategies():
    ctx = SerializationContext("views", MessageField.KEY)
    assert topic_subject_name_strategy(ctx, "shop.View") == "views-key"
    assert record_subject_name_strategy(ctx, "shop.View") == "shop.View"
    assert topic_record_subject_name_strategy(ctx, "shop.View") == "views-shop.View"
    with pytest.raises(SerializationError, match="record name"):
        record_subject_name_strategy(ctx, None)
    registry = SchemaRegistryClient()
    conf = {"subject.name.strategy": topic_record_subject_name_strategy}
    AvroSerializer(registry, json.dumps(AVRO_VIEW), conf=conf)({"user_id": "u", "price": 1.0}, CTX)
    JSONSerializer(json.dumps(VIEW), registry, conf=conf)({"user_id": "u"}, CTX)
    assert registry.get_subjects() == ["views-UserViewedProduct", "views-shop.UserViewedProduct"]


def test_serializer_without_auto_register_needs_the_schema_registered():
    registry = SchemaRegistryClient()
    serialize = JSONSerializer(json.dumps(VIEW), registry, conf={"auto.register.schemas": False})
    with pytest.raises(SerializationError, match="not found"):
        serialize({"user_id": "u"}, CTX)
    registry.register_schema("views-value", Schema(json.dumps(VIEW), "JSON"))
    assert unpack(serialize({"user_id": "u"}, CTX))[0] == 1
    with pytest.raises(ValueError, match="auto.register.schemas"):
        JSONSerializer(json.dumps(VIEW), registry, conf={"auto.register": True})


def test_none_is_a_tombstone_both_ways():
    registry = SchemaRegistryClient()
    assert JSONSerializer(json.dumps(VIEW), registry)(None, CTX) is None
    assert JSONDeserializer(json.dumps(VIEW))(None, CTX) is None
