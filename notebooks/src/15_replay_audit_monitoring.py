# %% [markdown]
# # 15 · Replay, audit and model monitoring
#
# **After this notebook you can** treat a topic as the system's history: replay it from the earliest
# offset with a new consumer group to back-test a new model on exactly the events the old one saw, rebuild
# a service's state from the log, announce model versions with `ModelDeployed` and drift with
# `ModelDriftDetected`, and tell when retention has made the start of history unreachable.
#
# **Time:** about 35 minutes.

# %% [markdown]
# ## The log remembers
#
# Notebook 14's payments again, as one flow. The fraud scorer folds every payment into per-card state from
# the start, and begins scoring when the model registry publishes `ModelDeployed` (version v1) at
# 3,600 s. A model monitor reads the same payments. At 5,400 s the stream changes: every amount doubles
# (think of a currency switch upstream). We run the world to 6,000 s.

# %%
from eda_sim.course.nb15.world import monitoring_world, model_events
from eda_sim.views.widgets import show

sim = monitoring_world(seed=12, until=6000.0)
show(sim, "flow")

# %% [markdown]
# This notebook runs one broker, so each partition has one copy (notebook 06 shows replicas); retention,
# offsets and consumer groups behave as in Kafka.

# %% [markdown]
# ## The model's life, as events
#
# Model versions and alarms about the model are events on topics like any others: the scorer reads
# `ModelDeployed` from `model-events` to know which version to use; `ModelDriftDetected` goes to
# `model-alerts`, where an on-call dashboard or a retraining job can subscribe. Together they are an audit
# trail of which model was live when, and what was noticed about it.

# %%
model_events(sim)

# %% [markdown]
# ## Drift: live inputs against the training data
#
# The monitor cuts the live amounts into windows of 100 payments and compares each window with the
# amounts the model was trained on, using the **population stability index** (PSI): split the training
# amounts into ten equal-count bins, and add up how much each bin's share moved. 0 means the same
# distribution. With only 100 values a window wanders up to about 0.25 by chance, so the alarm is at 0.3.

# %%
import matplotlib.pyplot as plt

def drift_plot(frame, threshold, shift_at=5400.0):
    fig, ax = plt.subplots(figsize=(7, 3))
    ax.plot(frame["time"], frame["psi"], marker="o", label="PSI of each window")
    ax.axhline(threshold, color="tab:red", linestyle="--", label="alarm threshold")
    ax.axvline(shift_at, color="grey", linestyle=":", label="the stream shifts")
    ax.set(xlabel="virtual time (s)", ylabel="PSI of amounts", title="Live amounts vs training data")
    ax.legend(loc="upper left")
    plt.close(fig)
    return fig

drift_plot(sim.services["model-monitor"].monitor.frame(), threshold=0.3)

# %% [markdown]
# Every window before the shift stays under the threshold; the first window that contains the doubled
# amounts crosses it, and the monitor publishes `ModelDriftDetected` (once, when the state changes, not for
# every window) a few minutes of virtual time after the shift.

# %% [markdown]
# ## Try it: how big a shift, how big a window
#
# The same monitor logic, fed the stream's amounts in time order without the broker, so it answers at
# once. Small windows react sooner and raise more false alarms; a small shift may never cross the line.

# %% tags=["nbval-ignore-output"]
from eda_sim.course.nb15.world import drift_timeline
from eda_sim.views.widgets import explore

def try_drift(amount_scale, window, threshold):
    frame = drift_timeline(seed=12, amount_scale=amount_scale, window=window, threshold=threshold)
    return drift_plot(frame, threshold)

explore(try_drift, amount_scale=(1.0, 3.0, 0.1, 2.0), window=(25, 400, 25, 100), threshold=(0.05, 0.6, 0.05, 0.3))

# %%
try_drift(2.0, 100, 0.3)

# %% [markdown]
# ## Back-test v2 on the same history
#
# The data team has a v2 model that uses all twelve rolling features (v1 used four). Would it have done
# better on *these* payments? The topic still holds them. A consumer in a **new group** that has never
# committed starts where `auto.offset.reset` says: with `earliest`, at the start of every partition's log
# (offset 0 here, because retention has deleted nothing yet; after it has, the oldest record still kept),
# while the default, `latest`, would read only what arrives after it joins. It reads
# everything again, rebuilds the features, and scores with both versions. The live scorer consumed all of
# these payments already: consuming deletes nothing, and each group has its own committed offsets.

# %%
from eda_sim.course.nb15.world import BACKTEST_CONFIG, backtest

backtest(sim)

# %% [markdown]
# Same events, same order, same features: the only difference is the model. v2 catches more of the fraud,
# and a larger share of its alerts are fraud. Run it again and you get the same table: a replay of the same
# history is deterministic.

# %% [markdown]
# ## Replay from a moment, not from the start
#
# An incident review wants only what happened after the amounts doubled at 5,400 s. Reading from
# `earliest` and skipping would work, slowly. A consumer can ask the broker instead: `offsets_for_times`
# takes a timestamp per partition (milliseconds since the Unix epoch; records carry the time the producer
# created them) and answers the first offset at or after it. `assign` then starts exactly there, with no
# group membership and no rebalance, and a review that commits nothing disturbs no one. The same calls
# work unchanged with confluent-kafka on a real cluster.

# %%
import json
from datetime import timedelta

import pandas as pd
from eda_sim import SIM_EPOCH
from eda_sim.kafka import TopicPartition

