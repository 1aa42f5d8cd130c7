# %% [markdown]
# # 06 · Durability: replicas, acks and failover
#
# **After this notebook you can** say where a record lives on a cluster of brokers and when it counts as
# committed; predict what a broker failure loses or refuses under `acks`, `min.insync.replicas` and
# unclean leader election; and choose those settings for a topic from what its events are worth.
#
# **Time:** about 40 minutes.

# %% [markdown]
# ## The producer's half of at-least-once
#
# Notebook 05 made the *consumer* side safe: commit after processing, and deduplicate. That assumed every
# record the producer sent was still in the log. On a real cluster that is a setting, not a fact: each
# partition is copied to several brokers, and the producer chooses how many copies must exist before it
# is told "delivered".
#
# Here the simulation runs **three brokers** (numbered 0, 1, 2). The topic has **replication factor 3**:
# every partition has one replica per broker. One replica is the **leader** (producers write to it,
# consumers read from it); the other two are **followers** that keep fetching from the leader.

# %%
from eda_sim import Simulation

sim = Simulation(seed=6, brokers=3)
sim.create_topic("payments", partitions=1, replication_factor=3, config={"min.insync.replicas": 2})
producer = sim.producer(acks="all")
for i in range(5):
    producer.produce("payments", value=f"pay-{i}")
producer.flush()
sim.cluster.describe("payments")[["broker", "role", "in_isr", "log_end", "high_watermark", "epoch"]]

# %% [markdown]
# Each row is one replica. `log_end` is the replica's **log end offset** (one past its newest record).
# `high_watermark` is the **high watermark**: the smallest log end among the **in-sync replicas** (the
# ISR, `in_isr`). A record below the high watermark is on every in-sync replica: it is *committed*, and
# only committed records are handed to consumers. `epoch` is the **leader epoch**: it grows by one each
# time a new leader is elected.
#
# A follower learns the high watermark from the leader's answer to its next fetch, so its own copy of it
# may trail for a moment. A follower stays in the ISR while it keeps up: if it has not caught up with the leader's log end for
# `replica.lag.time.max.ms` (30 s by default), the leader drops it from the ISR.

# %% [markdown]
# ## What `acks` decides
#
# - `acks=0`: the producer does not wait for any answer.
# - `acks=1`: the leader answers as soon as *it* has appended the batch.
# - `acks=all` (librdkafka's default, also written `-1`): the leader answers once the high watermark has
#   passed the batch, so every replica in the ISR has it. With fewer in-sync replicas than the topic's
#   `min.insync.replicas`, it refuses the write with `NOT_ENOUGH_REPLICAS` instead.
#
# A failover makes the difference visible. A payment API sends 50 payments a second; both followers run
# a little late (busy disks: each fetch takes 0.2 s and 0.3 s longer). At 2 s the leader's broker dies.
# Here it is just before the crash, with `acks=1`.

# %% [markdown]
# **Predict first.** The API sends 150 payments and, with `acks=1`, every one is acknowledged. How many of
# them will be missing from the topic when the failover is over?

# %%
my_prediction = None  # a number: acknowledged payments lost with acks=1

# %%
from eda_sim.views.replicas import draw_replicas
from eda_sim.course.nb06.world import failover

before = failover(acks="1", until=1.99)
draw_replicas(before.sim, "payments", title="acks=1, just before broker 0 crashes")

# %% [markdown]
# Dark cells are committed; light cells are on the leader only. With `acks=1` the producer has already
# been told that every light payment was delivered. The controller notices the dead broker after
# `broker.session.timeout.ms` (9 s) and makes the first in-sync follower the leader.

# %%
during = failover(acks="1", until=12.0)
draw_replicas(during.sim, "payments", title="acks=1, after the election (broker 1 leads, epoch 1)")

# %% [markdown]
# Broker 1 leads from its own log: the payments it never fetched are not in it, and new payments take
# their offsets. When broker 0 comes back at 15 s it cuts its log back to where its history and the new
# leader's part (the end of the last leader epoch they share, KIP-101), then follows.

# %%
after = failover(acks="1")
draw_replicas(after.sim, "payments", title="acks=1, after broker 0 came back and truncated")

# %%
after.sim.journal.frame(kind="truncated")[["time", "actor", "offset", "count"]]

# %% [markdown]
# Step through it yourself: the slider moves the clock (the world is re-run up to that time), the menu
# switches `acks`. Watch the light cells at 2 s, the leader move at 11 s, and broker 0's log shrink at 15 s.

