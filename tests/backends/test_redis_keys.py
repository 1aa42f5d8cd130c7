"""Offsets and Redis stream entry ids (eda_sim.backends.redis.keys); no server needed."""

import pytest

from eda_sim.backends.redis.keys import entry_after, entry_id_to_offset, offset_to_entry_id


@pytest.mark.parametrize("entry_id", ["1-0", "5-3", b"1767225600000-12", "0-1"])
def test_the_offset_after_an_entry_is_the_next_one_as_a_kafka_commit_is(entry_id):
    # A Kafka commit names the next offset to read: the entry's own offset + 1.
    after = entry_after(entry_id)
    assert after == entry_id_to_offset(entry_id) + 1
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    assert offset_to_entry_id(after - 1) == text


def test_nothing_read_yet_is_offset_zero():
    assert entry_after("0-0") == 0 and entry_after(b"0-0") == 0
