"""Topics on Redis: create, list and delete them (a stream per partition, a registry hash), and the metadata a client caches."""

from __future__ import annotations

import json

from eda_sim.backends.redis.connection import client_for, redis_errors, safe_url, transport_error
from eda_sim.backends.redis.keys import TOPICS_KEY, check_topic_name, stream_key
from eda_sim.core.errors import fail
from eda_sim.kafka.admin import ClusterMetadata, PartitionMetadata, TopicMetadata


def create_topic(
    url, name: str, partitions: int = 1, *, maxlen: int | None = None, exist_ok: bool = False
) -> int:
    """Create topic ``name`` with ``partitions`` streams; return its partition count.

    The count is stored in the hash ``eda:topics`` (``HSETNX``: one creator
    wins); the streams themselves appear with their first entry or group.
    ``maxlen`` keeps each partition's stream at about that many entries (every
    produce trims with ``XADD MAXLEN ~``): Redis's retention, by count rather
    than Kafka's time or bytes. ``url`` may also be a ``redis.Redis`` client.
    An existing topic is an error (``TOPIC_ALREADY_EXISTS``) unless
    ``exist_ok``, and then its partition count is returned as it is.
    """
    check_topic_name(name)
    if isinstance(partitions, bool) or not isinstance(partitions, int) or partitions < 1:
        raise fail(
            "INVALID_PARTITIONS", f"partitions must be a whole number >= 1, got {partitions!r}"
        )
    if maxlen is not None and (
        isinstance(maxlen, bool) or not isinstance(maxlen, int) or maxlen < 1
    ):
        raise ValueError(f"maxlen must be None or a whole number of entries >= 1, got {maxlen!r}")
    client, url = client_for(url)
    meta = json.dumps({"partitions": partitions, "maxlen": maxlen}, sort_keys=True)
    try:
        if client.hsetnx(TOPICS_KEY, name, meta):
            return partitions
        existing = _parse_meta(client.hget(TOPICS_KEY, name))
    except redis_errors() as err:
        raise transport_error(url, err, "create a topic on") from None
    if not exist_ok:
        raise fail(
            "TOPIC_ALREADY_EXISTS", f"topic {name!r} already exists with {existing[0]} partition(s)"
        )
    return existing[0]


def _parse_meta(raw) -> tuple:
    data = json.loads(raw)
    return int(data["partitions"]), data.get("maxlen")


def topics(url) -> dict:
    """``{topic: partition count}`` of every topic created on the server, sorted by name."""
    client, url = client_for(url)
    try:
        raw = client.hgetall(TOPICS_KEY)
    except redis_errors() as err:
        raise transport_error(url, err, "read topics from") from None
    return {k.decode(): _parse_meta(v)[0] for k, v in sorted(raw.items())}


def delete_topic(url, name: str) -> None:
    """Delete a topic: its streams (with their consumer groups) and its entry in ``eda:topics``."""
    client, url = client_for(url)
    try:
        raw = client.hget(TOPICS_KEY, name)
        if raw is None:
            known = ", ".join(topics(client)) or "none"
            raise fail("UNKNOWN_TOPIC_OR_PART", f"topic {name!r} does not exist; topics: {known}")
        n = _parse_meta(raw)[0]
        pipe = client.pipeline(transaction=True)
        pipe.delete(*[stream_key(name, p) for p in range(n)])
        pipe.hdel(TOPICS_KEY, name)
        pipe.execute()
    except redis_errors() as err:
        raise transport_error(url, err, "delete a topic on") from None


class TopicCache:
    """Topic metadata read once per client (topics do not grow here)."""

    def __init__(self, client, url):
        self.client = client
        self.url = url
        self.info: dict = {}

    def get(self, name: str) -> tuple:
        info = self.info.get(name)
        if info is None:
            try:
                raw = self.client.hget(TOPICS_KEY, name)
            except redis_errors() as err:
                raise transport_error(self.url, err, "read topic metadata from") from None
            if raw is None:
                known = ", ".join(topics(self.client)) or "none"
                raise fail(
                    "_UNKNOWN_TOPIC",
                    f"topic {name!r} does not exist on {safe_url(self.url)}; "
                    f"topics: {known}; create it with create_topic(url, {name!r}, partitions)",
                )
            info = self.info[name] = _parse_meta(raw)
        return info


def cluster_metadata(client, url, topic=None) -> ClusterMetadata:
    names = topics(client)
    if topic is not None:
        if topic not in names:
            raise fail(
                "_UNKNOWN_TOPIC",
                f"topic {topic!r} does not exist; topics: {', '.join(names) or 'none'}",
            )
        names = {topic: names[topic]}
    safe = safe_url(url)
    return ClusterMetadata(
        safe,
        {0: safe},
        {
            n: TopicMetadata(n, {i: PartitionMetadata(i, 0, [0], [0]) for i in range(c)}, None)
            for n, c in names.items()
        },
    )
