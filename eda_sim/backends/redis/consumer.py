"""A ``Consumer`` in confluent-kafka's shape on a Redis consumer group: partitions leased per member, ``XREADGROUP``, ``XACK`` as the commit, claims after a crash."""

from __future__ import annotations

import os
import threading
import time
from collections import deque

from eda_sim.backends.redis.admin import TopicCache, cluster_metadata, create_topic
from eda_sim.backends.redis.config import CONSUMER_SCHEMA, resolve_config
from eda_sim.backends.redis.connection import (
    connect,
    redis_errors,
    resolve_url,
    safe_url,
    transport_error,
)
from eda_sim.backends.redis.entries import (
    MalformedEntry,
    RedisMessage,
    decode_entry,
    encode_headers,
    error_message,
    raw_fields_json,
    wall_ms,
    xadd_args,
)
from eda_sim.backends.redis.keys import (
    H_DELIVERIES,
    H_RAW,
    META_PREFIX,
    entry_after,
    entry_id_to_offset,
    id_str,
    offset_to_entry_id,
    stream_key,
)
from eda_sim.core.errors import KafkaException, fail
from eda_sim.kafka.admin import ClusterMetadata
from eda_sim.kafka.consumer import check_subscription
from eda_sim.kafka.message import (
    OFFSET_BEGINNING,
    OFFSET_END,
    OFFSET_INVALID,
    TopicPartition,
)
from eda_sim.services.retries import (
    DLT_SUFFIX,
    dead_letter_headers,
)

# ----------------------------------------------------------------------------- consumer


_HEARTBEAT = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('PEXPIRE', KEYS[1], ttl * 4)
return redis.call('ZRANGE', KEYS[1], 0, -1)
"""

# Modes per lease key: 'want' acquires or renews, 'keep' only renews, 'drop' releases.
_LEASES = """
local me, ttl = ARGV[1], tonumber(ARGV[2])
local out = {}
for i, key in ipairs(KEYS) do
  local mode = ARGV[i + 2]
  local holder = redis.call('GET', key)
  if holder == me then
    if mode == 'drop' then redis.call('DEL', key); out[i] = 0
    else redis.call('PEXPIRE', key, ttl); out[i] = 1 end
  elseif holder == false and mode == 'want' then
    redis.call('SET', key, me, 'PX', ttl); out[i] = 1
  else
    out[i] = 0
  end
