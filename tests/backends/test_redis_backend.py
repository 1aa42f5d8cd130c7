"""The Redis Streams backend against a real redis-server: processes, kills, poison, order, bad input.

A module fixture starts ``redis-server`` on a free loopback port with
persistence off and a throwaway directory, and stops it at the end. Without
``redis-server`` the tests skip, except under CI (``$CI`` set), where .ci/run
installs it and a missing server is a failure.
"""

import multiprocessing
import os
import signal
import time

import pytest

from eda_sim import Simulation
from eda_sim.backends.redis.server import free_port
from eda_sim.kafka.partitioner import crc32_partition
from eda_sim.services.events import Event, EventIds
from eda_sim.services.load import Source
from eda_sim.services.retries import Retry, TransientError
from eda_sim.services.retries import dead_letters as sim_dead_letters
from eda_sim.services.service import Service, spans_frame
from eda_sim.testing import need as _need  # skip without the tool, fail on CI

try:
    import redis  # noqa: F401
except ImportError:  # pragma: no cover - requirements.txt installs it
    redis = None

from eda_sim.backends.redis import backend as rb  # imports the redis client only when it connects
from eda_sim.backends.redis.backend import (
    Consumer,
    KafkaException,
    Producer,
    TopicPartition,
    connect,
    create_topic,
    dead_letters,
    pending,
    publish,
    read_topic,
    run_service,
)

SPAWN = multiprocessing.get_context("spawn")


@pytest.fixture
def url(redis_server):
    client = connect(redis_server.url)
    client.flushall()
    client.close()
    return redis_server.url


# -- handlers: module level, so that spawned processes can import them -------------------------------


def bill(event, ctx):
    """The learner's handler: one receipt per order; the product 'BAD' times out every time."""
    if event.payload["product"] == "BAD":
        raise TransientError("inventory service timed out")
    ctx.emit(
        "receipts",
        "ReceiptIssued",
        {"amount": event.payload["amount"], "seq": event.payload["seq"]},
    )


def ledger(event, ctx):
    """A slow handler with Redis side effects: a count per event id and the order seen per key."""
    time.sleep(0.004)
    ctx.effect("HINCRBY", "effects", event.id, 1)
    ctx.effect("RPUSH", f"seen:{event.key}", event.payload["seq"])


def crash_on_poison(event, ctx):
    """A poison pill: this event takes the whole process down (as a segfault or OOM kill would)."""
    if event.payload.get("poison"):
        os._exit(3)
    ctx.effect("HINCRBY", "effects", event.id, 1)


def always_times_out(event, ctx):
    if event.payload.get("poison"):
        raise TransientError("scoring model timed out")
    ctx.effect("HINCRBY", "effects", event.id, 1)


# -- helpers ---------------------------------------------------------------------------------------------


def orders(n, keys=5, poison=(), raw=()):
    """n orders; per customer a rising ``seq``; indices in ``poison`` are product BAD, in ``raw`` broken bytes."""
    out, seqs = [], {}
    for i in range(n):
        if i in raw:
            out.append(b"{broken json")
            continue
        customer = f"c{i % keys}"
        seqs[customer] = seqs.get(customer, -1) + 1
        out.append(
            {
                "time": i * 0.05,
                "type": "OrderPlaced",
                "customer": customer,
                "seq": seqs[customer],
                "amount": 10 + i,
                "product": "BAD" if i in poison else f"p{i}",
            }
        )
    return out


def as_event(item, eid):
    payload = {k: v for k, v in item.items() if k not in ("time", "type")}
    return Event.create(item["type"], payload, key=payload["customer"], time=item["time"], id=eid)


