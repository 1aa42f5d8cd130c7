"""A bad record never stops the world: whatever bytes arrive, the run finishes, each record is
handled or dead-lettered with its reason, and the counts reconcile (issue 19)."""

import json
import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eda_sim import Simulation
from eda_sim.services.events import Event
from eda_sim.services.load import Source
from eda_sim.services.retries import H_MESSAGE, H_OFFSET, H_VALUE_DROPPED, dead_letters
from eda_sim.services.service import Service, new_event, reconcile
from eda_sim.testing.worlds import SHORT_SESSIONS

CI = bool(os.environ.get("CI"))

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=20,
)


def _deep(depth: int, opener: str = "[") -> bytes:
    closer = {"[": "]", "{": "}"}[opener]
    if opener == "{":
        return ('{"a":' * depth + "1" + closer * depth).encode()
    return (opener * depth + closer * depth).encode()


def _event_json(i: int, payload) -> bytes:
    """A well-formed event around an arbitrary JSON payload (a dict), or its nested value."""
    body = payload if isinstance(payload, dict) else {"value": payload}
    event = Event.create("T", body, id=f"evt-{i}", time=0.0)
    return event.to_json().encode()


raw_records = st.lists(
    st.one_of(
        st.binary(max_size=64),  # arbitrary bytes, invalid UTF-8 included
        json_values.map(lambda v: json.dumps(v).encode()),  # JSON that is not an event
        st.tuples(st.integers(0, 10**6), json_values).map(lambda t: _event_json(*t)),  # events
        st.integers(1_000, 200_000).map(_deep),  # 100,000 '[' used to raise RecursionError
        st.integers(1_000, 50_000).map(lambda d: _deep(d, "{")),
        st.just(b"\xff\xfe\xfd"),  # invalid UTF-8
        st.just(
            b'{"value": Infinity, "n": NaN}'
        ),  # Python's json reads these; strict JSON does not
        st.just(b'{"id": "x", "type": "T", "time": "2026-01-01T00:00:00.000Z", "payload": {}}'),
    ),
    max_size=25,
)


def _world(records, reorder):
    sim = Simulation(seed=3, name="bad-records", broker_config=SHORT_SESSIONS)
    sim.create_topic("in", partitions=2)
    handled = []
    Source(sim, "upload", "in", list(records))
    svc = Service(
        sim,
        "reader",
        consumes="in",
        handlers={"T": lambda e, c: handled.append(e.id)},
        reorder=reorder,
        config={"session.timeout.ms": 300},
    )
    sim.run(until=5)
    return sim, svc, handled