shift = SIM_EPOCH + timedelta(seconds=5400)        # the simulation's clock starts at SIM_EPOCH
ms = int(shift.timestamp() * 1000)
review = sim.consumer({"group.id": "incident-review", "enable.auto.commit": False})
parts = [TopicPartition("transactions", p, ms) for p in range(len(sim.topic("transactions").partitions))]
starts = review.offsets_for_times(parts, timeout=5)
review.assign(starts)
[(tp.partition, tp.offset) for tp in starts]

# %%
seen = []
while batch := [m for m in review.consume(500, timeout=0.05) if m.error() is None]:
    seen += [(m.partition(), m.offset(), json.loads(m.value())["sim_seconds"]) for m in batch]
review.close()
seen = pd.DataFrame(seen, columns=["partition", "offset", "time"])
pd.DataFrame([{"records read": len(seen), "first created at (s)": round(float(seen.time.min()), 1),
               "last created at (s)": round(float(seen.time.max()), 1)}])

# %% [markdown]
# Every record read was created at or after the shift; nothing before it was fetched. `assign` takes
# any offsets: `TopicPartition(topic, p, OFFSET_BEGINNING)` for a full replay without a group, or offsets
# an audit tool saved last time.

# %% [markdown]
# ## Deploy v2: a `ModelDeployed` event
#
# The registry publishes `ModelDeployed` for v2; the scorer reads it and switches. Then the world runs on
# to the end of the second hour.

# %%
import json
import pandas as pd
from eda_sim.course.nb15.world import ALERTS, END, deploy

deploy(sim, "v2")
sim.run(until=END)
model_events(sim)

# %% [markdown]
# Every `FraudSuspected` alert names the version that raised it, so the switch is visible downstream too.

# %%
alerts = pd.DataFrame([json.loads(v)["payload"] for v in sim.records(ALERTS)["value"]])
alerts["model_version"].value_counts()

# %% [markdown]
# ## Rebuild state from the log
#
# The scorer keeps a running count and total per card. If that state were lost, replaying the log from
# the start into an empty state gives it back, exactly. This is **rebuilding a projection** from a topic:
# it works while the topic still holds every record the state was built from. It is not yet **event
# sourcing**, which makes the events the system of record: one stream per entity (this card), appends
# that succeed only if the stream is still at the version the writer read (an *expected version*), and a
# store that never expires or compacts anything. A Kafka topic mixes many keys in a partition, lets any
# producer append at any time, and deletes history by retention or, if compacted, by key (notebook 11):
# use it to carry events, and keep the system of record elsewhere.

# %%
from eda_sim.course.nb15.world import card_totals, rebuild_card_totals

live = card_totals(sim.services["fraud-scorer"].totals)
rebuilt = rebuild_card_totals(sim)
live.equals(rebuilt), len(rebuilt), rebuilt.head(3)

# %% [markdown]
# ## When retention has deleted the start
#
# All of this needs the history to still be there. Kafka deletes old segments after `retention.ms`
# (7 days by default), whole segments at a time. Here the same payments go to a topic that keeps 30
# minutes, in segments of 10: by the end, each partition's **log-start offset** has moved past 0, and a
# replay from `earliest` starts there.

# %%
from eda_sim.course.nb15.world import replay, retention_world

short = retention_world(seed=12, retention_ms=1_800_000)
short.offsets(topic="transactions")[["partition", "log_start", "log_end"]]

# %%
read = replay(short, {**BACKTEST_CONFIG, "group.id": "audit"})
produced = int(short.offsets(topic="transactions")["log_end"].sum())
pd.Series({"produced": produced, "replayed": len(read), "oldest replayed at (s)": round(float(read["time"].min()))})

# %% [markdown]
# A back-test or a rebuild over this topic silently covers the last half hour only. A log that is the
# system of record needs `retention.ms=-1` (keep forever), compaction for "latest value per key" state,
# or snapshots stored elsewhere. A broker with time-based retention is a buffer, not an archive.

# %% [markdown]
# ## Exercise: replay the whole history
#
# Write the consumer settings for a back-test that reads every transaction from the beginning, and can be
# run again tomorrow with the same settings and read everything again. The check replays the topic twice
# with your settings.

# %% tags=["exercise"]
from eda_sim.course.nb15.check import check_backtest_config

backtest_config = {"group.id": "fraud-scorer"}
check_backtest_config(backtest_config)

# %% tags=["solution"]
from eda_sim.course.nb15.check import check_backtest_config

### BEGIN SOLUTION
backtest_config = {"group.id": "backtest-v2", "auto.offset.reset": "earliest", "enable.auto.commit": False}
### END SOLUTION
check_backtest_config(backtest_config)

# %% [markdown]
# ## Summary
#
# - A topic is a history: a new consumer group with `auto.offset.reset=earliest` reads it from the start
#   without disturbing anyone, which is how you back-test a model on exactly the events the old one saw.
# - A back-test should commit nothing, so that it can be repeated.
# - To replay from a moment rather than from the start: `offsets_for_times`, then `assign` (no group
#   membership; commit nothing).
# - State built from events can be rebuilt from the events.
# - `ModelDeployed` and `ModelDriftDetected` make the model's life part of the event flow, for people and
#   services alike; a drift monitor compares live inputs with the training data, window by window.
# - Retention decides how far back "replay" reaches; check `log_start_offset` before trusting a replay.
#
# Next: [16 · to a real broker](16_to_a_real_broker.ipynb).
