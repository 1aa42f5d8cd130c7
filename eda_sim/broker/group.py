"""Consumer groups: the coordinator, partition assignment and rebalancing.

Within a group each partition of a subscribed topic belongs to at most one
member at a time; that is how a group shares work, and why a group with more
members than partitions leaves some idle. The coordinator keeps the group's
committed offsets, one per partition, while some member subscribes to the
partition's topic, and deletes them ``offsets.retention.minutes`` later when
none does (see :meth:`Group.expire_offsets`). A consumer that assigns its
partitions itself (``assign()``) is no member: its commits are accepted only
while the group has none (:meth:`Group.commit_simple`), and a group only such
consumers ever used expires each offset a retention after its last commit.

A rebalance happens when a member joins, leaves, is evicted for not polling
within ``max.poll.interval.ms``, or is declared dead after
``session.timeout.ms`` without heartbeats (a crash), and when a subscribed
topic gains partitions. The assignors are Kafka's:

* ``range``: per topic, members in order each take a contiguous run;
* ``roundrobin``: all partitions dealt to members in turn;
* ``cooperative-sticky``: balanced, and partitions stay with their owner when
  they can; librdkafka's own assignor, ported (:func:`assign_sticky`).

``range`` and ``roundrobin`` rebalance *eagerly*: every member gives up all of
its partitions, then the new assignment is handed out. ``cooperative-sticky``
rebalances *incrementally*: only partitions that move are revoked, in a first
round, and the assignor runs again on what each member then owns to hand
them to their new owners in a second.

Static membership (KIP-345): a member configured with ``group.instance.id``
that comes back within ``session.timeout.ms`` takes its old place, member id
and partitions included, with no rebalance; ``close()`` of a static member
does not leave the group (librdkafka and the Java client send no LeaveGroup
for it), so its partitions wait for it, unread, until the session times out.

Simplification: a rebalance completes at the instant it is triggered (real
groups take a join and a sync round trip, and wait for every member to poll).
Kafka hands a returning static member a new member id and fences the old one;
the simulator keeps the id, so the board keeps the member's colour.
"""

from __future__ import annotations

import math

from eda_sim.core.errors import fail


def assign_range(members: list, subscriptions: dict, partitions: dict) -> dict:
    """Kafka's RangeAssignor. ``partitions`` maps topic -> partition count."""
    out = {m: [] for m in members}
    for topic in sorted(partitions):
        subs = sorted(m for m in members if topic in subscriptions[m])
        if not subs:
            continue
        n = partitions[topic]
        each, extra = divmod(n, len(subs))
        start = 0
        for i, m in enumerate(subs):
            take = each + (1 if i < extra else 0)
            out[m].extend((topic, p) for p in range(start, start + take))
            start += take
    return out


def assign_roundrobin(members: list, subscriptions: dict, partitions: dict) -> dict:
    """Kafka's RoundRobinAssignor."""
    out = {m: [] for m in members}
    ordered = sorted(members)
    if not ordered:
        return out
    i = 0
    for topic in sorted(partitions):
        for p in range(partitions[topic]):
            for _ in range(len(ordered)):
                m = ordered[i % len(ordered)]
                i += 1
                if topic in subscriptions[m]:
                    out[m].append((topic, p))
                    break
    return out


def assign_uniform(members: list, subscriptions: dict, partitions: dict, current: dict) -> dict:
    """A balanced sticky assignment: the simulator's model of KIP-848's server-side ``uniform`` assignor.

    Each member keeps as many of its current partitions as balance allows
    (counts may differ by at most one), its lowest first; the rest go to the
    least loaded eligible member, ties broken by member id. The classic
    protocol's ``cooperative-sticky`` is the client's assignor instead
    (:func:`assign_sticky`).
    """
    valid = {(t, p) for t in partitions for p in range(partitions[t])}
    ordered = sorted(members)
    total = sum(1 for tp in valid if any(tp[0] in subscriptions[m] for m in ordered))
    if not ordered:
        return {}
    floor, extra = divmod(total, len(ordered))
    kept = {}
    for m in sorted(ordered, key=lambda m: (-len(current.get(m, ())), m)):
        owned = sorted(tp for tp in current.get(m, ()) if tp in valid and tp[0] in subscriptions[m])
        take = min(len(owned), floor)
        if extra and len(owned) > floor:
            take = floor + 1
            extra -= 1
        kept[m] = owned[:take]
    taken = {tp for parts in kept.values() for tp in parts}
    for tp in sorted(valid - taken):
        eligible = [m for m in ordered if tp[0] in subscriptions[m]]
        if eligible:
            m = min(eligible, key=lambda m: (len(kept[m]), m))
            kept[m].append(tp)
    return {m: sorted(kept[m]) for m in ordered}


