# %% [markdown]
# # 03 · Partitions and ordering
#
# **After this notebook you can** say where Kafka keeps order and where it does not; choose a key that
# keeps one user's events in order; predict where records without a key go; explain why adding
# partitions to a topic in use breaks per-key order; put late events back in order with a reorder
# buffer; and write down the ordering guarantee of a topic.
#
# **Time:** about 40 minutes.

# %% [markdown]
# ## Order lives in a partition, not in a topic
#
# A topic is a set of partitions, and each partition is a log with its own offsets. Kafka promises order
# **within a partition** only. A consumer that reads several partitions gets them interleaved, in whatever
# order its fetches happen to take them. Below, one user goes through six checkout steps, 20 ms apart,
# and a consumer reads the topic back.

# %%
from eda_sim import Simulation
def read_back(key):
    sim = Simulation(seed=1, name="steps")
    sim.create_topic("checkout", partitions=3)
    producer = sim.producer()
    for step in range(1, 7):
        producer.produce("checkout", key=key, value=f"step {step}")
        sim.run(until=sim.now + 0.02)                 # the user takes a moment between steps
    producer.flush()
    consumer = sim.consumer({"group.id": "reader", "auto.offset.reset": "earliest"})
    consumer.subscribe(["checkout"])
    return [(m.partition(), m.value().decode()) for m in consumer.consume(10, timeout=1.0)]

# %%
{"no key": read_back(None), "key user-007": read_back("user-007")}

# %% [markdown]
# Without a key the steps landed in three partitions; each partition kept its own records in order, but
# the consumer read partition 0, then 1, then 2, and the user's steps came out as 1, 3, 5, 4, 6, 2. With
# the user's id as key every step went to the same partition (a key maps to one partition, as long as the
# partition count stays the same), and they came out in order. **A topic is not ordered; a partition
# is, and a key picks the partition.**

# %% [markdown]
# ## A stream of clicks, read in parallel
#
# A bigger world: six users click about 12 times per second in all; every click carries the user's own
# click number `n` (1, 2, 3, ...). The `sessionizer` service reads `clicks` with one instance per
# partition, and each instance takes a varying time per event, so the partitions are worked through at
# different speeds. Here the app sends clicks **without a key**. The timeline has a row per user; hollow
# circles are clicks produced, filled ones the moment the sessionizer got them (coloured by partition),
# numbers are `n`. A red mark is a click handed over after a later click of the same user.

# %%
from eda_sim.course.nb03.world import clicks_world, key_order
from eda_sim.views import draw_timeline

unkeyed = clicks_world(key=None)
draw_timeline(unkeyed, "clicks", key_field="user_id", order_field="n", group="sessionizer")

# %%
key_order(unkeyed)

# %% [markdown]
# Every user's clicks are spread over all three partitions, and almost every user has clicks out of
# order: the sessionizer would see someone add to a cart before viewing the product.

# %% [markdown]
# ## Exercise A: choose the key
#
# Before you look at the next section: by which field of a click should the app key its records, so that
# no user's clicks reach the sessionizer out of order, and the three instances still share the work? The
# fields are `user_id`, `region` (each user's region: `eu` or `us`), `product_id` and `click_id` (random,
# one per click); `None` means no key.

# %% tags=["exercise"]
from eda_sim.course.nb03.check import check_ordering_key

my_key = ...  # a field's name, as a string, or None for no key
check_ordering_key(my_key)

# %% tags=["solution"]
from eda_sim.course.nb03.check import check_ordering_key

### BEGIN SOLUTION
my_key = "user_id"
### END SOLUTION
check_ordering_key(my_key)

# %% [markdown]
# ## Key by user
#
# The same clicks, keyed by `user_id`: each user's clicks go to one partition and are read by one
# instance, in the order they were appended.

# %%
by_user = clicks_world(key="user_id")
draw_timeline(by_user, "clicks", key_field="user_id", order_field="n", group="sessionizer")

# %% [markdown]
# Every key choice side by side. `region` keeps order too (a user never changes region), but two values
# hash to the same partition here and one instance does all the work; `product_id` keeps each *product's*
# clicks together, which is not what the sessionizer needs.

# %%
from eda_sim.course.nb03.world import compare_keys

compare_keys()

# %% [markdown]
# ## Try it: partitions and keys, live
#
# The board shows each partition's log and the sessionizer's committed offset; the timeline shows each
# user's order. Change the number of partitions and the key, then press **▶**. Look for: with one
# partition everything is in order whatever the key (and one instance does all the work while the others
# idle); with `user_id` order holds at any partition count.

# %% tags=["nbval-ignore-output"]
from eda_sim.views.widgets import controls

def build(partitions=3, key="(no key)"):
    return clicks_world(None if key == "(no key)" else key, partitions=partitions, until=0)

