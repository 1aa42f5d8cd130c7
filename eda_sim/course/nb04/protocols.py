"""Worlds for notebook 04's group protocols: rolling deploys and rebalance storms, protocol by protocol.

Three ways a consumer group hands out partitions, each with and without static
membership (``group.instance.id``, KIP-345):

* ``eager``: the classic protocol with the ``range`` assignor; every rebalance
  takes every partition from every member;
* ``cooperative``: the classic protocol with ``cooperative-sticky``; only the
  partitions that move are revoked, in a first round;
* ``consumer``: Kafka 4's protocol (KIP-848, ``group.protocol=consumer``); the
  broker computes the assignment and members take partitions one heartbeat at
  a time, with no group-wide barrier.

The stories:

* ``deploy_world`` / ``deploy_sweep``: a rolling deploy restarts each worker in
  turn; counted in rebalances, partitions revoked, records processed twice and
  paused time (see :func:`paused_seconds`);
* ``storm_world`` / ``storm_protocols``: the rebalance storm of
  :mod:`eda_sim.course.nb04.world` (batches longer than ``max.poll.interval.ms``)
  under each protocol.

Example::

    deploy_sweep()          # six rows: three protocols, with and without static membership
    storm_protocols()       # the storm under the same six
"""

from __future__ import annotations

from eda_sim.core.measures import group_lag
from eda_sim.core.simulation import Simulation
from eda_sim.course.nb04.world import GROUP, TOPIC, _orders, processed_counts
from eda_sim.services.load import Feed
from eda_sim.services.members import Member

#: protocol name -> the consumer settings that choose it.
PROTOCOLS = {
    "eager": {"partition.assignment.strategy": "range"},
    "cooperative": {"partition.assignment.strategy": "cooperative-sticky"},
    "consumer": {"group.protocol": "consumer"},
}
#: The deploy's timeline: the first worker stops at ``DEPLOY_AT``, the next ``DEPLOY_EVERY`` seconds later.
DEPLOY_AT, DEPLOY_EVERY, DOWNTIME = 8.0, 6.0, 2.0
#: The session timeout the classic members set, and the broker's for the consumer protocol (both in ms).
SESSION_MS = 10000


def _check_protocol(protocol: str) -> None:
    if protocol not in PROTOCOLS:
        raise ValueError(f"unknown protocol {protocol!r}; protocols are: {', '.join(PROTOCOLS)}")


def member_config(protocol: str, static: bool, name: str, **extra) -> dict:
    """The consumer config a worker of ``protocol`` uses; static members set ``group.instance.id`` to their name."""
    _check_protocol(protocol)
    config = {"auto.offset.reset": "earliest", **PROTOCOLS[protocol], **extra}
    if protocol != "consumer":
        config["session.timeout.ms"] = SESSION_MS  # under KIP-848 the broker owns it
    if static:
        config["group.instance.id"] = name
    return config


def _world(
    protocol: str,
    static: bool,
    workers: int,
    partitions: int,
    rate: float,
    seed: int,
    name: str,
    **member,
):
    # KIP-848: the session timeout is the broker's, and 10 s is under its lowest allowed (45 s by
    # default), so the demo lowers that limit in the open, as a broker's operator would have to.
    broker = {
        "group.consumer.session.timeout.ms": SESSION_MS,
        "group.consumer.min.session.timeout.ms": SESSION_MS,
    }
    sim = Simulation(seed=seed, name=name, broker_config=broker if protocol == "consumer" else None)
    sim.create_topic(TOPIC, partitions=partitions)
    extra = member.pop("config", {})
    for k in range(workers):
        worker = f"worker-{k + 1}"
        Member(
            sim,
            GROUP,
            [TOPIC],
            name=worker,
            config=member_config(protocol, static, worker, **extra),
            **member,
        )
    Feed(sim, TOPIC, _orders(), rate=rate, config={"client.id": "shop"}, start=0.0)
    return sim


def start_world(
    protocol: str = "consumer", static: bool = False, *, until: float = 12.0, seed: int = 4
):
    """Three workers on six partitions start together, and nothing else happens: how the group settles."""
    sim = _world(
        protocol,
        static,
        3,
        6,
        150.0,
        seed,
        f"start-{protocol}",
        processing_time=0.01,
        max_poll_records=100,
        commit="after",
    )
    sim.run(until=until)
    return sim


def deploy_world(
    protocol: str = "eager",
    static: bool = False,
    *,
    workers: int = 3,
    partitions: int = 6,
    rate: float = 150.0,
    downtime: float = DOWNTIME,
    until: float = 32.0,
    seed: int = 4,
) -> Simulation:
    """A rolling deploy: each worker in turn stops cleanly and starts again ``downtime`` seconds later.

    Three workers on six partitions take 150 orders a second (0.01 s each, up
    to 100 per poll, committing after each batch). Worker 1 stops at
    ``DEPLOY_AT`` seconds, worker 2 ``DEPLOY_EVERY`` seconds later, and so on:
    the way an orchestrator replaces a service's instances one by one.
    """
    sim = _world(
        protocol,
        static,
        workers,
        partitions,
        rate,
        seed,
        f"deploy-{protocol}{'-static' if static else ''}",
        processing_time=0.01,
        max_poll_records=100,
        commit="after",
    )
    for k in range(workers):
        member = sim.members[f"worker-{k + 1}"]
        stop = DEPLOY_AT + k * DEPLOY_EVERY
        sim.at(stop, member.stop)
        sim.at(stop + downtime, _restart_when_stopped, sim, member)
    sim.run(until=until)
    return sim


