"""Tests for eda_sim.services.schemas: JSON Schema events, validation and the schema registry."""

from __future__ import annotations

import doctest

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eda_sim.services import schemas
from eda_sim.services.schemas import (
    MODES,
    RULES,
    IncompatibleSchemaError,
    Problem,
    SchemaRegistry,
    SchemaValidationError,
    UnknownSubjectError,
    Verdict,
    check_schema,
    compare,
    conform,
    object_schema,
    topic_subject,
    validate,
)

# --------------------------------------------------------------------------- helpers

V1 = object_schema(
    {"user_id": "string", "product_id": "string", "price": ("number", 0.0), "qty": "integer"},
    required=["user_id", "product_id", "qty"],
    title="UserViewedProduct",
)


def evolve(base: dict, *, add=None, drop=(), required=None, closed=None) -> dict:
    """A new version of ``base``: add fields (name -> property schema), drop fields,
    replace the required list, open or close the content model."""
    new = {k: v for k, v in base.items() if k not in ("properties", "required")}
    props = {k: dict(v) for k, v in base["properties"].items() if k not in drop}
    props.update(add or {})
    new["properties"] = props
    req = required if required is not None else base.get("required", [])
    req = [r for r in req if r in props]
    if req:
        new["required"] = req
    if closed is True:
        new["additionalProperties"] = False
    elif closed is False:
        new.pop("additionalProperties", None)
    return new


def retype(base: dict, field: str, new_type) -> dict:
    new = evolve(base)
    new["properties"][field] = {"type": new_type}
    return new


OK = None  # expected verdict: compatible

