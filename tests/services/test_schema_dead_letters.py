"""A service reading Confluent's wire format: records that do not deserialize go to the DLT."""

import json

from eda_sim import Simulation
from eda_sim.kafka.schema_registry import (
    JSONDeserializer,
    JSONSerializer,
    MessageField,
    SchemaRegistryClient,
    SerializationContext,
    pack,
)
from eda_sim.services.load import Source
from eda_sim.services.retries import H_EXCEPTION, H_MESSAGE, H_OFFSET, dead_letters
from eda_sim.services.service import Service

VIEW = {
    "type": "object",
    "properties": {"user_id": {"type": "string"}, "price": {"type": "number"}},
    "required": ["user_id", "price"],
}


def world():
    sim = Simulation(seed=3)
    sim.create_topic("views", partitions=1)
    registry = SchemaRegistryClient()
    serializer = JSONSerializer(json.dumps(VIEW), registry)
    ctx = SerializationContext("views", MessageField.VALUE)
    good = serializer({"user_id": "u1", "price": 5}, ctx)
    items = [
        {"time": 0.1, "type": "Viewed", "user_id": "u1", "price": 5},
        b"\x01" + good[1:],  # wrong magic byte
        pack(42, good[5:]),  # a schema id the registry never gave
        good[:5] + b'{"user_id": "u2", "price": "free"}',  # invalid for its schema
        {"time": 0.5, "type": "Viewed", "user_id": "u3", "price": 7},
    ]
    Source(sim, "web", "views", items, value_serializer=serializer, produces=["Viewed"])
    seen = []
    Service(
        sim,
        "pricing",
        consumes="views",
        handlers={"Viewed": lambda event, ctx: seen.append(dict(event.payload))},
        value_deserializer=JSONDeserializer(json.dumps(VIEW), schema_registry_client=registry),
    )
    sim.run(until=3)
    return sim, seen


def test_good_records_are_handled_from_the_wire_format():
    _, seen = world()
    assert seen == [{"user_id": "u1", "price": 5}, {"user_id": "u3", "price": 7}]


def test_records_that_do_not_deserialize_go_to_the_dlt_with_the_reason():
    sim, _ = world()
    dlt = dead_letters(sim, "views.DLT")
    assert list(dlt["original_offset"]) == [1, 2, 3]
    messages = list(dlt["message"])
    assert "Unexpected magic byte 1" in messages[0]
    assert "unknown schema id 42" in messages[1]
    assert "price" in messages[2] and "not of type 'number'" in messages[2]
    # the reason is in the record's headers, as retries.dead_letter writes them
    consumer = sim.consumer({"group.id": "audit", "auto.offset.reset": "earliest"})
    consumer.subscribe(["views.DLT"])
    records = []
    while len(records) < 3:
        m = consumer.poll(1.0)
        if m is not None:
            records.append(m)
    headers = dict(records[0].headers())
    assert headers[H_EXCEPTION] in (
        b"eda_sim.kafka.schema_registry.serde.SerializationError",
        "eda_sim.kafka.schema_registry.serde.SerializationError",
    )
    text = headers[H_MESSAGE]
    assert "magic byte" in (text.decode() if isinstance(text, bytes) else text)
    assert headers[H_OFFSET] in (b"1", "1")
