"""The consumer's local fetch queue, pause/resume and librdkafka's statistics: the promises.

librdkafka fetches ahead into a local queue bounded by ``queued.min.messages``
(per partition) and ``queued.max.messages.kbytes`` (the whole consumer, which a
fetch may overshoot); ``pause`` drops what was fetched for a partition and
``resume`` fetches again from the position; a revoked partition's queued
records are never handed out.
"""

import json
from functools import partial

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eda_sim import Simulation
from eda_sim.kafka import Consumer, KafkaException, Producer, TopicPartition
from eda_sim.kafka.fetchqueue import RECORD_OVERHEAD


def world(name, partitions=2, records=40, value=b"v" * 10):
    sim = Simulation(seed=3, name=name)
    sim.create_topic("jobs", partitions=partitions)
    p = Producer({"bootstrap.servers": sim.bootstrap_servers})
    for i in range(records):
        p.produce("jobs", key=f"k{i}", value=value, partition=i % partitions)
    p.flush()
    return sim


def consumer(sim, **extra):
    conf = {
        "bootstrap.servers": sim.bootstrap_servers,
        "group.id": "workers",
        "auto.offset.reset": "earliest",
        "enable.auto.commit": False,
    }
    conf.update(extra)
    c = Consumer(conf)
    c.subscribe(["jobs"])
    return c


def test_the_fetch_defaults_are_librdkafkas():
    sim = Simulation(seed=1, name="fq-defaults")
    c = Consumer({"bootstrap.servers": sim.bootstrap_servers, "group.id": "g"})
    cfg = c.config
    assert cfg["queued.min.messages"] == 100000
    assert cfg["queued.max.messages.kbytes"] == 65536
    assert cfg["fetch.message.max.bytes"] == 1048576
    assert cfg["fetch.max.bytes"] == 52428800
    assert cfg["fetch.min.bytes"] == 1
    assert cfg["fetch.wait.max.ms"] == 500
    assert cfg["statistics.interval.ms"] == 0
    alias = Consumer(
        {
            "bootstrap.servers": sim.bootstrap_servers,
            "group.id": "g",
            "max.partition.fetch.bytes": 4096,
        }
    )
    assert alias.config["fetch.message.max.bytes"] == 4096


def test_an_explicit_fetch_max_bytes_below_message_max_bytes_is_refused_as_librdkafka_does():
    sim = Simulation(seed=1, name="fq-refuse")
    with pytest.raises(KafkaException, match="must be >= `message.max.bytes`"):
        Consumer(
            {"bootstrap.servers": sim.bootstrap_servers, "group.id": "g", "fetch.max.bytes": 999}
        )
    with pytest.raises(KafkaException, match="outside allowed range 1..10000000"):
        Consumer(
            {"bootstrap.servers": sim.bootstrap_servers, "group.id": "g", "queued.min.messages": 0}
        )


def test_the_consumer_holds_what_it_fetched_ahead_and_poll_serves_from_it():
    sim = world("fq-ahead", partitions=2, records=40)
    c = consumer(sim)
    first = c.poll(1.0)
    assert first is not None
    held = c.fetch_queue()
    # 20 records per partition, all fetched at the first poll; one handed out
    assert sum(n for n, _ in held.values()) == 39
    assert c.queued_records == 39
    assert c.queued_bytes == 39 * 10  # librdkafka counts value bytes (fetchq_size)


def test_with_pause_no_record_of_the_paused_partition_is_returned_and_resume_loses_none():
    sim = world("fq-pause", partitions=2, records=40)
    c = consumer(sim)
    seen = []
    for _ in range(6):
        seen.append(c.poll(1.0))
    c.pause([TopicPartition("jobs", 0)])
    assert c.paused() == [TopicPartition("jobs", 0)]
    assert sorted((tp.topic, tp.partition) for tp in c.assignment()) == [("jobs", 0), ("jobs", 1)]
    assert c.fetch_queue()[("jobs", 0)] == (0, 0)  # what was fetched for it is dropped
    while_paused = c.consume(100, 1.0)
    assert while_paused and all(m.partition() == 1 for m in while_paused)
    # still paused: nothing more, even when new records arrive for partition 0
    p = Producer({"bootstrap.servers": sim.bootstrap_servers})
    p.produce("jobs", key="late", value=b"late", partition=0)
    p.flush()
    assert c.consume(100, 1.0) == []
    c.resume([TopicPartition("jobs", 0)])
    assert c.paused() == []
    after = c.consume(100, 1.0)
    got = [m for m in seen + while_paused + after if m.partition() == 0]
    assert [m.offset() for m in got] == list(range(21))  # from the position: no loss, no duplicate


