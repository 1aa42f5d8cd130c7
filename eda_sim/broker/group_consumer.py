"""The consumer group protocol of Kafka 4 (KIP-848, ``group.protocol=consumer``).

The classic protocol (:mod:`eda_sim.broker.group`) lets one member, the leader,
compute the assignment, and stops the group at a barrier on every rebalance.
Under the new protocol the *broker* computes it and there is no barrier:

* every change of membership or subscription bumps the **group epoch** and the
  coordinator computes a **target assignment** for it, with its ``uniform``
  (balanced and sticky) or ``range`` assignor (``group.consumer.assignors``;
  a member may ask for one with ``group.remote.assignor``);
* each member heartbeats every ``group.consumer.heartbeat.interval.ms`` (5 s)
  with its **member epoch**; on a heartbeat the coordinator tells it what to
  give up and, once nobody else holds them, what to take;
* a partition moves in two steps: its owner revokes it (commit, callback) and
  acknowledges, then the new owner gets it on its own next heartbeat. Members
  whose partitions do not move keep reading throughout;
* a member that gave up everything it had to reaches the target's epoch;
* the session timeout is the broker's (``group.consumer.session.timeout.ms``,
  45 s): the client's ``session.timeout.ms`` and ``heartbeat.interval.ms`` are
  refused, as librdkafka refuses them (see :mod:`eda_sim.kafka.config`);
* a broker does not start unless each of its session timeout and heartbeat
  interval lies within its ``min``/``max`` settings (45-60 s, 5-15 s) and the
  heartbeat is shorter than the session, for consumer and share groups alike
  (:func:`check_broker_settings`);
* a static member (``group.instance.id``) that leaves sends member epoch -2:
  the coordinator keeps its assignment for it until its session expires.

The journal has a ``rebalanced`` row per group epoch (count = epoch, detail =
the target assignment) and an ``epoch`` row whenever a member's epoch or
assignment changes (count = member epoch, detail = what it owns, its target
and what it waits for). :func:`epochs` turns them into a table.

Simplifications: the coordinator answers a heartbeat at the instant it is
sent, and the acknowledgement of a revocation (which librdkafka sends at once)
is part of the same heartbeat. A classic member joining a group of the new
protocol is refused (Kafka 4 converts mixed groups online); an empty group
takes the protocol of whichever member joins it first.
"""

from __future__ import annotations

from eda_sim.broker.group import Group, assign_range, assign_uniform, format_partitions
from eda_sim.core.errors import fail

#: Broker-side settings of the group coordinator, with Kafka 4's defaults; ``Simulation.broker_config``
#: holds a copy that ``Simulation(broker_config=...)`` or a scenario may change before members join.
BROKER_DEFAULTS = {
    # the classic protocol: a JoinGroup whose session.timeout.ms is outside these fails (INVALID_SESSION_TIMEOUT)
    "group.min.session.timeout.ms": 6000,
    "group.max.session.timeout.ms": 1800000,
    # committed offsets expire when nobody reads them: an empty group's (KIP-211), a live group's of
    # topics no member subscribes to (KIP-496); the coordinator checks every 10 minutes
    "offsets.retention.minutes": 10080,
    "offsets.retention.check.interval.ms": 600000,
    # KIP-848: the session timeout and the heartbeat interval are the broker's, each within its own
    # limits, the heartbeat shorter than the session (checked when the broker starts)
    "group.consumer.session.timeout.ms": 45000,
    "group.consumer.min.session.timeout.ms": 45000,
    "group.consumer.max.session.timeout.ms": 60000,
    "group.consumer.heartbeat.interval.ms": 5000,
    "group.consumer.min.heartbeat.interval.ms": 5000,
    "group.consumer.max.heartbeat.interval.ms": 15000,
    "group.consumer.assignors": "uniform,range",
    # KIP-932 share groups: the same rules for their session and heartbeat
    "group.share.session.timeout.ms": 45000,
    "group.share.min.session.timeout.ms": 45000,
    "group.share.max.session.timeout.ms": 60000,
    "group.share.heartbeat.interval.ms": 5000,
    "group.share.min.heartbeat.interval.ms": 5000,
    "group.share.max.heartbeat.interval.ms": 15000,
    "group.share.record.lock.duration.ms": 30000,
    "group.share.delivery.count.limit": 5,
}


