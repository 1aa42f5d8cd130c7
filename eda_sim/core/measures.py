"""The one definition of each number the course shows: lag above all.

Every table, chart, picture, alert and autoscaler that shows or acts on one of
these numbers calls the function here, so a learner never watches one figure
while the system acts on another.
"""

from __future__ import annotations

__all__ = ["group_lag", "lag", "readable_end", "replayed_group_lag"]


def lag(log_start: int, log_end: int, committed: int | None) -> int:
    """Consumer lag of one partition for one group: records it has not committed yet.

    Kafka's meaning, as ``kafka-consumer-groups --describe`` and lag exporters
    compute it: ``log_end - committed``. Two cases need a rule:

    * **Nothing committed yet.** ``kafka-consumer-groups`` prints "-". Here lag
      counts from the log start (``log_end - log_start``): the whole retained
      backlog is ahead of the group, which is what it will read under
      ``auto.offset.reset=earliest`` (under ``latest`` it will skip it).
    * **The committed offset has fallen below the log start** (retention
      deleted records the group never read). Kafka still reports
      ``log_end - committed``, and so does this function: the records between
      the committed offset and the log start are counted although they are
      gone. When the group next fetches, its offset is out of range and
      ``auto.offset.reset`` decides: ``earliest`` reads ``log_end - log_start``
      records, ``latest`` reads none. The difference was lost to retention.

    Never negative: a committed offset past the log end counts as 0.

    **Which end.** ``log_end`` is the end the reporter measures against, and
    on a topic with transactions two tools disagree (see :func:`readable_end`):
    ``kafka-consumer-groups`` lists offsets with ``read_uncommitted`` and
    counts to the high watermark, commit and abort markers and records of
    open or aborted transactions included, so a group that has read all it
    can read may still show lag; librdkafka's ``consumer_lag`` statistic
    counts to the last stable offset when the consumer is ``read_committed``
    (its default) and to the high watermark when it is ``read_uncommitted``.
    """
    base = log_start if committed is None else committed
    return max(0, log_end - base)


def readable_end(sim, topic: str, partition: int, isolation_level: str = "read_uncommitted") -> int:
    """The end a reader at ``isolation_level`` reads up to: the high watermark, or the last stable offset.

    ``read_uncommitted`` (what ``kafka-consumer-groups`` uses for lag) stops
    at the high watermark; ``read_committed`` at the last stable offset, the
    first offset of the oldest transaction still open there.
    """
    if isolation_level == "read_committed":
        return sim.transactions.last_stable_offset(topic, partition)
    if isolation_level != "read_uncommitted":
        raise ValueError(
            f"isolation_level must be read_committed or read_uncommitted, got {isolation_level!r}"
        )
    return sim.topic(topic).partitions[partition].log_end_offset


def group_lag(sim, group_id: str, topics, isolation_level: str = "read_uncommitted") -> int:
    """A group's total :func:`lag` over every partition of ``topics``, from the broker's state now.

    ``read_uncommitted`` (the default) is ``kafka-consumer-groups``' figure;
    ``read_committed`` is librdkafka's ``consumer_lag`` for a read_committed
    consumer (see :func:`lag`).
    """
    group = sim.groups.get(group_id)
    committed = group.committed if group is not None else {}
    total = 0
    for name in topics:
        for log in sim.topic(name).partitions:
            end = (
                log.log_end_offset
                if isolation_level == "read_uncommitted"
                else readable_end(sim, name, log.index, isolation_level)
            )
            total += lag(log.log_start_offset, end, committed.get((name, log.index)))
    return total


def replayed_group_lag(state, group: str, topics) -> int:
    """A group's total :func:`lag` over ``topics``, from a replayed journal state (:mod:`eda_sim.core.replay`)."""
    total = 0
    for topic in topics:
        for p in range(state.partitions.get(topic, 0)):
            tp = (topic, p)
            total += lag(
                state.log_start.get(tp, 0),
                state.log_end.get(tp, 0),
                state.committed.get((group, topic, p)),
            )
    return total


def throughput(count, seconds):
    """Records (or events) per second over a span of ``seconds`` of virtual time.

    A chart's last bucket is usually partial (the clock stopped inside it), so
    its count is divided by its own width, not the bucket size: a half-full
    bucket then reads the same rate, not half of it. Works on numbers and on
    numpy arrays alike.
    """
    return count / seconds


def latency(produced_at, finished_at):
    """End-to-end latency: from the moment a record was produced to the moment a service finished it.

    The record's produce time is its timestamp (what the producer stamped);
    the finish is the span's end. So it includes time waiting in the log
    (lag), not only handling. Works on numbers and on numpy arrays alike.
    """
    return finished_at - produced_at