# (case, old, new, {mode: None (compatible) or (field, rule, message fragment)})
CASES = [
    (
        "add optional field with default",
        V1,
        evolve(V1, add={"currency": {"type": "string", "default": "EUR"}}),
        {"BACKWARD": OK, "FORWARD": OK, "FULL": OK},
    ),
    (
        "add required field without default",
        V1,
        evolve(
            V1,
            add={"session_id": {"type": "string"}},
            required=["user_id", "product_id", "qty", "session_id"],
        ),
        {
            "BACKWARD": ("session_id", "required_field_missing", "needs a default"),
            "FORWARD": OK,
            "FULL": ("session_id", "required_field_missing", "needs a default"),
        },
    ),
    (
        "remove field with default",
        V1,
        evolve(V1, drop=["price"]),
        {"BACKWARD": OK, "FORWARD": OK, "FULL": OK},
    ),
    (
        "remove required field without default",
        V1,
        evolve(V1, drop=["qty"]),
        {
            "BACKWARD": OK,
            "FORWARD": ("qty", "required_field_missing", "cannot be removed"),
            "FULL": ("qty", "required_field_missing", "cannot be removed"),
        },
    ),
    (
        "change type integer -> string",
        V1,
        retype(V1, "qty", "string"),
        {
            "BACKWARD": ("qty", "incompatible_type", "from 'integer' to 'string'"),
            "FORWARD": ("qty", "incompatible_type", "from 'integer' to 'string'"),
            "FULL": ("qty", "incompatible_type", "from 'integer' to 'string'"),
        },
    ),
    (
        "widen type integer -> number",
        V1,
        retype(V1, "qty", "number"),
        {
            "BACKWARD": OK,
            "FORWARD": ("qty", "incompatible_type", "widening"),
            "FULL": ("qty", "incompatible_type", "widening"),
        },
    ),
    (
        "widen type list string -> [string, null]",
        V1,
        retype(V1, "product_id", ["string", "null"]),
        {
            "BACKWARD": OK,
            "FORWARD": ("product_id", "incompatible_type", "'null'"),
            "FULL": ("product_id", "incompatible_type", "'null'"),
        },
    ),
    (
        "rename a required field",
        V1,
        evolve(
            V1,
            drop=["user_id"],
            add={"customer_id": {"type": "string"}},
            required=["customer_id", "product_id", "qty"],
        ),
        {
            "BACKWARD": (
                "customer_id",
                "required_field_missing",
                "rename of 'user_id' to 'customer_id'",
            ),
            "FORWARD": (
                "user_id",
                "required_field_missing",
                "rename of 'user_id' to 'customer_id'",
            ),
            "FULL": ("customer_id", "required_field_missing", "rename"),
        },
    ),
    (
        "make an optional field required (no default)",
        evolve(V1, add={"coupon": {"type": "string"}}),
        evolve(
            V1,
            add={"coupon": {"type": "string"}},
            required=["user_id", "product_id", "qty", "coupon"],
        ),
        {
            "BACKWARD": ("coupon", "required_field_missing", "may lack it"),
            "FORWARD": OK,
            "FULL": ("coupon", "required_field_missing", "may lack it"),
        },
    ),
    (
        "closed model: add optional field with default",
        evolve(V1, closed=True),
        evolve(V1, add={"currency": {"type": "string", "default": "EUR"}}, closed=True),
        {
            "BACKWARD": OK,
            "FORWARD": ("currency", "closed_content_model", "additionalProperties: false"),
            "FULL": ("currency", "closed_content_model", "additionalProperties: false"),
        },
    ),
    (
        "closed model: remove field with default",
        evolve(V1, closed=True),
        evolve(V1, drop=["price"], closed=True),
        {
            "BACKWARD": ("price", "closed_content_model", "additionalProperties: false"),
            "FORWARD": OK,
            "FULL": ("price", "closed_content_model", "additionalProperties: false"),
        },
    ),
    (
        "nested object field changes type",
        evolve(V1, add={"address": object_schema({"city": "string", "zip": "integer"})}),
        evolve(V1, add={"address": object_schema({"city": "string", "zip": "string"})}),
        {
            "BACKWARD": ("address.zip", "incompatible_type", "'integer'"),
            "FORWARD": ("address.zip", "incompatible_type", "'string'"),
            "FULL": ("address.zip", "incompatible_type", "from 'integer' to 'string'"),
        },
    ),
    (
        "nested object gains a required field",
        evolve(V1, add={"address": object_schema({"city": "string"})}),
        evolve(
            V1,
            add={"address": object_schema({"city": "string", "zip": "string"}, required=["zip"])},
        ),
        {
            "BACKWARD": ("address.zip", "required_field_missing", "needs a default"),
            "FORWARD": OK,
            "FULL": ("address.zip", "required_field_missing", "needs a default"),
        },
    ),
]

TABLE = [
    pytest.param(old, new, mode, expected, id=f"{case} [{mode}]")
    for case, old, new, by_mode in CASES
    for mode, expected in by_mode.items()
]


# --------------------------------------------------------------------------- compatibility table


@pytest.mark.parametrize("old, new, mode, expected", TABLE)
def test_compatibility_table_decides_each_case_and_names_field_and_rule(old, new, mode, expected):
    registry = SchemaRegistry(compatibility=mode)
    registry.register("views-value", old)
    verdict = registry.check_compatibility("views-value", new)
    if expected is OK:
        assert verdict.compatible, str(verdict)
        assert verdict.problems == ()
        assert registry.register("views-value", new).version == 2
        return
    field, rule, fragment = expected
    assert not verdict.compatible
    assert any(
        p.field == field and p.rule == rule and fragment in p.message for p in verdict.problems
    ), str(verdict)
    text = str(verdict)
    assert f"'{field}'" in text and rule in text and fragment in text
    with pytest.raises(IncompatibleSchemaError) as info:
        registry.register("views-value", new)
    assert info.value.problems == verdict.problems
    assert rule in str(info.value) and f"'{field}'" in str(info.value)
    assert registry.versions("views-value") == [1]


@pytest.mark.parametrize("case, old, new, by_mode", CASES, ids=[c[0] for c in CASES])
def test_full_is_backward_and_forward_together(case, old, new, by_mode):
    full = compare(old, new, "FULL")
    backward, forward = compare(old, new, "BACKWARD"), compare(old, new, "FORWARD")
    assert full.compatible == (backward.compatible and forward.compatible)
    assert set(full.problems) == set(backward.problems) | set(forward.problems)


