"""librdkafka's local fetch queue: what a consumer has fetched ahead and holds in memory.

A real consumer does not read the log when the application polls. librdkafka's
fetcher keeps asking the partition leader for more while a partition's queue
holds fewer than ``queued.min.messages`` records and the consumer's queue holds
fewer than ``queued.max.messages.kbytes`` KiB; each Fetch request brings at most
``fetch.message.max.bytes`` (alias ``max.partition.fetch.bytes``) per partition
and ``fetch.max.bytes`` in all, and at least one record, so a record larger
than the limits still comes (librdkafka's CONFIGURATION.md: the queue "may be
overshot by fetch.message.max.bytes"). ``poll()`` and ``consume()`` then hand
out records from that queue, a partition's fetched records as one run before
the next partition's (librdkafka's consumer queue holds each fetch's records
partition after partition; the conformance program ``poll_runs`` shows it on a
real broker). The backlog of a slow consumer is therefore partly
in its memory, up to those limits: with the defaults up to 100,000 records per
partition or 64 MiB.

What the simulator does and where it simplifies:

* fetching takes no virtual time and happens inside ``poll``/``consume`` (and
  the service layer's polls), before records are handed out; nothing changes
  between polls, so a figure read between polls is the queue as the last poll
  left it;
* one Fetch request per round covers every fetchable partition of the consumer
  (there is one leader per partition here, and the rounds repeat until no
  partition may fetch or nothing is left to fetch);
* ``queued.min.messages`` counts per partition and ``queued.max.messages.kbytes``
  the whole consumer, as the documentation of the high-level consumer says;
* the queue's bytes are what librdkafka counts in ``fetchq_size``: the value's
  length per record (``rko_len`` is the payload length); the fetch limits count
  key, value and headers plus the record overhead the producer also counts;
* ``fetch.min.bytes`` (default 1) and ``fetch.wait.max.ms`` (default 500): the
  broker holds a Fetch until the partitions asked for have ``fetch.min.bytes``
  to send or the wait is over, then answers with what it has; with the default
  of one byte it answers as soon as there is a record;
* ``pause()`` empties the partition's queue and ``resume()`` fetches again from
  the position (librdkafka bumps the partition's op version on pause, which makes
  every record already fetched outdated, and sets the next fetch offset to the
  application's position);
* ``fetch.queue.backoff.ms`` (librdkafka 2.2 and later; default 1,000, range 0 to
  300,000, 0 for none): when the fetcher finds a partition's queue at
  ``queued.min.messages`` or the consumer at ``queued.max.messages.kbytes``, it
  does not fetch that partition again for that long, however soon the
  application empties the queue (``rd_kafka_toppar_fetch_decide`` in
  librdkafka's ``rdkafka_fetcher.c``); a queue still at its limits when the
  backoff ends starts another one there. With low limits a fast consumer
  therefore waits up to that long between bursts of records (the "~1s delays"
  of CONFIGURATION.md). A seek, an assignment or an offset reset starts the
  partition's fetch over and ends its backoff (librdkafka clears it when the
  fetch state becomes active again); ``pause()`` and ``resume()`` leave it, so a
  partition resumed inside its backoff waits for its end. A poll that waits
  wakes when a backoff ends. Where it simplifies: librdkafka decides in its
  fetcher thread, the simulator when a poll fetches and when a poll drains a
  queue below its limits (the backoffs that ended in between are renewed window
  by window, as the fetcher would have renewed them); the statistics have no
  field for a backoff, and neither does ``Consumer.stats()``.

:class:`PartitionQueue` is one partition's queue; the consumer
(:mod:`eda_sim.kafka.consumer`) decides when to fill it and hands out from it.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from itertools import accumulate, repeat

from eda_sim.kafka.message import Message

#: Bytes a stored record takes in a fetch response besides key, value and headers (the
#: overhead the producer counts against ``message.max.bytes``).
RECORD_OVERHEAD = 36

#: Records read from the log at a time while a fetch sizes its response.
_READ_CHUNK = 4096

#: librdkafka's ``message.max.bytes`` default: an explicit ``fetch.max.bytes`` must be at least
#: this, and the default ``fetch.max.bytes`` is raised to it.
MESSAGE_MAX_BYTES = 1000000


def effective_fetch_max_bytes(config: dict, explicit: bool) -> int:
    """``fetch.max.bytes`` as librdkafka finalises it for a consumer.

    Set by the application it must be at least ``message.max.bytes``
    (1,000,000; librdkafka refuses the configuration otherwise). Left at its
    default it is lowered to ``queued.max.messages.kbytes`` and raised to
    ``message.max.bytes``.
    """
    value = config["fetch.max.bytes"]
    if explicit:
        if value < MESSAGE_MAX_BYTES:
            from eda_sim.core.errors import fail

            raise fail(
                "_INVALID_ARG",
                "Failed to create consumer: `fetch.max.bytes` must be >= `message.max.bytes` "
                f"({value} < {MESSAGE_MAX_BYTES})",
            )
        return value
    return max(min(value, config["queued.max.messages.kbytes"] * 1024), MESSAGE_MAX_BYTES)


class PartitionQueue:
    """One partition's fetched records, in offset order, not yet handed to the application.

    ``end`` is the next offset to fetch (librdkafka's ``next_offset``); the
    records held are ``recs[head:]`` (the stored tuples, shared with the log:
    holding them costs a pointer each, and a :class:`Message` is made only when
    one is handed out) at offsets ``offs[head:]``; ``cum[i]`` is the value bytes
    of ``recs[:i]``, so the bytes held are ``cum[-1] - cum[head]``. ``gaps``
    says whether the offsets held skip some (transaction markers, aborted
    records under ``read_committed``, compaction's holes).
    """

    __slots__ = ("recs", "offs", "head", "cum", "end", "gaps", "rxmsgs", "rxbytes")

    def __init__(self, end: int):
        self.recs: list = []
        self.offs: list = []
        self.head = 0
        self.cum: list = [0]
        self.end = end
        self.gaps = False
        self.rxmsgs = 0  # records fetched into the queue, ever (librdkafka's rxmsgs)
        self.rxbytes = 0

    @property
    def count(self) -> int:
        """Records held (``fetchq_cnt``)."""
        return len(self.recs) - self.head

    @property
    def nbytes(self) -> int:
        """Value bytes held (``fetchq_size``)."""
        return self.cum[-1] - self.cum[self.head]

    def clear(self, end: int) -> int:
        """Drop everything held and fetch next from ``end``; return the bytes dropped."""
        dropped = self.nbytes
        self.recs = []
        self.offs = []
        self.head = 0
        self.cum = [0]
        self.end = end
        self.gaps = False
        return dropped

    def fill(self, log, stop: int, limit: int, force_one: bool, txp, rc) -> tuple[int, int]:
        """Fetch from ``end`` up to offset ``stop``, at most ``limit`` wire bytes (one record at least
        when ``force_one``). Return ``(wire bytes, value bytes)`` fetched.

        ``txp`` is the partition's transaction state (None when no transaction
        ever wrote there) and ``rc`` the read_committed flag: markers, and
        aborted records under read_committed, are skipped as the client does.
        """
        start = self.end
        wire_total = 0
        value_total = 0
        cum = self.cum
        while start < stop:
            n = min(stop - start, _READ_CHUNK)
            recs = log.read(start, n)
            # hot path: per record, its size on the wire (key, value, headers, overhead)
            sizes = [
                (len(r[1]) if r[1] else 0)
                + (len(r[2]) if r[2] else 0)
                + (_header_bytes(r[3]) if r[3] else 0)
                + RECORD_OVERHEAD
                if r is not None
                else 0
                for r in recs
            ]
            wire = list(accumulate(sizes))
            k = bisect_right(wire, limit - wire_total)
            if k == 0 and force_one and not wire_total:
                k = 1  # the first record comes even when larger than the limit: the consumer progresses
            if k == 0:
                break
            if k < n:
                recs = recs[:k]
            offs = range(start, start + k)
            if log.sparse or txp is not None:
                kept = [
                    (o, r)
                    for o, r in zip(offs, recs)
                    if r is not None and (txp is None or txp.visible(o, rc))
                ]
                if len(kept) != k:
                    self.gaps = True
                offs = [o for o, _ in kept]
                recs = [r for _, r in kept]
            before = cum[-1]
            values = accumulate(
                [len(r[2]) if r[2] else 0 for r in recs],  # hot path: per record
                initial=before,
            )
            next(values)
            cum.extend(values)
            self.recs.extend(recs)
            self.offs.extend(offs)
            wire_total += wire[k - 1]
            value_total += cum[-1] - before
            self.rxmsgs += len(recs)
            start += k
            if k < n:
                break
        self.end = start
        self.rxbytes += value_total
        return wire_total, value_total

    def take(self, topic: str, part: int, pos: int, take: int) -> tuple[list, int]:
        """Hand out the records at offsets ``pos .. pos + take - 1`` as messages; return them and their value bytes."""
        head = self.head
        offs = self.offs
        if self.gaps:
            k = bisect_left(offs, pos + take, head)
        else:
            k = head + take
        n = k - head
        out = list(map(Message, repeat(topic, n), repeat(part, n), offs[head:k], self.recs[head:k]))
        cum = self.cum
        nbytes = cum[k] - cum[head]
        if k >= len(offs):
            self.recs = []
            self.offs = []
            self.cum = [0]
            self.head = 0
            # offsets fetched past the last record (markers, aborted records) are still to be passed
            self.gaps = self.end > pos + take
        else:
            self.head = k
            if k > 65536 and k * 2 > len(offs):
                self.compact()
        return out, nbytes

    def compact(self) -> None:
        """Forget what was handed out, so a long-lived queue does not keep every record it ever held."""
        k = self.head
        base = self.cum[k]
        self.cum = [c - base for c in self.cum[k:]]
        del self.recs[:k]
        del self.offs[:k]
        self.head = 0


def wire_size(rec) -> int:
    """A stored record's size in a fetch response: key, value, headers and the record overhead."""
    return (
        (len(rec[1]) if rec[1] else 0)
        + (len(rec[2]) if rec[2] else 0)
        + (_header_bytes(rec[3]) if rec[3] else 0)
        + RECORD_OVERHEAD
    )


def _header_bytes(headers) -> int:
    return sum(len(k) + (len(v) if v else 0) for k, v in headers)
