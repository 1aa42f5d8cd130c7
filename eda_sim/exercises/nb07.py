"""Checks for notebook 07 (schemas): evolve a schema so the registry accepts it."""

from __future__ import annotations

from ..schemas import SchemaRegistry, check_schema, conform, object_schema
from .feedback import checker

#: Version 1 of the event the exercise evolves.
VIEW_V1 = object_schema(
    {"user_id": "string", "product_id": "string", "price": "number"},
    required=["user_id", "product_id", "price"],
    title="UserViewedProduct",
)

#: An event written by a version-1 producer.
OLD_EVENT = {"user_id": "u7", "product_id": "p42", "price": 19.5}


@checker(
    "Exercise 07 · add 'device' so both old and new consumers keep working",
    hint='give the new field a default (e.g. ("string", "unknown") with object_schema) and leave it out '
    "of required; keep every field of version 1 with its type",
)
def check_schema_evolution(fb, v2) -> None:
    """Check a proposed version 2 of :data:`VIEW_V1` that adds a ``device`` field, under FULL compatibility."""
    if not isinstance(v2, dict):
        fb.miss(
            f"v2 should be a JSON Schema dict (object_schema(...) builds one), got {type(v2).__name__}"
        )
        return
    try:
        check_schema(v2)
    except (TypeError, ValueError) as err:
        fb.miss(f"v2 is not a valid JSON Schema: {err}")
        return
    fb.ok("v2 is a valid JSON Schema")
    props = v2.get("properties", {})
    if not fb.expect("device" in props, "v2 has a 'device' field", "v2 has no 'device' field yet"):
        return
    registry = SchemaRegistry(compatibility="FULL")
    registry.register("product-views-value", VIEW_V1)
    verdict = registry.check_compatibility("product-views-value", v2)
    if fb.expect(
        verdict.compatible,
        "the registry accepts v2 under FULL compatibility",
        "the registry refuses v2 under FULL: " + "; ".join(p.message for p in verdict.problems),
    ):
        fb.ok(f"a new consumer reads an old event as {conform(OLD_EVENT, v2)}")
        fb.ok(
            f"an old consumer reads a new event as {conform({**OLD_EVENT, 'device': 'ios'}, VIEW_V1)}"
        )
