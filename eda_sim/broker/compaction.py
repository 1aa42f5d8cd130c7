"""Log compaction: a topic that keeps the latest value of every key.

A topic's ``cleanup.policy`` says how records leave its partitions:

* ``delete`` (the default): retention removes whole segments from the start
  (``retention.ms``, ``retention.bytes``);
* ``compact``: nothing leaves by age or size; a background *log cleaner*
  removes a record once a later record with the same key exists, so the
  partition keeps at least the latest value of every key;
* ``compact,delete``: both.

What the cleaner does, as Kafka's does:

* It works on closed segments only. The *active* segment (the one being
  written) is never compacted; a segment closes when it reaches
  ``segment.bytes`` or is older than ``segment.ms`` when the next record comes
  (for a compacted topic also ``max.compaction.lag.ms``, so that limit can be met).
* The part of the log already cleaned is *clean*; from the cleaner's checkpoint
  to the first segment it may not touch yet is *dirty*. A segment whose newest
  record is younger than ``min.compaction.lag.ms`` is not cleanable yet, nor is
  anything after it.
* Every ``log.cleaner.backoff.ms`` (15 s) the cleaner looks at each compacted
  partition and cleans it when dirty bytes / (clean + dirty bytes) reaches
  ``min.cleanable.dirty.ratio`` (0.5), or when a dirty record has waited longer
  than ``max.compaction.lag.ms``, or when a tombstone's delete horizon passed.
* Cleaning keeps, among the records before the first uncleanable offset, a
  record only if no later record of the dirty part has its key. Offsets never
  change: compaction leaves gaps, and a consumer reading across one simply
  gets the next record that is still there.
* A *tombstone* (a record with a key and a null value) deletes its key. It is
  kept while consumers may still need to see it: the first cleaning that
  reaches it stamps it with a delete horizon ``now + delete.retention.ms``
  (KIP-534), and the first cleaning after that horizon removes it, and with it
  the key.
* A compacted topic refuses records without a key (``INVALID_RECORD``): the
  cleaner could not tell what they are the latest value of.
* Transactions: the cleaner never cleans past the last stable offset (the
  first offset of an open transaction); records of aborted transactions are
  removed; commit and abort markers are not values of any key and stay.

Each cleaning writes a journal row of kind ``compacted`` (offset = where the
cleaned range starts, count = records removed, detail = the dirty ratio, why it
ran, the tombstones removed and the new checkpoint).

Simplifications: one cleaner thread's worth of work runs at each backoff tick
with no cost in time; segments are not merged after cleaning (Kafka groups
small cleaned segments into one); markers are kept for good (Kafka removes one
once its transaction's records are gone and ``delete.retention.ms`` has passed).

Example::

    sim = Simulation(seed=1)
    sim.create_topic("profiles", config={"cleanup.policy": "compact", "segment.ms": 1000})
    ...                                        # produce, run the clock
    sim.broker.cleaner.clean_now("profiles")    # or wait for the 15 s tick
    sim.broker.cleaner.layout("profiles", 0)    # clean / dirty / active ranges, for the board
"""

from __future__ import annotations

from typing import NamedTuple

from eda_sim.core.errors import fail

#: The cleanup policies Kafka accepts (it also accepts ``delete,compact``, the same set).
CLEANUP_POLICIES = ("delete", "compact", "compact,delete")

#: Topic properties compaction adds, with Kafka's defaults.
COMPACTION_DEFAULTS = {
    "cleanup.policy": "delete",
    "min.cleanable.dirty.ratio": 0.5,
    "min.compaction.lag.ms": 0,
    "max.compaction.lag.ms": 9223372036854775807,  # Long.MAX_VALUE: no upper bound
    "delete.retention.ms": 86400000,  # 1 day: how long a cleaned tombstone stays readable
}

#: How long the cleaner sleeps between looks at the logs (log.cleaner.backoff.ms).
CLEANER_BACKOFF_MS = 15000

_KEY, _VALUE = 1, 2  # positions in a stored record tuple (timestamp, key, value, headers)


def topic_value(name: str, value):
    """A compaction property's value checked and normalised; ``INVALID_CONFIG`` names what is valid."""
    if name == "cleanup.policy":
        parts = (
            sorted(p.strip() for p in value.split(",") if p.strip())
            if isinstance(value, str)
            else None
        )
        if (
            not parts
            or any(p not in ("compact", "delete") for p in parts)
            or len(set(parts)) != len(parts)
        ):
            raise fail(
                "INVALID_CONFIG",
                f"cleanup.policy must be one of {', '.join(CLEANUP_POLICIES)} (or delete,compact), got {value!r}",
            )
        return ",".join(parts)
    if name == "min.cleanable.dirty.ratio":
        try:
            ratio = float(value)
        except (TypeError, ValueError):
            ratio = -1.0
        if isinstance(value, bool) or not 0.0 <= ratio <= 1.0:
            raise fail(
                "INVALID_CONFIG",
                f"min.cleanable.dirty.ratio expects a number between 0 and 1, got {value!r}",
            )
        return ratio
    try:
        ms = int(value)
    except (TypeError, ValueError):
        ms = -1
    if isinstance(value, bool) or ms < 0:
        raise fail(
            "INVALID_CONFIG", f"topic property {name!r} expects milliseconds >= 0, got {value!r}"
        )
    return ms