views = [("board", "clicks"), ("timeline", "clicks", {"key_field": "user_id", "order_field": "n"})]
controls(build, views, knobs={"partitions": (1, 6, 1, 3),
                              "key": ["(no key)", "user_id", "region", "product_id", "click_id"]}, tick=0.5)

# %% [markdown]
# The same two views after 12 virtual seconds, with the controls' starting values (3 partitions, no key):

# %%
from eda_sim.views.widgets import show

show(clicks_world(None, partitions=3), *views)

# %% [markdown]
# ## A record without a key is not sent round-robin
#
# A common belief is that records without a key are dealt out 0, 1, 2, 0, 1, 2. No default client does
# that. Kafka's Java producer, since 2.4, sticks to one partition until the batch for it is sent, then
# picks another (since 3.3, after about `batch.size` bytes). librdkafka, the library under
# confluent-kafka, since 1.6 picks a random partition and keeps it for `sticky.partitioning.linger.ms`
# (10 ms by default); set to 0, it picks a random partition for each record. The simulator follows
# librdkafka. Here are 15 records without a key, one every 2 ms, and the partition each went to:

# %%
from eda_sim.course.nb03.world import null_key_partitions

null_key_partitions(n=15, every=0.002).set_index("record").T

# %% [markdown]
# `sticky` draws a partition every 10 ms (five records here; a new draw may repeat the old one),
# `no_sticky` draws for every record; neither is `round_robin`. Either way, records without a key have no order between partitions: never rely on it.

# %% [markdown]
# ## Adding partitions later moves keys
#
# A producer places a key at `crc32(key) % partitions` under confluent-kafka's default partitioner,
# `consistent_random`, which the simulator's client shares (Kafka's Java client hashes with murmur2
# instead: see the next section). Change the number of partitions and most keys get a new partition,
# whichever hash it is. Records already written stay where they are; new ones go to the new place.

# %%
my_prediction = None  # predict first, a number: of 9 users, how many move when 3 partitions become 4

# %%
from eda_sim.course.nb03.world import key_map, users

moves = key_map(users(9), before=3, after=4)
moves

# %%
from eda_sim.course.predict import reveal

reveal(my_prediction, moves.moved.sum(), "of 9 users moved", tolerance=1,
       why="A key keeps its partition only if crc32(key) % 3 equals crc32(key) % 4: one key in four, on average.")

# %% [markdown]
# All nine users moved. Now the demonstration: the same kind of stream keyed by user, on 3
# partitions, with a sessionizer of four instances (one idle: the usual reason to add a partition). At
# t = 5 s the topic grows to 4 partitions while the sessionizer is behind, as busy consumers often are. A
# moved user's new clicks land in a partition with a shorter backlog, and can be handled before their
# older ones.

# %%
from eda_sim.course.nb03.world import growth_world, order_breaks

grown = growth_world(before=3, after=4, at=5.0)
breaks = order_breaks(grown)
{"out-of-order pairs, topic left at 3": len(order_breaks(growth_world(after=None))),
 "out-of-order pairs, grown to 4 at t = 5 s": len(breaks),
 "users hit (all of them moved)": sorted(set(breaks["user_id"]))}

# %%
fig = draw_timeline(grown, "clicks", keys=sorted(set(breaks["user_id"])), order_field="n")
fig.axes[0].axvline(5.0, color="black", linestyle=":", linewidth=1.2)  # the moment the topic grew
fig

# %% [markdown]
# Every red mark is after the dotted line, for a user whose key moved. The simulator tells producers and
# consumers about new partitions at once; real clients notice at their next metadata refresh
# (librdkafka's `topic.metadata.refresh.interval.ms`, Java's `metadata.max.age.ms`, five minutes by
# default in both), and a group using `auto.offset.reset=latest` can
# skip records written to a new partition before it noticed. If per-key order matters, choose the
# partition count up front; growing it is a migration (pause producers, drain consumers, then grow).

# %% [markdown]
# ## Two clients, two hash functions
#
# Kafka's Java producer hashes a key with murmur2 (`partitioner=murmur2_random` in librdkafka's names).
# confluent-kafka, the client whose API this course uses (and so the simulator's), defaults to
# `consistent_random`: CRC32. When a Java service and a Python service left at their defaults produce
# to one topic, a key can land in two partitions, and its order is gone. Each of the nine users gets one record from each producer:


# %%
def split_keys(python_partitioner):
    sim = Simulation(seed=1, name="two-clients")
    sim.create_topic("checkout", partitions=3)
    java = sim.producer({"partitioner": "murmur2_random"})  # what the Java client does
    python = sim.producer({"partitioner": python_partitioner})
    for user in users(9):
        java.produce("checkout", key=user, value="from Java")
        python.produce("checkout", key=user, value="from Python")
    java.flush(), python.flush()
    per_user = sim.records("checkout").groupby("key")["partition"].nunique()
    return sorted(per_user[per_user > 1].index)


