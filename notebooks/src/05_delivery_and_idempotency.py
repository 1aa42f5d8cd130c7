# %% [markdown]
# # 05 · Delivery guarantees and idempotent consumers
#
# **After this notebook you can** explain offsets, positions and commits; predict what a crash loses or
# repeats under each commit strategy; write a poll-process-commit loop that survives being killed; and
# make a consumer whose side effects survive duplicates.
#
# **Time:** about 50 minutes.

# %% [markdown]
# ## Position and committed offset
#
# A consumer's **position** is the offset of the next record `poll` will hand it. The group's
# **committed offset** is where a new owner of the partition will start: the last processed offset + 1.
# They are different numbers, and the gap between them is where delivery guarantees are decided.

# %%
from eda_sim import Simulation
from eda_sim.kafka import TopicPartition

sim = Simulation(seed=5)
sim.create_topic("jobs", partitions=1)
producer = sim.producer()
for i in range(6):
    producer.produce("jobs", value=f"job {i}")
producer.flush()

# %%
consumer = sim.consumer({"group.id": "workers", "auto.offset.reset": "earliest", "enable.auto.commit": False})
consumer.subscribe(["jobs"])
batch = consumer.consume(4, timeout=1.0)            # position moves to 4
consumer.commit(message=batch[1], asynchronous=False)  # committed moves to 2: jobs 0 and 1 are done
tp = TopicPartition("jobs", 0)
consumer.position([tp])[0].offset, consumer.committed([tp])[0].offset

# %%
sim.offsets("workers")[["partition", "log_end", "committed", "lag", "position"]]

# %% [markdown]
# ## When you commit decides what a crash costs
#
# - **Commit, then process** (at-most-once): a crash after the commit loses the records not yet processed.
# - **Process, then commit** (at-least-once): a crash before the commit repeats the records processed since
#   the last commit.
# - **Auto-commit** as confluent-kafka (librdkafka) does it, by default: each offset is *stored* as
#   `poll` returns its record (`enable.auto.offset.store=true`) and a timer commits what is stored,
#   processed or not. The Java consumer differs: it commits inside `poll()` what the *previous* poll
#   returned, which is at-least-once when each batch is processed before the next poll. librdkafka's
#   way to get that: `enable.auto.offset.store=false`, and `consumer.store_offsets(msg)` after
#   processing each record; the timer then commits only what was processed (`store` below).
#
# One consumer, twelve records in batches of four, 0.1 s each; it crashes and comes back a second later.

# %%
from eda_sim.course.nb05.world import crash_once, crash_sweep

import pandas as pd

pd.DataFrame([crash_once("before", 0.25), crash_once("after", 0.25),
              crash_once("auto", 0.75), crash_once("store", 0.75)])

# %% [markdown]
# Look at `final_lag`: **0 in every row.** Lag only says the group has committed up to the end of the log;
# it cannot tell whether every record was processed, or processed once.

# %% [markdown]
# ## The crash-point sweep
#
# Crash at every tenth of a second through the first three batches, under each strategy, and count.
# Commit-before never duplicates but loses; commit-after never loses but duplicates; auto-commit does
# **both**, depending on where the timer fell. Stored offsets (`store`, the way librdkafka's documentation
# recommends for at-least-once) never lose: the timer only ever commits what was processed. They repeat
# up to one timer interval of records, where commit-after repeats at most one batch, in exchange for no
# synchronous commit in the loop.

# %% [markdown]
# **Predict first.** The sweep tries 13 crash points. At how many of them will auto-commit, the default,
# lose or repeat at least one record?

# %%
my_prediction = None  # a number from 0 to 13: crash points where auto-commit loses or repeats

# %%
sweep = crash_sweep()
sweep.pivot(index="crash_at", columns="strategy", values=["lost", "duplicated"])

# %%
from eda_sim.course.predict import reveal

auto = sweep[sweep.strategy == "auto"]
reveal(my_prediction, ((auto["lost"] + auto["duplicated"]) > 0).sum(), "of 13 crash points",
       why="The timer commits what poll returned, processed or not, so only a crash right after a commit is harmless.")

# %% [markdown]
# ## Auto-commit under each client
#
# The `auto` column is confluent-kafka's auto-commit, librdkafka's timer. Kafka's Java consumer has no
# such timer: each `poll()` commits, once `auto.commit.interval.ms` has passed, the positions the
# *earlier* polls left, so a batch's offsets are committed only when the loop comes back for the next
# one. `eda_sim.kafka.java.KafkaConsumer` models it. The same twelve records and crash times, a 0.5 s
# interval in both clients:

# %%
from eda_sim.course.nb05.world import auto_commit_by_client

