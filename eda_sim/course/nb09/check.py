"""Checks for notebook 09 (schemas): a version 2 that a registry in FULL mode really accepts.

Under Confluent's JSON Schema rules an open schema cannot gain a typed property under FULL
(``PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL``) and a closed one cannot either (the forward half:
``PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL``). Version 1 here is *partially open*: extra
properties are allowed when they are strings. A new optional string property is covered by that
both ways, so FULL accepts it.
"""

from __future__ import annotations

import copy
import json

from eda_sim.course.feedback import checker
from eda_sim.kafka.schema_registry import (
    JSONDeserializer,
    JSONSerializer,
    MessageField,
    Schema,
    SchemaRegistryClient,
    SerializationContext,
    SerializationError,
)
from eda_sim.kafka.schema_registry.client import json_validator

#: Version 1 of the event the exercise evolves: partially open (extra properties must be strings).
VIEW_V1 = {
    "title": "UserViewedProduct",
    "type": "object",
    "properties": {
        "user_id": {"type": "string"},
        "product_id": {"type": "string"},
        "price": {"type": "number"},
    },
    "required": ["user_id", "product_id", "price"],
    "additionalProperties": {"type": "string"},
}

#: An event written by a version-1 producer.
OLD_EVENT = {"user_id": "u7", "product_id": "p42", "price": 19.5}
_SUBJECT = "product-views-value"


def _as_schema(v2) -> Schema | None:
    if isinstance(v2, Schema):
        return v2 if v2.schema_type == "JSON" else None
    if isinstance(v2, dict):
        return Schema(json.dumps(v2), "JSON")
    if isinstance(v2, str):
        return Schema(v2, "JSON")
    return None


def _starter(v2) -> bool:
    return isinstance(v2, dict) and v2 == VIEW_V1


@checker(
    "schema-evolution",
    "Exercise 09 · add 'device' so that a FULL registry accepts it",
    items=[
        ("valid", 1, "v2 is a valid JSON object schema"),
        ("has-device", 1, "v2 has a 'device' property"),
        ("accepted", 2, "the registry accepts v2 under FULL"),
        ("new-reads-old", 1, "a new consumer reads an event written with version 1"),
        ("old-reads-new", 1, "an old consumer reads an event written with v2"),
    ],
    hints=[
        "look at version 1's additionalProperties: which extra properties does it already let in?",
        "version 1 lets extra properties in when they are strings (its additionalProperties): keep that "
        "as it is, add 'device' as an optional string property (not in required), and keep every field "
        "of version 1 unchanged",
    ],
    starter=_starter,
    not_answered="my_v2 is still version 1; add 'device' to my_v2['properties'], then run the cell again",
)
def check_schema_evolution(fb, v2) -> None:
    """Check a proposed version 2 of :data:`VIEW_V1` with a ``device`` field under FULL."""
    schema = _as_schema(v2)
    if schema is None:
        fb.invalid(
            "v2 should be a JSON Schema: a dict (or its JSON text, or Schema(..., 'JSON')), "
            f"got {type(v2).__name__}"
        )
        return
    try:
        parsed = json.loads(schema.schema_str)
        json_validator(parsed)
    except Exception as err:  # noqa: BLE001 - not JSON, or not a valid schema for its draft
        fb.invalid(f"v2 is not a valid JSON Schema: {err}")
        return
    if not isinstance(parsed, dict):
        fb.invalid(f"v2 should be a JSON object schema, got {parsed!r}")
        return
    fb.ok("valid", "v2 is a valid JSON Schema")
    props = parsed.get("properties") if isinstance(parsed.get("properties"), dict) else {}
    if not fb.mark(
        "has-device",
        "device" in props,
        "v2 has a 'device' property",
        "v2 has no 'device' property yet",
    ):
        return
    registry = SchemaRegistryClient()
    registry.set_compatibility(_SUBJECT, "FULL")
    registry.register_schema(_SUBJECT, Schema(json.dumps(VIEW_V1), "JSON"))
    verdict = registry.check_compatibility(_SUBJECT, schema)
    problems = "; ".join(dict.fromkeys(f"{p.type} at {p.path}" for p in verdict.problems))
    if not fb.mark(
        "accepted",
        verdict.is_compatible,
        "the registry accepts v2 under FULL",
        f"the registry refuses v2 under FULL: {problems}",
    ):
        return
    registry.register_schema(_SUBJECT, schema)
    ctx = SerializationContext("product-views", MessageField.VALUE)
    old_bytes = JSONSerializer(json.dumps(VIEW_V1), registry)(copy.deepcopy(OLD_EVENT), ctx)
    new_reader = JSONDeserializer(schema.schema_str, schema_registry_client=registry)
    try:
        fb.ok("new-reads-old", f"a new consumer reads an old event as {new_reader(old_bytes, ctx)}")
    except SerializationError as err:
        fb.fail("new-reads-old", f"a new consumer cannot read an old event: {err}")
    new_event = {**OLD_EVENT, "device": "ios"}
    try:
        new_bytes = JSONSerializer(schema.schema_str, registry)(new_event, ctx)
    except SerializationError as err:
        fb.fail("old-reads-new", f"a new producer cannot write {new_event}: {err}")
        return
    old_reader = JSONDeserializer(json.dumps(VIEW_V1), schema_registry_client=registry)
    try:
        fb.ok("old-reads-new", f"an old consumer reads a new event as {old_reader(new_bytes, ctx)}")
    except SerializationError as err:
        fb.fail("old-reads-new", f"an old consumer cannot read a new event: {err}")


hint = check_schema_evolution.hint
