"""Tests for eda_sim.kafka.schema_registry.client: subjects, versions, ids and compatibility levels."""

import json

import pytest

from eda_sim.kafka.schema_registry import (
    COMPATIBILITY_LEVELS,
    Schema,
    SchemaRegistryClient,
    SchemaRegistryError,
)


def js(properties, required=(), **extra):
    schema = {"type": "object", "properties": properties, **extra}
    if required:
        schema["required"] = list(required)
    return Schema(json.dumps(schema), "JSON")


def avro(*fields, name="View"):
    return Schema(json.dumps({"type": "record", "name": name, "fields": list(fields)}))


S, N = {"type": "string"}, {"type": "number"}


def test_register_gives_versions_and_global_ids_shared_across_subjects():
    registry = SchemaRegistryClient()
    v1 = js({"a": S}, additionalProperties=False)
    v2 = js({"a": S, "b": N}, additionalProperties=False)
    assert registry.register_schema("t-value", v1) == 1
    assert registry.register_schema("t-value", v2) == 2
    assert registry.register_schema("u-value", v1) == 1  # same schema, same id
    assert registry.register_schema("t-value", v1) == 1  # already there: no new version
    assert registry.get_versions("t-value") == [1, 2]
    latest = registry.get_latest_version("t-value")
    assert (latest.subject, latest.version, latest.schema_id) == ("t-value", 2, 2)
    assert registry.get_version("t-value", 1).schema == v1
    assert registry.get_schema(2) == v2
    assert registry.get_subjects() == ["t-value", "u-value"]
    assert registry.lookup_schema("t-value", v2).version == 2


def test_unknown_subject_version_and_id_answer_with_confluents_codes():
    registry = SchemaRegistryClient()
    registry.register_schema("t-value", js({"a": S}))
    cases = [
        (lambda: registry.get_latest_version("nope"), 40401),
        (lambda: registry.get_version("t-value", 3), 40402),
        (lambda: registry.get_schema(9), 40403),
        (lambda: registry.lookup_schema("t-value", js({"b": S})), 40403),
    ]
    for call, code in cases:
        with pytest.raises(SchemaRegistryError) as err:
            call()
        assert err.value.error_code == code and err.value.http_status_code == 404


def test_default_level_is_backward_and_levels_are_per_subject_or_global():
    registry = SchemaRegistryClient()
    assert registry.get_compatibility() == "BACKWARD"
    assert registry.set_compatibility("t-value", "full") == "FULL"
    assert registry.get_compatibility("t-value") == "FULL"
    assert registry.get_compatibility("other") == "BACKWARD"
    registry.set_compatibility(level="NONE")
    assert registry.get_compatibility("other") == "NONE"
    assert registry.get_compatibility("t-value") == "FULL"
    with pytest.raises(SchemaRegistryError) as err:
        registry.set_compatibility("t-value", "SIDEWAYS")
    assert err.value.error_code == 42203
    assert all(level in str(err.value) for level in COMPATIBILITY_LEVELS)


def test_incompatible_schema_is_refused_with_409_and_the_change_named():
    registry = SchemaRegistryClient()
    registry.register_schema("t-value", js({"a": S}))
    with pytest.raises(SchemaRegistryError) as err:
        registry.register_schema("t-value", js({"a": S, "b": N}))
    assert err.value.http_status_code == 409
    assert "PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL" in str(err.value)
    assert registry.get_versions("t-value") == [1]


