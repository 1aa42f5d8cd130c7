"""Partitioners: which partition a record goes to, as Kafka's clients decide it.

Pure functions with no state of their own; randomness comes only from the
``random.Random`` a caller passes in. Python's ``hash()`` is salted per process
and never picks a partition here.

Two hash families exist because the two client families disagree:

* Kafka's Java client hashes keyed records with murmur2:
  ``(murmur2(key) & 0x7fffffff) % partitions`` (:func:`murmur2_partition`).
* librdkafka (and so confluent-kafka for Python) defaults to ``consistent_random``:
  ``crc32(key) % partitions`` (:func:`crc32_partition`).

The same key can therefore land on different partitions depending on the
client that produced it. The simulator's client is confluent-kafka's, so it
defaults to librdkafka's ``consistent_random``; set ``partitioner=murmur2_random``
on every non-Java producer of a topic that Java producers also write, or a
key's records split across partitions.

Example::

    import random
    from eda_sim.kafka.partitioner import choose_partition, murmur2_partition

    murmur2_partition(b"order-42", 6)                          # always the same partition
    choose_partition("consistent_random", b"order-42", 6, random.Random(1))
    choose_partition("murmur2_random", None, 6, random.Random(1))   # null key: random

Sticky partitioning of null-key records across a batch belongs to the
producer; :func:`choose_partition` decides one record at a time.
"""

from __future__ import annotations

import random
import struct
import zlib
from functools import lru_cache
from types import MappingProxyType

__all__ = [
    "DEFAULT_PARTITIONER",
    "PARTITIONERS",
    "choose_partition",
    "crc32_partition",
    "murmur2",
    "murmur2_partition",
]

_SEED = 0x9747B28C
_M = 0x5BD1E995
_MASK32 = 0xFFFFFFFF


def murmur2(data: bytes) -> int:
    """Kafka's murmur2 hash of ``data``, as a signed 32-bit int.

    Bit-for-bit the Java client's ``Utils.murmur2`` (seed ``0x9747b28c``), so
    ``murmur2("21".encode()) == -973932308`` as in Kafka's own tests.
    """
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(
            f"murmur2 needs bytes (encode a str key with .encode('utf-8')), "
            f"got {type(data).__name__}"
        )
    data = bytes(data)
    length = len(data)
    h = _SEED ^ length
    whole = length & ~3
    # Java reads each 4-byte block little-endian into an int; unsigned
    # arithmetic masked to 32 bits gives the same bits as Java's wrapping ints,
    # and >> on a non-negative value is Java's >>>.
    for k in struct.unpack_from(f"<{length >> 2}I", data):
        k = (k * _M) & _MASK32
        k ^= k >> 24
        k = (k * _M) & _MASK32
        h = ((h * _M) & _MASK32) ^ k
    tail = length & 3
    if tail:
        if tail == 3:
            h ^= data[whole + 2] << 16
        if tail >= 2:
            h ^= data[whole + 1] << 8
        h ^= data[whole]
        h = (h * _M) & _MASK32
    h ^= h >> 13
    h = (h * _M) & _MASK32
    h ^= h >> 15
    return h - 0x100000000 if h & 0x80000000 else h


@lru_cache(maxsize=65536)
def _positive_murmur2(key: bytes) -> int:
    # Java's Utils.toPositive: clear the sign bit (not abs(), which breaks on MIN_VALUE).
    return murmur2(key) & 0x7FFFFFFF


def _bad_count(num_partitions: object) -> ValueError | TypeError:
    if type(num_partitions) is not int:
        return TypeError(
            f"num_partitions must be an int >= 1, got {type(num_partitions).__name__} "
            f"{num_partitions!r}"
        )
    return ValueError(f"num_partitions must be >= 1, got {num_partitions}")


def murmur2_partition(key: bytes, num_partitions: int) -> int:
    """The Java client's partition for a keyed record.

    ``(murmur2(key) & 0x7fffffff) % num_partitions``; the hash is memoised
    (65,536 most recent keys) because this runs once per produced record.
    """
    if type(num_partitions) is not int or num_partitions < 1:
        raise _bad_count(num_partitions)
    try:
        return _positive_murmur2(key) % num_partitions
    except TypeError:
        raise TypeError(
            f"key must be bytes (encode a str key with .encode('utf-8')), got {type(key).__name__}"
        ) from None


def crc32_partition(key: bytes, num_partitions: int) -> int:
    """librdkafka's ``consistent`` partition for a key: ``crc32(key) % num_partitions``.

    librdkafka's ``rd_kafka_msg_partitioner_consistent`` returns
    ``rd_crc32(key, keylen) % partition_cnt``; ``rd_crc32`` is the standard
    (zlib, IEEE 802.3) CRC-32, which :func:`zlib.crc32` computes unsigned.
    """
    if type(num_partitions) is not int or num_partitions < 1:
        raise _bad_count(num_partitions)
    if not isinstance(key, bytes):
        raise TypeError(
            f"key must be bytes (encode a str key with .encode('utf-8')), got {type(key).__name__}"
        )
    return zlib.crc32(key) % num_partitions


