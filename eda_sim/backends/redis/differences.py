"""Where Redis Streams and Kafka differ, as a table the course shows (``differences()``)."""

from __future__ import annotations

# ----------------------------------------------------------------------------- how Redis differs from Kafka


#: Where Redis Streams (7.0) differs from Kafka, and what this backend does about it; one dict per aspect.
DIFFERENCES = [
    {
        "aspect": "acknowledgement",
        "kafka": "a committed offset per partition and group: everything below it counts as done",
        "redis_streams": "XACK per entry; delivered, unacknowledged entries wait in the group's "
        "pending-entries list (PEL), per consumer",
        "this_backend": "commit(message) acks that entry, commit() every entry stored as processed; committed() "
        "reports the offset below which all are acked (later ones may be acked too)",
    },
    {
        "aspect": "redelivery",
        "kafka": "rebalance-driven: when a member leaves or times out, the new owner re-reads from the "
        "committed offset, including records handled but not committed",
        "redis_streams": "claim-driven: nothing comes back by itself; a consumer claims (XCLAIM/XAUTOCLAIM) "
        "entries idle longer than a minimum, one by one; acked entries never come back",
        "this_backend": "members claim entries idle longer than redis.claim.idle.ms; only unacknowledged entries "
        "are redelivered, not the acked ones after them",
    },
    {
        "aspect": "poison events",
        "kafka": "consumer groups keep no delivery count: the application counts attempts itself (headers, "
        "retry topics); share groups (KIP-932, Kafka 4) count deliveries per record and archive a record at "
        "group.share.delivery.count.limit",
        "redis_streams": "XPENDING reports each entry's delivery count",
        "this_backend": "run_service dead-letters after max_deliveries deliveries, with dlt-deliveries in the headers",
    },
    {
        "aspect": "partitions",
        "kafka": "native: a topic has N partitions, each an ordered log on a leader broker",
        "redis_streams": "none: one stream is one ordered log (Redis Cluster spreads streams over shards by "
        "key slot)",
        "this_backend": "a topic is N streams <topic>:<p>; keys go to crc32(key) % N as in the simulator",
    },
    {
        "aspect": "partition ownership",
        "kafka": "the group's assignor gives each partition to one member: per-key order",
        "redis_streams": "a group hands each entry to whichever consumer asks: entries are balanced, "
        "partitions are not owned",
        "this_backend": "leased (default): a lease key per partition (SET NX PX) gives it one reader at a time, "
        "round-robin by member index: per-key order; shared: all read all, no per-key order "
        "across members",
    },
    {
        "aspect": "consumer group",
        "kafka": "one group spans all its topics and partitions, run by a group coordinator broker with "
        "generations and heartbeats",
        "redis_streams": "a group exists per stream (XGROUP CREATE on each); no coordinator, no membership",
        "this_backend": "creates the group on every partition's stream; membership is a sorted set of "
        "heartbeats, renewed by poll",
    },
    {
        "aspect": "offsets",
        "kafka": "consecutive integers per partition: 0, 1, 2, ...",
        "redis_streams": "entry ids <ms>-<seq>: increasing, time-based, with gaps",
        "this_backend": "offset() = ms * 10**20 + seq, exact and ordered; entry_id() gives the id",
    },
    {
        "aspect": "where a new group starts",
        "kafka": "auto.offset.reset, whenever a partition has no committed offset (or it is out of range)",
        "redis_streams": "the id given once to XGROUP CREATE: $ (new entries) or 0 (all)",
        "this_backend": "latest -> $, earliest -> 0, none -> an error event if the group is missing",
    },
    {
        "aspect": "seek",
        "kafka": "local to one consumer's position",
        "redis_streams": "XGROUP SETID moves the group's last-delivered id for every consumer",
        "this_backend": "seek() is XGROUP SETID: it moves the whole group on that partition",
    },
    {
        "aspect": "idempotent append",
        "kafka": "enable.idempotence: producer id + sequence numbers; the broker drops a retried batch's copy",
        "redis_streams": "7.0 has none: a retried XADD after a lost reply appends a duplicate. XADD with an "
        "explicit id is refused if the id is not above the stream's last id, which drops a "
        "retry only if one producer per stream chooses strictly increasing ids and remembers "
        "the last across restarts (and a lost entry's id is never reused)",
        "this_backend": "enable.idempotence is refused with this reason; duplicates are dropped by the consumer's "
        "inbox (run_service(idempotent=True))",
    },
    {
        "aspect": "transactions",
        "kafka": "transactions span produced records and consumed offsets (exactly-once read-process-write)",
        "redis_streams": "MULTI/EXEC and Lua scripts run atomically on one node (one hash slot in Cluster); "
        "no rollback of a command that fails at run time",
        "this_backend": "idempotent services run inbox SADD + side effects + emitted XADDs + XACK in one script; "
        "others use MULTI/EXEC per event and ack after the batch",
    },
    {
        "aspect": "retention",
        "kafka": "by time (retention.ms) or size (retention.bytes), deleting whole segments; or compaction "
        "by key",
        "redis_streams": "by count (XADD/XTRIM MAXLEN) or minimum id (MINID: an id is a time, so roughly by "
        "age), exact or ~ approximate; no compaction; bounded by memory",
        "this_backend": "create_topic(maxlen=...) trims each partition with XADD MAXLEN ~ on every produce",
    },
    {
        "aspect": "durability",
        "kafka": "replicated log on disk; acks=all waits for the in-sync replicas",
        "redis_streams": "in memory; RDB/AOF persistence optional; replication asynchronous (WAIT helps)",
        "this_backend": "acks is accepted and ignored; the test servers run with persistence off",
    },
    {
        "aspect": "zombie fencing",
        "kafka": "generation ids: a commit from an evicted member is refused",
        "redis_streams": "XACK from any consumer is accepted",
        "this_backend": "a member whose lease moved can still ack and write: at-least-once, dedupe downstream",
    },
    {
        "aspect": "liveness",
        "kafka": "a background thread heartbeats (session.timeout.ms); max.poll.interval.ms bounds processing",
        "redis_streams": "nothing: an idle consumer is just idle",
        "this_backend": "poll renews heartbeat and leases (run_service also between events), so "
        "session.timeout.ms bounds the time between polls",
    },
]


def differences():
    """:data:`DIFFERENCES` as a DataFrame: aspect, kafka, redis_streams, this_backend."""
    import pandas as pd

    return pd.DataFrame(DIFFERENCES, columns=["aspect", "kafka", "redis_streams", "this_backend"])
