"""A stream-processing application: named steps, a windowed aggregation with state, restore.

Shaped like the libraries a learner meets next (Kafka Streams' words; the
step-by-step shape of quix-streams' ``StreamingDataFrame`` and bytewax's
dataflows, where every step has a name)::

    app = StreamApp(sim, "velocity", source="transactions", instances=2, standby_replicas=0)
    app.join("profile", profiles, on="card")                  # stream-table join (a Table)
    app.apply("amount", lambda v: v if v["amount"] > 0 else None)   # None filters a record out
    app.window("per_card", HoppingWindows(60, 10), lateness=5, grace=10, emit="final",
               by="card", output="card-velocity")

Each record of ``source`` is decoded (an event written by a Source or a
service), passed through the steps in order as a dict (the event's payload),
and counted (or summed) in its windows on *event time* (the event's ``time``).
Results go to ``output`` as JSON ``{"key", "start", "end", "value", "final"}``;
records whose windows closed go to the side topic ``<app>.late`` with the reason
in the header ``late-reason`` and a journal row of kind ``late`` (never dropped
in silence). A record that missed only some of its hopping windows (the
earliest closed, later ones still open) is counted in the open ones and also
reported there, naming the windows it missed (Kafka Streams drops it from
those windows and counts it in a metric).

State: the windows of each input partition live in a
:class:`~eda_sim.services.state.ChangelogStore` whose changelog is the compacted topic
``<app>-<step>-changelog``. An instance that gets a partition (at start, after
another crashed, or when a rebalance moves it) restores the store from the
changelog before processing, ``restore_time`` virtual seconds per record read;
a ``restored`` journal row shows how many records and how long. With
``standby_replicas=1`` another instance keeps a copy warm, and a takeover
restores almost nothing.

Delivery: at-least-once, as Kafka Streams' default. Every ``commit_interval``
seconds (Kafka Streams: ``commit.interval.ms``, 30 s) an instance writes each
partition's stream time to the changelog, flushes its producer and commits its
offsets; it also commits before a rebalance takes partitions away. After a crash
(which loses what its producer had queued) the records since the last commit
are processed again. Those whose changes reached the changelog count twice: the
app counts each such record in ``duplicates`` (every changelog record carries
the input offset it came from). ``dedupe=True`` skips them instead, which is
what exactly-once processing gives (Kafka Streams does it with transactions:
the changelog writes, the output and the offsets commit together).

Each instance has one task per input partition, as Kafka Streams does, and
one producer per run of its process. Simplifications: stores are in memory (no
local checkpoint), a standby copy is kept without cost, the commit inside the
revoke callback does not wait for the producer's flush, and there is no record
cache: every change is written to the changelog.
"""

from __future__ import annotations

import json

import simpy

from eda_sim.core.checks import at_least
from eda_sim.core.errors import KafkaException
from eda_sim.services.events import Event
from eda_sim.services.members import Member
from eda_sim.services.state import ChangelogStore, changelog_topic, restore
from eda_sim.services.windows import WindowedAggregate

H_LATE_REASON = "late-reason"
_CLOCK_KEY = "\x00max-event-time"  # the store key that keeps the partition's largest event time


