"""The durability lesson's worlds and its exercise check (right, partly right, wrong, garbage, raising)."""

from __future__ import annotations

import pytest

from eda_sim.course.nb06.check import check_topic_settings
from eda_sim.course.nb06.world import failover, sweep, too_few_in_sync

PAYMENTS = {"acks": "all", "min.insync.replicas": 2, "unclean.leader.election.enable": False}
CLICKS = {"acks": 1, "min.insync.replicas": 1, "unclean.leader.election.enable": True}


def test_acks_1_failover_loses_acknowledged_payments_while_the_ledger_lag_reads_0():
    out = failover("1")
    assert out.lost and not out.refused
    assert set(out.lost) <= set(out.acked)
    lag = out.sim.offsets("ledger").lag.tolist()
    assert lag == [0]


def test_acks_all_min_insync_2_loses_nothing_and_idempotence_removes_the_duplicates():
    plain = failover("all", 2)
    assert not plain.lost and plain.duplicated  # retried after the crash: written twice
    once = failover("all", 2, idempotent=True)
    assert not once.lost and not once.duplicated
    assert len(once.acked) == len(once.sent)


def test_too_few_in_sync_replicas_refuses_writes_while_reads_go_on():
    out, windows = too_few_in_sync()
    assert out.refused and not out.lost
    late = [p for p in out.sent if int(p[4:]) >= 200]  # sent 10 s after the crash
    assert all(p in out.refused for p in late)
    after = windows[windows.window.isin(["15-20 s", "20-25 s", "25-30 s"])]
    assert after.acknowledged.sum() == 0 and after.refused.sum() > 0
    assert after.ledger_read.sum() > 0  # the ledger kept reading while writes were refused


def test_sweep_shows_the_trade_between_lost_and_refused():
    frame = sweep().set_index(["acks", "min.insync.replicas", "unclean"])
    assert frame.loc[("1", 1, False), "lost"] > 0  # acks=1 loses on a clean failover
    assert frame.loc[("all", 2, False), "lost"] == 0
    assert frame.loc[("all", 2, True), "lost"] == 0
    assert (
        frame.loc[("all", 1, True), "lost"] > 0
    )  # unclean election loses what only the leader had
    assert frame.loc[("1", 1, True), "refused"] == 0  # unclean keeps accepting writes
    assert frame.loc[("all", 2, False), "refused"] > frame.loc[("all", 1, False), "refused"]


def test_check_passes_the_right_settings():
    fb = check_topic_settings(PAYMENTS, CLICKS)
    assert fb.passed, str(fb)


def test_check_names_what_partly_right_settings_put_at_risk():
    fb = check_topic_settings({**PAYMENTS, "min.insync.replicas": 1}, CLICKS)
    assert not fb.passed
    assert any("one broker alone held them" in m and "pay-" in m for m in fb.missing)
    assert any("no click was refused" in r for r in fb.right)


def test_check_names_lost_payments_and_refused_clicks_for_swapped_settings():
    fb = check_topic_settings(CLICKS, PAYMENTS)
    assert len(fb.missing) == 3 and fb.score == 0
    assert "acknowledged and then lost: pay-" in fb.missing[0]
    assert "click(s) were refused (click-" in fb.missing[2]


@pytest.mark.parametrize(
    "payments, clicks, said",
    [
        ("all", CLICKS, "should be a dict"),
        ({"acks": "all"}, CLICKS, "set min.insync.replicas"),
        ({**PAYMENTS, "acks": 2}, CLICKS, "acks is one of"),
        ({**PAYMENTS, "min.insync.replicas": 4}, CLICKS, "from 1 to 3"),
        ({**PAYMENTS, "unclean.leader.election.enable": "no"}, CLICKS, "True or False"),
        ({**PAYMENTS, "retention.ms": 1}, CLICKS, "unknown setting"),
    ],
)
def test_check_explains_garbage_answers(payments, clicks, said):
    fb = check_topic_settings(payments, clicks)
    assert not fb.passed
    assert any(said in m for m in fb.missing), fb.missing


def test_check_reports_an_answer_that_raises_without_raising():
    class Broken(dict):
        def __iter__(self):
            raise RuntimeError("my settings are broken")

    fb = check_topic_settings(Broken(PAYMENTS), CLICKS)
    assert not fb.passed
    assert any("RuntimeError: my settings are broken" in m for m in fb.missing)
