# %% [markdown]
# # 04 · Consumer groups and scaling
#
# **After this notebook you can** predict how far adding consumers to a group speeds it up; read a
# rebalance on the partition board when a member joins, leaves or dies; count the records a rebalance
# makes a group process twice; explain why a busy consumer gets thrown out of its group, and how that
# turns into a rebalance storm; choose between eager, cooperative and Kafka 4's consumer protocol
# (KIP-848); keep partitions through a deploy with static membership; and say when a share group, with
# more consumers than partitions, is the right tool.
#
# **Time:** about 50 minutes.

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
# workers handle 200 orders a second out of 450, so the backlog grows on every partition. The triangle
# is where each worker has read to; the dark band under a strip is what its client has already fetched
# from the broker and holds in memory, not yet handed to the worker (notebook 10 returns to it).

# %% [markdown]
# ## More consumers: faster, up to a point
#
# Run the same shop with 1 to 8 workers for 5 seconds each and count what gets done.

# %% [markdown]
# **Predict first.** One worker handles about 100 orders a second and 450 arrive. Write down how many
# 8 workers will handle, then run the sweep.

# %%
my_prediction = None  # a number: orders per second handled by 8 workers

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

# %%
from eda_sim.course.predict import reveal

reveal(my_prediction, sweep.throughput.iloc[-1], "orders per second with 8 workers", tolerance=25,
       why="The group has 4 partitions, so only 4 of the 8 workers get one; the other 4 wait idle.")

# %% [markdown]
# **"More consumers always means more throughput"** fails at the fifth worker: there are only four
# partitions, and a partition belongs to one member of the group. Workers 5 to 8 join, get nothing and
# sit idle, while 332 orders wait and more arrive than four workers can take. To go further you need more
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
#   `session.timeout.ms` (3 s here, to keep the story short). A real cluster refuses a session under
#   the broker's `group.min.session.timeout.ms`, 6 s by default, so this world lowers that broker
#   setting in the open: `Simulation(broker_config={"group.min.session.timeout.ms": 100})`.

# %%
from eda_sim.course.nb04.world import rebalance_story, rebalances

story = rebalance_story("range")
rebalances(story)

# %% [markdown]
# Against a broker with its default limits, the same 3 s session is refused. librdkafka turns the refused
# JoinGroup into an error event that `poll()` returns (not fatal: it tries again after a second), and the
# consumer never gets a partition:

# %%
from eda_sim import Simulation

strict = Simulation(seed=4, name="default-limits")
strict.create_topic("orders", partitions=6)
short = strict.consumer({"group.id": "workers", "session.timeout.ms": 3000})
short.subscribe(["orders"])
err = short.poll(1.0).error()
err.name(), err.str()

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
# everything since your last commit. Member `a` below commits by hand, has processed 12 orders, and `b`
# joins:

# %%
from eda_sim.course.nb04.world import handover


def commit_what_was_processed(consumer, partitions):
    consumer.commit(asynchronous=False)  # the stored offsets: what a polled, all processed here


{"no callback": handover(), "commit in on_revoke": handover(commit_what_was_processed)}

# %% [markdown]
# Without the callback `b` starts from the last commit (none) and processes again the orders `a` had
# done on the partition it got; committing in `on_revoke` hands over exactly where `a` stopped. Notebook
# 05 shows how to make the repeats that remain (a crash gives no callback) harmless.

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
# sticky assignor moves two (p0, p3), the first partition of each owner as librdkafka's assignor picks
# them, and revokes only those; `worker-1` and `worker-2` keep reading the other four throughout. (In
# the simulator a rebalance takes effect at
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
# - Batches of 1 s or less: no eviction, and the group commits close to the 150 orders per second it is
#   given.
# - Batches of 2.5 s or more: every worker is evicted again and again. The workers are busy the whole
#   time (`processed_per_s`), yet the group **commits nothing**: the work is done again (`duplicates`) or
#   will have to be (the lag does not move).
# - Cooperative rebalancing revokes about half as many partitions per storm, but it does not stop the
#   storm. Only a batch that fits in `max.poll.interval.ms` does: fewer records per poll, faster
#   processing, or a longer interval (which is also how long a stuck member keeps its partitions).