# %%
{
    "split, Python at confluent-kafka's default (consistent_random)": split_keys(
        "consistent_random"
    ),
    "split, Python set to murmur2_random": split_keys("murmur2_random"),
}

# %% [markdown]
# Four of the nine users have their records in two partitions. Setting `partitioner=murmur2_random` on every
# non-Java producer of the topic puts each key where the Java client puts it.

# %% [markdown]
# CRC32 has a habit to know about: it is linear, so keys that differ only in their last character
# often share a partition when the count is even. Four cards on two partitions:

# %%
from eda_sim.kafka.partitioner import crc32_partition, murmur2_partition

cards = [f"card-{i}".encode() for i in range(4)]
{"CRC32": [crc32_partition(c, 2) for c in cards], "murmur2": [murmur2_partition(c, 2) for c in cards]}

# %% [markdown]
# All four cards on partition 0 under CRC32: the other partition, and its consumer, get nothing from
# them (notebook 08's fraud scorer runs into exactly this). Check where your real keys land.

# %% [markdown]
# ## Late events: reorder by event time
#
# Even with the right key, the log holds events in the order they **arrived**, not the order they
# **happened**. A phone that was offline for a moment sends its taps late, at most 1.5 s late in this
# world (four users, two partitions keyed by user, 20 % of taps delayed). A **reorder buffer** holds
# each partition's events back for a `window` of event time, releases them in event-time order, and
# sends anything later than that to `taps.late` with the reason, never dropping it silently.
# `Service(..., reorder=window)` does this. The price: every event waits about `window` seconds.

# %%
from eda_sim.course.nb03.world import late_world, window_sweep

window_sweep(windows=(None, 0.5, 1.0, 2.0, 4.0))

# %% [markdown]
# With no buffer, 27 taps are handled after a later tap of the same user. A window of 0.5 s puts the rest in
# order but is too short for 24 taps, which go to the late topic; from 2 s on, none is late, and the mean
# wait grows with the window. The late topic keeps each late tap with the reason:

# %%
from eda_sim.services.ordering import late_events

short, _report = late_world(0.5)
late_events(short, "taps")["reason"].head(3).tolist()

# %% [markdown]
# ## Try it: the window
#
# Move the slider and watch `late` against `mean wait`.

# %% tags=["nbval-ignore-output"]
import pandas as pd
from eda_sim.views.widgets import explore

def reorder(window):
    return pd.DataFrame([late_world(window)[1]])

explore(reorder, window=(0.25, 4.0, 0.25, 1.0))

# %%
reorder(1.0)

# %% [markdown]
# ## Exercise B: pick the window
#
# Choose a `window` (seconds) so that no tap is late and each user's taps are handled in the order they
# happened, while the mean wait stays within 2 s.

# %% tags=["exercise"]
from eda_sim.course.nb03.check import check_reorder_window

my_window = 0.5
check_reorder_window(my_window)

# %% tags=["solution"]
from eda_sim.course.nb03.check import check_reorder_window

### BEGIN SOLUTION
my_window = 1.5   # the longest delay the phones have; every extra second is wait for every tap
### END SOLUTION
check_reorder_window(my_window)

# %% [markdown]
# ## Write the guarantee down
#
# Consumers build on what a topic promises about order, so the team that owns the topic writes it down,
# next to its schema. For `clicks` it could read:
#
# | question | `clicks` |
# |---|---|
# | key | `user_id`, set by the app on every record (never empty) |
# | order kept | each user's clicks, in the order the app produced them |
# | order not kept | between users; by event time when a phone sends late |
# | late events | the sessionizer reorders within 1.5 s of event time; later ones go to `clicks.late` with the reason |
# | partitions | 3, fixed; changing them is a planned migration, since it moves keys |
# | producer | `enable.idempotence=true`, so a retry neither duplicates nor reorders (notebook 05) |

# %% [markdown]
# ## Pitfall checklist: ordering
#
# - [ ] You know whose events must stay in order (a user, an account, a card), and you key by it.
# - [ ] Every record of that entity carries the key; none goes out without one.
# - [ ] The key has enough distinct values to spread the load over the partitions.
# - [ ] Nobody relies on order across partitions, across keys or across topics.
# - [ ] The partition count is chosen up front; adding partitions is treated as a migration.
# - [ ] Late events have a reorder window sized from measured delays, and a place to go when later still.
# - [ ] Producers use idempotence, so retries do not reorder.
# - [ ] Each topic's ordering guarantee is written down where its consumers will find it.
#
# Next: [04 · consumer groups and scaling](04_consumer_groups_and_scaling.ipynb).
