"""Replay, audit and model monitoring (notebook 15): the log as the system's history.

::

    payments-api --TransactionSubmitted--> transactions --+--> fraud-scorer --FraudSuspected--> fraud-alerts
                                                          |         ^
                                                          |         +-- model-events <--ModelDeployed-- model-registry
                                                          +--> model-monitor --ModelDriftDetected--> model-alerts

The world replays two hours of card transactions (the live stream of
notebook 14, seed 12). The first hour is before go-live: the scorer folds each
transaction into its per-card state but scores nothing until ``ModelDeployed``
(v1) arrives at 3600 s. From ``shift_at`` on, amounts double (the stream's
distribution shifts); the monitor compares each window of live amounts with
the amounts the model was trained on (population stability index) and
publishes ``ModelDriftDetected`` when a window crosses the threshold.
:func:`deploy` publishes ``ModelDeployed`` for another version, and the scorer
switches to it.

Because the topic keeps its history, a consumer group that has never
committed and starts at the earliest offset reads every transaction again:
:func:`backtest` scores the same history with v1 and v2, and
:func:`rebuild_card_totals` rebuilds the scorer's per-card totals from the log.
:func:`retention_world` shows the limit: a topic whose ``retention.ms`` has
deleted old segments starts at ``log_start_offset > 0``, and a replay cannot
reach the beginning any more.

Measured (seed 12, shift at 5400 s): a back-test at 6000 s scores 590
transactions (18 fraudulent): v1 precision 0.50 recall 0.39, v2 precision
0.71 recall 0.83; over the whole two hours (892 scored, 35 fraudulent) v1
0.55 / 0.34, v2 0.74 / 0.74. Window PSIs before the shift stay at or below
0.245; the window ending at 5730 s reads 0.657 and ``ModelDriftDetected`` is
published then, 330 s of virtual time after the shift.

Example::

    sim = monitoring_world(until=6000.0)
    backtest(sim)                         # v1 vs v2 on the same history
    deploy(sim, "v2"); sim.run(until=7205.0)
    model_events(sim)                     # ModelDeployed v1, ModelDriftDetected, ModelDeployed v2
"""

from __future__ import annotations

import json

from eda_sim.ai.models import FEATURES, DriftMonitor, card_features, precision_recall
from eda_sim.core.simulation import Simulation
from eda_sim.course.nb14.world import (
    HISTORY_SEED,
    LIVE_SEED,
    LIVE_STREAM,
    THRESHOLD,
    WARMUP,
    live_transactions,
    train_model,
    training_amounts,
)
from eda_sim.services.load import Source
from eda_sim.services.retries import NO_RETRY
from eda_sim.services.service import Service, new_event, publish

TRANSACTIONS = "transactions"
MODEL_EVENTS = "model-events"  # ModelDeployed: which version is live
MODEL_ALERTS = "model-alerts"  # ModelDriftDetected: something is wrong with the model's inputs
ALERTS = "fraud-alerts"
LIVE_GROUP = "fraud-scorer"
SHIFT_AT = 5400.0
#: The monitor's window (transactions) and PSI threshold. With only 100 values a window's PSI wanders up to
#: about 0.25 on an unchanged stream, so the alarm sits above the usual 0.2 rule of thumb.
WINDOW = 100
DRIFT_THRESHOLD = 0.3
END = LIVE_STREAM["duration"] + 5.0

#: The first model looked at a few obvious signals; v2 uses every rolling feature.
VERSIONS = {"v1": ("amount", "amount_ratio", "distance_km", "speed_kmh"), "v2": FEATURES}

_TXN_FIELDS = (
    "txn_id",
    "card_id",
    "amount",
    "merchant_id",
    "merchant_category",
    "country",
    "lat",
    "lon",
    "device_id",
)


def model(version: str):
    """The trained model for ``version`` (see :data:`VERSIONS`), learned from the labelled history."""
    if version not in VERSIONS:
        raise ValueError(f"unknown model version {version!r}; versions are: {', '.join(VERSIONS)}")
    return train_model(HISTORY_SEED, VERSIONS[version])