def _rules(kind: str) -> tuple:
    """Kafka's start-up checks for one group type (``consumer`` or ``share``), in its order."""
    hb, session = f"group.{kind}.heartbeat.interval.ms", f"group.{kind}.session.timeout.ms"
    hb_min, hb_max = (
        f"group.{kind}.min.heartbeat.interval.ms",
        f"group.{kind}.max.heartbeat.interval.ms",
    )
    s_min, s_max = f"group.{kind}.min.session.timeout.ms", f"group.{kind}.max.session.timeout.ms"
    return (
        (hb_max, ">=", hb_min),
        (hb, ">=", hb_min),
        (hb, "<=", hb_max),
        (s_max, ">=", s_min),
        (session, ">=", s_min),
        (session, "<=", s_max),
        (hb, "<", session),
    )


#: Settings Kafka checks against each other when a broker starts, as ``(setting, relation, other)``,
#: in the order of GroupCoordinatorConfig's ``require`` calls; a broker that breaks one does not start.
_RULES = (
    ("group.max.session.timeout.ms", ">=", "group.min.session.timeout.ms"),
    *_rules("consumer"),
    *_rules("share"),
)

_WORDS = {">=": "greater than or equal to", "<=": "less than or equal to", "<": "less than"}
_BROKEN = {">=": "<", "<=": ">", "<": ">="}
_HOLDS = {">=": int.__ge__, "<=": int.__le__, "<": int.__lt__}


def _value(sim, key: str) -> int | str:
    config = sim.broker_config
    if key not in BROKER_DEFAULTS:
        raise ValueError(f"unknown broker setting {key!r}; known: {', '.join(BROKER_DEFAULTS)}")
    value = config.get(key, BROKER_DEFAULTS[key])
    if isinstance(BROKER_DEFAULTS[key], int) and (
        isinstance(value, bool) or not isinstance(value, int) or value < 1
    ):
        raise ValueError(f"broker setting {key} must be a whole number >= 1, got {value!r}")
    return value


def _check(sim, rules) -> None:
    for setting, relation, other in rules:
        value, bound = _value(sim, setting), _value(sim, other)
        if _HOLDS[relation](value, bound):
            continue
        # Kafka's broker refuses to start with these (GroupCoordinatorConfig), in its words
        message = (
            f"{setting} must be {_WORDS[relation]} {other} "
            f"(got {value} {_BROKEN[relation]} {bound})"
        )
        if ".min." in other and ".max." not in setting:
            message += f"; lower {other} too, as a broker's operator would"
        raise ValueError(message)


def broker_setting(sim, key: str) -> int | str:
    """A broker setting from ``sim.broker_config``, checked: a clear error names a wrong key or value."""
    value = _value(sim, key)
    _check(sim, [rule for rule in _RULES if key in (rule[0], rule[2])])
    return value


def check_broker_settings(sim) -> None:
    """Check every group-coordinator setting of ``sim.broker_config`` as a broker does when it starts."""
    unknown = sorted(k for k in sim.broker_config if k not in BROKER_DEFAULTS)
    if unknown:
        raise ValueError(
            f"unknown broker setting {unknown[0]!r}; the group coordinator's are: {', '.join(BROKER_DEFAULTS)}"
        )
    for key in BROKER_DEFAULTS:
        _value(sim, key)
    _check(sim, _RULES)


