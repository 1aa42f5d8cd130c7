"""The six strategies at the edge of exactly-once, crashed after every step of the payments service."""

import pytest

from eda_sim.course.nb07.exactly_once import STRATEGIES, effects_sweep, run_payments

CRASH_POINTS = range(14)


def runs(strategy):
    return [run_payments(strategy, k) for k in CRASH_POINTS]


def total(results, column):
    return sum(r[column] for r in results)


def test_without_a_crash_every_strategy_is_exact():
    for strategy in STRATEGIES:
        r = run_payments(strategy, None)
        assert (r["charges_lost"], r["charges_duplicated"]) == (0, 0), strategy
        assert (r["events_lost"], r["events_duplicated"]) == (0, 0), strategy


def test_commit_before_loses_and_never_duplicates():
    results = runs("commit before")
    assert total(results, "charges_lost") > 0 and total(results, "events_lost") > 0
    assert total(results, "charges_duplicated") == 0 and total(results, "events_duplicated") == 0


def test_commit_after_duplicates_charges_and_events_and_never_loses():
    results = runs("commit after")
    assert total(results, "charges_duplicated") > 0 and total(results, "events_duplicated") > 0
    assert total(results, "charges_lost") == 0 and total(results, "events_lost") == 0


def test_the_inbox_makes_charges_exact_but_events_still_repeat():
    results = runs("idempotent inbox")
    assert total(results, "charges_lost") == 0 and total(results, "charges_duplicated") == 0
    assert total(results, "events_duplicated") > 0


def test_kafka_transactions_alone_double_charge_the_database():
    """enable.idempotence and transactions make Kafka's half exact; the database is outside them."""
    results = runs("Kafka transactions")
    assert total(results, "events_lost") == 0 and total(results, "events_duplicated") == 0
    assert total(results, "charges_duplicated") > 0


@pytest.mark.parametrize("strategy", ["transactions + inbox", "outbox + inbox"])
def test_both_halves_exact(strategy):
    results = runs(strategy)
    assert total(results, "charges_lost") == 0 and total(results, "charges_duplicated") == 0
    assert total(results, "events_lost") == 0
    if strategy == "transactions + inbox":
        assert total(results, "events_duplicated") == 0
    else:  # the relay publishes at least once: copies share the payment's id, downstream drops them
        assert total(results, "events_duplicated") > 0


def test_the_sweep_has_one_row_per_strategy():
    table = effects_sweep(n=8, steps=3)
    assert list(table.index) == list(STRATEGIES)
    assert set(table["crash points"]) == {3}


def test_an_unknown_strategy_names_the_valid_ones():
    with pytest.raises(ValueError, match="commit after"):
        run_payments("exactly once please")