# %% [markdown]
# ## One batch per poll, in each client
#
# The batch size lives in a different place in each client. confluent-kafka asks for it on every call,
# `consume(num_messages=...)`; Kafka's Java consumer fixes it once, in its `max.poll.records` setting
# (500 by default). `eda_sim.kafka.java.KafkaConsumer` models the Java client, so the two sit side by side:

# %%
from eda_sim import Simulation
from eda_sim.kafka.java import KafkaConsumer    # Kafka's Java client, modelled: not confluent-kafka

sim = Simulation(seed=4, name="batches")
sim.create_topic("orders", partitions=1)
producer = sim.producer()
for i in range(1000):
    producer.produce("orders", value=f"order {i}")
producer.flush()

# %%
python_side = sim.consumer({"group.id": "py", "auto.offset.reset": "earliest"})
python_side.subscribe(["orders"])
java_side = KafkaConsumer({"bootstrap.servers": sim.bootstrap_servers, "group.id": "java",
                           "auto.offset.reset": "earliest", "max.poll.records": 120})
java_side.subscribe(["orders"])
len(python_side.consume(num_messages=120, timeout=1.0)), len(java_side.poll(1.0))

# %% [markdown]
# Same 120 records a poll. Give confluent-kafka the Java key and it refuses it, as librdkafka does:

# %%
from eda_sim.kafka import KafkaException

try:
    sim.consumer({"group.id": "py", "max.poll.records": 120})
except KafkaException as err:
    print(err.args[0].str().split(";")[0])

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
# ## Kafka 4's protocol: the broker assigns, one partition at a time
#
# Everything above is the **classic** protocol: the members stop at a barrier, one of them computes the
# assignment, and every member waits for the slowest. Kafka 4.0 made a second protocol generally
# available (KIP-848), chosen per consumer with `group.protocol=consumer`:
#
# - the **broker** computes a *target assignment* whenever the group changes, and numbers it with the
#   **group epoch**;
# - each member heartbeats every 5 s (`group.consumer.heartbeat.interval.ms`, a broker setting) and
#   carries its own **member epoch**; the answer tells it what to give up and what to take;
# - a partition moves in two steps: its owner revokes it in its next `poll`, then the new owner takes it
#   on its own next heartbeat. Nobody else stops.
#
# The session timeout becomes the broker's too (`group.consumer.session.timeout.ms`, 45 s), and
# librdkafka refuses the old client-side settings outright:

# %%
from eda_sim.kafka import KafkaException

try:
    Simulation(seed=4, name="kip848").consumer(
        {"group.id": "new", "group.protocol": "consumer", "session.timeout.ms": 10000}
    )
except KafkaException as err:
    print(err)

# %% [markdown]
# Choosing an assignor moves to `group.remote.assignor` (`uniform`, the default, or `range`). The
# journal writes the group epoch with each target and, for every member, its epoch, what it owns and
# what it is still waiting for. Three workers start together on the new protocol:

# %%
from eda_sim.broker.group_consumer import epochs
from eda_sim.course.nb04.protocols import deploy_world, start_world

kip848 = start_world("consumer", until=12.0)
for row in epochs(kip848, "workers").itertuples():
    print(f"{row.time:5.2f} s  {row.who:<12} epoch {row.epoch}  {row.what.replace('orders-', 'p')}")

# %% [markdown]
# `worker-1` joined first and was given all six partitions. Each later join moved the target at once,
# but the partitions followed at heartbeat pace: `worker-1` heard at its 5 s heartbeat that four of them
# were no longer its own and gave them up in its next poll (5.32 s, after the batch in hand); the other
# two took them at their own next heartbeats, at 10 s. Four partitions had no owner for almost five
# seconds, while `worker-1` read p0 and p1 throughout: slower than a classic rebalance, and paid only by
# the partitions that move.

# %% [markdown]
# The board of a group on the new protocol shows the group epoch, each owner's member epoch, and where a
# partition is headed (`→`). At 7 s, four partitions wait for their new owners' heartbeats:

# %%
draw_board(kip848, "orders", time=7.0)

# %% [markdown]
# ## Static membership: a restart is not a departure
#
# A deploy restarts every instance of a service, one after another. In a classic group each stop is a
# rebalance and each start another. With **static membership** (KIP-345) each instance sets its own
# `group.instance.id`; when it stops, it does not leave (librdkafka sends no LeaveGroup for it), and
# if the same id is back within the session timeout it gets its place and its partitions back, with no
# rebalance. The price: its partitions wait, unread, while it is away.
#
# A rolling deploy of three workers (each stops, and is back 2 s later), six ways from one seed:

# %%
from eda_sim.course.nb04.protocols import deploy_sweep

deploy = deploy_sweep()
deploy


# %%
def six_ways(table, title):
    labels = [f"{p}\n{'static' if s else 'dynamic'}" for p, s in zip(table.protocol, table.static)]
    fig, axes = plt.subplots(1, 3, figsize=(12, 3))
    for ax, column in zip(axes, ["rebalances", "paused_s", "duplicates"]):
        ax.bar(labels, table[column], color=["#0072B2", "#E69F00"] * 3)
        ax.set_title(column)
        ax.tick_params(axis="x", labelsize=7)
    fig.suptitle(title)
    plt.show()


six_ways(deploy, "a rolling deploy of three workers")

# %% [markdown]
# - **Static** members cause no rebalance and no duplicate, under every protocol. Their cost is
#   `paused_s`: partition-seconds that nobody read, here two partitions for about two seconds per
#   restart.
# - **Eager** revokes all six partitions twice per restart; **cooperative** and **KIP-848** revoke only
#   what moves. In the classic rows some records are processed twice: the simulator takes partitions away
#   in the middle of a worker's batch. KIP-848 waits for the worker's next poll, as librdkafka does.
# - KIP-848's dynamic row pauses longest: a freed partition waits for its new owner's next heartbeat
#   (up to 5 s). The simulator completes a classic rebalance the instant it starts, so its classic rows
#   leave out the time a real classic group spends noticing the rebalance (a heartbeat, 3 s) and at the
#   barrier waiting for every member's next poll, during which an eager group reads nothing at all.

# %% [markdown]
# ## Try it: how long may a restart take?
#
# A static member keeps its place only for its session: 10 s in these worlds (`session.timeout.ms`, or the
# broker's `group.consumer.session.timeout.ms` under the consumer protocol, whose lowest allowed value,
# `group.consumer.min.session.timeout.ms`, is 45 s: the consumer-protocol world lowers it). Choose the protocol, static
# membership and how long each restart takes, and watch when the rebalances come back.

# %% tags=["nbval-ignore-output"]
from eda_sim.course.nb04.protocols import DEPLOY_AT, group_counts
from eda_sim.views.widgets import explore

def deploy_report(protocol, static, restart_s):
    sim = deploy_world(protocol, static, downtime=restart_s, until=45.0)
    return pd.DataFrame([group_counts(sim, after=DEPLOY_AT - 0.001)])

explore(deploy_report, protocol=["eager", "cooperative", "consumer"], static=True, restart_s=(1, 20, 1, 12))

# %%
deploy_report("eager", True, 12)

# %% [markdown]
# Back after 12 s, each static worker is too late. Its partitions first waited 10 s unread, then its
# session expired and the group rebalanced, and rebalanced again when it came back: more paused time than
# with no static membership at all (untick `static` to compare). The session timeout must outlast a
# restart, and stay short enough that a worker that really died does not leave its partitions unread for
# long.

# %% [markdown]
# ## The storm, six ways
#
# Does static membership or the new protocol stop the rebalance storm? Three workers, a backlog, and
# batches of 3 s against a `max.poll.interval.ms` of 2 s:

# %%
from eda_sim.course.nb04.protocols import storm_protocols

storm = storm_protocols()
six_ways(storm, "batches of 3 s, max.poll.interval.ms = 2 s")
storm

# %% [markdown]
# None of the six commits anything. In the classic protocol librdkafka leaves the group when
# `max.poll.interval.ms` passes, static or not, so static membership changes nothing. Under KIP-848 a
# static member that misses its poll leaves with epoch -2, which keeps its place: no rebalance at all,
# and still no progress, because its commits are refused and its batch comes back. A quiet storm is
# still a storm; only a batch that fits in `max.poll.interval.ms` ends it.

# %% [markdown]
# ## More consumers than partitions: share groups
#
# In a consumer group, six workers on a two-partition topic leave four idle. Kafka 4 adds **share groups**
# (KIP-932, "queues for Kafka"): the members share the records of each partition, and each record is
# acknowledged on its own. The same shop, keyed by 20 customers, 600 orders waiting, six workers:

# %%
from eda_sim.course.nb04.share import share_vs_group

share_vs_group(6)

# %% [markdown]
# The share group works through the backlog about three times as fast: all six workers are busy. But
# look at `keys_out_of_order`: for every customer, some order finished before an earlier one of the same
# customer, because two workers held that customer's orders at the same time. A share group gives up
# per-key order; use it for work items that do not depend on each other. Try other numbers of workers:

# %% tags=["nbval-ignore-output"]
explore(share_vs_group, consumers=(1, 8, 1, 6))

# %% [markdown]
# Each record a share consumer receives is **acquired** under a lock (30 s,
# `group.share.record.lock.duration.ms`). The consumer then settles it: `ACCEPT` (done), `RELEASE`
# (give it back, for anyone) or `REJECT` (never again). Each delivery adds one to its delivery count;
# at `group.share.delivery.count.limit` (5) a record that comes back is **archived**. confluent-kafka
# has a `ShareConsumer` since 2.16 (a preview), and these are its names:

# %%
from eda_sim.broker.share_group import share_group
from eda_sim.kafka import AcknowledgeType, ShareConsumer  # confluent_kafka has both names

sim = Simulation(seed=4, name="share")
sim.create_topic("jobs", partitions=1)
share_group(sim, "workers", {"share.auto.offset.reset": "earliest"})  # Kafka's default is latest
producer = sim.producer()
for i in range(2):
    producer.produce("jobs", value=f"job {i}")
producer.flush()
worker = ShareConsumer(
    {"group.id": "workers", "client.id": "worker", "share.acknowledgement.mode": "explicit"},
    sim=sim,
)
worker.subscribe(["jobs"])

# %%
history = []
for _ in range(6):
    for msg in worker.poll(0.5):
        history.append((msg.value().decode(), msg.delivery_count()))
        ack = AcknowledgeType.ACCEPT if msg.offset() == 0 else AcknowledgeType.RELEASE
        worker.acknowledge(msg, ack)
worker.commit_sync()
history

# %%
j = sim.journal.frame()
j[j.kind == "archived"][["time", "offset", "count", "detail"]]

# %% [markdown]
# `job 0` was accepted on its first delivery. `job 1` was released five times and then archived, so a
# record that fails again and again cannot circle for ever: the share group's answer to the poison record
# (notebook 08). Kafka is adding a dead-letter topic for archived records (KIP-1191); the simulator takes
# its group setting `errors.deadletterqueue.topic.name` and writes dead letters the way notebook 08 shows.
# The Kafka-protocol broker the course's tests check the client against (Tansu 0.6.0) has neither share
# groups nor the KIP-848 protocol yet, so both are checked only inside the simulator.

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
# ## Exercise (b): deploy without a rebalance
#
# Three workers read a topic of six partitions. Every deploy restarts them one at a time, and a restart
# takes **50 s**. Write `worker_config(name)`: the consumer settings for the worker called `name`, so that
# a deploy causes no rebalance, while a worker that really crashes loses its partitions to the others
# within **90 s**.

# %% tags=["exercise"]
from eda_sim.course.nb04.check import check_static_deploy


def worker_config(name):
    return {"session.timeout.ms": 45000}


check_static_deploy(worker_config)

# %% tags=["solution"]
from eda_sim.course.nb04.check import check_static_deploy


### BEGIN SOLUTION
def worker_config(name):
    # an id per instance (a shared one fences the other instances); a session longer than the restart
    return {"group.instance.id": name, "session.timeout.ms": 75000}


### END SOLUTION

check_static_deploy(worker_config)

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
# - [ ] Services that are redeployed often give each instance its own `group.instance.id`, with a
#   session timeout longer than a restart and as short as you can afford to leave partitions unread.
# - [ ] On Kafka 4, new groups can use `group.protocol=consumer`; then the session timeout, heartbeat
#   and assignor are broker settings, and setting them on the client is an error.
# - [ ] A share group is for independent work items: it scales past the partitions and gives up
#   per-key order; every record ends accepted, rejected or archived after the delivery limit.
#
# Next: [05 · delivery and idempotency](05_delivery_and_idempotency.ipynb).