class ConsumerGroup(Group):
    """The coordinator's view of a group on the new protocol: epochs, targets and heartbeats."""

    def __init__(self, sim, group_id: str):
        super().__init__(sim, group_id)
        self.strategy = None
        self.assignor: str | None = None
        self.group_epoch = 0
        self.target_epoch = 0
        self.target: dict = {}  # member id -> sorted target partitions at target_epoch
        self.member_epoch: dict = {}  # member id -> the epoch it has reached

    protocol_type = "consumer"

    @property
    def protocol(self) -> str:
        """``consumer``: the KIP-848 protocol (classic groups say eager or cooperative)."""
        return "consumer"

    def __repr__(self) -> str:
        return f"ConsumerGroup({self.group_id!r}, epoch={self.group_epoch}, members={list(self.members)})"

    # -- settings ---------------------------------------------------------------------

    @property
    def heartbeat_interval(self) -> float:
        """Seconds between a member's heartbeats (``group.consumer.heartbeat.interval.ms``)."""
        return broker_setting(self._sim, "group.consumer.heartbeat.interval.ms") / 1000.0

    def session_timeout(self, consumer=None) -> float:
        """Seconds without heartbeats before a member is removed (``group.consumer.session.timeout.ms``)."""
        return broker_setting(self._sim, "group.consumer.session.timeout.ms") / 1000.0

    def expiry_reason(self, consumer=None) -> str:
        """Why a member whose heartbeats stopped was removed."""
        return f"no heartbeat for {self.session_timeout():g} s (group.consumer.session.timeout.ms)"

    # -- membership -------------------------------------------------------------------

    def check_join(self, consumer) -> None:
        """Nothing to refuse: a KIP-848 member sends no session timeout (the broker's setting rules)."""

    def join(self, consumer) -> None:
        """A heartbeat with member epoch 0: the member joins, the group epoch moves, it gets a first share."""
        if consumer.config["group.protocol"] != "consumer":
            raise fail(
                "INCONSISTENT_GROUP_PROTOCOL",
                f"group {self.group_id!r} uses the consumer protocol (KIP-848); this member asks for classic",
            )
        offered = str(broker_setting(self._sim, "group.consumer.assignors")).split(",")
        wanted = consumer.config["group.remote.assignor"]
        if wanted is not None:
            self.assignor = wanted
        elif self.assignor is None:
            self.assignor = offered[0]
        instance = consumer.config["group.instance.id"]
        if instance is not None and self.instances.get(instance) in self.members:
            self._static_rejoin(consumer, instance)
            self._heartbeat_loop(consumer.member_id)
            self.heartbeat(consumer.member_id)
            return
        m = consumer.member_id
        self.members[m] = consumer
        self.empty_since = None
        self.standalone = False
        self.assignment[m] = []
        self.member_epoch[m] = 0
        self._new_session(m)
        if instance is not None:
            self.instances[instance] = m
        self._sim.journal.write(
            "joined",
            m,
            self.group_id,
            detail=",".join(sorted(consumer.subscribed_topics)),
            data=tuple(sorted(consumer.subscribed_topics)),
        )
        self.rebalance(f"{m} joined")
        self._heartbeat_loop(m)
        self.heartbeat(m)

    def remove(self, member_id: str, kind: str, reason: str) -> None:
        """A member left (epoch -1), was evicted or expired: its partitions are free at once."""
        if member_id not in self.members:
            return
        parts = self.assignment.get(member_id, [])
        self._revoke(member_id, parts, lost=kind != "left")
        self._sim.journal.write(kind, member_id, self.group_id, detail=reason)
        self._revoked(member_id, parts)
        for table in (self.members, self.assignment, self.member_epoch, self.target):
            table.pop(member_id, None)
        self._sessions.pop(member_id, None)
        for instance in [i for i, m in self.instances.items() if m == member_id]:
            del self.instances[instance]
        self.rebalance(f"{member_id} {kind}")
        self.emptied()

    def _expiry_base(self, tp: tuple) -> float:
        """KIP-848 groups count an offset's retention from its commit, once nobody subscribes to it."""
        return self.committed_at.get(tp, 0.0)

    def evict(self, member_id: str, reason: str) -> None:
        """``max.poll.interval.ms`` passed: librdkafka leaves (a static member with epoch -2, keeping its place)."""
        consumer = self.members.get(member_id)
        if consumer is not None and consumer.config["group.instance.id"] is not None:
            self.depart(member_id, f"{reason}; a static member leaves with epoch -2")
            self.expire_later(member_id, self.session_timeout(), self.expiry_reason())
        else:
            self.remove(member_id, "evicted", reason)

    # -- the target assignment --------------------------------------------------------------

    def rebalance(self, reason: str) -> None:
        """Bump the group epoch and compute the new target assignment; members move on their heartbeats."""
        self.group_epoch += 1
        broker = self._sim.broker
        subs = {m: c.subscribed_topics for m, c in self.members.items()}
        topics = sorted({t for s in subs.values() for t in s if t in broker.topics})
        counts = {t: broker.topics[t].partition_count for t in topics}
        ids = list(self.members)
        if self.assignor == "range":
            target = assign_range(ids, subs, counts)
        else:  # uniform: balanced, and sticky to the previous target
            target = assign_uniform(ids, subs, counts, self.target)
        self.target = {m: sorted(target.get(m, [])) for m in ids}
        self.target_epoch = self.group_epoch
        self.generation = self.group_epoch
        self._sim.journal.write(
            "rebalanced",
            "coordinator",
            self.group_id,
            count=self.group_epoch,
            detail=f"{reason}: target {self._describe(self.target)}",
        )
        self._schedule_expiry()  # KIP-496: offsets of topics nobody subscribes to expire

    # -- heartbeats -------------------------------------------------------------------------

    def _heartbeat_loop(self, member_id: str) -> None:
        self._sim.env.process(self._heartbeats(member_id, self._sessions[member_id]))

    def _heartbeats(self, member_id: str, session: int):
        env = self._sim.env
        while True:
            yield env.timeout(self.heartbeat_interval)
            consumer = self.members.get(member_id)
            if (
                consumer is None
                or self._sessions.get(member_id) != session
                or consumer.member_id != member_id
                or consumer.crashed
            ):
                return  # left, expired, rejoined in a new session, crashed or closed: no more heartbeats
            self.heartbeat(member_id)

    def heartbeat(self, member_id: str, polled: bool = False) -> None:
        """One heartbeat of ``member_id``: revoke what it must give up, give it what is free, move its epoch.

        The client revokes inside its next ``poll`` (librdkafka serves the
        rebalance from the application's poll, after the batch in hand), and
        acknowledges with a heartbeat sent at once: ``polled`` is that one.
        Until then the member keeps its epoch and gets nothing new.
        """
        journal = self._sim.journal
        consumer = self.members[member_id]
        owned = self.assignment[member_id]
        target = self.target.get(member_id, [])
        keep = set(target)
        lose = [tp for tp in owned if tp not in keep]
        if lose and not polled:
            reachable = consumer.member_id == member_id and not consumer.crashed
            if reachable and consumer.run_at_next_poll(lambda: self._polled(member_id, consumer)):
                journal.write(
                    "epoch",
                    member_id,
                    self.group_id,
                    count=self.member_epoch[member_id],
                    detail=f"owns {format_partitions(owned)}; target {format_partitions(target)}; revokes {format_partitions(lose)} at its next poll",
                )
            return  # a crashed or departed owner keeps them until it comes back or its session expires
        if lose:
            self._revoke(member_id, lose, lost=False)
            self._revoked(member_id, lose)
            owned = self.assignment[member_id] = [tp for tp in owned if tp in keep]
        have = set(owned)
        gain = [tp for tp in target if tp not in have and tp not in self.owner]
        if gain:
            owned = self.assignment[member_id] = sorted(owned + gain)
            for tp in gain:
                self.owner[tp] = member_id
            journal.write(
                "assigned",
                member_id,
                self.group_id,
                count=len(gain),
                detail=format_partitions(gain),
                data=tuple(sorted(gain)),
            )
            if consumer.member_id == member_id:
                consumer.group_assigned(gain)
        before = self.member_epoch[member_id]
        self.member_epoch[member_id] = (
            self.target_epoch
        )  # nothing left to revoke: it reached the target
        if lose or gain or before != self.target_epoch:
            waits = [tp for tp in target if tp not in set(owned)]
            journal.write(
                "epoch",
                member_id,
                self.group_id,
                count=self.target_epoch,
                detail=f"owns {format_partitions(owned)}; target {format_partitions(target)}"
                + (f"; waits for {format_partitions(waits)}" if waits else ""),
            )

    def _polled(self, member_id: str, consumer) -> None:
        if self.members.get(member_id) is consumer and consumer.member_id == member_id:
            self.heartbeat(member_id, polled=True)

    def stable(self) -> bool:
        """Every member owns exactly its target at the group epoch."""
        return all(
            self.member_epoch.get(m) == self.group_epoch
            and self.assignment[m] == self.target.get(m, [])
            for m in self.members
        )


