"""Autoscaling on lag: add instances when a service falls behind, remove them when it has caught up.

An :class:`Autoscaler` reads a service's lag every ``interval`` seconds (the
course's one definition of lag, :func:`eda_sim.core.measures.group_lag`), adds
an instance when it is above ``scale_out_lag`` and removes one when it is below
``scale_in_lag``, waiting ``cooldown`` seconds after every decision. Instances
beyond the number of partitions would sit idle (a partition belongs to one
member of a group), so it refuses to go past that cap and says so in the
journal. Together with rate limits (:mod:`eda_sim.services.ratelimit`) and
backpressure (``Service(..., max_in_flight=50)``: the surplus stays in the log
as lag, not in a consumer's memory) it is one of the answers to a storm
(:class:`eda_sim.services.load.Storm`).

Example::

    from eda_sim import Simulation
    from eda_sim.services.autoscale import Autoscaler
    from eda_sim.services.load import Storm
    from eda_sim.services.service import Service
    from eda_sim.services.load import Source

    sim = Simulation(seed=8)
    sim.create_topic("clicks", partitions=4)
    Source(sim, "site", "clicks", [{"time": i * 0.1, "type": "Clicked", "user": f"u{i % 9}"} for i in range(600)],
           key="user")
    Storm(sim, "clicks", rate=300, duration=10, start=20,
          make=lambda i: {"type": "Clicked", "user": f"bot{i % 50}"}, key="user")
    svc = Service(sim, "ranker", consumes="clicks", handlers={"Clicked": lambda e, ctx: None},
                  processing_time=0.01, max_in_flight=50)
    scaler = Autoscaler(sim, svc, max_instances=8, scale_out_lag=200, scale_in_lag=20, cooldown=5, interval=1)
    sim.run(until=90)
    scaler.decisions          # when it scaled, at what lag, from how many instances to how many
    scaler.samples            # lag and instances every interval: the chart of notebook 13
"""

from __future__ import annotations

import math

from eda_sim.core.checks import at_least as _at_least
from eda_sim.core.checks import positive as _positive
from eda_sim.core.measures import group_lag

__all__ = ["DECISION_COLUMNS", "Autoscaler"]


DECISION_COLUMNS = ["time", "lag", "action", "before", "after", "reason"]


