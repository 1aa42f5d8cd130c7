"""The fraud-detection challenge (notebook 14): a design written as data, checked, then run.

A learner writes a design as plain Python data::

    design = {
        "events": {                      # event type -> who produces it, who consumes it, on which topic
            "TransactionSubmitted": {"producer": "payments-api", "consumers": ["feature-service"],
                                     "topic": "transactions"},
            ...
        },
        "flow": ["TransactionSubmitted", ..., "FraudSuspected"],   # from a submitted transaction to the alert
        "dead_letters": {"transactions": "transactions.DLT"},      # topic -> its dead-letter topic
    }

:func:`design_problems` reads it without ever raising (``eda_sim.course.nb14.check``
turns its findings into feedback), and :func:`run_design` runs it on the
simulated broker with a seeded card-transaction stream:

* the producer of the flow's first event is a source replaying the live
  transactions (without their fraud labels), plus two malformed ones;
* the first hop keeps rolling per-card features from the events it consumes
  (:class:`~eda_sim.ai.models.CardFeatures`), the hop before the alert scores
  them, the last hop publishes the alert event when the score reaches
  :data:`THRESHOLD` (hops in between pass the event on; with a shorter flow one
  service does several of these jobs);
* a model-monitoring event whose producer consumes a flow event gets a
  monitor that compares live amounts with the training data
  (:class:`~eda_sim.ai.models.DriftMonitor`) and publishes it when they drift; a
  ``...Deployed`` event produced by a service that consumes nothing is
  published once at the start, and the scorer takes its model version from it;
* every other declared consumer is run as a service that only reads its events;
* a service consuming a topic listed in ``dead_letters`` dead-letters what it
  cannot handle (to the dead-letter topic of the first such topic it
  consumes); a service with none skips a failed event (journaled ``failed``).

The scorer is a :class:`~eda_sim.ai.models.FraudModel` trained on a separate,
labelled history stream, or with ``scorer="rule"`` the hand-written
:class:`~eda_sim.ai.models.ThresholdRule`, run through the same design.

Measured with the reference design (``notebooks/solutions/14_...``), live seed
12, 892 transactions of which 35 fraudulent: model precision 0.806, recall
0.714 (31 alerts, 12 of 16 defrauded cards caught); rule precision 0.55,
recall 0.314 (20 alerts, 9 of 16 cards); an alert comes 0.049 s (median;
0.057 s at p95) of virtual time after its transaction with the model, 0.051 s
(0.058 s) with the rule; see :func:`compare_with_rule`. The rule catches no
card testing (0 of 16), the model 13 of 16.

The live stream starts with an hour of warm-up: its transactions are folded
into the feature service's per-card state before the simulation starts (a
feature store loaded before go-live) and are not scored.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass, field

from eda_sim.ai.datagen import transactions
from eda_sim.ai.models import FEATURES, DriftMonitor, FraudModel, ThresholdRule, card_features
from eda_sim.core.simulation import Simulation
from eda_sim.services.load import Source
from eda_sim.services.retries import NO_RETRY
from eda_sim.services.service import Service

#: The live stream's seed; the history the model learns from has its own (:data:`HISTORY_SEED`).
LIVE_SEED = 12
HISTORY_SEED = 1
#: The live stream: two hours, the first of which only warms up the per-card state.
LIVE_STREAM = {"cards": 150, "duration": 7200.0, "fraud_rate": 0.04}
#: The labelled history the model is trained on (its first hour also warms up only).
HISTORY_STREAM = {"cards": 300, "duration": 10800.0, "fraud_rate": 0.05}
WARMUP = 3600.0
#: Alert when the fraud probability is at least this.
THRESHOLD = 0.5
SCORERS = ("model", "rule")
#: Mean virtual seconds a service spends per event, by its heaviest job (each draw is 0.5x to 1.5x this).
PROCESSING_TIME = {
    "features": 0.005,
    "score": 0.02,
    "alert": 0.002,
    "monitor": 0.002,
    "read": 0.002,
}

#: The day-one design the notebook's results show beside the learner's: one service reads each
#: transaction and publishes the alert. It flags fraud, so the handed-out notebook has results to read,
#: but it is not the exercise's answer: no monitoring, no dead-letter topic, no features or scores that
#: another service could use (the check gives it 5 of 10 points).
BASELINE = {
    "events": {
        "TransactionSubmitted": {
            "producer": "payments-api",
            "consumers": ["fraud-service"],
            "topic": "transactions",
        },
        "FraudSuspected": {
            "producer": "fraud-service",
            "consumers": ["case-management"],
            "topic": "fraud-alerts",
        },
    },
    "flow": ["TransactionSubmitted", "FraudSuspected"],
    "dead_letters": {},
}

DESIGN_KEYS = ("events", "flow", "dead_letters")
EVENT_KEYS = ("producer", "consumers", "topic")

#: First words that make an event name read as an order rather than a fact.
IMPERATIVE_VERBS = (
    "Analyse",
    "Analyze",
    "Apply",
    "Approve",
    "Block",
    "Calculate",
    "Check",
    "Classify",
    "Compute",
    "Create",
    "Decline",
    "Deploy",
    "Detect",
    "Do",
    "Emit",
    "Enrich",
    "Evaluate",
    "Execute",
    "Fetch",
    "Flag",
    "Generate",
    "Get",
    "Handle",
    "Investigate",
    "Load",
    "Log",
    "Make",
    "Notify",
    "Predict",
    "Process",
    "Publish",
    "Record",
    "Reject",
    "Retrain",
    "Review",
    "Run",
    "Save",
    "Score",
    "Send",
    "Start",
    "Stop",
    "Store",
    "Submit",
    "Train",
    "Trigger",
    "Update",
    "Validate",
    "Verify",
)
_IRREGULAR_PAST = {
    "Send": "Sent",
    "Run": "Run",
    "Make": "Made",
    "Do": "Done",
    "Get": "Got",
    "Flag": "Flagged",
    "Stop": "Stopped",
    "Submit": "Submitted",
    "Log": "Logged",
}
#: Past forms that do not end in -ed.
IRREGULAR_PAST = frozenset(
    {
        "Begun",
        "Bought",
        "Broken",
        "Brought",
        "Built",
        "Caught",
        "Chosen",
        "Done",
        "Drawn",
        "Found",
        "Frozen",
        "Given",
        "Got",
        "Held",
        "Kept",
        "Known",
        "Left",
        "Lost",
        "Made",
        "Paid",
        "Put",
        "Read",
        "Run",
        "Seen",
        "Sent",
        "Set",
        "Shown",
        "Sold",
        "Spent",
        "Taken",
        "Told",
        "Won",
        "Withdrawn",
        "Written",
    }
)
#: Words that mark an event as being about the model rather than a transaction.
MONITORING_WORDS = ("Model", "Drift", "Monitor", "Monitoring")

_NAME = re.compile(r"[A-Z][A-Za-z0-9]*")
_WORD = re.compile(r"[A-Z][a-z0-9]*|[a-z0-9]+")
_TOPIC = re.compile(r"[A-Za-z0-9._-]{1,249}")


# ----------------------------------------------------------------- reading a design


def words(name: str) -> list:
    """The CamelCase words of an event name: ``"FraudAlertRaised"`` -> ``["Fraud", "Alert", "Raised"]``."""
    return _WORD.findall(name)


def _past(verb: str) -> str:
    if verb in _IRREGULAR_PAST:
        return _IRREGULAR_PAST[verb]
    if verb.endswith("e"):
        return verb + "d"
    if verb.endswith("y") and verb[-2:-1] not in "aeiou":
        return verb[:-1] + "ied"
    return verb + "ed"


def _is_past(word: str) -> bool:
    return word.endswith("ed") or word in IRREGULAR_PAST


def name_problem(name) -> str | None:
    """Why ``name`` does not read as a fact (``None`` if it does).

    The heuristic, kept simple on purpose: an event name is a noun and a
    past-tense verb (``TransactionSubmitted``). A name that starts with a verb
    such as Check, Score or Send (see :data:`IMPERATIVE_VERBS`) and has no
    past-tense word after it reads as an order to do something; a name with no
    word ending in -ed (or an irregular past such as Sent, see
    :data:`IRREGULAR_PAST`) says nothing happened.
    """
    if not isinstance(name, str):
        return f"{name!r} is not an event type name: event types are strings such as 'TransactionSubmitted'"
    if not _NAME.fullmatch(name):
        return (
            f"{name!r} is not an event type name: use CamelCase letters and digits, starting with a capital, "
            "such as 'TransactionSubmitted'"
        )
    parts = words(name)
    if parts[0] in IMPERATIVE_VERBS and not any(_is_past(w) for w in parts[1:]):
        rest = "".join(parts[1:])
        return (
            f"'{name}' reads as a command (it starts with the verb '{parts[0]}'): name what happened instead, "
            f"e.g. '{rest + _past(parts[0]) if rest else _past(parts[0])}'"
        )
    if not any(_is_past(w) for w in parts):
        return (
            f"'{name}' names a thing, not something that happened: add what happened in the past tense "
            "(...Submitted, ...Computed, ...Detected)"
        )
    return None


def is_monitoring(name: str) -> bool:
    """Whether an event type is about the model (``ModelDriftDetected``, ``ModelDeployed``, ...)."""
    return isinstance(name, str) and any(w in MONITORING_WORDS for w in words(name))


def is_deployment(name: str) -> bool:
    """Whether an event type announces a model going live (a monitoring event with ``Deployed`` in it)."""
    return is_monitoring(name) and "Deployed" in words(name)


@dataclass
class Design:
    """A design read leniently: what could be understood, and what could not (``problems``)."""

    events: dict = field(
        default_factory=dict
    )  # name -> {"producer": str | None, "consumers": [..], "topic": str | None}
    flow: list = field(default_factory=list)
    dead_letters: dict = field(default_factory=dict)  # topic -> dead-letter topic
    problems: list = field(default_factory=list)

    def consumed_by(self, service: str) -> list:
        """Event types ``service`` consumes, in design order."""
        return [n for n, e in self.events.items() if service in e["consumers"]]

    def produced_by(self, service: str) -> list:
        """Event types ``service`` produces, in design order."""
        return [n for n, e in self.events.items() if e["producer"] == service]

    def topics(self) -> list:
        """The topics the events travel on, in design order."""
        out = []
        for e in self.events.values():
            if e["topic"] and e["topic"] not in out:
                out.append(e["topic"])
        return out


def _text_list(value) -> tuple:
    """``value`` as a list of strings, and the entries that were not strings."""
    if value is None:
        return [], []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)):
        return [], [value]
    good = [v for v in value if isinstance(v, str) and v]
    return list(dict.fromkeys(good)), [v for v in value if not (isinstance(v, str) and v)]


def read_design(design) -> Design:
    """Read a design dict leniently; never raises. Anything not understood is a line in ``problems``."""
    d = Design()
    if not isinstance(design, dict):
        d.problems.append(
            f"a design is a dict with keys {', '.join(map(repr, DESIGN_KEYS))}; "
            f"got {type(design).__name__}"
        )
        return d
    unknown = [k for k in design if k not in DESIGN_KEYS]
    if unknown:
        d.problems.append(
            f"unknown key(s) {', '.join(map(repr, unknown))} in the design; "
            f"the keys are {', '.join(map(repr, DESIGN_KEYS))}"
        )
    events = design.get("events", {})
    if not isinstance(events, dict):
        d.problems.append(
            f"'events' should be a dict of event type -> {{producer, consumers, topic}}; "
            f"got {type(events).__name__}"
        )
        events = {}
    for name, spec in events.items():
        problem = name_problem(name)
        if problem is not None and not (isinstance(name, str) and _NAME.fullmatch(name)):
            d.problems.append(problem + "; it is left out")
            continue
        if not isinstance(spec, dict):
            d.problems.append(
                f"{name}: describe it as a dict with {', '.join(map(repr, EVENT_KEYS))}; "
                f"got {type(spec).__name__}"
            )
            continue
        extra = [k for k in spec if k not in EVENT_KEYS]
        for k in extra:
            hint = (
                " (did you mean 'consumers'?)"
                if k == "consumer"
                else " (did you mean 'producer'?)"
                if k == "producers"
                else ""
            )
            d.problems.append(
                f"{name}: unknown field {k!r}{hint}; the fields are {', '.join(map(repr, EVENT_KEYS))}"
            )
        producer = spec.get("producer")
        if producer is not None and not (isinstance(producer, str) and producer):
            d.problems.append(
                f"{name}: the producer should be a service name (a string), got {producer!r}"
            )
            producer = None
        consumers, bad = _text_list(spec.get("consumers"))
        if bad:
            d.problems.append(f"{name}: consumers should be service names (strings), got {bad!r}")
        topic = spec.get("topic")
        if topic is None:
            d.problems.append(
                f"{name}: no topic: say which topic it travels on, e.g. 'topic': 'transactions'"
            )
        elif not (isinstance(topic, str) and _TOPIC.fullmatch(topic)) or topic in (".", ".."):
            d.problems.append(
                f"{name}: {topic!r} is not a usable topic name (letters, digits, '.', '_' and '-', "
                "at most 249 characters)"
            )
            topic = None
        d.events[name] = {"producer": producer, "consumers": consumers, "topic": topic}
    flow = design.get("flow", [])
    if isinstance(flow, str):
        flow = [flow]
    if not isinstance(flow, (list, tuple)):
        d.problems.append(
            f"'flow' should be a list of event types, from the transaction to the alert; "
            f"got {type(flow).__name__}"
        )
        flow = []
    for step in flow:
        if isinstance(step, str) and step in d.events:
            d.flow.append(step)
        else:
            d.problems.append(f"the flow names {step!r}, which is not one of the design's events")
            break  # a flow is a chain: past an unknown link it cannot be followed
    letters = design.get("dead_letters", {})
    if isinstance(
        letters, (list, tuple)
    ):  # ["transactions.DLT", ...]: the topic is the name without .DLT
        letters = {
            v[: -len(".DLT")] if isinstance(v, str) and v.endswith(".DLT") else v: v
            for v in letters
        }
    if not isinstance(letters, dict):
        d.problems.append(
            f"'dead_letters' should map a topic to its dead-letter topic, e.g. "
            f"{{'transactions': 'transactions.DLT'}}; got {type(letters).__name__}"
        )
        letters = {}
    known = d.topics()
    for topic, dlt in letters.items():
        if not isinstance(topic, str) or topic not in known:
            d.problems.append(
                f"the dead-letter entry for {topic!r} names a topic no event travels on; "
                f"the design's topics are: {', '.join(known) or 'none yet'}"
            )
        elif not (isinstance(dlt, str) and _TOPIC.fullmatch(dlt)) or dlt in known:
            d.problems.append(
                f"the dead-letter topic for {topic!r} should be a topic of its own, "
                f"e.g. '{topic}.DLT'; got {dlt!r}"
            )
        else:
            d.dead_letters[topic] = dlt
    return d


def flow_break(d: Design) -> str | None:
    """Why the design's flow is not a path from a submitted transaction to an alert (``None`` if it is)."""
    if len(d.flow) < 2:
        return (
            "no path from a transaction to an alert: 'flow' should list the event types in order, from the "
            "transaction entering the system to the alert, e.g. ['TransactionSubmitted', ..., 'FraudSuspected']"
        )
    first = d.events[d.flow[0]]
    if first["producer"] is None:
        return f"the flow starts with {d.flow[0]}, but nobody produces it"
    if len(set(d.flow)) < len(d.flow):
        return "the flow names an event twice; each step of the path is a different event"
    for before, after in zip(d.flow, d.flow[1:]):
        producer = d.events[after]["producer"]
        if producer is None:
            return f"the path breaks at {after}: nobody produces it"
        if producer not in d.events[before]["consumers"]:
            return (
                f"the path breaks between {before} and {after}: {after} is produced by {producer}, "
                f"which does not consume {before} (its consumers: "
                f"{', '.join(d.events[before]['consumers']) or 'none'})"
            )
    return None


