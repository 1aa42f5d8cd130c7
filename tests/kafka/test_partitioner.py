"""Tests for eda_sim.kafka.partitioner: Kafka's murmur2, librdkafka's partitioners."""

import random
import zlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from eda_sim.kafka.partitioner import (
    DEFAULT_PARTITIONER,
    PARTITIONERS,
    Partitioner,
    choose_partition,
    crc32_partition,
    murmur2,
    murmur2_partition,
)

# Kafka's UtilsTest.testMurmur2 (keys as UTF-8).
KAFKA_VECTORS = {
    "21": -973932308,
    "foobar": -790332482,
    "a-little-bit-long-string": -985981536,
    "a-little-bit-longer-string": -1486304829,
    "lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
    "abc": 479470107,
}

# librdkafka's unittest_murmur2 (rdmurmur2.c), unsigned; these cover every tail
# length (0-3 bytes after the last 4-byte block) and the empty key.
LIBRDKAFKA_VECTORS = {
    "kafka": 0xD067CF64,
    "giberish123456789": 0x8F552B0C,
    "1234": 0x9FC97B14,
    "234": 0xE7C009CA,
    "34": 0x873930DA,
    "4": 0x5A4B5CA1,
    "PreAmbleWillBeRemoved,ThePrePartThatIs": 0x78424F1C,
    "reAmbleWillBeRemoved,ThePrePartThatIs": 0x4A62B377,
    "eAmbleWillBeRemoved,ThePrePartThatIs": 0xE0E4E09E,
    "AmbleWillBeRemoved,ThePrePartThatIs": 0x62B8B43F,
    "": 0x106E08D9,
}


@pytest.mark.parametrize(("key", "expected"), sorted(KAFKA_VECTORS.items()))
def test_murmur2_matches_kafka_java_client_vectors(key, expected):
    assert murmur2(key.encode("utf-8")) == expected


@pytest.mark.parametrize(("key", "expected"), sorted(LIBRDKAFKA_VECTORS.items()))
def test_murmur2_matches_librdkafka_vectors_for_every_tail_length(key, expected):
    assert murmur2(key.encode("utf-8")) & 0xFFFFFFFF == expected


@given(st.binary(max_size=64))
def test_murmur2_is_a_signed_32_bit_int(data):
    assert -(2**31) <= murmur2(data) < 2**31


def test_murmur2_accepts_bytearray_and_memoryview_like_bytes():
    assert murmur2(bytearray(b"foobar")) == murmur2(memoryview(b"foobar")) == -790332482


def test_murmur2_rejects_str_and_says_to_encode():
    with pytest.raises(TypeError, match="encode"):
        murmur2("foobar")


@pytest.mark.parametrize("key", sorted(KAFKA_VECTORS))
@pytest.mark.parametrize("n", [1, 3, 6, 12, 100])
def test_murmur2_partition_is_positive_hash_modulo_partitions(key, n):
    data = key.encode()
    assert murmur2_partition(data, n) == (KAFKA_VECTORS[key] & 0x7FFFFFFF) % n


@given(st.binary(max_size=40), st.integers(min_value=1, max_value=1000))
def test_murmur2_partition_formula_property(key, n):
    p = murmur2_partition(key, n)
    assert p == (murmur2(key) & 0x7FFFFFFF) % n
    assert 0 <= p < n
    assert murmur2_partition(key, n) == p  # the memoised answer is the same


def test_murmur2_partition_known_placements():
    # "21" hashes to -973932308; toPositive gives 1173551340.
    assert murmur2_partition(b"21", 6) == 1173551340 % 6 == 0
    assert murmur2_partition(b"abc", 7) == 479470107 % 7


def test_crc32_partition_is_crc32_modulo_partitions():
    # CRC-32 of "kafka" is 0x5bbc7517 (zlib / IEEE, as librdkafka's rd_crc32).
    assert zlib.crc32(b"kafka") == 0x5BBC7517
    assert crc32_partition(b"kafka", 10) == 0x5BBC7517 % 10 == 9
    assert crc32_partition(b"giberish123456789", 50) == 0x7B3A8E3F % 50 == 21
    assert crc32_partition(b"", 5) == 0


@given(st.binary(max_size=40), st.integers(min_value=1, max_value=1000))
def test_crc32_partition_formula_property(key, n):
    assert crc32_partition(key, n) == zlib.crc32(key) % n


def test_the_two_families_can_disagree_on_a_key():
    keys = [f"user-{i}".encode() for i in range(50)]
    assert any(murmur2_partition(k, 6) != crc32_partition(k, 6) for k in keys)


def test_partitioners_lists_librdkafka_names_with_the_simulator_default_first():
    assert list(PARTITIONERS) == [
        "consistent_random",
        "consistent",
        "murmur2_random",
        "murmur2",
        "random",
    ]
    # librdkafka's default, because the client modelled is confluent-kafka's
    assert DEFAULT_PARTITIONER == "consistent_random" == next(iter(PARTITIONERS))
    with pytest.raises(TypeError):
        PARTITIONERS["mine"] = "no"  # read-only


KEYED = [f"order-{i}".encode() for i in range(40)]


@pytest.mark.parametrize("name", ["murmur2_random", "murmur2"])
def test_murmur2_partitioners_hash_keys_without_drawing(name):
    rng = random.Random(7)
    state = rng.getstate()
    for key in KEYED:
        assert choose_partition(name, key, 6, rng) == murmur2_partition(key, 6)
    assert rng.getstate() == state  # keyed records use no randomness


