"""Tests for eda_sim.services.events: immutable events, deterministic ids, JSON round trip."""

import copy
import dataclasses
import json
import math
import pickle
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eda_sim.core.clock import SIM_EPOCH
from eda_sim.services.events import (
    MAX_TIME,
    Event,
    EventIds,
    FrozenMap,
    from_iso,
    make_event_id,
    to_iso,
)


def order(**overrides):
    fields = dict(
        type="OrderPlaced",
        payload={"order_id": 7, "items": [{"sku": "tea", "qty": 2}], "note": None},
        id="evt-000001",
        key="customer-3",
        time=1.25,
    )
    fields.update(overrides)
    return Event.create(fields.pop("type"), fields.pop("payload"), **fields)


# ------------------------------------------------------------------ ids


def test_make_event_id_is_zero_padded_and_deterministic():
    assert make_event_id("evt", 42) == "evt-000042"
    assert make_event_id("evt", 0) == "evt-000000"
    assert make_event_id("order", 1_234_567) == "order-1234567"


def test_event_ids_count_from_one_and_repeat_for_the_same_calls():
    ids, twin = EventIds("evt"), EventIds("evt")
    first = [ids.next() for _ in range(3)]
    assert first == ["evt-000001", "evt-000002", "evt-000003"]
    assert [next(twin) for _ in range(3)] == first
    assert EventIds("cmd", start=10).next() == "cmd-000010"


@pytest.mark.parametrize(
    ("namespace", "n"), [("", 1), (None, 1), ("evt", -1), ("evt", 1.0), ("evt", True)]
)
def test_make_event_id_rejects_bad_input(namespace, n):
    with pytest.raises((TypeError, ValueError), match="namespace|n must be"):
        make_event_id(namespace, n)


# ---------------------------------------------------------- construction


def test_create_makes_a_root_event_its_own_correlation():
    e = order()
    assert e.correlation_id == e.id == "evt-000001"
    assert e.causation_id is None
    assert e.schema_version == 1
    assert dict(e.headers) == {}


def test_create_keeps_given_correlation_and_causation():
    root = order()
    child = Event.create(
        "PaymentTaken",
        {"amount": 9.5},
        id="evt-000002",
        key=root.key,
        time=2.0,
        correlation_id=root.correlation_id,
        causation_id=root.id,
        schema_version=3,
    )
    assert (child.correlation_id, child.causation_id, child.schema_version) == (
        "evt-000001",
        "evt-000001",
        3,
    )


def test_create_requires_an_id():
    with pytest.raises(TypeError):
        Event.create("OrderPlaced", {})  # no uuid4 default: ids are deterministic


def test_sim_epoch_is_2026_utc_and_time_is_seconds_from_it():
    assert SIM_EPOCH.isoformat() == "2026-01-01T00:00:00+00:00"
    assert order(time=0).time == 0.0 and isinstance(order(time=3).time, float)
    assert order(time=-0.0).to_json() == order(time=0.0).to_json()
    assert order(time=1.25).iso_time == "2026-01-01T00:00:01.250Z"


def test_key_bytes_are_utf8():
    assert order(key="kü").key_bytes == "kü".encode()
    assert order(key=None).key_bytes is None