def test_every_problem_names_a_documented_rule():
    for _, old, new, _ in CASES:
        for p in compare(old, new, "FULL").problems:
            assert p.rule in RULES


def test_a_field_constraint_the_writer_does_not_guarantee_is_reported():
    new = evolve(V1, add={"price": {"type": "number", "minimum": 0, "default": 0.0}})
    verdict = compare(V1, new, "BACKWARD")
    assert [(p.field, p.rule) for p in verdict.problems] == [("price", "constraint_changed")]
    assert "minimum" in verdict.problems[0].message
    assert compare(V1, new, "FORWARD").compatible  # the old reader has no minimum


def test_an_enum_may_grow_for_new_readers_but_not_for_old_ones():
    old = object_schema({"status": {"enum": ["new", "paid"]}})
    new = object_schema({"status": {"enum": ["new", "paid", "shipped"]}})
    assert compare(old, new, "BACKWARD").compatible
    verdict = compare(old, new, "FORWARD")
    assert [(p.field, p.rule) for p in verdict.problems] == [("status", "constraint_changed")]
    assert '"shipped"' in verdict.problems[0].message


# --------------------------------------------------------------------------- transitive, NONE


def chain():
    """v1 has an integer 'x'; v2 drops it; v3 brings 'x' back as a string with a default.
    Each step is BACKWARD-compatible with the one before, but v3 cannot read v1's data."""
    v1 = object_schema({"id": "string", "x": "integer"}, required=["id"])
    v2 = object_schema({"id": "string"}, required=["id"])
    v3 = object_schema({"id": "string", "x": ("string", "")}, required=["id"])
    return v1, v2, v3


@pytest.mark.parametrize(
    "mode, compatible",
    [
        ("BACKWARD", True),
        ("BACKWARD_TRANSITIVE", False),
        ("FULL", True),
        ("FULL_TRANSITIVE", False),
        ("FORWARD", True),
        ("FORWARD_TRANSITIVE", False),
    ],
)
def test_transitive_checks_every_earlier_version_non_transitive_only_the_latest(mode, compatible):
    v1, v2, v3 = chain()
    registry = SchemaRegistry(compatibility=mode)
    registry.register("s", v1)
    registry.register("s", v2)
    verdict = registry.check_compatibility("s", v3)
    assert verdict.compatible is compatible, str(verdict)
    if compatible:
        assert verdict.against == ("version 2",)
        assert registry.register("s", v3).version == 3
    else:
        assert verdict.against == ("version 1", "version 2")
        assert {(p.field, p.rule) for p in verdict.problems} == {("x", "incompatible_type")}
        assert all("version 1" in p.message for p in verdict.problems)
        with pytest.raises(IncompatibleSchemaError, match=mode):
            registry.register("s", v3)


def test_transitive_mode_set_on_one_subject_after_the_fact():
    v1, v2, v3 = chain()
    registry = SchemaRegistry()
    registry.register("s", v1)
    registry.register("s", v2)
    registry.set_compatibility("BACKWARD_TRANSITIVE", subject="s")
    assert not registry.check_compatibility("s", v3).compatible
    assert SchemaRegistry().get_compatibility("s") == "BACKWARD"


def test_none_accepts_anything():
    registry = SchemaRegistry()
    registry.set_compatibility("NONE")
    registry.register("s", V1)
    unrelated = object_schema({"totally": "boolean"}, required=["totally"], closed=True)
    verdict = registry.check_compatibility("s", unrelated)
    assert verdict.compatible and verdict.problems == ()
    assert "NONE" in str(verdict)
    assert registry.register("s", unrelated).version == 2


