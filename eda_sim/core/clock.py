"""The virtual clock's calendar: which real instant virtual time 0.0 stands for.

A simulation counts virtual seconds from 0.0. Timestamps that leave it (an
event's ISO time, a message's milliseconds since the Unix epoch) are counted
from :data:`SIM_EPOCH`, so the same seed always writes the same dates.
"""

from datetime import UTC, datetime

#: The instant virtual time 0.0 stands for.
SIM_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