@settings(
    max_examples=60 if CI else 15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(records=raw_records, reorder=st.sampled_from([None, 0.5]))
def test_arbitrary_bytes_never_stop_a_service_and_every_record_is_accounted_for(records, reorder):
    sim, svc, handled = _world(records, reorder)
    recon = reconcile(sim, svc).iloc[0]
    assert recon.produced == len(records)
    assert recon.balanced and recon.in_flight == 0 and recon.lost == 0
    late = recon.processed - len(handled)  # events the reorder buffer sent aside count as done
    assert late >= 0 and (reorder is not None or late == 0)
    if recon.dead_lettered:
        dlq = dead_letters(sim, "in.DLT")
        assert len(dlq) == recon.dead_lettered
        assert dlq.message.str.len().min() > 0  # each with its reason
    else:
        assert "in.DLT" not in sim.broker.topics or not len(dead_letters(sim, "in.DLT"))


def test_deeply_nested_json_is_a_value_error_as_documented():
    for bad in (_deep(100_000), _deep(100_000, "{"), b"\xff" * 3, b"[" * 5 + b"1"):
        with pytest.raises(ValueError, match="event JSON"):
            Event.from_json(bad)
    nested: dict = {}
    inner = nested
    for _ in range(100_000):
        inner["a"] = {}
        inner = inner["a"]
    with pytest.raises(ValueError, match="nested too deeply"):
        Event.from_dict(
            {"id": "x", "type": "T", "time": "2026-01-01T00:00:00.000Z", "payload": nested}
        )


def test_a_recursion_bomb_goes_to_the_dead_letter_topic_with_its_reason():
    sim, svc, handled = _world([_deep(100_000), _event_json(1, {"ok": True})], None)
    assert handled == ["evt-1"]
    dlq = dead_letters(sim, "in.DLT")
    assert list(dlq.error) == ["ValueError"] and "nested too deeply" in dlq.message[0]


def test_a_record_too_large_to_dead_letter_whole_goes_without_its_value():
    # A record just under message.max.bytes is accepted; with the dead-letter headers added it is
    # over, so it is parked without its value (the headers say where the original is).
    sim = Simulation(seed=3, name="bad-records")
    sim.create_topic("in", partitions=1)
    Source(sim, "upload", "in", [b"x" * 999_900])
    svc = Service(sim, "reader", consumes="in", handlers={"T": lambda e, c: None})
    sim.run(until=2)
    assert reconcile(sim, svc).iloc[0].dead_lettered == 1
    (record,) = sim.topic("in.DLT").partitions[0].records()
    headers = dict(record.headers)
    assert record.value is None and headers[H_OFFSET] == b"0"
    assert headers[H_VALUE_DROPPED].startswith(b"999900 bytes") and headers[H_MESSAGE]


def test_a_source_goes_on_past_a_record_the_producer_refuses():
    sim = Simulation(seed=3, name="bad-records")
    sim.create_topic("in", partitions=1)
    src = Source(sim, "upload", "in", [b"x" * 2_000_000, b"small"])
    sim.run(until=1)
    assert (src.published, src.refused) == (1, 1)
    assert [r.value for r in sim.topic("in").partitions[0].records()] == [b"small"]
    refused = [r for r in sim.journal.rows() if r.kind == "refused"]
    assert len(refused) == 1 and "MSG_SIZE_TOO_LARGE" in refused[0].detail


def test_an_emit_the_broker_refuses_dead_letters_the_event_instead_of_stopping_the_run():
    sim = Simulation(seed=3, name="bad-records")
    sim.create_topic("in", partitions=1)
    sim.create_topic("out", partitions=1)
    Source(
        sim, "src", "in", [{"time": 0.1, "type": "T", "n": 1}, {"time": 0.2, "type": "T", "n": 2}]
    )

    def handle(event, ctx):
        ctx.emit("out", "U", {"blob": "x" * (2_000_000 if event.payload["n"] == 1 else 1)})

    svc = Service(sim, "fan", consumes="in", produces={"out": ["U"]}, handlers={"T": handle})
    sim.run(until=2)
    recon = reconcile(sim, svc).iloc[0]
    assert (recon.processed, recon.dead_lettered, recon.balanced) == (1, 1, True)
    assert "MSG_SIZE_TOO_LARGE" in dead_letters(sim, "in.DLT").message[0]
    assert len(list(sim.topic("out").partitions[0].records())) == 1


def test_new_event_helper_is_unchanged_for_good_events():
    sim = Simulation(seed=3, name="bad-records")
    ev = new_event(sim, "T", {"a": 1})
    assert Event.from_json(ev.to_json()) == ev


def test_a_late_event_too_large_to_send_aside_whole_goes_without_its_value():
    from eda_sim.services.load import DelayedSource
    from eda_sim.services.ordering import H_LATE_REASON

    sim = Simulation(seed=3, name="bad-records")
    sim.create_topic("in", partitions=1)
    big = {"time": 1.0, "type": "T", "blob": "x" * 999_650, "arrival": 8.0}
    DelayedSource(sim, "phone", "in", [{"time": 5.0, "type": "T", "arrival": 5.0}, big])
    svc = Service(sim, "reader", consumes="in", handlers={"T": lambda e, c: None}, reorder=1.0)
    sim.run(until=10)
    recon = reconcile(sim, svc).iloc[0]
    assert (recon.processed, recon.late, recon.balanced) == (1, 1, True)
    (record,) = sim.topic("in.late").partitions[0].records()
    headers = dict(record.headers)
    assert record.value is None and H_LATE_REASON in headers and H_VALUE_DROPPED in headers


def test_sources_go_on_past_an_event_too_large_to_produce():
    from eda_sim.services.load import DelayedSource

    sim = Simulation(seed=3, name="bad-records")
    sim.create_topic("in", partitions=1)
    huge = {"type": "T", "blob": "x" * 1_000_000}
    src = Source(sim, "app", "in", [{"time": 0.1, **huge}, {"time": 0.2, "type": "T"}])
    late = DelayedSource(sim, "phone", "in", [{"time": 0.3, **huge}, {"time": 0.4, "type": "T"}])
    sim.run(until=2)
    assert (src.published, src.refused, late.published, late.refused) == (1, 1, 1, 1)
    assert sim.topic("in").partitions[0].log_end_offset == 2