def steps_problem(d: Design) -> str | None:
    """Why the flow does not compute features and score them in separate steps (``None`` if it does).

    The exercise asks for a path through features and a score to the alert: at least four events
    (transaction, features, score, alert), the features and the score published by different services,
    so that the scorer and a monitor can read the features and the features can be replayed on their own.
    """
    if len(d.flow) < 2:
        return (
            "no feature step and no scoring step yet: the flow should go from the transaction to features, "
            "then a score, then the alert"
        )
    if len(d.flow) < 4:
        between = " -> ".join(d.flow)
        return (
            f"features and scoring are not separate steps: the flow {between} has "
            f"{len(d.flow) - 2 or 'no'} step{'s' * (len(d.flow) != 3)} between the transaction and the alert; "
            "a feature service should publish the card's rolling features (e.g. TransactionFeaturesComputed) "
            "and a scorer that consumes them should publish a score (e.g. TransactionScored) before the alert"
        )
    features, score = d.flow[1], d.flow[-2]
    producer = d.events[features]["producer"]
    if producer is not None and producer == d.events[score]["producer"]:
        return (
            f"features and scoring are not separate steps: {producer} publishes both {features} and "
            f"{score}; give the scoring its own service that consumes {features}"
        )
    return None


def design_problems(design) -> dict:
    """Everything the checker looks at, as lists of findings; never raises.

    Keys: ``structure`` (what could not be read), ``orphans`` (consumed but
    produced by nobody), ``unread`` (produced but consumed by nobody),
    ``names`` (names that read as commands, not facts), ``path`` (a missing
    or broken path from the transaction to an alert), ``steps`` (features and
    scoring not in steps of their own), ``monitoring`` and
    ``dead_letters`` (missing model-monitoring events or dead-letter path).
    """
    d = read_design(design)
    if not d.events and not d.problems:
        d.problems.append(
            "no events yet: 'events' maps each event type to its producer, consumers and topic"
        )
    out = {
        "structure": list(d.problems),
        "orphans": [],
        "unread": [],
        "names": [],
        "path": [],
        "steps": [],
        "monitoring": [],
        "dead_letters": [],
    }
    for name, e in d.events.items():
        if e["producer"] is None and e["consumers"]:
            out["orphans"].append(
                f"{name} is consumed by {', '.join(e['consumers'])}, but nobody produces it"
            )
        if e["producer"] is not None and not e["consumers"]:
            out["unread"].append(f"{name} is produced by {e['producer']}, but nobody consumes it")
        problem = name_problem(name)
        if problem is not None:
            out["names"].append(problem)
    broken = flow_break(d)
    if broken is not None:
        out["path"].append(broken)
    steps = steps_problem(d)
    if steps is not None:
        out["steps"].append(steps)
    watched = set(d.flow)
    monitors = [n for n in d.events if is_monitoring(n) and not is_deployment(n)]
    if not [n for n in d.events if is_monitoring(n)]:
        out["monitoring"].append(
            "no model-monitoring events: who notices when the live inputs drift away from "
            "the training data, or which model version is live? (e.g. ModelDriftDetected, "
            "ModelDeployed)"
        )
    elif not any(
        set(d.consumed_by(d.events[n]["producer"])) & watched
        for n in monitors
        if d.events[n]["producer"]
    ):
        out["monitoring"].append(
            "no monitor watches the live stream: the producer of a monitoring event such as "
            "ModelDriftDetected should consume an event on the flow (the features or the scores)"
        )
    if not d.dead_letters:
        out["dead_letters"].append(
            "no dead-letter path: where does an event go that a service cannot handle? "
            "map a topic to its dead-letter topic, e.g. {'transactions': 'transactions.DLT'}"
        )
    elif (
        d.flow
        and d.events[d.flow[0]]["topic"]
        and d.events[d.flow[0]]["topic"] not in d.dead_letters
    ):
        entry = d.events[d.flow[0]]["topic"]
        out["dead_letters"].append(
            f"the topic where transactions enter, '{entry}', has no dead-letter topic: "
            "malformed input from outside arrives there first"
        )
    return out


