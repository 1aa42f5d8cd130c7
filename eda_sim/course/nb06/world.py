"""Worlds for the durability lesson: a payments topic on three brokers, and a bad afternoon.

``failover`` is the smallest story: payments flow to a topic replicated three
times, the followers lag a little behind, and the leader's broker crashes.
With ``acks=1`` some payments the producer was told were stored are gone; with
``acks=all`` and ``min.insync.replicas=2`` none are.

``bad_afternoon`` runs a longer failure schedule against any settings (acks,
``min.insync.replicas``, unclean leader election) and counts what the
producer's callers saw: payments acknowledged and then lost, and payments
refused (delivery failed, so the caller knows and can try again). ``sweep``
runs it for every combination.

Example::

    out = failover(acks="1")
    out.lost                      # ids acknowledged, then missing from the log
    sweep()                       # one row per (acks, min.insync.replicas, unclean)
"""

from __future__ import annotations

from dataclasses import dataclass, field

from eda_sim.core.simulation import Simulation
from eda_sim.services.members import Member

#: How long the payment API waits for an acknowledgement before telling the caller it failed.
DELIVERY_TIMEOUT_MS = 10_000

#: The bad afternoon, as fault-schedule steps: (time, action, broker[, delay]).
BAD_AFTERNOON = [
    (0.0, "slow", 1, 0.2),  # both followers fetch a little late (busy disks)
    (0.0, "slow", 2, 0.3),
    (10.0, "crash", 0),  # the leader's broker dies; the controller moves leadership at 19 s
    (25.0, "restart", 0),  # it comes back and follows the new leader
    (40.0, "cut", 0),  # a network partition cuts both followers off from the leader...
    (40.0, "cut", 2),
    (90.0, "crash", 1),  # ...and, alone in the ISR since ~75 s, the leader dies too
    (90.5, "heal", 0),
    (90.5, "heal", 2),
    (120.0, "restart", 1),
]
STEPS_END = 130.0

#: The short failover: followers a little late, the leader's broker down from 2 s to 15 s.
FAILOVER = [(0.0, "slow", 1, 0.2), (0.0, "slow", 2, 0.3), (2.0, "crash", 0), (15.0, "restart", 0)]


@dataclass
class Outcome:
    """What the producer's callers saw, and what the topic holds afterwards."""

    settings: dict
    sent: list = field(default_factory=list)  # payment ids, in the order produced
    acked: list = field(default_factory=list)  # ids the producer reported delivered
    refused: dict = field(default_factory=dict)  # id -> error name the producer reported
    held: list = field(default_factory=list)  # ids in the log after everything settled
    # ids acknowledged while one replica alone was in sync
    single_copy: list = field(default_factory=list)
    # id -> virtual time its delivery report arrived
    reported: dict = field(default_factory=dict)
    sim: Simulation | None = None
    producer: object = None

    @property
    def lost(self) -> list:
        """Ids acknowledged to the caller and missing from the log: the silent loss."""
        held = set(self.held)
        return [p for p in self.acked if p not in held]

    @property
    def duplicated(self) -> list:
        """Ids held more than once."""
        seen, twice = set(), []
        for p in self.held:
            if p in seen and p not in twice:
                twice.append(p)
            seen.add(p)
        return twice

    def summary(self) -> dict:
        """The counts, one dict (a table row)."""
        return {
            **self.settings,
            "sent": len(self.sent),
            "acknowledged": len(self.acked),
            "refused": len(self.refused),
            "lost": len(self.lost),
            "duplicated": len(self.duplicated),
            "acked_on_one_broker": len(self.single_copy),
        }


def _world(name: str, topic: str, min_isr: int, unclean: bool, seed: int) -> Simulation:
    sim = Simulation(
        seed=seed,
        name=name,
        brokers=3,
        broker_config={"unclean.leader.election.enable": unclean},
    )
    sim.create_topic(
        topic, partitions=1, replication_factor=3, config={"min.insync.replicas": min_isr}
    )
    return sim


def _pay(
    sim, topic: str, acks, count: int, every: float, prefix: str, out: Outcome, idempotent=False
) -> None:
    """Produce ``count`` payments, one every ``every`` s, calling ``poll(0)`` after each (as an API
    serving requests does), so delivery reports arrive within one interval of the broker's answer."""
    producer = sim.producer(
        {
            "acks": acks,
            "message.timeout.ms": DELIVERY_TIMEOUT_MS,
            "client.id": "payment-api",
            "enable.idempotence": idempotent,
        }
    )
    part = sim.topic(topic).partitions[0]

    def report(err, msg):
        pid = msg.value().decode()
        out.reported[pid] = sim.now
        if err is None:
            out.acked.append(pid)
            if len(part.isr) < 2:
                out.single_copy.append(pid)
        else:
            out.refused[pid] = err.name()

    def send(pid):
        producer.produce(topic, pid, on_delivery=report)
        producer.poll(0)

    for i in range(count):
        pid = f"{prefix}-{i:04d}"
        out.sent.append(pid)
        sim.at(i * every, send, pid)
    out.producer = producer