# %% tags=["nbval-ignore-output"]
from eda_sim.views.widgets import explore

def replicas_at(t, acks):
    return draw_replicas(failover(acks=acks, until=t).sim, "payments", title=f"acks={acks}, t = {t:g} s")

explore(replicas_at, t=(0.5, 20.0, 0.5, 11.5), acks=["1", "all"])

# %%
replicas_at(11.5, "all")

# %% [markdown]
# ## Lost while every number looks fine
#
# The payment API was told each of these payments was delivered. None of them is in the topic.

# %%
after.summary(), after.lost[:5]

# %%
from eda_sim.course.predict import reveal

reveal(my_prediction, after.summary()["lost"], "acknowledged payments lost", tolerance=3,
       why="acks=1 answers once the leader has a payment; those the followers had not fetched died with it.")

# %% [markdown]
# The ledger group read the topic all along. Its lag reads 0: it has read everything the log *now*
# holds. Lag cannot see a record that the log itself forgot.

# %%
after.sim.offsets("ledger")[["partition", "log_end", "committed", "lag"]]

# %% [markdown]
# ## The same failover with `acks=all` and `min.insync.replicas=2`
#
# Now the leader answers only once both followers have the payment. The crash still happens; the
# producer retries what was unanswered on the new leader.

# %%
safe = failover(acks="all", min_insync_replicas=2)
safe.summary()

# %% [markdown]
# Nothing lost, and every payment acknowledged. The `duplicated` count is the retry at work: a batch
# the old leader had appended and passed on, but not yet answered for, was sent again. That is the
# producer half of notebook 05's lesson, and it has the same cure: `enable.idempotence=True` makes the
# leader recognise the retried batch by producer id and sequence number, even after a leader change.

# %%
failover(acks="all", min_insync_replicas=2, idempotent=True).summary()

# %% [markdown]
# ## Too few in-sync replicas: writes stop, reads go on
#
# `min.insync.replicas=2` is a promise the cluster refuses to break. Crash brokers 1 and 2 at 5 s and
# leave them down: broker 0 is alone, so every `acks=all` write is refused with `NOT_ENOUGH_REPLICAS`.
# The producer retries until `message.timeout.ms` (here 10 s) runs out, then its delivery report says
# `_MSG_TIMED_OUT`. The ledger group reads slower than payments arrive, so it has a backlog to work
# through. Per 5-second window:

# %%
from eda_sim.course.nb06.world import too_few_in_sync

short, windows = too_few_in_sync()
windows

# %% [markdown]
# From 5 s to 14 s the controller has not yet noticed the crash: the dead brokers are still in the ISR,
# the high watermark cannot move, writes wait and the ledger soon runs out of committed records. Once
# the controller removes them, the writes that had waited are refused, and the ledger reads again: the
# partition stays readable while it is not writable. A refused write is not a lost one: its caller was
# told, and can tell its own caller or try later.
#
# The writes that were appended while the dead brokers still counted got a different answer:
# `NOT_ENOUGH_REPLICAS_AFTER_APPEND`. Those records *are* in the log, yet the producer heard "failed";
# a retry writes them again.

# %% [markdown]
# The flow diagram marks a topic whose partitions run with fewer in-sync replicas than replicas, the
# first thing to alert on: one more failure and writes stop (or, with unclean election, data goes).
# With `brokers=True` it adds the brokers underneath, each linked to the topics it leads partitions of.

# %%
from eda_sim.views import draw_flow

draw_flow(short.sim, time=20.0, brokers=True)

# %% [markdown]
# Brokers 1 and 2 are down; broker 0 is up and still leads `payments`. A live leader is not enough:
# with `min.insync.replicas=2` it refuses the writes, and only the reads go on.

# %%
refused = short.sim.journal.frame(kind="refused")
refused.detail.str.extract(r": (NOT_ENOUGH\w*)")[0].drop_duplicates().tolist()

# %% [markdown]
# ## Unclean leader election: availability for loss
#
# If the leader dies while it is the **only** in-sync replica, no replica that has all committed records
# is left. With `unclean.leader.election.enable=false` (the default) the partition stays **offline** until
# that broker returns: nothing is lost, but nothing is written or read. With `true`, an out-of-sync
# follower leads at once, and every record it never fetched is gone for good.

