"""Worlds for the transactions lesson: a read-process-write pipeline under a crash schedule.

``run_pipeline`` feeds numbered inputs to the loops of
:mod:`~eda_sim.course.nb07.program` (with or without transactions) and
drives one instance at a time, step by step. A *schedule* says what happens
after the instance's k-th step (counted across instances):

* ``crash``: the instance dies (its consumer stops; the group notices after
  ``session.timeout.ms``); a new instance with the same ``transactional.id``
  takes over.
* ``zombie``: the instance freezes (a long GC pause, a partition from the
  network) and a new instance takes over; when the new one has finished, the
  frozen one wakes up and carries on where it stopped.
* ``stall``: the instance pauses for ``stall`` virtual seconds and carries on:
  long enough to be evicted from its group (``max.poll.interval.ms``) or for
  its transaction to time out (``transaction.timeout.ms``).

A step is a number (the k-th step of the run, from 0) or a name from
:data:`~eda_sim.course.nb07.program.STEPS`, ``"produced@2"`` for its second
time. An observer in its own group drains the output topic after every step, as a
``read_committed`` (or ``read_uncommitted``) reader would see it.

Example::

    run = run_pipeline(transactional=True, schedule=[(5, "crash"), (9, "zombie")])
    run.duplicated, run.lost           # ([], []) with transactions
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from eda_sim import kafka
from eda_sim.core.errors import KafkaException
from eda_sim.core.simulation import Simulation
from eda_sim.course.nb07 import program as txn_program

ACTIONS = ("crash", "zombie", "stall")

#: Client settings that make the lesson's timeouts short on the virtual clock.
TIMINGS = {
    "consumer": {"session.timeout.ms": 1000, "max.poll.interval.ms": 4000},
    "producer": {"transaction.timeout.ms": 6000},
}


@dataclass
class PipelineRun:
    """What a pipeline run did: the world, the outputs as readers saw them, and what each instance met."""

    sim: Simulation
    transactional: bool
    inputs: int
    committed_values: list  # output values a read_committed reader drains at the end
    uncommitted_values: list  # output values a read_uncommitted reader drains at the end
    observed: list = field(
        default_factory=list
    )  # per observation: {(partition, offset)} seen so far
    instances: list = field(default_factory=list)  # per instance: dict of name, steps, fate
    fenced: list = field(default_factory=list)  # names of instances refused with a fatal _FENCED

    def _effects(self) -> Counter:
        return Counter(int(v) // 2 for v in self.committed_values)

    @property
    def duplicated(self) -> list:
        """Inputs whose output a read_committed reader sees more than once."""
        return sorted(i for i, n in self._effects().items() if n > 1)

    @property
    def lost(self) -> list:
        """Inputs whose output a read_committed reader never sees."""
        seen = self._effects()
        return [i for i in range(self.inputs) if seen[i] == 0]


def _observe(consumer, seen: set, values: list) -> None:
    while True:
        batch = consumer.consume(1000, 0)
        if not batch:
            return
        for m in batch:
            if m.error() is None:
                seen.add((m.partition(), m.offset()))
                values.append(m.value().decode())


def run_pipeline(
    transactional: bool = True,
    schedule=(),
    *,
    inputs: int = 12,
    partitions: int = 2,
    batch: int = 4,
    stall: float = 5.0,
    seed: int = 7,
    name: str = "pipeline",
) -> PipelineRun:
    """Run the doubling pipeline to the end under ``schedule`` (pairs of step number and action)."""
    plan = {}
    for entry in schedule:
        step, action = entry
        if action not in ACTIONS:
            raise ValueError(f"unknown action {action!r}; actions are: {', '.join(ACTIONS)}")
        if isinstance(step, str):
            name, _, nth = step.partition("@")
            if name not in txn_program.STEPS or (nth and not nth.isdigit()):
                raise ValueError(
                    f"a named step is one of {', '.join(txn_program.STEPS)}, optionally @N "
                    f"for its N-th time, got {step!r}"
                )
            step = (name, int(nth or 1))
        elif isinstance(step, bool) or not isinstance(step, int) or step < 0:
            raise ValueError(
                f"a schedule step must be a whole number >= 0 or a step name, got {step!r}"
            )
        plan.setdefault(step, action)
    # Sessions shorter than a real broker allows: Kafka refuses a session.timeout.ms under
    # group.min.session.timeout.ms (6 s by default), so this demo lowers the broker's minimum.
    sim = Simulation(seed=seed, name=name, broker_config={"group.min.session.timeout.ms": 100})
    sim.create_topic("numbers", partitions=partitions)
    sim.create_topic("doubled", partitions=partitions)
    feeder = sim.producer({"enable.idempotence": True})
    for i in range(inputs):
        feeder.produce("numbers", key=f"k{i % 3}", value=str(i))
    feeder.flush()

    def observer(level: str):
        c = sim.consumer(
            {
                "group.id": f"observer-{level}",
                "auto.offset.reset": "earliest",
                "isolation.level": level,
            }
        )
        c.subscribe(["doubled"])
        return c

    watch, watch_all = observer("read_committed"), observer("read_uncommitted")
    seen: set = set()
    committed_values: list = []
    all_seen: set = set()
    uncommitted_values: list = []
    run = PipelineRun(sim, transactional, inputs, committed_values, uncommitted_values)
    loop = txn_program.transactional_loop if transactional else txn_program.plain_loop

    def start(number: int) -> dict:
        consumer, producer = txn_program.open_clients(
            kafka,
            sim.bootstrap_servers,
            group="doubler",
            transactional_id="doubler-0" if transactional else None,
            extra=TIMINGS,
        )
        steps = loop(
            kafka, consumer, producer, source="numbers", sink="doubled", batch=batch, idle_polls=10
        )
        info = {"name": f"instance-{number}", "consumer": consumer, "producer": producer}
        info.update(steps=steps, fate="finished", done=[])
        run.instances.append(info)
        return info

    def advance(info: dict) -> bool:
        """One step of an instance; False when it has finished or failed."""
        try:
            info["done"].append(next(info["steps"]))
        except StopIteration:
            return False
        except KafkaException as exc:
            info["fate"] = f"failed: {exc.args[0].name()}"
            if exc.args[0].code() == kafka.KafkaError._FENCED:
                run.fenced.append(info["name"])
            if not info["consumer"].crashed:
                info["consumer"].close()
            return False
        _observe(watch, seen, committed_values)
        _observe(watch_all, all_seen, uncommitted_values)
        run.observed.append(frozenset(seen))
        return True

    zombies = []
    counter = 0
    times: Counter = Counter()  # how often each named step has happened, across instances
    current = start(1)
    while True:
        if not advance(current):
            if current["fate"] != "finished" and len(run.instances) < 20:
                current = start(
                    len(run.instances) + 1
                )  # a fatal error: an operator starts a new one
                continue
            break
        step = current["done"][-1]
        times[step] += 1
        action = plan.get(counter) or plan.get((step, times[step]))
        counter += 1
        if action == "crash":
            current["fate"] = f"crashed after {current['done'][-1]}"
            sim.crash(current["consumer"])
            sim.crash(current["producer"])  # what it had queued and not sent dies with it
            current = start(len(run.instances) + 1)
        elif action == "zombie":
            current["fate"] = f"froze after {current['done'][-1]}"
            zombies.append(current)
            current = start(len(run.instances) + 1)
        elif action == "stall":
            sim.run(sim.now + stall)
    for zombie in zombies:  # the frozen instances wake up, in the order they froze
        while advance(zombie):
            pass
    sim.run(sim.now + 1.0)
    _observe(watch, seen, committed_values)
    _observe(watch_all, all_seen, uncommitted_values)
    run.observed.append(frozenset(seen))
    return run


#: Named fault schedules for the lesson: name -> (schedule, stall seconds).
LESSON_SCHEDULES = {
    "no fault": ([], 5.0),
    "crash after producing": ([("produced", "crash")], 5.0),
    "crash after committing": ([("committed", "crash")], 5.0),
    "frozen, wakes up after its replacement": ([("produced@2", "zombie")], 5.0),
    "stalled 5 s: evicted from the group": ([("produced@2", "stall")], 5.0),
    "stalled 7 s: past transaction.timeout.ms": ([("produced@2", "stall")], 7.0),
}


def compare_loops(schedules=None):
    """Both loops under each named schedule: inputs duplicated and lost, and instances fenced.

    ``schedules`` maps a name to ``(schedule, stall)`` (default
    :data:`LESSON_SCHEDULES`). Returns a DataFrame with one row per schedule
    and loop.
    """
    import pandas as pd

    schedules = LESSON_SCHEDULES if schedules is None else schedules
    rows = []
    for name, (schedule, stall) in schedules.items():
        for transactional in (False, True):
            run = run_pipeline(transactional, schedule, stall=stall, name="compare")
            rows.append(
                {
                    "faults": name,
                    "loop": "transactions" if transactional else "idempotent producer",
                    "duplicated": len(run.duplicated),
                    "lost": len(run.lost),
                    "fenced": len(run.fenced),
                }
            )
    return pd.DataFrame(rows)