# What librdkafka does with keys, from its source (rdkafka_msg.c) and the
# `partitioner` entry of its CONFIGURATION.md:
#   random            - every record random, key or not.
#   consistent        - crc32 of the key; "Empty and NULL keys are mapped to single
#                       partition": a NULL key is hashed as zero bytes, crc32(b"") == 0,
#                       so partition 0.
#   consistent_random - crc32 of the key; "Empty and NULL keys are randomly
#                       partitioned" (the source tests keylen == 0).
#   murmur2           - murmur2 of the key; "NULL keys are mapped to single
#                       partition": a NULL key is hashed as zero bytes, so always
#                       murmur2_partition(b"", n).
#   murmur2_random    - murmur2 of the key; only a NULL key is random (the source tests
#                       !key), so an empty key b"" is hashed, as the Java client does.
#                       "functionally equivalent to the default partitioner in the
#                       Java Producer".
# librdkafka's random partitioner also avoids unavailable partitions; the simulator
# has none, so that is not modelled.


def _random(key: bytes | None, n: int, rng: random.Random) -> int:
    return rng.randrange(n)


def _consistent(key: bytes | None, n: int, rng: random.Random) -> int:
    return zlib.crc32(key or b"") % n


def _consistent_random(key: bytes | None, n: int, rng: random.Random) -> int:
    if not key:
        return rng.randrange(n)
    return zlib.crc32(key) % n


def _murmur2(key: bytes | None, n: int, rng: random.Random) -> int:
    return _positive_murmur2(b"" if key is None else key) % n


def _murmur2_random(key: bytes | None, n: int, rng: random.Random) -> int:
    if key is None:
        return rng.randrange(n)
    return _positive_murmur2(key) % n


#: The librdkafka ``partitioner`` names the simulator accepts, each with what it does.
#: The first, ``consistent_random``, is librdkafka's default and so the simulator's.
PARTITIONERS = MappingProxyType(
    {
        "consistent_random": "CRC32 hash of the key (librdkafka's default); "
        "null or empty key: random partition",
        "consistent": "CRC32 hash of the key; null or empty key: always one partition",
        "murmur2_random": "murmur2 hash of the key, as Kafka's Java client; "
        "null key: random partition",
        "murmur2": "murmur2 hash of the key; null key: always one partition",
        "random": "random partition for every record, keyed or not",
    }
)

#: The partitioner the simulator uses unless configured otherwise: librdkafka's default.
DEFAULT_PARTITIONER = "consistent_random"

_CHOOSERS = {
    "murmur2_random": _murmur2_random,
    "murmur2": _murmur2,
    "consistent_random": _consistent_random,
    "consistent": _consistent,
    "random": _random,
}


def choose_partition(name: str, key: bytes | None, num_partitions: int, rng: random.Random) -> int:
    """The partition librdkafka's partitioner ``name`` picks for one record.

    ``key`` is the serialised key, or ``None`` for a null key. ``rng`` is drawn
    from (``rng.randrange(num_partitions)``, once) only when the partitioner
    decides at random, so a seeded ``rng`` makes every choice reproducible.
    Raises ``ValueError`` for an unknown ``name`` (listing :data:`PARTITIONERS`)
    or ``num_partitions < 1``.
    """
    chooser = _CHOOSERS.get(name) if isinstance(name, str) else None
    if chooser is None:
        raise ValueError(f"unknown partitioner {name!r}; valid names: {', '.join(PARTITIONERS)}")
    if type(num_partitions) is not int or num_partitions < 1:
        raise _bad_count(num_partitions)
    if key is not None and type(key) is not bytes:
        raise TypeError(
            f"key must be bytes or None (encode a str key with .encode('utf-8')), "
            f"got {type(key).__name__}"
        )
    return chooser(key, num_partitions, rng)


class Partitioner:
    """One producer's choice of partition, as librdkafka makes it: the one place both producers call.

    A keyed record goes where the configured partitioner hashes it. A record
    with no key (and, under ``consistent_random``, an empty key, which
    librdkafka treats as no key) sticks to one randomly drawn partition per
    topic for ``sticky.partitioning.linger.ms`` (``sticky_linger`` seconds), so
    that records without keys fill batches; 0 draws anew for every record.
    ``murmur2`` and ``consistent`` send a null key to one fixed partition, and
    ``random`` draws for every record. ``rng`` is the only source of chance.
    """

    __slots__ = ("name", "keyed", "_rng", "_sticky", "_linger")

    def __init__(self, name: str, rng: random.Random, sticky_linger: float = 0.01):
        if name not in _CHOOSERS:
            raise ValueError(
                f"unknown partitioner {name!r}; valid names: {', '.join(PARTITIONERS)}"
            )
        self.name = name
        #: The key hash this partitioner uses (murmur2 or CRC32), or None for ``random``.
        self.keyed = (
            murmur2_partition
            if name.startswith("murmur2")
            else crc32_partition
            if name.startswith("consistent")
            else None
        )
        self._rng = rng
        self._linger = sticky_linger
        self._sticky: dict = {}

    def partition(self, topic: str, key: bytes | None, num_partitions: int, now: float) -> int:
        """The partition for one record of ``topic`` with ``key``, at time ``now`` (seconds)."""
        # murmur2_random hashes an empty key too; the others treat it as no key
        if key and self.keyed is not None or key is not None and self.name == "murmur2_random":
            return self.keyed(key, num_partitions)
        if key is not None or self.name in ("murmur2", "consistent"):
            return choose_partition(self.name, key, num_partitions, self._rng)
        st = self._sticky.get(topic)
        if st is None or st[0] >= num_partitions or now - st[1] >= self._linger or not self._linger:
            st = (self._rng.randrange(num_partitions), now)
            self._sticky[topic] = st
        return st[0]
