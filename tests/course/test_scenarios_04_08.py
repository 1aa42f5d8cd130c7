"""The stories notebooks 04 and 10 tell, held to what the worlds actually do."""

import pytest

from eda_sim.course.nb04.world import (
    CRASH_AT,
    JOIN_AT,
    consumers_sweep,
    group_world,
    members_table,
    processed_twice,
    rebalance_story,
    revocations,
    storm_once,
)
from eda_sim.course.nb10.world import (
    PARTITIONS,
    backpressure_table,
    hot_key_table,
    hot_key_world,
    hot_partition,
    storm_summary,
    storm_world,
)

# -- 04 ----------------------------------------------------------------------------------------


def test_throughput_grows_until_consumers_equal_partitions_then_extras_sit_idle():
    sweep = consumers_sweep(range(1, 7), until=6.0).set_index("consumers")
    t = sweep["throughput"]
    assert t[1] < t[2] < t[3] < t[4]
    assert (
        t[5] == t[4] == t[6] and sweep.loc[6, "lag"] == sweep.loc[4, "lag"] > 0
    )  # a backlog, and still no gain
    assert list(sweep["idle"]) == [0, 0, 0, 0, 1, 2]
    table = members_table(group_world(6, until=3.0)).set_index("worker")
    assert table.loc["worker-5", "partitions"] == table.loc["worker-6", "partitions"] == "(none)"
    assert (
        table.loc["worker-5", "processed"] == 0
        and (table.loc["worker-1":"worker-4", "processed"] > 0).all()
    )


def test_a_crash_after_processing_and_before_committing_makes_the_new_owner_process_again():
    sim = rebalance_story("range")
    twice = processed_twice(sim)
    assert (
        len(twice)
        and (twice["first_by"] == "worker-1").all()
        and (twice["again_by"] == "worker-3").all()
    )
    crashed = sim.journal.rows("crashed")
    assert len(crashed) == 1 and crashed[0].time == pytest.approx(CRASH_AT)
    # nothing else was repeated: the clean join and leave committed on the way (auto-commit on revoke)
    assert twice["records"].sum() == sum(r.count for r in sim.journal.rows("processed")) - len(
        {
            (r.partition, o)
            for r in sim.journal.rows("processed")
            for o in range(r.offset, r.offset + r.count)
        }
    )


def test_cooperative_revokes_only_what_moves_and_eager_revokes_everything():
    eager = revocations(rebalance_story("range"), JOIN_AT)
    coop = revocations(rebalance_story("cooperative-sticky"), JOIN_AT)
    assert eager["count"].sum() == PARTITIONS  # both members gave up all six partitions
    assert coop["count"].sum() == 2 < eager["count"].sum()  # two partitions moved to the newcomer


def test_a_batch_longer_than_max_poll_interval_evicts_the_worker_its_commit_fails_and_a_rebalance_follows():
    sim = group_world(
        1,
        partitions=2,
        rate=20,
        processing_time=0.02,
        max_poll_records=200,
        max_poll_interval_ms=2000,
        backlog=400,
        until=9.0,
    )
    kinds = [
        r.kind
        for r in sim.journal.rows()
        if r.kind in ("evicted", "rebalanced", "joined", "committed")
    ]
    first = kinds.index("evicted")
    assert (
        kinds[first + 1] == "rebalanced" and "joined" in kinds[first:]
    )  # evicted, then back: again and again
    assert kinds.count("evicted") >= 2 and "committed" not in kinds  # its commits never land
    storm = storm_once(0.02, 200)
    assert storm["evictions"] > 0 and storm["duplicates"] > 0 and storm["committed_per_s"] == 0
    calm = storm_once(0.02, 50)
    assert calm["evictions"] == 0 and calm["duplicates"] == 0 and calm["committed_per_s"] > 0


def test_in_a_rebalance_storm_cooperative_revokes_fewer_partitions_than_eager():
    eager, coop = storm_once(0.02, 200, "range"), storm_once(0.02, 200, "cooperative-sticky")
    assert eager["evictions"] == coop["evictions"] > 0  # the protocol does not stop the storm
    assert coop["revoked"] < eager["revoked"]


# -- 08 ----------------------------------------------------------------------------------------


def test_a_storm_outruns_the_scorer_and_raises_then_the_autoscaler_drains_it_and_resolves():
    off, on = storm_summary(storm_world()), storm_summary(storm_world(autoscale=True))
    assert off["drained_at"] is None and off["alerts_raised"] == 2
    assert on["drained_at"] is not None and on["peak_lag"] < off["peak_lag"]


def test_the_autoscaler_caps_at_the_partition_count():
    w = storm_world(autoscale=True, max_instances=12, scale_out_lag=20, scale_in_lag=2, cooldown=1)
    d = w.scaler.decisions
    assert d["after"].max() == PARTITIONS and w.scaler.samples["instances"].max() == PARTITIONS
    assert (d["action"] == "refused").any()


def test_backpressure_bounds_what_an_instance_holds_and_the_rest_waits_in_the_log():
    table = backpressure_table((5, 1000)).set_index("max_in_flight")
    assert table.loc[5, "held_in_memory"] <= 2 * 5 + 2 < table.loc[1000, "held_in_memory"]
    assert table.loc[5, "peak_lag"] > 100  # the backlog is still there, in the log


def test_a_hot_partition_dominates_the_group_lag_and_more_consumers_do_not_help_but_salting_does():
    table = hot_key_table(((6, 0), (8, 0), (6, 4)), until=20.0).set_index(["instances", "salts"])
    six, eight, salted = table.loc[(6, 0)], table.loc[(8, 0)], table.loc[(6, 4)]
    assert six["hot_share"] >= 0.9 and six["hot_lag"] > 200
    assert eight["hot_lag"] == six["hot_lag"] and eight["hot_partition"] == six["hot_partition"]
    assert (
        salted["hot_lag"] < six["hot_lag"] / 4
        and salted["user_0_out_of_order"] > 0 == six["user_0_out_of_order"]
    )
    assert hot_partition(hot_key_world(until=10.0))["hot_partition"] == six["hot_partition"]


def test_a_manual_committer_handing_over_without_a_callback_has_its_work_redone_and_commit_on_revoke_prevents_it():
    from eda_sim.course.nb04.world import handover

    plain = handover()
    assert plain["a processed"] == 12 and plain["revoked from a"] == [0, 1]  # eager: both revoked
    assert plain["b processes again"] > 0
    committed = handover(lambda consumer, partitions: consumer.commit(asynchronous=False))
    assert committed["b processes again"] == 0 and committed["a processed"] == 12
