"""One confluent-kafka program, three backends: the simulator, mockafka-py and bare deques.

The program is written once against confluent-kafka's API: produce ``N``
keyed records (1,000 distinct keys) to an 8-partition topic, ``flush``, then
one consumer in a group ``poll``s them all, one message per call, committing
synchronously every 1,000 records and at the end. It runs against

* ``eda_sim.kafka`` (journal on): the simulator's client, broker and group;
* mockafka-py (``pip install -e '.[bench]'``), an in-memory mock of
  confluent-kafka; its line is skipped, with the reason, when it is not
  installed;
* bare ``collections.deque``, one per partition: the same records appended
  and popped with nothing else, the floor no client can beat.

Every line routes a record by its key the way librdkafka's default
``consistent_random`` partitioner does (CRC32 of the key modulo the partition
count): the simulator's producer does it itself; mockafka's producer has no
partitioner and refuses a record without a partition, so its line runs
``FakeProducer`` with that one line added (:class:`_PartitioningFakeProducer`);
the deque line calls the simulator's ``crc32_partition``, as the deque floor of
``python -m eda_sim.bench`` does. Rates are records per second of CPU time
(``time.process_time``), best of ``--repeat`` runs, printed side by side with
the ratios::

    python benchmarks/client_path.py [--records 200000] [--repeat 3]

Targets (issue 13): the simulator at least 4 times mockafka-py and at least
0.25 of the deque floor. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
from collections import deque
from zlib import crc32

from eda_sim.kafka.partitioner import crc32_partition

TOPIC = "bench"
PARTITIONS = 8
KEYS = 1000
COMMIT_EVERY = 1000


def _records(n: int) -> list:
    keys = [f"key-{i:04d}".encode() for i in range(KEYS)]
    values = [f"value-{i:04d}".encode() for i in range(KEYS)]
    return [(keys[i % KEYS], values[(i * 7) % KEYS]) for i in range(n)]


def program(producer, make_consumer, records: list) -> int:
    """The confluent-kafka program: produce, flush, consume all with poll, commit. Returns records consumed."""
    produce = producer.produce
    for i, (key, value) in enumerate(records):
        produce(TOPIC, value=value, key=key)
        if i % 10000 == 9999:
            producer.poll(0)
    producer.flush()
    consumer = make_consumer(
        {"group.id": "bench", "auto.offset.reset": "earliest", "enable.auto.commit": False}
    )
    consumer.subscribe([TOPIC])
    got = idle = 0
    n = len(records)
    poll = consumer.poll
    while got < n:
        msg = poll(1.0)
        if msg is None:
            idle += 1
            if idle > 100:
                raise SystemExit(f"consumer stalled after {got} of {n} records")
            continue
        if msg.error() is not None:
            raise SystemExit(f"consumer error: {msg.error()}")
        got += 1
        if got % COMMIT_EVERY == 0:
            consumer.commit(asynchronous=False)
    if got % COMMIT_EVERY:
        # what the last full thousand left; with nothing new stored librdkafka raises _NO_OFFSET
        consumer.commit(asynchronous=False)
    consumer.close()
    return got


def run_simulator(records: list) -> float:
    """The program on ``eda_sim.kafka`` with the journal on; CPU seconds."""
    from eda_sim.core.simulation import Simulation
    from eda_sim.kafka import Consumer, Producer

    sim = Simulation(seed=1, name="client-path", journal=True)
    sim.create_topic(TOPIC, partitions=PARTITIONS)
    conf = {"bootstrap.servers": sim.bootstrap_servers}
    gc.collect()
    start = time.process_time()
    got = program(Producer(conf), lambda c: Consumer({**conf, **c}), records)
    elapsed = time.process_time() - start
    _check(got, records, "eda_sim.kafka")
    return elapsed


def mockafka_missing() -> str | None:
    """Why the mockafka line cannot run here, or None when it can."""
    try:
        import mockafka  # noqa: F401
    except ImportError:
        return "mockafka-py is not installed (pip install -e '.[bench]')"
    return None


def run_mockafka(records: list) -> float:
    """The program on mockafka-py's FakeProducer (plus a partitioner) and FakeConsumer; CPU seconds."""
    from confluent_kafka.admin import NewTopic
    from mockafka import FakeAdminClientImpl, FakeConsumer, FakeProducer

    class _PartitioningFakeProducer(FakeProducer):
        """mockafka's producer with the CRC32 partitioner it lacks (it refuses partition=None)."""

        def produce(self, topic, value=None, key=None, partition=None, **kwargs):
            if partition is None:
                partition = crc32(key) % PARTITIONS
            super().produce(topic, value=value, key=key, partition=partition, **kwargs)

    FakeAdminClientImpl(clean=True).create_topics(
        [NewTopic(TOPIC, num_partitions=PARTITIONS, replication_factor=1)]
    )
    gc.collect()
    start = time.process_time()
    got = program(_PartitioningFakeProducer({}), lambda c: FakeConsumer(c), records)
    elapsed = time.process_time() - start
    _check(got, records, "mockafka-py")
    return elapsed