def test_backward_checks_the_latest_version_only_and_transitive_checks_all():
    # v1 -> v2 removes 'b' from an open model (fine), v3 adds 'b' back as a number: fine against
    # v2 (open: nothing to contradict... except it is open, so it is refused) -- use closed models.
    v1 = js({"a": S, "b": S}, additionalProperties=False)
    v2 = js({"a": S, "b": S, "c": N}, additionalProperties=False)
    v3 = js({"a": S, "b": N, "c": N}, additionalProperties=False)  # b changes type vs v1 and v2
    registry = SchemaRegistryClient()
    registry.set_compatibility(level="NONE")
    for v in (v1, v2):
        registry.register_schema("t-value", v)
    registry.set_compatibility("t-value", "BACKWARD")
    verdict = registry.check_compatibility("t-value", v3)
    assert verdict.checked == (2,) and not verdict.is_compatible
    # Avro's textbook case: each step is backward-compatible with the one before it, but
    # version 3 cannot read what version 1 wrote ('a' came back with another type).
    w1 = avro({"name": "a", "type": "string"}, {"name": "b", "type": "int"})
    w2 = avro({"name": "b", "type": "int"})
    w3 = avro({"name": "b", "type": "int"}, {"name": "a", "type": "int", "default": 0})
    registry = SchemaRegistryClient()
    registry.register_schema("w", w1)
    registry.register_schema("w", w2)
    assert registry.test_compatibility("w", w3)  # against the latest: fine
    assert registry.check_compatibility("w", w3).checked == (2,)
    registry.set_compatibility("w", "BACKWARD_TRANSITIVE")
    verdict = registry.check_compatibility("w", w3)
    assert verdict.checked == (1, 2)
    assert [(p.type, p.path, p.version) for p in verdict.problems] == [
        ("TYPE_MISMATCH", "/fields/a", 1)
    ]
    assert not registry.test_compatibility_all_versions("w", w3)
    assert registry.test_compatibility("w", w3, version=2)
    assert not registry.test_compatibility("w", w3, version=1)


def test_json_drafts_are_read_from_dollar_schema():
    registry = SchemaRegistryClient()
    draft7_tuple = {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "array",
        "items": [{"type": "string"}, {"type": "number"}],
    }
    registry.register_schema("tuple-value", Schema(json.dumps(draft7_tuple), "JSON"))
    bad_2020 = dict(draft7_tuple, **{"$schema": "https://json-schema.org/draft/2020-12/schema"})
    with pytest.raises(SchemaRegistryError) as err:
        registry.register_schema("tuple2-value", Schema(json.dumps(bad_2020), "JSON"))
    assert err.value.error_code == 42201 and "Draft202012Validator" in str(err.value)


def test_invalid_schemas_and_types_are_refused():
    registry = SchemaRegistryClient()
    with pytest.raises(SchemaRegistryError) as err:
        registry.register_schema("x", Schema('{"type": "recrod", "name": "X"}'))  # no such type
    assert err.value.error_code == 42201
    with pytest.raises(SchemaRegistryError):
        registry.register_schema("x", Schema("{not json", "JSON"))
    with pytest.raises(ValueError, match="AVRO, JSON"):
        Schema("{}", "PROTOBUF")
    with pytest.raises(TypeError, match="json.dumps"):
        Schema({"type": "string"}, "JSON")
    with pytest.raises(ValueError, match="url"):
        SchemaRegistryClient({"schema.registry.url": "x"})


def test_avro_rename_with_alias_and_default_passes_full():
    registry = SchemaRegistryClient()
    registry.set_compatibility("v", "FULL")
    registry.register_schema("v", avro({"name": "price", "type": "double"}))
    renamed = avro({"name": "amount", "type": "double", "aliases": ["price"]})
    verdict = registry.check_compatibility("v", renamed)
    # backward: the alias finds 'price'; forward: the old reader needs 'price' and has no default
    assert [p.type for p in verdict.problems] == ["READER_FIELD_MISSING_DEFAULT_VALUE"]
    both = avro({"name": "amount", "type": "double", "aliases": ["price"], "default": 0.0})
    registry.set_compatibility("v", "BACKWARD")
    assert registry.check_compatibility("v", both).is_compatible


def test_schema_type_change_is_refused():
    registry = SchemaRegistryClient()
    registry.register_schema("v", avro({"name": "a", "type": "string"}))
    verdict = registry.check_compatibility("v", js({"a": S}))
    assert [p.type for p in verdict.problems] == ["SCHEMA_TYPE_CHANGED"]


def test_table_lists_every_version():
    registry = SchemaRegistryClient()
    registry.register_schema("t-value", js({"a": S}))
    table = registry.table()
    assert table.to_dict("records") == [
        {"subject": "t-value", "version": 1, "id": 1, "type": "JSON", "compatibility": "BACKWARD"}
    ]
