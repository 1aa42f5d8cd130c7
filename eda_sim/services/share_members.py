"""Share-group members as processes on the virtual clock: poll, process each record, acknowledge it.

A :class:`ShareWorker` drives a :class:`~eda_sim.kafka.share_consumer.ShareConsumer`
in explicit acknowledgement mode: for each record of a poll it spends
``processing_time``, calls ``handler(message)`` if given, and acknowledges:

* ``ACCEPT`` when the handler returns normally (or returns ``ACCEPT``);
* whatever :class:`~eda_sim.kafka.share_consumer.AcknowledgeType` the handler returns;
* ``RELEASE`` when it raises :class:`~eda_sim.services.retries.TransientError` (another
  member may get the record, one delivery later);
* ``REJECT`` when it raises anything else (the record is archived).

Each finished record is a ``processed`` journal row (actor = the member id,
detail = the worker's name), so counts and per-key order read the same way as
for consumer-group members. A worker can be crashed (its records return to the
group when their locks expire), restarted, and stopped (it acknowledges, then
leaves).
"""

from __future__ import annotations

import simpy

from eda_sim.kafka.share_consumer import AcknowledgeType, IllegalStateException, ShareConsumer
from eda_sim.services.retries import TransientError


class ShareWorker:
    """A share-group member running as a process on the simulation's clock."""

    def __init__(
        self,
        sim,
        group_id: str,
        topics,
        *,
        name: str,
        processing_time: float = 0.01,
        max_poll_records: int = 50,
        poll_timeout: float = 0.1,
        handler=None,
        config: dict | None = None,
        start: float | None = None,
    ):
        if (
            not isinstance(processing_time, (int, float))
            or isinstance(processing_time, bool)
            or processing_time < 0
        ):
            raise ValueError(f"processing_time must be seconds >= 0, got {processing_time!r}")
        if not isinstance(poll_timeout, (int, float)) or poll_timeout <= 0:
            raise ValueError(
                f"poll_timeout must be a positive number of virtual seconds, got {poll_timeout!r}"
            )
        if name in sim.members:
            raise ValueError(
                f"a member called {name!r} already exists; names: {', '.join(sorted(sim.members))}"
            )
        self.sim = sim
        self.name = name
        self.group_id = group_id
        self._topics = [topics] if isinstance(topics, str) else list(topics)
        self._config = {
            "group.id": group_id,
            "client.id": name,
            "share.acknowledgement.mode": "explicit",
            "max.poll.records": max_poll_records,
            **(config or {}),  # more share consumer settings, e.g. max.poll.interval.ms
        }
        self.processing_time = processing_time
        self.poll_timeout = float(poll_timeout)
        self.handler = handler
        self.processed_total = 0
        self.consumer = self._new_consumer()
        self._stopping = False
        self._process = None
        sim.members[name] = self
        if start is None or start <= sim.now:
            self._launch()
        else:
            sim.at(start, self._launch)

    def __repr__(self) -> str:
        return f"<ShareWorker {self.name} group={self.group_id!r} {'running' if self.alive else 'stopped'}>"

    @property
    def alive(self) -> bool:
        """True while the worker's process runs."""
        return self._process is not None and self._process.is_alive

    def _new_consumer(self) -> ShareConsumer:
        consumer = ShareConsumer(self._config, sim=self.sim)
        consumer.subscribe(self._topics)
        return consumer

    def _launch(self) -> None:
        self._process = self.sim.env.process(self._run())

    def _run(self):
        consumer = self.consumer
        env = self.sim.env
        journal = self.sim.journal
        try:
            while not self._stopping:
                msgs = yield from consumer.poll_in_process(self.poll_timeout)
                for msg in msgs:
                    if msg.error() is not None:
                        continue  # an error event (an unknown topic): nothing to process
                    yield env.timeout(self.processing_time)
                    ack = self._outcome(msg)
                    try:
                        consumer.acknowledge(msg, ack)
                    except IllegalStateException:
                        pass  # evicted meanwhile (max.poll.interval.ms): the group took the record back
                    self.processed_total += 1
                    journal.write(
                        "processed",
                        consumer.member_id,
                        self.group_id,
                        msg.topic(),
                        msg.partition(),
                        msg.offset(),
                        1,
                        self.name,
                    )
            consumer.close()
            self._process = None
        except simpy.Interrupt:
            consumer.crash()
            self._process = None

    def _outcome(self, msg) -> AcknowledgeType:
        if self.handler is None:
            return AcknowledgeType.ACCEPT
        try:
            result = self.handler(msg)
        except TransientError:
            return AcknowledgeType.RELEASE
        except Exception:  # a record the handler cannot take: archived, never redelivered
            return AcknowledgeType.REJECT
        return AcknowledgeType(result) if result is not None else AcknowledgeType.ACCEPT

    # -- controls ----------------------------------------------------------------------------

    def crash(self) -> None:
        """Stop dead now: nothing acknowledged; the group gets the records back when their locks expire."""
        if self.alive:
            self._process.interrupt("crash")
            if not self.sim.running:
                while self.alive and self.sim.advance(self.sim.now):
                    pass

    def restart(self) -> None:
        """Start again with a new consumer (a crashed or closed one cannot be reused)."""
        if self.alive:
            raise ValueError(f"{self.name} is running; crash or stop it before restarting")
        self.consumer = self._new_consumer()
        self._stopping = False
        self._launch()

    def stop(self) -> None:
        """Finish the current batch, acknowledge it and leave."""
        self._stopping = True