# ----------------------------------------------------------------- the streams and the model


@functools.lru_cache(maxsize=8)
def _stream(seed: int, shift_at, amount_scale: float) -> tuple:
    shift = {"amount_scale": amount_scale} if shift_at is not None else None
    return tuple(transactions(seed, **LIVE_STREAM, shift_at=shift_at, shift=shift))


def live_transactions(
    seed: int = LIVE_SEED, shift_at: float | None = None, amount_scale: float = 2.0
) -> list:
    """The live stream's two hours of transactions (with labels), amounts scaled from ``shift_at`` on if given.

    Generated once per arguments; each call returns fresh copies.
    """
    return [dict(t) for t in _stream(seed, shift_at, float(amount_scale))]


def live_stream(seed: int = LIVE_SEED) -> tuple:
    """``(warmup, live)``: the live stream's first hour (state only) and the rest (scored), with labels."""
    txns = live_transactions(seed)
    return [t for t in txns if t["time"] < WARMUP], [t for t in txns if t["time"] >= WARMUP]


@functools.lru_cache(maxsize=4)
def _history(history_seed: int):
    return card_features(transactions(history_seed, **HISTORY_STREAM), warmup=WARMUP)


@functools.lru_cache(maxsize=8)
def _trained(history_seed: int, features: tuple) -> FraudModel:
    history = _history(history_seed)
    return FraudModel(features=features).fit(history, history["is_fraud"])


