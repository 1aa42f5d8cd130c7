"""Tests for eda_sim.kafka.schema_registry.avro_compat: Avro's schema resolution rules.

The property: our verdict on a (reader, writer) pair agrees with fastavro actually reading data
written with the writer's schema using the reader's (fastavro raises on a failed resolution).
Data is chosen to reach every union branch and every enum symbol, since Avro fails on those only
when such a value is written.
"""

import io

import fastavro
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eda_sim.kafka.schema_registry.avro_compat import problems

PRIMS = ["int", "long", "float", "double", "string", "bytes", "boolean"]
SAMPLE = {
    "int": 1,
    "long": 2,
    "float": 1.5,
    "double": 2.5,
    "string": "s",
    "bytes": b"b",
    "boolean": True,
    "null": None,
}
NAMES = ["a", "b", "c", "d"]


@st.composite
def field_types(draw):
    kind = draw(st.sampled_from(["prim", "prim", "nullable", "enum"]))
    if kind == "prim":
        return draw(st.sampled_from(PRIMS))
    if kind == "nullable":
        return ["null", draw(st.sampled_from(PRIMS))]
    symbols = draw(st.lists(st.sampled_from(["X", "Y", "Z"]), min_size=1, unique=True))
    enum = {"type": "enum", "name": "E", "symbols": symbols}
    if draw(st.booleans()):
        enum["default"] = symbols[0]
    return enum


def default_for(t):
    if isinstance(t, list):
        return None
    if isinstance(t, dict):
        return t["symbols"][0]
    return {"bytes": "b"}.get(t, SAMPLE[t])


@st.composite
def records(draw, reader=False):
    names = draw(st.lists(st.sampled_from(NAMES), min_size=1, max_size=4, unique=True))
    fields, enum_seen = [], False
    for name in names:
        t = draw(field_types())
        if isinstance(t, dict):
            if enum_seen:  # one definition of the named type E per record
                t = "string"
            enum_seen = True
        field = {"name": name, "type": t}
        if reader and draw(st.booleans()):
            field["default"] = default_for(t)
        fields.append(field)
    if reader and draw(st.booleans()):
        # a rename: the last field takes one of the other names as an alias
        candidates = [n for n in NAMES if n not in names]
        if candidates:
            fields[-1]["aliases"] = [draw(st.sampled_from(candidates))]
    return {"type": "record", "name": "R", "fields": fields}


def variants(t):
    if isinstance(t, list):
        return [SAMPLE[b] for b in t]
    if isinstance(t, dict):
        return list(t["symbols"])
    return [SAMPLE[t]]


def data(schema):
    per_field = {f["name"]: variants(f["type"]) for f in schema["fields"]}
    n = max(len(v) for v in per_field.values())
    return [{k: v[min(i, len(v) - 1)] for k, v in per_field.items()} for i in range(n)]


def reads(reader, writer) -> bool:
    w, r = fastavro.parse_schema(writer), fastavro.parse_schema(reader)
    for datum in data(writer):
        out = io.BytesIO()
        fastavro.schemaless_writer(out, w, datum)
        out.seek(0)
        try:
            fastavro.schemaless_reader(out, w, r)
        except Exception:
            return False
    return True


@settings(max_examples=300, deadline=None)
@given(records(reader=True), records())
def test_verdict_agrees_with_fastavro_reading_the_data(reader, writer):
    writer_names = {f["name"] for f in writer["fields"]}
    for f in reader["fields"]:
        # fastavro gives a writer field to the reader field named like it and, failing that,
        # to the one aliasing it; with both present in the writer the two would collide.
        if f["name"] in writer_names and set(f.get("aliases", [])) & writer_names:
            return
    assert (not problems(reader, writer)) == reads(reader, writer)


def test_promotions_go_one_way():
    def rec(t):
        return {"type": "record", "name": "R", "fields": [{"name": "x", "type": t}]}

    for small, big in [
        ("int", "long"),
        ("long", "double"),
        ("float", "double"),
        ("string", "bytes"),
    ]:
        assert problems(rec(big), rec(small)) == []
    assert [p.type for p in problems(rec("int"), rec("long"))] == ["TYPE_MISMATCH"]


@pytest.mark.parametrize(
    "reader_field, kind",
    [
        ({"name": "y", "type": "int"}, "READER_FIELD_MISSING_DEFAULT_VALUE"),
        ({"name": "x", "type": "string"}, "TYPE_MISMATCH"),
        ({"name": "x", "type": ["null", "string"]}, "MISSING_UNION_BRANCH"),
    ],
)
def test_problem_names_follow_avro(reader_field, kind):
    writer = {"type": "record", "name": "R", "fields": [{"name": "x", "type": "int"}]}
    reader = {"type": "record", "name": "R", "fields": [reader_field]}
    assert [p.type for p in problems(reader, writer)] == [kind]


def test_enum_symbols_and_record_names():
    def enum(symbols, **extra):
        return {"type": "enum", "name": "E", "symbols": symbols, **extra}

    assert [p.type for p in problems(enum(["A"]), enum(["A", "B"]))] == ["MISSING_ENUM_SYMBOLS"]
    assert problems(enum(["A"], default="A"), enum(["A", "B"])) == []
    other = {"type": "record", "name": "Other", "fields": []}
    same = {"type": "record", "name": "R", "fields": []}
    assert [p.type for p in problems(other, same)] == ["NAME_MISMATCH"]
    assert problems(dict(other, aliases=["R"]), same) == []


def test_recursive_records_terminate():
    node = {
        "type": "record",
        "name": "Node",
        "fields": [{"name": "next", "type": ["null", "Node"], "default": None}],
    }
    assert problems(node, node) == []
