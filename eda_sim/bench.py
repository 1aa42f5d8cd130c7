"""``python -m eda_sim.bench``: how fast and how small the simulator is.

The workload: ``N`` keyed records (1,000 distinct keys) produced at a steady
rate into an 8-partition topic and consumed by a 4-member group that polls up
to 500 records, processes each for a microsecond of virtual time and commits
after processing: produce -> deliver -> process -> commit, all on the virtual
clock. It runs with the journal on and off; beside it, in the same process,
the same records are handed through eight bare ``collections.deque`` (routed
by the same partitioner, appended, popped and counted), which is the floor no
broker simulation can beat. Memory is the peak traced allocation of a
journal-on run divided by the records it retains.

The service line runs the same workload through the service layer: the records
are events as :func:`eda_sim.services.publish` writes them (Event JSON, with
the tracing headers), produced by a source at the same rate, and consumed by a
4-instance :class:`~eda_sim.services.Service` with the retry, idempotency
(inbox) and tracing (a span per event) policies on and a handler that counts.
Its figure is compared with the plain consumer's (journal on) of the same run;
it includes the source's cost of writing each event's JSON and handing the
producer five headers, as the plain lines include their source's. Per record
the service also decodes and validates the event, runs a wait on the clock per
try, and keeps an inbox row, a span and a journal row; the plain consumer
keeps one journal row per batch.

Figures are printed, not asserted: timing belongs in a benchmark, not a test.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
import tracemalloc
from collections import deque
from collections.abc import Callable

from .events import Event, to_iso
from .members import Member
from .partitioner import murmur2_partition
from .retries import Retry
from .services import (H_CAUSATION, H_CORRELATION, H_EVENT_ID, H_EVENT_TYPE, H_SCHEMA_VERSION, Service,
                       event_headers)
from .simulation import Simulation
from .workload import Feed

PARTITIONS = 8
MEMBERS = 4
KEYS = 1000
RATE = 100_000.0  # records per virtual second


def _records(n: int):
    keys = [f"key-{i:04d}".encode() for i in range(KEYS)]
    values = [f"value-{i:04d}".encode() for i in range(KEYS)]
    for i in range(n):
        yield keys[i % KEYS], values[(i * 7) % KEYS]


def _event_feed(sim, topic: str, n: int, tick: float = 0.01):
    """A source on the clock: ``n`` events at ``RATE`` per second, in ticks, as ``publish`` writes them.

    The JSON comes from a template (what :meth:`Event.to_json` writes for
    these fields, checked against it once per run) so the source stays cheap;
    values and header values go out as the UTF-8 bytes the producer would make.
    """
    keys = [f"key-{i:04d}" for i in range(KEYS)]
    kbytes = [k.encode() for k in keys]
    producer = sim.producer({"client.id": "bench-source"})
    produce = producer.produce
    env = sim.env
    owed, i = 0.0, 0
    while i < n:
        now = float(env.now)
        owed += RATE * tick
        m = int(owed)
        owed -= m
        stop = min(n, i + m)
        template = ('{"causation_id":null,"correlation_id":"%s","headers":{},"id":"%s","key":"%s",'
                    '"payload":{"n":%d},"schema_version":1,"sim_seconds":' + repr(now) + ',"time":"'
                    + to_iso(now) + '","type":"Tick"}').encode()
        if i == 0 and stop:
            event = Event.create("Tick", {"n": 0}, id="evt-0000000", key=keys[0], time=now)
            eb = event.id.encode()
            if (template % (eb, eb, kbytes[0], 0) != event.to_json().encode()
                    or [(k, v.encode()) for k, v in event_headers(event)] != _event_headers(eb)):
                raise RuntimeError("the bench's event template no longer matches Event.to_json/publish")
        while i < stop:
            eb = b"evt-%07d" % i
            k = kbytes[i % KEYS]
            produce(topic, value=template % (eb, eb, k, i), key=k, headers=_event_headers(eb))
            i += 1
        producer.poll(0)
        yield env.timeout(tick)


def _event_headers(eid: bytes) -> list:
    return [(H_EVENT_ID, eid), (H_EVENT_TYPE, b"Tick"), (H_CORRELATION, eid), (H_CAUSATION, b""),
            (H_SCHEMA_VERSION, b"1")]


def counting_service(sim) -> Callable[[], int]:
    """The service of the service line: 4 instances, retry, inbox and spans on; returns a done-counter."""
    done = [0]

    def count(event, ctx):
        done[0] += 1

    Service(sim, "bench-service", consumes="bench", handlers={"Tick": count}, instances=MEMBERS,
            processing_time=1e-6, retry=Retry(attempts=3), idempotent=True, max_in_flight=500)
    return lambda: done[0]


def simulated(n: int, journal: bool = True, service=None) -> tuple[float, Simulation, int]:
    """Run the workload once; return (seconds, simulation, records processed).

    With ``service`` (a function of the simulation that starts the consumers
    and returns a function counting what they processed), the records are
    events from :func:`_event_feed` and ``service`` consumes them.
    """
    gc.collect()
    start = time.perf_counter()
    sim = Simulation(seed=1, name="bench", journal=journal)
    sim.create_topic("bench", partitions=PARTITIONS)
    if service is not None:
        sim.env.process(_event_feed(sim, "bench", n))
        processed = service(sim)
    else:
        Feed(sim, "bench", _records(n), rate=RATE)
        members = [Member(sim, "bench-group", ["bench"], processing_time=1e-6, commit="after", max_poll_records=500,
                          config={"auto.offset.reset": "earliest"}) for _ in range(MEMBERS)]
        processed = None
    sim.run(until=n / RATE + 1.0)
    elapsed = time.perf_counter() - start
    if processed is None:
        processed = sum(m.processed_total for m in members)
    else:
        processed = processed()
    return elapsed, sim, processed


def deques(n: int) -> tuple[float, int]:
    """The same records through eight bare deques: route, append, pop, count."""
    gc.collect()
    start = time.perf_counter()
    queues = [deque() for _ in range(PARTITIONS)]
    for key, value in _records(n):
        queues[murmur2_partition(key, PARTITIONS)].append((key, value))
    done = 0
    for q in queues:
        while q:
            q.popleft()
            done += 1
    return time.perf_counter() - start, done


def memory_per_record(n: int) -> float:
    """Peak traced bytes of a journal-on run divided by the records it retains."""
    gc.collect()
    tracemalloc.start()
    _, sim, _ = simulated(n, journal=True)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    retained = sum(len(log) for t in sim.broker.topics.values() for log in t.partitions)
    return peak / retained


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(prog="python -m eda_sim.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=1_000_000, help="records to push through (default 1,000,000)")
    args = parser.parse_args(argv)
    n = args.records
    out = sys.stdout
    base_s, base_n = deques(n)
    base_rate = base_n / base_s
    out.write(f"workload: {n:,} keyed records ({KEYS} keys) -> {PARTITIONS} partitions -> {MEMBERS}-member group\n")
    out.write(f"{'line':38} {'records/s':>12} {'vs deque':>9}\n")
    out.write(f"{'8 bare deques (floor)':38} {base_rate:12,.0f} {1.0:9.2f}\n")
    plain = {}
    for label, journal in (("simulator, journal on", True), ("simulator, journal off", False)):
        secs, sim, processed = simulated(n, journal=journal)
        if processed != n:
            raise SystemExit(f"{label}: processed {processed} of {n} records")
        rate = plain[journal] = n / secs
        rows = f" ({len(sim.journal):,} journal rows)" if journal else ""
        out.write(f"{label:38} {rate:12,.0f} {rate / base_rate:9.2f}{rows}\n")
        del sim  # a million retained records left alive would slow the next run's garbage collection
    label = "service: retry + inbox + spans"
    secs, sim, processed = simulated(n, journal=True, service=counting_service)
    if processed != n:
        raise SystemExit(f"{label}: handled {processed} of {n} events")
    rate = n / secs
    out.write(f"{label:38} {rate:12,.0f} {rate / base_rate:9.2f} ({rate / plain[True]:.2f} of the plain consumer, "
              f"journal on; {len(sim.spans):,} spans)\n")
    mem_n = min(n, 200_000)
    out.write(f"peak memory per retained record ({mem_n:,} records, journal on): {memory_per_record(mem_n):.0f} bytes\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
