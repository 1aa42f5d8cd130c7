"""Property tests: the simulation core keeps the promises of BROKER_PROMISES.md.

A hypothesis state machine drives one simulation through a random schedule of
produces (keyed and unkeyed, idempotent producers and not), lost
acknowledgements, clock advances, cell-driven consumers (consume, commit,
close), members on the clock (commit after, before or auto; crashes, restarts,
stops, stalls past ``max.poll.interval.ms``), retention runs and added
partitions. Every operation is a plain tuple applied by :class:`World`, so the
schedule can be replayed on a fresh simulation (invariant 15).

After every step the :class:`Checker` replays the new journal rows and
compares the replay with the public state: invariants 1, 2, 5, 6, 8, 9, 10, 11
and 12. At the end the world is drained (producers flushed, members stopped,
consumers closed, one fresh member per group) and invariants 3, 4, 7, 12 and 15
are checked over the whole run.

Three groups share the topics: ``ga`` processes then commits (at-least-once),
``gb`` commits then processes (at-most-once), ``gc`` auto-commits. ``gb`` runs
cooperative-sticky; ``ga`` and ``gc`` draw their assignor.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections import Counter, defaultdict

import pandas as pd
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from eda_sim import Simulation
from eda_sim.core.errors import KafkaException
from eda_sim.kafka.message import TopicPartition

settings.register_profile(
    "ci",
    derandomize=True,
    max_examples=100,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "dev",
    max_examples=60,
    stateful_step_count=50,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
# Applied to this file's tests only, so other modules keep their own settings.
PROFILE = settings.get_profile("ci" if os.environ.get("CI") else "dev")

EPS = 1e-6

#: topic -> (partitions, config). ``rt`` expires by time, ``rb`` by size.
TOPICS = {
    "t": (2, {}),
    "rt": (2, {"retention.ms": 5000, "segment.ms": 1000}),
    "rb": (1, {"retention.bytes": 30, "segment.bytes": 12}),
}
#: group -> (commit policy, subscribed topics).
GROUPS = {
    "ga": ("after", ("t", "rt", "rb")),
    "gb": ("before", ("t", "rt")),
    "gc": ("auto", ("t", "rb")),
}
MAX_PARTITIONS = 4
SESSION_MS = 6000
STALL_POLL_MS = 2000  # a stalling member: 4 records of 1 s each per poll
CELL_POLL_MS = 3000  # cells not polled for 3 s of clock advances get evicted
KEYS = ("a", "b", "c", "d", "e", "f")


def name_of(actor: str) -> str:
    """The client (Member or cell) behind a member id such as ``M3-2``, or the client id itself."""
    return actor.rsplit("-", 1)[0] if "-" in actor else actor


# -- the world: operations as data ------------------------------------------------------------


class World:
    """One simulation and everything the test remembers about it; ``apply`` runs one operation."""

    def __init__(self, seed: int, strategies: dict):
        self.seed = seed
        self.strategies = strategies
        # a group on the KIP-848 protocol ("consumer") times out on the broker's setting, lowered
        # (with the broker's lowest allowed) to the classic members' session.timeout.ms
        self.sim = Simulation(
            seed=seed,
            name="props",
            broker_config={
                "group.consumer.session.timeout.ms": SESSION_MS,
                "group.consumer.min.session.timeout.ms": SESSION_MS,
            },
        )
        for name, (n, cfg) in TOPICS.items():
            self.sim.create_topic(name, n, cfg)
        self.producers: list = []
        self.sent = Counter()  # producer name -> records produced
        self.reports: list = []  # (ok, topic, partition, offset, value) from delivery callbacks
        self.members: list = []
        self.member_group: dict = {}  # member name -> group
        self.cells: list = []
        self.cell_group: list = []
        self.closed: set = set()  # indexes of closed cells
        self.pending: list = []  # per cell: {tp: offset to commit} for what it processed
        self.last_consume: dict = {}  # cell index -> clock when its last consume returned
        self.processed = {
            g: Counter() for g in GROUPS
        }  # (topic, partition, offset) -> times processed
        self.poll_interval: dict = {}  # client name -> max.poll.interval in seconds
        self.drainers: dict = {}
        self.values = 0

    def apply(self, op: tuple):
        return getattr(self, "op_" + op[0])(*op[1:])

    # producers
    def op_producer(self, idempotent: bool):
        name = f"P{len(self.producers) + 1}"
        self.producers.append(
            self.sim.producer({"client.id": name, "enable.idempotence": idempotent})
        )

    def op_produce(self, pi: int, topic: str, keys: tuple):
        p = self.producers[pi]
        for key in keys:
            self.values += 1
            p.produce(topic, key=key, value=f"{p.name}:{self.values}", on_delivery=self._report)
            self.sent[p.name] += 1
        p.poll(0)

    def _report(self, err, msg):
        self.reports.append((err is None, msg.topic(), msg.partition(), msg.offset(), msg.value()))

    def op_flush(self, pi: int):
        assert self.producers[pi].flush() == 0

    def op_lose_acks(self, pi: int, n: int):
        self.sim.lose_acks(self.producers[pi], n)

    # the clock, the broker
    def op_advance(self, dt: float, retention: bool = False):
        self.sim.run(until=self.sim.now + dt)
        if retention:  # the broker's periodic check, at an arbitrary moment
            self.sim.broker.enforce_retention()

    def op_retention(self):
        self.sim.broker.enforce_retention()

    def op_add_partitions(self, topic: str):
        self.sim.add_partitions(topic, self.sim.topic(topic).partition_count + 1)

    # members on the clock
    def _member_config(self, group: str, poll_ms: int) -> dict:
        if self.strategies[group] == "consumer":  # KIP-848: the broker owns session and assignor
            return {
                "auto.offset.reset": "earliest",
                "max.poll.interval.ms": poll_ms,
                "group.protocol": "consumer",
            }
        return {
            "auto.offset.reset": "earliest",
            "session.timeout.ms": SESSION_MS,
            "max.poll.interval.ms": poll_ms,
            "partition.assignment.strategy": self.strategies[group],
        }

    def _new_member(
        self, group: str, name: str, processing_time: float, max_poll_records: int, poll_ms: int
    ):
        policy, topics = GROUPS[group]
        ledger = self.processed[group]

        def on_record(msg):
            ledger[(msg.topic(), msg.partition(), msg.offset())] += 1

        self.poll_interval[name] = poll_ms / 1000.0
        self.member_group[name] = group
        return self.sim.member(
            group,
            list(topics),
            name=name,
            processing_time=processing_time,
            commit=policy,
            max_poll_records=max_poll_records,
            poll_timeout=0.5,
            on_record=on_record,
            config=self._member_config(group, poll_ms),
        )

    def op_member(self, group: str, stall: bool, processing_time: float, max_poll_records: int):
        name = f"M{len(self.members) + 1}"
        if stall:
            m = self._new_member(group, name, 1.0, 4, STALL_POLL_MS)
        else:
            m = self._new_member(group, name, processing_time, max_poll_records, 300000)
        self.members.append(m)

    def op_stop(self, mi: int):
        self.members[mi].stop()

    def op_crash_member(self, mi: int):
        self.sim.crash(self.members[mi])

    def op_restart_member(self, mi: int):
        self.sim.restart(self.members[mi])

    # consumers driven from cells
    def op_cell(self, group: str):
        i = len(self.cells)
        name = f"C{i + 1}"
        cfg = self._member_config(group, CELL_POLL_MS)
        cfg.update(
            {"group.id": group, "client.id": name, "enable.auto.commit": GROUPS[group][0] == "auto"}
        )
        c = self.sim.consumer(cfg)
        self.poll_interval[name] = CELL_POLL_MS / 1000.0
        self.pending.append({})
        pending = self.pending[i]

        def forget(consumer, parts):  # a new assignment starts from the group's committed offsets
            for tp in parts:
                pending.pop((tp.topic, tp.partition), None)

        # Revoked and lost partitions stay pending: committing them later must be refused whole.
        c.subscribe(
            list(GROUPS[group][1]),
            on_assign=forget,
            on_revoke=lambda consumer, parts: None,
            on_lost=lambda consumer, parts: None,
        )
        self.cells.append(c)
        self.cell_group.append(group)

    def op_consume(self, ci: int, n: int, timeout: float, mode: str):
        c, group = self.cells[ci], self.cell_group[ci]
        if mode == "late":  # commit the previous batch just before the next poll
            self.op_commit(ci)
        msgs = c.consume(n, timeout)
        self.last_consume[ci] = self.sim.now
        recs = [m for m in msgs if m.error() is None]
        last = {}
        for m in recs:
            tp = (m.topic(), m.partition())
            if tp in last:  # invariant 2: contiguous within one poll
                assert m.offset() == last[tp] + 1, f"{tp}: {m.offset()} after {last[tp]}"
            last[tp] = m.offset()
        for (topic, part), off in last.items():  # invariant 5: position = last returned offset + 1
            pos = c.position([TopicPartition(topic, part)])[0].offset
            assert pos == off + 1, (
                f"{c.member_id} {topic}-{part}: position {pos} after returning {off}"
            )
        ledger = self.processed[group]
        for m in recs:  # a cell processes what it polled at once
            ledger[(m.topic(), m.partition(), m.offset())] += 1
        pending = self.pending[ci]
        pending.update({tp: off + 1 for tp, off in last.items()})
        if not recs:
            return
        policy = GROUPS[group][0]
        if policy == "before" or mode == "sync":
            done = c.commit(asynchronous=False)  # it just polled and owns what it got: must succeed
            for tp in done:
                if pending.get((tp.topic, tp.partition)) == tp.offset:
                    del pending[(tp.topic, tp.partition)]
        elif policy == "after" and mode == "async":
            c.commit(asynchronous=True)
        elif policy == "after" and mode == "message":
            m = recs[-1]
            c.commit(message=m, asynchronous=False)
            pending.pop((m.topic(), m.partition()), None)

    def op_commit(self, ci: int):
        """Commit what the cell processed, explicitly; refused whole unless it owns every partition now."""
        c, group, pending = self.cells[ci], self.cell_group[ci], self.pending[ci]
        if not pending:
            return
        grp = self.sim.groups[group]
        before = dict(grp.committed)
        mid = c.member_id
        owns_all = mid in grp.members and all(grp.owner.get(tp) == mid for tp in pending)
        offsets = [TopicPartition(t, p, o) for (t, p), o in sorted(pending.items())]
        try:
            c.commit(offsets=offsets, asynchronous=False)
            ok = True
        except KafkaException:
            ok = False
        assert ok == owns_all, (
            f"commit by {mid} of {sorted(pending.items())}: ok={ok}, owns all={owns_all}"
        )
        if ok:
            assert all(grp.committed[tp] == o for tp, o in pending.items())
        else:  # invariant 10: a refused commit leaves the committed offsets unchanged
            assert grp.committed == before
        pending.clear()

    def op_close(self, ci: int):
        self.cells[ci].close()
        self.closed.add(ci)

    def op_crash_cell(self, ci: int):
        self.sim.crash(self.cells[ci])

    def op_restart_cell(self, ci: int):
        self.sim.restart(self.cells[ci])
        self.pending[ci].clear()  # the application's memory went with the crash

    # the end
    def op_drain(self):
        """Flush, stop everyone, start one fresh member per group and run until every group caught up."""
        sim = self.sim
        for p in self.producers:
            assert p.flush() == 0
        for m in self.members:
            m.stop()
        for i, c in enumerate(self.cells):
            if not c.crashed and i not in self.closed:
                self.op_close(i)
        for g in GROUPS:
            self.drainers[g] = self._new_member(g, f"D{g}", 0.001, 500, 300000)
        for _ in range(150):
            sim.run(until=sim.now + 2.0)
            if self.drained():
                break
        sim.run(until=sim.now + 3.0)  # gb processes after committing; gc's auto-commit catches up

    def drained(self) -> bool:
        for g, d in self.drainers.items():
            grp = self.sim.groups[g]
            for topic in GROUPS[g][1]:
                for log in self.sim.topic(topic).partitions:
                    tp = (topic, log.index)
                    if d.member_id is None or grp.owner.get(tp) != d.member_id:
                        return False
                    if d.consumer.position([TopicPartition(*tp)])[0].offset != log.log_end_offset:
                        return False
                    if (
                        grp.committed.get(tp) != log.log_end_offset
                        and log.log_start_offset != log.log_end_offset
                    ):
                        return False
        return True

    def consumers(self):
        """(client name, group, consumer) for every consumer the world made."""
        for m in self.members + list(self.drainers.values()):
            yield m.name, m.group_id, m.consumer
        for i, c in enumerate(self.cells):
            yield f"C{i + 1}", self.cell_group[i], c


# -- the checker: journal replay against public state ------------------------------------------


class Checker:
    """Replays the journal incrementally and holds it to the invariants after each step."""

    def __init__(self, world: World):
        self.w = world
        self.sim = world.sim
        self.cursor = 0
        self.start = defaultdict(int)  # (topic, partition) -> log start, from 'expired' rows
        self.end = defaultdict(int)  # (topic, partition) -> log end, from 'appended' rows
        self.snap: dict = {}  # (topic, partition, offset) -> Record, as first seen
        self.snap_end = defaultdict(int)
        self.members = {g: set() for g in GROUPS}
        self.assign = {g: {} for g in GROUPS}
        self.owner = {g: {} for g in GROUPS}
        self.committed = {g: {} for g in GROUPS}
        self.departing: set = set()
        self.removed: set = set()
        self.revoked_pending = {g: defaultdict(set) for g in GROUPS}
        self.revoked_round = {g: {} for g in GROUPS}
        self.expected: dict = {}  # (group, member id, tp) -> next offset the member must deliver
        self.floor: dict = {}  # (group, member id, tp) -> log start when the position was set
        self.delivered = {g: defaultdict(set) for g in GROUPS}
        self.last_delivery: dict = {}  # member id -> time of its last delivery
        self.crashes: list = []  # (client name, journal seq)
        self.batches = defaultdict(
            list
        )  # client name -> [(seq, time, topic, partition, first, count)]

    # after every step
    def step(self):
        self._snapshot()
        rows = self.sim.journal[self.cursor :]
        self.cursor += len(rows)
        for r in rows:
            self._row(r)
        self._compare()

    def _snapshot(self):
        for name, topic in self.sim.broker.topics.items():
            for log in topic.partitions:
                tp = (name, log.index)
                lo = max(self.snap_end[tp], log.log_start_offset)
                for rec in log.records(lo, log.log_end_offset):
                    self.snap[(name, log.index, rec.offset)] = rec
                self.snap_end[tp] = log.log_end_offset

    def _row(self, r):
        kind = r.kind
        tp = (r.topic, r.partition)
        if kind == "appended":  # invariant 1: each batch takes the next offsets, never reused
            assert r.count > 0 and r.offset == self.end[tp], f"{r}: log end was {self.end[tp]}"
            self.end[tp] += r.count
            return
        if kind == "expired":  # invariant 11
            assert (
                r.count > 0 and r.offset == self.start[tp] and r.offset + r.count <= self.end[tp]
            ), r
            self._check_expiry(r)
            self.start[tp] += r.count
            return
        if kind == "crashed":
            self.crashes.append((name_of(r.actor), r.seq))
            return
        g = r.group
        if g not in GROUPS:
            return
        m = r.actor
        coop = self.w.strategies[g] == "cooperative-sticky"
        kip848 = self.w.strategies[g] == "consumer"
        if kind == "joined":
            assert m not in self.members[g] and m not in self.removed, r
            self.members[g].add(m)
            self.assign[g][m] = set()
        elif kind in ("left", "evicted", "session_expired"):
            assert m in self.members[g], r
            self.members[g].discard(m)
            self.removed.add(m)
            if (
                kind == "evicted"
            ):  # invariant 10: only a member idle for max.poll.interval.ms is evicted
                idle_since = self.last_delivery.get(m, -1.0)
                assert r.time - idle_since >= self.w.poll_interval[name_of(m)] - EPS, (
                    r,
                    idle_since,
                )
            if self.assign[g][m]:
                self.departing.add(m)
            else:
                del self.assign[g][m]
        elif kind == "revoked":
            parts = set(r.data)
            held = self.assign[g][m]
            assert len(parts) == r.count and parts <= held, (r, held)
            if kip848 and m not in self.departing:
                pass  # KIP-848 revokes what moves, one heartbeat at a time
            elif m in self.departing or not coop:  # invariant 9: eager gives up everything
                assert parts == held, (
                    f"eager revoke of {sorted(parts)} from {m} holding {sorted(held)}"
                )
            else:
                self.revoked_pending[g][m] |= parts
            for x in parts:
                assert self.owner[g].pop(x) == m
                self.expected.pop((g, m, x), None)
            held -= parts
            if m in self.departing:
                self.departing.discard(m)
                del self.assign[g][m]
        elif kind == "rebalanced":
            if "revoke round" in r.detail or kip848:  # a KIP-848 epoch hands out nothing by itself
                return
            if not coop:  # invariant 9: an eager hand-out starts from nothing
                assert not any(self.assign[g].values()), (
                    f"eager rebalance while {self.assign[g]} still held"
                )
            self.revoked_round[g] = self.revoked_pending[g]
            self.revoked_pending[g] = defaultdict(set)
        elif kind == "assigned":
            parts = set(r.data)
            assert m in self.members[g] and len(parts) == r.count, r
            if coop:  # invariant 9: cooperative never takes away a partition it gives straight back
                back = parts & self.revoked_round[g].get(m, set())
                assert not back, (
                    f"{m} was revoked {sorted(back)} and got them back in the same rebalance"
                )
            for x in parts:
                assert x not in self.owner[g], (
                    f"{x} given to {m} while {self.owner[g].get(x)} owns it"
                )
                self.owner[g][x] = m
                self.expected[(g, m, x)] = self.committed[g].get(
                    x
                )  # invariant 6: start at the committed offset
                self.floor[(g, m, x)] = self.start[x]
            self.assign[g][m] |= parts
        elif kind == "offset_reset":
            key = (g, m, tp)
            assert key in self.expected, r
            assert r.offset >= 0
            self.expected[key] = r.offset
            self.floor[key] = self.start[tp]
        elif kind == "delivered":
            key = (g, m, tp)
            assert self.owner[g].get(tp) == m and key in self.expected, (
                f"{r}: owner {self.owner[g].get(tp)}"
            )
            want = self.expected[key]
            # invariants 2, 5 and 6: contiguous from where the assignment (or reset) put the position
            assert want is not None and r.offset == want, f"{r}: expected offset {want}"
            # The client fetches ahead (librdkafka's local queue) and hands out what it fetched even
            # if retention has since removed it, as a real client does; fetching starts only after
            # the position is set and the log start never moves back, so the bound is the log start
            # when the assignment (or reset) set the position.
            assert self.floor[key] <= r.offset and r.offset + r.count <= self.end[tp], r
            self.expected[key] = r.offset + r.count
            self.delivered[g][tp].update(range(r.offset, r.offset + r.count))
            self.last_delivery[m] = r.time
            self.batches[name_of(m)].append(
                (r.seq, r.time, r.topic, r.partition, r.offset, r.count)
            )
        elif kind == "committed":
            # only the current owner moves a committed offset, never past the log end (invariant 12)
            assert self.owner[g].get(tp) == m and m not in self.removed, (
                f"{r}: owner {self.owner[g].get(tp)}"
            )
            assert r.offset <= self.end[tp], r
            self.committed[g][tp] = r.offset

    def _check_expiry(self, r):
        """Invariant 11: every removed record was strictly past retention.ms, or the log after it held retention.bytes."""
        cfg = self.sim.topic(r.topic).config
        ms, max_bytes = cfg["retention.ms"], cfg["retention.bytes"]
        end = self.end[(r.topic, r.partition)]
        for off in range(r.offset, r.offset + r.count):
            rec = self.snap.get((r.topic, r.partition, off))
            if rec is None:
                continue  # appended and expired within one step: never seen
            if ms >= 0 and r.time - rec.timestamp > ms / 1000.0 + EPS:  # strictly older, as Kafka
                continue
            later = [self.snap.get((r.topic, r.partition, o)) for o in range(off + 1, end)]
            if any(x is None for x in later):
                continue
            size = sum(len(x.key or b"") + len(x.value or b"") for x in later)
            assert max_bytes >= 0 and size >= max_bytes, (
                f"{r.topic}-{r.partition} offset {off} (t={rec.timestamp}) removed at {r.time}: "
                f"not past retention.ms={ms}, and only {size} bytes follow it (retention.bytes={max_bytes})"
            )

    def _compare(self):
        sim = self.sim
        for name, topic in sim.broker.topics.items():
            for log in topic.partitions:
                tp = (name, log.index)
                assert (
                    log.log_start_offset == self.start[tp] and log.log_end_offset == self.end[tp]
                ), tp
        for g, (_, topics) in GROUPS.items():
            grp = sim.groups.get(g)
            if grp is None:
                assert not self.members[g]
                continue
            assert set(grp.members) == self.members[g]
            assert {m: set(p) for m, p in grp.assignment.items()} == self.assign[g]
            assert grp.owner == self.owner[g]
            assert grp.committed == self.committed[g]  # commit_failed rows changed nothing
            for tp, off in grp.committed.items():  # invariant 12: lag never negative
                assert sim.topic(tp[0]).partitions[tp[1]].log_end_offset - off >= 0
            kip848 = self.w.strategies[g] == "consumer"
            # invariant 8: a stable group covers every partition, once (a classic group is stable
            # after every step; a KIP-848 group once every member reached its target)
            if grp.members and (not kip848 or grp.stable()):
                every = {(t, p) for t in topics for p in range(sim.topic(t).partition_count)}
                assert set(grp.owner) == every, (
                    f"{g}: owners cover {sorted(grp.owner)}, not {sorted(every)}"
                )
                if self.w.strategies[g] == "cooperative-sticky":
                    sizes = [len(p) for p in grp.assignment.values()]
                    assert max(sizes) - min(sizes) <= 1, grp.assignment
        now = sim.now
        for name, g, c in self.w.consumers():
            if c.crashed:
                continue
            try:
                mine = {(tp.topic, tp.partition) for tp in c.assignment()}
            except RuntimeError:  # closed
                continue
            grp = sim.groups.get(g)
            mid = c.member_id
            if grp is None or mid not in grp.members:
                assert not mine, f"{name} is not in {g} but thinks it owns {sorted(mine)}"
                continue
            assert mine == set(grp.assignment[mid]), f"{mid} thinks it owns {sorted(mine)}"
            for tp in mine:  # invariant 5: the position is the next offset to hand out
                want = self.expected.get((g, mid, tp))
                if want is not None:
                    assert c.position([TopicPartition(*tp)])[0].offset == want, (mid, tp, want)
            # invariant 10: a member that has not polled for max.poll.interval.ms is no longer a member
            assert now - c._last_poll <= self.w.poll_interval[name] + EPS, (mid, now, c._last_poll)
        for i, c in enumerate(self.w.cells):  # the same, from the test's own record of its polls
            if not c.crashed and i not in self.w.closed and i in self.w.last_consume:
                if now - self.w.last_consume[i] > CELL_POLL_MS / 1000.0 + EPS:
                    assert c.member_id not in sim.groups[self.w.cell_group[i]].members

    # at the end, after the drain
    def final(self):
        w, sim = self.w, self.sim
        retained = {}
        for name, topic in sim.broker.topics.items():
            for log in topic.partitions:
                tp = (name, log.index)
                retained[tp] = range(log.log_start_offset, log.log_end_offset)
                for rec in log.records():  # invariant 1: no offset ever changed its record
                    assert self.snap[(name, log.index, rec.offset)] == rec
        for g, (policy, topics) in GROUPS.items():
            ledger = w.processed[g]
            for t in topics:
                for p in range(sim.topic(t).partition_count):
                    tp = (t, p)
                    missing = [o for o in retained[tp] if o not in self.delivered[g][tp]]
                    assert not missing, f"invariant 3: {g} never polled {t}-{p} offsets {missing}"
                    if policy == "after":  # invariant 7: processed covers what is retained
                        lost = [o for o in retained[tp] if ledger[(t, p, o)] == 0]
                        assert not lost, (
                            f"invariant 7: {g} (process, then commit) never processed {t}-{p} {lost}"
                        )
                    if len(retained[tp]):  # invariant 12 after the drain: caught up, lag 0
                        assert (
                            sim.groups[g].committed.get(tp)
                            == sim.topic(t).partitions[p].log_end_offset
                        )
            if policy == "before":
                twice = {k: n for k, n in ledger.items() if n > 1}
                assert not twice, (
                    f"invariant 7: {g} (commit, then process) processed {twice} more than once"
                )
                windows = self._crash_windows(g)
                for t in topics:
                    for p in range(sim.topic(t).partition_count):
                        lost = {(t, p, o) for o in retained[(t, p)] if ledger[(t, p, o)] == 0}
                        assert lost <= windows, (
                            f"invariant 7: {g} lost {sorted(lost - windows)} outside any crash"
                        )
        frame = sim.offsets()  # invariant 12 through the public table
        for row in frame.itertuples():
            if row.group and not pd.isna(row.committed):
                assert row.lag == row.log_end - row.committed and row.lag >= 0, row
        self._producers()

    def _crash_windows(self, group: str) -> set:
        """Records in the last batch a member of ``group`` polled before each of its crashes."""
        out = set()
        for name, at in self.crashes:
            if w_group(self.w, name) != group:
                continue
            batches = [
                b for b in self.batches.get(name, ()) if b[0] < at
            ]  # a restart may deliver at the same instant
            if batches:
                last = batches[-1][1]
                for _, time, t, p, first, count in batches:
                    if time == last:
                        out.update((t, p, o) for o in range(first, first + count))
        return out

    def _producers(self):
        """Invariant 4: lost acks add no duplicates with idempotence; otherwise one per retried append."""
        rows = self.sim.journal.rows()
        for p in self.w.producers:
            appended = sum(r.count for r in rows if r.kind == "appended" and r.detail == p.name)
            retried = sum(r.count for r in rows if r.kind == "retried" and r.actor == p.name)
            dropped = sum(
                r.count
                for r in rows
                if r.kind == "duplicate_dropped" and r.detail.startswith(p.name + " ")
            )
            if p.idempotent:
                assert appended == self.w.sent[p.name] and dropped == retried, (
                    p.name,
                    appended,
                    retried,
                    dropped,
                )
            else:
                assert appended == self.w.sent[p.name] + retried and dropped == 0, (
                    p.name,
                    appended,
                    retried,
                )
            assert p.acked_total == self.w.sent[p.name] and p.in_flight == 0
        copies = Counter(rec.value for rec in self.snap.values())
        for ok, topic, part, offset, value in self.w.reports:
            assert ok and offset >= 0, f"delivery report for {value!r}: ok={ok}, offset={offset}"
            rec = self.snap.get((topic, part, offset))
            assert rec is None or rec.value == value, (
                f"acked {value!r} at {topic}-{part}@{offset} holds {rec}"
            )
            producer = value.split(b":")[0].decode()
            if next(p for p in self.w.producers if p.name == producer).idempotent:
                assert copies[value] <= 1, (
                    f"{value!r} appended {copies[value]} times by an idempotent producer"
                )


def w_group(world: World, name: str) -> str | None:
    if name in world.member_group:
        return world.member_group[name]
    if name.startswith("C"):
        return world.cell_group[int(name[1:]) - 1]
    return None


# -- the state machine ------------------------------------------------------------------------

pick = st.integers(0, 63)
keys_st = st.lists(st.one_of(st.none(), st.sampled_from(KEYS)), min_size=1, max_size=12)
FAULTS = (
    "lose_acks",
    "crash_member",
    "restart_member",
    "stop_member",
    "crash_cell",
    "restart_cell",
    "close_cell",
    "add_partitions",
    "retention",
    "retention",
)


class BrokerMachine(RuleBasedStateMachine):
    """Random schedules against one simulation, checked after every step and at the end."""

    def __init__(self):
        super().__init__()
        self.world = None
        self.ops: list = []
        self.busy = False

    def do(self, op):
        self.busy = True  # stays set if the operation raises: the teardown then checks nothing more
        self.ops.append(op)
        self.world.apply(op)
        self.busy = False

    @initialize(
        seed=st.integers(0, 3),
        ga=st.sampled_from(["range", "roundrobin", "consumer"]),
        gc=st.sampled_from(["range", "roundrobin", "cooperative-sticky", "consumer"]),
        idempotent=st.booleans(),
        first=st.sampled_from(sorted(TOPICS)),
        keys=keys_st,
        cell=st.sampled_from(sorted(GROUPS)),
    )
    def setup(self, seed, ga, gc, idempotent, first, keys, cell):
        self.strategies = {"ga": ga, "gb": "cooperative-sticky", "gc": gc}
        self.world = World(seed, self.strategies)
        self.checker = Checker(self.world)
        self.do(("producer", idempotent))
        for g in sorted(GROUPS):
            self.do(("member", g, False, 0.01, 3))
        self.do(("cell", cell))
        self.do(("produce", 0, first, tuple(keys)))

    # producers
    @precondition(lambda self: len(self.world.producers) < 3)
    @rule(idempotent=st.booleans())
    def new_producer(self, idempotent):
        self.do(("producer", idempotent))

    @rule(i=pick, topic=st.sampled_from(sorted(TOPICS)), keys=keys_st, flush=st.booleans())
    def produce(self, i, topic, keys, flush):
        pi = i % len(self.world.producers)
        self.do(("produce", pi, topic, tuple(keys)))
        if flush:
            self.do(("flush", pi))

    # the clock
    @rule(dt=st.sampled_from([0.05, 0.3, 1.0, 2.5, 5.5, 25.0]), retention=st.booleans())
    def advance(self, dt, retention):
        self.do(("advance", dt, retention))

    # joins
    @precondition(lambda self: len(self.world.members) < 9)
    @rule(
        group=st.sampled_from(sorted(GROUPS)),
        stall=st.sampled_from([False, False, True]),
        processing_time=st.sampled_from([0.001, 0.01, 0.05]),
        max_poll_records=st.sampled_from([1, 3, 10, 500]),
    )
    def new_member(self, group, stall, processing_time, max_poll_records):
        self.do(("member", group, stall, processing_time, max_poll_records))

    @precondition(lambda self: len(self.world.cells) < 4)
    @rule(group=st.sampled_from(sorted(GROUPS)))
    def new_cell(self, group):
        self.do(("cell", group))

    # polls from cells
    def _cells(self):
        return [
            i
            for i, c in enumerate(self.world.cells)
            if not c.crashed and i not in self.world.closed
        ]

    @precondition(lambda self: self._cells())
    @rule(
        i=pick,
        n=st.sampled_from([1, 4, 50]),
        timeout=st.sampled_from([0, 0.2, 1.0]),
        mode=st.sampled_from(["none", "sync", "async", "message", "late"]),
    )
    def consume(self, i, n, timeout, mode):
        live = self._cells()
        self.do(("consume", live[i % len(live)], n, timeout, mode))

    @precondition(lambda self: self._cells())
    @rule(i=pick)
    def commit(self, i):
        live = self._cells()
        self.do(("commit", live[i % len(live)]))

    # faults, leaves and the broker's own work; a fault with no target now does nothing
    @rule(
        kind=st.sampled_from(FAULTS),
        i=pick,
        n=st.integers(1, 2),
        topic=st.sampled_from(["t", "rt"]),
    )
    def fault(self, kind, i, n, topic):
        w = self.world

        def one(candidates):
            return candidates[i % len(candidates)] if candidates else None

        if kind == "lose_acks":
            self.do(("lose_acks", i % len(w.producers), n))
        elif kind in ("crash_member", "stop_member"):
            m = one([j for j, m in enumerate(w.members) if m.alive])
            if m is not None:
                self.do((kind if kind == "crash_member" else "stop", m))
        elif kind == "restart_member":
            m = one([j for j, m in enumerate(w.members) if m.consumer.crashed and not m.alive])
            if m is not None:
                self.do(("restart_member", m))
        elif kind in ("crash_cell", "close_cell"):
            c = one(self._cells())
            if c is not None:
                self.do(({"close_cell": "close"}.get(kind, kind), c))
        elif kind == "restart_cell":
            c = one([j for j, c in enumerate(w.cells) if c.crashed])
            if c is not None:
                self.do(("restart_cell", c))
        elif kind == "add_partitions":
            if w.sim.topic(topic).partition_count < MAX_PARTITIONS:
                self.do(("add_partitions", topic))
        else:
            self.do(("retention",))

    # checks
    @invariant()
    def holds_after_every_step(self):
        if self.world is not None and not self.busy:
            self.busy = True
            self.checker.step()
            self.busy = False

    def teardown(self):
        if self.world is None or self.busy:
            return  # a step already failed; let hypothesis report that
        self.do(("drain",))
        self.checker.step()
        self.checker.final()
        # invariant 15: the same seed and the same operations give a byte-identical journal
        again = World(self.world.seed, self.strategies)
        for op in self.ops:
            again.apply(op)
        assert again.sim.journal.digest() == self.world.sim.journal.digest()


TestBrokerPromises = BrokerMachine.TestCase
TestBrokerPromises.settings = PROFILE


# -- invariant 7, exactly: the crash window ----------------------------------------------------


@PROFILE
@given(
    policy=st.sampled_from(["after", "before"]),
    strategy=st.sampled_from(["range", "cooperative-sticky"]),
    records=st.integers(1, 30),
    batch=st.integers(1, 8),
    per_record=st.sampled_from([0.05, 0.1, 0.13]),
    partitions=st.integers(1, 3),
    crash_at=st.integers(0, 300).map(lambda x: x / 100),
    restart_after=st.sampled_from([0.0, 0.3, 0.6, 2.0]),
)
def test_a_crash_duplicates_or_loses_exactly_the_window_since_the_last_commit(
    policy, strategy, records, batch, per_record, partitions, crash_at, restart_after
):
    # Rebalances are instantaneous: under an eager assignor, the crashed member's session expiring while
    # its restarted self is mid-batch would revoke that batch too and add duplicates of its own. So an
    # eager group restarts after session.timeout.ms; a cooperative one keeps the restarted member's
    # partitions and may restart at once.
    assume(strategy == "cooperative-sticky" or restart_after > 0.5)
    # a 0.5 s session, under Kafka's 6 s minimum: the broker's limit comes down with it
    sim = Simulation(seed=3, name="window", broker_config={"group.min.session.timeout.ms": 500})
    sim.create_topic("jobs", partitions=partitions)
    producer = sim.producer()
    for i in range(records):
        producer.produce("jobs", key=f"k{i}", value=str(i))
    producer.flush()
    done = Counter()
    worker = sim.member(
        "g",
        ["jobs"],
        name="w",
        processing_time=per_record,
        commit=policy,
        max_poll_records=batch,
        on_record=lambda m: done.update([(m.partition(), m.offset())]),
        config={
            "auto.offset.reset": "earliest",
            "session.timeout.ms": 500,
            "partition.assignment.strategy": strategy,
        },
    )
    sim.run(until=sim.now + crash_at)
    sim.crash(worker)
    assert worker.consumer.crashed  # a crash from a cell takes effect at once
    committed = dict(sim.group("g").committed)
    processed = Counter(done)
    polls = sim.journal.rows("delivered")
    delivered = {(r.partition, o) for r in polls for o in range(r.offset, r.offset + r.count)}
    if polls:  # the crash counts as processed exactly the records whose processing time had passed
        last = polls[-1].time
        in_last = sum(r.count for r in polls if r.time == last)
        before_last = sum(r.count for r in polls if r.time != last)
        elapsed = sim.now - last
        lo, hi = (min(in_last, int((elapsed + d) / per_record)) for d in (-1e-6, 1e-6))
        assert lo <= sum(processed.values()) - before_last <= hi
    sim.restart(worker, at=sim.now + restart_after)
    sim.run(until=sim.now + restart_after + 1.0 + 2 * records * per_record)
    everything = {
        (r.partition, r.offset) for log in sim.topic("jobs").partitions for r in log.records()
    }
    twice = {k for k, n in done.items() if n > 1}
    lost = everything - set(done)
    assert max(done.values(), default=1) <= 2
    if policy == "after":
        window = {(p, o) for (p, o) in processed if o >= committed.get(("jobs", p), 0)}
        assert twice == window and not lost
    else:
        window = {(p, o) for (p, o) in delivered if o < committed.get(("jobs", p), 0)} - set(
            processed
        )
        assert lost == window and not twice


# -- invariant 15 across seeds ------------------------------------------------------------------

SCHEDULE = [
    ("producer", False),
    ("member", "ga", False, 0.01, 3),
    ("member", "gb", False, 0.01, 10),
    ("cell", "gc"),
    ("produce", 0, "t", (None, None, None, "a")),
    ("advance", 0.3),
    ("consume", 0, 4, 1.0, "none"),
    ("produce", 0, "rt", (None,) * 5),
    ("lose_acks", 0, 1),
    ("flush", 0),
    ("crash_member", 0),
    ("advance", 2.5),
    ("restart_member", 0),
    ("produce", 0, "t", (None,) * 6),
    ("advance", 1.0),
    ("drain",),
]


def run_schedule(seed: int) -> World:
    world = World(seed, {"ga": "range", "gb": "cooperative-sticky", "gc": "roundrobin"})
    for op in SCHEDULE:
        world.apply(op)
    return world


def test_the_same_schedule_and_seed_give_a_byte_identical_journal():
    assert run_schedule(3).sim.journal.digest() == run_schedule(3).sim.journal.digest()


def test_the_journal_does_not_depend_on_the_process_or_its_hash_seed():
    # str/bytes hashes are salted per process: nothing salted may reach the journal
    code = (
        "import sys; sys.path.insert(0, sys.argv[1]); import test_properties as t; "
        "print(t.run_schedule(3).sim.journal.digest())"
    )
    here = run_schedule(3).sim.journal.digest()
    for hash_seed in ("1", "2"):
        out = subprocess.run(
            [sys.executable, "-c", code, os.path.dirname(__file__)],
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONHASHSEED": hash_seed},
            check=True,
        )
        assert out.stdout.strip() == here


def test_another_seed_sends_unkeyed_records_elsewhere_and_the_journal_differs():
    a, b = run_schedule(3), run_schedule(4)
    assert a.sim.journal.digest() != b.sim.journal.digest()
    partitions = [
        [r.partition for r in w.sim.journal.rows("appended") if r.topic == "t"] for w in (a, b)
    ]
    assert partitions[0] != partitions[1]
