"""Check for the transactions notebook: make a payments pipeline exact end to end."""

from __future__ import annotations

from eda_sim.course.feedback import checker
from eda_sim.course.nb07.exactly_once import exercise_sweep

#: What can go wrong with a payment: result key -> (what went wrong, what is right when nothing did).
_PROBLEMS = {
    "charged_twice": ("charged twice", "no payment is charged twice"),
    "never_charged": ("never charged", "every payment is charged"),
    "posted_twice": (
        "posted twice (its PaymentPosted reached the reader twice)",
        "no payment is posted twice",
    ),
    "never_posted": ("never posted", "every payment is posted"),
}


@checker(
    "Exercise 07 · make the payments pipeline exact end to end",
    hint="put the input offsets in the transaction (send_offsets_to_transaction with "
    "next_offsets(kafka, messages) and consumer.consumer_group_metadata()) instead of consumer.commit(), and "
    "charge with store.handle(..., inbox=True): the transaction covers Kafka, the inbox covers the database",
)
def check_exact_payments(fb, process_batch) -> None:
    """Crash the learner's ``process_batch(messages, consumer, producer, store)`` before each call it makes.

    Feedback names, for each kind of fault, the first payment it hit and the
    crash that caused it.
    """
    if not callable(process_batch):
        fb.miss(
            f"process_batch should be a function(messages, consumer, producer, store), "
            f"got {type(process_batch).__name__}"
        )
        return
    runs = exercise_sweep(process_batch)
    clean = runs[0]
    fb.expect(
        not any(clean[key] for key in _PROBLEMS),
        "without a crash every payment is charged once and posted once",
        "even without a crash the pipeline is not exact: "
        + "; ".join(f"{clean[key][0]} {bad}" for key, (bad, _) in _PROBLEMS.items() if clean[key]),
    )
    fb.expect(
        len(runs) > 1,
        f"crashed before each of its {len(runs) - 1} calls to the store, the producer and the consumer",
        "the handler made no call the check can crash before (does it charge and produce?)",
    )
    for key, (wrong, right) in _PROBLEMS.items():
        bad = [r for r in runs[1:] if r[key]]
        if bad:
            first = bad[0]
            fb.miss(
                f"payment {first[key][0]} was {wrong} after a crash {first['crash']} "
                f"({len(bad)} of {len(runs) - 1} crash points go wrong this way)"
            )
        else:
            fb.ok(f"{right}, whatever the crash point")
