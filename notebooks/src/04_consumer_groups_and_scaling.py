# %% [markdown]
# # 04 · Consumer groups and scaling
#
# **After this notebook you can** predict how far adding consumers to a group speeds it up; read a
# rebalance on the partition board when a member joins, leaves or dies; count the records a rebalance
# makes a group process twice; explain why a busy consumer gets thrown out of its group, and how that
# turns into a rebalance storm; and choose between eager and cooperative rebalancing.
#
# **Time:** about 35 minutes.

# %% [markdown]
# ## A group shares the partitions
#
# Consumers that use the same `group.id` form a **consumer group**. The group's coordinator gives each
# partition of the topic to exactly one member, and a member reads only the partitions it was given.
# That is how a group splits the work. (The simulator has a single broker, which also acts as the
# coordinator; a Kafka cluster spreads groups over its brokers, with the same rules.)
#
# Our world: a shop writes 450 orders per second to `orders` (4 partitions, keyed by customer). Each
# worker handles an order in 0.01 s, so one worker manages 100 orders per second.

# %%
from eda_sim.course.nb04.world import group_world, members_table
from eda_sim.views import draw_board

sim = group_world(consumers=2)        # runs for 5 virtual seconds
members_table(sim)

# %%
draw_board(sim, "orders")

# %% [markdown]
# Each colour is one worker and owns two partitions. The red numbers on the right are the lag: two
# workers handle 200 orders a second out of 450, so the backlog grows on every partition.

# %% [markdown]
# ## More consumers: faster, up to a point
#
# Run the same shop with 1 to 8 workers for 5 seconds each and count what gets done.

# %%
from eda_sim.course.nb04.world import consumers_sweep

sweep = consumers_sweep(range(1, 9))
sweep

# %%
import matplotlib.pyplot as plt

fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3))
sweep.plot(x="consumers", y="throughput", marker="o", ax=left, legend=False, title="orders processed per second")
sweep.plot(x="consumers", y="lag", marker="o", ax=right, legend=False, color="#D55E00",
           title="orders waiting after 5 s (lag)")
plt.show()

# %% [markdown]
# **"More consumers always means more throughput"** fails at the fifth worker: there are only four
# partitions, and a partition belongs to one member of the group. Workers 5 to 8 join, get nothing and
# sit idle, while 379 orders wait and more arrive than four workers can take. To go further you need more
# partitions, and those are best planned up front (notebook 03 shows what adding them later does to keys).

# %%
six = group_world(consumers=6)
members_table(six)

# %% [markdown]
# ## Try it: consumers and partitions
#
# Move the sliders, press **Play**, and watch the board: how many colours appear, and whether the lag
# line in the chart below it flattens. Then give the topic 8 partitions and try 8 workers.

# %% tags=["nbval-ignore-output"]
from eda_sim.views.widgets import controls, show

def build(consumers, partitions):
    return group_world(consumers, partitions=partitions, until=0)

controls(build, [("board", "orders"), "metrics"], knobs={"consumers": (1, 8, 1, 6), "partitions": (1, 8, 1, 4)},
         tick=1.0)

# %% [markdown]
# Six workers on four partitions, after 5 virtual seconds: still four colours.

# %%
show(six, ("board", "orders"), "metrics")

# %% [markdown]
# ## Rebalancing: a member joins, leaves or dies
#
# Whenever the group's membership changes, the coordinator deals the partitions out again: a
# **rebalance**, and each one starts a new *generation* of the group. Our story, on six partitions,
# with auto-commit (every 5 s, the default interval of both librdkafka and the Java client):
#
# - `worker-1` and `worker-2` start together;
# - `worker-3` **joins** at 5 s;
# - `worker-2` **leaves** cleanly at 10 s;
# - `worker-1` **crashes** at 14 s. Nobody tells the group: it notices when no heartbeat has come for
#   `session.timeout.ms` (3 s here, to keep the story short: a real broker refuses a session timeout
#   under its `group.min.session.timeout.ms`, 6 s by default, with `INVALID_SESSION_TIMEOUT`; the
#   simulator does not enforce that limit yet).

# %%
from eda_sim.course.nb04.world import rebalance_story, rebalances

