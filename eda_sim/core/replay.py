"""The one replay of the journal: what the world looked like at a past instant.

Every picture and table that can show the past (the flow diagram, the board,
the metric charts, the property tests' checker) reads the journal through
:func:`replay`: it folds rows into a :class:`State` (log ends and starts,
committed offsets, owners, members, positions, counts), and
:func:`state_at` does it up to a virtual time.
"""

from __future__ import annotations

import bisect
from collections import defaultdict


class State:
    """What the journal says about the world up to some row: offsets, owners, members, counts."""

    def __init__(self):
        self.partitions: dict = {}  # topic -> partition count
        self.log_end: dict = defaultdict(int)  # (topic, partition) -> log-end offset
        self.log_start: dict = defaultdict(int)  # (topic, partition) -> log-start offset
        self.appended: dict = defaultdict(int)  # topic -> records appended
        self.produced: dict = defaultdict(int)  # (producer, topic) -> records produced
        self.delivered: dict = defaultdict(int)  # (group, topic) -> records delivered
        self.committed: dict = {}  # (group, topic, partition) -> committed offset
        self.owner: dict = defaultdict(dict)  # group -> {(topic, partition): member}
        self.members: dict = defaultdict(
            dict
        )  # group -> {member: "alive" | "crashed"} (in the group)
        self.crashed: dict = {}  # member -> group, crashed and not restarted
        self.subscriptions: dict = defaultdict(set)  # group -> topics it subscribed to
        # group -> topics some consumer was ever assigned partitions of ('assigned' rows: by the
        # group's coordinator, or by a consumer's own assign() under the group's id)
        self.assigned_topics: dict = defaultdict(set)
        self.positions: dict = {}  # (group, member, topic, partition) -> position
        # (group, member, topic, partition) -> the offset after what the member's client has fetched
        # into its local fetch queue (librdkafka's next_offset); records from the position up to it
        # are in the client's memory, not yet handed to the application
        self.fetched: dict = {}
        self.paused: set = set()  # (group, member, topic, partition) paused by the member
        # a cluster (Simulation(brokers=N)): replication factor per topic, and per partition the
        # in-sync replicas (all of them until a row says otherwise) and whether it is offline
        self.replication: dict = {}  # topic -> replication factor
        self.isr: dict = {}  # (topic, partition) -> tuple of in-sync brokers
        self.offline: set = set()  # (topic, partition) with no leader
        self.replicas: dict = {}  # (topic, partition) -> brokers holding a replica, preferred first
        self.leader: dict = {}  # (topic, partition) -> broker the controller last made its leader
        self.brokers_down: set = set()  # brokers crashed and not restarted

    def apply(self, r) -> None:
        """Fold one journal row into this state."""
        s = self

        k = r.kind
        if k == "appended":
            tp = (r.topic, r.partition)
            end = r.offset + r.count
            if end > s.log_end[tp]:
                s.log_end[tp] = end
            s.appended[r.topic] += r.count
        elif k == "delivered":
            s.delivered[(r.group, r.topic)] += r.count
            s.positions[(r.group, r.actor, r.topic, r.partition)] = r.offset + r.count
        elif k == "fetched":
            s.fetched[(r.group, r.actor, r.topic, r.partition)] = r.offset + r.count
        elif k == "paused" or k == "resumed":
            # pausing drops what was fetched (librdkafka purges the queue); resuming fetches from the position
            for tp in r.data:
                key = (r.group, r.actor) + tp
                s.fetched.pop(key, None)
                if k == "paused":
                    s.paused.add(key)
                else:
                    s.paused.discard(key)
        elif k == "committed":
            s.committed[(r.group, r.topic, r.partition)] = r.offset
        elif k == "offsets_expired" or k == "group_deleted":
            for tp in r.data:
                s.committed.pop((r.group,) + tp, None)
        elif k == "produced":
            s.produced[(r.actor, r.topic)] += r.count
        elif k == "assigned":
            # Ownership follows 'assigned' and 'revoked' rows (the member is the row's actor, exactly);
            # together they say what each 'rebalanced' row's assignment says. A consumer's own
            # assign()/unassign() writes them too, with its handle name (client.id#consumer-N) as actor.
            owners = s.owner[r.group]
            s.assigned_topics[r.group].update(t for t, _p in r.data)
            for tp in r.data:
                owners[tp] = r.actor
                c = s.committed.get((r.group,) + tp)
                key = (r.group, r.actor) + tp
                s.fetched.pop(key, None)  # nothing fetched before an assignment is kept
                if c is None:
                    s.positions.pop(key, None)
                else:
                    s.positions[key] = c
        elif k == "revoked":
            owners = s.owner[r.group]
            for tp in r.data:
                key = (r.group, r.actor) + tp
                s.positions.pop(key, None)
                s.fetched.pop(key, None)
                s.paused.discard(key)
                if owners.get(tp) == r.actor:
                    del owners[tp]
        elif k == "offset_reset" or k == "seeked":
            key = (r.group, r.actor, r.topic, r.partition)
            s.fetched.pop(key, None)  # a seek or a reset purges the fetch queue
            if r.offset >= 0:
                s.positions[key] = r.offset
            else:
                s.positions.pop(key, None)
        elif k == "joined":
            s.members[r.group][r.actor] = "alive"
            s.subscriptions[r.group].update(r.data)
        elif k in ("left", "evicted", "session_expired"):
            s.members[r.group].pop(r.actor, None)
        elif k == "crashed" or k == "departed":
            # a static member that closed keeps its partitions unread, as a crashed one does
            s.crashed[r.actor] = r.group
            if r.actor in s.members[r.group]:
                s.members[r.group][r.actor] = "crashed"
        elif k == "rejoined":
            s.crashed.pop(r.actor, None)
            s.members[r.group][r.actor] = "alive"
        elif k == "restarted":
            s.crashed.pop(r.actor, None)
            for key in [key for key in s.positions if key[1] == r.actor]:
                del s.positions[key]
            for key in [key for key in s.fetched if key[1] == r.actor]:
                del s.fetched[key]
            s.paused = {key for key in s.paused if key[1] != r.actor}
        elif k == "leader_elected":
            # a cluster (eda_sim.broker.replication): the log now ends where the new leader's does,
            # which is shorter when records only the old leader had were lost
            tp = (r.topic, r.partition)
            s.log_end[tp] = r.offset
            s.leader[tp] = r.data[0]
            s.isr[tp] = r.data[2]
            s.offline.discard(tp)
        elif k == "isr_shrunk" or k == "isr_expanded":
            s.isr[(r.topic, r.partition)] = r.data
        elif k == "partition_offline":
            s.offline.add((r.topic, r.partition))
            s.leader[(r.topic, r.partition)] = -1  # as the controller has it: no one leads
        elif k == "broker_crashed":
            s.brokers_down.add(r.data[0])
        elif k == "broker_restarted":
            s.brokers_down.discard(r.data[0])
        elif k == "expired":
            s.log_start[(r.topic, r.partition)] = r.offset + r.count
        elif k == "topic_created" or k == "partitions_added":
            first = s.partitions.get(r.topic, 0) if k == "partitions_added" else 0
            s.partitions[r.topic] = r.count
            if r.data:  # on a cluster: (replication factor, replicas of each new partition)
                s.replication[r.topic] = r.data[0]
                for p, replicas in enumerate(r.data[1], start=first):
                    s.replicas[(r.topic, p)] = replicas
                    s.leader[(r.topic, p)] = replicas[0]

    def read_topics(self, group: str) -> list:
        """The topics ``group`` reads (subscribed to, or committed on)."""
        return read_topics(self.subscriptions, self.committed, group)