def is_compacted(config: dict) -> bool:
    """True when a topic's ``cleanup.policy`` includes ``compact``."""
    return "compact" in config["cleanup.policy"]


def deletes(config: dict) -> bool:
    """True when a topic's ``cleanup.policy`` includes ``delete`` (retention applies)."""
    return "delete" in config["cleanup.policy"]


def roll_seconds(config: dict) -> float:
    """After how many seconds a segment rolls at the next append: ``segment.ms``, capped by
    ``max.compaction.lag.ms`` on a compacted topic so that the cleaner can meet that limit."""
    ms = config["segment.ms"]
    if is_compacted(config):
        ms = min(ms, config["max.compaction.lag.ms"])
    return ms / 1000.0


def record_size(rec: tuple) -> int:
    """Bytes of a stored record as the producer counts them (key, value, header names and values)."""
    size = (len(rec[_KEY]) if rec[_KEY] else 0) + (len(rec[_VALUE]) if rec[_VALUE] else 0)
    if rec[3]:
        size += sum(len(k) + (len(v) if v else 0) for k, v in rec[3])
    return size


class CleanerRun(NamedTuple):
    """One cleaning of one partition."""

    time: float
    topic: str
    partition: int
    start: int  # the log-start offset: cleaning rewrites [start, end)
    end: int  # the first uncleanable offset; the new checkpoint
    removed: int  # records removed, tombstones included
    tombstones_removed: int
    dirty_ratio: float
    reason: str


class Layout(NamedTuple):
    """The parts of a partition the board shows: clean, dirty but not yet cleanable, active."""

    log_start: int
    first_dirty: int  # the cleaner's checkpoint: everything before it has been cleaned
    first_uncleanable: int  # the cleaner may not touch from here (active segment or too young)
    active_base: int  # the active segment starts here
    log_end: int
    clean_bytes: int
    dirty_bytes: int
    dirty_ratio: float


class _State:
    __slots__ = ("checkpoint", "horizons")

    def __init__(self):
        self.checkpoint = 0
        self.horizons: dict = {}  # offset of a cleaned tombstone -> its delete horizon (seconds)