class _Movements:
    """``PartitionMovements_t``: the moves made in one assignment, so a later move can undo a swap."""

    def __init__(self):
        self.moves: dict = {}  # (topic, partition) -> (source member, destination member)
        self.by_topic: dict = {}  # topic -> {(source, destination): [partitions, oldest first]}

    def _forget(self, tp):
        # librdkafka leaves the partition's entry in its partitionMovements map here (Java removes
        # it); touching that partition again would trip one of librdkafka's asserts, so the port
        # removes it as Java does.
        pair = self.moves.pop(tp)
        pairs = self.by_topic[tp[0]]
        pairs[pair].remove(tp)
        if not pairs[pair]:
            del pairs[pair]
        if not pairs:
            del self.by_topic[tp[0]]
        return pair

    def _record(self, tp, pair):
        self.moves[tp] = pair
        self.by_topic.setdefault(tp[0], {}).setdefault(pair, []).append(tp)

    def move(self, tp, old, new):
        """``PartitionMovements_movePartition``."""
        if tp in self.moves:
            source, _ = self._forget(tp)
            if source != new:  # not moving back where it came from
                self._record(tp, (source, new))
        else:
            self._record(tp, (old, new))

    def actual(self, tp, old, new):
        """``PartitionMovements_getTheActualPartitionToBeMoved``: rather than move a partition of a
        topic from ``old`` to ``new``, move back one that went from ``new`` to ``old`` earlier.

        librdkafka builds the reverse pair from the current owner (Java from the partition's
        original source, when it moved before).
        """
        pairs = self.by_topic.get(tp[0])
        if not pairs:
            return tp
        back = pairs.get((new, old))
        return back[0] if back else tp


