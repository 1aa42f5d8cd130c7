"""A table materialised from a compacted topic, and the timing of a stream-table join.

A compacted topic is a table written as a stream of changes: each record says
"key now has this value", a tombstone says "key is gone". A :class:`Table`
follows every partition of such a topic from its start (as Kafka Streams'
``GlobalKTable`` does) and keeps ``key -> latest value``. Reading the topic from
the start always gives the same table, however much the cleaner has removed:
that is what compaction promises.

A *stream-table join* enriches each stream record with the table's value for
its key *at the moment the processor handles it*. The pitfall is timing: if the
profile update was produced before the transaction but the table has not read
it yet (it polls every ``poll_interval``), the join sees the old profile, or
none. :meth:`Table.value_at` gives what the table should have said at a given
event time, so a notebook can count the joins that went wrong. (Kafka Streams
3.5+ offers versioned stores for joins by event time; a plain KTable join has
this pitfall.)

Example::

    sim = Simulation(seed=1)
    sim.create_topic("profiles", config={"cleanup.policy": "compact"})
    Source(sim, "crm", "profiles", [{"time": 1.0, "type": "ProfileUpdated", "card": "card-7", "city": "Oslo"},
                                    {"time": 20.0, "type": "ProfileUpdated", "card": "card-7", "city": "Rome"}],
           key="card")
    profiles = Table(sim, "profiles", poll_interval=1.0)
    sim.run(until=30)
    profiles.get("card-7")                 # the latest profile the table has read
    profiles.value_at("card-7", 12.0)      # what it was at event time 12.0 s
"""

from __future__ import annotations

import bisect

from eda_sim.core.checks import positive
from eda_sim.services.events import Event


def event_payload(value: bytes):
    """Decode a record value written by a Source or a service: the event's payload as a dict."""
    return Event.from_json(value).payload.thaw()


class Table:
    """key -> latest value of a compacted topic, kept up to date by a reader on the clock."""

    def __init__(self, sim, topic: str, *, poll_interval: float = 1.0, decode=event_payload):
        t = sim.topic(topic)
        poll_interval = positive(poll_interval, "poll_interval", "virtual seconds")
        if not callable(decode):
            raise TypeError("decode must be a function of a record value (bytes)")
        self.sim = sim
        self.topic = topic
        self.poll_interval = float(poll_interval)
        self.decode = decode
        self.data: dict = {}
        self.read_total = 0
        self._positions = [0] * t.partition_count
        self._history: dict = {}  # key -> ([record timestamps], [values]) in offset order
        self.catch_up()
        sim.env.process(self._follow())

    def __len__(self) -> int:
        return len(self.data)

    def get(self, key: str, default=None):
        """The latest value the table has read for ``key``."""
        return self.data.get(key, default)

    def catch_up(self) -> int:
        """Read every partition to its end now; return how many records were read."""
        n = 0
        for i, log in enumerate(self.sim.topic(self.topic).partitions):
            pos = max(self._positions[i], log.log_start_offset)
            for r in log.records(pos):
                key = r.key.decode() if isinstance(r.key, bytes) else r.key
                value = None if r.value is None else self.decode(r.value)
                if value is None:
                    self.data.pop(key, None)
                else:
                    self.data[key] = value
                times, values = self._history.setdefault(key, ([], []))
                times.append(r.timestamp)
                values.append(value)
                n += 1
            self._positions[i] = log.log_end_offset
        self.read_total += n
        return n

    def value_at(self, key: str, time: float):
        """The value ``key`` had at ``time`` by record timestamps, among the records read so far."""
        times, values = self._history.get(key, ((), ()))
        i = bisect.bisect_right(times, time)
        return values[i - 1] if i else None

    def _follow(self):
        while True:
            yield self.sim.env.timeout(self.poll_interval)
            self.catch_up()