by_client = auto_commit_by_client(auto_commit_ms=500)
by_client

# %%
by_client.sum().unstack()[["lost", "duplicated"]]   # totals over the thirteen crashes

# %% [markdown]
# The Java client never loses a record here; librdkafka's timer does, whenever it fires while a batch
# is half done. Java pays in repeats, since it commits only when it polls. To get Java's guarantee from
# confluent-kafka, use `store` above, not a different interval.

# %% [markdown]
# ## Exercise: write the loop, then survive the kills
#
# So far a ready-made member ran the loop. Now write it yourself, with the `Consumer` of
# [02](02_producers_consumers_broker.ipynb): the same calls as confluent-kafka's, and its semantics are
# librdkafka's. `commit(message=msg)` commits `msg.offset() + 1`; left on, `enable.auto.commit` commits
# on a timer whatever `poll` returned (the Java client commits inside `poll()` instead). Write
# `run(consumer, topics, handle, running)`:
#
# - subscribe to `topics`. One of them, `refunds`, does not exist yet: `poll` reports that once as an
#   **error event** (`msg.error()` is set, `UNKNOWN_TOPIC_OR_PART`). It is not a record and not fatal:
#   skip it and keep polling. `poll(1.0)` returns `None` when nothing arrives within a second;
# - hand each record to `handle(msg)`, which takes 0.25 virtual seconds, and commit it;
# - loop while `running()` is True (in a real service a signal handler flips it), then close.
#
# Put your settings in `CONFIG`; the check adds `bootstrap.servers`. The 30 records are already on the
# topic when your first process starts. The check kills your process four times (twice in the middle
# of `handle`, twice just after it) and starts a new one with the same `CONFIG`, which joins the same
# group and waits, as in [04](04_consumer_groups_and_scaling.ipynb), until the group gives up on the
# dead member. It counts records lost and repeated (a kill may repeat at most 5), and looks at every
# commit.

# %%
from eda_sim.course.nb05.check import check_poll_loop

# %% tags=["exercise"]
CONFIG = {"group.id": "ledger"}


def run(consumer, topics, handle, running):
    consumer.subscribe(topics)
    # your loop: poll, skip what is not a record, handle(msg), commit; stop when running() is False


check_poll_loop(run, CONFIG)

# %% tags=["solution"]
### BEGIN SOLUTION
CONFIG = {"group.id": "ledger", "auto.offset.reset": "earliest", "enable.auto.commit": False}
def run(consumer, topics, handle, running):
    consumer.subscribe(topics)
    try:
        while running():
            msg = consumer.poll(1.0)
            if msg is None or msg.error():  # nothing yet, or an error event (log it in real life)
                continue
            handle(msg)
            consumer.commit(message=msg, asynchronous=False)  # after the work, never before
    finally:
        consumer.close()
### END SOLUTION
check_poll_loop(run, CONFIG)

# %% [markdown]
# A kill just after `handle` repeats that record in the next process: the loop is at-least-once, and
# whatever `handle` does must survive a repeat. The next section shows what a repeat does to money.

# %% [markdown]
# ## A ledger that counts twice
#
# At-least-once is the usual choice, so duplicates are part of the contract, not a rare accident.
# Here a ledger service adds each `PaymentCaptured` amount to an account. One instance crashes after
# posting some payments and before committing them; its partitions are redelivered when it comes back.

# %%
from eda_sim.course.nb05.world import duplicates_delivered, expected_totals, payments_world

sim, ledger = payments_world(crash_at=0.43, idempotent=False)
sum(ledger.values()), sum(expected_totals().values()), duplicates_delivered(sim)

# %% [markdown]
# The journal shows the story: the crash, the member declared dead after `session.timeout.ms`, the
# rebalance, and the same offsets handled a second time. The session timeout is 0.3 s here to keep the
# story short; a real cluster refuses anything under the broker's `group.min.session.timeout.ms` (6 s by
# default) with `INVALID_SESSION_TIMEOUT`, so the worlds of this notebook lower that broker setting in the
# open (`Simulation(broker_config={"group.min.session.timeout.ms": 100})`), as an operator would have to.

# %%
j = sim.journal.frame()
j[j.kind.isin(["crashed", "session_expired", "rebalanced", "restarted"])][["time", "kind", "actor", "detail"]]

# %% [markdown]
# ## Try it: move the crash, switch the inbox on
#
# The slider moves the crash; the checkbox turns on the idempotent-consumer policy (an inbox of processed
# event ids with a unique constraint). Watch the ledger total against the true total.

# %% tags=["nbval-ignore-output"]
from eda_sim.views.widgets import explore