def assign_sticky(
    members: list,
    subscriptions: dict,
    partitions: dict,
    current: dict,
    generations: dict | None = None,
) -> dict:
    """librdkafka's ``cooperative-sticky`` assignor (``rdkafka_sticky_assignor.c``), ported.

    ``members`` are member ids in the order the group leader lists them,
    ``subscriptions`` maps a member to its topics, ``partitions`` a topic to
    its partition count, ``current`` a member to the partitions it owns (its
    JoinGroup "owned partitions") and ``generations`` (optional, default all
    equal) a member to the generation those belong to. Returns member ->
    sorted partitions.

    librdkafka ports the Java client's older ``AbstractStickyAssignor``
    "general" algorithm. Ported from the C functions of that name:

    * ``rd_kafka_sticky_assignor_assign_cb``: drop owned partitions that no
      longer exist, and those of a topic the owner no longer subscribes to
      (which then requires a revocation); everything else left is unassigned.
    * ``prepopulateCurrentAssignments``: a partition claimed by several members
      stays with the highest generation, the next highest becomes its previous
      owner, and a claim tied on generation is dropped for all.
    * ``populatePotentialMaps`` and ``areSubscriptionsIdentical``.
    * ``sortPartitions``: for identical subscriptions, repeatedly take the
      first remaining partition (one that had another owner before, if any)
      of the member holding the most, ties to the higher member id; then the
      unowned partitions in the reverse of the topic/partition order (the
      order librdkafka's hash map iterates in). Otherwise all partitions by
      how few members can take them.
    * ``balance``, ``maybeAssignPartition``: each unassigned partition to the
      least loaded member that can take it (ties by member id); members that
      cannot take part are set aside.
    * ``performReassignments``, ``isBalanced``, ``reassignPartition``,
      ``processPartitionMovement``, ``PartitionMovements_*``: for each
      partition in order, while the assignment is not balanced, move it when
      its owner holds more than one partition more than another member that
      could take it (back to its previous owner if that one holds two fewer),
      to the least loaded; repeat until nothing moves. ``isBalanced`` keeps
      librdkafka's reuse of one loop index for two loops, so it stops after
      the first member that lacks some partition it could have.
    * ``getBalanceScore``: keep the moves only if they improve the balance.

    Left out: rack awareness (``client.rack``; the simulator has no racks),
    the eager ``sticky`` protocol's user data (the simulated client offers
    only ``cooperative-sticky``), and two librdkafka defects the course
    cannot reach: with overlapping claims it records the last claimant in
    member order as the owner of a partition, and it keeps a stale movement
    record for a partition moved back (see :class:`_Movements`). The topic
    order is the topic name order (librdkafka takes the order of its
    metadata).
    """
    generations = generations or {}
    # prepopulateCurrentAssignments
    claims: dict = {}  # partition -> [(member, generation)], in the order first claimed
    for m in members:
        for tp in current.get(m, ()):
            claims.setdefault(tp, []).append((m, generations.get(m, -1)))
    assignment = {m: [] for m in members}  # currentAssignment
    owner: dict = {}  # currentPartitionConsumer
    previous: dict = {}  # prevAssignment: partition -> its owner one generation before
    for tp in reversed(list(claims)):
        by_generation = sorted(claims[tp], key=lambda claim: claim[1])
        gens = [g for _, g in by_generation]
        if len(set(gens)) < len(gens):  # claimed twice in one generation: nobody keeps it
            continue
        assignment[by_generation[-1][0]].append(tp)
        owner[tp] = by_generation[-1][0]
        if len(by_generation) >= 2:
            previous[tp] = by_generation[-2][0]
    if not members:
        return {}

    # populatePotentialMaps: partitions in topic order, then partition order
    able: dict = {}  # partition2AllPotentialConsumers
    can_take = {m: [] for m in members}  # consumer2AllPotentialPartitions
    for topic in sorted(t for t in partitions if any(t in subscriptions[m] for m in members)):
        for m in members:
            if topic in subscriptions[m]:
                for p in range(partitions[topic]):
                    can_take[m].append((topic, p))
                    able.setdefault((topic, p), []).append(m)
    takes = {m: set(parts) for m, parts in can_take.items()}

    def load(m):
        return (len(assignment[m]), m)

    # sortPartitions (librdkafka's isFreshAssignment is only true for a group with no members)
    identical = (
        len({tuple(ms) for ms in able.values()}) <= 1
        and len({frozenset(ps) for ps in can_take.values()}) <= 1
    )
    if not identical:
        ordered_parts = sorted(able, key=lambda tp: (len(able[tp]), tp))
    else:
        remaining = {}
        for m in members:
            assignment[m].sort()
            kept = [tp for tp in assignment[m] if tp in able]
            if kept:
                remaining[m] = kept
        givers = sorted(remaining, key=lambda m: (len(remaining[m]), m))
        ordered_parts = []
        while givers:
            m = givers[-1]
            moved_before = [tp for tp in remaining[m] if tp in previous]
            if moved_before:
                remaining[m].remove(moved_before[0])
                ordered_parts.append(moved_before[0])
            elif remaining[m]:
                ordered_parts.append(remaining[m].pop(0))
            else:
                givers.pop()
                continue
            givers.sort(key=lambda m: (len(remaining[m]), m))
        was_empty = not ordered_parts
        listed = set(ordered_parts)
        ordered_parts += [tp for tp in reversed(list(able)) if tp not in listed]
        if was_empty:
            ordered_parts.sort()

    # assign_cb: keep what may stay; the rest is unassigned
    unassigned = list(ordered_parts)
    revocation_required = False
    for m in members:
        still = []
        for tp in assignment[m]:
            if tp not in able:
                owner.pop(tp, None)
            elif tp[0] not in subscriptions[m]:
                revocation_required = True
            else:
                unassigned.remove(tp)
                still.append(tp)
        assignment[m] = still
    order = sorted(members, key=load)  # sortedCurrentSubscriptions

    # balance
    initializing = not assignment[order[-1]]
    for tp in unassigned:  # maybeAssign, maybeAssignPartition
        for m in order:
            if tp in takes[m]:
                assignment[m].append(tp)
                owner[tp] = m
                order.sort(key=load)
                break

    def movable(tp):
        return len(able.get(tp, ())) >= 2

    ordered_parts = [tp for tp in ordered_parts if movable(tp)]
    unassigned = [tp for tp in unassigned if movable(tp)]
    fixed = {}
    for m in list(order):  # consumerCanParticipateInReassignment
        if len(assignment[m]) < len(can_take[m]) or any(movable(tp) for tp in assignment[m]):
            continue
        order.remove(m)
        fixed[m] = assignment.pop(m)
    before = ({m: list(parts) for m, parts in assignment.items()}, dict(owner))
    movements = _Movements()

    def balanced():  # isBalanced
        if len(assignment[order[0]]) >= len(assignment[order[-1]]) - 1:
            return True
        held_by = {tp: m for m, parts in assignment.items() for tp in parts}
        i = 0
        while i < len(order):
            mine = assignment[order[i]]
            could = can_take[order[i]]
            if len(mine) == len(could):
                i += 1
                continue
            for tp in could:
                if tp not in mine and len(mine) < len(assignment[held_by[tp]]):
                    return False
            i = len(could) + 1  # the C loop reuses the outer loop's index
        return True

    def move(tp, new):  # reassignPartitionToConsumer, processPartitionMovement
        tp = movements.actual(tp, owner[tp], new)
        old = owner[tp]
        movements.move(tp, old, new)
        assignment[new].append(tp)
        assignment[old].remove(tp)
        owner[tp] = new
        order.sort(key=load)

    def reassign(parts):  # performReassignments
        performed = False
        modified = True
        while modified:
            modified = False
            i = 0
            while i < len(parts) and not balanced():
                tp = parts[i]
                i += 1
                held = len(assignment[owner[tp]])
                before_owner = previous.get(tp)
                if before_owner in assignment and held > len(assignment[before_owner]) + 1:
                    move(tp, before_owner)
                    performed = modified = True
                    continue
                for other in able[tp]:
                    if other != owner[tp] and held > len(assignment[other]) + 1:
                        move(tp, next(m for m in order if tp in takes[m]))  # reassignPartition
                        performed = modified = True
                        break
        return performed

    if not revocation_required and unassigned:
        reassign(unassigned)
    performed = reassign(ordered_parts)
    if not initializing and performed and _imbalance(assignment) >= _imbalance(before[0]):
        assignment, owner = before
    assignment.update(fixed)
    return {m: sorted(assignment[m]) for m in members}