def test_subject_mode_overrides_global_and_modes_are_recorded():
    registry = SchemaRegistry()
    assert registry.get_compatibility() == "BACKWARD"
    registry.set_compatibility("full", subject="a")  # case-insensitive
    assert registry.get_compatibility("a") == "FULL"
    assert registry.get_compatibility("b") == "BACKWARD"
    registry.set_compatibility("FORWARD")
    assert registry.get_compatibility("b") == "FORWARD"
    assert registry.register("a", V1).compatibility == "FULL"
    assert registry.register("b", V1).compatibility == "FORWARD"


# --------------------------------------------------------------------------- registry basics


def test_versions_ids_and_identical_re_registration():
    registry = SchemaRegistry()
    first = registry.register("views-value", V1)
    assert (first.subject, first.version, first.id, first.compatibility) == (
        "views-value",
        1,
        1,
        "BACKWARD",
    )
    again = registry.register("views-value", dict(reversed(list(V1.items()))))  # same content
    assert again == first
    assert registry.versions("views-value") == [1]

    v2 = evolve(V1, add={"currency": {"type": "string", "default": "EUR"}})
    second = registry.register("views-value", v2)
    assert (second.version, second.id) == (2, 2)
    # re-registering an older identical version returns it, not a new version
    assert registry.register("views-value", V1).version == 1

    other = registry.register("clicks-value", V1)  # same schema, another subject: same id
    assert (other.version, other.id) == (1, 1)
    assert registry.subjects() == ["clicks-value", "views-value"]
    assert registry.latest("views-value").version == 2
    assert registry.get("views-value", 1).schema == V1
    assert registry.get("views-value", "latest").version == 2
    assert registry.schema_by_id(2) == v2


def test_registry_hands_out_copies():
    registry = SchemaRegistry()
    registry.register("s", V1).schema["properties"].clear()
    registry.latest("s").schema["title"] = "changed"
    assert registry.latest("s").schema == V1


def test_table_lists_versions_sorted_by_subject_and_version():
    registry = SchemaRegistry()
    registry.register("views-value", V1)
    registry.register("views-value", evolve(V1, drop=["price"]))
    registry.register("carts-value", object_schema({"cart": "string"}, required=["cart"]))
    table = registry.table()
    assert isinstance(table, pd.DataFrame)
    assert list(table.columns) == ["subject", "version", "id", "fields", "compatibility"]
    assert list(zip(table.subject, table.version, table.id)) == [
        ("carts-value", 1, 3),
        ("views-value", 1, 1),
        ("views-value", 2, 2),
    ]
    assert table.fields[1] == "user_id:string*, product_id:string*, price:number=0.0, qty:integer*"
    assert SchemaRegistry().table().empty


def test_topic_subject_follows_topic_name_strategy():
    assert topic_subject("orders") == "orders-value"
    assert topic_subject("orders", key=True) == "orders-key"


def test_first_version_of_a_subject_is_always_compatible():
    verdict = SchemaRegistry().check_compatibility("new-value", V1)
    assert verdict.compatible and verdict.against == ()
    assert "no earlier version" in str(verdict)


# --------------------------------------------------------------------------- errors


def test_invalid_json_schema_is_refused_with_the_problem_named():
    registry = SchemaRegistry()
    expected = r"not a valid JSON Schema.*properties/price/type.*valid types"
    with pytest.raises(ValueError, match=expected):
        registry.register("s", {"type": "object", "properties": {"price": {"type": "nummber"}}})
    with pytest.raises(ValueError, match="required"):
        check_schema({"type": "object", "required": "user_id"})
    with pytest.raises(ValueError, match=r"field 'price': default 'free'"):
        check_schema(
            {"type": "object", "properties": {"price": {"type": "number", "default": "free"}}}
        )
    with pytest.raises(TypeError, match="must be a dict"):
        check_schema('{"type": "object"}')
    assert registry.subjects() == []


def test_unknown_mode_lists_the_valid_ones():
    with pytest.raises(ValueError) as info:
        SchemaRegistry().set_compatibility("SIDEWAYS")
    for mode in MODES:
        assert mode in str(info.value)
    with pytest.raises(ValueError, match="BACKWARD_TRANSITIVE"):
        SchemaRegistry(compatibility="backwards")
    with pytest.raises(ValueError, match="FULL_TRANSITIVE"):
        compare(V1, V1, mode="ALL")