story = rebalance_story("range")
rebalances(story)

# %% [markdown]
# On the board, just before and just after `worker-3` joins: the strips change colour. Before the join
# nothing is committed yet (auto-commit first runs at 5 s, so lag reads "–"); giving partitions up makes
# each member commit what it has polled. Change the times (a crashed owner is drawn cross-hatched: try
# 15.5) and look again.

# %%
show(story, ("board", "orders", {"time": 4.9}), ("board", "orders", {"time": 5.1}))

# %% [markdown]
# ## Rebalances cause duplicates
#
# "A rebalance just moves partitions; nothing is processed twice." Count it:

# %%
from eda_sim.course.nb04.world import processed_twice

processed_twice(story)

# %% [markdown]
# Every repeat comes from the crash. `worker-1` last committed at 10 s and kept processing until 14 s.
# When the group gave its partitions to `worker-3`, the new owner started where the group had
# **committed**, not where `worker-1` had got to, and processed those four seconds of orders again.
# The clean join and leave cost nothing here **only because of auto-commit**: librdkafka (and the Java
# client) commit the offsets already polled when partitions are revoked. With manual commits, as
# notebook 05 recommends, nothing commits for you: commit in the rebalance callback,
# `consumer.subscribe(topics, on_revoke=commit_what_you_processed)`, or the new owner processes again
# everything since your last commit.
# Notebook 05 shows how to make such repeats harmless.

# %% [markdown]
# ## Eager or cooperative
#
# With the `range` assignor (librdkafka's default is `range,roundrobin`; the Java client's is `range`
# plus `cooperative-sticky`) rebalancing is **eager**: every member gives up *all* its partitions, then
# receives a new set. With `cooperative-sticky` it is **incremental**: only the
# partitions that move are revoked (in a first round), then handed over in a second. The journal at the
# moment `worker-3` joins, both ways:

# %%
import pandas as pd
from eda_sim.course.nb04.world import JOIN_AT, journal_at

coop = rebalance_story("cooperative-sticky")
pd.concat({"range (eager)": journal_at(story, JOIN_AT), "cooperative-sticky": journal_at(coop, JOIN_AT)})

# %% [markdown]
# Eager: all six partitions revoked, although only three change owner (p2, p4, p5). Cooperative: the
# sticky assignor moves two (p2, p5) and revokes only those; `worker-1` and `worker-2` keep reading the
# other four throughout. (In the simulator a rebalance takes effect at
# the instant it starts. In Kafka the group waits, up to `max.poll.interval.ms`, for every member to
# come back to `poll`, so an eager rebalance pauses the whole group; either way eager costs every member,
# cooperative only those whose partitions move.)

# %% [markdown]
# ## A busy consumer is thrown out, even though it is alive
#
# "As long as it heartbeats, a slow consumer stays in its group." Heartbeats only prove the process is
# alive. The group also expects a `poll` at least every `max.poll.interval.ms` (300 s by default, 2 s
# below): a member that spends longer on one batch is **evicted**, and its partitions go to others.

# %%
from eda_sim import Simulation
from eda_sim.kafka import KafkaException

sim = Simulation(seed=4, name="slow")
sim.create_topic("orders", partitions=2)
producer = sim.producer()
for i in range(300):
    producer.produce("orders", key=f"customer-{i % 7}", value=f"order {i}")
producer.flush()
sim.records("orders").groupby("partition").size()      # 300 orders waiting on two partitions

# %%
slow = sim.consumer({"group.id": "workers", "auto.offset.reset": "earliest", "enable.auto.commit": False,
                     "max.poll.interval.ms": 2000})
slow.subscribe(["orders"])
batch = slow.consume(200, timeout=1.0)
sim.run(until=sim.now + 3.0)           # 3 s of work on this batch before the next poll
try:
    slow.commit(message=batch[-1], asynchronous=False)
except KafkaException as err:
    print(err)

# %%
j = sim.journal.frame()
j[j.kind.isin(["joined", "evicted", "revoked", "commit_failed"])][["time", "kind", "actor", "detail"]]

# %% [markdown]
# The commit of work that was done is refused, because the consumer is no longer a member. Its next
# `poll` reports why, then it rejoins as a new member and is handed the same batch again, from the
# committed offset:

