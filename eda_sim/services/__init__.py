"""The service layer: services that react to events, and the policies they opt into.

Retries and dead letters (:mod:`.retries`), idempotency (:mod:`.idempotency`),
ordering by event time (:mod:`.ordering`), schemas (:mod:`.schemas`), tracing
(:mod:`.tracing`), metrics and alerts (:mod:`.metrics`), rate limits
(:mod:`.ratelimit`), autoscaling (:mod:`.autoscale`) and load generators
(:mod:`.load`), all built on the confluent-kafka-shaped client.

The names a notebook needs most are importable from here::

    from eda_sim.services import Service, Source, reconcile
"""

from eda_sim.services.load import Source
from eda_sim.services.service import (
    Service,
    events_frame,
    new_event,
    publish,
    reconcile,
    spans_frame,
)

__all__ = ["Service", "Source", "events_frame", "new_event", "publish", "reconcile", "spans_frame"]