end
return out
"""

_consumer_seq = 0
_seq_lock = threading.Lock()


def _next_consumer_number() -> int:
    global _consumer_seq
    with _seq_lock:
        _consumer_seq += 1
        return _consumer_seq


class _Stream:
    __slots__ = ("topic", "partition", "key", "lease")

    def __init__(self, topic, partition, group):
        self.topic = topic
        self.partition = partition
        self.key = stream_key(topic, partition)
        self.lease = f"{META_PREFIX}group:{group}:lease:{self.key}"


class Consumer:
    """A consumer group member on Redis, shaped like ``confluent_kafka.Consumer``.

    The usual keys work (``group.id``, ``auto.offset.reset``,
    ``enable.auto.commit``, ``auto.commit.interval.ms``,
    ``enable.auto.offset.store``, ``session.timeout.ms``,
    ``heartbeat.interval.ms``, ``on_commit``), plus:

    * ``redis.partition.ownership``: ``"leased"`` (default) or ``"shared"``
      (see the module doc);
    * ``redis.claim.idle.ms`` (default 30000): claim entries pending that
      long (a dead or stuck member's);
    * ``group.instance.id``: a fixed member name (Kafka's static membership);
      a member restarted under the same name gets its own pending entries
      back at once;
    * ``socket.timeout.ms`` (default 2000): the bound on connecting and on
      every reply.

    Leases and heartbeats are renewed inside ``poll``/``consume`` (there is no
    background thread), so ``session.timeout.ms`` also bounds the time
    between polls. Auto-commit acks what earlier polls returned, at a poll
    after ``auto.commit.interval.ms`` and on ``close``.
    ``partition.assignment.strategy`` is accepted and ignored: partitions are
    shared round-robin by member index, and all members of a group are
    expected to subscribe to the same topics.
    """

    def __init__(self, config: dict | None = None):
        cfg = self._config = resolve_config(config, CONSUMER_SCHEMA, "consumer")
        self._url = resolve_url(cfg["bootstrap.servers"])
        self._r = connect(self._url, cfg["socket.timeout.ms"])
        self._r._eda_url = self._url
        self._meta = TopicCache(self._r, self._url)
        self.group_id = cfg["group.id"]
        self.client_id = cfg["client.id"]
        fixed = cfg["group.instance.id"]
        self.name = fixed or f"{self.client_id}-{os.getpid()}-{_next_consumer_number()}"
        self._static = fixed is not None
        self._leased = cfg["redis.partition.ownership"] == "leased"
        self._claim_idle = cfg["redis.claim.idle.ms"]
        self._session = cfg["session.timeout.ms"]
        self._hb_every = min(cfg["heartbeat.interval.ms"], self._session / 3) / 1000.0
        self._claim_every = max(min(self._claim_idle / 2, 1000), 20) / 1000.0
        self._block_max = max(0.01, min(0.5, cfg["socket.timeout.ms"] / 4000.0, self._hb_every))
        self._autocommit = cfg["enable.auto.commit"]
        self._autocommit_every = cfg["auto.commit.interval.ms"] / 1000.0
        self._autostore = cfg["enable.auto.offset.store"]
        self._members_key = f"{META_PREFIX}group:{self.group_id}:members" if self.group_id else None
        self._heartbeat_script = self._r.register_script(_HEARTBEAT)
        self._lease_script = self._r.register_script(_LEASES)
        self._subscription: list = []
        self._streams: list = []  # _Stream, sorted by (topic, partition)
        self._by_key: dict = {}
        self._callbacks = (None, None, None)
        self._joined = False
        self._held: set = set()  # stream keys whose lease this member holds
        self._owned: set = set()  # stream keys it may read new entries from
        self._blocked: set = set()  # owned, but another member's pending entries come first
        self._buffer: deque = deque()  # fetched, not yet handed out
        self._outstanding: dict = {}  # stream key -> {entry id: message} handed out, not acknowledged
        self._stored: dict = {}  # stream key -> {entry id: offset} marked processed, to ack on commit()
        self._positions: dict = {}
        self._errors: list = []
        self._last_hb = -1e9
        self._last_claim = -1e9
        self._last_commit = time.monotonic()
        self._rr = 0
        self._closed = False
        self.delivered_total = 0
        self.claimed_total = 0
        self.dead_lettered_total = 0

    def __repr__(self) -> str:
        return f"<redis Consumer {self.name} group={self.group_id!r} {safe_url(self._url)}>"

    # -- subscription --------------------------------------------------------------

    def subscribe(self, topics, on_assign=None, on_revoke=None, on_lost=None) -> None:
        """Subscribe to topics; the member joins (creating the groups on the streams) on the next poll."""
        self._check_usable()
        check_subscription(topics, self.group_id)
        streams = []
        for t in sorted(set(topics)):
            n = self._meta.get(t)[
                0
            ]  # an unknown topic is an error now, naming the topics there are
            streams += [_Stream(t, p, self.group_id) for p in range(n)]
        if self._joined:
            self._leave()
        self._subscription = sorted(set(topics))
        self._streams = streams
        self._by_key = {s.key: s for s in streams}
        self._callbacks = (on_assign, on_revoke, on_lost)

    def unsubscribe(self) -> None:
        """Leave the group and drop the subscription."""
        self._check_usable()
        self._leave()
        self._subscription, self._streams, self._by_key = [], [], {}

    def assignment(self) -> list[TopicPartition]:
        """The partitions this member reads now (leased: those it holds; shared: all, once joined)."""
        self._check_usable()
        return [TopicPartition(s.topic, s.partition) for s in self._streams if s.key in self._owned]

    def memberid(self) -> str:
        """This member's consumer name in the Redis groups."""
        return self.name

    # -- for the service runner (RedisService) ------------------------------------------

    @property
    def redis(self):
        """The Redis client this consumer talks through."""
        return self._r

    @property
    def topic_cache(self) -> TopicCache:
        """The cached topic metadata (partition counts) of this consumer's server."""
        return self._meta

    # -- polling ---------------------------------------------------------------------

    def poll(self, timeout: float | None = None) -> RedisMessage | None:
        """One message (or an error event), or None if none arrives within ``timeout`` seconds."""
        out = self.consume(1, -1 if timeout is None else timeout)
        return out[0] if out else None

    def consume(self, num_messages: int = 1, timeout: float = -1) -> list:
        """Up to ``num_messages`` messages, waiting at most ``timeout`` seconds (-1: until any arrive)."""
        if (
            isinstance(num_messages, bool)
            or not isinstance(num_messages, int)
            or not 1 <= num_messages <= 1000000
        ):
            raise ValueError(
                f"num_messages must be an integer from 1 to 1000000, got {num_messages!r}"
            )
        self._check_usable()
        if not self._streams:
            return []  # nothing subscribed: nothing can arrive
        if timeout is None or timeout < 0:
            timeout = float("inf")
        deadline = time.monotonic() + timeout
        tried = False
        while True:
            self.maintain()
            if self._errors:
                return [self._errors.pop(0)]
            if self._buffer:
                return self._hand_out(num_messages)
            remaining = deadline - time.monotonic()
            if tried and remaining <= 0:
                return []
            tried = True
            self._read(num_messages, max(0.0, min(remaining, self._block_max)))

    def _hand_out(self, n: int) -> list:
        out = []
        buffer = self._buffer
        while buffer and len(out) < n:
            m = buffer.popleft()
            key = m.stream()
            self._outstanding.setdefault(key, {})[m.entry_id()] = m
            if self._autostore:
                self._stored.setdefault(key, {})[m.entry_id()] = m.offset()
            self._positions[key] = m.offset() + 1
            out.append(m)
        self.delivered_total += len(out)
        return out

    def maintain(self) -> None:
        """Heartbeat and renew this member's partition leases now (called while a batch is handled)."""
        now = time.monotonic()
        try:
            if not self._joined:
                self._join()
                if not self._joined:
                    return  # a group is missing under auto.offset.reset=none: the error event says so
            if now - self._last_hb >= self._hb_every:
                self._heartbeat()
            if self._autocommit and now - self._last_commit >= self._autocommit_every:
                self._last_commit = now
                self._commit_stored(asynchronous=True)
            if now - self._last_claim >= self._claim_every:
                self._claim()
        except redis_errors() as err:
            raise transport_error(self._url, err, "talk to") from None

    def _join(self) -> None:
        from redis.exceptions import ResponseError

        policy = self._config["auto.offset.reset"]
        start = "$" if policy == "latest" else "0"
        if policy == "none":
            self._errors = []  # report each missing group once per attempt to join, not once per poll
        pipe = self._r.pipeline(transaction=False)
        for s in self._streams:
            if policy == "none":
                pipe.xinfo_groups(s.key)
            else:
                pipe.xgroup_create(s.key, self.group_id, id=start, mkstream=True)
        replies = pipe.execute(raise_on_error=False)
        for s, reply in zip(self._streams, replies):
            if policy == "none":
                names = [] if isinstance(reply, Exception) else [g["name"].decode() for g in reply]
                if self.group_id not in names:
                    self._errors.append(
                        error_message(
                            "_AUTO_OFFSET_RESET",
                            (
                                f"{s.topic}-{s.partition}: group {self.group_id!r} has no position on stream {s.key} and "
                                "auto.offset.reset is none; create the group (earliest/latest) first"
                            ),
                        )
                    )
            elif isinstance(reply, ResponseError) and "BUSYGROUP" not in str(reply):
                raise reply
        if self._errors:
            return
        self._joined = True
        self._last_hb = -1e9
        if self._static:  # static membership: take back this name's own pending entries at once
            self._recover_own()

    def _recover_own(self) -> None:
        streams = {s.key: "0" for s in self._streams}
        while streams:
            got = self._r.xreadgroup(self.group_id, self.name, streams, count=500)
            done = set(streams)
            for raw_key, entries in got or ():
                key = raw_key.decode()
                real = [(i, f) for i, f in entries if f]
                if real:
                    streams[key] = id_str(real[-1][0])
                    done.discard(key)
                    self._accept(
                        self._by_key[key], real, self._delivery_counts(key, real), claimed=True
                    )
            for key in done:
                streams.pop(key, None)

    def _heartbeat(self) -> None:
        self._last_hb = time.monotonic()
        if not self._leased:
            newly = {s.key for s in self._streams} - self._owned
            self._owned |= newly
            self._held = set(self._owned)
            if newly:
                self._assigned(newly)
            return
        members = sorted(
            m.decode()
            for m in self._heartbeat_script(
                keys=[self._members_key], args=[self.name, self._session]
            )
        )
        if self.name not in members:  # pragma: no cover - only if the server dropped our own write
            members = sorted(members + [self.name])
        index, count = members.index(self.name), len(members)
        desired = {s.key for j, s in enumerate(self._streams) if j % count == index}
        modes = []
        for s in self._streams:
            if s.key in desired:
                modes.append("want")
            elif self._unacked(s.key):
                modes.append("keep")
            else:
                modes.append("drop")
        got = self._lease_script(
            keys=[s.lease for s in self._streams], args=[self.name, self._session, *modes]
        )
        held = {s.key for s, ok in zip(self._streams, got) if ok}
        before = self._held
        self._held = held
        self._owned = held & desired
        gained = held - before
        released = {k for k in before - held if k not in desired and not self._unacked(k)}
        lost = before - held - released
        if gained:
            self._blocked |= gained
            self._check_blocked()
            self._assigned(gained)
        if released and self._callbacks[1] is not None:
            self._callbacks[1](self, self._tps(released))
        if lost:
            cb = self._callbacks[2] or self._callbacks[1]
            if cb is not None:
                cb(self, self._tps(lost))

    def _assigned(self, keys: set) -> None:
        if self._callbacks[0] is not None:
            self._callbacks[0](self, self._tps(keys))

    def _tps(self, keys) -> list:
        return [TopicPartition(s.topic, s.partition) for s in self._streams if s.key in keys]

    def _unacked(self, key: str) -> int:
        return len(self._outstanding.get(key, ())) + sum(
            1 for m in self._buffer if m.stream() == key
        )

    def _check_blocked(self) -> None:
        """Unblock owned streams in which no other member has entries pending."""
        if not self._blocked:
            return
        keys = sorted(self._blocked)
        pipe = self._r.pipeline(transaction=False)
        for key in keys:
            pipe.xpending(key, self.group_id)
        for key, summary in zip(keys, pipe.execute()):
            others = [
                c
                for c in summary.get("consumers") or ()
                if c["name"].decode() != self.name and c["pending"]
            ]
            if not others:
                self._blocked.discard(key)

    def _claim(self) -> None:
        """Claim entries pending longer than redis.claim.idle.ms in the streams this member owns.

        ``XPENDING ... IDLE`` lists them with their owners and delivery counts;
        ``XCLAIM`` (which checks the idle time again, atomically) takes them.
        XAUTOCLAIM would do both in one call but cannot leave out the entries
        this member is still working on itself: it would claim those too,
        raising their delivery counts (which dead-lettering counts on).
        """
        self._last_claim = time.monotonic()
        keys = sorted(self._owned)
        if not keys:
            return
        pipe = self._r.pipeline(transaction=False)
        for key in keys:
            pipe.xpending_range(key, self.group_id, "-", "+", 200, idle=self._claim_idle)
        listed = pipe.execute()
        mine = {(m.stream(), m.entry_id()) for m in self._buffer}
        mine.update((key, i) for key, held in self._outstanding.items() for i in held)
        todo = []
        for key, rows in zip(keys, listed):
            wanted = {id_str(r["message_id"]): r["times_delivered"] + 1 for r in rows}
            wanted = {i: n for i, n in wanted.items() if (key, i) not in mine}
            if wanted:
                todo.append((key, wanted))
        if todo:
            pipe = self._r.pipeline(transaction=False)
            for key, wanted in todo:
                pipe.xclaim(key, self.group_id, self.name, self._claim_idle, list(wanted))
            fresh = deque()
            for (key, wanted), entries in zip(todo, pipe.execute()):
                entries = [
                    (i, f) for i, f in entries if f
                ]  # an entry deleted meanwhile has no fields
                fresh.extend(
                    self._accept(self._by_key[key], entries, wanted, claimed=True, into=None)
                )
            self._buffer.extendleft(
                reversed(fresh)
            )  # older than anything read with '>': handed out first
        self._check_blocked()

    def _delivery_counts(self, key: str, entries) -> dict:
        """Entry id -> delivery count (XPENDING) for entries this member holds."""
        rows = self._r.xpending_range(
            key,
            self.group_id,
            min=id_str(entries[0][0]),
            max=id_str(entries[-1][0]),
            count=len(entries) + 100,
            consumername=self.name,
        )
        return {id_str(r["message_id"]): r["times_delivered"] for r in rows}

    def _read(self, n: int, block: float) -> None:
        from redis.exceptions import ResponseError

        readable = [s for s in self._streams if s.key in self._owned and s.key not in self._blocked]
        if not readable:
            time.sleep(block)
            return
        start = self._rr % len(readable)
        self._rr += 1
        order = readable[start:] + readable[:start]
        block_ms = int(block * 1000)
        try:
            got = self._r.xreadgroup(
                self.group_id,
                self.name,
                {s.key: ">" for s in order},
                count=n,
                block=block_ms if block_ms > 0 else None,
            )
        except ResponseError as err:
            if "NOGROUP" in str(err):  # the stream or its group was deleted: create them again
                self._joined = False
                return
            raise transport_error(self._url, err, "read from") from None
        except redis_errors() as err:
            raise transport_error(self._url, err, "read from") from None
        for raw_key, entries in got or ():
            self._accept(self._by_key[raw_key.decode()], entries, None)

    def _accept(self, s: _Stream, entries, deliveries, claimed=False, into="buffer"):
        """Decode entries into messages; dead-letter malformed ones. Returns the messages if ``into`` is None."""
        out = []
        bad = []
        for raw_id, fields in entries:
            entry_id = id_str(raw_id)
            count = deliveries.get(entry_id, 2) if deliveries is not None else (2 if claimed else 1)
            try:
                ts, key, value, headers = decode_entry(fields)
            except MalformedEntry as err:
                bad.append((entry_id, fields, str(err), count))
                continue
            out.append(RedisMessage(s.topic, s.partition, entry_id, ts, key, value, headers, count))
        if claimed:
            self.claimed_total += len(out)
        if bad:
            self._dead_letter_malformed(s, bad)
        if into is None:
            return out
        self._buffer.extend(out)
        return None

    def _dead_letter_malformed(self, s: _Stream, bad: list) -> None:
        target = s.topic + DLT_SUFFIX
        n = create_topic(self._r, target, self._meta.get(s.topic)[0], exist_ok=True)
        pipe = self._r.pipeline(transaction=True)
        for entry_id, fields, reason, count in bad:
            fields = fields or {}
            try:
                ts = int(fields.get(b"timestamp"))
            except (TypeError, ValueError):
                ts = wall_ms()
            headers = [
                *dead_letter_headers(
                    s.topic, s.partition, entry_id, ts, self.group_id, MalformedEntry, reason, 0
                ),
                (H_DELIVERIES, str(count)),
                (H_RAW, raw_fields_json(fields)[:4000]),
            ]
            value = fields.get(b"value") if isinstance(fields.get(b"value"), bytes) else None
            key = fields.get(b"key") if isinstance(fields.get(b"key"), bytes) else None
            p = s.partition if s.partition < n else 0
            pipe.execute_command(
                *xadd_args(
                    stream_key(target, p),
                    None,
                    ts,
                    key,
                    value,
                    encode_headers([(k, v.encode()) for k, v in headers]),
                )
            )
            pipe.xack(s.key, self.group_id, entry_id)
        pipe.execute()
        self.dead_lettered_total += len(bad)

    # -- acknowledgements ------------------------------------------------------------

    def commit(self, message=None, offsets=None, asynchronous: bool = True):
        """Acknowledge entries (``XACK``): a message's entry, those below explicit offsets, or all stored.

        Returns, when synchronous, one ``TopicPartition`` per partition with
        the highest acknowledged offset + 1; an asynchronous commit returns
        None and reports to ``on_commit``. Redis accepts an ack from any
        member, even one whose lease moved (nothing fences a zombie's ack).
        """
        self._check_usable()
        if message is not None and offsets is not None:
            raise ValueError("commit() takes message or offsets, not both")
        if message is not None:
            if message.error() is not None:
                raise ValueError(
                    "cannot commit an error event; commit a message that carries a record"
                )
            entry = (
                message.entry_id()
                if isinstance(message, RedisMessage)
                else offset_to_entry_id(message.offset())
            )
            todo = {
                stream_key(message.topic(), message.partition()): {entry: entry_id_to_offset(entry)}
            }
        elif offsets is not None:
            todo = {}
            for tp in offsets:
                if not isinstance(tp, TopicPartition) or tp.offset < 0:
                    raise ValueError(
                        f"commit(offsets=...) expects TopicPartitions with offsets >= 0, got {tp!r}"
                    )
                key = stream_key(tp.topic, tp.partition)
                below = {
                    i: m.offset()
                    for i, m in self._outstanding.get(key, {}).items()
                    if m.offset() < tp.offset
                }
                if below:
                    todo.setdefault(key, {}).update(below)
        else:
            todo = {k: dict(v) for k, v in self._stored.items() if v}
            if not todo:
                raise fail(
                    "_NO_OFFSET",
                    "nothing to commit: no entries stored as processed since the last commit",
                )
        return self._ack(todo, asynchronous)

    def _commit_stored(self, asynchronous: bool):
        todo = {k: dict(v) for k, v in self._stored.items() if v}
        if todo:
            return self._ack(todo, asynchronous)
        return None

    def _ack(self, todo: dict, asynchronous: bool):
        keys = sorted(todo)
        pipe = self._r.pipeline(transaction=False)
        for key in keys:
            pipe.xack(key, self.group_id, *todo[key])
        try:
            pipe.execute()
        except redis_errors() as err:
            exc = transport_error(self._url, err, "acknowledge entries on")
            if not asynchronous:
                raise exc from None
            if self._config["on_commit"]:
                self._config["on_commit"](exc.error, [])
            return None
        parts = []
        for key in keys:
            self.settle(key, todo[key])
            s = self._by_key.get(key)
            topic, _, part = key.rpartition(":")
            parts.append(
                TopicPartition(
                    s.topic if s else topic,
                    s.partition if s else int(part),
                    max(todo[key].values()) + 1,
                )
            )
        if self._config["on_commit"]:
            self._config["on_commit"](None, parts)
        return None if asynchronous else parts

    def settle(self, key: str, entry_ids) -> None:
        """Forget entries acknowledged (here or by a script) or put back for redelivery."""
        out = self._outstanding.get(key)
        stored = self._stored.get(key)
        for i in entry_ids:
            if out:
                out.pop(i, None)
            if stored:
                stored.pop(i, None)

    def store_offsets(self, message=None, offsets=None) -> None:
        """Mark entries processed for the next ``commit()``: a message's entry, or those below each offset."""
        self._check_usable()
        if message is not None:
            key = stream_key(message.topic(), message.partition())
            entry = (
                message.entry_id()
                if isinstance(message, RedisMessage)
                else offset_to_entry_id(message.offset())
            )
            self._stored.setdefault(key, {})[entry] = entry_id_to_offset(entry)
        for tp in offsets or ():
            key = stream_key(tp.topic, tp.partition)
            for i, m in self._outstanding.get(key, {}).items():
                if m.offset() < tp.offset:
                    self._stored.setdefault(key, {})[i] = m.offset()

    def nack(self, message) -> None:
        """Give an entry back unacknowledged (an extra): it stays pending and is claimed again after
        ``redis.claim.idle.ms`` with its delivery count raised. Later entries may be handled first."""
        self._check_usable()
        self.settle(message.stream(), [message.entry_id()])

    def committed(self, partitions: list, timeout: float | None = None) -> list[TopicPartition]:
        """Per partition, the offset below which the group has acknowledged every entry.

        That is the oldest pending entry's offset, or, with nothing pending,
        the last delivered entry's offset + 1; ``OFFSET_INVALID`` when the
        group does not exist on that stream. Entries after it may be
        acknowledged already: Redis acks entries, not a position.
        """
        self._check_usable()
        pipe = self._r.pipeline(transaction=False)
        for tp in partitions:
            key = stream_key(tp.topic, tp.partition)
            pipe.xinfo_groups(key)
            pipe.xpending(key, self.group_id)
        try:
            replies = pipe.execute(raise_on_error=False)
        except redis_errors() as err:
            raise transport_error(self._url, err, "read committed positions from") from None
        out = []
        for i, tp in enumerate(partitions):
            groups, summary = replies[2 * i], replies[2 * i + 1]
            offset = OFFSET_INVALID
            if not isinstance(groups, Exception) and not isinstance(summary, Exception):
                mine = [g for g in groups if g["name"].decode() == self.group_id]
                if mine:
                    if summary["pending"]:
                        offset = entry_id_to_offset(summary["min"])
                    else:
                        offset = entry_after(mine[0]["last-delivered-id"])
            out.append(TopicPartition(tp.topic, tp.partition, offset))
        return out

    def position(self, partitions: list) -> list[TopicPartition]:
        """The offset after the last entry this member handed out, per partition (``OFFSET_INVALID`` if none)."""
        self._check_usable()
        return [
            TopicPartition(
                tp.topic,
                tp.partition,
                self._positions.get(stream_key(tp.topic, tp.partition), OFFSET_INVALID),
            )
            for tp in partitions
        ]

    def seek(self, partition: TopicPartition) -> None:
        """Move the **group's** position on a partition (``XGROUP SETID``): every member reads from there.

        Kafka's seek is local to one consumer; a Redis group has one
        last-delivered id per stream. ``OFFSET_BEGINNING``/``OFFSET_END`` map
        to ``0``/``$``.
        """
        self._check_usable()
        key = stream_key(partition.topic, partition.partition)
        if key not in self._by_key:
            raise fail(
                "_STATE",
                f"seek: {partition.topic}-{partition.partition} is not in this consumer's "
                f"subscription; subscribed: {self._subscription}",
            )
        if partition.offset == OFFSET_BEGINNING:
            target = "0"
        elif partition.offset == OFFSET_END:
            target = "$"
        else:
            target = offset_to_entry_id(partition.offset - 1) if partition.offset > 0 else "0"
        try:
            self._r.xgroup_setid(key, self.group_id, target)
        except redis_errors() as err:
            raise transport_error(self._url, err, "seek on") from None
        self._buffer = deque(m for m in self._buffer if m.stream() != key)

    def get_watermark_offsets(
        self, partition: TopicPartition, timeout=None, cached: bool = False
    ) -> tuple:
        """``(low, high)``: the first retained entry's offset and the last entry's offset + 1."""
        self._check_usable()
        key = stream_key(partition.topic, partition.partition)
        try:
            info = self._r.xinfo_stream(key)
        except redis_errors() as err:
            if "no such key" in str(err).lower():
                return (0, 0)
            raise transport_error(self._url, err, "read watermarks from") from None
        high = entry_after(info["last-generated-id"])
        first = info.get("first-entry")
        return (entry_id_to_offset(first[0]) if first else high, high)

    def list_topics(self, topic: str | None = None, timeout: float = -1) -> ClusterMetadata:
        """The topics on the server, as ``AdminClient.list_topics`` returns them."""
        return cluster_metadata(self._r, self._url, topic)

    def close(self) -> None:
        """Ack stored entries (with auto-commit), give the leases up and leave the group."""
        if self._closed:
            return
        try:
            if self._autocommit:
                self._commit_stored(asynchronous=False)
            self._leave()
        except KafkaException:
            pass  # closing must not fail because the server went away; pending entries will be claimed
        except redis_errors():
            pass
        finally:
            self._closed = True
            self._r.close()

    def _leave(self) -> None:
        if not self._joined:
            return
        pipe = self._r.pipeline(transaction=False)
        if self._leased and self._held:
            self._lease_script(
                keys=[self._by_key[k].lease for k in sorted(self._held)],
                args=[self.name, self._session, *["drop"] * len(self._held)],
                client=pipe,
            )
        if self._members_key:
            pipe.zrem(self._members_key, self.name)
        if not any(self._outstanding.values()) and not self._buffer and not self._static:
            for (
                s
            ) in self._streams:  # tidy: a consumer with nothing pending can go from XINFO CONSUMERS
                pipe.xgroup_delconsumer(s.key, self.group_id, self.name)
        pipe.execute(raise_on_error=False)
        if self._held and self._callbacks[1] is not None:
            self._callbacks[1](self, self._tps(self._held))
        self._joined = False
        self._held, self._owned, self._blocked = set(), set(), set()
        self._buffer.clear()
        self._outstanding, self._stored = {}, {}

    def _check_usable(self) -> None:
        if self._closed:
            raise RuntimeError("Consumer closed")
