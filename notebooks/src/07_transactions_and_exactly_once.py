# %% [markdown]
# # 07 · Transactions and exactly-once
#
# **After this notebook you can** write a read-process-write loop whose outputs and input offsets commit
# together; say what a `read_committed` reader sees that a `read_uncommitted` one does not; explain how a
# second instance fences a zombie; and make a service that also writes to a database exact end to end.
#
# **Time:** about 40 minutes.

# %% [markdown]
# ## A belief to test: "enable.idempotence gives exactly-once"
#
# A service reads numbers, writes each one doubled to another topic, then commits its input offsets. Its
# producer is idempotent. We crash it once, right after it wrote a batch and before it committed, and
# let a new instance take over. Then we count the outputs per input. (Its 1 s session makes the hand-over
# quick; a real broker refuses a `session.timeout.ms` under `group.min.session.timeout.ms`, 6 s by default,
# so this world lowers that broker setting, as 04 shows.)

# %%
my_prediction = None  # predict first, a number: inputs whose output is written twice

# %%
from eda_sim.course.nb07.world import run_pipeline

plain = run_pipeline(transactional=False, schedule=[("produced", "crash")])
plain.duplicated, plain.lost

# %%
from eda_sim.course.predict import reveal

reveal(my_prediction, len(plain.duplicated), "inputs written twice",
       why="Idempotence drops a retried batch; here a new instance read the uncommitted inputs and wrote them anew.")

# %% [markdown]
# Four inputs were written twice. Idempotence recognises a *retry* of the same batch by its producer id
# and sequence number. Here nothing was retried: the new instance read the inputs again, because their
# offsets were never committed, and wrote new records. To the broker those are new writes.

# %% [markdown]
# ## The loop, in a transaction
#
# The fix is to make the outputs and the input offsets one unit: both count, or neither does.
# confluent-kafka spells it in five calls: `init_transactions()` once, then per batch
# `begin_transaction()`, `produce(...)`, `send_offsets_to_transaction(offsets, group_metadata)` and
# `commit_transaction()`. This is the loop the simulator runs, and the same text runs against a real
# broker in the course's tests:

# %%
import inspect

from eda_sim.course.nb07 import program as txn_program

print(inspect.getsource(txn_program.transactional_loop))

# %% [markdown]
# ## The same faults, both loops
#
# Each row is one fault schedule. A *frozen* instance stops mid-batch (a long pause), is replaced, and
# wakes up later believing it still owns its work. A *stalled* one pauses and carries on by itself.

# %%
from eda_sim.course.nb07.world import compare_loops

compare_loops()

# %% [markdown]
# With transactions nothing is duplicated, and twice an instance was **fenced**: it was told it may never
# write again. Let us see what happened to the half-done work it left behind.

# %% [markdown]
# ## What each reader sees
#
# A transactional producer writes its records into the log straight away, like any producer. What
# changes is who gets to read them. Below: one committed transaction, one aborted, one still open, and
# an ordinary record written after it.

# %%
from eda_sim import Simulation

sim = Simulation(seed=1, name="board")
sim.create_topic("out", partitions=1)
p = sim.producer({"transactional.id": "writer-1"})
p.init_transactions()
for values, end in ((["ok-1", "ok-2"], p.commit_transaction), (["oops"], p.abort_transaction)):
    p.begin_transaction()
    for v in values:
        p.produce("out", value=v)
    p.flush()
    end()

# %%
p.begin_transaction()
p.produce("out", value="pending")
p.flush()
plain_writer = sim.producer()
plain_writer.produce("out", value="plain")
_ = plain_writer.flush()

# %%
from eda_sim.broker.transactions import partition_table, stable_offsets

partition_table(sim, "out")

# %%
from eda_sim.views.transactions import draw_transactions

draw_transactions(sim, "out")

# %% [markdown]
# - The **markers** at offsets 2 and 4 are written by the broker when a transaction ends. They take an
#   offset, and no reader is ever handed one.
# - `read_uncommitted` gets every record, the aborted `oops` and the unfinished `pending` included.
# - `read_committed` (librdkafka's default) skips aborted records and stops at the **last stable
#   offset**: the first offset of the oldest open transaction. `plain` was never in a transaction, but it
#   sits behind `pending`, so it waits too.

