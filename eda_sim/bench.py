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

Figures are printed, not asserted: timing belongs in a benchmark, not a test.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
import tracemalloc
from collections import deque

from .members import Member
from .partitioner import murmur2_partition
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


def simulated(n: int, journal: bool = True, service=None) -> tuple[float, Simulation, int]:
    """Run the workload once; return (seconds, simulation, records processed)."""
    gc.collect()
    start = time.perf_counter()
    sim = Simulation(seed=1, name="bench", journal=journal)
    sim.create_topic("bench", partitions=PARTITIONS)
    Feed(sim, "bench", _records(n), rate=RATE)
    if service is not None:
        processed = service(sim)
    else:
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
    for label, journal in (("simulator, journal on", True), ("simulator, journal off", False)):
        secs, sim, processed = simulated(n, journal=journal)
        if processed != n:
            raise SystemExit(f"{label}: processed {processed} of {n} records")
        rate = n / secs
        rows = f" ({len(sim.journal):,} journal rows)" if journal else ""
        out.write(f"{label:38} {rate:12,.0f} {rate / base_rate:9.2f}{rows}\n")
    mem_n = min(n, 200_000)
    out.write(f"peak memory per retained record ({mem_n:,} records, journal on): {memory_per_record(mem_n):.0f} bytes\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
