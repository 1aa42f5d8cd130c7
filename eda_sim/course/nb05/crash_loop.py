"""A learner's poll-process-commit loop, run under a crash schedule (notebook 05's second exercise).

The learner writes ``run(consumer, topics, handle, running)`` with the
confluent-kafka-shaped :class:`~eda_sim.kafka.Consumer`: subscribe, poll,
hand each record to ``handle``, commit, stop when ``running()`` is False,
close. :func:`crash_schedule` runs it against a simulated broker the way an
operator's bad day would: the process is killed (think ``kill -9``) at fixed
points of its loop, and each time a new process with the same configuration
joins the same group and carries on, until every record has been handled.

How a kill interrupts a plain Python loop: the check's ``handle`` (or the
consumer itself, at the loop's next call after a record was handled) crashes
the simulated consumer (no commit, no leave: the group waits for
``session.timeout.ms``) and raises :class:`Killed`. ``Killed`` derives from
``BaseException``, as ``KeyboardInterrupt`` does, so an ``except Exception``
in the loop does not swallow it; every later call on the killed consumer
raises it again, so a ``finally: consumer.close()`` changes nothing, as with a
real killed process, which runs no code at all.

Time is the simulation's: ``consumer.poll(1.0)`` advances the virtual clock by
at most one second while it waits, and ``handle`` takes
:data:`PROCESSING_TIME` virtual seconds per record. A loop that keeps calling
the consumer after ``running()`` turned False is stopped by :class:`Overrun`.

A loop that commits before it handles loses the records a kill interrupts.

Example::

    def run(consumer, topics, handle, running):
        consumer.subscribe(topics)
        while running():
            msg = consumer.poll(1.0)
            if msg is not None and not msg.error():
                consumer.commit(message=msg, asynchronous=False)
                handle(msg)

    result = crash_schedule(run, {"group.id": "ledger", "auto.offset.reset": "earliest",
                                  "enable.auto.commit": False})
    len(result.lost), result.commit_ahead is not None    # (2, True)
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from eda_sim.core.simulation import Simulation
from eda_sim.kafka.consumer import Consumer

#: The topic the records are on, and a subscribed topic that does not exist (an error event).
TOPIC, MISSING = "payments", "refunds"
TOPICS = [TOPIC, MISSING]
RECORDS = 30
PARTITIONS = 2
#: Virtual seconds ``handle`` takes per record.
PROCESSING_TIME = 0.25
#: The kills, in order: (where, after how many records handled by that process). "in handle" kills
#: halfway through handling that record; "after handle" kills at the loop's next call after it.
KILLS = (("in handle", 6), ("after handle", 8), ("in handle", 5), ("after handle", 4))
#: How many records a kill may make the next process handle again (the exercise's commit window).
WINDOW = 5
#: Virtual seconds the last process gets before ``running()`` turns False whatever happened.
DEADLINE = 300.0
#: Calls on the consumer (or of running()) allowed after running() returned False.
OVERRUN_CALLS = 200
#: Virtual seconds past the deadline, and calls in all, after which a loop that never stops is stopped.
GRACE, MAX_CALLS = 60.0, 20000


class Killed(BaseException):  # noqa: N818 - named for what happened to the process
    """The process was killed: nothing after this point of the loop runs (no commit, no close)."""


class Overrun(BaseException):  # noqa: N818
    """The loop kept calling the consumer long after ``running()`` returned False."""


@dataclass
class Process:
    """One process of the schedule: what it handled, how it ended."""

    number: int
    kill: tuple | None
    member: str = ""
    handled: list = field(default_factory=list)  # (partition, offset) in the order handled
    ended: str = ""  # killed | returned | overrun | raised
    closed: bool = False
    stopped_early: bool = False  # returned while running() was still True
    stopped_at_error: bool = False  # returned right after poll handed it an error event
    errors_seen: int = 0
    errors_handled: int = 0  # error events passed to handle()


@dataclass
class ScheduleRun:
    """What running a loop under the crash schedule showed (see :func:`crash_schedule`)."""

    sim: Simulation
    processes: list
    error: BaseException | None = None  # the learner's own exception, if their code raised
    config_error: str = ""
    group_id: str = ""

    @property
    def handled(self) -> Counter:
        """How many times each (partition, offset) was handled to the end."""
        return Counter(h for p in self.processes for h in p.handled)

    @property
    def records(self) -> list:
        """Every (partition, offset) on the topic."""
        return [
            (p, o)
            for p, log in enumerate(self.sim.topic(TOPIC).partitions)
            for o in range(log.log_start_offset, log.log_end_offset)
        ]

    @property
    def lost(self) -> list:
        """Records never handled."""
        done = self.handled
        return [r for r in self.records if done[r] == 0]

    @property
    def repeated(self) -> list:
        """Per killed process: how many of the records it handled a later process handled again."""
        out = []
        for i, p in enumerate(self.processes):
            if p.ended != "killed":
                continue
            later = {h for q in self.processes[i + 1 :] for h in q.handled}
            out.append(sum(1 for h in set(p.handled) if h in later))
        return out

    @property
    def max_repeated(self) -> int:
        return max(self.repeated, default=0)

    @property
    def duplicates(self) -> int:
        """Extra handlings over all records."""
        return sum(n - 1 for n in self.handled.values() if n > 1)

    @property
    def commit_ahead(self) -> str | None:
        """The first commit that moved past a record not yet handled to the end, described; else None."""
        done: dict = {}
        for row in self.sim.journal:
            if row.topic != TOPIC:
                continue
            if row.kind == "processed":
                done.setdefault(row.partition, set()).add(row.offset)
            elif row.kind == "committed":
                have = done.get(row.partition, set())
                missing = [o for o in range(row.offset) if o not in have]
                if missing:
                    return (
                        f"at {row.time:.2f} s {TOPIC}-{row.partition} was committed up to offset "
                        f"{row.offset} while offset {missing[0]} had not been handled yet"
                    )
        return None

    @property
    def uncommitted(self) -> dict:
        """Partitions whose committed offset is short of the log end at the end, with the gap."""
        group = self.sim.groups.get(self.group_id) if self.group_id else None
        committed = group.committed if group is not None else {}
        out = {}
        for p, log in enumerate(self.sim.topic(TOPIC).partitions):
            at = committed.get((TOPIC, p), 0)
            if at < log.log_end_offset:
                out[p] = log.log_end_offset - at
        return out


class _Killable:
    """The consumer a process's loop gets: a real simulated Consumer that can be killed under it."""

    def __init__(self, consumer: Consumer, schedule: _Schedule):
        self._consumer = consumer
        self._schedule = schedule

    def __getattr__(self, name):
        attr = getattr(self._consumer, name)
        if not callable(attr) or name.startswith("_"):
            return attr

        def call(*args, **kwargs):
            self._schedule.before_call()
            out = attr(*args, **kwargs)
            self._schedule.after_call(name, out)
            return out

        call.__name__ = name
        call.__doc__ = attr.__doc__
        return call

    def __repr__(self) -> str:
        return repr(self._consumer)