# %%
stable_offsets(sim, "out")

# %% [markdown]
# ## Offsets have gaps
#
# A consumer's offsets are no longer consecutive: the markers, and under `read_committed` the aborted
# records, are stepped over. Code that checks `offset == previous + 1` breaks on a transactional topic.


# %%
def offsets_seen(level):
    c = sim.consumer(
        {"group.id": f"reader-{level}", "auto.offset.reset": "earliest", "isolation.level": level}
    )
    c.subscribe(["out"])
    return [m.offset() for m in c.consume(10, timeout=0.5)]


offsets_seen("read_committed"), offsets_seen("read_uncommitted")

# %% [markdown]
# ## Lag on a transactional topic
#
# Which end does lag count to? `kafka-consumer-groups` lists offsets as a `read_uncommitted` reader
# would: to the log end, markers and unfinished records included. librdkafka's own `consumer_lag`
# statistic counts, for a `read_committed` consumer, to the last stable offset. Here a reader has read
# and committed all it can:

# %%
from eda_sim.core.measures import group_lag

reader = sim.consumer({"group.id": "lag-demo", "auto.offset.reset": "earliest"})
reader.subscribe(["out"])
_ = reader.consume(10, timeout=0.5)
reader.commit(asynchronous=False)
group_lag(sim, "lag-demo", ["out"]), group_lag(sim, "lag-demo", ["out"], "read_committed")

# %% [markdown]
# Two for the command-line tool, nothing for the consumer's own count. Even with no transaction open, a
# group that commits `last offset + 1` stops just before the final commit marker and shows a lag of 1.

# %% [markdown]
# ## A zombie fenced
#
# Each `transactional.id` has an *epoch* at the transaction coordinator. A new instance's
# `init_transactions()` raises it, aborts whatever the old instance left open, and from then on the old
# one's requests carry a stale epoch. Here the open transaction with `pending` is aborted by its successor.

# %%
from eda_sim.kafka import KafkaException

successor = sim.producer({"transactional.id": "writer-1"})
successor.init_transactions()
try:
    p.commit_transaction()
except KafkaException as exc:
    error = exc.args[0]
error.name(), error.fatal(), error.str()

# %%
j = sim.journal.frame()
j[j.kind.str.startswith("txn_")][["time", "kind", "actor", "offset", "detail"]].tail(4)

# %% [markdown]
# `fatal()` is True: a fenced producer cannot recover. The only thing left to do is close it; its
# successor carries on. `transaction.timeout.ms` (60 s by default) does the same to a transaction left
# open too long: the coordinator aborts it and bumps the epoch, so the slow instance is fenced at its
# next call (the "stalled 7 s" row above, with the timeout set to 6 s).

# %% [markdown]
# ## Try it: fault anywhere
#
# Pick a step of the loop, what happens there, and the loop. The counts are inputs whose output a
# `read_committed` reader got twice, or never.


# %%
def fault_report(step, action, transactions, stall):
    run = run_pipeline(transactions, [(step, action)], stall=stall)
    fates = ", ".join(f"{i['name']}: {i['fate']}" for i in run.instances)
    print(f"duplicated {run.duplicated}, lost {run.lost}\n{fates}")


# %% tags=["nbval-ignore-output"]
from eda_sim.views.widgets import explore

explore(
    fault_report,
    step=list(txn_program.STEPS[:3]),
    action=["crash", "zombie", "stall"],
    transactions=True,
    stall=(1.0, 8.0, 1.0, 5.0),
)

# %%
fault_report("produced", "zombie", True, 5.0)
fault_report("produced", "zombie", False, 5.0)

# %% [markdown]
# **What the simulator simplifies.** One broker holds the transaction coordinator and every partition, so
# the commit markers land at the instant the coordinator decides; a real cluster writes them in a second
# phase and the last stable offset waits for them. A timed-out transaction is aborted exactly at
# `transaction.timeout.ms`; Kafka looks for them every 10 s. Fencing by a group's generation (KIP-447)
# is modelled as librdkafka sees it: the generation a consumer knows is the one from its last poll.