def epochs(sim, group: str):
    """The group's epochs as a table: per ``rebalanced`` row the group epoch and its target, per ``epoch``
    row a member's epoch, what it owns and what it still waits for."""
    import pandas as pd

    rows = []
    for r in sim.journal.rows():
        if r.group != group:
            continue
        if r.kind == "rebalanced":
            why, _, target = r.detail.partition(": target ")
            rows.append(
                {
                    "time": round(r.time, 3),
                    "who": "coordinator",
                    "epoch": r.count,
                    "what": f"{why}; target {target}",
                }
            )
        elif r.kind == "epoch":
            rows.append(
                {"time": round(r.time, 3), "who": r.actor, "epoch": r.count, "what": r.detail}
            )
    return pd.DataFrame(rows, columns=["time", "who", "epoch", "what"])


def epoch_state(sim, group: str, time: float | None = None):
    """A consumer-protocol group at virtual ``time`` (default now), replayed from the journal.

    Returns ``(group epoch, {member: member epoch}, {(topic, partition): target member})``;
    ``(None, {}, {})`` for a group that never ran the consumer protocol.
    """
    group_epoch, members, target = None, {}, {}
    for r in sim.journal.rows():
        if time is not None and r.time > time:
            break
        if r.group != group:
            continue
        if r.kind == "rebalanced" and ": target " in r.detail:
            group_epoch = r.count
            target = {}
            for item in r.detail.split(": target ", 1)[1].split():
                member, _, parts = item.partition("=")
                for part in parts.strip("[]").split(","):
                    if part:
                        topic, _, p = part.rpartition("-")
                        target[(topic, int(p))] = member
        elif r.kind == "epoch":
            members[r.actor] = r.count
        elif r.kind in ("left", "evicted", "session_expired"):
            members.pop(r.actor, None)
    return group_epoch, members, target