def _restart_when_stopped(sim, member) -> None:
    if member.alive:  # still finishing its last batch: try again shortly
        sim.at(sim.now + 0.1, _restart_when_stopped, sim, member)
    else:
        member.restart()


def paused_seconds(sim, group: str = GROUP, topic: str = TOPIC, after: float = 0.0) -> float:
    """Partition-seconds no member was reading: from a partition's revocation (or its owner's crash or
    static departure) after ``after`` seconds to the next fetch from it, summed over partitions.

    The simulator completes a classic rebalance the instant it starts, so this
    counts the time until the new owner (or the same one, after an eager
    revocation) fetches again: its batch in progress, the heartbeats of the
    new protocol, a static member's absence. Real classic groups add the join
    and sync round trips, during which an eager group reads nothing at all.
    """
    owner: dict = {}
    since: dict = {}
    paused = 0.0
    for r in sim.journal.rows():
        if r.group != group:
            continue
        kind = r.kind
        if kind == "delivered":
            if r.topic == topic and (topic, r.partition) in since:
                paused += r.time - since.pop((topic, r.partition))
        elif kind in ("assigned", "revoked"):
            for part in r.detail.strip("[]").split(","):
                t, _, p = part.rpartition("-")
                if t != topic:
                    continue
                tp = (t, int(p))
                if kind == "assigned":
                    owner[tp] = r.actor
                else:
                    owner.pop(tp, None)
                    if r.time > after:
                        since.setdefault(tp, r.time)
        elif kind in ("crashed", "departed") and r.time > after:
            for tp, m in owner.items():
                if m == r.actor:
                    since.setdefault(tp, r.time)
    paused += sum(sim.now - t for t in since.values())
    return round(paused, 3)


def group_counts(sim, group: str = GROUP, after: float = 1.0) -> dict:
    """Rebalances and partitions revoked after ``after`` seconds, duplicates, paused time, throughput and lag."""
    rebalances = revoked = 0
    for r in sim.journal.rows():
        if r.group != group or r.time <= after:
            continue
        if r.kind == "rebalanced":
            rebalances += 1
        elif r.kind == "revoked":
            revoked += r.count
    done = processed_counts(sim)
    g = sim.groups.get(group)
    seconds = sim.now or 1.0
    return {
        "rebalances": rebalances,
        "revoked": revoked,
        "duplicates": sum(done.values()) - len(done),
        "paused_s": paused_seconds(sim, group, after=after),
        "committed_per_s": round(sum(g.committed.values()) / seconds, 1) if g else 0.0,
        "lag": group_lag(sim, group, [TOPIC]),
    }


def _sweep(build, protocols, after: float, **options):
    import pandas as pd

    for p in protocols:
        _check_protocol(p)
    rows = []
    for p in protocols:
        for static in (False, True):
            sim = build(p, static, **options)
            rows.append({"protocol": p, "static": static, **group_counts(sim, after=after)})
    return pd.DataFrame(rows)


def deploy_sweep(protocols=tuple(PROTOCOLS), **options):
    """:func:`group_counts` of :func:`deploy_world` for each protocol, without and with static membership,
    counted from the deploy's start (a new group's first seconds are not the deploy's doing)."""
    return _sweep(deploy_world, protocols, DEPLOY_AT - 0.001, **options)


def storm_world(
    protocol: str = "eager",
    static: bool = False,
    *,
    processing_time: float = 0.02,
    max_poll_records: int = 150,
    max_poll_interval_ms: int = 2000,
    workers: int = 3,
    partitions: int = 6,
    rate: float = 50.0,
    backlog: int = 2000,
    until: float = 20.0,
    seed: int = 4,
) -> Simulation:
    """Workers coming back to a backlog with batches of ``processing_time * max_poll_records`` seconds.

    A batch longer than ``max.poll.interval.ms`` gets the worker put out of the
    group mid-batch, as in :func:`eda_sim.course.nb04.world.storm_once`.
    """
    sim = _world(
        protocol,
        static,
        workers,
        partitions,
        rate,
        seed,
        f"storm-{protocol}{'-static' if static else ''}",
        processing_time=processing_time,
        max_poll_records=max_poll_records,
        commit="after",
        config={"max.poll.interval.ms": max_poll_interval_ms},
    )
    if backlog:
        producer = sim.producer({"client.id": "backlog"})
        for i in range(backlog):
            producer.produce(TOPIC, key=f"waiting-{i % 997}", value=f"order {i}")
        producer.flush()
    sim.run(until=until)
    return sim


def storm_protocols(protocols=tuple(PROTOCOLS), **options):
    """:func:`group_counts` of :func:`storm_world` for each protocol, without and with static membership."""
    return _sweep(storm_world, protocols, 1.0, **options)
