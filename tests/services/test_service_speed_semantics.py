"""The fast paths of the service layer decide exactly what the slow ones decide.

* ``Event.from_json`` reads well-formed input on a fast path; every input must
  give the same event (or the same error) as the strict path.
* A service run with fast decoding writes the journal, spans, inbox and side
  effects a run with strict decoding writes, crashes included.
* Each event is handled after its own processing time (one wait per event, as
  the handlers' effects must interleave in time with everything else), so a
  crash mid-batch applies exactly the events finished before it.
"""

import hashlib
import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eda_sim import Simulation
from eda_sim.services.events import MAX_TIME, Event, _canonical_iso, to_iso
from eda_sim.services.load import Source
from eda_sim.services.retries import Retry, TransientError
from eda_sim.services.schemas import object_schema
from eda_sim.services.service import Service

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
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=12,
)

odd_values = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-3, max_value=3)
    | st.sampled_from(
        [
            "",
            " ",
            "\t",
            "evt-1",
            "x\ud800",
            "2026-01-01T00:00:01.250Z",
            "2026-01-01T00:00:01.25Z",
            "2026-01-01T00:00:01.250+00:00",
            "2026-13-01T00:00:01.250Z",
            "2025-12-31T23:59:59.000Z",
            "٢٠٢٦-01-01T00:00:01.250Z",
        ]
    )
    | st.floats()
    | st.lists(st.integers(), max_size=2)
    | st.dictionaries(st.text(max_size=2), st.text(max_size=2), max_size=2)
)

FIELDS = (
    "id",
    "type",
    "key",
    "time",
    "sim_seconds",
    "payload",
    "headers",
    "correlation_id",
    "causation_id",
    "schema_version",
    "colour",
)


