"""Worlds for the retries lesson: a scorer with flaky and poison events.

The ``fraud-scorer`` service scores ``TransactionSubmitted`` events. Some
events hit a flaky feature store (fails a couple of times, then works), some
are poison (a field the model cannot handle: fails every time).

Example::

    sim, svc = scoring_world(Retry(attempts=4, backoff=0.2))
    reconcile(sim, svc)               # produced = processed + dead-lettered + in flight (+ expired + lost)
    dead_letters(sim, "transactions.DLT")
"""

from __future__ import annotations

from collections import Counter

from eda_sim.core.simulation import Simulation
from eda_sim.services.load import Source
from eda_sim.services.retries import Retry, TransientError
from eda_sim.services.service import Service

FLAKY_FAILURES = 2  # a flaky event fails this many times before it works


def transactions(n: int = 30, every: float = 0.1, poison=(7, 19), flaky=(3, 11, 23)) -> list[dict]:
    """``n`` transactions for four cards; indices in ``poison`` carry a currency the model cannot score."""
    return [
        {
            "time": round(i * every, 6),
            "type": "TransactionSubmitted",
            "card": f"card-{i % 4}",
            "n": i,
            "amount": 10.0 + i,
            "currency": "XXX" if i in poison else "EUR",
            "flaky": i in flaky,
        }
        for i in range(n)
    ]


def scoring_world(
    retry: Retry | None = None,
    *,
    poison=(7, 19),
    flaky=(3, 11, 23),
    n: int = 30,
    dead_letter: bool = True,
    until: float = 20.0,
    seed: int = 3,
):
    """Run the scorer over ``n`` transactions; return ``(sim, service)``.

    ``svc.scored`` lists the transaction numbers scored, in order;
    ``svc.tries`` counts tries per transaction number.
    """
    sim = Simulation(seed=seed, name="scoring")
    sim.create_topic("transactions", partitions=2)
    sim.create_topic("scores", partitions=2)
    Source(
        sim, "payments-api", "transactions", transactions(n, poison=poison, flaky=flaky), key="card"
    )
    tries: Counter = Counter()
    scored: list = []

    def score(event, ctx):
        p = event.payload
        tries[p["n"]] += 1
        if p["flaky"] and tries[p["n"]] <= FLAKY_FAILURES:
            raise TransientError("feature store timed out")
        if p["currency"] not in ("EUR", "USD"):
            raise ValueError(f"cannot score currency {p['currency']!r}")
        scored.append(p["n"])
        ctx.emit(
            "scores",
            "TransactionScored",
            {"n": p["n"], "risk": round(min(1.0, p["amount"] / 100), 2)},
        )

    svc = Service(
        sim,
        "fraud-scorer",
        consumes="transactions",
        handlers={"TransactionSubmitted": score},
        produces={"scores": ["TransactionScored"]},
        retry=retry,
        dead_letter=dead_letter,
        processing_time=0.02,
    )
    svc.tries, svc.scored = tries, scored
    sim.run(until=until)
    return sim, svc


def worst_stall(sim, service: str = "fraud-scorer") -> float:
    """The longest time one event held its partition (from start of handling to its end), in seconds."""
    spans = [s for s in sim.spans if s.service == service]
    return max((s.finished - s.started for s in spans), default=0.0)
