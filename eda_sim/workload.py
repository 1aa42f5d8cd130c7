"""Load on the clock: a process that produces records at a steady rate.

Example::

    sim = Simulation(seed=1)
    sim.create_topic("clicks", partitions=3)
    feed = Feed(sim, "clicks", ((f"user-{i % 10}", f"click {i}") for i in range(1000)), rate=100)
    sim.run(until=12)
    feed.produced        # 1000
"""

from __future__ import annotations


class Feed:
    """Produce ``(key, value)`` pairs to ``topic`` at ``rate`` records per virtual second.

    Records go out in ticks of ``tick`` seconds (all records due in a tick are
    produced at its start), through ``producer`` or a new producer made from
    ``config``. ``start`` delays the first record.
    """

    def __init__(
        self,
        sim,
        topic: str,
        records,
        rate: float,
        *,
        producer=None,
        config: dict | None = None,
        tick: float = 0.01,
        start: float = 0.0,
        headers=None,
    ):
        if not isinstance(rate, (int, float)) or rate <= 0:
            raise ValueError(f"rate must be a positive number of records per second, got {rate!r}")
        if not isinstance(tick, (int, float)) or tick <= 0:
            raise ValueError(f"tick must be a positive number of seconds, got {tick!r}")
        sim.topic(topic)
        self.sim = sim
        self.topic = topic
        self.rate = float(rate)
        self.tick = float(tick)
        self.producer = producer if producer is not None else sim.producer(config)
        self.headers = headers
        self.produced = 0
        self.done = False
        self._records = iter(records)
        self.process = sim.env.process(self._run(start))

    def _run(self, start: float):
        env = self.sim.env
        if start > 0:
            yield env.timeout(start)
        produce = self.producer.produce
        topic, headers = self.topic, self.headers
        owed = 0.0
        while True:
            owed += self.rate * self.tick
            n = int(owed)
            owed -= n
            for _ in range(n):
                item = next(self._records, None)
                if item is None:
                    self.done = True
                    return
                produce(topic, key=item[0], value=item[1], headers=headers)
                self.produced += 1
            self.producer.poll(0)
            yield env.timeout(self.tick)
