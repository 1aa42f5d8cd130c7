# %% [markdown]
# # 99 · Recap: takeaways, pitfalls, and a self-check
#
# **After this notebook you can** state the course's main ideas in a sentence each, check a design of your own
# against the pitfalls list, and test yourself on the beliefs the course set out to break.
#
# **Time:** about 20 minutes.

# %% [markdown]
# ## The takeaways on one page
#
# | # | in one sentence | where you saw it |
# |---|---|---|
# | 1 | AI systems react to what just happened (a view, a payment, a drifting input); events let each part react in its own time, without waiting for the others. | [00](00_start_here.ipynb) |
# | 2 | An event is an immutable fact about the past that anyone may react to; a command asks one owner to act and can be refused. | [01](01_events.ipynb) |
# | 3 | Producers publish without knowing who reads; the broker keeps the log; every consumer group reads all of it, at its own pace. | [02](02_producers_consumers_broker.ipynb) |
# | 4 | Order holds within a partition: give related events one key, and do not change the partition count under them. | [03](03_partitions_and_ordering.ipynb) |
# | 5 | A group scales up to one member per partition; every change of members is a rebalance. | [04](04_consumer_groups_and_scaling.ipynb) |
# | 6 | Delivery is at-least-once in practice, so duplicates are normal: consumers deduplicate on a stable event id. | [05](05_delivery_and_idempotency.ipynb) |
# | 6b | An acknowledgement is as strong as its `acks`: with `acks=1` a failover can erase it while lag reads 0; `acks=all` with `min.insync.replicas=2` and clean elections keeps it. | [06](06_durability_and_replication.ipynb) |
# | 6c | Kafka's transactions make read-process-write exact inside Kafka; a database write or an external call still needs an inbox or an outbox. | [07](07_transactions_and_exactly_once.ipynb) |
# | 7 | Transient failures get bounded retries with backoff; permanent ones go to a dead-letter topic with their error. | [08](08_retries_and_dead_letters.ipynb) |
# | 8 | Events are a contract: version their schemas and make only compatible changes. | [09](09_schemas_and_evolution.ipynb) |
# | 9 | Surges are normal: watch lag, latency and errors per partition, and answer with scaling, rate limits and backpressure. | [10](10_storms_backpressure_and_monitoring.ipynb) |
# | 11 | State lives beside the stream: a compacted topic keeps the latest value per key, windows count on event time and send what is too late aside, and state stores come back from their changelog after a crash. | [11](11_state_tables_windows_joins.ipynb) |
# | 13 | A correlation id and a causation id on every event turn a pile of logs into a request's story. | [12](12_tracing.ipynb) |
# | 14 | AI services both consume and produce: views in, recommendations out; transactions in, alerts out; model events for the monitors. | [13](13_realtime_recommendations.ipynb), [14](14_fraud_detection_challenge.ipynb) |
# | 15 | The log is history: replay it to back-test a model, rebuild state, or audit a decision, for as long as retention keeps it. | [15](15_replay_audit_monitoring.ipynb) |
# | 16 | The same handlers run on a real broker; the ideas carry over to Kafka, Kinesis, Event Hubs and Pub/Sub, the words change. | [16](16_to_a_real_broker.ipynb) |
#
# The benefits in short: **decoupling** (add a consumer without touching a producer), **scaling** (partitions
# and groups), **real time** (react within milliseconds), **resilience** (the broker buffers while a consumer
# is down) and **auditability** (the log is a record of what happened).

