"""Group members as processes on the virtual clock: poll, process, commit.

A :class:`Member` wraps a :class:`~eda_sim.kafka.consumer.Consumer` (the same one a
notebook cell would use) in a loop that runs on the clock:

1. poll up to ``max_poll_records`` records;
2. with ``commit="before"``, commit what was polled (at-most-once);
3. spend ``processing_time`` per record;
4. with ``commit="after"``, commit what was processed (at-least-once).

With ``commit="auto"`` the consumer's auto-commit timer commits what was
polled every ``auto.commit.interval.ms``, processed or not (librdkafka's
default, ``enable.auto.offset.store=true``). With ``commit="store"`` the timer
still commits, but the offset store is manual
(``enable.auto.offset.store=false``) and each record's offset is stored with
``store_offsets()`` once it is processed: the at-least-once auto-commit
librdkafka's documentation recommends.

With ``client="java"`` the member is Kafka's Java consumer
(:class:`~eda_sim.kafka.java.KafkaConsumer`) instead of confluent-kafka's:
``max_poll_records`` becomes its ``max.poll.records`` and ``commit="auto"``
is Java's auto-commit, made inside ``poll()`` for what the previous polls
returned (at-least-once for this loop, which processes a batch before polling
again). The Java client has no offset store, so ``commit="store"`` is refused.

A member can be crashed (it stops dead: no commit, no leave; records it had
finished processing stay processed), restarted (it rejoins as a new member and
starts from the group's committed offsets) and stopped (it finishes its batch,
commits by its policy and leaves cleanly).

Example::

    sim = Simulation(seed=3)
    sim.create_topic("orders", partitions=3)
    a = sim.member("billing", ["orders"], processing_time=0.01, commit="after")
    b = sim.member("billing", ["orders"], processing_time=0.01, commit="after")
    sim.crash(a, at=5.0)
    sim.restart(a, at=60.0)
"""

from __future__ import annotations

import bisect

import simpy

from eda_sim.core.checks import count, instant, seconds
from eda_sim.core.errors import KafkaException

COMMIT_POLICIES = ("after", "before", "auto", "store")
#: The clients a member can be: confluent-kafka's (librdkafka's rules) or Kafka's Java consumer.
CLIENTS = ("confluent-kafka", "java")


def processing_seconds(fn, rng) -> float:
    """One draw of a ``processing_time`` function, checked: a finite number of seconds >= 0."""
    wait = fn(rng)
    try:
        return seconds(wait, "processing_time(rng)")
    except (TypeError, ValueError) as err:
        raise ValueError(f"the processing_time function returned a bad value: {err}") from None


