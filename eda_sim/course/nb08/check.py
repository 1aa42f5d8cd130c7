"""Checks for notebook 08 (retries and dead letters): choose a retry policy."""

from __future__ import annotations

from eda_sim.course.feedback import checker
from eda_sim.course.nb08.world import FLAKY_FAILURES, scoring_world, worst_stall
from eda_sim.services.retries import Retry
from eda_sim.services.service import reconcile

FLAKY = (3, 11, 23)
POISON = (7, 19)
MAX_STALL = 2.0


@checker(
    "Exercise 06 · a retry policy that rescues the flaky and parks the poison",
    hint=f"a flaky event fails {FLAKY_FAILURES} times before it works, so it needs that many retries plus one "
    "try; keep the backoffs short enough that one event never holds its partition for more than "
    f"{MAX_STALL:g} s; leave ValueError among the permanent errors so poison is not retried",
)
def check_retry_policy(fb, retry) -> None:
    """Run the scorer with ``retry`` and check what happened to flaky and poison transactions."""
    if not isinstance(retry, Retry):
        fb.miss(f"my_retry should be a Retry(...) policy, got {type(retry).__name__}")
        return
    sim, svc = scoring_world(retry)
    given_up = [n for n in FLAKY if n not in svc.scored and svc.tries[n] >= retry.attempts]
    waiting = [n for n in FLAKY if n not in svc.scored and svc.tries[n] < retry.attempts]
    fb.expect(
        not given_up and not waiting,
        f"every flaky transaction was scored after retries ({', '.join(map(str, FLAKY))})",
        (
            f"flaky transactions {given_up} were given up on: {retry.attempts} tries are not enough. "
            if given_up
            else ""
        )
        + (f"flaky transactions {waiting} never got their turn" if waiting else ""),
    )
    parked = [n for n in POISON if n not in svc.scored and svc.tries[n] > 0]
    recon = reconcile(sim, svc).iloc[0]
    fb.expect(
        recon.dead_lettered == len(POISON) and len(parked) == len(POISON),
        "both poison transactions are in the dead-letter topic",
        f"{recon.dead_lettered} event(s) reached the dead-letter topic; expected the {len(POISON)} poison ones",
    )
    retried_poison = [n for n in POISON if svc.tries[n] > 1]
    fb.expect(
        not retried_poison,
        "poison transactions were not retried (a ValueError is permanent)",
        f"poison transactions {retried_poison} were retried {max(svc.tries[n] for n in POISON)} times: "
        "no retry can fix them",
    )
    stall = worst_stall(sim)
    fb.expect(
        recon.in_flight == 0 and stall <= MAX_STALL,
        f"no event held its partition longer than {MAX_STALL:g} s (worst: {stall:.2f} s)",
        f"the stream was blocked: {recon.in_flight} still waiting, worst hold {stall:.2f} s",
    )
