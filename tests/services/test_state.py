"""Restoring a state store from its changelog (eda_sim.services.state)."""

import pytest

from eda_sim import Simulation
from eda_sim.services.state import restore


@pytest.mark.parametrize("start, read", [(0, 5), (2, 3), (4, 1), (5, 0)])
def test_restore_reads_every_record_from_the_start_offset_on(start, read):
    # A standby that got to `start` reads the records from `start` on; all of them shape the store.
    sim = Simulation(seed=1, name="state")
    sim.create_topic("app-store-changelog", partitions=1, config={"cleanup.policy": "compact"})
    p = sim.producer()
    for i in range(5):
        p.produce("app-store-changelog", key=f"k{i % 3}", value=str(i))
    p.flush()
    restored = restore(sim.topic("app-store-changelog").partitions[0], start=start)
    assert restored.records == read
    assert restored.data == {"k0": 3, "k1": 4, "k2": 2}