class StreamApp:
    """A stream-processing application: a consumer group of instances running named steps."""

    def __init__(
        self,
        sim,
        name: str,
        *,
        source: str,
        instances: int = 1,
        standby_replicas: int = 0,
        processing_time: float = 0.001,
        restore_time: float = 0.001,
        commit_interval: float = 30.0,
        dedupe: bool = False,
        max_poll_records: int = 100,
        keep_timeline: bool = True,
    ):
        if not isinstance(name, str) or not name:
            raise ValueError(f"a stream app needs a non-empty name, got {name!r}")
        src = sim.topic(source)
        for what, value in (("instances", instances), ("standby_replicas", standby_replicas)):
            if (
                isinstance(value, bool)
                or not isinstance(value, int)
                or value < (what == "instances")
            ):
                raise ValueError(
                    f"{what} must be a whole number >= {int(what == 'instances')}, got {value!r}"
                )
        for what, value in (
            ("processing_time", processing_time),
            ("restore_time", restore_time),
            ("commit_interval", commit_interval),
        ):
            at_least(value, what, 0, "virtual seconds")
        self.sim = sim
        self.name = name
        self.source = source
        self.partitions = src.partition_count
        self.standby_replicas = standby_replicas
        self.processing_time = float(processing_time)
        self.restore_time = float(restore_time)
        self.commit_interval = float(commit_interval)
        self.dedupe = bool(dedupe)
        self.steps: list = []  # (name, kind, function or table, option)
        self.window_step = None
        self.late_topic = f"{name}.late"
        self.duplicates = 0
        self.joins: list = []  # (event id, key, joined value, event time, table)
        self.restores: list = []  # (time, instance, partition, records read, seconds)
        self.trace: list = []  # (processing time, partition, key, event time, watermark, late)
        self.keep_timeline = bool(keep_timeline)  # off for long runs: a row per record adds up
        self.max_poll_records = max_poll_records
        self._n_instances = instances
        self.instances: list = []
        #: (instance name, partition) -> the changelog offset that instance's standby copy reached
        self.standby_offsets: dict = {}

    def __repr__(self) -> str:
        return f"<StreamApp {self.name}: steps {[s[0] for s in self.steps]}>"

    # -- the topology ------------------------------------------------------------------

    def _step_name(self, name: str) -> None:
        if not isinstance(name, str) or not name:
            raise ValueError(f"a step needs a non-empty name, got {name!r}")
        if any(s[0] == name for s in self.steps) or (
            self.window_step and self.window_step[0] == name
        ):
            raise ValueError(f"{self.name} already has a step called {name!r}")
        if self.window_step is not None:
            raise ValueError(
                f"{self.name}: the window step is the last one; add {name!r} before it"
            )

    def apply(self, name: str, fn) -> StreamApp:
        """A step that maps a record's value (a dict) to a new one; ``None`` filters it out."""
        self._step_name(name)
        if not callable(fn):
            raise TypeError(f"step {name!r} needs a function of the record's value")
        self.steps.append((name, "apply", fn, None))
        return self

    def join(self, name: str, table, on: str) -> StreamApp:
        """A stream-table join: put ``table.get(value[on])`` into ``value[name]`` (None if missing)."""
        self._step_name(name)
        if not hasattr(table, "get") or not hasattr(table, "value_at"):
            raise TypeError(f"step {name!r} joins a Table (eda_sim.services.tables.Table)")
        self.steps.append((name, "join", table, on))
        return self

    def window(
        self,
        name: str,
        windows,
        *,
        lateness: float = 0.0,
        grace: float = 0.0,
        emit: str = "final",
        by: str | None = None,
        aggregate: str = "count",
        field: str | None = None,
        output: str | None = None,
    ) -> StreamApp:
        """The stateful last step: aggregate per key (``by`` names a field; default the record key)
        in ``windows`` on event time; results to ``output``; start the instances."""
        self._step_name(name)
        WindowedAggregate(windows, lateness=lateness, grace=grace, emit=emit, aggregate=aggregate)
        if aggregate == "sum" and not field:
            raise ValueError("aggregate='sum' needs field= naming the number to add up")
        if output is not None:
            self.sim.topic(output)
        settings = dict(lateness=lateness, grace=grace, emit=emit, aggregate=aggregate)
        self.window_step = (name, windows, settings, by, field, output)
        self.changelog = changelog_topic(self.name, name)
        if self.changelog not in self.sim.broker.topics:
            self.sim.create_topic(
                self.changelog,
                self.partitions,
                config={"cleanup.policy": "compact", "segment.ms": 60000},
            )
        if self.late_topic not in self.sim.broker.topics:
            self.sim.create_topic(self.late_topic, self.partitions)
        for _ in range(self._n_instances):
            self.add_instance()
        return self

    def add_instance(self) -> StreamInstance:
        """Start one more instance (a rebalance moves partitions to it, which restore there)."""
        if self.window_step is None:
            raise ValueError(f"{self.name}: add the window step first")
        inst = StreamInstance(self, f"{self.name}-{len(self.instances) + 1}")
        self.instances.append(inst)
        return inst

    # -- reading the results -----------------------------------------------------------

    def state(self) -> dict:
        """The windows held by every running instance now: ``{(key, start): [end, aggregate]}``."""
        out = {}
        for inst in self.instances:
            if inst.alive:
                for task in inst.tasks.values():
                    out.update(task.agg.windows)
        return dict(sorted(out.items()))

    def results(self, final_only: bool = True) -> dict:
        """What reached ``output``: ``{(key, start, end): value}``, the last one per window."""
        out_topic = self.window_step[5]
        got = {}
        for log in self.sim.topic(out_topic).partitions:
            for r in log.records():
                v = json.loads(r.value)
                if v["final"] or not final_only:
                    got[(v["key"], v["start"], v["end"])] = v["value"]
        return dict(sorted(got.items()))

    def late_records(self) -> list:
        """The records sent to the late topic: ``(key, event time, reason)`` in log order."""
        out = []
        for log in self.sim.topic(self.late_topic).partitions:
            for r in log.records():
                reason = dict(r.headers or ()).get(H_LATE_REASON, b"").decode()
                out.append(
                    (r.key.decode() if r.key else None, Event.from_json(r.value).time, reason)
                )
        return out

    def timeline(self):
        """Each record as the app handled it: processing time, partition, key, event time, the
        partition's watermark when it came, and whether it was late (a pandas DataFrame)."""
        import pandas as pd

        cols = ["processed_at", "partition", "key", "event_time", "watermark", "late"]
        return pd.DataFrame.from_records(self.trace, columns=cols)

    def stale_joins(self) -> list:
        """Joins that saw another value than the table's topic held at the record's event time:
        ``(event id, key, value joined, value at event time)``."""
        out = []
        for eid, key, got, time, table in self.joins:
            table.catch_up()
            want = table.value_at(key, time)
            if got != want:
                out.append((eid, key, got, want))
        return out

    # -- standby replicas --------------------------------------------------------------

    def follow_standbys(self) -> None:
        """Keep standby copies warm: live instances that do not own a partition follow up to
        ``standby_replicas`` partitions' stores (applied up to the changelog's end)."""
        if not self.standby_replicas:
            return
        live = sorted((i for i in self.instances if i.alive), key=lambda i: i.name)
        owners = {p: i.name for i in live for p in i.tasks}
        logs = self.sim.topic(self.changelog).partitions
        for p in range(self.partitions):
            hosts = [i for i in live if i.name != owners.get(p)][: self.standby_replicas]
            for inst in hosts:
                self.standby_offsets[(inst.name, p)] = logs[p].log_end_offset