class Member:
    """A consumer group member running as a process on the simulation's clock."""

    def __init__(
        self,
        sim,
        group_id: str,
        topics,
        *,
        name: str | None = None,
        processing_time=0.01,
        commit: str = "after",
        max_poll_records: int = 500,
        poll_timeout: float = 0.1,
        on_record=None,
        config: dict | None = None,
        start: float | None = None,
        client: str = "confluent-kafka",
    ):
        if commit not in COMMIT_POLICIES:
            raise ValueError(f"commit must be one of {', '.join(COMMIT_POLICIES)}, got {commit!r}")
        if client not in CLIENTS:
            raise ValueError(f"client must be one of {', '.join(CLIENTS)}, got {client!r}")
        if client == "java" and commit == "store":
            raise ValueError(
                'commit="store" needs librdkafka\'s offset store (enable.auto.offset.store=false and '
                'store_offsets()), which the Java client does not have; with client="java" use '
                '"auto", "after" or "before"'
            )
        count(max_poll_records, "max_poll_records", low=1)
        if not callable(processing_time):
            seconds(processing_time, "processing_time (or a function of a random.Random)")
        seconds(poll_timeout, "poll_timeout", positive=True)
        if start is not None:
            instant(start, "start")
        if isinstance(topics, str):
            topics = [topics]
        self.sim = sim
        self.name = name or f"{group_id}-member-{sim.next_number('member-name:' + group_id)}"
        if self.name in sim.members:
            raise ValueError(
                f"a member called {self.name!r} already exists; names: {', '.join(sorted(sim.members))}"
            )
        cfg = {
            "group.id": group_id,
            "client.id": self.name,
            "enable.auto.commit": commit in ("auto", "store"),
        }
        if commit == "store":
            cfg["enable.auto.offset.store"] = False
        if client == "java":
            cfg["max.poll.records"] = max_poll_records
        cfg.update(config or {})
        self._consumer_config = cfg
        self.client = client
        self._topics = list(topics)
        for topic in self._topics:
            sim.broker.topic(
                topic
            )  # a simulated member fails at once on a topic that does not exist
        self.consumer = self._new_consumer()
        self.group_id = group_id
        self.commit = commit
        self.processing_time = processing_time
        self.max_poll_records = max_poll_records
        self.poll_timeout = float(poll_timeout)
        self.on_record = on_record
        self.processed_total = 0
        self._stopping = False
        self._busy = None  # (messages, start time, cumulative finish offsets) while processing
        self._process = None
        sim.members[self.name] = self
        if start is None or start <= sim.now:
            self._process = sim.env.process(self._run())
        else:
            sim.at(start, self._launch)

    def _new_consumer(self):
        """A consumer of this member's client with its settings, subscribed to its topics."""
        if self.client == "java":
            from eda_sim.kafka.java import KafkaConsumer

            cfg = dict(self._consumer_config)
            cfg.setdefault("bootstrap.servers", self.sim.bootstrap_servers)
            consumer = KafkaConsumer(cfg, sim=self.sim)
        else:
            consumer = self.sim.consumer(self._consumer_config)
        consumer.subscribe(self._topics)
        return consumer

    def __repr__(self) -> str:
        state = (
            "crashed"
            if self.consumer.crashed
            else "stopped"
            if self._process is None
            else "running"
        )
        return f"<Member {self.name} group={self.group_id!r} {state}>"

    @property
    def member_id(self) -> str | None:
        """The id the group knows this member by now (changes after a restart)."""
        return self.consumer.member_id

    @property
    def stopping(self) -> bool:
        """Whether ``stop()`` was called and the member leaves after its current batch."""
        return self._stopping

    @property
    def alive(self) -> bool:
        """True while the member's process runs."""
        return self._process is not None and self._process.is_alive

    def _launch(self) -> None:
        self._process = self.sim.env.process(self._run())

    def _run(self):
        consumer = self.consumer
        env = self.sim.env
        try:
            while not self._stopping:
                msgs = yield from consumer.poll_in_process(self.max_poll_records, self.poll_timeout)
                if not msgs or msgs[0].error() is not None:
                    continue  # error events come alone and are already in the journal
                runs = consumer.last_runs
                if self.commit == "before":
                    self._commit()
                finish = self._finish_times(len(msgs))
                self._busy = (msgs, runs, env.now, finish)
                if self.commit == "store":
                    yield from self._store_each(msgs, finish)
                else:
                    yield env.timeout(finish[-1])
                self._busy = None
                self._processed(msgs, runs)
                if self.commit == "after":
                    self._commit()
            consumer.close()
            self._process = None
        except simpy.Interrupt:
            if self._busy is not None:
                msgs, runs, started, finish = self._busy
                done = bisect.bisect_right(finish, env.now - started + 1e-12)
                self._processed(msgs[:done], runs)
                self._busy = None
            consumer.crash()
            self._process = None

    def _store_each(self, msgs: list, finish: list):
        """Store each record's offset as its processing ends (the timer commits what is stored)."""
        done = 0.0
        for msg, end in zip(msgs, finish):
            yield self.sim.env.timeout(end - done)
            done = end
            try:
                self.consumer.store_offsets(message=msg)
            except KafkaException:
                pass  # its partition was revoked meanwhile: librdkafka refuses the store too

    def _finish_times(self, n: int) -> list:
        pt = self.processing_time
        if callable(pt):
            rng = self.sim.random
            out, total = [], 0.0
            for _ in range(n):
                total += processing_seconds(pt, rng)
                out.append(total)
            return out
        return [pt * (i + 1) for i in range(n)]

    def _processed(self, msgs: list, runs: list) -> None:
        if not msgs:
            return
        if self.on_record is not None:
            for m in msgs:
                self.on_record(m)
        self.processed_total += len(msgs)
        journal = self.sim.journal
        member = self.consumer.member_id or self.name
        # One row per partition run, as fetched, counting the records the run handed out: a run
        # spans more offsets than records where compaction or transaction markers left gaps.
        i, n = 0, len(msgs)
        for topic, part, first, size in runs:
            k = i
            # hot path: per record, the message's fields without method calls
            while k < n and msgs[k]._partition == part and msgs[k]._topic == topic:  # hot path
                if msgs[k]._offset >= first + size:  # hot path
                    break
                k += 1
            if k > i:
                journal.write(
                    "processed", member, self.group_id, topic, part, first, k - i, self.name
                )
            i = k
            if i >= n:
                break

    def _commit(self) -> None:
        try:
            if self.client == "java":
                self.consumer.commitSync()
            else:
                self.consumer.commit(asynchronous=False)
        except KafkaException:
            pass  # refused (evicted, or the partitions moved): the journal has a commit_failed row

    # -- controls -------------------------------------------------------------------------

    def crash(self) -> None:
        """Stop dead now: records already processed stay processed; nothing is committed."""
        if self.alive:
            self._process.interrupt("crash")
            if not self.sim.running:
                # Called from a cell: deliver the interrupt now (it is urgent, so nothing else moves first).
                while self.alive and self.sim.advance(self.sim.now):
                    pass
        elif not self.consumer.crashed:
            self.consumer.crash()

    def restart(self) -> None:
        """Start again after a crash or a stop, as a new member of the group."""
        if self.alive:
            raise ValueError(f"{self.name} is running; crash or stop it before restarting")
        if self.consumer.crashed:
            self.consumer.restart()
        elif self.consumer.closed:
            # A clean stop closed the consumer, and a closed consumer cannot be used again (as with
            # confluent-kafka): start a new one with the same settings, as an operator would.
            self.consumer = self._new_consumer()
        self._stopping = False
        self._launch()

    def stop(self) -> None:
        """Finish the current batch, commit by policy, and leave the group cleanly."""
        self._stopping = True