def read_topics(subscriptions: dict, committed: dict, group: str) -> list:
    """The topics a group reads: those it subscribed to ('joined' rows) and those it committed on."""
    return sorted(set(subscriptions.get(group, ())) | {t for (g, t, _p) in committed if g == group})


def replay(rows) -> State:
    """Fold ``rows`` (journal rows in order) into a new :class:`State`."""
    s = State()
    for r in rows:
        s.apply(r)
    return s


def series(rows, bucket: float, n: int):
    """Per-bucket replay: yield ``(k, state, rows_of_bucket_k)`` for k = 0 .. n-1.

    ``state`` is the world at the end of bucket ``k`` (every row before
    ``(k + 1) * bucket`` folded in; rows past the last bucket count in it);
    the same :class:`State` object moves on, so read it before the next step.
    """
    state = State()
    k_open, pending = 0, []
    for r in rows:
        k = min(int(r.time / bucket + 1e-9), n - 1)
        while k_open < k:
            yield k_open, state, pending
            k_open, pending = k_open + 1, []
        state.apply(r)
        pending.append(r)
    while k_open < n:
        yield k_open, state, pending
        k_open, pending = k_open + 1, []


def check_time(sim, time) -> float:
    if time is None:
        return sim.now
    if isinstance(time, bool) or not isinstance(time, (int, float)) or time != time:
        raise TypeError(f"time must be a virtual time in seconds or None (now), got {time!r}")
    if not 0 <= time <= sim.now:
        raise ValueError(
            f"time={time!r} is outside the simulation's past: pick a time from 0 to now ({sim.now:g} s)"
        )
    return float(time)


def rows_until(sim, time: float | None) -> list:
    """The journal rows written at or before ``time`` (all rows when None)."""
    journal = sim.journal
    if time is None:
        return journal.rows()
    end = bisect.bisect_right(journal, time, key=lambda r: r.time)
    return [journal[i] for i in range(end)]


def state_at(sim, time=None) -> State:
    """The world as the journal says it was at ``time`` (virtual seconds; None for now)."""
    return replay(rows_until(sim, None if time is None else check_time(sim, time)))