# %%
print(slow.poll(1.0).error())
again = slow.consume(200, timeout=1.0)
[(m.partition(), m.offset()) for m in again[:2]], len(again)

# %% [markdown]
# ## The rebalance storm
#
# If every batch takes longer than `max.poll.interval.ms`, this repeats forever: evicted, commit
# refused, rebalance, rejoin, the same batch, evicted again. Three workers come back to 2000 waiting
# orders (50 more per second) on six partitions, with `max.poll.interval.ms` = 2 s. The sweep crosses the
# time per order with the batch size (`batch_s` is their product: a full batch's time), eager against
# cooperative, over 20 s. The batch size is called `max.poll.records` below, after the Java consumer's
# property; confluent-kafka has no such property (librdkafka refuses it) and takes it per call instead,
# `consumer.consume(num_messages=500)`, which is how the simulator's workers poll.

# %%
from eda_sim.course.nb04.world import storm_sweep

storm_sweep()

# %% [markdown]
# - Batches of 1 s or less: no eviction, and the group commits the 150 orders per second it is given.
# - Batches of 2.5 s or more: every worker is evicted again and again. The workers are busy the whole
#   time (`processed_per_s`), yet the group **commits nothing**: the work is done again (`duplicates`) or
#   will have to be (the lag does not move).
# - Cooperative rebalancing revokes about half as many partitions per storm, but it does not stop the
#   storm. Only a batch that fits in `max.poll.interval.ms` does: fewer records per poll, faster
#   processing, or a longer interval (which is also how long a stuck member keeps its partitions).

# %% [markdown]
# ## Try it: find the edge of the storm
#
# Set the time per order, `max.poll.records`, `max.poll.interval.ms` and the assignor, and watch
# evictions and the committed rate. Where exactly does it tip over?

# %% tags=["nbval-ignore-output"]
from eda_sim.course.nb04.world import storm_once
from eda_sim.views.widgets import explore

def storm_report(processing_ms, max_poll_records, max_poll_interval_ms, strategy):
    row = storm_once(processing_ms / 1000, max_poll_records, strategy, max_poll_interval_ms=max_poll_interval_ms)
    return pd.DataFrame([row])

explore(storm_report, processing_ms=(1, 40, 1, 20), max_poll_records=(10, 500, 10, 120),
        max_poll_interval_ms=(500, 10000, 500, 2000), strategy=["range", "cooperative-sticky"])

# %%
storm_report(20, 120, 2000, "range")

# %% [markdown]
# ## Exercise: size the group
#
# A topic with 6 partitions gets 240 orders per second, with 600 already waiting. A worker needs 0.02 s
# per order and the group runs with `max.poll.interval.ms` = 2 s. Choose how many workers to run and how
# many records each takes per poll, so that after 20 s the group keeps up, no worker was evicted, and no
# worker sat idle.

# %% tags=["exercise"]
from eda_sim.course.nb04.check import check_group_sizing

instances = 2
max_poll_records = 500
check_group_sizing(instances, max_poll_records)

# %% tags=["solution"]
from eda_sim.course.nb04.check import check_group_sizing

### BEGIN SOLUTION
instances = 6            # 240/s over 6 partitions is 40/s each: one worker (50/s) per partition, no more
max_poll_records = 50    # 50 x 0.02 s = 1 s per batch, well inside 2 s
### END SOLUTION
check_group_sizing(instances, max_poll_records)

# %% [markdown]
# ## Pitfall checklist: consumer groups and rebalances
#
# - [ ] The topic has at least as many partitions as the most consumers the group will ever run.
# - [ ] One poll's batch (`max.poll.records` × time per record) ends well inside `max.poll.interval.ms`,
#   also on a slow day.
# - [ ] You expect a crash or an eviction to make the new owner process uncommitted records again, and
#   your consumer is ready for it (notebook 05).
# - [ ] Groups that scale up and down often use cooperative rebalancing (`cooperative-sticky`).
# - [ ] You watch evictions and rebalances: a steady stream of them is a storm, not noise.
#
# Next: [05 · delivery and idempotency](05_delivery_and_idempotency.ipynb).
