"""Partition logs at their edges: segment rolls, retention by size, and a partition out of range."""

import pytest

from eda_sim import Simulation
from eda_sim.kafka import KafkaException

TEN = "0123456789"  # a record of 10 bytes (no key, no headers)


def _log(config, records):
    sim = Simulation(seed=1, name="topics")
    sim.create_topic("t", partitions=1, config=config)
    p = sim.producer()
    for _ in range(records):
        p.produce("t", value=TEN)
        p.flush()  # one batch per record
    return sim.topic("t").partitions[0]


def test_a_batch_that_fills_a_segment_exactly_stays_in_it():
    # Kafka rolls when the segment's size plus the batch would exceed segment.bytes.
    log = _log({"segment.bytes": 20}, 3)
    assert [(base, end, size) for base, end, size, _ in log.segments()] == [(0, 2, 20), (2, 3, 10)]


@pytest.mark.parametrize("limit, start", [(19, 1), (20, 1), (21, 0)])
def test_retention_bytes_deletes_a_segment_while_the_rest_still_holds_the_limit(limit, start):
    # Kafka (deleteRetentionSizeBreachedSegments): a segment goes while size - its size >= limit.
    # Three segments of 10 bytes: the first goes when the other two (20 bytes) still meet the limit.
    log = _log({"segment.bytes": 10, "retention.bytes": limit}, 3)
    log.enforce_retention(0.0)
    assert log.log_start_offset == start
    assert log.size_bytes >= limit


def test_a_partition_out_of_range_is_unknown_partition_naming_the_range():
    sim = Simulation(seed=1, name="topics")
    topic = sim.create_topic("t", partitions=2)
    for index in (2, -1):
        with pytest.raises(KafkaException, match=rf"partitions 0\.\.1, not {index}") as raised:
            topic.partition(index)
        assert raised.value.args[0].name() == "_UNKNOWN_PARTITION"
    assert topic.partition(1).index == 1