@st.composite
def events(draw):
    return Event.create(
        draw(st.sampled_from(["Tick", "OrderPlaced", " x ", "é"])),
        draw(st.dictionaries(st.text(), json_values, max_size=4)),
        id=draw(st.sampled_from(["evt-000001", "a/b/1", "ключ", "\U0001f600"])),
        key=draw(st.none() | st.text(max_size=5)),
        time=draw(
            st.floats(min_value=0, max_value=MAX_TIME)
            | st.integers(min_value=0, max_value=10**6)
            | st.sampled_from([0.0005, 1.0005, 0.9995, MAX_TIME, 1e-9])
        ),
        headers=draw(
            st.dictionaries(
                st.text(min_size=1).filter(
                    lambda s: s not in ("correlation_id", "causation_id", "schema_version")
                ),
                st.text(),
                max_size=2,
            )
        ),
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
@given(
    events(),
    st.lists(st.tuples(st.sampled_from(FIELDS), st.booleans(), odd_values), max_size=3),
    st.sampled_from(["canonical", "spaced", "ascii", "unsorted"]),
)
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
        text = json.dumps(
            dict(reversed(list(data.items()))), separators=(",", ":"), ensure_ascii=False
        )
    assert_same(text)
    try:
        raw = text.encode("utf-8")
    except UnicodeEncodeError:
        return
    assert_same(raw)


@pytest.mark.parametrize(
    "text",
    [
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
        '{"id":"e","type":"T","time":"2026-01-01T00:00:02.000Z","sim_seconds":2,"payload":{"x":"\ud800"}}',
        bytearray(
            b'{"id":"e","type":"T","time":"2026-01-01T00:00:02.000Z","sim_seconds":2,"payload":{}}'
        ),
        '{"causation_id":null,"correlation_id":"e","headers":{},"id":"e","key":null,'
        '"payload":{"x":"\\ud83d\\ude00","y":"\\u0001\\n","\\\\ud800":"\\\\uDFFF"},'
        '"schema_version":1,"sim_seconds":0.0,"time":"2026-01-01T00:00:00.000Z","type":"T"}',
        '{"causation_id":null,"correlation_id":"e","headers":{},"id":"e","key":null,"payload":{"\\udc00":1},'
        '"schema_version":1,"sim_seconds":0.0,"time":"2026-01-01T00:00:00.000Z","type":"T"}',
        '{"causation_id":null,"correlation_id":"e\\u0041","headers":{},"id":"e","key":null,"payload":{},'
        '"schema_version":1,"sim_seconds":0.0,"time":"2026-01-01T00:00:00.000Z","type":"T"}',
    ],
)
def test_from_json_edge_cases_match_the_strict_path(text):
    assert_same(text)


@given(st.integers(min_value=0, max_value=int(MAX_TIME * 1000)))
def test_the_cached_iso_form_is_to_iso(ms):
    assert _canonical_iso(ms) == to_iso(ms / 1000)


# ------------------------------------------------------------------ services


def busy_world(seed, *, reorder=None, random_pt=False, crashes=(), commit="after"):
    """Two services, poison, flaky and malformed events, emits, schemas, inboxes and crashes."""
    sim = Simulation(seed=seed, name=f"speed-{seed}")
    sim.create_topic("orders", partitions=3)
    sim.create_topic("receipts", partitions=3)
    items = []
    for i in range(120):
        if i % 37 == 5:
            items.append(b"{broken")
            continue
        items.append(
            {
                "time": i * 0.013 + (0.05 if i % 11 == 0 else 0),
                "type": "OrderPlaced",
                "customer": f"c{i % 7}",
                "amount": i,
                "product": "BAD" if i % 29 == 3 else f"p{i}",
                **({"extra": [1, {"x": None}]} if i % 4 == 0 else {}),
            }
        )
    Source(sim, "shop", "orders", items, key="customer")
    tries, ledger, seen = {}, [], []

    def bill(event, ctx):
        n = tries[event.id] = tries.get(event.id, 0) + 1
        if event.payload["product"] == "BAD":
            raise ValueError("bad product")
        if event.payload["amount"] % 5 == 0 and n < 2:
            raise TransientError("flaky")
        ledger.append((ctx.now, event.id, ctx.attempt))
        ctx.emit("receipts", "ReceiptIssued", {"amount": event.payload["amount"]})

    svc = Service(
        sim,
        "billing",
        consumes="orders",
        handlers={"OrderPlaced": bill},
        instances=2,
        produces={"receipts": ["ReceiptIssued"]},
        retry=Retry(attempts=3, backoff=0.01),
        idempotent=True,
        processing_time=(lambda r: r.expovariate(200)) if random_pt else 0.004,
        reorder=reorder,
        commit=commit,
        max_in_flight=7,
    )
    receipt = object_schema(
        {"amount": {"type": "integer"}, "note": {"type": "string", "default": "-"}}
    )
    Service(
        sim,
        "audit",
        consumes="receipts",
        handlers={"ReceiptIssued": lambda e, c: seen.append((c.now, e))},
        idempotent=True,
        processing_time=0.001,
        schemas={"ReceiptIssued": receipt},
    )
    for at, which, back in crashes:
        sim.crash(svc.instances[which], at=at)
        sim.restart(svc.instances[which], at=back)
    sim.run(until=6)
    effects = repr(
        (ledger, seen, svc.inbox.table().values.tolist(), sim.records("receipts").values.tolist())
    )
    return sim.journal.digest(), repr(sim.spans), hashlib.sha256(effects.encode()).hexdigest()


WORLDS = [
    {},
    {"random_pt": True},
    {"crashes": [(0.3, 0, 0.9), (0.71, 1, 1.2), (1.3, 0, 1.35)]},
    {"crashes": [(0.5, 1, 0.8)], "random_pt": True, "commit": "before"},
    {"commit": "auto"},
    {"reorder": 0.05},
]


@pytest.mark.parametrize("kwargs", WORLDS)
def test_fast_decoding_leaves_journal_spans_and_side_effects_as_strict_decoding(
    kwargs, monkeypatch
):
    fast = busy_world(4, **kwargs)
    monkeypatch.setattr(Event, "from_json", Event._from_json_strict)
    assert busy_world(4, **kwargs) == fast


def test_same_seed_same_journal_spans_and_side_effects():
    assert busy_world(7, crashes=[(0.4, 0, 0.6)]) == busy_world(7, crashes=[(0.4, 0, 0.6)])


def one_by_one(crash_at=None, pt=0.01):
    """Ten events at t=0 on one partition, one instance: they are handled one after another."""
    sim = Simulation(seed=1, name="speed-crash")
    sim.create_topic("orders", partitions=1)
    Source(sim, "shop", "orders", [{"time": 0.0, "type": "OrderPlaced", "n": i} for i in range(10)])
    ledger = []
    svc = Service(
        sim,
        "billing",
        consumes="orders",
        instances=1,
        processing_time=pt,
        max_in_flight=500,
        handlers={"OrderPlaced": lambda e, c: ledger.append((c.now, e.payload["n"]))},
    )
    if crash_at is not None:
        sim.crash(svc.instances[0], at=crash_at)
    sim.run(until=2)
    return sim, ledger


def test_each_event_is_handled_after_its_own_processing_time_and_spans_say_so():
    sim, ledger = one_by_one()
    assert [n for _, n in ledger] == list(range(10))
    handled = [s for s in sim.spans if s.outcome == "handled"]
    assert len(handled) == 10
    for before, span in zip([None] + handled, handled):
        assert span.finished == span.started + 0.01
        if before is not None:
            assert span.started == before.finished  # the next one starts when the last one is done
    assert [t for t, _ in ledger] == [s.finished for s in handled]


@pytest.mark.parametrize("finished", [0, 2, 5, 9])
def test_a_crash_mid_batch_applies_exactly_the_events_finished_before_it(finished):
    sim, _ = one_by_one()
    ends = [s.finished for s in sim.spans if s.outcome == "handled"]
    # halfway through the next event: those finished by then are applied, not the one in progress
    crashed, ledger = one_by_one(crash_at=ends[finished] + 0.005)
    assert [n for _, n in ledger] == list(range(finished + 1))
    assert [s.finished for s in crashed.spans] == ends[: finished + 1]
    assert crashed.journal.rows("crashed")
    # exactly at a finish time: the crash comes first, as it did with one timeout per event
    _, ledger = one_by_one(crash_at=ends[finished])
    assert [n for _, n in ledger] == list(range(finished))