class _Task:
    __slots__ = ("store", "agg", "clock")

    def __init__(self, store, agg):
        self.store = store
        self.agg = agg
        self.clock = agg.max_time  # the stream time last written to the changelog

    def flush_clock(self) -> None:
        """Write the partition's stream time to the changelog (at each commit, not per record)."""
        if self.agg.max_time != self.clock:
            self.clock = self.agg.max_time
            self.store.put(_CLOCK_KEY, self.clock, self.store.applied)


class StreamInstance(Member):
    """One instance of a :class:`StreamApp`: a group member with one task per assigned partition."""

    def __init__(self, app: StreamApp, name: str):
        self.app = app
        self.tasks: dict = {}
        self._runs = 0  # how many times the process started: names each run's producer
        super().__init__(
            app.sim,
            app.name,
            [app.source],
            name=name,
            processing_time=app.processing_time,
            commit="after",
            max_poll_records=app.max_poll_records,
            config={"auto.offset.reset": "earliest", "enable.auto.offset.store": False},
        )
        # Kafka Streams commits its tasks before giving partitions up in a rebalance.
        self.consumer.subscribe(self._topics, on_revoke=self._commit_revoked)

    def _commit_revoked(self, consumer, parts) -> None:
        # Called inside a poll, which cannot wait for the producer's flush as Kafka Streams does:
        # the changelog writes of the last few milliseconds may still be queued (a simplification).
        for tp in parts:
            if tp.partition in self.tasks:
                self.tasks[tp.partition].flush_clock()
        try:
            consumer.commit(asynchronous=False)  # the partitions are still assigned in the callback
        except KafkaException:
            pass  # nothing stored, or refused: the journal says which

    def _run(self):
        app = self.app
        sim = self.sim
        env = sim.env
        consumer = self.consumer
        self.tasks = {}  # in-memory state: a (re)started process begins with none
        self._runs += 1
        # Each run of the process has its own producer (changelog, results, late records); a crash
        # loses what it had queued, which is safe because a commit flushes it first.
        self.producer = sim.producer({"client.id": f"{self.name}-producer-{self._runs}"})
        for key in [k for k in app.standby_offsets if k[0] == self.name]:
            del app.standby_offsets[key]  # a standby copy in this process's memory is gone too
        last_commit = env.now
        try:
            while not self._stopping:
                msgs = yield from consumer.poll_in_process(self.max_poll_records, self.poll_timeout)
                yield from self._sync_tasks()
                app.follow_standbys()
                # hot path: per record, the message's fields and what store_offsets(m) does
                for m in msgs:
                    if m._error is not None:  # hot path
                        continue
                    tp = (m._topic, m._partition)  # hot path
                    task = self.tasks.get(tp[1])
                    if task is None or tp not in consumer._assignment:  # hot path
                        continue  # revoked since the poll: the new owner reads it again
                    if app.processing_time:
                        yield env.timeout(app.processing_time)
                    self._process_record(task, m)
                    consumer._stored[tp] = m._offset + 1  # hot path
                    self.processed_total += 1
                if env.now - last_commit >= app.commit_interval:
                    yield from self._commit_stored()
                    last_commit = env.now
            yield from self._commit_stored()
            consumer.close()
            self._process = None
        except simpy.Interrupt:
            self.sim.crash(self.producer)  # what it had queued dies with the process
            consumer.crash()
            self.tasks = {}
            self._process = None

    def _commit_stored(self):
        """Kafka Streams' commit: write the stream times, flush the producer (changelog, results),
        then commit the offsets, so no committed input lacks its state change."""
        for task in self.tasks.values():
            task.flush_clock()
        while self.producer.in_flight:
            yield self.sim.env.timeout(0.001)
        stored = self.consumer.stored_offsets
        if any(tp in stored for tp in self.consumer.owned_partitions):
            try:
                self.consumer.commit(asynchronous=False)
            except KafkaException:
                pass  # refused (evicted or partitions moved): the journal has a commit_failed row

    def _sync_tasks(self):
        """Create (restoring) tasks for newly assigned partitions; drop revoked ones."""
        app = self.app
        owned = {p for (t, p) in self.consumer.owned_partitions if t == app.source}
        for p in [p for p in self.tasks if p not in owned]:
            del self.tasks[p]
        for p in sorted(owned - set(self.tasks)):
            log = self.sim.topic(app.changelog).partitions[p]
            start = app.standby_offsets.get((self.name, p), 0)
            restored = restore(log, start)
            seconds = restored.records * app.restore_time
            if seconds:
                yield self.sim.env.timeout(seconds)
            name, windows, settings, *_ = app.window_step
            agg = WindowedAggregate(windows, **settings)
            store = ChangelogStore(self.producer, app.changelog, p)
            store.applied = restored.applied
            for key, value in restored.data.items():
                if key == _CLOCK_KEY:
                    agg.max_time = value  # as of the last commit
                else:
                    k, start_s = key.rsplit("@", 1)
                    agg.windows[(k, float(start_s))] = list(value)
            store.data = restored.data
            self.tasks[p] = _Task(store, agg)
            app.restores.append((self.sim.now, self.name, p, restored.records, seconds))
            self.sim.journal.write(
                "restored",
                self.name,
                app.name,
                app.changelog,
                p,
                0,
                restored.records,
                f"{seconds:g} s" + (" from a standby replica" if start else ""),
            )

    def _process_record(self, task: _Task, m) -> None:
        app = self.app
        store = task.store
        offset, rec = m._offset, m._rec  # hot path: per record, the fields without method calls
        try:
            event = Event.from_json(rec[2])
        except (ValueError, TypeError, UnicodeDecodeError):
            self._late(m, None, f"undecodable record at offset {offset}")
            return
        if offset <= store.applied:
            app.duplicates += 1  # its effect is already in the restored state
            if app.dedupe:
                # Skip it, but let it move the stream time as it did the first time: the windows it
                # closed then are closed (tombstoned) in the restored store already.
                if event.time > task.agg.max_time:
                    task.agg.max_time = event.time
                return
        value = event.payload.thaw()
        for name, kind, fn, opt in app.steps:
            if kind == "apply":
                value = fn(value)
                if value is None:
                    store.applied = max(store.applied, offset)
                    return
            else:
                k = str(value.get(opt))
                got = fn.get(k)
                value[name] = got
                app.joins.append((event.id, k, got, event.time, fn))
        _, _, _, by, field, output = app.window_step
        key = str(value.get(by)) if by else (event.key or "")
        agg = task.agg
        why = agg.is_late(event.time)
        wm = agg.watermark
        trace = [self.sim.now, m.partition(), key, event.time, wm, bool(why)]
        if app.keep_timeline:
            app.trace.append(trace)
        if why:
            agg.push(key, event.time)  # refused: it lands in agg.late, with the reason
            self._late(m, key, why)
            store.applied = max(store.applied, offset)
            return
        missed = len(agg.missed)
        emitted = agg.push(key, event.time, value.get(field, 0.0) if field else 1.0)
        if len(agg.missed) > missed:  # some of its (hopping) windows had closed: say so, per record
            gone = agg.missed[missed:]
            trace[5] = True
            self._late(
                m,
                key,
                f"event time {event.time:g} s missed {len(gone)} closed window(s) starting "
                f"{', '.join(f'{w.start:g}' for _, _, w in gone)} s (watermark {wm:g} s); "
                f"counted in {len(agg.changed)} still open",
            )
        # The changelog records every change: windows touched, windows closed or merged. The stream
        # time goes with each commit (records after it are read again and move it again) and with
        # every window it closes, so that a restore never reopens a window whose result went out.
        for k, start in agg.changed:
            slot = agg.windows.get((k, start))
            if slot is not None:
                store.put(f"{k}@{start!r}", slot, offset)
        for k, start in agg.removed:
            if (k, start) not in agg.windows:  # gone, not merged into a session under the same key
                store.put(f"{k}@{start!r}", None, offset)
        if agg.removed:
            task.flush_clock()
        for e in emitted:
            if output is not None:
                self.producer.produce(
                    output,
                    json.dumps(
                        {
                            "key": e.key,
                            "start": e.window.start,
                            "end": e.window.end,
                            "value": e.value,
                            "final": e.final,
                        },
                        sort_keys=True,
                    ).encode(),
                    e.key.encode(),
                )

    def _late(self, m, key, why: str) -> None:
        app = self.app
        self.producer.produce(
            app.late_topic,
            m.value(),
            m.key(),
            partition=m.partition(),
            headers=[(H_LATE_REASON, why.encode())],
        )
        self.sim.journal.write(
            "late", self.name, app.name, m.topic(), m.partition(), m.offset(), 1, why
        )