def test_unknown_subject_lists_known_subjects_and_is_a_key_error_too():
    registry = SchemaRegistry()
    registry.register("views-value", V1)
    registry.register("carts-value", V1)
    for call in (registry.latest, registry.versions, lambda s: registry.get(s, 1)):
        with pytest.raises(UnknownSubjectError) as info:
            call("view-value")
        message = str(info.value)
        assert "unknown subject 'view-value'" in message
        assert "'carts-value', 'views-value'" in message
        assert isinstance(info.value, ValueError) and isinstance(info.value, KeyError)
    with pytest.raises(ValueError, match=r"no version 7; versions: 1"):
        registry.get("views-value", 7)
    with pytest.raises(ValueError, match="known ids: 1"):
        registry.schema_by_id(9)
    assert "(none yet)" in str(pytest.raises(ValueError, SchemaRegistry().latest, "x").value)


def test_object_schema_rejects_bad_specs_clearly():
    with pytest.raises(ValueError, match="unknown type 'float'; valid types: array"):
        object_schema({"price": "float"})
    with pytest.raises(ValueError, match="required field 'user' is not among the fields: user_id"):
        object_schema({"user_id": "string"}, required=["user"])
    with pytest.raises(ValueError, match="default"):
        object_schema({"price": ("number", "free")})
    schema = object_schema({"tags": ["array", "null"], "n": ("integer", 1)}, title="T", closed=True)
    assert schema == {
        "title": "T",
        "type": "object",
        "properties": {"tags": {"type": ["array", "null"]}, "n": {"type": "integer", "default": 1}},
        "additionalProperties": False,
    }


# --------------------------------------------------------------------------- validate / conform


def test_validate_names_field_and_expectation():
    validate({"user_id": "u", "product_id": "p", "qty": 1}, V1)
    with pytest.raises(SchemaValidationError) as info:
        validate({"user_id": "u", "product_id": "p", "qty": 1, "price": "abc"}, V1)
    assert str(info.value) == "field 'price': 'abc' is not of type 'number'"
    assert info.value.field == "price"


def test_validate_missing_required_field_names_the_field():
    with pytest.raises(SchemaValidationError) as info:
        validate({"user_id": "u", "qty": 1}, V1)
    assert info.value.field == "product_id"
    assert "field 'product_id': required but missing" in str(info.value)


def test_validate_nested_paths_closed_models_and_several_errors():
    schema = object_schema({"address": object_schema({"zip": "integer"}, closed=True)})
    with pytest.raises(SchemaValidationError) as info:
        validate({"address": {"zip": "x", "street": "Main"}}, schema)
    assert info.value.field == "address.street"
    assert info.value.errors == (
        "field 'address.street': not allowed, the schema forbids unknown fields "
        "(additionalProperties: false)",
        "field 'address.zip': 'x' is not of type 'integer'",
    )
    with pytest.raises(SchemaValidationError, match="payload: 5 is not of type 'object'") as info:
        validate(5, schema)
    assert info.value.field is None
    assert isinstance(info.value, ValueError)


def test_old_consumer_ignores_unknown_fields():
    new_event = {"user_id": "u", "product_id": "p", "qty": 2, "currency": "EUR", "price": 9.5}
    old_reader = evolve(V1, drop=["price"], closed=True)
    assert conform(new_event, old_reader) == {"user_id": "u", "product_id": "p", "qty": 2}
    assert new_event["currency"] == "EUR"  # the input is not modified


def test_new_consumer_fills_defaults():
    new_reader = evolve(
        V1,
        add={
            "currency": {"type": "string", "default": "EUR"},
            "address": object_schema({"city": ("string", "?")}),
        },
    )
    old_event = {"qty": 1, "product_id": "p", "user_id": "u", "address": {}}
    assert conform(old_event, new_reader) == {
        "user_id": "u",
        "product_id": "p",
        "price": 0.0,
        "qty": 1,
        "currency": "EUR",
        "address": {"city": "?"},
    }
    assert list(conform(old_event, new_reader)) == [
        "user_id",
        "product_id",
        "price",
        "qty",
        "currency",
        "address",
    ]


