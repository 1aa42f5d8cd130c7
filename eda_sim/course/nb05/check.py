"""Checks for notebook 05 (delivery and idempotency): make the ledger exact."""

from __future__ import annotations

from collections import Counter

from eda_sim.course.feedback import checker, plain, same_code, takes
from eda_sim.course.nb05.world import duplicates_delivered, expected_totals, payments_world

#: The exercise cell's starting handler: it posts every delivery, copies included.
STARTER = """
def post_payment(event, ctx):
    ledger[event.payload["account"]] += event.payload["amount"]
"""


@checker(
    "idempotent-ledger",
    "Exercise 05 · make the ledger exact under redelivery",
    items=[
        ("no-double-post", 2, "a redelivered payment is posted once"),
        ("no-skip", 1, "every real payment is posted, even one that looks like another"),
        ("balances", 1, "every account's balance is right"),
    ],
    hints=[
        "after the crash the broker delivers some payments again: what tells a copy of a payment apart "
        "from a new payment that happens to look the same?",
        "remember each event's id (event.id) in the set `seen` before you post it, and return early when "
        "the id is already there; two payments can be equal in everything but their id, so never "
        "compare payloads",
    ],
    starter=lambda post_payment, *rest, **kw: same_code(post_payment, STARTER),
    not_answered="post_payment is still the starting handler, which posts every delivery; change it so "
    "a payment delivered twice is posted once, then run the cell again",
)
def check_idempotent_ledger(fb, post_payment, ledger, seen=None) -> None:
    """Run the crash scenario with the learner's ``post_payment(event, ctx)`` that adds to ``ledger``.

    ``ledger`` is the learner's Counter; ``seen`` (optional) their set of processed ids, cleared first so
    the check can be run repeatedly.
    """
    wrong = takes(post_payment, "event", "ctx")
    if wrong:
        fb.invalid(f"post_payment {wrong}")
        return
    if not isinstance(ledger, dict):
        fb.invalid(
            f"ledger should be the Counter your handler adds to, got {type(ledger).__name__}"
        )
        return
    ledger.clear()
    if seen is not None and hasattr(seen, "clear"):
        seen.clear()
    guarded = fb.guard(post_payment, "post_payment")
    posts: Counter = Counter()  # event id -> deliveries that changed the ledger
    payloads: dict = {}

    def watched(event, ctx):
        before = dict(ledger)
        payloads[event.id] = event.payload
        guarded(event, ctx)
        posts[event.id] += dict(ledger) != before

    sim, _ = payments_world(watched, crash_at=0.43)
    fb.stop_if_raised()
    expected = expected_totals()
    dups = duplicates_delivered(sim)
    fb.note(f"the crash made the broker deliver {dups} payment(s) twice, as at-least-once allows")
    twice = sorted(i for i, n in posts.items() if n > 1)
    skipped = sorted(i for i in payloads if posts[i] == 0)
    total, want = sum(ledger.values()), sum(expected.values())
    if not any(posts.values()):
        fb.fail("no-double-post", "your handler posted nothing to the ledger")
    else:
        fb.mark(
            "no-double-post",
            not twice,
            "each redelivered payment was posted once",
            f"{len(twice)} redelivered payment(s) were posted twice, e.g. {twice[0]} "
            f"{plain(payloads[twice[0]]) if twice else ''}: the ledger holds {total}, the payments add up to {want}"
            if twice
            else "",
        )
    fb.mark(
        "no-skip",
        not skipped,
        "every real payment was posted, even the one equal to another in all but its id",
        f"{len(skipped)} real payment(s) were never posted, e.g. {skipped[0]} {plain(payloads[skipped[0]])}: "
        "two different payments can have the same account and amount"
        if skipped
        else "",
    )
    fb.mark(
        "balances",
        dict(ledger) == dict(expected),
        f"every account's balance is right (the ledger total is exact: {total})",
        f"balances differ: {dict(sorted(ledger.items()))} vs expected {dict(sorted(expected.items()))}",
    )


hint = check_idempotent_ledger.hint
