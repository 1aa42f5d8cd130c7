"""The fast paths of the service layer decide exactly what the slow ones decide.

* ``Event.from_json`` reads well-formed input on a fast path; every input must
  give the same event (or the same error) as the strict path.
* A service instance runs its per-event waits as a chain of scheduled entries
  rather than as a generator resumed by SimPy timeouts; the journal, spans,
  inbox and handler side effects must be those of the generator path, crashes
  included.
"""

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eda_sim.events import MAX_TIME, Event, _canonical_iso, to_iso

# ------------------------------------------------------------------ decoding


def outcome(fn, text):
    try:
        e = fn(text)
    except Exception as err:  # noqa: BLE001 - the error is the outcome compared
        return ("error", type(err), str(err))
    return ("event", e, e.to_json(), math.copysign(1.0, e.time), type(e.payload), type(e.headers))


def assert_same(text):
    fast = outcome(Event.from_json, text)
    strict = outcome(Event._from_json_strict, text)
    assert fast == strict, text


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=12,
)

odd_values = (
    st.none() | st.booleans() | st.integers(min_value=-3, max_value=3) | st.sampled_from(
        ["", " ", "\t", "evt-1", "x\ud800", "2026-01-01T00:00:01.250Z", "2026-01-01T00:00:01.25Z",
         "2026-01-01T00:00:01.250+00:00", "2026-13-01T00:00:01.250Z", "2025-12-31T23:59:59.000Z",
         "٢٠٢٦-01-01T00:00:01.250Z"])
    | st.floats() | st.lists(st.integers(), max_size=2) | st.dictionaries(st.text(max_size=2), st.text(max_size=2),
                                                                         max_size=2)
)

FIELDS = ("id", "type", "key", "time", "sim_seconds", "payload", "headers", "correlation_id", "causation_id",
          "schema_version", "colour")


@st.composite
def events(draw):
    return Event.create(
        draw(st.sampled_from(["Tick", "OrderPlaced", " x ", "é"])),
        draw(st.dictionaries(st.text(), json_values, max_size=4)),
        id=draw(st.sampled_from(["evt-000001", "a/b/1", "ключ", "\U0001f600"])),
        key=draw(st.none() | st.text(max_size=5)),
        time=draw(st.floats(min_value=0, max_value=MAX_TIME) | st.integers(min_value=0, max_value=10**6)
                  | st.sampled_from([0.0005, 1.0005, 0.9995, MAX_TIME, 1e-9])),
        headers=draw(st.dictionaries(st.text(min_size=1).filter(
            lambda s: s not in ("correlation_id", "causation_id", "schema_version")), st.text(), max_size=2)),
        correlation_id=draw(st.none() | st.just("evt-000000")),
        causation_id=draw(st.none() | st.just("evt-000000")),
        schema_version=draw(st.integers(min_value=1, max_value=3)),
    )


@settings(max_examples=300)
@given(events())
def test_from_json_of_what_to_json_wrote_is_the_strict_result(event):
    text = event.to_json()
    assert_same(text)
    assert_same(text.encode("utf-8"))
    assert Event.from_json(text) == event


@settings(max_examples=500)
@given(events(), st.lists(st.tuples(st.sampled_from(FIELDS), st.booleans(), odd_values), max_size=3),
       st.sampled_from(["canonical", "spaced", "ascii", "unsorted"]))
def test_from_json_of_altered_json_gives_the_strict_result_or_error(event, changes, style):
    data = event.to_dict()
    for field, drop, value in changes:
        if drop:
            data.pop(field, None)
        else:
            data[field] = value
    if style == "canonical":
        text = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    elif style == "spaced":
        text = json.dumps(data, sort_keys=True)
    elif style == "ascii":
        text = json.dumps(data, sort_keys=True, separators=(",", ":"))
    else:
        text = json.dumps(dict(reversed(list(data.items()))), separators=(",", ":"), ensure_ascii=False)
    assert_same(text)
    try:
        raw = text.encode("utf-8")
    except UnicodeEncodeError:
        return
    assert_same(raw)