class LogCleaner:
    """The broker's log cleaner: compacts the partitions of every compacted topic on the clock."""

    def __init__(self, broker, sim):
        self._broker = broker
        self._sim = sim
        self._state: dict = {}
        self.runs: list[CleanerRun] = []
        self._started = False

    def start(self) -> None:
        """Start the cleaner's loop on the clock (once; the broker calls it for a compacted topic)."""
        if not self._started:
            self._started = True
            self._sim.env.process(self._loop())

    def _loop(self):
        while True:
            yield self._sim.env.timeout(CLEANER_BACKOFF_MS / 1000.0)
            self.run()

    def _st(self, log) -> _State:
        st = self._state.get((log.topic, log.index))
        if st is None:
            st = self._state[(log.topic, log.index)] = _State()
        if st.checkpoint < log.log_start_offset:  # retention removed what had been cleaned
            st.checkpoint = log.log_start_offset
        if st.checkpoint > log.log_end_offset:  # a new leader truncated the log (replication)
            st.checkpoint = log.log_end_offset
        return st

    def layout(self, topic: str, partition: int) -> Layout:
        """Where the clean, dirty and active parts of a partition start, and the dirty ratio."""
        log = self._broker.topic(topic).partition(partition)
        return self._layout(log, self._sim.now)

    def _layout(self, log, now: float) -> Layout:
        cfg = log.config
        st = self._st(log)
        segs = log.segments()
        active = segs[-1][0]
        young = now - cfg["min.compaction.lag.ms"] / 1000.0
        uncleanable = active
        clean = dirty = 0
        for base, end, size, newest in segs[:-1]:
            if end <= st.checkpoint:
                clean += size
            elif newest > young:  # too young to clean, and so is everything after it
                uncleanable = max(base, st.checkpoint)
                break
            else:
                dirty += size
        txp = self._txns(log)
        if txp is not None:  # never past the first offset of an open transaction (the LSO)
            uncleanable = min(uncleanable, txp.last_stable_offset(log.log_end_offset))
        first_dirty = min(st.checkpoint, uncleanable)
        total = clean + dirty
        return Layout(
            log.log_start_offset,
            first_dirty,
            uncleanable,
            active,
            log.log_end_offset,
            clean,
            dirty,
            dirty / total if total else 0.0,
        )

    def _why(self, log, lay: Layout, now: float) -> str:
        """Why this partition should be cleaned now, or "" when it should not."""
        cfg = log.config
        st = self._st(log)
        if any(h <= now for h in st.horizons.values()):
            return "tombstone delete horizon passed"
        if lay.first_uncleanable <= lay.first_dirty:
            return ""
        # Kafka cleans a log whose dirty ratio is strictly above the minimum
        # (LogCleanerManager: cleanableRatio > minCleanableRatio).
        if lay.dirty_bytes and lay.dirty_ratio > cfg["min.cleanable.dirty.ratio"]:
            return f"dirty ratio {lay.dirty_ratio:.2f} > min.cleanable.dirty.ratio {cfg['min.cleanable.dirty.ratio']:g}"
        oldest = _oldest(log, lay.first_dirty, lay.first_uncleanable)
        if oldest is not None and now - oldest > cfg["max.compaction.lag.ms"] / 1000.0:
            return f"a dirty record waited longer than max.compaction.lag.ms {cfg['max.compaction.lag.ms']}"
        return ""

    def run(self) -> list[CleanerRun]:
        """Look at every compacted partition once and clean those that qualify; return the runs."""
        now = self._sim.now
        done = []
        topics = self._broker.topics
        for name in sorted(topics):
            t = topics[name]
            if not is_compacted(t.config):
                continue
            for log in t.partitions:
                lay = self._layout(log, now)
                why = self._why(log, lay, now)
                if why:
                    done.append(self._clean(log, lay, now, why))
        return done

    def clean_now(self, topic: str, partition: int | None = None) -> list[CleanerRun]:
        """Clean a compacted topic's partitions now, whatever the dirty ratio (as a forced cleaning).

        The active segment and records younger than ``min.compaction.lag.ms``
        are still left alone.
        """
        t = self._broker.topic(topic)
        if not is_compacted(t.config):
            raise ValueError(
                f"topic {topic!r} has cleanup.policy={t.config['cleanup.policy']}; only a topic whose policy "
                f"includes compact is cleaned (one of {', '.join(CLEANUP_POLICIES[1:])})"
            )
        logs = t.partitions if partition is None else [t.partition(partition)]
        now = self._sim.now
        return [self._clean(log, self._layout(log, now), now, "requested") for log in logs]

    def _txns(self, log):
        """The partition's transactions (markers, aborted records), or None when it never had any."""
        txns = getattr(self._sim, "transactions", None)
        return None if txns is None else txns.partitions.get((log.topic, log.index))

    def _clean(self, log, lay: Layout, now: float, why: str) -> CleanerRun:
        cfg = log.config
        st = self._st(log)
        stored = log.stored
        start, end = lay.log_start, lay.first_uncleanable
        txp = self._txns(log)
        markers = txp.markers if txp is not None else {}
        in_txn = txp.records if txp is not None else {}
        # The offset map: for each key in the dirty part, its latest offset there (transaction markers
        # and records of aborted transactions are not values of their key).
        latest: dict = {}
        for o in range(lay.first_dirty, end):
            rec = stored(o)
            if rec is not None and o not in markers:
                txn = in_txn.get(o)
                if txn is None or txn.state != "aborted":
                    latest[rec[_KEY]] = o
        horizon = now + cfg["delete.retention.ms"] / 1000.0
        tombstones = aborted = 0
        gone: list = []
        for o in range(start, end):
            rec = stored(o)
            if rec is None or o in markers:  # markers stay (simplification: Kafka drops them later)
                continue
            txn = in_txn.get(o)
            if txn is not None and txn.state == "aborted":  # never visible to read_committed: gone
                drop, last = True, o
                aborted += 1
            else:
                last = latest.get(rec[_KEY], o)
                drop = o < last
            if not drop and rec[_VALUE] is None:  # the latest record of its key is a tombstone
                h = st.horizons.get(o)
                if h is None:
                    st.horizons[o] = horizon
                elif h <= now:
                    drop = True
                    tombstones += 1
            if drop:
                st.horizons.pop(o, None)
                gone.append(o)
        log.remove(gone)
        removed = len(gone)
        st.checkpoint = max(st.checkpoint, end)
        run = CleanerRun(
            now, log.topic, log.index, start, end, removed, tombstones, lay.dirty_ratio, why
        )
        self.runs.append(run)
        self._sim.journal.write(
            "compacted",
            "cleaner",
            "",
            log.topic,
            log.index,
            start,
            removed,
            f"{why}; cleaned to {end}; tombstones removed {tombstones}"
            + (f"; aborted records removed {aborted}" if aborted else ""),
        )
        return run


def _oldest(log, lo: int, hi: int):
    for o in range(lo, hi):
        rec = log.stored(o)
        if rec is not None:
            return rec[0]
    return None


def latest_values(records) -> dict:
    """The table a reader builds from records in offset order: key -> latest value, tombstones deleting.

    This is what a compacted topic promises to every reader from its start:
    the same table as from the whole uncompacted history.
    """
    table: dict = {}
    for r in records:
        if r.value is None:
            table.pop(r.key, None)
        else:
            table[r.key] = r.value
    return table
