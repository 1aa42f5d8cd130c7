"""Checks for notebook 08 (retries and dead letters): choose a retry policy."""

from __future__ import annotations

from eda_sim.course.feedback import checker
from eda_sim.course.nb08.world import FLAKY_FAILURES, scoring_world, worst_stall
from eda_sim.services.retries import Retry
from eda_sim.services.service import reconcile

FLAKY = (3, 11, 23)
POISON = (7, 19)
MAX_STALL = 2.0
#: The exercise cell's starting policy: one try, no retries.
STARTER = Retry(attempts=1)


@checker(
    "retry-policy",
    "Exercise 08 · a retry policy that rescues the flaky and parks the poison",
    items=[
        ("flaky-rescued", 2, "every flaky transaction is scored after retries"),
        ("poison-parked", 1, "both poison transactions reach the dead-letter topic"),
        ("poison-not-retried", 1, "poison transactions are not retried"),
        ("short-holds", 1, f"no event holds its partition longer than {MAX_STALL:g} s"),
    ],
    hints=[
        "which failures can a retry fix, and which never? how long may one event hold up the events "
        "behind it on its partition?",
        f"a flaky event fails {FLAKY_FAILURES} times before it works, so it needs that many retries plus one "
        "try; keep the backoffs short enough that one event never holds its partition for more than "
        f"{MAX_STALL:g} s; leave ValueError among the permanent errors so poison is not retried",
    ],
    starter=lambda retry: retry == STARTER,
    not_answered="my_retry is still the starting Retry(attempts=1); choose your policy, then run the "
    "cell again",
)
def check_retry_policy(fb, retry) -> None:
    """Run the scorer with ``retry`` and check what happened to flaky and poison transactions."""
    if not isinstance(retry, Retry):
        fb.invalid(f"my_retry should be a Retry(...) policy, got {type(retry).__name__}")
        return
    sim, svc = scoring_world(retry)
    given_up = [n for n in FLAKY if n not in svc.scored and svc.tries[n] >= retry.attempts]
    waiting = [n for n in FLAKY if n not in svc.scored and svc.tries[n] < retry.attempts]
    recon = reconcile(sim, svc).iloc[0]
    fb.mark(
        "flaky-rescued",
        not given_up and not waiting,
        f"every flaky transaction was scored after retries ({', '.join(map(str, FLAKY))})",
        "; ".join(
            part
            for part in (
                f"flaky transactions {given_up} were given up on: {retry.attempts} tries are not enough "
                f"for an event that fails {FLAKY_FAILURES} times"
                if given_up
                else "",
                f"flaky transactions {waiting} were still waiting their turn when the run ended "
                f"({recon.in_flight} events in flight)"
                if waiting
                else "",
            )
            if part
        ),
    )
    parked = [n for n in POISON if n not in svc.scored and svc.tries[n] > 0]
    fb.mark(
        "poison-parked",
        recon.dead_lettered == len(POISON) and len(parked) == len(POISON),
        "both poison transactions are in the dead-letter topic",
        f"{recon.dead_lettered} event(s) reached the dead-letter topic; expected the {len(POISON)} poison "
        "ones",
    )
    retried_poison = [n for n in POISON if svc.tries[n] > 1]
    fb.mark(
        "poison-not-retried",
        not retried_poison,
        "poison transactions were not retried (a ValueError is permanent)",
        f"poison transactions {retried_poison} were tried {max(svc.tries[n] for n in POISON)} times: "
        "no retry can fix them, so ValueError belongs among the permanent errors",
    )
    stall = worst_stall(sim)
    fb.mark(
        "short-holds",
        stall <= MAX_STALL,
        f"no event held its partition longer than {MAX_STALL:g} s (the longest: {stall:.2f} s)",
        f"one event held its partition for {stall:.2f} s, over the {MAX_STALL:g} s limit: the backoffs "
        "add up to too long a wait",
    )


hint = check_retry_policy.hint