# %% [markdown]
# ## The pitfalls, as one checklist
#
# Go through it with a design of your own. Each heading names the notebook that shows the pitfall happen.
#
# **Idempotency** ([05](05_delivery_and_idempotency.ipynb))
# - [ ] Every event carries a stable id set by its producer.
# - [ ] Every consumer with a side effect skips ids it has seen (inbox, unique constraint, upsert), in the same
#   transaction as the effect.
# - [ ] Nobody reads "lag 0" as "processed exactly once".
#
# **Durability** ([06](06_durability_and_replication.ipynb))
# - [ ] Events that must not be lost go to topics with replication factor 3 and `min.insync.replicas=2`, written
#   with `acks=all`; unclean leader election stays off for them.
# - [ ] Delivery-report errors (`NOT_ENOUGH_REPLICAS`, `_MSG_TIMED_OUT`) reach someone who can act on them.
#
# **Exactly-once** ([07](07_transactions_and_exactly_once.ipynb))
# - [ ] A read-process-write loop puts its input offsets in the transaction; its readers are `read_committed`.
# - [ ] Nobody expects `enable.idempotence`, or a Kafka transaction, to cover a database write.
#
# **Ordering** ([03](03_partitions_and_ordering.ipynb))
# - [ ] Events that must stay in order share a key, and the key spreads the load.
# - [ ] The partition count is chosen up front; adding partitions moves keys.
# - [ ] Late events are handled by event time (a reorder window), and each topic's guarantees are written down.
#
# **Failures and poison events** ([08](08_retries_and_dead_letters.ipynb))
# - [ ] Retries are bounded, with backoff; after the last, a dead-letter topic keeps the event and its error.
# - [ ] Someone watches the dead letters, and there is a re-drive procedure.
#
# **Schema evolution** ([09](09_schemas_and_evolution.ipynb))
# - [ ] Schemas are versioned and checked by a registry in a stated compatibility mode.
# - [ ] Only compatible changes: new fields get defaults; no renames or type changes in place.
#
# **Storms and backpressure** ([04](04_consumer_groups_and_scaling.ipynb), [10](10_storms_backpressure_and_monitoring.ipynb))
# - [ ] Lag, latency, throughput and errors are watched per partition, with alert thresholds.
# - [ ] Consumers scale out on lag (up to the partition count); producers can be slowed; consumers take only
#   what they can handle.
# - [ ] A batch is processed well within `max.poll.interval.ms`.
#
# **Debugging and traceability** ([12](12_tracing.ipynb))
# - [ ] Every event carries a correlation id and a causation id, set by the platform.
# - [ ] A request's events and timings can be listed across services, and a failed hop ends somewhere visible.

# %% [markdown]
# ## Self-check: eleven beliefs
#
# Each question below tests one belief that the course showed failing. Read them, then answer in the cell
# after with the letter you choose.

# %%
from eda_sim.course.nb99.check import check_quiz, quiz

print(quiz())

# %% tags=["exercise"]
answers = {1: "?", 2: "?", 3: "?", 4: "?", 5: "?", 6: "?", 7: "?", 8: "?", 9: "?", 10: "?", 11: "?"}
check_quiz(answers)

# %% tags=["solution"]
### BEGIN SOLUTION
answers = {1: "b", 2: "b", 3: "a", 4: "c", 5: "b", 6: "c", 7: "c", 8: "b", 9: "b", 10: "b", 11: "b"}
### END SOLUTION
check_quiz(answers)

# %% [markdown]
# ## See a belief fail again
#
# Pick a belief: its demonstration runs again from the course's scenarios, in one call to `demonstrate`.
# Each is a small table or a verdict you met in the notebook the quiz names.

# %% tags=["nbval-ignore-output"]
from eda_sim.course.nb99.check import DEMOS, demonstrate
from eda_sim.views.widgets import explore

def show(belief):
    result = demonstrate(belief)
    if isinstance(result, str):
        print(result)
        return None
    return result

explore(show, belief=list(DEMOS))

# %% [markdown]
# Notebook 07's payments service, once more: crashed after each step, with Kafka's transactions it never
# posts an event twice, yet it charges the database twice; with an inbox next to the charge, it does neither.

# %%
show("exactly-once covers my database write")

# %% [markdown]
# ## Where to go from here
#
# Take a system you know and draw its events: who produces each, who consumes it, what key orders it, what
# happens to it when a consumer dies or the event is bad. Then go through the checklist above. Notebook 14's
# checker does this for a fraud-detection design; its solution is in `solutions/`.
#
# Back to the start: [00 · start here](00_start_here.ipynb).