def train_model(history_seed: int = HISTORY_SEED, features=FEATURES) -> FraudModel:
    """A :class:`FraudModel` trained on the labelled history stream of ``history_seed`` (remembered per seed).

    The model is shared between calls with the same arguments: score with it, do not fit it again.
    """
    return _trained(history_seed, tuple(features))


@functools.lru_cache(maxsize=4)
def training_amounts(history_seed: int = HISTORY_SEED) -> tuple:
    """The amounts the model was trained on: the reference a drift monitor compares live amounts with."""
    return tuple(_history(history_seed)["amount"])


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


def _source_items(live: list, etype: str) -> list:
    """The live transactions as source items (labels dropped), with two malformed ones mixed in."""
    items = [{"time": t["time"], "type": etype, **{k: t[k] for k in _TXN_FIELDS}} for t in live]
    broken = dict(items[len(items) // 3], amount="12,50", txn_id="t-broken-1")
    items.insert(len(items) // 3 + 1, broken)
    cut = json.dumps({"type": etype, "card_id": live[0]["card_id"], "amount": 20.0})
    items.insert(2 * len(items) // 3, cut[: len(cut) // 2].encode())
    return items


# ----------------------------------------------------------------- running a design


@dataclass
class DesignRun:
    """What running a design produced: the simulation, the alerts, and how good they were."""

    sim: object
    scorer: str
    design: Design
    notes: list
    labels: dict  # txn_id -> (is_fraud, pattern, card_id, time)
    alert_type: str | None

    def alerts(self):
        """One row per alert: txn_id, card_id, score, submitted_at, alerted_at, latency_s, is_fraud, pattern."""
        import pandas as pd

        cols = [
            "txn_id",
            "card_id",
            "score",
            "submitted_at",
            "alerted_at",
            "latency_s",
            "is_fraud",
            "pattern",
        ]
        rows = []
        if self.alert_type is not None:
            topic = self.design.events[self.alert_type]["topic"]
            for log in self.sim.topic(topic).partitions:
                for r in log.records():
                    doc = json.loads(r.value)
                    if doc.get("type") != self.alert_type:
                        continue
                    p = doc["payload"]
                    fraud, pattern, _, _ = self.labels.get(p["txn_id"], (False, None, None, None))
                    rows.append(
                        {
                            "txn_id": p["txn_id"],
                            "card_id": p["card_id"],
                            "score": round(p["score"], 3),
                            "submitted_at": p["submitted_at"],
                            "alerted_at": round(doc["sim_seconds"], 3),
                            "latency_s": round(doc["sim_seconds"] - p["submitted_at"], 4),
                            "is_fraud": fraud,
                            "pattern": pattern or "-",
                        }
                    )
        frame = pd.DataFrame(rows, columns=cols).astype({"is_fraud": bool})
        return frame.sort_values("alerted_at", kind="stable").reset_index(drop=True)

    def summary(self) -> dict:
        """Precision, recall, alert latency and time to detect a defrauded card, in virtual seconds."""
        alerts = self.alerts()
        fraud = {t: v for t, v in self.labels.items() if v[0]}
        true = alerts[alerts["is_fraud"].astype(bool)]
        first_fraud: dict = {}
        for _, (_, _, card, time) in sorted(fraud.items(), key=lambda kv: kv[1][3]):
            first_fraud.setdefault(card, time)
        caught = true.groupby("card_id")["alerted_at"].min()
        detect = sorted(caught[c] - first_fraud[c] for c in caught.index if c in first_fraud)
        lat = sorted(alerts["latency_s"])
        dlq = sum(
            log.log_end_offset
            for t in set(self.design.dead_letters.values())
            if t in self.sim.broker.topics
            for log in self.sim.topic(t).partitions
        )
        return {
            "scorer": self.scorer,
            "transactions": len(self.labels),
            "fraud": len(fraud),
            "alerts": len(alerts),
            "true_alerts": len(true),
            "precision": round(len(true) / len(alerts), 3) if len(alerts) else 0.0,
            "recall": round(len(true) / len(fraud), 3) if fraud else 0.0,
            "latency_p50_s": round(_quantile(lat, 0.5), 3),
            "latency_p95_s": round(_quantile(lat, 0.95), 3),
            "cards_caught": f"{len(detect)}/{len(first_fraud)}",
            "time_to_detect_s": round(_quantile(detect, 0.5), 3),
            "dead_lettered": dlq,
            "monitoring_events": self.monitoring_events(),
        }

    def monitoring_events(self) -> int:
        """How many model-monitoring events were published."""
        return len(self.monitoring())

    def monitoring(self):
        """The model-monitoring events published: time, type, topic and payload."""
        import pandas as pd

        rows = []
        topics = {
            e["topic"] for n, e in self.design.events.items() if is_monitoring(n) and e["topic"]
        }
        for topic in sorted(t for t in topics if t in self.sim.broker.topics):
            for log in self.sim.topic(topic).partitions:
                for r in log.records():
                    doc = json.loads(r.value)
                    if is_monitoring(doc.get("type")):
                        rows.append(
                            {
                                "time": round(doc["sim_seconds"], 3),
                                "type": doc["type"],
                                "topic": topic,
                                "payload": doc["payload"],
                            }
                        )
        frame = pd.DataFrame(rows, columns=["time", "type", "topic", "payload"])
        return frame.sort_values("time", kind="stable").reset_index(drop=True)


def _quantile(values: list, q: float) -> float:
    if not values:
        return float("nan")
    i = min(len(values) - 1, max(0, int(round(q * (len(values) - 1)))))
    return float(values[i])


def _check_transaction(p) -> None:
    for name in ("card_id", "device_id", "merchant_id"):
        if not isinstance(p.get(name), str):
            raise ValueError(f"transaction without a {name}: cannot keep per-card features")
    amount = p.get("amount")
    if isinstance(amount, bool) or not isinstance(amount, (int, float)) or amount <= 0:
        raise ValueError(f"amount must be a positive number, got {amount!r}")


def _chain(fns: list):
    if len(fns) == 1:
        return fns[0]

    def both(event, ctx):
        for fn in fns:
            fn(event, ctx)

    return both


def run_design(
    design, seed: int = LIVE_SEED, *, scorer: str = "model", until: float | None = None
) -> DesignRun:
    """Run ``design`` on the simulated broker with the live transaction stream of ``seed``.

    ``scorer`` is ``"model"`` (the :class:`FraudModel` from :func:`train_model`)
    or ``"rule"`` (:class:`ThresholdRule`). A design with gaps still runs as
    far as it goes (a flow that breaks, or no flow, raises no alert); the
    returned run's ``notes`` say what was left out and why.
    """
    if scorer not in SCORERS:
        raise ValueError(f"scorer must be one of {', '.join(SCORERS)}, got {scorer!r}")
    d = read_design(design)
    notes = list(d.problems)
    warmup, live = live_stream(seed)
    labels = {
        t["txn_id"]: (t["is_fraud"], t["fraud_pattern"], t["card_id"], t["time"]) for t in live
    }
    sim = Simulation(seed=seed, name=f"fraud-{scorer}")
    for topic in d.topics():
        sim.create_topic(topic, partitions=3)
    flow = list(d.flow)
    broken = flow_break(d)
    if broken is not None:
        notes.append(broken)
        # run the longest chain that holds: the source, then each hop whose producer consumes the step before
        keep = 1 if flow and d.events[flow[0]]["producer"] else 0
        while (
            keep
            and keep < len(flow)
            and len(set(flow[: keep + 1])) == keep + 1
            and d.events[flow[keep]]["producer"] in d.events[flow[keep - 1]]["consumers"]
        ):
            keep += 1
        flow = flow[:keep]
    untravelled = next((i for i, step in enumerate(flow) if not d.events[step]["topic"]), None)
    if untravelled is not None:  # an event without a topic cannot travel: the path ends before it
        flow = flow[:untravelled]
    model = train_model() if scorer == "model" else ThresholdRule()
    state = {"version": "v1" if scorer == "model" else "rule"}

    # each service's handlers (several jobs for one event type run one after the other), topics, outputs
    plan: dict = {}  # service -> {"handlers": {type: [fn, ...]}, "consumes": [topics], "produces": {topic: [types]}}

    def wire(service, in_type, fn, out_type=None, job="read"):
        r = plan.setdefault(service, {"handlers": {}, "consumes": [], "produces": {}, "time": 0.0})
        r["time"] = max(r["time"], PROCESSING_TIME[job])
        r["handlers"].setdefault(in_type, []).append(fn)
        topic = d.events[in_type]["topic"]
        if topic not in r["consumes"]:
            r["consumes"].append(topic)
        if out_type is not None and out_type not in r["produces"].setdefault(
            d.events[out_type]["topic"], []
        ):
            r["produces"][d.events[out_type]["topic"]].append(out_type)

    sources = []
    if flow:
        first = flow[0]
        sources.append(
            Source(
                sim,
                d.events[first]["producer"],
                d.events[first]["topic"],
                _source_items(live, first),
                key="card_id",
                produces=[first],
            )
        )
    n = len(flow) - 1
    features = None
    if n >= 1:
        from eda_sim.ai.models import CardFeatures

        features = CardFeatures()
        for t in warmup:  # the feature store as it stood at go-live
            features.update(t)
    score_at = max(1, n - 1)
    for hop in range(1, n + 1):
        in_type, out_type = flow[hop - 1], flow[hop]
        out_topic = d.events[out_type]["topic"]

        def step(event, ctx, hop=hop, out_type=out_type, out_topic=out_topic):
            p = event.payload
            if hop == 1:
                _check_transaction(p)
                txn = {k: p[k] for k in _TXN_FIELDS if k in p}
                txn["time"] = event.time
                out = {
                    "txn_id": p.get("txn_id"),
                    "card_id": p["card_id"],
                    "amount": p["amount"],
                    "submitted_at": event.time,
                    "features": features.update(txn),
                }
            else:
                out = p.thaw()
            if hop == score_at:
                out["score"] = float(model.score(out["features"]))
                out["model_version"] = state["version"]
            if hop == n:
                if out["score"] < THRESHOLD:
                    return
                out = {
                    k: out[k]
                    for k in ("txn_id", "card_id", "score", "model_version", "submitted_at")
                }
            ctx.emit(out_topic, out_type, out, key=out["card_id"])

        job = (
            "features"
            if hop == 1
            else "score"
            if hop == score_at
            else "alert"
            if hop == n
            else "read"
        )
        wire(d.events[out_type]["producer"], in_type, step, out_type, job)

    # model lifecycle and monitoring
    deployments = [
        x for x in d.events if is_deployment(x) and d.events[x]["producer"] and d.events[x]["topic"]
    ]
    for x in deployments:
        sources.append(
            Source(
                sim,
                d.events[x]["producer"],
                d.events[x]["topic"],
                [
                    {
                        "time": 0.0,
                        "type": x,
                        "model": type(model).__name__,
                        "version": state["version"],
                        "features": list(FEATURES)
                        if scorer == "model"
                        else ["amount", "speed_kmh"],
                        "threshold": THRESHOLD,
                    }
                ],
                key="fraud-model",
                produces=[x],
            )
        )
    on_flow = set(flow)
    monitors = [
        x
        for x in d.events
        if is_monitoring(x)
        and not is_deployment(x)
        and d.events[x]["producer"]
        and d.events[x]["topic"]
        and set(d.consumed_by(d.events[x]["producer"])) & on_flow
    ]
    for x in monitors:
        producer = d.events[x]["producer"]
        monitor = DriftMonitor(training_amounts(), threshold=0.2, window=200)

        def watch(event, ctx, monitor=monitor, x=x):
            amount = event.payload.get("amount")
            if isinstance(amount, bool) or not isinstance(amount, (int, float)):
                raise ValueError(f"amount must be a number, got {amount!r}")
            was = monitor.drifted
            psi = monitor.observe(amount, event.time)
            if psi is not None and monitor.drifted and not was:
                ctx.emit(
                    d.events[x]["topic"],
                    x,
                    {
                        "feature": "amount",
                        "psi": round(psi, 3),
                        "threshold": monitor.threshold,
                        "model_version": state["version"],
                    },
                    key="fraud-model",
                )

        for watched in d.consumed_by(producer):
            if watched in on_flow:
                wire(producer, watched, watch, x, "monitor")
    # every other declared consumer reads its events (a case-management queue, a notifier, ...)
    produced_here = (
        set(flow[:1])
        | set(deployments)
        | {o for r in plan.values() for ts in r["produces"].values() for o in ts}
    )

    def read(event, ctx):
        pass

    for name, e in d.events.items():
        if name in produced_here and e["topic"]:
            for consumer in e["consumers"]:
                if name not in plan.get(consumer, {}).get("handlers", {}):
                    wire(consumer, name, read)
    for service, r in plan.items():  # declared up front, so services can be made in any order
        for topic, types in r["produces"].items():
            for t in types:
                sim.event_catalog.setdefault(t, set()).add((service, topic))
    for service, r in plan.items():
        handlers = {t: _chain(fns) for t, fns in r["handlers"].items() if t in sim.event_catalog}
        if not handlers:
            continue
        dlt = next((d.dead_letters[t] for t in r["consumes"] if t in d.dead_letters), None)
        Service(
            sim,
            service,
            consumes=r["consumes"],
            handlers=handlers,
            produces=r["produces"] or None,
            retry=NO_RETRY,
            dead_letter=dlt or False,
            poll_timeout=5.0,
            processing_time=lambda rng, base=r["time"]: base * rng.uniform(0.5, 1.5),
        )
    sim.run(until=LIVE_STREAM["duration"] + 5.0 if until is None else until)
    if len(flow) < 2:
        notes.append("no alert path ran, so nothing was flagged")
    return DesignRun(sim, scorer, d, notes, labels, flow[-1] if len(flow) >= 2 else None)


@functools.lru_cache(maxsize=8)
def _runs(canonical: str, seed: int) -> tuple:
    design = json.loads(canonical)
    return tuple(run_design(design, seed, scorer=s) for s in SCORERS)


def design_runs(design, seed: int = LIVE_SEED) -> dict:
    """``{"model": DesignRun, "rule": DesignRun}``: the design run with each scorer.

    Runs are deterministic, so the runs of a design already run are
    remembered and shared: look at them, do not run their simulations further.
    """
    try:
        canonical = json.dumps(design, sort_keys=True)
        if (
            json.loads(canonical) != design
        ):  # tuples, non-str keys: not a faithful key, do not remember
            canonical = None
    except (TypeError, ValueError):
        canonical = None
    runs = (
        _runs(canonical, seed)
        if canonical is not None
        else tuple(run_design(design, seed, scorer=s) for s in SCORERS)
    )
    return dict(zip(SCORERS, runs))


def compare_with_rule(design, seed: int = LIVE_SEED):
    """The design run with the model and with the threshold rule: one row each (see :meth:`DesignRun.summary`)."""
    import pandas as pd

    return pd.DataFrame([r.summary() for r in design_runs(design, seed).values()]).set_index(
        "scorer"
    )


def by_pattern(design, seed: int = LIVE_SEED):
    """Per fraud pattern: fraudulent transactions, and how many each scorer's alerts caught."""
    import pandas as pd

    runs = design_runs(design, seed)
    first = next(iter(runs.values()))
    fraud = (
        pd.Series([v[1] for v in first.labels.values() if v[0]], dtype=object)
        .value_counts()
        .sort_index()
    )
    table = pd.DataFrame({"fraud": fraud})
    for name, run in runs.items():
        alerts = run.alerts()
        table[f"caught_by_{name}"] = (
            alerts[alerts["is_fraud"]]["pattern"]
            .value_counts()
            .reindex(table.index)
            .fillna(0)
            .astype(int)
        )
    table.index.name = "pattern"
    return table


def caught_by_pattern(designs: dict, seed: int = LIVE_SEED):
    """:func:`by_pattern` for several named designs side by side: the fraud per pattern, then one
    column per design and scorer with the fraud its alerts caught (e.g. ``baseline model``)."""
    import pandas as pd

    tables = {name: by_pattern(design, seed) for name, design in designs.items()}
    if not tables:
        raise ValueError("designs should map a name to a design, e.g. {'yours': my_design}")
    first = next(iter(tables.values()))
    columns = {"fraud": first["fraud"]}
    for name, table in tables.items():
        for scorer in SCORERS:
            columns[f"{name} {scorer}"] = table[f"caught_by_{scorer}"]
    return pd.DataFrame(columns)


def design_table(design):
    """The events of a design as a table: event, producer, consumers, topic (what could be read of it)."""
    import pandas as pd

    d = read_design(design)
    rows = [
        {
            "event": n,
            "producer": e["producer"] or "-",
            "consumers": ", ".join(e["consumers"]) or "-",
            "topic": e["topic"] or "-",
            "on_flow": n in d.flow,
        }
        for n, e in d.events.items()
    ]
    return pd.DataFrame(rows, columns=["event", "producer", "consumers", "topic", "on_flow"])


def live_features(seed: int = LIVE_SEED):
    """The live transactions' features, computed offline (:func:`~eda_sim.ai.models.card_features`), with labels.

    The feature service computes the same numbers from the events, so this
    is a quick way to try thresholds without running the broker.
    """
    warmup, live = live_stream(seed)
    return card_features(warmup + live, warmup=WARMUP)