def _settle(sim, out: Outcome, topic: str) -> None:
    out.producer.flush(60)
    for node in sim.cluster.nodes:
        if not node.alive:
            sim.restart_broker(node.id)
        if node.cut:
            sim.heal_broker(node.id)
    sim.run(sim.now + 5)
    out.held = [r.value.decode() for r in sim.topic(topic).partitions[0].records()]


def failover(
    acks="1",
    min_insync_replicas: int = 1,
    *,
    idempotent: bool = False,
    seed: int = 6,
    until: float | None = None,
) -> Outcome:
    """Payments at 50 a second; both followers a little slow; the leader's broker crashes at 2 s.

    The controller moves leadership at 11 s (``broker.session.timeout.ms``),
    the old leader comes back at 15 s and truncates what the new leader never
    had. A ledger consumer group reads the topic all along. ``until`` stops
    the clock early (to look at the replicas part-way) and skips settling.
    """
    settings = {"acks": str(acks), "min.insync.replicas": min_insync_replicas}
    out = Outcome(settings)
    sim = _world("failover", "payments", min_insync_replicas, False, seed)
    out.sim = sim
    sim.faults(FAILOVER)
    _pay(sim, "payments", acks, 150, 0.02, "pay", out, idempotent)
    Member(sim, "ledger", ["payments"], name="ledger-1", config={"auto.offset.reset": "earliest"})
    if until is not None:
        sim.run(until)
        return out
    sim.run(20.0)
    _settle(sim, out, "payments")
    return out


def bad_afternoon(
    acks="all",
    min_insync_replicas: int = 2,
    unclean: bool = False,
    *,
    topic: str = "payments",
    prefix: str = "pay",
    seed: int = 6,
) -> Outcome:
    """Run :data:`BAD_AFTERNOON` with these settings: 20 payments a second for 130 s."""
    settings = {
        "acks": str(acks),
        "min.insync.replicas": min_insync_replicas,
        "unclean": bool(unclean),
    }
    out = Outcome(settings)
    sim = _world("afternoon", topic, min_insync_replicas, unclean, seed)
    out.sim = sim
    sim.faults(BAD_AFTERNOON)
    _pay(sim, topic, acks, int(STEPS_END * 20), 0.05, prefix, out)
    sim.run(STEPS_END + 10)
    _settle(sim, out, topic)
    return out


def sweep(seed: int = 6):
    """:func:`bad_afternoon` for every (acks, min.insync.replicas, unclean): one row each."""
    import pandas as pd

    rows = []
    for acks in ("1", "all"):
        for min_isr in (1, 2):
            for unclean in (False, True):
                rows.append(bad_afternoon(acks, min_isr, unclean, seed=seed).summary())
    return pd.DataFrame(rows)


def too_few_in_sync(min_insync_replicas: int = 2, *, seed: int = 6):
    """Brokers 1 and 2 crash at 5 s and stay down; broker 0 leads alone.

    Returns ``(outcome, windows)``: with ``acks=all`` and
    ``min.insync.replicas=2`` the payment API's writes after the crash are
    refused, while the ledger group, slower than the payments and so with a
    backlog, goes on reading what was committed. ``windows`` is a DataFrame:
    per 5-second window, payments acknowledged, payments refused, and records
    the ledger read.
    """
    import pandas as pd

    out = Outcome({"acks": "all", "min.insync.replicas": min_insync_replicas})
    sim = _world("too-few", "payments", min_insync_replicas, False, seed)
    out.sim = sim
    sim.faults([(5.0, "crash", 1), (5.0, "crash", 2)])
    ledger = Member(
        sim,
        "ledger",
        ["payments"],
        name="ledger-1",
        processing_time=0.1,
        max_poll_records=10,
        config={"auto.offset.reset": "earliest"},
    )
    _pay(sim, "payments", "all", 800, 0.05, "pay", out)
    rows = []
    for end in range(5, 40, 5):
        before = ledger.processed_total
        sim.run(float(end))
        rows.append(
            {"window": f"{end - 5}-{end} s", "ledger_read": ledger.processed_total - before}
        )
    out.producer.flush(30)
    out.held = [r.value.decode() for r in sim.topic("payments").partitions[0].records()]
    windows = pd.DataFrame(rows)
    for col, ids in (("acknowledged", out.acked), ("refused", list(out.refused))):
        times = [out.reported[p] for p in ids]
        windows.insert(
            len(windows.columns) - 1,
            col,
            [sum(end - 5 <= t < end for t in times) for end in range(5, 40, 5)],
        )
    return out, windows