class _Schedule:
    """Drives one process at a time: its handle(), running() and the kill it is due."""

    def __init__(self, sim: Simulation, config: dict):
        self.sim = sim
        self.config = config
        self.process: Process | None = None
        self.consumer: Consumer | None = None
        self.kill_pending = False
        self.killed = False
        self.after_stop = 0  # calls since running() returned False
        self.stopped = False
        self.deadline = 0.0
        self.error_pending = False
        self.calls = 0
        self.runs: list = []  # every process so far (the schedule's result)

    # -- the three things the learner's loop is given --------------------------------

    def handle(self, msg) -> None:
        """Process one record (takes PROCESSING_TIME virtual seconds); may be where the process dies."""
        self.before_call()
        p = self.process
        if msg is None or not hasattr(msg, "error"):
            raise TypeError(f"handle() expects a message from poll(), got {msg!r}")
        if msg.error() is not None:
            p.errors_handled += 1
            return
        kill = p.kill
        due = kill is not None and len(p.handled) + 1 == kill[1]
        if due and kill[0] == "in handle":
            self.sim.run(until=self.sim.now + PROCESSING_TIME / 2)
            self.kill()
        self.sim.run(until=self.sim.now + PROCESSING_TIME)
        p.handled.append((msg.partition(), msg.offset()))
        self.sim.journal.write(
            "processed", self.consumer.member_id or p.member, self.consumer.group_id, msg.topic(), msg.partition(),
            msg.offset(), 1, "handle()",
        )  # fmt: skip
        if due:
            self.kill_pending = True

    def running(self) -> bool:
        """True while the process should go on: False once every record was handled, or at the deadline."""
        self.before_call()
        if self.stopped:
            return False
        records = sum(log.log_end_offset for log in self.sim.topic(TOPIC).partitions)
        done = len({h for q in self.runs for h in q.handled})
        if self.sim.now >= self.deadline or (self.process.kill is None and done >= records):
            self.stopped = True
        return not self.stopped

    # -- the kill and the guards ---------------------------------------------------------

    def kill(self) -> None:
        self.killed = True
        self.kill_pending = False
        self.consumer.crash()
        raise Killed(f"process {self.process.number} killed")

    def before_call(self) -> None:
        self.calls += 1
        if self.killed:
            raise Killed(f"process {self.process.number} is dead")
        if self.kill_pending:
            self.kill()
        if self.stopped:
            self.after_stop += 1
        if (
            self.after_stop > OVERRUN_CALLS
            or self.sim.now > self.deadline + GRACE
            or self.calls > MAX_CALLS
        ):
            raise Overrun("the loop went on after running() returned False")

    def after_call(self, name: str, out) -> None:
        if name in ("poll", "consume"):
            msgs = out if isinstance(out, list) else [out] if out is not None else []
            errors = sum(1 for m in msgs if m.error() is not None)
            self.process.errors_seen += errors
            self.error_pending = bool(errors) and len(msgs) == errors


