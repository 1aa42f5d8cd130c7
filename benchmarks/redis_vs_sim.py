"""Records/s through a real Redis on loopback beside the simulator's, in the same run.

The workload is issue 2's (``python -m eda_sim.bench``), scaled down: ``N``
keyed records (1,000 distinct keys, the same records as the simulator's
benchmark) into an 8-partition topic, produced, consumed by a consumer group
and acknowledged after each batch of up to 500:

* Redis, one process: pipelined ``XADD`` (``Producer.flush``), then
  ``XREADGROUP`` + ``XACK`` (``Consumer.consume`` + ``commit``) until all are
  acknowledged; produce and consume are timed apart and together.
* Redis, consumer processes: ``--members`` consumer processes (leased
  partitions) already in the group; the clock runs from the first produce to
  the last acknowledgement, so producing and consuming overlap.
* The simulator: :func:`eda_sim.bench.simulated` (4 members on the virtual
  clock), journal on and off. Its figure is how fast the simulation runs,
  not how fast a broker would be.

A ``redis-server`` is started for the run on a free loopback port with
persistence off (as the tests do) unless ``--url`` names one; then the
keys ``bench:*`` and ``eda:*`` on it are overwritten.

    .venv/bin/python benchmarks/redis_vs_sim.py [--records 20000] [--members 4] [--url redis://...]
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import tempfile
import time

from eda_sim.backends.redis.backend import (
    Consumer,
    Producer,
    connect,
    create_topic,
    delete_topic,
    topics,
)
from eda_sim.backends.redis.server import RedisServer, installed, start_hint
from eda_sim.bench import KEYS, PARTITIONS, _records, simulated

TOPIC = "bench"
GROUP = "bench-group"
BATCH = 500


def _consumer(url: str, name: str) -> Consumer:
    c = Consumer(
        {
            "bootstrap.servers": url,
            "group.id": GROUP,
            "client.id": name,
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "session.timeout.ms": 3000,
            "heartbeat.interval.ms": 100,
        }
    )
    c.subscribe([TOPIC])
    return c


def _fresh_topic(url: str) -> None:
    if TOPIC in topics(url):
        delete_topic(url, TOPIC)
    client = connect(url)
    for key in client.scan_iter(f"eda:group:{GROUP}:*"):
        client.delete(key)
    client.close()
    create_topic(url, TOPIC, PARTITIONS)


def _produce(url: str, n: int) -> float:
    p = Producer({"bootstrap.servers": url, "linger.ms": 50, "batch.num.messages": 2000})
    start = time.perf_counter()
    for key, value in _records(n):
        p.produce(TOPIC, value=value, key=key)
    p.flush()
    return time.perf_counter() - start


def one_process(url: str, n: int) -> tuple[float, float]:
    """(produce seconds, consume + ack seconds) with one producer and one consumer in this process."""
    _fresh_topic(url)
    produced = _produce(url, n)
    c = _consumer(url, "solo")
    done = 0
    start = time.perf_counter()
    while done < n:
        msgs = c.consume(BATCH, 1.0)
        if not msgs:
            raise SystemExit(f"one process: only {done} of {n} records came back")
        done += len(msgs)
        c.commit(asynchronous=False)
    consumed = time.perf_counter() - start
    c.close()
    return produced, consumed


def _member(url: str, name: str, stop) -> None:
    c = _consumer(url, name)
    while not stop.is_set():
        if c.consume(BATCH, 0.1):
            c.commit(asynchronous=False)
    c.close()


def _all_acked(client, n: int) -> bool:
    pipe = client.pipeline(transaction=False)
    for p in range(PARTITIONS):
        pipe.xinfo_groups(f"{TOPIC}:{p}")
    read = pending = 0
    for groups in pipe.execute():
        for g in groups:
            if g["name"].decode() == GROUP:
                read += g["entries-read"] or 0
                pending += g["pending"]
    return read >= n and pending == 0


def _settled(client, members: int) -> bool:
    holders = client.mget([f"eda:group:{GROUP}:lease:{TOPIC}:{p}" for p in range(PARTITIONS)])
    shares = {}
    for h in holders:
        shares[h] = shares.get(h, 0) + 1
    return None not in shares and len(shares) == min(members, PARTITIONS)


def processes(url: str, n: int, members: int) -> float:
    """Seconds from the first produce to the last ack, with ``members`` consumer processes in the group."""
    _fresh_topic(url)
    ctx = multiprocessing.get_context("spawn")
    stop = ctx.Event()
    procs = [
        ctx.Process(target=_member, args=(url, f"member-{i}", stop), daemon=True)
        for i in range(members)
    ]
    for proc in procs:
        proc.start()
    client = connect(url)
    try:
        deadline = time.monotonic() + 30
        while not _settled(client, members):  # every member holds its share of the partition leases
            if time.monotonic() > deadline:
                raise SystemExit(
                    "the consumer processes did not join and share the partitions within 30 s"
                )
            time.sleep(0.01)
        start = time.perf_counter()
        _produce(url, n)
        while not _all_acked(client, n):
            time.sleep(0.01)
        return time.perf_counter() - start
    finally:
        stop.set()
        for proc in procs:
            proc.join(10)
            if proc.is_alive():
                proc.kill()
        client.close()


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--records", type=int, default=20_000, help="records to push through (default 20,000)"
    )
    parser.add_argument(
        "--members", type=int, default=4, help="consumer processes in the multi-process line"
    )
    parser.add_argument("--url", default=None, help="an existing Redis server (default: start one)")
    args = parser.parse_args(argv)
    n = args.records
    out = sys.stdout
    with tempfile.TemporaryDirectory() as tmp:
        server = None
        url = args.url
        if url is None:
            if not installed():
                raise SystemExit("redis-server is not installed. " + start_hint())
            server = RedisServer(tmp).start()
            url = server.url
        try:
            version = connect(url).info("server")["redis_version"]
            out.write(
                f"workload: {n:,} keyed records ({KEYS} keys) -> {PARTITIONS} partitions -> consumer group, "
                f"ack after each batch of up to {BATCH}\n"
            )
            out.write(f"Redis {version} on {url if server else 'the given server'}\n")
            out.write(f"{'line':52} {'records/s':>12}\n")
            produced, consumed = one_process(url, n)
            out.write(f"{'redis, produce (pipelined XADD)':52} {n / produced:12,.0f}\n")
            out.write(
                f"{'redis, consume + ack (XREADGROUP + XACK), 1 consumer':52} {n / consumed:12,.0f}\n"
            )
            out.write(
                f"{'redis, produce -> consume -> ack, one process':52} {n / (produced + consumed):12,.0f}\n"
            )
            secs = processes(url, n, args.members)
            label = f"redis, produce -> ack, {args.members} consumer processes"
            out.write(f"{label:52} {n / secs:12,.0f}\n")
        finally:
            if server is not None:
                server.stop()
    for label, journal in (
        ("simulator, journal on (4 members, virtual clock)", True),
        ("simulator, journal off", False),
    ):
        secs, _sim, processed = simulated(n, journal=journal)
        if processed != n:
            raise SystemExit(f"{label}: processed {processed} of {n} records")
        out.write(f"{label:52} {n / secs:12,.0f}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