def test_conform_still_requires_required_fields_without_default():
    with pytest.raises(SchemaValidationError) as info:
        conform({"user_id": "u", "product_id": "p"}, V1)
    assert info.value.field == "qty"
    with pytest.raises(TypeError, match="payload must be a dict"):
        conform([1], V1)


# --------------------------------------------------------------------------- properties

NAMES = ["a", "b", "c", "d", "e"]
TYPES = ["string", "integer", "number", "boolean", ["string", "null"]]


def value_for(type_spec):
    name = type_spec if isinstance(type_spec, str) else None
    strategies = {
        "string": st.text(max_size=3),
        "integer": st.integers(-5, 5),
        "number": st.one_of(st.integers(-5, 5), st.floats(-5, 5, allow_nan=False)),
        "boolean": st.booleans(),
    }
    if name is None:
        return st.one_of(st.none(), strategies["string"])
    return strategies[name]


@st.composite
def schemas_(draw, closed=None):
    names = draw(st.lists(st.sampled_from(NAMES), unique=True, max_size=4))
    fields = {}
    for name in names:
        t = draw(st.sampled_from(TYPES))
        fields[name] = (t, draw(value_for(t))) if draw(st.booleans()) else t
    required = [n for n in names if draw(st.booleans())]
    closed = draw(st.booleans()) if closed is None else closed
    return object_schema(fields, required=required, closed=closed)


@st.composite
def payloads_for(draw, schema):
    payload = {}
    for name, sub in schema["properties"].items():
        if name in schema.get("required", []) or draw(st.booleans()):
            payload[name] = draw(value_for(sub["type"]))
    return payload


@settings(max_examples=200, deadline=None)
@given(schemas_(closed=False), st.sampled_from(["x", "y"]), st.sampled_from(TYPES), st.data())
def test_adding_an_optional_field_with_default_is_always_full_compatible(schema, name, t, data):
    default = data.draw(value_for(t))
    new = evolve(schema, add={name: {"type": t, "default": default}})
    assert compare(schema, new, "FULL").compatible
    assert compare(new, schema, "FULL").compatible  # and removing it again


@settings(max_examples=200, deadline=None)
@given(schemas_())
def test_every_schema_is_full_compatible_with_itself(schema):
    assert compare(schema, schema, "FULL_TRANSITIVE").compatible


@settings(max_examples=300, deadline=None)
@given(schemas_(), schemas_(), st.data())
def test_a_compatible_reader_reads_every_event_the_writer_can_write(writer, reader, data):
    """Soundness: if the checker says the reader can read the writer, conform never fails."""
    if not compare(writer, reader, "BACKWARD").compatible:
        return
    payload = data.draw(payloads_for(writer))
    validate(payload, writer)
    conform(payload, reader)


# --------------------------------------------------------------------------- docs


def test_module_docstring_example_runs_as_written():
    result = doctest.testmod(schemas, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted > 5


def test_verdict_and_problem_read_well():
    verdict = Verdict(False, (Problem("qty", "incompatible_type", "Bad."),), "FULL", ("version 3",))
    assert not verdict
    assert str(verdict) == (
        "NOT compatible under FULL (checked against version 3):\n"
        "  - field 'qty' [incompatible_type]: Bad."
    )


def test_the_draft_is_read_from_dollar_schema():
    tuple_items = {"type": "array", "items": [{"type": "string"}, {"type": "number"}]}
    draft7 = {"$schema": "http://json-schema.org/draft-07/schema#", **tuple_items}
    schemas.check_schema(draft7)  # array-form items are draft-07
    schemas.validate(["a", 1], draft7)
    with pytest.raises(ValueError, match=r"Draft 2020-12"):
        schemas.check_schema(tuple_items)  # no $schema: Draft 2020-12, where items is one schema