def crash_schedule(run, config: dict, *, seed: int = 5, kills=KILLS) -> ScheduleRun:
    """Run ``run(consumer, topics, handle, running)`` once per process of the schedule; see the module doc.

    ``config`` is the learner's consumer configuration (``bootstrap.servers`` is
    set to the simulation's). Returns a :class:`ScheduleRun`; the learner's own
    exception, if their code raised one, is in its ``error`` (the run stops there).
    """
    sim = Simulation(seed=seed, name="poll-loop")
    sim.create_topic(TOPIC, partitions=PARTITIONS)
    producer = sim.producer()
    for i in range(RECORDS):
        producer.produce(TOPIC, key=f"acct-{i % 7}", value=f'{{"payment": {i}, "amount": {5 + i}}}')
    producer.flush()
    result = ScheduleRun(sim, [])
    schedule = _Schedule(sim, config)
    schedule.runs = result.processes
    for number, kill in enumerate([*kills, None], start=1):
        try:
            consumer = Consumer({**config, "bootstrap.servers": sim.bootstrap_servers}, sim=sim)
        except Exception as err:  # noqa: BLE001 - a refused configuration is the learner's answer
            result.config_error = f"{type(err).__name__}: {err}"
            return result
        result.group_id = consumer.group_id
        process = Process(number, kill, member=consumer.client_id)
        result.processes.append(process)
        schedule.process, schedule.consumer = process, consumer
        schedule.killed = schedule.kill_pending = schedule.stopped = schedule.error_pending = False
        schedule.after_stop = schedule.calls = 0
        schedule.deadline = sim.now + DEADLINE
        try:
            run(_Killable(consumer, schedule), list(TOPICS), schedule.handle, schedule.running)
        except Killed:
            process.ended = "killed"
            continue
        except Overrun:
            process.ended = "overrun"
            return result
        except Exception as err:  # noqa: BLE001 - the learner's own exception, reported as itself
            process.ended = "raised"
            result.error = err
            return result
        process.ended = "returned"
        process.closed = consumer.closed
        process.stopped_early = not schedule.stopped
        process.stopped_at_error = process.stopped_early and schedule.error_pending
        if kill is not None and not consumer.closed and not consumer.crashed:
            consumer.crash()  # it returned without closing: gone all the same, its partitions held
    return result
