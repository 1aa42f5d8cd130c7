"""A table from a compacted topic, and what it said at an event time (eda_sim.services.tables)."""

from eda_sim import Simulation
from eda_sim.services.load import Source
from eda_sim.services.tables import Table


def test_value_at_a_records_own_timestamp_is_that_records_value():
    sim = Simulation(seed=1, name="tables")
    sim.create_topic("profiles", config={"cleanup.policy": "compact"})
    updates = [
        {"time": 1.0, "type": "ProfileUpdated", "card": "card-7", "city": "Oslo"},
        {"time": 20.0, "type": "ProfileUpdated", "card": "card-7", "city": "Rome"},
    ]
    Source(sim, "crm", "profiles", updates, key="card")
    profiles = Table(sim, "profiles", poll_interval=1.0)
    sim.run(until=30)
    assert profiles.value_at("card-7", 0.5) is None  # before the first update
    assert profiles.value_at("card-7", 1.0)["city"] == "Oslo"  # at its timestamp: it holds
    assert profiles.value_at("card-7", 19.999)["city"] == "Oslo"
    assert profiles.value_at("card-7", 20.0)["city"] == "Rome"
