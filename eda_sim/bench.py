"""``python -m eda_sim.bench``: how fast and how small the simulator is.

The workload: ``N`` keyed records (1,000 distinct keys) produced at a steady
rate into an 8-partition topic and consumed by a 4-member group that polls up
to 500 records, processes each for a microsecond of virtual time and commits
after processing: produce -> deliver -> process -> commit, all on the virtual
clock. It runs with the journal on and off; beside it, in the same process,
the same records are handed through eight bare ``collections.deque`` (routed
by the same partitioner, appended, popped and counted), which is the floor no
broker simulation can beat. Memory is the peak traced allocation of a
journal-on run divided by the records it retains. A third line runs the same
workload on three brokers with every partition replicated three times: the
producer's default ``acks=all`` waits for both followers to fetch each batch.

Two lines measure the service layer on events: records as
:func:`eda_sim.services.service.publish` writes them (Event JSON with the five tracing
headers), produced by a source at the same rate.

* *plain consumer of the same events*: the 4-member group of the first lines,
  decoding each record as an :class:`~eda_sim.services.events.Event` and handing it to a
  handler that counts; no policies.
* *service: retry + inbox + spans*: a 4-instance
  :class:`~eda_sim.services.service.Service` with the retry, idempotency (inbox) and
  tracing (a span per event) policies on and the same counting handler. Per
  event it also waits on the clock once per try, checks and fills the inbox,
  and keeps a span and a journal row.

The service's figure is given as a share of both: of the plain consumer of the
same events (what the policies cost: the target is at least half) and of the
plain record consumer of the first lines (what events cost on top: decoding
JSON in CPython is several times the whole record path, see the README).
* *windowed count, changelog store*: a 4-instance
  :class:`~eda_sim.services.streams.StreamApp` counting the same events per key
  in 1 s tumbling windows on event time, every change of its state store also
  written to the store's compacted changelog topic (Kafka Streams' record cache,
  which would batch those writes, is not modelled).

The event lines run ``--repeat`` times, alternating, and the best of each
counts, so one disturbed run does not decide the ratio.

Rates are records per second of CPU time (``time.process_time``), which a
busy shared machine disturbs less than the wall clock. Figures are printed,
not asserted: timing belongs in a benchmark, not a test.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
import tracemalloc
from collections import deque
from collections.abc import Callable

from eda_sim.core.simulation import Simulation
from eda_sim.kafka.partitioner import crc32_partition
from eda_sim.services.events import Event, to_iso
from eda_sim.services.load import Feed
from eda_sim.services.members import Member
from eda_sim.services.retries import Retry
from eda_sim.services.service import (
    H_CAUSATION,
    H_CORRELATION,
    H_EVENT_ID,
    H_EVENT_TYPE,
    H_SCHEMA_VERSION,
    Service,
    event_headers,
)
from eda_sim.services.streams import StreamApp
from eda_sim.services.windows import TumblingWindows

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
        template = (
            '{"causation_id":null,"correlation_id":"%s","headers":{},"id":"%s","key":"%s",'
            '"payload":{"n":%d},"schema_version":1,"sim_seconds":'
            + repr(now)
            + ',"time":"'
            + to_iso(now)
            + '","type":"Tick"}'
        ).encode()
        if i == 0 and stop:
            event = Event.create("Tick", {"n": 0}, id="evt-0000000", key=keys[0], time=now)
            eb = event.id.encode()
            if template % (eb, eb, kbytes[0], 0) != event.to_json().encode() or [
                (k, v.encode()) for k, v in event_headers(event)
            ] != _event_headers(eb):
                raise RuntimeError(
                    "the bench's event template no longer matches Event.to_json/publish"
                )
        while i < stop:
            eb = b"evt-%07d" % i
            k = kbytes[i % KEYS]
            produce(topic, value=template % (eb, eb, k, i), key=k, headers=_event_headers(eb))
            i += 1
        producer.poll(0)
        yield env.timeout(tick)


def _event_headers(eid: bytes) -> list:
    return [
        (H_EVENT_ID, eid),
        (H_EVENT_TYPE, b"Tick"),
        (H_CORRELATION, eid),
        (H_CAUSATION, b""),
        (H_SCHEMA_VERSION, b"1"),
    ]


def counting_service(sim) -> Callable[[], int]:
    """The service of the service line: 4 instances, retry, inbox and spans on; returns a done-counter."""
    done = [0]

    def count(event, ctx):
        done[0] += 1

    Service(
        sim,
        "bench-service",
        consumes="bench",
        handlers={"Tick": count},
        instances=MEMBERS,
        processing_time=1e-6,
        retry=Retry(attempts=3),
        idempotent=True,
        max_in_flight=500,
    )
    return lambda: done[0]


def plain_event_consumer(sim) -> Callable[[], int]:
    """A plain consumer of the same events: a 4-member group that decodes each event and counts it.

    What a service does for an event without its policies: poll, spend the
    processing time, decode the Event from JSON, call the handler, commit
    after the batch. No retries, no inbox, no spans, no journal row per event.
    """
    done = [0]

    def count(message):
        event = Event.from_json(message.value())
        if event.type == "Tick":
            done[0] += 1

    for _ in range(MEMBERS):
        Member(
            sim,
            "bench-plain",
            ["bench"],
            processing_time=1e-6,
            commit="after",
            max_poll_records=500,
            on_record=count,
            config={"auto.offset.reset": "earliest"},
        )
    return lambda: done[0]


def windowed_aggregation(sim) -> Callable[[], int]:
    """A stream app over the same events: 4 instances count them per key in 1 s tumbling windows
    on event time, each change written to the store's compacted changelog; final results out."""
    sim.create_topic("bench-counts", partitions=PARTITIONS)
    app = StreamApp(
        sim,
        "bench-windows",
        source="bench",
        instances=MEMBERS,
        processing_time=1e-6,
        max_poll_records=500,
        keep_timeline=False,
    )
    app.window("per_key", TumblingWindows(1.0), emit="final", output="bench-counts")
    return lambda: sum(i.processed_total for i in app.instances)