def wait_for(check, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def run_on_sim(items, handlers, retry):
    sim = Simulation(seed=1, name="redis-parity")
    sim.create_topic("orders", partitions=3)
    sim.create_topic("receipts", partitions=3)
    Source(sim, "shop", "orders", items, key="customer")
    Service(
        sim,
        "billing",
        consumes="orders",
        handlers=handlers,
        produces={"receipts": ["ReceiptIssued"]},
        retry=retry,
    )
    sim.run(until=30)
    receipts = [
        (r.partition, Event.from_json(r.value))
        for log in sim.topic("receipts").partitions
        for r in log.records()
    ]
    inputs = [r.value for log in sim.topic("orders").partitions for r in log.records()]
    dead = sim_dead_letters(sim, "orders.DLT")

    def original(row):
        return (
            sim.topic(row.original_topic)
            .partitions[row.original_partition]
            .record(row.original_offset)
            .value
        )

    return receipts, inputs, dead, original, set(spans_frame(sim)["outcome"])


def run_on_redis(url, items, handlers, retry):
    create_topic(url, "orders", 3)
    create_topic(url, "receipts", 3)
    producer = Producer({"bootstrap.servers": url})
    ids = EventIds("evt")
    for item in items:
        if isinstance(item, bytes):
            producer.produce("orders", value=item)
        else:
            publish(producer, "orders", as_event(item, ids.next()))
    producer.flush()
    run_service(
        url,
        "billing",
        "orders",
        handlers,
        retry=retry,
        max_deliveries=1,
        poll_timeout=0.05,
        stop_when_idle=0.5,
    )
    receipts = [(m.partition(), Event.from_json(m.value())) for m in read_topic(url, "receipts")]
    inputs = [m.value() for m in read_topic(url, "orders")]
    dead = dead_letters(url, "orders.DLT")
    by_id = {(m.partition(), m.entry_id()): m.value() for m in read_topic(url, "orders")}

    def original(row):
        return by_id[(row.original_partition, row.original_offset)]

    return receipts, inputs, dead, original, set(rb.spans_frame(url, "billing")["outcome"])


# -- the same learner code, the same assertions, on both backends -----------------------------------


@pytest.mark.parametrize("backend", ["simulator", "redis"])
def test_the_same_handler_passes_the_same_assertions_on_the_simulator_and_on_redis(
    backend, request
):
    items = orders(30, poison={7}, raw={12})
    retry = Retry(attempts=3, backoff=0.001)
    if backend == "simulator":
        receipts, inputs, dead, original, outcomes = run_on_sim(items, {"OrderPlaced": bill}, retry)
    else:
        receipts, inputs, dead, original, outcomes = run_on_redis(
            request.getfixturevalue("url"), items, {"OrderPlaced": bill}, retry
        )
    placed = {}
    for value in inputs:
        try:
            ev = Event.from_json(value)
        except ValueError:
            continue
        placed[ev.id] = ev
    good = {i: e for i, e in placed.items() if e.payload["product"] != "BAD"}
    # every good order caused exactly one receipt, carrying its trace and key
    assert sorted(r.causation_id for _, r in receipts) == sorted(good)
    for partition, r in receipts:
        order = good[r.causation_id]
        assert (r.correlation_id, r.key, r.payload["amount"]) == (
            order.correlation_id,
            order.key,
            order.payload["amount"],
        )
        assert partition == crc32_partition(r.key.encode(), 3)
    # per-key order: each customer's receipts sit in one partition in the order the orders were placed
    by_key = {}
    for _, r in receipts:
        by_key.setdefault(r.key, []).append(r.payload["seq"])
    assert all(seqs == sorted(seqs) for seqs in by_key.values()) and len(by_key) == 5
    # the poison order and the broken bytes are dead-lettered with their origin and cause
    assert len(dead) == 2
    poison = dead[dead.error == "TransientError"].iloc[0]
    broken = dead[dead.error != "TransientError"].iloc[0]
    assert (poison.original_topic, poison.group, poison.attempts) == ("orders", "billing", 3)
    assert "timed out" in poison.message
    assert Event.from_json(original(poison)).payload["product"] == "BAD"
    assert poison.original_partition == crc32_partition(
        Event.from_json(original(poison)).key.encode(), 3
    )
    assert (broken.error, broken.attempts, original(broken)) == ("ValueError", 0, b"{broken json")
    assert "not valid JSON" in broken.message
    assert outcomes == {"handled", "dead_lettered"}


# -- processes, kills and claims -------------------------------------------------------------------------


def _members(client, group):
    return {m.decode() for m in client.zrange(f"eda:group:{group}:members", 0, -1)}


@pytest.mark.parametrize("idempotent", [False, True], ids=["at_least_once", "idempotent"])
def test_killing_a_consumer_process_mid_stream_loses_no_event(url, idempotent):
    client = connect(url)
    create_topic(url, "orders", 4)
    n, keys = 240, 12
    items = [
        {"time": 0.0, "type": "OrderPlaced", "customer": f"k{i % keys}", "seq": i // keys}
        for i in range(n)
    ]
    events = [as_event(item, f"evt-{i:06d}") for i, item in enumerate(items)]
    producer = Producer({"bootstrap.servers": url})
    for ev in events:
        publish(producer, "orders", ev)
    for ev in events[:10]:  # a producer retry: the same events appended a second time
        publish(producer, "orders", ev)
    producer.flush()
    policy = dict(
        idempotent=idempotent,
        claim_idle_ms=300,
        session_timeout_ms=800,
        max_in_flight=5,
        poll_timeout=0.05,
    )
    procs = {
        name: SPAWN.Process(
            target=run_service,
            args=(url, "ledger", "orders", {"OrderPlaced": ledger}),
            kwargs=dict(policy, instance=name),
            daemon=True,
        )
        for name in ("ledger-a", "ledger-b")
    }
    for p in procs.values():
        p.start()
    try:
        wait_for(
            lambda: _members(client, "ledger") == {"ledger-a", "ledger-b"},
            15,
            "both members to join",
        )

        def a_has_entries_in_flight():
            summary = client.xpending("orders:0", "ledger"), client.xpending("orders:2", "ledger")
            busy = any(
                c["name"] == b"ledger-a" and c["pending"] for s in summary for c in s["consumers"]
            )
            return busy and client.hlen("effects") >= n // 4

        wait_for(
            a_has_entries_in_flight,
            15,
            "a quarter of the events handled, ledger-a in the middle of more",
        )
        victim = procs["ledger-a"]
        os.kill(victim.pid, signal.SIGKILL)
        victim.join(5)
        held = pending(url, "orders", "ledger")
        orphaned = set(held[held.consumer == "ledger-a"].entry_id)
        assert orphaned, "the killed member had entries in flight"
        assert client.hlen("effects") < n, "killed mid-stream, not after the end"

        def all_done():
            return client.hlen("effects") == n and pending(url, "orders", "ledger").empty

        wait_for(all_done, 20, "the survivor to claim and finish everything")
        procs["ledger-b"].terminate()  # SIGTERM: finish the batch, ack, leave
        procs["ledger-b"].join(5)
        assert procs["ledger-b"].exitcode == 0
    finally:
        for p in procs.values():
            if p.is_alive():
                p.kill()
    effects = {k.decode(): int(v) for k, v in client.hgetall("effects").items()}
    assert set(effects) == {ev.id for ev in events}  # every event processed at least once
    retried = {ev.id for ev in events[:10]}
    if idempotent:
        assert set(effects.values()) == {
            1
        }  # exactly one side effect each, duplicates and claims included
    else:
        assert all(effects[i] >= 2 for i in retried)  # the duplicated records were handled twice
    # the orphaned entries were claimed by the survivor and handled: their events all have effects
    by_entry = {
        (m.partition(), m.entry_id()): Event.from_json(m.value()).id
        for m in read_topic(url, "orders")
    }
    assert {
        by_entry[(p, e)]
        for p, e in held[held.consumer == "ledger-a"][["partition", "entry_id"]].values
    } <= set(effects)
    # per-key order within a partition held across the kill and the hand-over
    for k in range(keys):
        seen = [int(x) for x in client.lrange(f"seen:k{k}", 0, -1)]
        first = list(dict.fromkeys(seen))
        assert first == list(range(n // keys)), (k, seen)
        if idempotent:
            assert seen == first
    client.close()


def test_a_poison_event_is_dead_lettered_with_its_origin_after_the_configured_deliveries(url):
    client = connect(url)
    create_topic(url, "scores", 2)
    producer = Producer({"bootstrap.servers": url})
    events = [
        Event.create("Scored", {"poison": i == 3}, key=f"u{i}", id=f"evt-{i:06d}") for i in range(6)
    ]
    for ev in events:
        publish(producer, "scores", ev)
    producer.flush()
    counts = run_service(
        url,
        "scorer",
        "scores",
        {"Scored": always_times_out},
        retry=Retry(attempts=2, backoff=0.001),
        max_deliveries=3,
        claim_idle_ms=100,
        poll_timeout=0.02,
        stop_when_idle=1.0,
    )
    dead = dead_letters(url, "scores.DLT")
    assert len(dead) == 1
    row = dead.iloc[0]
    poison = next(m for m in read_topic(url, "scores") if m.entry_id() == row.original_offset)
    assert Event.from_json(poison.value()).id == "evt-000003"
    assert (row.original_topic, row.original_partition, row.group) == (
        "scores",
        poison.partition(),
        "scorer",
    )
    assert (row.error, row.deliveries, row.attempts) == (
        "TransientError",
        3,
        6,
    )  # 3 deliveries x 2 tries
    assert "timed out" in row.message
    assert counts["redeliver"] == 2 and counts["dead_lettered"] == 1 and counts["handled"] == 5
    assert pending(url, "scores", "scorer").empty
    assert sorted(k.decode() for k in client.hkeys("effects")) == [
        e.id for e in events if e.id != "evt-000003"
    ]
    client.close()


def test_a_poison_pill_that_kills_its_process_is_dead_lettered_after_max_deliveries(url):
    create_topic(url, "jobs", 1)
    producer = Producer({"bootstrap.servers": url})
    events = [Event.create("Job", {"poison": i == 1}, key="k", id=f"evt-{i:06d}") for i in range(3)]
    for ev in events:
        publish(producer, "jobs", ev)
    producer.flush()
    exits = []
    for _ in range(4):  # a supervisor restarting the same static member after every crash
        p = SPAWN.Process(
            target=run_service,
            args=(url, "worker", "jobs", {"Job": crash_on_poison}),
            kwargs=dict(
                instance="worker-1", max_deliveries=2, poll_timeout=0.02, stop_when_idle=0.3
            ),
        )
        p.start()
        p.join(15)
        if p.is_alive():
            p.kill()
            p.join(5)
        exits.append(p.exitcode)
        if p.exitcode == 0:
            break
    assert exits == [3, 3, 0]  # delivered twice (both crashed), then dead-lettered unopened
    row = dead_letters(url, "jobs.DLT").iloc[0]
    assert (row.error, row.deliveries, row.original_partition) == ("MaxDeliveriesExceeded", 3, 0)
    assert "max_deliveries=2" in row.message
    client = connect(url)
    assert sorted(k.decode() for k in client.hkeys("effects")) == ["evt-000000", "evt-000002"]
    client.close()


def test_shared_ownership_balances_entries_and_claims_an_abandoned_members_entries(url):
    create_topic(url, "orders", 1)
    p = Producer({"bootstrap.servers": url})
    for i in range(40):
        p.produce("orders", key="one-key", value=str(i))
    p.flush()
    conf = {
        "bootstrap.servers": url,
        "group.id": "g",
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
        "redis.partition.ownership": "shared",
        "redis.claim.idle.ms": 200,
    }
    a, b = Consumer(dict(conf, **{"client.id": "a"})), Consumer(dict(conf, **{"client.id": "b"}))
    a.subscribe(["orders"])
    b.subscribe(["orders"])
    taken_by_a = a.consume(10, 2.0)  # a takes 10 and is never heard from again (no ack, no close)
    assert len(taken_by_a) == 10
    seen = []
    deadline = time.monotonic() + 5
    while len(seen) < 40 and time.monotonic() < deadline:
        msgs = b.consume(50, 0.2)
        if msgs:
            b.commit(asynchronous=False)
            seen += msgs
    assert sorted(int(m.value()) for m in seen) == list(
        range(40)
    )  # nothing lost: b claimed a's ten
    fresh = [m for m in seen if m.delivery_count() == 1]
    assert (
        {m.partition() for m in taken_by_a} == {m.partition() for m in fresh} == {0}
    )  # two readers, one partition
    claimed = [m for m in seen if m.delivery_count() == 2]
    assert sorted(m.entry_id() for m in claimed) == sorted(m.entry_id() for m in taken_by_a)
    assert pending(url, "orders", "g").empty
    b.close()
    a.close()


# -- the client surface -----------------------------------------------------------------------------------


def test_records_are_partitioned_like_the_simulator_and_read_back_with_their_fields(url):
    create_topic(url, "orders", 3)
    reports = []
    p = Producer(
        {"bootstrap.servers": url, "on_delivery": lambda err, msg: reports.append((err, msg))}
    )
    for i in range(30):
        p.produce(
            "orders",
            key=f"user-{i % 5}",
            value=f"{i}",
            headers=[("trace", b"t-%d" % i)],
            timestamp=1000 + i,
        )
    assert p.flush() == 0 and len(reports) == 30 and all(err is None for err, _ in reports)
    c = Consumer(
        {
            "bootstrap.servers": url,
            "group.id": "g",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
        }
    )
    c.subscribe(["orders"])
    got = []
    deadline = time.monotonic() + 5
    while len(got) < 30 and time.monotonic() < deadline:
        got += c.consume(50, 0.5)
    assert len(got) == 30
    per_key = {}
    for m in got:
        assert m.error() is None
        assert m.partition() == crc32_partition(m.key(), 3)
        i = int(m.value())
        assert (m.headers(), m.timestamp()) == ([("trace", b"t-%d" % i)], (1, 1000 + i))
        assert rb.offset_to_entry_id(m.offset()) == m.entry_id()
        per_key.setdefault(m.key(), []).append((m.offset(), i))
    for runs in per_key.values():
        assert [i for _, i in sorted(runs)] == sorted(
            i for _, i in runs
        )  # offsets rise with the log order
    delivered = {(r.topic(), r.partition(), r.offset()) for _, r in reports}
    assert delivered == {(m.topic(), m.partition(), m.offset()) for m in got}
    first = got[0]
    tp = TopicPartition(first.topic(), first.partition())
    assert c.committed([tp])[0].offset == first.offset()  # the oldest unacknowledged entry
    assert c.position([tp])[0].offset > first.offset()
    c.commit(message=first, asynchronous=False)  # XACK of that one entry
    assert c.committed([tp])[0].offset > first.offset()
    parts = c.commit(asynchronous=False)  # everything handed out
    assert {t.partition for t in parts} <= {0, 1, 2}
    assert all(x.offset == c.position([x])[0].offset for x in parts)
    assert pending(url, "orders", "g").empty
    assert sorted(t.partition for t in c.assignment()) == [0, 1, 2]
    with pytest.raises(KafkaException, match="nothing to commit"):
        c.commit(asynchronous=False)
    c.close()


def test_auto_offset_reset_picks_where_a_new_group_starts_on_each_stream(url):
    create_topic(url, "orders", 2)
    p = Producer({"bootstrap.servers": url})
    for i in range(3):
        p.produce("orders", key=f"k{i}", value=f"old-{i}")
    p.flush()
    base = {"bootstrap.servers": url, "enable.auto.commit": False}
    latest = Consumer(
        dict(base, **{"group.id": "new-only"})
    )  # latest is the default, as in librdkafka
    latest.subscribe(["orders"])
    assert latest.consume(10, 0.2) == []  # joining creates the groups at '$'
    for i in range(2):
        p.produce("orders", key=f"k{i}", value=f"new-{i}")
    p.flush()
    got = []
    deadline = time.monotonic() + 5
    while len(got) < 2 and time.monotonic() < deadline:
        got += latest.consume(10, 0.2)
    assert sorted(m.value() for m in got) == [b"new-0", b"new-1"]
    earliest = Consumer(dict(base, **{"group.id": "everything", "auto.offset.reset": "earliest"}))
    earliest.subscribe(["orders"])
    assert len(earliest.consume(10, 1.0)) + len(earliest.consume(10, 0.2)) == 5
    strict = Consumer(dict(base, **{"group.id": "nobody", "auto.offset.reset": "none"}))
    strict.subscribe(["orders"])
    err = strict.poll(0.2).error()
    assert (
        err.code() == rb.KafkaError._AUTO_OFFSET_RESET and "auto.offset.reset is none" in err.str()
    )
    for c in (latest, earliest, strict):
        c.close()


def test_malformed_entries_are_dead_lettered_with_the_reason_not_crashed_on(url):
    client = connect(url)
    create_topic(url, "orders", 1)
    p = Producer({"bootstrap.servers": url})
    p.produce("orders", key="a", value="first")
    p.flush()
    client.xadd("orders:0", {"value": "no timestamp"})
    client.xadd("orders:0", {"timestamp": "5", "value": "x", "headers": "{not json"})
    client.xadd("orders:0", {"timestamp": "5", "valeu": "typo"})
    p.produce("orders", key="a", value="last")
    p.flush()
    c = Consumer({"bootstrap.servers": url, "group.id": "g", "auto.offset.reset": "earliest"})
    c.subscribe(["orders"])
    got = []
    deadline = time.monotonic() + 5
    while len(got) < 2 and time.monotonic() < deadline:
        got += c.consume(10, 0.2)
    assert [m.value() for m in got] == [b"first", b"last"]
    c.close()  # auto-commit acks what was handed out
    dead = dead_letters(url, "orders.DLT")
    assert list(dead.error) == ["MalformedEntry"] * 3
    reasons = list(dead.message)
    assert (
        "'timestamp' is missing" in reasons[0]
        and "not JSON" in reasons[1]
        and "'valeu'" in reasons[2]
    )
    assert dead.value.iloc[0] == "no timestamp" and set(dead.group) == {"g"}
    assert pending(url, "orders", "g").empty  # malformed entries are acked once dead-lettered
    client.close()


def test_an_unreachable_server_gives_a_clear_error_naming_the_url_within_a_bounded_time(
    monkeypatch,
):
    if redis is None:
        _need("the redis client package is missing", "pip install -r requirements.txt")
    closed = f"redis://127.0.0.1:{free_port()}/0"
    for make in (
        lambda: Producer({"bootstrap.servers": closed}),
        lambda: Consumer({"bootstrap.servers": closed, "group.id": "g"}),
        lambda: run_service(closed, "svc", "orders", {"X": bill}),
    ):
        start = time.monotonic()
        with pytest.raises(KafkaException) as info:
            make()
        assert time.monotonic() - start < 3.0
        assert closed in str(info.value) and "_TRANSPORT" in str(info.value)
    secret = f"redis://user:hunter2@127.0.0.1:{free_port()}/0"
    with pytest.raises(KafkaException) as info:
        Producer({"bootstrap.servers": secret})
    assert "hunter2" not in str(info.value) and "***" in str(info.value)
    monkeypatch.delenv("EDA_REDIS_URL", raising=False)
    with pytest.raises(KafkaException, match="EDA_REDIS_URL"):
        Producer({})
    with pytest.raises(KafkaException, match="redis://"):
        Producer({"bootstrap.servers": "localhost:9092"})


def test_bad_config_and_unknown_topics_say_what_is_expected(url):
    with pytest.raises(KafkaException, match="idempotent"):
        Producer({"bootstrap.servers": url, "enable.idempotence": True})
    with pytest.raises(KafkaException, match='did you mean "group.id"'):
        Consumer({"bootstrap.servers": url, "group.idd": "g"})
    with pytest.raises(KafkaException, match="leased, shared"):
        Consumer({"bootstrap.servers": url, "group.id": "g", "redis.partition.ownership": "mine"})
    create_topic(url, "orders", 2)
    with pytest.raises(KafkaException, match="already exists"):
        create_topic(url, "orders", 2)
    assert create_topic(url, "orders", 5, exist_ok=True) == 2
    with pytest.raises(KafkaException, match="topics: orders"):
        Producer({"bootstrap.servers": url}).produce("ordrs", value="x")
    with pytest.raises(KafkaException, match="a-z A-Z 0-9"):
        create_topic(url, "has:colon", 1)


def test_the_differences_table_covers_what_the_notebook_must_tell():
    table = rb.differences()
    assert list(table.columns) == ["aspect", "kafka", "redis_streams", "this_backend"]
    aspects = set(table.aspect)
    assert {
        "acknowledgement",
        "redelivery",
        "idempotent append",
        "retention",
        "partitions",
        "consumer group",
        "partition ownership",
        "offsets",
    } <= aspects
    assert table.notna().all().all()


def test_a_partition_past_the_last_is_unknown_partition_as_on_the_simulator(url):
    create_topic(url, "payments", 2)
    producer = Producer({"bootstrap.servers": url})
    for bad in (2, 3):
        with pytest.raises(KafkaException, match=rf"partitions 0\.\.1, not {bad}") as err:
            producer.produce("payments", value="x", partition=bad)
        assert err.value.args[0].name() == "_UNKNOWN_PARTITION"
    producer.produce("payments", value="x", partition=1)  # the last partition is a partition
    producer.flush()