class Autoscaler:
    """Scale a service's instances on its consumer-group lag, on the virtual clock.

    Every ``interval`` seconds it reads the lag (:func:`group_lag`) and decides:

    * lag > ``scale_out_lag``: add an instance, unless the service already
      runs as many as the consumed topics have partitions (more would sit
      idle) or ``max_instances``: then the refusal is recorded;
    * lag < ``scale_in_lag`` and more than ``min_instances`` running: stop
      the newest instance (it finishes its batch, commits and leaves);
    * fewer than ``min_instances`` running (a crash): add one.

    After every decision, refusals included, it waits ``cooldown`` seconds
    before the next, so that a rebalance settles and the lag shows the effect.
    Each decision is a journal row of kind ``scaled`` and a row of
    ``decisions``; ``samples`` has the lag and instance count of every check.
    The partition cap is the largest partition count among the consumed topics
    with the ``range`` assignor (it assigns topic by topic), and their total
    with the others.
    """

    def __init__(
        self,
        sim,
        service,
        *,
        min_instances: int = 1,
        max_instances: int | None = None,
        scale_out_lag: float = 100,
        scale_in_lag: float = 10,
        cooldown: float = 10.0,
        interval: float = 1.0,
    ):
        from eda_sim.services.service import Service

        if isinstance(service, str):
            if service not in sim.services:
                known = ", ".join(sorted(sim.services)) or "none"
                raise ValueError(f"unknown service {service!r}; services are: {known}")
            service = sim.services[service]
        if not isinstance(service, Service):
            raise TypeError(f"service must be a Service or its name, got {type(service).__name__}")
        for name, value in (("min_instances", min_instances), ("max_instances", max_instances)):
            if name == "max_instances" and value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a whole number >= 1, got {value!r}")
        if max_instances is not None and max_instances < min_instances:
            raise ValueError(
                f"max_instances ({max_instances}) must be >= min_instances ({min_instances})"
            )
        self.scale_out_lag = _at_least(scale_out_lag, "scale_out_lag", 0, "a number of records")
        self.scale_in_lag = _at_least(scale_in_lag, "scale_in_lag", 0, "a number of records")
        if self.scale_in_lag >= self.scale_out_lag:
            raise ValueError(
                f"scale_in_lag ({scale_in_lag!r}) must be below scale_out_lag ({scale_out_lag!r}), "
                "or the autoscaler would flap between the two"
            )
        self.cooldown = _at_least(cooldown, "cooldown", 0, "a number of virtual seconds")
        self.interval = _positive(interval, "interval", "a number of virtual seconds")
        self.sim = sim
        self.service = service
        self.name = f"{service.name}-autoscaler"
        self.min_instances = min_instances
        self.max_instances = max_instances
        self._decisions: list = []
        self._samples: list = []
        self._last_decision = -math.inf
        self._stopped = False
        self.process = sim.env.process(self._run())

    def __repr__(self) -> str:
        return (
            f"<Autoscaler {self.service.name}: {self.service.running} running, "
            f"{len(self._decisions)} decisions>"
        )

    def lag(self) -> int:
        """The service's consumer-group lag now (see :func:`group_lag`)."""
        return group_lag(self.sim, self.service.name, self.service.topics)

    def partition_cap(self) -> int:
        """How many instances can own a partition at once; more would sit idle."""
        counts = [self.sim.topic(t).partition_count for t in self.service.topics]
        group = self.sim.groups.get(self.service.name)
        strategy = group.strategy if group is not None and group.strategy else "range"
        return max(counts) if strategy == "range" else sum(counts)

    def stop(self) -> None:
        """Stop deciding (from the next check on); instances stay as they are."""
        self._stopped = True

    def _run(self):
        env = self.sim.env
        while not self._stopped:
            yield env.timeout(self.interval)
            if not self._stopped:
                self.check()

    def check(self) -> str | None:
        """Look at the lag now and decide; return the action taken (None when nothing was due)."""
        svc = self.service
        now = self.sim.now
        lag = self.lag()
        running = svc.running
        self._samples.append((now, lag, running))
        if now - self._last_decision < self.cooldown - 1e-9:
            return None
        cap = self.partition_cap()
        if running < self.min_instances:
            svc.add_instance()
            return self._decide(
                lag, "scale_out", running, f"{running} running < min_instances {self.min_instances}"
            )
        if lag > self.scale_out_lag:
            if running >= cap:
                return self._decide(
                    lag,
                    "refused",
                    running,
                    f"lag {lag} > {self.scale_out_lag:g}, but {running} "
                    f"instances already own the {cap} partitions; more would sit idle",
                )
            if self.max_instances is not None and running >= self.max_instances:
                return self._decide(
                    lag,
                    "refused",
                    running,
                    f"lag {lag} > {self.scale_out_lag:g}, but "
                    f"max_instances is {self.max_instances}",
                )
            svc.add_instance()
            return self._decide(lag, "scale_out", running, f"lag {lag} > {self.scale_out_lag:g}")
        if lag < self.scale_in_lag and running > self.min_instances:
            svc.remove_instance()
            return self._decide(lag, "scale_in", running, f"lag {lag} < {self.scale_in_lag:g}")
        return None

    def _decide(self, lag: int, action: str, before: int, reason: str) -> str:
        after = self.service.running
        self._last_decision = self.sim.now
        self._decisions.append((self.sim.now, lag, action, before, after, reason))
        topic = self.service.topics[0] if len(self.service.topics) == 1 else ""
        self.sim.journal.write(
            "scaled",
            self.name,
            self.service.name,
            topic,
            -1,
            -1,
            after,
            f"{action}: {reason}; instances {before} -> {after}",
        )
        return action

    @property
    def decisions(self):
        """Every decision as a DataFrame: time, lag, action (scale_out, scale_in, refused), before, after, reason."""
        import pandas as pd

        return pd.DataFrame(self._decisions, columns=DECISION_COLUMNS)

    @property
    def samples(self):
        """Every check as a DataFrame: time, lag, instances (running)."""
        import pandas as pd

        return pd.DataFrame(self._samples, columns=["time", "lag", "instances"])
