# %% [markdown]
# # 14 · The fraud-detection challenge
#
# **After this notebook you can** design the events of a real-time fraud-detection system (what happens,
# who announces it, who reacts), sketch the path from a submitted transaction to an alert with
# model-monitoring events and a dead-letter path, check the design, and run it on a card-payment stream
# to measure precision, recall and detection latency against a hand-written rule.
#
# **Time:** about 45 minutes.

# %% [markdown]
# ## The challenge
#
# A bank wants to flag suspicious card payments while they happen, not in tomorrow's batch. You are the
# architect. Your design is plain Python data: the **event types**, who **produces** each one, who
# **consumes** it and on which **topic** it travels, the **flow** from a transaction entering the system to
# an alert, and where failed events go. A checker reads it and says what holds and what is missing; then
# the design runs on the simulated broker with a model learned from labelled history.

# %% [markdown]
# ## The stream: card payments with fraud mixed in
#
# 150 cards, each with a home city, usual shops, a typical amount and one or two phones. Fraud is mixed in
# with four patterns: **card testing** (bursts of tiny amounts at an unknown online shop from a new device),
# **impossible travel** (a payment thousands of kilometres from home minutes after one at home),
# **account takeover** (a new device and several large purchases) and **large first-time merchant**.
# The first hour only fills each card's history; the second hour is the one we score.

# %%
import pandas as pd
from eda_sim.course.nb14.world import live_stream

warmup, live = live_stream(seed=12)
frame = pd.DataFrame(live)
len(warmup), len(live), frame["fraud_pattern"].value_counts()

# %% [markdown]
# ## Features from events
#
# A single payment says little; a card's recent history says a lot. A feature service keeps rolling state
# per card, updated by each event it consumes: payments in the last 10 minutes and hour, the distance and
# speed since the previous one, whether the device or shop is new. Here is a card-testing burst: the first
# payment comes from a new device at a new shop; after it, the device and shop are known, but the count in
# ten minutes climbs and every amount is a few percent of what the card usually spends.

# %%
from eda_sim.course.nb14.world import live_features

features = live_features(seed=12)
burst = features[features["card_id"] == "card0057"]
burst[["time", "amount", "count_10m", "is_new_device", "is_new_merchant", "amount_ratio", "fraud_pattern"]].head(6)

# %% [markdown]
# ## A model learned from labelled history
#
# The scorer is a logistic regression trained on two hours of labelled payments from 300 other cards
# (labels come later in real life, from chargebacks). The baseline is the rule a team writes on day one:
# flag amounts over 1,000 or travel faster than 900 km/h. The model's median score per pattern, on the
# live hour (a score is the probability of fraud):

# %%
from eda_sim.course.nb14.world import train_model

scored = features.assign(score=train_model().score_frame(features).round(3))
scored.groupby(scored["fraud_pattern"].fillna("genuine"))["score"].median()

# %% [markdown]
# ## A design as data
#
# The format, shown on notebook 13's recommender (not the answer to this challenge). `events` maps each
# event type to `{"producer": ..., "consumers": [...], "topic": ...}`; the little `event` function just
# writes that dict. `flow` lists event types in order, each produced by a consumer of the one before.
# `dead_letters` maps a topic to the topic where events that cannot be handled there are parked.

# %%
from eda_sim.course.nb14.world import design_table

def event(producer, consumers, topic):
    return {"producer": producer, "consumers": consumers, "topic": topic}

example = {
    "events": {"UserViewedProduct": event("frontend", ["recommender"], "product-views"),
               "RecommendationGenerated": event("recommender", ["home-page"], "recommendations")},
    "flow": ["UserViewedProduct", "RecommendationGenerated"],
    "dead_letters": {"product-views": "product-views.DLT"},
}
design_table(example)

# %% [markdown]
# ## What the checker looks for
#
# - **Facts, not commands.** An event says what happened: a noun and a past-tense verb
#   (`TransactionSubmitted`). The check is a simple word test: a name that starts with a verb such as
#   Check, Score or Send reads as an order; a name with no word ending in *-ed* (or an irregular past such
#   as *Sent*) says nothing happened.
# - Every event that is consumed has a producer, and every event that is produced has a consumer.
# - A **path** along `flow` from the transaction to the alert, each step produced by a consumer of the
#   step before.
# - **Features and scoring as steps of their own**: a feature service publishes each transaction's
#   features, and a separate scorer consumes them and publishes a score before the alert.
# - **Model monitoring**: events about the model (`ModelDeployed`, `ModelDriftDetected`), with a monitor
#   that consumes the live flow.
# - A **dead-letter path**, at least where transactions enter: outside input is where malformed events
#   arrive first.
#
# A first try, with typical slips:

# %%
from eda_sim.course.nb14.check import check_fraud_design

first_try = {
    "events": {"NewTransaction": event("payments-api", ["fraud-service"], "transactions"),
               "CheckFraud": event("fraud-service", [], "fraud")},
    "flow": ["NewTransaction", "CheckFraud"],
}
check_fraud_design(first_try)

# %% [markdown]
# ## Exercise: design the flow
#
# Write `my_design`: the events from a submitted transaction through features and a score to an alert,
# their producers, consumers and topics; model-monitoring events; and dead-letter topics. When the checks
# pass, the checker runs your design and compares it with the rule.

# %% tags=["exercise"]
my_design = {
    "events": {
        "TransactionSubmitted": event("payments-api", ["feature-service"], "transactions"),
        # ... the events that lead to an alert, and the model-monitoring events
    },
    "flow": ["TransactionSubmitted"],
    "dead_letters": {},
}
check_fraud_design(my_design)