@pytest.mark.parametrize(
    ("overrides", "error", "field"),
    [
        ({"type": ""}, ValueError, "type"),
        ({"type": "   "}, ValueError, "type"),
        ({"type": 5}, TypeError, "type"),
        ({"id": ""}, ValueError, "id"),
        ({"key": 5}, TypeError, "key"),
        ({"key": b"k"}, TypeError, "key"),
        ({"time": -0.5}, ValueError, "time"),
        ({"time": math.nan}, ValueError, "time"),
        ({"time": math.inf}, ValueError, "time"),
        ({"time": MAX_TIME * 2}, ValueError, "time"),
        ({"time": "1.0"}, TypeError, "time"),
        ({"time": True}, TypeError, "time"),
        ({"payload": [1, 2]}, TypeError, "payload"),
        ({"payload": {1: "x"}}, TypeError, "payload"),
        ({"payload": {"a": {2: "x"}}}, TypeError, "payload"),
        ({"payload": {"a": {1, 2}}}, TypeError, "payload"),
        ({"payload": {"a": b"bytes"}}, TypeError, "payload"),
        ({"payload": {"a": [1, math.nan]}}, ValueError, "payload"),
        ({"payload": {"a": "\ud800"}}, ValueError, "payload"),
        ({"headers": {"retry": 1}}, TypeError, "headers"),
        ({"headers": ["x"]}, TypeError, "headers"),
        ({"headers": {"correlation_id": "x"}}, ValueError, "correlation_id"),
        ({"causation_id": ""}, ValueError, "causation_id"),
        ({"correlation_id": 3}, TypeError, "correlation_id"),
        ({"schema_version": 0}, ValueError, "schema_version"),
        ({"schema_version": "1"}, TypeError, "schema_version"),
    ],
)
def test_bad_fields_raise_naming_the_field(overrides, error, field):
    with pytest.raises(error, match=field):
        order(**overrides)


def test_payload_error_names_where_the_bad_value_is():
    with pytest.raises(TypeError, match=r"\['items'\]\[1\]") as info:
        order(payload={"items": [1, {2, 3}]})
    assert "JSON-serialisable" in str(info.value) and "set" in str(info.value)


# ------------------------------------------------------------ immutability


@pytest.mark.parametrize(
    "field", ["id", "type", "key", "payload", "time", "headers", "correlation_id"]
)
def test_assigning_a_field_raises(field):
    e = order()
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(e, field, "x")


def test_mutating_the_payload_raises_at_every_depth():
    e = order()
    with pytest.raises(TypeError):
        e.payload["order_id"] = 8
    with pytest.raises(TypeError):
        del e.payload["order_id"]
    with pytest.raises(AttributeError):
        e.payload.update({"order_id": 8})
    with pytest.raises(TypeError):
        e.payload["items"][0] = {}  # lists are stored as tuples
    with pytest.raises(AttributeError):
        e.payload["items"].append({})
    with pytest.raises(TypeError):
        e.payload["items"][0]["qty"] = 3
    with pytest.raises(AttributeError):
        e.payload._items = {}
    assert e.payload["items"][0]["qty"] == 2


def test_headers_are_read_only():
    e = order().with_headers({"retry.attempt": "1"})
    with pytest.raises(TypeError):
        e.headers["retry.attempt"] = "2"


def test_the_callers_dict_is_copied_not_shared():
    payload = {"items": [{"sku": "tea"}]}
    e = order(payload=payload)
    payload["items"][0]["sku"] = "coffee"
    payload["new"] = 1
    assert e.payload == {"items": [{"sku": "tea"}]}


def test_payload_equals_the_plain_dict_and_thaws_to_one():
    plain = {"order_id": 7, "items": [{"sku": "tea", "qty": 2}], "note": None}
    e = order(payload=plain)
    assert e.payload == plain
    thawed = e.payload.thaw()
    assert thawed == plain and isinstance(thawed["items"], list)
    thawed["items"].append(1)  # the thawed copy is the caller's to change
    assert len(e.payload["items"]) == 1


def test_events_are_hashable_and_equal_by_value():
    assert order() == order() and hash(order()) == hash(order())
    assert order() != order(time=2.0)
    assert len({order(), order(), order(id="evt-000002")}) == 2


def test_events_survive_copy_and_pickle():
    e = order().with_headers(source="test")
    assert copy.deepcopy(e) == e
    assert pickle.loads(pickle.dumps(e)) == e
    assert pickle.loads(pickle.dumps(e.payload)) == e.payload


