"""Reading back what a run left in Redis: a topic's records, its dead letters, a group's pending entries, a service's spans."""

from __future__ import annotations

from eda_sim.backends.redis.admin import TopicCache
from eda_sim.backends.redis.connection import client_for, redis_errors, transport_error
from eda_sim.backends.redis.entries import MalformedEntry, RedisMessage, decode_entry, error_message
from eda_sim.backends.redis.keys import H_DELIVERIES, META_PREFIX, id_sort_key, id_str, stream_key
from eda_sim.services.retries import (
    H_ATTEMPTS,
    H_EXCEPTION,
    H_GROUP,
    H_MESSAGE,
    H_OFFSET,
    H_PARTITION,
    H_TOPIC,
)
from eda_sim.services.service import Span

# ----------------------------------------------------------------------------- reading back


def read_topic(url, topic: str) -> list:
    """Every retained record of a topic as :class:`RedisMessage` objects, partition by partition, in order.

    A read-only look (``XRANGE``), outside any consumer group; malformed
    entries come back as error messages.
    """
    client, url = client_for(url)
    n = TopicCache(client, url).get(topic)[0]
    out = []
    try:
        for p in range(n):
            for raw_id, fields in client.xrange(stream_key(topic, p)):
                entry_id = id_str(raw_id)
                try:
                    ts, key, value, headers = decode_entry(fields)
                    out.append(RedisMessage(topic, p, entry_id, ts, key, value, headers, 0))
                except MalformedEntry as err:
                    out.append(
                        error_message("_INVALID_ARG", f"{stream_key(topic, p)}@{entry_id}: {err}")
                    )
    except redis_errors() as err:
        raise transport_error(url, err, "read from") from None
    return out


def _header(headers, name: str):
    for k, v in headers or ():
        if k == name:
            return v.decode(errors="replace") if isinstance(v, bytes) else v
    return None


def dead_letters(url, topic: str):
    """The dead letters in ``topic`` (e.g. ``"orders.DLT"``) as a DataFrame: where each came from and why.

    The columns of :func:`eda_sim.services.retries.dead_letters`, with
    ``original_offset`` and ``dlt_offset`` as entry ids, plus ``deliveries``.
    """
    import pandas as pd

    rows = []
    for m in read_topic(url, topic):
        if m.error() is not None:
            continue
        h = m.headers()
        value = m.value()
        text = None if value is None else value.decode(errors="replace")
        rows.append(
            {
                "original_topic": _header(h, H_TOPIC),
                "original_partition": int(_header(h, H_PARTITION) or -1),
                "original_offset": _header(h, H_OFFSET),
                "group": _header(h, H_GROUP),
                "error": (_header(h, H_EXCEPTION) or "").rsplit(".", 1)[-1],
                "message": _header(h, H_MESSAGE),
                "attempts": int(_header(h, H_ATTEMPTS) or 0),
                "deliveries": int(_header(h, H_DELIVERIES) or 0),
                "key": m.key().decode(errors="replace") if m.key() is not None else None,
                "value": text if text is None or len(text) <= 60 else text[:59] + "…",
                "dlt_offset": m.entry_id(),
            }
        )
    cols = [
        "original_topic",
        "original_partition",
        "original_offset",
        "group",
        "error",
        "message",
        "attempts",
        "deliveries",
        "key",
        "value",
        "dlt_offset",
    ]
    frame = pd.DataFrame(rows, columns=cols)
    if frame.empty:
        return frame
    order = frame["original_offset"].map(lambda i: id_sort_key(i) if i else (0, 0))
    frame = frame.assign(_o=order).sort_values(
        ["original_topic", "original_partition", "_o"], kind="stable"
    )
    return frame.drop(columns="_o").reset_index(drop=True)


def pending(url, topic: str, group: str):
    """The group's pending entries on a topic (``XPENDING``): partition, entry id, consumer, idle ms, deliveries."""
    import pandas as pd

    client, url = client_for(url)
    n = TopicCache(client, url).get(topic)[0]
    rows = []
    try:
        for p in range(n):
            try:
                entries = client.xpending_range(stream_key(topic, p), group, "-", "+", 100000)
            except redis_errors() as err:
                if "NOGROUP" in str(err):
                    continue
                raise
            for e in entries:
                rows.append(
                    {
                        "partition": p,
                        "entry_id": id_str(e["message_id"]),
                        "consumer": e["consumer"].decode(),
                        "idle_ms": e["time_since_delivered"],
                        "deliveries": e["times_delivered"],
                    }
                )
    except redis_errors() as err:
        raise transport_error(url, err, "read pending entries from") from None
    return pd.DataFrame(
        rows, columns=["partition", "entry_id", "consumer", "idle_ms", "deliveries"]
    )


def spans_frame(url, service: str):
    """The spans a Redis service wrote (``eda:spans:<service>``) as a DataFrame with the simulator's columns."""
    import pandas as pd

    client, url = client_for(url)
    try:
        entries = client.xrange(f"{META_PREFIX}spans:{service}")
    except redis_errors() as err:
        raise transport_error(url, err, "read spans from") from None
    ints = {"partition", "offset", "attempts"}
    floats = {"produced", "started", "finished"}
    rows = []
    for _, fields in entries:
        row = {}
        for name in Span._fields:
            raw = fields.get(name.encode(), b"").decode()
            row[name] = int(raw) if name in ints else float(raw) if name in floats else raw
        rows.append(row)
    return pd.DataFrame(rows, columns=Span._fields)
