"""The stories notebooks 02 and 03 tell, asserted on the scenarios that tell them."""

import pytest

from eda_sim.course.nb02.world import (
    TOPIC,
    catch_up_report,
    retention_timeline,
    second_group_world,
    shop_world,
)
from eda_sim.course.nb03.world import (
    clicks_world,
    compare_keys,
    growth_world,
    key_map,
    key_order,
    late_world,
    null_key_partitions,
    order_breaks,
    users,
)
from eda_sim.kafka.partitioner import crc32_partition
from eda_sim.views import core_metrics

# -- 02 ----------------------------------------------------------------------------------------


def test_every_group_gets_every_event_and_a_group_splits_the_partitions():
    sim = shop_world(until=20.0, recommenders=2)
    for group in ("recommender", "analytics"):
        report = catch_up_report(sim, group)
        assert report["processed once"] == report["produced"] > 0 and report["never"] == 0
    owners = sim.offsets("recommender")["owner"]
    assert owners.nunique() == 2  # two members share three partitions
    assert sim.offsets("analytics")["owner"].nunique() == 1
    assert all(
        log.log_start_offset == 0 for log in sim.topic(TOPIC).partitions
    )  # reading deleted nothing


def test_a_consumer_offline_loses_nothing_and_catches_up():
    sim = shop_world(offline=(4.0, 10.0), until=20.0)
    report = catch_up_report(sim, "analytics")
    assert report["never"] == 0 and report["more than once"] == 0
    lag = core_metrics(sim, 1.0, TOPIC)["lag_analytics"]
    away = lag.loc[4.0:10.0]  # buckets that end while nobody reads
    assert away.is_monotonic_increasing and away.iloc[-1] > 100  # the broker kept the events
    assert lag.loc[10.0:].iloc[-1] == 0  # and it caught up


def test_shop_world_rejects_an_offline_window_that_is_not_one():
    with pytest.raises(ValueError, match="stop < back"):
        shop_world(offline=(10.0, 4.0))


def test_a_new_group_starts_at_the_end_unless_it_asks_for_earliest():
    for config, missed in (
        ({"group.id": "trending"}, True),
        ({"group.id": "trending", "auto.offset.reset": "earliest"}, False),
    ):
        sim, _member = second_group_world(config)
        report = catch_up_report(sim, "trending", member="trending")
        assert (report["never"] > 0) is missed


def test_retention_moves_the_log_start_although_nobody_read():
    frame = retention_timeline(retention_ms=60_000, segment_ms=20_000)
    assert (frame["groups reading"] == 0).all()
    assert frame["log_start"].iloc[0] == 0 and frame["log_start"].is_monotonic_increasing
    assert frame["log_start"].iloc[-1] > 0
    # never more than retention + one segment + one check interval of records (one per second)
    assert (frame["retained"] <= 60 + 20 + 300).all()


# -- 03 ----------------------------------------------------------------------------------------


def test_user_keys_give_no_out_of_order_pairs_and_no_keys_give_some():
    keyed, unkeyed = key_order(clicks_world("user_id")), key_order(clicks_world(None))
    assert keyed["out_of_order_pairs"].sum() == 0 and (keyed["partitions"] == 1).all()
    assert unkeyed["out_of_order_pairs"].sum() > 0 and (unkeyed["partitions"] > 1).any()


def test_one_partition_keeps_order_whatever_the_key():
    assert key_order(clicks_world("click_id", partitions=1))["out_of_order_pairs"].sum() == 0


def test_compare_keys_tells_order_and_load_apart():
    table = compare_keys().set_index("key")
    assert (
        table.loc["user_id", "out of order"] == 0
        and table.loc["user_id", "partitions used"] == "3 of 3"
    )
    assert (
        table.loc["region", "out of order"] == 0
        and table.loc["region", "partitions used"] == "1 of 3"
    )
    assert (table.loc[["product_id", "click_id", "(no key)"], "out of order"] > 0).all()


def test_null_keys_stick_for_ten_milliseconds_and_are_not_round_robin():
    table = null_key_partitions(n=15, every=0.002)
    for start in (0, 5, 10):  # one draw per 10 ms: five records at 2 ms apart
        assert table["sticky"].iloc[start : start + 5].nunique() == 1
    assert list(table["sticky"]) != list(table["round_robin"])
    assert table["no_sticky"].nunique() > 1


def test_adding_partitions_moves_keys_as_crc32_says():
    table = key_map(users(9), before=3, after=4)
    assert table["moved"].sum() == 9  # CRC32 modulo 3 and 4: all nine of these keys move
    for row in table.itertuples(index=False):
        assert row[1] == crc32_partition(row.key.encode(), 3) and row[2] == crc32_partition(
            row.key.encode(), 4
        )


def test_adding_partitions_mid_stream_breaks_order_only_for_moved_keys():
    assert len(order_breaks(growth_world(after=None))) == 0
    grown = growth_world(before=3, after=4, at=5.0)
    breaks = order_breaks(grown)
    moved = set(key_map(users(9))[lambda t: t["moved"]]["key"])
    assert len(breaks) > 0 and set(breaks["user_id"]) <= moved
    assert grown.topic("clicks").partition_count == 4


def test_a_window_as_long_as_the_longest_delay_leaves_nothing_late_and_costs_wait():
    _sim, none = late_world(None)
    _sim, short = late_world(0.5)
    _sim, enough = late_world(1.5, max_delay=1.5)
    assert none["handled out of order"] > 0 and none["late"] == 0
    assert short["late"] > 0 and short["handled out of order"] == 0
    assert enough["late"] == 0 and enough["handled out of order"] == 0
    assert (
        enough["handled"] == none["handled"]
    )  # nothing dropped: late ones go to taps.late, not away
    assert short["handled"] + short["late"] == none["handled"]
    assert enough["mean wait"] > short["mean wait"] > none["mean wait"]


def test_scenarios_are_deterministic():
    a, b = clicks_world(None), clicks_world(None)
    assert a.journal.digest() == b.journal.digest()
    assert shop_world(until=5.0).journal.digest() == shop_world(until=5.0).journal.digest()