def test_with_headers_returns_a_copy_with_the_headers_added():
    e = order()
    retried = e.with_headers({"retry.attempt": "1"}, reason="timeout")
    again = retried.with_headers({"retry.attempt": "2"})
    assert dict(e.headers) == {}
    assert dict(retried.headers) == {"retry.attempt": "1", "reason": "timeout"}
    assert dict(again.headers) == {"retry.attempt": "2", "reason": "timeout"}
    assert dataclasses.replace(again, headers={}) == e


def test_with_headers_refuses_non_str_values_and_field_names():
    with pytest.raises(TypeError, match="headers"):
        order().with_headers({"retry.attempt": 1})
    with pytest.raises(ValueError, match="causation_id"):
        order().with_headers(causation_id="evt-9")


def test_frozen_map_is_a_mapping():
    m = FrozenMap({"b": 1, "a": [1, {"x": None}]})
    assert list(m) == ["b", "a"] and len(m) == 2 and "a" in m
    assert m["a"] == (1, FrozenMap({"x": None}))
    assert m.get("zzz") is None
    assert FrozenMap() == {}


# -------------------------------------------------------------------- JSON


def test_to_json_is_compact_sorted_and_readable():
    text = order(payload={"b": 1, "a": "é"}).to_json()
    assert text == (
        '{"causation_id":null,"correlation_id":"evt-000001","headers":{},'
        '"id":"evt-000001","key":"customer-3","payload":{"a":"é","b":1},'
        '"schema_version":1,"sim_seconds":1.25,"time":"2026-01-01T00:00:01.250Z",'
        '"type":"OrderPlaced"}'
    )


def test_json_round_trip_with_nested_payload_and_unicode():
    e = order(
        key="клиент-3",
        payload={
            "名前": "お茶",
            "emoji": "☕🍰",
            "nested": {"deep": {"list": [1, 2.5, True, None, "x", [], {}]}},
            "big": 2**70,
            "neg": -0.0,
        },
        causation_id="evt-000000",
        correlation_id="evt-000000",
        schema_version=2,
    ).with_headers({"retry.attempt": "1", "ключ": "значение"})
    back = Event.from_json(e.to_json())
    assert back == e
    assert back.to_json() == e.to_json()
    assert Event.from_json(e.to_json().encode("utf-8")) == e
    assert Event.from_dict(e.to_dict()) == e


def test_iso_time_is_to_the_millisecond_and_sim_seconds_is_exact():
    e = order(time=3723.0123456)
    d = e.to_dict()
    assert d["time"] == "2026-01-01T01:02:03.012Z"
    assert d["sim_seconds"] == 3723.0123456
    assert Event.from_json(e.to_json()).time == 3723.0123456


def test_iso_form_rounds_to_the_nearest_millisecond():
    assert to_iso(1.005) == "2026-01-01T00:00:01.005Z"  # 1.00499999... as a float
    assert to_iso(0.9996) == "2026-01-01T00:00:01.000Z"
    assert to_iso(86400 * 365) == "2027-01-01T00:00:00.000Z"


def test_json_without_sim_seconds_takes_time_from_the_iso_form():
    d = order().to_dict()
    del d["sim_seconds"]
    d["time"] = "2026-01-02T00:00:00.5Z"
    assert Event.from_dict(d).time == 86400.5
    d["time"] = "2026-01-01T00:00:01.250+00:00"
    assert Event.from_dict(d).time == 1.25


def test_minimal_hand_written_json_fills_defaults():
    e = Event.from_json(
        '{"id":"evt-000009","type":"UserSignedUp","time":"2026-01-01T00:00:02.000Z","payload":{}}'
    )
    assert (e.key, e.time, e.correlation_id, e.causation_id, e.schema_version) == (
        None,
        2.0,
        "evt-000009",
        None,
        1,
    )


@given(st.integers(min_value=0, max_value=int(MAX_TIME) * 1000))
def test_iso_round_trips_every_millisecond(ms):
    text = to_iso(ms / 1000)
    assert from_iso(text) == ms / 1000
    assert text == f"{SIM_EPOCH + timedelta(milliseconds=ms):%Y-%m-%dT%H:%M:%S.%f}"[:-3] + "Z"


