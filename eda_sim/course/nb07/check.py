"""Check for the transactions notebook: make a payments pipeline exact end to end."""

from __future__ import annotations

from eda_sim.course.feedback import checker, same_code
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


#: The exercise cell's starting handler: a transaction for the output, the offsets committed apart.
STARTER = """
def process_batch(messages, consumer, producer, store):
    producer.begin_transaction()
    for m in messages:
        pay = json.loads(m.value())
        store.handle(pay["id"], pay["account"], pay["amount"])
        producer.produce("posted", key=pay["account"], value=json.dumps({"id": pay["id"]}))
    producer.commit_transaction()
    consumer.commit(asynchronous=False)
"""


@checker(
    "exact-payments",
    "Exercise 07 · make the payments pipeline exact end to end",
    items=[
        ("clean-run", 1, "without a crash every payment is charged once and posted once"),
        *[
            (key, 1, right + ", whatever the crash point")
            for key, (_wrong, right) in _PROBLEMS.items()
        ],
    ],
    hints=[
        "two things must happen exactly once: the charge in the database and the event in Kafka; what "
        "covers each of them when the process dies between two calls?",
        "put the input offsets in the transaction (send_offsets_to_transaction with "
        "next_offsets(kafka, messages) and consumer.consumer_group_metadata()) instead of "
        "consumer.commit(), and charge with store.handle(..., inbox=True): the transaction covers Kafka, "
        "the inbox covers the database",
    ],
    starter=lambda process_batch: same_code(process_batch, STARTER),
    not_answered="process_batch is still the starting handler; change it so a crash at any point charges "
    "and posts each payment once, then run the cell again",
)
def check_exact_payments(fb, process_batch) -> None:
    """Crash the learner's ``process_batch(messages, consumer, producer, store)`` before each call it makes.

    Feedback names, for each kind of fault, the first payment it hit and the
    crash that caused it.
    """
    if not callable(process_batch):
        fb.invalid(
            f"process_batch should be a function(messages, consumer, producer, store), "
            f"got {type(process_batch).__name__}"
        )
        return
    runs = exercise_sweep(fb.guard(process_batch, "process_batch"))
    fb.stop_if_raised()
    clean = runs[0]
    fb.mark(
        "clean-run",
        not any(clean[key] for key in _PROBLEMS),
        "without a crash every payment is charged once and posted once",
        "even without a crash the pipeline is not exact: "
        + "; ".join(f"{clean[key][0]} {bad}" for key, (bad, _) in _PROBLEMS.items() if clean[key]),
    )
    if len(runs) == 1:
        fb.note("the handler made no call the check can crash before (does it charge and produce?)")
        for key in _PROBLEMS:
            fb.fail(key, "not checked under crashes: the handler made no call to crash before")
        return
    fb.note(
        f"crashed before each of its {len(runs) - 1} calls to the store, the producer and the consumer"
    )
    for key, (wrong, right) in _PROBLEMS.items():
        bad = [r for r in runs[1:] if r[key]]
        first = bad[0] if bad else None
        fb.mark(
            key,
            not bad,
            f"{right}, whatever the crash point",
            f"payment {first[key][0]} was {wrong} after a crash {first['crash']} "
            f"({len(bad)} of {len(runs) - 1} crash points go wrong this way)"
            if first
            else "",
        )


hint = check_exact_payments.hint