def simulated(
    n: int, journal: bool = True, service=None, brokers: int = 1
) -> tuple[float, Simulation, int]:
    """Run the workload once; return (seconds, simulation, records processed).

    ``brokers`` above 1 runs it on a cluster with every partition replicated
    to all brokers (followers fetching, acks=all waiting for the ISR).

    With ``service`` (a function of the simulation that starts the consumers
    and returns a function counting what they processed), the records are
    events from :func:`_event_feed` and ``service`` consumes them.
    """
    gc.collect()
    start = time.process_time()
    sim = Simulation(seed=1, name="bench", journal=journal, brokers=brokers)
    sim.create_topic("bench", partitions=PARTITIONS, replication_factor=brokers)
    if service is not None:
        sim.env.process(_event_feed(sim, "bench", n))
        processed = service(sim)
    else:
        Feed(sim, "bench", _records(n), rate=RATE)
        members = [
            Member(
                sim,
                "bench-group",
                ["bench"],
                processing_time=1e-6,
                commit="after",
                max_poll_records=500,
                config={"auto.offset.reset": "earliest"},
            )
            for _ in range(MEMBERS)
        ]
        processed = None
    sim.run(until=n / RATE + 1.0)
    elapsed = time.process_time() - start
    if processed is None:
        processed = sum(m.processed_total for m in members)
    else:
        processed = processed()
    return elapsed, sim, processed