@pytest.mark.parametrize("text", [
    '{"causation_id":null,"correlation_id":"e","headers":{},"id":"e","key":null,"payload":{},'
    '"schema_version":1,"sim_seconds":1e999,"time":"2026-01-01T00:00:01.000Z","type":"T"}',
    '{"causation_id":null,"correlation_id":"e","headers":{},"id":"e","key":null,"payload":{},'
    '"schema_version":1,"sim_seconds":-0.0,"time":"2026-01-01T00:00:00.000Z","type":"T"}',
    '{"causation_id":null,"correlation_id":"e","headers":{},"id":"e","key":null,"payload":{},'
    '"schema_version":1,"sim_seconds":0,"time":"2026-01-01T00:00:00.000Z","type":"T"}',
    '{"causation_id":null,"correlation_id":"e","headers":{},"id":"e","key":null,"payload":{},'
    '"schema_version":01,"sim_seconds":0,"time":"2026-01-01T00:00:00.000Z","type":"T"}',
    '{"causation_id":null,"correlation_id":"e","headers":{},"id":"e","key":null,"payload":{"x":1e999},'
    '"schema_version":1,"sim_seconds":0.0,"time":"2026-01-01T00:00:00.000Z","type":"T"}',
    '{"causation_id":null,"correlation_id":"e","headers":{},"id":"e","key":null,"payload":{"x":NaN},'
    '"schema_version":1,"sim_seconds":0.0,"time":"2026-01-01T00:00:00.000Z","type":"T"}',
    '{"causation_id":null,"correlation_id":"e","headers":{},"id":"e","key":"\\ud800","payload":{},'
    '"schema_version":1,"sim_seconds":0.0,"time":"2026-01-01T00:00:00.000Z","type":"T"}',
    '{"causation_id":"","correlation_id":"e","headers":{},"id":"e","key":null,"payload":{},'
    '"schema_version":1,"sim_seconds":0.0,"time":"2026-01-01T00:00:00.000Z","type":"T"}',
    '{"causation_id":null,"correlation_id":"e","headers":{},"id":" ","key":null,"payload":{},'
    '"schema_version":1,"sim_seconds":0.0,"time":"2026-01-01T00:00:00.000Z","type":"T"}',
    '{"causation_id":null,"correlation_id":"e","headers":{},"id":"e","key":null,"payload":{},'
    '"schema_version":1,"sim_seconds":0.0,"time":"2026-01-01T00:00:00.000Z","type":"T"} ',
    ' {"causation_id":null,"correlation_id":"e","headers":{},"id":"e","key":null,"payload":{},'
    '"schema_version":1,"sim_seconds":0.0,"time":"2026-01-01T00:00:00.000Z","type":"T"}',
    '{"causation_id":null,"correlation_id":"e","headers":{},"id":"e","key":null,"payload":[],'
    '"schema_version":1,"sim_seconds":0.0,"time":"2026-01-01T00:00:00.000Z","type":"T"}',
    '{"causation_id":null,"correlation_id":"e","headers":{},"id":"e","key":null,"payload":{},'
    '"schema_version":1,"sim_seconds":0.0004,"time":"2026-01-01T00:00:00.000Z","type":"T","type":"U"}',
    '{"causation_id":null,"correlation_id":"e","headers":{"event-id":"e"},"id":"e","key":null,"payload":{},'
    '"schema_version":1,"sim_seconds":0.0,"time":"2026-01-01T00:00:00.000Z","type":"T"}',
    '{"causation_id":null,"correlation_id":"e","headers":{"correlation_id":"e"},"id":"e","key":null,'
    '"payload":{},"schema_version":1,"sim_seconds":0.0,"time":"2026-01-01T00:00:00.000Z","type":"T"}',
    '{"id":"e","type":"T","time":"2026-01-01T00:00:02.000Z","payload":{}}',
    '{"id":"e","type":"T","time":"2026-01-01T00:00:02.000Z","sim_seconds":2,"payload":{"a":[1,{"b":null}]}}',
    b'\xef\xbb\xbf{"id":"e","type":"T","time":"2026-01-01T00:00:02.000Z","sim_seconds":2,"payload":{}}',
    b'{"id":"e","type":"T","time":"2026-01-01T00:00:02.000Z","sim_seconds":2,"payload":{"x":"\xed\xa0\x80"}}',
    "{\"id\":\"e\",\"type\":\"T\",\"time\":\"2026-01-01T00:00:02.000Z\",\"sim_seconds\":2,\"payload\":{\"x\":\"\ud800\"}}",
    bytearray(b'{"id":"e","type":"T","time":"2026-01-01T00:00:02.000Z","sim_seconds":2,"payload":{}}'),
    '{"causation_id":null,"correlation_id":"e","headers":{},"id":"e","key":null,'
    '"payload":{"x":"\\ud83d\\ude00","y":"\\u0001\\n","\\\\ud800":"\\\\uDFFF"},'
    '"schema_version":1,"sim_seconds":0.0,"time":"2026-01-01T00:00:00.000Z","type":"T"}',
    '{"causation_id":null,"correlation_id":"e","headers":{},"id":"e","key":null,"payload":{"\\udc00":1},'
    '"schema_version":1,"sim_seconds":0.0,"time":"2026-01-01T00:00:00.000Z","type":"T"}',
    '{"causation_id":null,"correlation_id":"e\\u0041","headers":{},"id":"e","key":null,"payload":{},'
    '"schema_version":1,"sim_seconds":0.0,"time":"2026-01-01T00:00:00.000Z","type":"T"}',
])
def test_from_json_edge_cases_match_the_strict_path(text):
    assert_same(text)


@given(st.integers(min_value=0, max_value=int(MAX_TIME * 1000)))
def test_the_cached_iso_form_is_to_iso(ms):
    assert _canonical_iso(ms) == to_iso(ms / 1000)