def stream(
    seed: int = LIVE_SEED, shift_at: float | None = SHIFT_AT, amount_scale: float = 2.0
) -> list:
    """The two hours of transactions the world replays (with labels), amounts scaled from ``shift_at`` on."""
    return live_transactions(seed, shift_at, amount_scale)


def labels(seed: int = LIVE_SEED) -> dict:
    """txn_id -> is_fraud, as known later (chargebacks arrive days after the payment)."""
    return {t["txn_id"]: t["is_fraud"] for t in live_transactions(seed)}


def _items(txns: list) -> list:
    return [
        {"time": t["time"], "type": "TransactionSubmitted", **{k: t[k] for k in _TXN_FIELDS}}
        for t in txns
    ]


def monitoring_world(
    seed: int = LIVE_SEED,
    *,
    shift_at: float | None = SHIFT_AT,
    amount_scale: float = 2.0,
    window: int = WINDOW,
    threshold: float = DRIFT_THRESHOLD,
    until: float | None = END,
) -> Simulation:
    """Build the world above and run it to ``until`` (``None``: do not run it yet).

    ``sim.services["fraud-scorer"]`` has ``totals`` (card -> [transactions,
    total amount], the state :func:`rebuild_card_totals` rebuilds) and
    ``version``; ``sim.services["model-monitor"].monitor`` is the
    :class:`~eda_sim.ai.models.DriftMonitor`.
    """
    sim = Simulation(seed=seed, name="monitoring")
    for topic in (TRANSACTIONS, ALERTS, MODEL_EVENTS, MODEL_ALERTS):
        sim.create_topic(topic, partitions=3 if topic in (TRANSACTIONS, ALERTS) else 1)
    Source(
        sim,
        "payments-api",
        TRANSACTIONS,
        _items(stream(seed, shift_at, amount_scale)),
        key="card_id",
    )
    Source(
        sim,
        "model-registry",
        MODEL_EVENTS,
        [_deployment("v1", WARMUP)],
        key="model",
        produces=["ModelDeployed"],
    )
    from eda_sim.ai.models import CardFeatures

    features, totals, live = CardFeatures(), {}, {"version": None}

    def on_transaction(event, ctx):
        p = event.payload
        row = totals.setdefault(p["card_id"], [0, 0.0])
        row[0] += 1
        row[1] += p["amount"]
        f = features.update({**{k: p[k] for k in _TXN_FIELDS}, "time": event.time})
        if live["version"] is None:
            return  # before go-live: the state is kept, nothing is scored
        score = model(live["version"]).score(f)
        if score >= THRESHOLD:
            ctx.emit(
                ALERTS,
                "FraudSuspected",
                {
                    "txn_id": p["txn_id"],
                    "card_id": p["card_id"],
                    "score": round(score, 3),
                    "model_version": live["version"],
                },
            )

    def on_deployed(event, ctx):
        live["version"] = event.payload["version"]

    scorer = Service(
        sim,
        LIVE_GROUP,
        consumes=[TRANSACTIONS, MODEL_EVENTS],
        handlers={"TransactionSubmitted": on_transaction, "ModelDeployed": on_deployed},
        produces={ALERTS: ["FraudSuspected"]},
        retry=NO_RETRY,
        processing_time=0.02,
        poll_timeout=5.0,
    )
    scorer.totals, scorer.live = totals, live
    monitor = DriftMonitor(training_amounts(HISTORY_SEED), threshold=threshold, window=window)

    def watch(event, ctx):
        was = monitor.drifted
        psi = monitor.observe(event.payload["amount"], event.time)
        if psi is not None and monitor.drifted and not was:
            ctx.emit(
                MODEL_ALERTS,
                "ModelDriftDetected",
                {
                    "feature": "amount",
                    "psi": round(psi, 3),
                    "threshold": threshold,
                    "window": window,
                    "model_version": live["version"],
                },
                key="model",
            )

    watcher = Service(
        sim,
        "model-monitor",
        consumes=TRANSACTIONS,
        handlers={"TransactionSubmitted": watch},
        produces={MODEL_ALERTS: ["ModelDriftDetected"]},
        retry=NO_RETRY,
        processing_time=0.002,
        poll_timeout=5.0,
    )
    watcher.monitor = monitor
    if until is not None:
        sim.run(until=until)
    return sim


