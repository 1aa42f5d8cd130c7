"""Checks for notebook 05 (delivery and idempotency): make the ledger exact."""

from __future__ import annotations

from eda_sim.course.feedback import checker
from eda_sim.course.nb05.world import duplicates_delivered, expected_totals, payments_world


@checker(
    "Exercise 05 · make the ledger exact under redelivery",
    hint="remember each event's id (event.id) in a set before you post it, and return early when the id "
    "is already there; two payments can be equal in everything but their id, so never compare payloads",
)
def check_idempotent_ledger(fb, post_payment, ledger, seen=None) -> None:
    """Run the crash scenario with the learner's ``post_payment(event, ctx)`` that adds to ``ledger``.

    ``ledger`` is the learner's Counter; ``seen`` (optional) their set of processed ids, cleared first so
    the check can be run repeatedly.
    """
    if not callable(post_payment):
        fb.miss("post_payment should be a function(event, ctx)")
        return
    ledger.clear()
    if seen is not None:
        seen.clear()
    sim, _ = payments_world(post_payment, crash_at=0.43)
    expected = expected_totals()
    dups = duplicates_delivered(sim)
    fb.expect(
        dups > 0,
        f"the crash made the broker deliver {dups} payment(s) twice, as at-least-once allows",
        "no duplicate was delivered in this run; the check needs one (did the scenario change?)",
    )
    total, want = sum(ledger.values()), sum(expected.values())
    if total > want:
        fb.miss(
            f"the ledger holds {total} but the payments add up to {want}: a redelivered payment was posted twice"
        )
    elif total < want:
        fb.miss(
            f"the ledger holds {total} but the payments add up to {want}: a real payment was skipped "
            "(two different payments can have the same account and amount)"
        )
    else:
        fb.ok(f"the ledger total is exact: {total}")
    fb.expect(
        dict(ledger) == dict(expected),
        "every account's balance is right",
        f"balances differ: {dict(sorted(ledger.items()))} vs expected {dict(sorted(expected.items()))}",
    )
