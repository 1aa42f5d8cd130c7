"""Notebook 04's group-protocol worlds and the static-deploy exercise check.

The check is tested on right, partly right, wrong, garbage and raising
answers; the sweeps on what they must show: static membership removes the
rebalances of a rolling deploy and pays in paused partitions; KIP-848 moves
fewer partitions than eager; a share group outruns a consumer group of the
same size on two partitions and breaks per-key order.
"""

from __future__ import annotations

from eda_sim.course.nb04.check import check_static_deploy
from eda_sim.course.nb04.protocols import deploy_sweep, paused_seconds, storm_world
from eda_sim.course.nb04.share import share_vs_group


def test_deploy_sweep_six_rows_static_trades_rebalances_for_paused_time():
    table = deploy_sweep()
    assert list(zip(table.protocol, table.static)) == [
        (p, s) for p in ("eager", "cooperative", "consumer") for s in (False, True)
    ]
    static = table[table.static]
    dynamic = table[~table.static]
    assert (static.rebalances == 0).all() and (dynamic.rebalances > 0).all()
    assert (static.duplicates == 0).all()
    # three restarts of 2 s, each leaving two partitions unread: about 12 partition-seconds
    assert all(11.0 < p < 14.0 for p in static.paused_s)
    eager = table[(table.protocol == "eager") & ~table.static].iloc[0]
    consumer = table[(table.protocol == "consumer") & ~table.static].iloc[0]
    assert consumer.revoked < eager.revoked


def test_static_membership_does_not_stop_a_classic_storm():
    dynamic = storm_world("eager", False)
    static = storm_world("eager", True)
    assert len(static.journal.rows("evicted")) == len(dynamic.journal.rows("evicted")) > 0
    assert paused_seconds(static) == paused_seconds(dynamic)


def test_share_group_scales_past_the_partitions_and_breaks_key_order():
    table = share_vs_group(6)
    assert table.loc[1, "processed_per_s"] > 2.5 * table.loc[0, "processed_per_s"]
    assert table.loc[0, "keys_out_of_order"] == 0 and table.loc[1, "keys_out_of_order"] > 0


def test_static_deploy_right():
    fb = check_static_deploy(lambda name: {"group.instance.id": name, "session.timeout.ms": 75000})
    assert fb.passed and "no rebalance" in str(fb)


def test_static_deploy_partly_right_default_session_is_too_short():
    fb = check_static_deploy(lambda name: {"group.instance.id": name})
    text = str(fb)
    assert not fb.passed and "2 of 4 points" in text
    assert "longer than the session (45 s)" in text and "stuck?" in text


def test_static_deploy_partly_right_shared_id_and_too_long_session():
    text = str(
        check_static_deploy(lambda name: {"group.instance.id": "svc", "session.timeout.ms": 75000})
    )
    assert "'svc' is used more than once" in text
    text = str(
        check_static_deploy(lambda name: {"group.instance.id": name, "session.timeout.ms": 600000})
    )
    assert "unread, for 600 s" in text


def test_static_deploy_wrong():
    fb = check_static_deploy(lambda name: {"session.timeout.ms": 75000})
    text = str(fb)
    assert not fb.passed and "3 of 3 have none" in text and "6 rebalances" in text


def test_static_deploy_garbage_and_raising():
    assert "should be a function" in str(check_static_deploy({"group.instance.id": "a"}))
    assert "should return a dict" in str(check_static_deploy(lambda name: name))
    assert "No such configuration property" in str(
        check_static_deploy(lambda name: {"instance.id": name})
    )
    assert "raised ZeroDivisionError" in str(check_static_deploy(lambda name: 1 / 0))
