"""eda_sim: a deterministic, Kafka-faithful event broker simulator for learning event-driven architecture.

The names most notebooks need:

==================  ==========================================================
``Simulation``      one world: virtual clock, seeded randomness, broker, journal
``Event``           an immutable, timestamped fact, with JSON round trip
``Member``          a consumer group member running on the clock
``kafka``           the confluent-kafka-shaped client (Producer, Consumer, ...)
==================  ==========================================================
"""

from . import kafka
from .events import SIM_EPOCH, Event
from .journal import KINDS, Journal
from .members import Member
from .simulation import Simulation

__all__ = ["Event", "Journal", "KINDS", "Member", "SIM_EPOCH", "Simulation", "kafka"]
__version__ = "0.1.0"
