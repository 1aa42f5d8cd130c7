"""Promise 17: transactions under crashes, zombies, stalls and timeouts, at every point of the loop.

A read_committed reader never sees a record of an aborted transaction and sees
a committed transaction's records together; each input's effect is in the
output exactly once; a fenced producer commits nothing. The same loop without
transactions duplicates: the counter-example.
"""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eda_sim.course.nb07.world import ACTIONS, run_pipeline

#: A run without faults has 12 steps (3 batches x 4 steps); crashes add more.
STEPS = 16


def check_promises(run) -> None:
    txns = run.sim.transactions
    # 1. read_committed never sees a record of an aborted (or open) transaction.
    for seen in run.observed:
        for partition, offset in seen:
            status = txns.partitions[("doubled", partition)].status(offset)
            assert status == "committed", (partition, offset, status)
    # 2. ... and sees a committed transaction's records together, at every observation.
    members: dict = {}
    for (_topic, partition), parts in txns.partitions.items():
        for offset, txn in parts.records.items():
            members.setdefault(txn.name, set()).add((partition, offset))
    for seen in run.observed:
        for name, records in members.items():
            assert not (records & seen) or records <= seen, f"{name} seen in part"
    # 3. each input's effect exactly once.
    assert run.duplicated == [] and run.lost == []
    # 4. a fenced producer commits nothing: every commit carries the epoch current at that moment.
    by_name = {t.name: t for t in txns.transactions}
    epoch = -1
    for row in run.sim.journal.rows():
        if row.kind == "txn_init":
            epoch = int(row.detail.rsplit(" ", 1)[1])
        elif row.kind == "txn_timed_out":
            epoch += 1
        elif row.kind == "txn_committed":
            assert by_name[row.detail.split(":")[0]].epoch == epoch, row
    assert not any(t.state == "ongoing" for t in txns.transactions)


def test_every_single_crash_point_keeps_the_promises():
    for step in range(STEPS):
        for action in ACTIONS:
            run = run_pipeline(True, [(step, action)], name="every-point")
            check_promises(run)


schedules = st.lists(
    st.tuples(st.integers(0, STEPS), st.sampled_from(ACTIONS)), min_size=1, max_size=3
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(schedule=schedules, stall=st.sampled_from([2.0, 5.0, 7.0]), batch=st.integers(1, 5))
def test_random_fault_schedules_keep_the_promises(schedule, stall, batch):
    run = run_pipeline(True, schedule, stall=stall, batch=batch, name="random-faults")
    check_promises(run)


def test_a_zombie_woken_after_its_replacement_is_fenced_and_commits_nothing():
    run = run_pipeline(True, [(6, "zombie")], name="zombie")  # step 6: second batch's offsets sent
    zombie = run.instances[0]
    assert zombie["name"] in run.fenced and zombie["fate"] == "failed: _FENCED"
    frozen = [t for t in run.sim.transactions.transactions if t.epoch == 0]
    assert frozen[-1].state == "aborted" and frozen[-1].offsets  # what it had open when it froze
    check_promises(run)


def test_a_stall_past_the_transaction_timeout_is_fenced_then_replaced():
    run = run_pipeline(True, [(1, "stall")], stall=7.0, name="stall")
    assert run.instances[0]["fate"] == "failed: _FENCED"
    assert any(r.kind == "txn_timed_out" for r in run.sim.journal.rows())
    check_promises(run)


def test_without_transactions_the_same_loop_duplicates():
    """The counter-example: a crash after the outputs are written and before the commit repeats them."""
    run = run_pipeline(False, [(1, "crash")], name="plain")  # step 1 is "produced"
    assert run.instances[0]["fate"] == "crashed after produced"
    assert run.duplicated == [0, 1, 2, 3] and run.lost == []


def test_without_transactions_a_zombie_duplicates_too():
    run = run_pipeline(False, [(4, "zombie")], name="plain-zombie")
    assert run.duplicated and run.fenced == []


def test_read_uncommitted_readers_see_what_was_aborted():
    run = run_pipeline(
        True, [(1, "stall")], stall=7.0, name="ru"
    )  # the batch lands, then times out
    aborted = [t for t in run.sim.transactions.transactions if t.state == "aborted"]
    assert aborted and aborted[0].partitions
    assert len(run.uncommitted_values) > len(run.committed_values)


def test_named_steps_crash_the_same_point_of_either_loop():
    from eda_sim.course.nb07.world import compare_loops

    table = compare_loops({"crash after producing": ([("produced", "crash")], 5.0)})
    assert list(table["duplicated"]) == [4, 0] and list(table["lost"]) == [0, 0]
    run = run_pipeline(True, [("produced@2", "zombie")], name="named")
    assert run.instances[0]["fate"] == "failed: _FENCED"
    assert run.instances[0]["done"].count("produced") == 2