# %% tags=["solution"]
### BEGIN SOLUTION
my_design = {
    "events": {
        "TransactionSubmitted": event("payments-api", ["feature-service"], "transactions"),
        "TransactionFeaturesComputed": event("feature-service", ["fraud-scorer", "model-monitor"], "transaction-features"),
        "TransactionScored": event("fraud-scorer", ["fraud-alerting"], "fraud-scores"),
        "FraudSuspected": event("fraud-alerting", ["case-management"], "fraud-alerts"),
        "ModelDeployed": event("model-registry", ["fraud-scorer", "model-monitor"], "model-events"),
        "ModelDriftDetected": event("model-monitor", ["model-registry"], "model-events"),
    },
    "flow": ["TransactionSubmitted", "TransactionFeaturesComputed", "TransactionScored", "FraudSuspected"],
    "dead_letters": {"transactions": "transactions.DLT", "transaction-features": "transaction-features.DLT"},
}
### END SOLUTION
check_fraud_design(my_design)

# %% [markdown]
# ## Your design, running
#
# The run follows your design: the first event's producer replays the second hour of payments (without
# their labels); the first hop keeps the rolling features, the hop before the alert scores, the last hop
# publishes the alert when the score is 0.5 or more. Monitors watch live amounts, `...Deployed` events
# announce the model, other consumers just read. Until your flow reaches an alert, nothing is flagged.
# The simulator runs one broker and keeps one copy of each partition, where a real cluster would
# replicate each topic across brokers.

# %%
from eda_sim.course.nb14.world import design_runs
from eda_sim.views.widgets import show

runs = design_runs(my_design, seed=12)
show(runs["model"].sim, "flow")

# %% [markdown]
# So that there is something to compare with before your design is done, every result below also runs a
# **baseline**: the design a team might ship on day one. One `fraud-service` reads each transaction and
# publishes the alert itself. It flags fraud, but nothing else can use its features or its scores, nobody
# watches the model, and a malformed payment has nowhere to go. It is a yardstick, not the answer.

# %%
from eda_sim.course.nb14.world import BASELINE

designs = {"yours": my_design, "baseline": BASELINE}
design_table(BASELINE)

# %% [markdown]
# ## Precision, recall and detection latency
#
# **Precision**: the share of alerts that were fraud. **Recall**: the share of fraud that raised an alert.
# **Latency**: virtual seconds from the transaction event to its alert event, the sum of each hop's
# queueing and handling. **Time to detect**: from a card's first fraudulent payment to its first alert.
# The rule runs through the same design in place of the model. While your design has no path to an
# alert, its columns read 0.

# %%
from eda_sim.course.nb14.world import compare_with_rule

pd.concat({name: compare_with_rule(d, seed=12).T for name, d in designs.items()}, axis=1)

# %% [markdown]
# Where the difference comes from: the rule only sees big amounts and fast travel. Card testing uses tiny
# amounts, so the rule cannot catch it at all; the model learned that a burst of small payments from a new
# device at a new shop is suspicious. Compare the latencies too: each hop your design adds is one more
# topic to queue on.

# %%
from eda_sim.course.nb14.world import caught_by_pattern

caught_by_pattern(designs, seed=12)

# %% [markdown]
# The first alerts of each run (none from your design until its flow reaches an alert):

# %%
first = {name: design_runs(d, seed=12)["model"].alerts().head(4) for name, d in designs.items()}
pd.concat(first)[["txn_id", "card_id", "score", "latency_s", "is_fraud", "pattern"]]

# %% [markdown]
# The two malformed payments the API sent (one cut off mid-JSON, one with the amount `"12,50"`) sit in
# the dead-letter topic of `transactions`, if your design has one (`dead_lettered` above; the baseline
# has none, so its service skips them and the journal records them as `failed`). The monitoring events,
# if your design has them, show the model being deployed; the live amounts did not drift in this stream
# (notebook 15 makes them drift). Your design's monitoring events:

# %%
runs["model"].monitoring()[["time", "type", "topic"]]

# %% [markdown]
# ## Try it: the alert threshold and the rule's limit
#
# A lower threshold catches more fraud and raises more false alarms. The scores are the ones the run
# computed, recomputed offline from the same features so the answer is instant.

# %% tags=["nbval-ignore-output"]
from eda_sim.ai.models import ThresholdRule, precision_recall
from eda_sim.views.widgets import explore

def tradeoff(threshold, rule_amount):
    y = features["is_fraud"]
    rows = {"model": precision_recall(train_model().score_frame(features), y, threshold),
            "rule": precision_recall(ThresholdRule(amount=rule_amount).score_frame(features), y, 0.5)}
    return pd.DataFrame(rows, index=["precision", "recall"]).T.round(3)

explore(tradeoff, threshold=(0.05, 0.95, 0.05, 0.5), rule_amount=(100.0, 3000.0, 100.0, 1000.0))

# %%
tradeoff(0.5, 1000.0)

# %% [markdown]
# ## Summary
#
# - Name events as facts; the services decide what to do about them.
# - Follow each event from producer to consumers: an event nobody produces or nobody reads is a design bug.
# - The path from a transaction to an alert is a chain of services reacting to each other's events.
# - Monitoring events (`ModelDeployed`, `ModelDriftDetected`) make the model's life visible to everyone.
# - A dead-letter topic where outside input enters keeps malformed events from blocking the stream.
# - Measure a model against a simple rule on the same stream: precision, recall, and how fast it reacts.
#
# Next: [15 · replay, audit and model monitoring](15_replay_audit_monitoring.ipynb).
