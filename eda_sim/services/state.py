"""State stores backed by changelog topics: state that survives a crash.

A stream processor's state (a window's running count, the latest profile per
card) lives in memory, next to the code. When the process dies, the memory
goes. Kafka Streams keeps it anyway: every change to a store is also written to
a *changelog topic*, compacted (only the latest value per key matters), with as
many partitions as the input. The instance that takes a partition over (after
a crash, or when a rebalance moves it) first *restores* the store by reading
that changelog partition from its start, and only then processes new records.
Restoring takes time, proportional to what the changelog holds; a *standby
replica* (``num.standby.replicas``) is a copy another instance keeps applying
all along, so a takeover on it only has to read what it had not applied yet.

:class:`ChangelogStore` is one partition's key-value store: ``put`` changes the
store and appends the change to the changelog (a tombstone for a delete), with
the input offset that caused it in a header; :func:`restore` rebuilds a store
from a changelog partition and says how many records it read.

Simplifications: stores are in memory only (Kafka Streams' RocksDB stores also
keep a local checkpoint, so an instance restarting on the same disk restores
only the tail); a standby applies changelog records the moment they are
written and costs no time.
"""

from __future__ import annotations

import json
from typing import NamedTuple

#: Header naming the input offset a changelog record came from.
H_INPUT_OFFSET = "input-offset"


def changelog_topic(app: str, store: str) -> str:
    """Kafka Streams' name for a store's changelog: ``<application.id>-<store>-changelog``."""
    return f"{app}-{store}-changelog"


class ChangelogStore:
    """A key-value store for one partition whose every change is also written to a changelog."""

    def __init__(self, producer, topic: str, partition: int):
        self.data: dict = {}
        self.applied = -1  # the highest input offset whose effect is in the store
        self._producer = producer
        self._topic = topic
        self._partition = partition

    def put(self, key: str, value, input_offset: int) -> None:
        """Set ``key`` to a JSON-able ``value`` (``None`` deletes) and log the change."""
        if value is None:
            self.data.pop(key, None)
        else:
            self.data[key] = value
        self.applied = max(self.applied, input_offset)
        self._producer.produce(
            self._topic,
            None if value is None else json.dumps(value, sort_keys=True).encode(),
            key.encode(),
            partition=self._partition,
            headers=[(H_INPUT_OFFSET, str(input_offset).encode())],
        )


class Restored(NamedTuple):
    """What a restore read: the store's contents, how many changelog records, the input offset reached."""

    data: dict
    records: int
    applied: int


def restore(log, start: int = 0) -> Restored:
    """Rebuild a store from a changelog partition's log (every record from its start).

    ``start`` is where a standby replica had got to: records before it cost
    nothing (the standby applied them already) but still shape the store.
    """
    data: dict = {}
    applied = -1
    read = 0
    for r in log.records():
        key = r.key.decode()
        if r.value is None:
            data.pop(key, None)
        else:
            data[key] = json.loads(r.value)
        for name, value in r.headers or ():
            if name == H_INPUT_OFFSET:
                applied = max(applied, int(value))
        if r.offset >= start:
            read += 1
    return Restored(data, read, applied)