def run_deques(records: list) -> float:
    """The same records through one deque per partition: route, append, then pop and count; CPU seconds."""
    gc.collect()
    start = time.process_time()
    queues = [deque() for _ in range(PARTITIONS)]
    for key, value in records:
        queues[crc32_partition(key, PARTITIONS)].append((key, value))
    got = 0
    committed = {}
    for p, q in enumerate(queues):
        popleft = q.popleft
        while q:
            popleft()
            got += 1
            if got % COMMIT_EVERY == 0:
                committed[p] = got
    elapsed = time.process_time() - start
    _check(got, records, "deques")
    return elapsed


def _check(got: int, records: list, label: str) -> None:
    if got != len(records):
        raise SystemExit(f"{label}: consumed {got} of {len(records)} records")


def main(argv: list[str] | None = None) -> int:
    """Run the program on each backend and print the three lines with their ratios."""
    parser = argparse.ArgumentParser(
        prog="python benchmarks/client_path.py", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--records", type=int, default=200_000, help="records (default 200,000)")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each line; best counts")
    args = parser.parse_args(argv)
    if args.records < 1 or args.repeat < 1:
        parser.error("--records and --repeat must be at least 1")
    records = _records(args.records)
    n = len(records)
    skip = mockafka_missing()
    lines = [("bare deques (floor)", run_deques), ("eda_sim.kafka, journal on", run_simulator)]
    if skip is None:
        lines.append(("mockafka-py", run_mockafka))
    best = {label: 0.0 for label, _ in lines}
    for _ in range(args.repeat):
        for label, run in lines:
            best[label] = max(best[label], n / run(records))
    floor = best["bare deques (floor)"]
    sim = best["eda_sim.kafka, journal on"]
    mock = best.get("mockafka-py")
    out = sys.stdout
    out.write(
        f"program: produce {n:,} keyed records ({KEYS} keys) to {PARTITIONS} partitions, flush, "
        f"poll them all in a group, commit every {COMMIT_EVERY:,}\n"
    )
    out.write(f"{'line':28} {'records/s':>12} {'vs deque':>9} {'sim is x':>9}\n")
    out.write(f"{'bare deques (floor)':28} {floor:12,.0f} {1.0:9.2f} {sim / floor:9.2f}\n")
    out.write(f"{'eda_sim.kafka, journal on':28} {sim:12,.0f} {sim / floor:9.2f} {1.0:9.2f}\n")
    if mock is None:
        out.write(f"{'mockafka-py':28} skipped: {skip}\n")
    else:
        out.write(f"{'mockafka-py':28} {mock:12,.0f} {mock / floor:9.2f} {sim / mock:9.2f}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