FIELD_HEADERS = ("correlation_id", "causation_id", "schema_version")

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@given(
    payload=st.dictionaries(st.text(), json_values, max_size=5),
    time=st.floats(min_value=0, max_value=MAX_TIME, allow_nan=False, allow_infinity=False)
    | st.integers(min_value=0, max_value=10**6),
    key=st.none() | st.text(),
    headers=st.dictionaries(
        st.text(min_size=1).filter(lambda s: s not in FIELD_HEADERS), st.text(), max_size=3
    ),
    version=st.integers(min_value=1, max_value=50),
)
def test_json_round_trip_property(payload, time, key, headers, version):
    e = Event.create(
        "Happened",
        payload,
        id="evt-000001",
        key=key,
        time=time,
        headers=headers,
        schema_version=version,
    )
    text = e.to_json()
    back = Event.from_json(text)
    assert back == e
    assert back.time == float(time)
    assert back.payload == payload
    assert back.to_json() == text
    assert json.loads(text)["time"] == to_iso(time)


# --------------------------------------------------------- malformed JSON


def good():
    return order().to_dict()


def without(name):
    d = good()
    del d[name]
    return json.dumps(d)


def with_(name, value):
    d = good()
    d[name] = value
    return json.dumps(d)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "not valid JSON"),
        ("{", "not valid JSON"),
        ('{"id": "evt-1",}', "not valid JSON"),
        (with_("payload", {"x": float("nan")}), "not valid JSON: NaN"),
        ("[1, 2]", "must be an object, got list"),
        ('"evt"', "must be an object, got str"),
        (without("type"), "missing field 'type'"),
        (without("id"), "missing field 'id'"),
        (without("time"), "missing field 'time'"),
        (without("payload"), "missing field 'payload'"),
        (with_("colour", "red"), "unknown field 'colour'"),
        (
            with_("time", "12"),
            "field 'time' must be an ISO 8601 UTC timestamp like "
            "2026-01-01T00:00:01.250Z, got '12'",
        ),
        (with_("time", 12), "field 'time' must be an ISO 8601 UTC timestamp.*got 12"),
        (with_("time", "2026-01-01T00:00:01.250"), "field 'time' must be an ISO 8601 UTC"),
        (with_("time", "2026-01-01T00:00:01.250+02:00"), "field 'time' must be an ISO 8601 UTC"),
        (with_("time", "2026-13-01T00:00:01.250Z"), "field 'time'.*month"),
        (with_("time", "2025-12-31T23:59:59.000Z"), "field 'time'.*not before"),
        (with_("sim_seconds", "1.25"), "field 'sim_seconds' must be a number"),
        (with_("sim_seconds", 9.0), "'sim_seconds' \\(9.0\\) disagrees with field 'time'"),
        (with_("type", ""), "field 'type' must be a non-empty str"),
        (with_("type", 3), "field 'type' must be a non-empty str"),
        (with_("key", 3), "field 'key' must be a str or None"),
        (with_("payload", [1]), "field 'payload' must be an object, got list"),
        (with_("headers", "x"), "field 'headers' must be an object, got str"),
        (with_("headers", {"a": 1}), "field 'headers' value for 'a' must be a str"),
        (with_("schema_version", "2"), "field 'schema_version' must be an int"),
        (with_("schema_version", 0), "field 'schema_version' must be an int >= 1"),
        (with_("correlation_id", 5), "field 'correlation_id' must be a non-empty str"),
    ],
)
def test_malformed_json_gives_a_value_error_naming_the_problem(text, message):
    with pytest.raises(ValueError, match=message):
        Event.from_json(text)


def test_from_json_rejects_non_text():
    with pytest.raises(ValueError, match="must be str or bytes"):
        Event.from_json({"id": "x"})
    with pytest.raises(ValueError, match="not valid JSON"):
        Event.from_json(b"\xff\xfe{")
