# %% [markdown]
# # 00 · Start here: an AI system that runs on events
#
# **After this notebook you can** say why AI systems are built around events, name the three roles in an
# event-driven system, and drive this course's simulations with their controls.
#
# **Time:** about 10 minutes.

# %% [markdown]
# ## Why events, for AI
#
# A recommendation that arrives after the shopper has left is worthless; a fraud score computed after the
# payment cleared is too late. AI systems increasingly *react*: to a click, a transaction, a new batch of
# data, a model that drifts. In an event-driven design, each part announces what happened as an **event**
# and gets on with its work; other parts **subscribe** to the events they care about and react in their
# own time. Nobody waits on anybody, each part scales on its own, and a new consumer can be added without
# touching the producers.
#
# Three roles make this work:
#
# - **producers** publish events (a front end, an uploader, a service reporting its results);
# - the **broker** stores them durably in **topics** and hands them out (Kafka and its cousins);
# - **consumers** subscribe and react (a feature pipeline, a model server, a monitor).

# %% [markdown]
# ## The flow you will take apart
#
# An uploader sends raw interaction data; a **feature service** turns it into per-user features; a
# **real-time inference** service answers the front end's inference requests using the latest features;
# a **model monitor** watches the results and raises a drift alert. Everything runs in a simulation on a
# virtual clock, with one seed, so what you see here is what everyone sees.
#
# Press **Step** to move to the next thing that happens, **▶** to play, **Reset** to start again. The
# menu breaks one service; the checkbox makes requests drift halfway through. Watch the arrow counts.
#
# One setting is shrunk so the story fits in two minutes: each service's consumers use a 3 s
# `session.timeout.ms`, and this simulated broker lowers `group.min.session.timeout.ms` to allow it. A
# real Kafka broker refuses sessions under 6 s by default, with `INVALID_SESSION_TIMEOUT`.

# %% tags=["nbval-ignore-output"]
from eda_sim.course.nb00.world import SERVICES, ai_flow
from eda_sim.views.widgets import controls

def build(broken="none", drift=False):
    # built at t = 0 with two virtual minutes of traffic; Step and Play run it
    return ai_flow(seed=1, until=0, duration=120, break_hop=None if broken == "none" else broken,
                   drift_at=15 if drift else None)

controls(build, ["flow"], knobs={"broken": ["none", *SERVICES], "drift": False}, tick=1.0)

# %% [markdown]
# The same world, run for 30 virtual seconds, as a plain picture (this is what the notebook shows when
# nobody presses anything):

# %%
from eda_sim.views.widgets import show

sim = ai_flow(seed=1, until=30, drift_at=15)
show(sim, "flow")

# %% [markdown]
# ## Everything is in the journal
#
# The simulation writes down everything that happens: records produced and appended, deliveries, commits,
# rebalances, crashes, dead letters. Every picture in the course is drawn from this journal.

# %%
journal = sim.journal.frame()
journal.kind.value_counts().head(8)

# %%
from eda_sim.services.service import events_frame

events_frame(sim, "model-alerts")[["time", "type", "mean_score", "threshold"]]

# %% [markdown]
# ## Exercise: who plays which role?
#
# Using the flow diagram above, mark each part as `"producer"`, `"consumer"`, `"both"` or `"topic"`.

# %% tags=["exercise"]
from eda_sim.course.nb00.check import check_roles

answer = {"uploader": "?", "frontend": "?", "raw-data": "?", "feature-service": "?",
          "realtime-inference": "?", "model-monitor": "?", "model-alerts": "?"}
check_roles(answer)

# %% tags=["solution"]
from eda_sim.course.nb00.check import check_roles

### BEGIN SOLUTION
answer = {"uploader": "producer", "frontend": "producer", "raw-data": "topic", "feature-service": "both",
          "realtime-inference": "both", "model-monitor": "both", "model-alerts": "topic"}
### END SOLUTION
check_roles(answer)

# %% [markdown]
# ## The map of the course
#
# | # | notebook | you will see |
# |---|---|---|
# | 01 | [events](01_events.ipynb) | an immutable fact, its JSON, events versus commands |
# | 02 | [producers, consumers, broker](02_producers_consumers_broker.ipynb) | fan-out to groups, a consumer offline and catching up |
# | 03 | [partitions and ordering](03_partitions_and_ordering.ipynb) | order per partition, keys, adding partitions, a reorder buffer |
# | 04 | [consumer groups and scaling](04_consumer_groups_and_scaling.ipynb) | idle extra consumers, rebalances, a rebalance storm |
# | 05 | [delivery and idempotency](05_delivery_and_idempotency.ipynb) | commit timing, a crash sweep, a ledger that double-counts |
# | 06 | [durability and replication](06_durability_and_replication.ipynb) | three brokers, a failover, what `acks` loses |
# | 07 | [transactions and exactly-once](07_transactions_and_exactly_once.ipynb) | a zombie fenced, what read_committed sees, the outbox |
# | 08 | [retries and dead letters](08_retries_and_dead_letters.ipynb) | backoff, poison events, re-drive, counts that reconcile |
# | 09 | [schemas and evolution](09_schemas_and_evolution.ipynb) | a registry accepting and refusing changes |
# | 10 | [storms, backpressure, monitoring](10_storms_backpressure_and_monitoring.ipynb) | lag in a surge, autoscaling, hot keys, alerts |
# | 11 | [state: tables, windows and joins](11_state_tables_windows_joins.ipynb) | a compacted feature store, windows, the [watermark](GLOSSARY.md), a join |
# | 12 | [tracing](12_tracing.ipynb) | one request across services, the hop where it stopped |
# | 13 | [real-time recommendations](13_realtime_recommendations.ipynb) | a model learning from the stream |
# | 14 | [fraud-detection challenge](14_fraud_detection_challenge.ipynb) | your own design, run and scored |
# | 15 | [replay, audit, model monitoring](15_replay_audit_monitoring.ipynb) | back-testing on history, drift alerts |
# | 16 | [to a real broker](16_to_a_real_broker.ipynb) | the same code on Redis Streams |
# | 99 | [recap](99_recap.ipynb) | the takeaways and a self-check quiz |
#
# Keep two pages open beside the notebooks: the [API card](API_CARD.md), every call on one page, and the
# [glossary](GLOSSARY.md), each term in a sentence with the notebook that teaches it.
#
# **How the notebooks work.** Each starts with what you will be able to do and how long it takes. Cells
# are short; run them in order (Shift+Enter). Live controls sit in cells whose saved output may differ
# from yours; a plain cell after them shows the same picture. Exercises end with a check that scores your
# answer and says what is right and what is wrong; until you change the starting answer it only says so.
# Stuck? The check names its hints: `check_roles.hint()` gives a nudge, `.hint(2)` more, and the last step
# is the worked solution (also in `notebooks/solutions/`).
#
# **What the simulator simplifies.** One broker unless a notebook asks for more (06 runs three, with
# replication), rebalances that complete instantly, and a network with a fixed small delay. Everything else (partitioning, offsets, commits, groups, retention)
# follows Kafka's rules, and the notebooks point out where real clusters behave differently.
#
# Next: [01 · events](01_events.ipynb).