def _deployment(version: str, time: float) -> dict:
    return {
        "time": time,
        "type": "ModelDeployed",
        "model": "FraudModel",
        "version": version,
        "features": list(VERSIONS[version]),
        "threshold": THRESHOLD,
        "trained_on": "history seed 1",
    }


def deploy(sim, version: str):
    """Publish ``ModelDeployed`` for ``version`` now, as the model registry does after a good back-test."""
    if version not in VERSIONS:
        raise ValueError(f"unknown model version {version!r}; versions are: {', '.join(VERSIONS)}")
    producer = sim.producers.get("model-registry") or sim.producer({"client.id": "model-registry"})
    payload = {k: v for k, v in _deployment(version, sim.now).items() if k not in ("time", "type")}
    event = new_event(sim, "ModelDeployed", payload, key="model")
    publish(producer, MODEL_EVENTS, event)
    producer.flush()
    return event


def model_events(sim):
    """The model's life in time order, from ``model-events`` and ``model-alerts``: time, topic, type, version, detail."""
    import pandas as pd

    rows = []
    for topic in (MODEL_EVENTS, MODEL_ALERTS):
        for r in sim.topic(topic).partitions[0].records():
            doc = json.loads(r.value)
            p = doc["payload"]
            if doc["type"] == "ModelDeployed":
                detail = f"{len(p['features'])} features, alerts at score >= {p['threshold']:g}"
            else:
                detail = f"{p['feature']} PSI {p['psi']:.3f} > {p['threshold']:g} over {p['window']} transactions"
            rows.append(
                {
                    "time": round(doc["sim_seconds"], 1),
                    "topic": topic,
                    "type": doc["type"],
                    "version": p.get("version", p.get("model_version")),
                    "detail": detail,
                }
            )
    frame = pd.DataFrame(rows, columns=["time", "topic", "type", "version", "detail"])
    return frame.sort_values("time", kind="stable").reset_index(drop=True)


# ----------------------------------------------------------------- replaying the log

#: A back-test's consumer settings: a group that has never committed, from the earliest offset, committing nothing.
BACKTEST_CONFIG = {
    "group.id": "backtest",
    "auto.offset.reset": "earliest",
    "enable.auto.commit": False,
}


def replay(sim, config: dict, topic: str = TRANSACTIONS):
    """Read ``topic`` with a consumer configured by ``config`` until it has caught up; close it.

    Returns the transactions read as a DataFrame (partition, offset, time and
    the payload's fields), in the order they were read. What is read depends
    on the group's committed offsets and ``auto.offset.reset``, exactly as
    for a real consumer; with ``enable.auto.commit`` on (Kafka's default),
    closing commits what was read.
    """
    import pandas as pd

    if not isinstance(config, dict):
        raise TypeError(
            f"config must be a dict of consumer settings such as {BACKTEST_CONFIG}, "
            f"got {type(config).__name__}"
        )
    consumer = sim.consumer(dict(config))
    consumer.subscribe([topic])
    rows = []
    idle = 0
    while idle < 2:  # the first poll may only join the group
        batch = [m for m in consumer.consume(500, timeout=0.05) if m.error() is None]
        idle = idle + 1 if not batch else 0
        for m in batch:
            doc = json.loads(m.value())
            rows.append(
                {
                    "partition": m.partition(),
                    "offset": m.offset(),
                    "time": doc["sim_seconds"],
                    **doc["payload"],
                }
            )
    consumer.close()
    return pd.DataFrame(rows, columns=["partition", "offset", "time", *_TXN_FIELDS])