def _imbalance(assignment: dict) -> int:
    """``getBalanceScore``: the sum of the differences in partition count over all pairs of members."""
    sizes = [len(parts) for parts in assignment.values()]
    return sum(abs(a - b) for i, a in enumerate(sizes) for b in sizes[i + 1 :])


def format_partitions(parts) -> str:
    """``[topic-partition,...]``, sorted: how the journal writes a partition list."""
    return "[" + ",".join(f"{t}-{p}" for t, p in sorted(parts)) + "]"


class Group:
    """The coordinator's view of one consumer group."""

    def __init__(self, sim, group_id: str):
        self._sim = sim
        self.group_id = group_id
        self.members: dict = {}  # member id -> consumer, in join order
        self.assignment: dict = {}  # member id -> sorted list of (topic, partition)
        self.owner: dict = {}  # (topic, partition) -> member id
        self.committed: dict = {}  # (topic, partition) -> committed offset
        self.committed_at: dict = {}  # (topic, partition) -> virtual time of its last commit
        self.empty_since: float | None = (
            sim.now
        )  # when the last member went (None while it has members)
        self._expiry_token = 0  # the latest scheduled offset-expiry check; older ones do nothing
        # no member has ever joined: the group only stores offsets for assign() consumers (Kafka's
        # protocolType None, a "simple" or standalone group)
        self.standalone = True
        self.generation = 0
        self.strategy: str | None = None
        self.instances: dict = {}  # group.instance.id -> member id (static members)
        self._sessions: dict = {}  # member id -> number of its current session (a static rejoin starts a new one)
        self._session_count = 0

    #: The group's type as ``kafka-consumer-groups --describe`` names it: classic, consumer (KIP-848).
    protocol_type = "classic"

    @property
    def protocol(self) -> str:
        """``eager`` or ``cooperative``, from the assignment strategy."""
        return "cooperative" if self.strategy == "cooperative-sticky" else "eager"

    def __repr__(self) -> str:
        return (
            f"Group({self.group_id!r}, generation={self.generation}, members={list(self.members)})"
        )

    # -- membership -----------------------------------------------------------------

    def check_join(self, consumer) -> None:
        """Refuse a JoinGroup whose ``session.timeout.ms`` is outside the broker's limits.

        Kafka's coordinator answers ``INVALID_SESSION_TIMEOUT`` when the
        member's session timeout is below ``group.min.session.timeout.ms``
        (6 s by default) or above ``group.max.session.timeout.ms`` (30 min);
        both limits are inclusive. The reason starts with librdkafka's words.
        """
        from eda_sim.broker.group_consumer import broker_setting

        if consumer.config["group.protocol"] != "classic":
            return  # a KIP-848 member sends no session timeout; join() refuses the protocol mismatch
        timeout = consumer.config["session.timeout.ms"]
        low = broker_setting(self._sim, "group.min.session.timeout.ms")
        high = broker_setting(self._sim, "group.max.session.timeout.ms")
        if not low <= timeout <= high:
            raise fail(
                "INVALID_SESSION_TIMEOUT",
                f"JoinGroup failed: Broker: Invalid session timeout (session.timeout.ms={timeout} is "
                f"outside the broker's group.min.session.timeout.ms={low} .. "
                f"group.max.session.timeout.ms={high})",
            )

    def join(self, consumer) -> None:
        """Add a member and rebalance; a static member returning to its place keeps its partitions."""
        self.check_join(consumer)
        instance = consumer.config["group.instance.id"]
        if instance is not None and self.instances.get(instance) in self.members:
            self._static_rejoin(consumer, instance)
            return
        if consumer.config["group.protocol"] != "classic":
            raise fail(
                "INCONSISTENT_GROUP_PROTOCOL",
                f"group {self.group_id!r} uses the classic protocol; this member asks for "
                f"group.protocol={consumer.config['group.protocol']}",
            )
        strategies = consumer.config["partition.assignment.strategy"]
        if self.strategy is None or not self.members:
            self.strategy = strategies[0]
        elif self.strategy not in strategies:
            raise fail(
                "INCONSISTENT_GROUP_PROTOCOL",
                f"group {self.group_id!r} uses {self.strategy!r}; this member offers {', '.join(strategies)}",
            )
        self.members[consumer.member_id] = consumer
        self.empty_since = None
        self.standalone = False
        self.assignment[consumer.member_id] = []
        self._new_session(consumer.member_id)
        if instance is not None:
            self.instances[instance] = consumer.member_id
        self._sim.journal.write(
            "joined",
            consumer.member_id,
            self.group_id,
            detail=",".join(sorted(consumer.subscribed_topics)),
            data=tuple(sorted(consumer.subscribed_topics)),
        )
        self.rebalance(f"{consumer.member_id} joined")

    def _new_session(self, member_id: str) -> None:
        self._session_count += 1
        self._sessions[member_id] = self._session_count

    def _static_rejoin(self, consumer, instance: str) -> None:
        """The static member ``instance`` is back inside its session: same id, same partitions, no rebalance."""
        member_id = self.instances[instance]
        previous = self.members[member_id]
        if previous is not consumer and previous.member_id == member_id and not previous.crashed:
            previous.group_fenced(instance)  # a second live process with the same group.instance.id
        consumer.member_id = member_id
        self.members[member_id] = consumer
        self._new_session(member_id)
        parts = list(self.assignment[member_id])
        self._sim.journal.write(
            "rejoined",
            member_id,
            self.group_id,
            count=len(parts),
            detail=f"group.instance.id={instance} kept {format_partitions(parts)}; no rebalance",
        )
        consumer.group_assigned(parts)

    def depart(self, member_id: str, reason: str) -> None:
        """A static member closes without leaving: its partitions stay its own until its session expires."""
        parts = list(self.assignment.get(member_id, []))
        self._revoke(
            member_id, parts, lost=False
        )  # the client gives them up locally (commit, callback)
        self._sim.journal.write(
            "departed",
            member_id,
            self.group_id,
            count=len(parts),
            detail=f"{reason}; keeps {format_partitions(parts)}",
        )

    def session_timeout(self, consumer) -> float:
        """Seconds without heartbeats before ``consumer`` is removed: its ``session.timeout.ms``."""
        return consumer.config["session.timeout.ms"] / 1000.0

    def expiry_reason(self, consumer) -> str:
        """Why a member whose heartbeats stopped was removed."""
        return f"no heartbeat for {self.session_timeout(consumer):g} s (session.timeout.ms)"

    def evict(self, member_id: str, reason: str) -> None:
        """``max.poll.interval.ms`` passed: the member leaves (librdkafka does, static or not)."""
        self.remove(member_id, "evicted", reason)

    def expire_later(self, member_id: str, seconds: float, reason: str) -> None:
        """Remove ``member_id`` after ``seconds`` without heartbeats, unless a new session started by then."""
        self._sim.env.process(
            self._expiry(member_id, self._sessions.get(member_id), seconds, reason)
        )

    def _expiry(self, member_id: str, session, seconds: float, reason: str):
        yield self._sim.env.timeout(seconds)
        if member_id in self.members and self._sessions.get(member_id) == session:
            self.remove(member_id, "session_expired", reason)

    def remove(self, member_id: str, kind: str, reason: str) -> None:
        """Take a member out (left, evicted, session_expired) and rebalance."""
        consumer = self.members.get(member_id)
        if consumer is None:
            return
        parts = self.assignment.get(member_id, [])
        # An evicted or dead member loses its partitions without a chance to commit.
        self._revoke(member_id, parts, lost=kind != "left")
        self._sim.journal.write(kind, member_id, self.group_id, detail=reason)
        self._revoked(member_id, parts)
        del self.members[member_id]
        del self.assignment[member_id]
        self._sessions.pop(member_id, None)
        for instance in [i for i, m in self.instances.items() if m == member_id]:
            del self.instances[instance]
        self.rebalance(f"{member_id} {kind}")
        self.emptied()

    # -- rebalancing --------------------------------------------------------------

    def _target(self, owned: dict | None = None) -> dict:
        """The assignor's answer for the members now, given what each owns (default: its assignment)."""
        broker = self._sim.broker
        subs = {m: c.subscribed_topics for m, c in self.members.items()}
        topics = sorted({t for s in subs.values() for t in s if t in broker.topics})
        counts = {t: broker.topics[t].partition_count for t in topics}
        ids = list(self.members)
        if self.strategy == "range":
            return assign_range(ids, subs, counts)
        if self.strategy == "roundrobin":
            return assign_roundrobin(ids, subs, counts)
        return assign_sticky(ids, subs, counts, self.assignment if owned is None else owned)

    def rebalance(self, reason: str) -> None:
        """Move to a new generation with a fresh assignment, eagerly or cooperatively."""
        journal = self._sim.journal
        target = {m: sorted(parts) for m, parts in self._target().items()}
        if self.protocol == "eager":
            for m in sorted(self.members):
                parts = self.assignment[m]
                if parts:
                    self._revoke(m, parts, lost=False)
                self._revoked(m, parts)
                self.assignment[m] = []
            self._hand_out(target, reason)
            self._schedule_expiry()  # a topic nobody subscribes to any more starts its offsets' clock
            return
        # Cooperative (KIP-429): the leader's assignment first only revokes what moves to
        # another member (the newcomer gets nothing yet); the members that gave something up
        # join again, and the assignor runs a second time on what everyone then owns.
        # Partitions nobody owned go to their new owner in the first round on a real group;
        # here they are handed out with the second (the second run sees them as owned).
        moving = False
        for m in sorted(self.members):
            keep = set(target.get(m, ()))
            lose = [tp for tp in self.assignment[m] if tp not in keep]
            if lose:
                moving = True
                self._revoke(m, lose, lost=False)
                self._revoked(m, lose)
                self.assignment[m] = [tp for tp in self.assignment[m] if tp in keep]
        if moving:
            self.generation += 1
            journal.write(
                "rebalanced",
                "coordinator",
                self.group_id,
                count=self.generation,
                detail=f"{reason}; revoke round: {self._describe(self.assignment)}",
            )
            owned = {m: list(self.assignment[m]) for m in self.members}
            taken = {tp for parts in owned.values() for tp in parts}
            for m, parts in target.items():
                owned[m] += [tp for tp in parts if tp not in taken]
            target = {m: sorted(parts) for m, parts in self._target(owned).items()}
            if any(set(self.assignment[m]) - set(target[m]) for m in self.members):
                # Not reached by the course's groups: the second run takes away again.
                return self.rebalance(reason)
        self._hand_out(target, reason)
        self._schedule_expiry()

    def _hand_out(self, target: dict, reason: str) -> None:
        journal = self._sim.journal
        self.generation += 1
        gained = {}
        for m in sorted(self.members):
            gained[m] = [tp for tp in target.get(m, []) if tp not in self.assignment[m]]
            self.assignment[m] = sorted(self.assignment[m] + gained[m])
            for tp in self.assignment[m]:
                self.owner[tp] = m
        journal.write(
            "rebalanced",
            "coordinator",
            self.group_id,
            count=self.generation,
            detail=f"{reason}: {self._describe(self.assignment)}",
        )
        for m in sorted(self.members):
            if gained[m]:
                journal.write(
                    "assigned",
                    m,
                    self.group_id,
                    count=len(gained[m]),
                    detail=format_partitions(gained[m]),
                    data=tuple(sorted(gained[m])),
                )
            consumer = self.members[m]
            if consumer.member_id == m:  # a crashed member that restarted is a new member now
                consumer.group_assigned(gained[m])

    def _revoked(self, member_id: str, parts: list) -> None:
        """Write the 'revoked' journal row for ``parts`` (when there are any) and free them."""
        if parts:
            self._sim.journal.write(
                "revoked",
                member_id,
                self.group_id,
                count=len(parts),
                detail=format_partitions(parts),
                data=tuple(sorted(parts)),
            )
        for tp in parts:
            self.owner.pop(tp, None)

    def _revoke(self, member_id: str, parts: list, lost: bool) -> None:
        consumer = self.members[member_id]
        if consumer.member_id == member_id:
            consumer.group_revoked(parts, lost=lost)

    def _describe(self, assignment: dict) -> str:
        return " ".join(f"{m}={format_partitions(assignment[m])}" for m in sorted(assignment))

    # -- offsets -------------------------------------------------------------------

    def commit(self, member_id: str, offsets: dict) -> str | None:
        """Store committed offsets, all or none; return None on success, else the reason.

        The commit is refused whole, changing nothing, when the member is no
        longer in the group (evicted, expired) or names a partition it does
        not own in the current generation: the same outcome real Kafka gives
        a member committing with a stale generation after a rebalance.
        """
        journal = self._sim.journal
        if member_id not in self.members:
            reason = f"{member_id} is not a member of group {self.group_id!r} (evicted or expired)"
        else:
            lost = sorted(tp for tp in offsets if self.owner.get(tp) != member_id)
            reason = None
            if lost:
                reason = f"{member_id} does not own {format_partitions(lost)} in generation {self.generation}"
        if reason is not None:
            for (topic, part), offset in sorted(offsets.items()):
                journal.write(
                    "commit_failed", member_id, self.group_id, topic, part, offset, 0, reason
                )
            return reason
        for (topic, part), offset in sorted(offsets.items()):
            self.committed_at[(topic, part)] = self._sim.now
            if self.committed.get((topic, part)) != offset:
                self.committed[(topic, part)] = offset
                journal.write("committed", member_id, self.group_id, topic, part, offset, 0)
        return None

    def commit_simple(self, actor: str, offsets: dict) -> str | None:
        """An OffsetCommit from a consumer outside the group (``assign()``): generation -1, no member id.

        Kafka's coordinator accepts it while the group has no members and
        refuses it otherwise: the classic coordinator answers
        ``UNKNOWN_MEMBER_ID`` ("When the group is non-empty, only members can
        commit offsets", ``GroupCoordinator.validateOffsetCommit``; the same
        in ``ClassicGroup.validateOffsetCommit``), and a KIP-848 group
        accepts a commit with member epoch -1 only when it has no members
        (``ConsumerGroup.validateOffsetCommit``). Returns None on success,
        else the reason; all or none, as :meth:`commit`.
        """
        journal = self._sim.journal
        if self.members:
            reason = (
                f"{actor} is not a member of group {self.group_id!r} (it assigned its partitions "
                f"by hand) and the group has members: only members may commit"
            )
            for (topic, part), offset in sorted(offsets.items()):
                journal.write("commit_failed", actor, self.group_id, topic, part, offset, 0, reason)
            return reason
        for (topic, part), offset in sorted(offsets.items()):
            self.committed_at[(topic, part)] = self._sim.now
            if self.committed.get((topic, part)) != offset:
                self.committed[(topic, part)] = offset
                journal.write("committed", actor, self.group_id, topic, part, offset, 0)
        self._schedule_expiry()
        return None

    def store_committed(self, tp: tuple, offset: int, actor: str, detail: str = "") -> None:
        """Store one committed offset that arrives outside a member's commit (a transaction's commit)."""
        self.committed_at[tp] = self._sim.now
        if self.committed.get(tp) != offset:
            self.committed[tp] = offset
            self._sim.journal.write(
                "committed", actor, self.group_id, tp[0], tp[1], offset, 0, detail
            )
        if not self.members:
            self._schedule_expiry()

    # -- offset retention (KIP-211, KIP-496) ---------------------------------------------

    def emptied(self) -> None:
        """Called when a member went: if none is left, the offset retention clock starts now."""
        if self.members:
            return
        self.empty_since = self._sim.now
        self._schedule_expiry()

    def subscribed(self) -> frozenset:
        """The topics some member subscribes to: a committed offset of any other topic can expire.

        Kafka's classic coordinator works this set out from the members'
        subscriptions at each generation (``computeSubscribedTopics``); here a
        generation is handed out the moment it starts, so the members' current
        subscriptions are the generation's. An empty group subscribes to nothing.
        """
        return frozenset(t for c in self.members.values() for t in c.subscribed_topics)

    def _expiry_base(self, tp: tuple) -> float:
        """When the retention of ``tp``'s committed offset started.

        A classic group that is empty counts from when it became empty; while
        it has members, an offset of a topic nobody subscribes to counts from
        its last commit (KIP-496); a group no member ever joined (offsets
        committed by ``assign()`` consumers) counts each from its last commit.
        """
        if self.standalone:
            return self.committed_at.get(tp, 0.0)
        if self.empty_since is not None:
            return self.empty_since
        return self.committed_at.get(tp, 0.0)

    def _expirable(self) -> list:
        """The partitions whose committed offset is on a retention clock now, sorted."""
        subscribed = self.subscribed()
        return sorted(tp for tp in self.committed if tp[0] not in subscribed)

    def _retention(self) -> tuple:
        from eda_sim.broker.group_consumer import broker_setting

        minutes = broker_setting(self._sim, "offsets.retention.minutes")
        interval = broker_setting(self._sim, "offsets.retention.check.interval.ms")
        return minutes * 60.0, interval / 1000.0

    def _schedule_expiry(self) -> None:
        """Wake at the first cleanup after the earliest expirable committed offset's retention runs out."""
        candidates = self._expirable()
        if not candidates:
            return
        retention, interval = self._retention()
        due = max(min(self._expiry_base(tp) + retention for tp in candidates), self._sim.now)
        # The coordinator looks every offsets.retention.check.interval.ms (from its start), not at once.
        check = math.ceil(round(due / interval, 9)) * interval
        self._expiry_token += 1
        self._sim.env.process(self._expire_later(check, self._expiry_token))

    def _expire_later(self, when: float, token: int):
        yield self._sim.env.timeout(when - self._sim.now)
        # a newer check replaced this one, or a group of the other protocol took over the group id
        if token == self._expiry_token and self._sim.groups.get(self.group_id) is self:
            self.expire_offsets()

    def expire_offsets(self) -> list:
        """Delete the committed offsets whose retention ran out; return their partitions.

        Kafka keeps the committed offset of a partition while some member of
        the group subscribes to its topic. Otherwise it expires when
        ``now - base >= offsets.retention.minutes``:

        * an empty group (KIP-211, Kafka 2.1): all its offsets, the base being
          the time the group became empty (classic) or each offset's last
          commit (KIP-848 groups);
        * a group with members (KIP-496, Kafka 2.4): the offsets of topics no
          member subscribes to any more, the base being the last commit;
        * a group no member ever joined, whose offsets ``assign()`` consumers
          commit (Kafka's protocol type None, a "standalone (simple)
          consumer"): each offset, the base being its last commit
          (``GroupMetadata.removeExpiredOffsets``, KIP-496).

        A member that needs an expired offset starts where ``auto.offset.reset`` says.
        Kafka's classic coordinator applies the KIP-496 rule to groups of the
        ``consumer`` protocol type in the Stable state (here every generation is
        stable at once). A group that had members and is empty now keeps its
        protocol type in Kafka, so offsets an ``assign()`` consumer commits
        there expire with the group's emptiness, however recent the commit.
        """
        retention, _ = self._retention()
        now = self._sim.now
        gone = [tp for tp in self._expirable() if now - self._expiry_base(tp) >= retention]
        for tp in gone:
            del self.committed[tp]
            self.committed_at.pop(tp, None)
        if gone:
            minutes = f"offsets.retention.minutes={retention / 60:g}"
            if self.standalone:
                why = f"no member ever joined: last commit older than {minutes}"
            elif self.members:
                topics = ",".join(sorted({t for t, _ in gone}))
                why = (
                    f"no member subscribes to {topics} and its last commit is older than {minutes}"
                )
            else:
                why = f"group empty for {minutes}"
            self._sim.journal.write(
                "offsets_expired",
                "coordinator",
                self.group_id,
                count=len(gone),
                detail=f"{format_partitions(gone)}: {why}",
                data=tuple(gone),
            )
        self._schedule_expiry()  # offsets whose clock started later expire later
        return gone