def deques(n: int) -> tuple[float, int]:
    """The same records through eight bare deques: route, append, pop, count."""
    gc.collect()
    start = time.process_time()
    queues = [deque() for _ in range(PARTITIONS)]
    for key, value in _records(n):
        queues[crc32_partition(key, PARTITIONS)].append((key, value))
    done = 0
    for q in queues:
        while q:
            q.popleft()
            done += 1
    return time.process_time() - start, done


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
    parser = argparse.ArgumentParser(
        prog="python -m eda_sim.bench", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--records", type=int, default=1_000_000, help="records to push through (default 1,000,000)"
    )
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="runs of each event line, alternating; the best counts (default 3)",
    )
    args = parser.parse_args(argv)
    if args.records < 1 or args.repeat < 1:
        parser.error("--records and --repeat must be at least 1")
    n = args.records
    out = sys.stdout
    progress = Progress(3 + 3 * args.repeat + 2)
    progress("8 bare deques")
    base_s, base_n = deques(n)
    base_rate = base_n / base_s
    out.write(
        f"workload: {n:,} keyed records ({KEYS} keys) -> {PARTITIONS} partitions -> {MEMBERS}-member group\n"
    )
    out.write(f"{'line':38} {'records/s':>12} {'vs deque':>9}\n")
    out.write(f"{'8 bare deques (floor)':38} {base_rate:12,.0f} {1.0:9.2f}\n")
    plain = {}
    for label, journal, brokers in (
        ("simulator, journal on", True, 1),
        ("simulator, journal off", False, 1),
        ("3 brokers, replication 3, journal on", True, 3),
    ):
        progress(label)
        secs, sim, processed = simulated(n, journal=journal, brokers=brokers)
        if processed != n:
            raise SystemExit(f"{label}: processed {processed} of {n} records")
        rate = n / secs
        if brokers == 1:
            plain[journal] = rate
        rows = f" ({len(sim.journal):,} journal rows)" if journal else ""
        out.write(f"{label:38} {rate:12,.0f} {rate / base_rate:9.2f}{rows}\n")
        del (
            sim
        )  # a million retained records left alive would slow the next run's garbage collection
    event_lines = (
        ("plain consumer of the same events", plain_event_consumer),
        ("service: retry + inbox + spans", counting_service),
        ("windowed count, changelog store", windowed_aggregation),
    )
    best = {label: 0.0 for label, _ in event_lines}
    spans = 0
    for _ in range(args.repeat):
        for label, start in event_lines:
            progress(label)
            secs, sim, processed = simulated(n, journal=True, service=start)
            if processed != n:
                raise SystemExit(f"{label}: handled {processed} of {n} events")
            best[label] = max(best[label], n / secs)
            if start is counting_service:
                spans = len(sim.spans)
            del sim
    plain_events, service, windowed = (best[label] for label, _ in event_lines)
    out.write(f"{event_lines[0][0]:38} {plain_events:12,.0f} {plain_events / base_rate:9.2f}\n")
    out.write(
        f"{event_lines[1][0]:38} {service:12,.0f} {service / base_rate:9.2f} "
        f"({service / plain_events:.2f} of the plain consumer of the same events, "
        f"{service / plain[True]:.2f} of the plain record consumer; {spans:,} spans)\n"
    )
    out.write(
        f"{event_lines[2][0]:38} {windowed:12,.0f} {windowed / base_rate:9.2f} "
        f"({windowed / plain_events:.2f} of the plain consumer of the same events)\n"
    )
    mem_n = min(n, 200_000)
    progress("peak memory per record")
    out.write(
        f"peak memory per retained record ({mem_n:,} records, journal on): {memory_per_record(mem_n):.0f} bytes\n"
    )
    progress.done()
    return 0


class Progress:
    """Which run of the benchmark is going, on stderr: one line per run, so a terminal, a log and a
    notebook all show it (a bar redrawn in place shows only in a terminal), and the figures on stdout
    stay clean to paste."""

    def __init__(self, total: int, stream=None):
        self.total, self.n, self.stream = total, 0, stream or sys.stderr
        self.started = time.perf_counter()

    def __call__(self, label: str) -> None:
        self.n += 1
        elapsed = time.perf_counter() - self.started
        self.stream.write(f"[{self.n}/{self.total}] {label} ... ({elapsed:.0f} s so far)\n")
        self.stream.flush()

    def done(self) -> None:
        self.stream.write(f"done in {time.perf_counter() - self.started:.0f} s\n")
        self.stream.flush()


if __name__ == "__main__":
    sys.exit(main())