def test_pause_and_resume_take_a_list_of_topic_partitions():
    sim = world("fq-args", partitions=1, records=2)
    c = consumer(sim)
    c.poll(1.0)
    with pytest.raises(TypeError, match="expected list of TopicPartition"):
        c.pause(TopicPartition("jobs", 0))
    with pytest.raises(TypeError, match="expected list of TopicPartition"):
        c.resume([("jobs", 0)])
    c.pause([TopicPartition("jobs", 7)])  # not assigned: ignored, as librdkafka does
    assert c.paused() == []


def test_a_revoked_partitions_queued_records_are_never_returned_after_revocation():
    sim = world("fq-revoke", partitions=2, records=40)
    a = consumer(sim, **{"client.id": "a", "partition.assignment.strategy": "range"})
    handed = [a.poll(1.0) for _ in range(4)]
    a.commit(asynchronous=False)
    assert a.fetch_queue()[("jobs", 1)][0] > 0  # a holds records of partition 1 fetched ahead
    b = consumer(sim, **{"client.id": "b", "partition.assignment.strategy": "range"})
    b.poll(0)  # b joins: range gives a partition 0 and b partition 1
    rest = a.consume(100, 1.0)
    assert ("jobs", 1) not in a.fetch_queue()
    assert rest and all(m.partition() == 0 for m in rest)
    # partition 0 goes on from the committed offset, not from a queue left from before
    committed = {m.partition(): m.offset() + 1 for m in handed}
    assert rest[0].offset() == committed[0]


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    min_msgs=st.integers(1, 30),
    kbytes=st.integers(1, 6),
    partition_bytes=st.integers(1, 5000),
    sizes=st.lists(st.integers(0, 3000), min_size=1, max_size=80),
    batches=st.lists(st.integers(1, 25), min_size=1, max_size=30),
)
def test_the_queue_never_exceeds_its_limits_and_hands_out_everything_once_in_order(
    min_msgs, kbytes, partition_bytes, sizes, batches
):
    sim = Simulation(seed=5, name="fq-limits")
    sim.create_topic("jobs", partitions=3)
    p = Producer({"bootstrap.servers": sim.bootstrap_servers})
    for i, size in enumerate(sizes):
        p.produce("jobs", key=b"k", value=b"x" * size, partition=i % 3)
    p.flush()
    c = consumer(
        sim,
        **{
            "queued.min.messages": min_msgs,
            "queued.max.messages.kbytes": kbytes,
            "max.partition.fetch.bytes": partition_bytes,
        },
    )
    largest_wire = max(sizes) + 1 + RECORD_OVERHEAD
    smallest_wire = min(sizes) + 1 + RECORD_OVERHEAD
    one_fetch = max(1, partition_bytes // smallest_wire)
    got = []
    for i in range(len(batches) + len(sizes) + 2):
        got.extend(c.consume(batches[i % len(batches)], 0.5))
        held = c.fetch_queue()
        assert c.queued_bytes < kbytes * 1024 + max(partition_bytes, largest_wire)
        assert sum(b for _, b in held.values()) == c.queued_bytes
        for n, _ in held.values():
            assert n <= min_msgs - 1 + one_fetch
    by_part = {}
    for m in got:
        by_part.setdefault(m.partition(), []).append(m.offset())
    assert sum(len(v) for v in by_part.values()) == len(sizes)
    for offsets in by_part.values():
        assert offsets == list(range(len(offsets)))


def test_stats_cb_gets_librdkafkas_statistics_json_every_interval_from_poll():
    sim = world("fq-stats", partitions=2, records=10)
    reports = []
    c = consumer(sim, **{"statistics.interval.ms": 1000, "stats_cb": reports.append})
    c.poll(1.0)
    c.poll(0)
    assert reports == []  # not a second yet
    sim.run(until=sim.now + 1.0)
    held = c.fetch_queue()
    c.poll(0)  # the statistics are taken when the poll starts, before it hands out a record
    assert len(reports) == 1
    stats = json.loads(reports[0])
    assert stats["type"] == "consumer"
    parts = stats["topics"]["jobs"]["partitions"]
    for (_, part), (n, nbytes) in held.items():
        assert parts[str(part)]["fetchq_cnt"] == n
        assert parts[str(part)]["fetchq_size"] == nbytes
    assert sum(p["fetchq_cnt"] for p in parts.values()) == 10 - 2


@pytest.mark.parametrize("min_bytes, waited", [(1, 0.0), (100, 0.0), (5000, 0.25)])
def test_the_broker_holds_a_fetch_until_fetch_min_bytes_or_fetch_wait_max_ms(min_bytes, waited):
    sim = world("fq-minbytes", partitions=1, records=2, value=b"v" * 40)  # 2 x (40 + 2 + 36) bytes
    c = consumer(sim, **{"fetch.min.bytes": min_bytes, "fetch.wait.max.ms": 250})
    start = sim.now
    msg = c.poll(5.0)
    assert msg is not None and msg.offset() == 0
    assert sim.now - start == pytest.approx(waited)


def _mixed_world(name):
    """Plain records on three partitions, then an aborted and a committed transaction on partition 0."""
    sim = world(name, partitions=3, records=30)
    t = sim.producer({"transactional.id": "t-0"})
    t.init_transactions(5.0)
    for outcome in ("abort", "commit"):
        t.begin_transaction()
        for i in range(3):
            t.produce("jobs", key=f"t{i}", value=outcome, partition=0)
        t.flush()
        getattr(t, f"{outcome}_transaction")()
    return sim


def test_poll_hands_out_what_consume_of_one_does_record_for_record_and_row_for_row():
    """poll()'s shortcut over fetched records gives the same records, positions and journal as consume(1)."""
    runs = {}
    for how in ("poll", "consume"):
        sim = _mixed_world(f"fq-same-{how}")
        c = consumer(sim)
        got = []
        for _ in range(60):
            m = c.poll(0.5) if how == "poll" else next(iter(c.consume(1, 0.5)), None)
            if m is not None:
                got.append((m.partition(), m.offset(), m.value()))
        delivered = [(r.partition, r.offset, r.count) for r in sim.journal.rows("delivered")]
        runs[how] = (got, delivered, c.position([TopicPartition("jobs", p) for p in range(3)]))
    assert runs["poll"] == runs["consume"]
    got = runs["poll"][0]
    assert len(got) == 30 + 3  # the aborted three never come, nor either marker
    assert [v for p, _, v in got if v in (b"abort", b"commit")] == [b"commit"] * 3


# -- fetch.queue.backoff.ms: a partition found at its queue limits is not fetched for a while --------


def _ticking(name, backlog, then, every=0.01, partitions=1):
    """``backlog`` records already in the log when the consumer starts, then ``then`` more, one every ``every`` s."""
    sim = Simulation(seed=7, name=name)
    sim.create_topic("ticks", partitions=partitions)
    p = Producer({"bootstrap.servers": sim.bootstrap_servers, "linger.ms": 0})
    for i in range(backlog):
        p.produce("ticks", value=f"{i}", partition=i % partitions)
    p.flush()
    start = sim.now
    for i in range(then):
        send = partial(p.produce, "ticks", f"{backlog + i}", partition=(backlog + i) % partitions)
        sim.at(start + (i + 1) * every, send)
    return sim


def _ticks_consumer(sim, **extra):
    conf = {
        "bootstrap.servers": sim.bootstrap_servers,
        "group.id": "ticks",
        "auto.offset.reset": "earliest",
        "queued.min.messages": 5,
    }
    conf.update(extra)
    c = Consumer(conf)
    c.subscribe(["ticks"])
    return c


@pytest.mark.parametrize("backoff_ms, longest_gap", [(None, 1.0), (250, 0.25), (10, 0.01)])
def test_a_drained_full_queue_waits_fetch_queue_backoff_ms_before_the_next_fetch(
    backoff_ms, longest_gap
):
    # A backlog of 20 fills the queue past queued.min.messages=5; a fast consumer empties it at once and
    # then waits for the backoff, while a record arrives every 10 ms (CONFIGURATION.md's "~1s delays").
    sim = _ticking("fq-backoff", backlog=20, then=150)
    extra = {} if backoff_ms is None else {"fetch.queue.backoff.ms": backoff_ms}
    c = _ticks_consumer(sim, **extra)
    start = sim.now
    got = []
    while len(got) < 170:
        m = c.poll(2.0)
        assert m is not None and m.error() is None
        got.append((sim.now - start, m.offset()))
    assert [o for _, o in got] == list(range(170))  # nothing lost, nothing twice, in order
    times = [t for t, _ in got]
    gaps = [b - a for a, b in zip(times, times[1:])]
    # a record reaches the log 2 ms after it is produced (the simulation's network_latency)
    assert max(gaps) == pytest.approx(longest_gap, abs=0.0025)
    if backoff_ms is None:  # the default, 1 s: the records arrive in bursts, one a second
        assert times[19] == 0.0 and times[20] == pytest.approx(1.0)
        assert sorted({round(t, 6) for t in times}) == [0.0, 1.0, 2.0]


def test_with_the_queue_never_at_its_limits_the_backoff_never_starts():
    sim = _ticking("fq-no-backoff", backlog=0, then=50)  # one record per fetch: never 5 held
    c = _ticks_consumer(sim)
    times = []
    while len(times) < 50:
        m = c.poll(2.0)
        assert m is not None
        times.append(sim.now)
    assert max(b - a for a, b in zip(times, times[1:])) == pytest.approx(0.01)


def test_a_poll_waiting_in_a_process_wakes_when_the_backoff_ends():
    sim = _ticking("fq-backoff-process", backlog=20, then=0)
    c = _ticks_consumer(sim)
    start = sim.now
    late = Producer({"bootstrap.servers": sim.bootstrap_servers, "linger.ms": 0})
    sim.at(start + 0.1, late.produce, "ticks", "late")
    got = []

    def member():
        while len(got) < 21:
            for m in (yield from c.poll_in_process(100, 5.0)):
                got.append((sim.now - start, m.offset()))

    sim.env.process(member())
    sim.run(until=start + 6.0)
    assert [o for _, o in got] == list(range(21))
    # the 20 at once, then the late one when the 1 s backoff ends: not at the record (0.1), nor at the timeout
    assert got[19][0] == 0.0
    assert got[20][0] == pytest.approx(1.0)


def test_resume_does_not_end_a_backoff_but_seek_starts_fetching_again_at_once():
    sim = _ticking("fq-backoff-pause", backlog=20, then=0)
    c = _ticks_consumer(sim)
    start = sim.now
    first = c.poll(1.0)
    assert first.offset() == 0  # 20 fetched, backoff until start + 1 s
    tp = TopicPartition("ticks", 0)
    c.pause([tp])
    assert c.fetch_queue()[("ticks", 0)] == (0, 0)
    sim.run(until=start + 0.3)
    c.resume([tp])
    m = c.poll(5.0)
    assert m.offset() == 1
    assert sim.now - start == pytest.approx(1.0)  # librdkafka's resume leaves the backoff in force
    # the refetch filled the queue again: a new backoff; a seek starts the partition's fetch over at once
    c.pause([tp])
    c.resume([tp])
    c.seek(TopicPartition("ticks", 0, 10))
    before = sim.now
    m = c.poll(5.0)
    assert m.offset() == 10 and sim.now == before


def test_pause_past_the_end_of_a_backoff_then_resume_fetches_at_once():
    sim = _ticking("fq-backoff-pause-late", backlog=20, then=0)
    c = _ticks_consumer(sim)
    start = sim.now
    assert c.poll(1.0).offset() == 0
    tp = TopicPartition("ticks", 0)
    sim.run(until=start + 2.5)  # the queue stayed full: the backoff ran on, window after window
    c.pause([tp])  # held back until now, in the window that ends at 3 s
    c.resume([tp])
    m = c.poll(5.0)
    assert m.offset() == 1
    assert sim.now - start == pytest.approx(3.0)


@settings(max_examples=15, deadline=None)
@given(
    backoff_ms=st.sampled_from([0, 1, 200, 1000]),
    min_msgs=st.integers(1, 8),
    backlog=st.integers(0, 30),
    then=st.integers(0, 40),
    partitions=st.integers(1, 3),
    batches=st.lists(st.integers(1, 12), min_size=1, max_size=8),
    pause_at=st.lists(st.integers(0, 60), max_size=3),
)
def test_across_backoffs_pauses_and_resumes_every_record_comes_once_in_order(
    backoff_ms, min_msgs, backlog, then, partitions, batches, pause_at
):
    sim = _ticking("fq-backoff-prop", backlog=backlog, then=then, every=0.05, partitions=partitions)
    c = _ticks_consumer(
        sim, **{"queued.min.messages": min_msgs, "fetch.queue.backoff.ms": backoff_ms}
    )
    got = []
    for i in range(400):
        if len(got) == backlog + then:
            break
        if i in pause_at:
            c.pause(c.assignment())
        elif c.paused() and i - 1 in pause_at:
            c.resume(c.paused())
        for m in c.consume(batches[i % len(batches)], 0.3):
            assert m.error() is None
            got.append((m.partition(), m.offset()))
    if c.paused():
        c.resume(c.paused())
    while len(got) < backlog + then:
        msgs = c.consume(50, 2.0)
        assert msgs
        got.extend((m.partition(), m.offset()) for m in msgs)
    by_part = {}
    for part, off in got:
        by_part.setdefault(part, []).append(off)
    assert sum(len(v) for v in by_part.values()) == backlog + then
    for offsets in by_part.values():
        assert offsets == list(range(len(offsets)))


def test_fetch_queue_backoff_ms_takes_librdkafkas_range():
    sim = Simulation(seed=1, name="fq-backoff-config")
    base = {"bootstrap.servers": sim.bootstrap_servers, "group.id": "g"}
    assert Consumer(base).config["fetch.queue.backoff.ms"] == 1000
    for ok in (0, 300000, "250"):
        Consumer({**base, "fetch.queue.backoff.ms": ok})
    for bad in (-1, 300001):
        with pytest.raises(KafkaException, match=r"value .* is outside allowed range 0\.\.300000"):
            Consumer({**base, "fetch.queue.backoff.ms": bad})
    with pytest.raises(KafkaException, match="expected an integer in 0..300000"):
        Consumer({**base, "fetch.queue.backoff.ms": "soon"})