@pytest.mark.parametrize("name", ["consistent_random", "consistent"])
def test_consistent_partitioners_hash_keys_without_drawing(name):
    rng = random.Random(7)
    state = rng.getstate()
    for key in KEYED:
        assert choose_partition(name, key, 6, rng) == crc32_partition(key, 6)
    assert rng.getstate() == state


def test_random_partitioner_ignores_the_key_and_draws_from_rng():
    rng, twin = random.Random(3), random.Random(3)
    picks = [choose_partition("random", KEYED[0], 6, rng) for _ in range(50)]
    assert picks == [twin.randrange(6) for _ in range(50)]
    assert len(set(picks)) > 1


@pytest.mark.parametrize("name", ["murmur2_random", "consistent_random", "random"])
def test_null_key_is_random_and_reproducible_under_a_seeded_rng(name):
    first = [choose_partition(name, None, 8, random.Random(42)) for _ in range(3)]
    assert len(set(first)) == 1  # same seed, same choice
    rng, twin = random.Random(42), random.Random(42)
    picks = [choose_partition(name, None, 8, rng) for _ in range(100)]
    assert picks == [twin.randrange(8) for _ in range(100)]
    assert len(set(picks)) > 1  # not pinned to one partition


def test_null_key_under_murmur2_maps_to_the_empty_key_partition():
    # librdkafka: "NULL keys are mapped to single partition" (hashed as zero bytes).
    rng = random.Random(1)
    state = rng.getstate()
    expected = (0x106E08D9 & 0x7FFFFFFF) % 6
    assert {choose_partition("murmur2", None, 6, rng) for _ in range(20)} == {expected}
    assert rng.getstate() == state


def test_null_and_empty_keys_under_consistent_map_to_partition_zero():
    # librdkafka: "Empty and NULL keys are mapped to single partition"; crc32(b"") == 0.
    rng = random.Random(1)
    for n in (1, 5, 9):
        assert choose_partition("consistent", None, n, rng) == 0
        assert choose_partition("consistent", b"", n, rng) == 0


def test_empty_key_is_random_under_consistent_random_but_hashed_under_murmur2_random():
    rng, twin = random.Random(5), random.Random(5)
    picks = [choose_partition("consistent_random", b"", 8, rng) for _ in range(30)]
    assert picks == [twin.randrange(8) for _ in range(30)]
    # murmur2_random randomises only a NULL key, as the Java client hashes b"".
    rng = random.Random(5)
    state = rng.getstate()
    assert choose_partition("murmur2_random", b"", 8, rng) == murmur2_partition(b"", 8)
    assert rng.getstate() == state


@pytest.mark.parametrize("name", list(PARTITIONERS))
def test_every_partitioner_stays_in_range(name):
    rng = random.Random(0)
    for n in (1, 2, 7):
        for key in [None, b"", *KEYED[:10]]:
            assert 0 <= choose_partition(name, key, n, rng) < n


@pytest.mark.parametrize("name", ["default", "Murmur2", "crc32", "", None])
def test_unknown_partitioner_name_lists_the_valid_names(name):
    with pytest.raises(ValueError, match="unknown partitioner") as info:
        choose_partition(name, b"k", 3, random.Random(0))
    for valid in PARTITIONERS:
        assert valid in str(info.value)


@pytest.mark.parametrize("n", [0, -1])
def test_partition_count_below_one_is_rejected(n):
    for name in PARTITIONERS:
        with pytest.raises(ValueError, match="num_partitions must be >= 1"):
            choose_partition(name, b"k", n, random.Random(0))
    with pytest.raises(ValueError, match="num_partitions"):
        murmur2_partition(b"k", n)
    with pytest.raises(ValueError, match="num_partitions"):
        crc32_partition(b"k", n)


@pytest.mark.parametrize("n", [2.0, "3", True])
def test_partition_count_must_be_an_int(n):
    with pytest.raises(TypeError, match="num_partitions must be an int"):
        choose_partition("murmur2_random", b"k", n, random.Random(0))
    with pytest.raises(TypeError, match="num_partitions must be an int"):
        murmur2_partition(b"k", n)


@pytest.mark.parametrize("key", ["order-1", 17, bytearray(b"x")])
def test_keys_must_be_bytes(key):
    with pytest.raises(TypeError, match="key must be bytes"):
        murmur2_partition(key, 3)
    with pytest.raises(TypeError, match="key must be bytes"):
        choose_partition("murmur2_random", key, 3, random.Random(0))
    with pytest.raises(TypeError, match="key must be bytes"):
        crc32_partition(key, 3)


class _CountingRandom(random.Random):
    draws = 0

    def randrange(self, *args):
        self.draws += 1
        return super().randrange(*args)


def test_a_null_key_sticky_partition_is_drawn_again_once_the_linger_has_passed():
    # librdkafka keeps the sticky partition for sticky.partitioning.linger.ms and draws a new one
    # at the first record once that much time has passed (rd_interval: elapsed >= interval).
    rng = _CountingRandom(1)
    part = Partitioner("consistent_random", rng, sticky_linger=0.01)
    part.partition("t", None, 6, 0.0)
    part.partition("t", None, 6, 0.009)
    assert rng.draws == 1
    part.partition("t", None, 6, 0.01)
    assert rng.draws == 2
