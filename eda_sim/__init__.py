"""eda_sim: a deterministic, Kafka-faithful event broker simulator for learning event-driven architecture.

The names most notebooks need:

==================  ==========================================================
``Simulation``      one world: virtual clock, seeded randomness, broker, journal
``Event``           an immutable, timestamped fact, with JSON round trip
``Member``          a consumer group member running on the clock
``kafka``           the confluent-kafka-shaped client (Producer, Consumer, ...)
==================  ==========================================================
"""

from eda_sim import kafka
from eda_sim.core.clock import SIM_EPOCH
from eda_sim.core.journal import KINDS, Journal
from eda_sim.core.simulation import Simulation
from eda_sim.services.events import Event
from eda_sim.services.members import Member

__all__ = ["Event", "Journal", "KINDS", "Member", "SIM_EPOCH", "Simulation", "kafka"]
__version__ = "0.1.0"
