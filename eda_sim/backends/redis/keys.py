"""What this backend keeps in Redis under which name: stream keys, the topic registry, entry ids as offsets, header names."""

from __future__ import annotations

import re

from eda_sim.core.clock import SIM_EPOCH
from eda_sim.core.errors import fail

#: Prefix of every key this backend keeps besides the streams themselves.
META_PREFIX = "eda:"
TOPICS_KEY = META_PREFIX + "topics"
#: Extra dead-letter header: the Redis delivery count when the entry was dead-lettered.
H_DELIVERIES = "dlt-deliveries"
#: Extra dead-letter header on a malformed entry: its raw fields, as JSON.
H_RAW = "dlt-raw-fields"
#: Span outcome for a delivery that failed and was left pending to be claimed again.
REDELIVER = "redeliver"

ENTRY_FIELDS = (b"timestamp", b"key", b"value", b"headers")
_TOPIC_NAME = re.compile(r"[A-Za-z0-9._-]{1,249}")
_OFFSET_SCALE = 10**20  # > 2**64, the largest sequence number of an entry id
EPOCH_S = SIM_EPOCH.timestamp()


# ----------------------------------------------------------------------------- offsets


def entry_id_to_offset(entry_id) -> int:
    """The integer offset of a stream entry id: ``"1700000000123-5"`` -> ``1700000000123 * 10**20 + 5``.

    Exact for every valid id, and ordered as the stream is (ids increase);
    unlike Kafka's offsets the integers have gaps.
    """
    if isinstance(entry_id, bytes):
        entry_id = entry_id.decode("ascii")
    ms, _, seq = str(entry_id).partition("-")
    try:
        return int(ms) * _OFFSET_SCALE + int(seq or 0)
    except ValueError:
        raise ValueError(
            f"a stream entry id looks like '<milliseconds>-<sequence>', got {entry_id!r}"
        ) from None


def offset_to_entry_id(offset: int) -> str:
    """The stream entry id of an offset from :func:`entry_id_to_offset`."""
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise ValueError(f"an offset must be an int >= 0, got {offset!r}")
    return f"{offset // _OFFSET_SCALE}-{offset % _OFFSET_SCALE}"


def id_str(entry_id) -> str:
    return entry_id.decode("ascii") if isinstance(entry_id, bytes) else str(entry_id)


def entry_after(entry_id) -> int:
    """The offset just after an entry id; 0 after ``0-0`` (nothing yet)."""
    return 0 if id_str(entry_id) == "0-0" else entry_id_to_offset(entry_id) + 1


def id_sort_key(entry_id: str) -> tuple:
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)


# ----------------------------------------------------------------------------- topics


def stream_key(topic: str, partition: int) -> str:
    """The Redis stream that holds one partition of a topic: ``"<topic>:<partition>"``."""
    return f"{topic}:{partition}"


def check_topic_name(name) -> str:
    if not isinstance(name, str) or not _TOPIC_NAME.fullmatch(name):
        raise fail(
            "_INVALID_ARG",
            f"a topic name is 1 to 249 of the characters a-z A-Z 0-9 . _ - "
            f"(as in Kafka), got {name!r}",
        )
    return name
