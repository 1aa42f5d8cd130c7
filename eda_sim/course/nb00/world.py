"""The course's running example: an event-driven AI flow, end to end.

::

    uploader --RawDataUploaded--> raw-data --> feature-service --UserFeaturesUpdated--> feature-updates
    frontend --InferenceRequested--> inference-requests                                     |
                                            \\                                              v
                                             +--> realtime-inference <---------------------+
                                                        |
                                                        +--RecommendationReady--> inference-results
                                                                                        |
                                                          model-monitor <---------------+
                                                              +--ModelDriftDetected--> model-alerts

The feature service keeps per-user features from raw interaction data; the
inference service keeps the latest features it has seen per user and answers
each request with a score; the monitor watches the scores and publishes an
alert when their average drifts. ``break_hop`` makes one service fail on
every event (to see a trace stop there); ``crash`` crashes one instance.

Example::

    sim = ai_flow(seed=1, until=30)
    sim.services                      # the three services
"""

from __future__ import annotations

import random

from eda_sim.core.simulation import Simulation
from eda_sim.services.load import Source
from eda_sim.services.retries import PermanentError, Retry
from eda_sim.services.service import Service

TOPICS = {
    "raw-data": 3,
    "inference-requests": 3,
    "feature-updates": 3,
    "inference-results": 3,
    "model-alerts": 1,
}
SERVICES = ("feature-service", "realtime-inference", "model-monitor")


def _uploads(rng: random.Random, users: int, duration: float, rate: float) -> list[dict]:
    out, t = [], 0.0
    while True:
        t += rng.expovariate(rate)
        if t >= duration:
            return out
        user = f"user-{rng.randrange(users):02d}"
        out.append(
            {
                "time": round(t, 4),
                "type": "RawDataUploaded",
                "user_id": user,
                "clicks": rng.randrange(1, 6),
                "dwell_s": round(rng.uniform(2, 60), 1),
            }
        )


def _requests(
    rng: random.Random, users: int, duration: float, rate: float, shift_at: float | None
) -> list[dict]:
    out, t = [], 0.5
    while True:
        t += rng.expovariate(rate)
        if t >= duration:
            return out
        basket = rng.uniform(10, 60) * (2.5 if shift_at is not None and t >= shift_at else 1.0)
        out.append(
            {
                "time": round(t, 4),
                "type": "InferenceRequested",
                "user_id": f"user-{rng.randrange(users):02d}",
                "basket_value": round(basket, 2),
            }
        )


def ai_flow(
    seed: int = 1,
    *,
    until: float = 30.0,
    duration: float | None = None,
    users: int = 12,
    upload_rate: float = 4.0,
    request_rate: float = 2.0,
    break_hop: str | None = None,
    crash: tuple | None = None,
    drift_at: float | None = None,
    name: str = "ai-flow",
) -> Simulation:
    """Build the flow and run it to ``until``; return the simulation.

    ``duration`` is how long the uploader and the frontend send (default: ``until``); live controls
    build with ``until=0`` and a duration, so that Step and Play have traffic to show.

    ``break_hop`` names a service that fails every event permanently;
    ``crash=(service, time)`` crashes that service's first instance at
    ``time``; ``drift_at`` makes request baskets grow from that time, which
    the monitor notices.
    """
    if break_hop is not None and break_hop not in SERVICES:
        raise ValueError(f"break_hop must be one of {', '.join(SERVICES)}, got {break_hop!r}")
    duration = until if duration is None else duration
    if isinstance(duration, bool) or not isinstance(duration, (int, float)) or duration < 0:
        raise ValueError(f"duration must be a number of virtual seconds >= 0, got {duration!r}")
    # Sessions shorter than a real broker allows: Kafka refuses a session.timeout.ms under
    # group.min.session.timeout.ms (6 s by default), so this demo lowers the broker's minimum.
    sim = Simulation(seed=seed, name=name, broker_config={"group.min.session.timeout.ms": 100})
    rng = random.Random(seed)
    for topic, partitions in TOPICS.items():
        sim.create_topic(topic, partitions=partitions)
    Source(
        sim,
        "uploader",
        "raw-data",
        _uploads(rng, users, duration, upload_rate),
        key="user_id",
        type="RawDataUploaded",
    )
    Source(
        sim,
        "frontend",
        "inference-requests",
        _requests(rng, users, duration, request_rate, drift_at),
        key="user_id",
        type="InferenceRequested",
    )

    def broken(service):
        if break_hop == service:
            raise PermanentError(f"{service} cannot reach its model store")

    features: dict = {}

    def update_features(event, ctx):
        broken("feature-service")
        p = event.payload
        f = features.setdefault(p["user_id"], {"sessions": 0, "clicks": 0, "dwell_s": 0.0})
        f["sessions"] += 1
        f["clicks"] += p["clicks"]
        f["dwell_s"] = round(f["dwell_s"] + p["dwell_s"], 1)
        ctx.emit("feature-updates", "UserFeaturesUpdated", {"user_id": p["user_id"], **f})

    latest: dict = {}

    def remember_features(event, ctx):
        broken("realtime-inference")
        latest[event.payload["user_id"]] = event.payload

    def infer(event, ctx):
        broken("realtime-inference")
        p = event.payload
        f = latest.get(p["user_id"], {"clicks": 0, "sessions": 0})
        score = round(min(1.0, 0.1 + 0.02 * f["clicks"] + 0.004 * p["basket_value"]), 3)
        ctx.emit(
            "inference-results",
            "RecommendationReady",
            {"user_id": p["user_id"], "score": score, "features_seen": f["sessions"]},
        )

    window: list = []

    def monitor(event, ctx):
        broken("model-monitor")
        window.append(event.payload["score"])
        if len(window) >= 10:
            mean = sum(window) / len(window)
            window.clear()
            if mean > 0.45:
                ctx.emit(
                    "model-alerts",
                    "ModelDriftDetected",
                    {"mean_score": round(mean, 3), "threshold": 0.45},
                    key="realtime-inference",
                )

    retry = Retry(attempts=2, backoff=0.1)
    Service(
        sim,
        "feature-service",
        consumes="raw-data",
        handlers={"RawDataUploaded": update_features},
        produces={"feature-updates": ["UserFeaturesUpdated"]},
        processing_time=0.05,
        retry=retry,
        config={"session.timeout.ms": 3000},
    )
    Service(
        sim,
        "realtime-inference",
        consumes=["feature-updates", "inference-requests"],
        handlers={"UserFeaturesUpdated": remember_features, "InferenceRequested": infer},
        produces={"inference-results": ["RecommendationReady"]},
        processing_time=0.08,
        retry=retry,
        config={"session.timeout.ms": 3000},
    )
    Service(
        sim,
        "model-monitor",
        consumes="inference-results",
        handlers={"RecommendationReady": monitor},
        produces={"model-alerts": ["ModelDriftDetected"]},
        processing_time=0.01,
        retry=retry,
        config={"session.timeout.ms": 3000},
    )
    if crash is not None:
        service, at = crash
        if service not in SERVICES:
            raise ValueError(
                f"crash names a service: one of {', '.join(SERVICES)}, got {service!r}"
            )
        sim.crash(sim.services[service].instances[0], at=at)
    sim.run(until=until)
    return sim
