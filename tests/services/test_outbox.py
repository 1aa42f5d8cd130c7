"""The side-effect store (SQLite), its idempotent inbox and transactional outbox, and the relay."""

import sqlite3

import pytest

from eda_sim import Simulation
from eda_sim.services.outbox import Relay, SideEffectStore


def test_the_inbox_refuses_a_second_charge_for_the_same_event():
    store = SideEffectStore()
    assert store.handle("pay-1", "acct-1", 12, inbox=True)
    assert not store.handle("pay-1", "acct-1", 12, inbox=True)
    assert store.charges() == [("pay-1", "acct-1", 12)]
    assert store.refused == 1


def test_without_the_inbox_a_redelivery_charges_twice():
    store = SideEffectStore()
    store.handle("pay-1", "acct-1", 12)
    store.handle("pay-1", "acct-1", 12)
    assert store.totals() == {"acct-1": 24}


def test_charge_inbox_and_outbox_row_commit_or_roll_back_together():
    store = SideEffectStore()
    store.handle("pay-1", "acct-1", 5, inbox=True, outgoing=("posted", "acct-1", "{}"))
    # A duplicate rolls back the whole local transaction: no second charge, no second outbox row.
    store.handle("pay-1", "acct-1", 5, inbox=True, outgoing=("posted", "acct-1", "{}"))
    assert (store.count("charges"), store.count("inbox"), store.count("outbox")) == (1, 1, 1)


def test_a_failure_inside_the_local_transaction_leaves_nothing_behind():
    store = SideEffectStore()
    with pytest.raises(sqlite3.Error):
        store.handle("pay-1", "acct-1", 5, inbox=True, outgoing=("posted", "acct-1", None))
    assert (store.count("charges"), store.count("inbox"), store.count("outbox")) == (0, 0, 0)


def test_the_relay_publishes_at_least_once_with_the_event_id_in_a_header():
    sim = Simulation(seed=1, name="relay")
    sim.create_topic("posted", partitions=1)
    store = SideEffectStore()
    for i in range(3):
        store.handle(f"pay-{i}", "acct-1", 5, outgoing=("posted", "acct-1", f"event {i}"))
    relay = Relay(store, sim.producer())
    relay.send()  # published, and then the relay crashes before marking the rows
    assert len(store.unpublished()) == 3
    assert relay.publish() == 3  # its replacement sends them again
    assert store.unpublished() == []
    log = sim.topic("posted").partition(0).records()
    ids = [dict(r.headers)["event_id"] for r in log]
    assert ids == [b"pay-0", b"pay-1", b"pay-2"] * 2  # duplicates, recognisable by id
    assert relay.publish() == 0


def test_bad_arguments_are_refused_with_the_choices():
    with pytest.raises(TypeError):
        SideEffectStore(3)
    store = SideEffectStore()
    with pytest.raises(ValueError, match="tables are"):
        store.count("ledger")
    with pytest.raises(ValueError, match="event_id"):
        store.handle("", "acct", 1)