def backtest(sim, config: dict | None = None, versions=tuple(VERSIONS)):
    """Replay the transactions with ``config`` (default :data:`BACKTEST_CONFIG`) and score them with each version.

    Features are rebuilt from the replayed events from the first one on;
    transactions of the first hour only build state, as they did live. Labels
    are joined by ``txn_id``. One row per version: transactions and fraud
    scored, alerts at the live threshold, precision and recall.
    """
    import pandas as pd

    history = replay(sim, config or BACKTEST_CONFIG)
    rows = []
    if not history.empty:
        txns = history.sort_values("time", kind="stable").to_dict("records")
        frame = card_features(txns, warmup=WARMUP)
        truth = labels(sim.seed)
        y = frame["txn_id"].map(truth).fillna(False).astype(bool)
        for v in versions:
            scores = model(v).score_frame(frame)
            p, r = precision_recall(scores, y, THRESHOLD)
            rows.append(
                {
                    "version": v,
                    "features": len(VERSIONS[v]),
                    "replayed": len(history),
                    "scored": len(frame),
                    "fraud": int(y.sum()),
                    "alerts": int((scores >= THRESHOLD).sum()),
                    "precision": round(p, 3),
                    "recall": round(r, 3),
                }
            )
    return pd.DataFrame(
        rows,
        columns=[
            "version",
            "features",
            "replayed",
            "scored",
            "fraud",
            "alerts",
            "precision",
            "recall",
        ],
    )


def card_totals(totals: dict):
    """Per-card state as a table sorted by card: card_id, transactions, total (rounded to cents)."""
    import pandas as pd

    rows = [
        {"card_id": c, "transactions": n, "total": round(t, 2)}
        for c, (n, t) in sorted(totals.items())
    ]
    return pd.DataFrame(rows, columns=["card_id", "transactions", "total"])


def rebuild_card_totals(sim, config: dict | None = None):
    """Rebuild the scorer's per-card totals by replaying the log into an empty state (:func:`card_totals`)."""
    cfg = config or {**BACKTEST_CONFIG, "group.id": "rebuild-card-totals"}
    totals: dict = {}
    for card, amount in zip(*(replay(sim, cfg)[c] for c in ("card_id", "amount"))):
        row = totals.setdefault(card, [0, 0.0])
        row[0] += 1
        row[1] += amount
    return card_totals(totals)


def drift_timeline(
    seed: int = LIVE_SEED,
    *,
    shift_at: float | None = SHIFT_AT,
    amount_scale: float = 2.0,
    window: int = WINDOW,
    threshold: float = DRIFT_THRESHOLD,
):
    """The monitor's PSI per window, fed the stream's amounts in time order (no broker: instant).

    Columns: ``time`` (end of the window), ``psi``, ``drifted``. The service
    reads three partitions, so its windows interleave slightly differently;
    the picture is the same.
    """
    monitor = DriftMonitor(training_amounts(HISTORY_SEED), threshold=threshold, window=window)
    for t in stream(seed, shift_at, amount_scale):
        monitor.observe(t["amount"], t["time"])
    return monitor.frame().round({"time": 1, "psi": 3})


# ----------------------------------------------------------------- retention


def archive_world(seed: int = LIVE_SEED, *, config: dict | None = None) -> Simulation:
    """The transactions topic holding the stream, and the live scorer's group committed at its end.

    Built without services (fast): for checking replay settings. ``config``
    is the topic's config (e.g. a ``retention.ms``); the clock ends after the
    last transaction.
    """
    sim = Simulation(seed=seed, name="archive")
    sim.create_topic(TRANSACTIONS, partitions=3, config=config)
    Source(sim, "payments-api", TRANSACTIONS, _items(stream(seed, None)), key="card_id")
    sim.run(until=END)
    live = sim.consumer(
        {"group.id": LIVE_GROUP, "auto.offset.reset": "earliest", "enable.auto.commit": False}
    )
    live.subscribe([TRANSACTIONS])
    while True:
        batch = live.consume(1000, timeout=0.05)
        if not batch:
            break
    live.commit(asynchronous=False)
    live.close()
    return sim


def retention_world(
    seed: int = LIVE_SEED, *, retention_ms: int = 1_800_000, segment_ms: int = 600_000
):
    """:func:`archive_world` with ``retention.ms`` on the topic: old segments are gone by the end.

    Segments roll every ``segment_ms``; a segment is deleted once its newest
    record is older than ``retention_ms`` (checked every 5 minutes, as
    Kafka's ``log.retention.check.interval.ms`` default).
    """
    return archive_world(seed, config={"retention.ms": retention_ms, "segment.ms": segment_ms})