def ledger_report(crash_at, idempotent):
    sim, ledger = payments_world(crash_at=crash_at, idempotent=idempotent)
    print(f"ledger {sum(ledger.values())}, truth {sum(expected_totals().values())}, "
          f"duplicates delivered {duplicates_delivered(sim)}")


explore(ledger_report, crash_at=(0.05, 0.8, 0.02, 0.43), idempotent=False)

# %%
for idempotent in (False, True):
    ledger_report(0.43, idempotent)

# %% [markdown]
# ## The inbox: a unique constraint on event ids
#
# The policy records each event id in a table in the same step as the side effect; a second delivery
# finds its id there and is skipped. The table is an ordinary thing you can look at.

# %%
sim, ledger = payments_world(crash_at=0.43, idempotent=True)
inbox = sim.services["ledger"].inbox
len(inbox), inbox.refused, inbox.table().head(3)

# %% [markdown]
# Other fixes work the same way: make the side effect safe to repeat (an upsert keyed by the event id
# instead of `+=`), or let the database refuse a duplicate row. Whatever you choose, key it on a
# **stable event id** chosen by the producer, never on the payload.

# %% [markdown]
# ## Exactly-once stops at the broker
#
# Kafka's idempotent producer removes the duplicates a *producer retry* would add. Below, the
# acknowledgement of the first batch is lost; the producer gives up waiting and sends it again. The
# simulator times that wait with `request.timeout.ms`, as the Java producer does; librdkafka's
# `request.timeout.ms` is only how long the broker waits for replicas, and its client gives up on a
# silent request after `socket.timeout.ms` (60 s).
# The broker already had it: without idempotence it is appended twice, with idempotence it is recognised
# by producer id and sequence number and dropped. Neither helps the ledger above: Kafka's exactly-once
# covers writes to Kafka, not your database.


# %%
def retried(idempotent):
    sim = Simulation(seed=1, name=f"retry-{idempotent}")
    sim.create_topic("payments", partitions=1)
    p = sim.producer({"enable.idempotence": idempotent, "request.timeout.ms": 1000})
    sim.lose_acks(p, 1)
    for i in range(3):
        p.produce("payments", key="acct-1", value=f"payment {i}")
    p.flush()
    return list(sim.records("payments")["value"])


retried(False), retried(True)

# %% [markdown]
# ## Both halves of exactly-once, side by side
#
# A payments service charges each payment in its own SQLite database and announces it with a
# `PaymentPosted` event. We crash it after each of its first fourteen steps, replace it, and add up, over
# all those crashes, the payments charged never or twice and the events a `read_committed` reader got
# never or twice. Six ways to write the service:

# %%
from eda_sim.course.nb07.exactly_once import STRATEGIES, effects_sweep

pd.Series(STRATEGIES, name="what it does").to_frame()

# %%
effects_sweep()

# %% [markdown]
# Read it row by row. The inbox fixes the database and not the events. Kafka transactions fix the events
# and **not** the database: a retried batch charges again, because the charge is outside the
# transaction. Only the last two rows are exact on both sides. The outbox relay may send an event twice,
# but both copies carry the payment's id, so a downstream reader that deduplicates by id counts it once.
# [07 · transactions and exactly-once](07_transactions_and_exactly_once.ipynb) takes these rows apart.

# %% [markdown]
# ## Exercise: make the ledger exact
#
# Complete `post_payment` so that a redelivered payment is not posted twice. Keep the ids you have
# processed in `seen`. Careful: two different payments may have the same account and amount.

# %%
from collections import Counter
from eda_sim.course.nb05.check import check_idempotent_ledger

# %% tags=["exercise"]
ledger, seen = Counter(), set()


def post_payment(event, ctx):
    ledger[event.payload["account"]] += event.payload["amount"]


check_idempotent_ledger(post_payment, ledger, seen)

# %% tags=["solution"]
ledger, seen = Counter(), set()


def post_payment(event, ctx):
    ### BEGIN SOLUTION
    if event.id in seen:
        return
    seen.add(event.id)
    ### END SOLUTION
    ledger[event.payload["account"]] += event.payload["amount"]


check_idempotent_ledger(post_payment, ledger, seen)

# %% [markdown]
# ## Pitfall checklist: idempotency
#
# - [ ] You know your commit strategy, and what a crash at each step costs.
# - [ ] You do not read "lag 0" as "processed exactly once".
# - [ ] Every event has a stable id set by its producer.
# - [ ] Each consumer with a side effect deduplicates on that id (inbox, unique constraint, upsert).
# - [ ] The dedupe record and the side effect are written in one transaction.
# - [ ] Producers use `enable.idempotence`, and you do not expect it to protect your database.
#
# Next: [08 · retries and dead letters](08_retries_and_dead_letters.ipynb).