# %% [markdown]
# ## One bad afternoon, every setting
#
# A schedule of failures, run once per combination of settings, with payments at 20 a second for 130 s:
#
# | time | what happens |
# |---|---|
# | 0 s | both followers run a little late |
# | 10 s | the leader's broker crashes; it comes back at 25 s |
# | 40 s | a network partition cuts the other two brokers off the leader's; the ISR shrinks to one |
# | 90 s | that leader crashes too; the partition heals; it comes back at 120 s |
#
# For each setting: **lost** (acknowledged, then gone) and **refused** (the caller was told it failed).

# %%
from eda_sim.course.nb06.world import sweep

table = sweep()
table[["acks", "min.insync.replicas", "unclean", "acknowledged", "refused", "lost"]]

# %%
from eda_sim.views.replicas import draw_lost_and_refused

draw_lost_and_refused(table)

# %% [markdown]
# Read it in pairs:
#
# - `acks=1` loses payments even with a clean election, whatever `min.insync.replicas` says: that
#   setting only applies to `acks=all` writes.
# - `acks=all` with `min.insync.replicas=1` loses nothing *here* only because unclean election was off
#   and the lonely leader came back. Turn unclean election on and the same schedule loses hundreds.
# - `acks=all` with `min.insync.replicas=2` never loses an acknowledged payment, clean or unclean, but
#   refuses the most: it would rather say no than promise what one broker cannot keep.
# - Unclean election turns refusals into losses: fewer refused, more lost.

# %% [markdown]
# ## Try it: your own settings against the bad afternoon
#
# Pick `acks`, `min.insync.replicas` and whether unclean election is allowed; the whole afternoon runs
# again and the counts come back.

# %% tags=["nbval-ignore-output"]
from eda_sim.course.nb06.world import bad_afternoon

def afternoon(acks, min_insync_replicas, unclean):
    return bad_afternoon(acks, min_insync_replicas, unclean).summary()

explore(afternoon, acks=["all", "1", "0"], min_insync_replicas=(1, 3, 1, 2), unclean=False)

# %%
afternoon("all", 3, False)

# %% [markdown]
# ## Misconception: "once the broker acknowledged it, it is safe"
#
# An acknowledgement is only as strong as the `acks` it was given under. With `acks=1` it means *one
# broker has it in memory*; a failover can still erase it, silently, with every lag at 0. With
# `acks=all` and `min.insync.replicas=2` it means *at least two brokers have it*, and a clean election
# only picks a leader that has it. Unclean election breaks even that.

# %%
misconception = failover(acks="1")
acked_and_gone = [p for p in misconception.acked if p in misconception.lost]
len(misconception.acked), len(acked_and_gone), acked_and_gone[:3]

# %% [markdown]
# ## Exercise: settings for two topics
#
# Two topics share the cluster. Choose `acks`, `min.insync.replicas` and
# `unclean.leader.election.enable` for each:
#
# - **payments**: a refused payment is fine (the customer is asked to try again), a lost one is not;
# - **clickstream**: page views for a dashboard. A few lost clicks do not matter, but the web servers
#   have nowhere to keep a refused click.
#
# The check runs the bad afternoon with your settings, once per topic, and names what was lost or
# refused.

# %%
from eda_sim.course.nb06.check import check_topic_settings

# %% tags=["exercise"]
payments = {"acks": 1, "min.insync.replicas": 1, "unclean.leader.election.enable": False}
clickstream = {"acks": "all", "min.insync.replicas": 2, "unclean.leader.election.enable": False}

check_topic_settings(payments, clickstream)

# %% tags=["solution"]
### BEGIN SOLUTION
payments = {"acks": "all", "min.insync.replicas": 2, "unclean.leader.election.enable": False}
clickstream = {"acks": 1, "min.insync.replicas": 1, "unclean.leader.election.enable": True}
### END SOLUTION

check_topic_settings(payments, clickstream)

# %% [markdown]
# ## Pitfall checklist: durability
#
# - [ ] Topics whose events must not be lost use replication factor 3, `acks=all` and
#   `min.insync.replicas=2`.
# - [ ] You know that `min.insync.replicas` does nothing for `acks=0` or `acks=1` producers.
# - [ ] Unclean leader election is off wherever a lost event costs more than a refused one.
# - [ ] Your producer handles delivery-report errors (`NOT_ENOUGH_REPLICAS`, `_MSG_TIMED_OUT`): a refused
#   write must reach someone who can act on it.
# - [ ] Producers that retry use `enable.idempotence`, so a retry after a leader change does not write
#   twice.
# - [ ] You do not read "lag 0" as "nothing was lost".