# %% [markdown]
# ## Where Kafka's transaction ends: the database
#
# A transaction covers records and offsets in Kafka, nothing else. Notebook 05's six-way table showed a
# payments service that charges a database and posts an event: with Kafka transactions *alone* it still
# charges twice, because the charge happened before the crash and the retried batch charges again.

# %%
from eda_sim.course.nb07.exactly_once import effects_sweep

effects_sweep(strategies=("Kafka transactions", "transactions + inbox", "outbox + inbox"))

# %% [markdown]
# ## The outbox, step by step
#
# The **outbox** puts the outgoing event in the *database's* transaction instead: the charge, the
# handled event's id (the inbox) and the event to send are one SQLite commit. A relay sends what the
# outbox holds and then marks it sent. Crash between the two, and it is sent again.

# %%
from eda_sim.services.outbox import Relay, SideEffectStore

world = Simulation(seed=2, name="outbox")
world.create_topic("posted", partitions=1)
store = SideEffectStore()
for i, amount in enumerate([12, 30, 7]):
    store.handle(
        f"pay-{i}", "acct-1", amount, inbox=True, outgoing=("posted", "acct-1", f"pay-{i}")
    )
store.handle("pay-1", "acct-1", 30, inbox=True)  # a redelivery: False, the inbox refuses it

# %%
first_relay = Relay(store, world.producer())
first_relay.send()  # sent... and the relay crashes before marking the rows
Relay(store, world.producer()).publish()  # its replacement sends them again, then marks them
store.table("outbox")

# %%
posted = world.records("posted")
posted["value"].value_counts().sort_index()

# %% [markdown]
# Every payment was charged once (`store.totals()` is `{'acct-1': 49}`), and every event reached the
# topic at least once, each copy with the payment's id. A downstream consumer that keeps an inbox of
# those ids applies each one once. Exactly-once, end to end, is this chain: an idempotent or
# transactional write at every hop, and a deduplication key that travels with the event.

# %%
store.totals(), store.refused

# %% [markdown]
# ## Exercise: make the payments pipeline exact end to end
#
# `process_batch` gets a batch of `PaymentCaptured` records, a consumer, a transactional producer
# (`init_transactions()` already called) and the service's `store`. It charges each payment and posts a
# `PaymentPosted` event. The check crashes the service before each call it makes, one crash per run, and
# names any payment charged or posted twice, or never. Fix it.

# %%
import json

from eda_sim import kafka
from eda_sim.course.nb07.check import check_exact_payments
from eda_sim.course.nb07.program import next_offsets


# %% tags=["exercise"]
def process_batch(messages, consumer, producer, store):
    producer.begin_transaction()
    for m in messages:
        pay = json.loads(m.value())
        store.handle(pay["id"], pay["account"], pay["amount"])
        producer.produce("posted", key=pay["account"], value=json.dumps({"id": pay["id"]}))
    producer.commit_transaction()
    consumer.commit(asynchronous=False)


check_exact_payments(process_batch)


# %% tags=["solution"]
def process_batch(messages, consumer, producer, store):
    producer.begin_transaction()
    for m in messages:
        pay = json.loads(m.value())
        ### BEGIN SOLUTION
        store.handle(pay["id"], pay["account"], pay["amount"], inbox=True)
        producer.produce("posted", key=pay["account"], value=json.dumps({"id": pay["id"]}))
    producer.send_offsets_to_transaction(
        next_offsets(kafka, messages), consumer.consumer_group_metadata()
    )
    ### END SOLUTION
    producer.commit_transaction()


check_exact_payments(process_batch)

# %% [markdown]
# ## Pitfall checklist: exactly-once
#
# - [ ] You do not expect `enable.idempotence` to stop duplicates from a crash: it only drops retries.
# - [ ] Read-process-write loops put the input offsets in the transaction, never in a separate commit.
# - [ ] Consumers of transactional topics use `read_committed` (librdkafka's default) and tolerate gaps.
# - [ ] Each instance keeps a stable `transactional.id` and calls `init_transactions()` before reading,
#   and treats a fatal error (fenced) as the end of that producer.
# - [ ] A database write or an external call is made idempotent by an inbox, or moved into an outbox.
# - [ ] Every event carries a stable id, so whoever is downstream can deduplicate.
#
# Next: [08 · retries and dead letters](08_retries_and_dead_letters.ipynb).
