# %% [markdown]
# # 02 · Producers, consumers and the broker
#
# **After this notebook you can** say what a producer, the broker and a consumer each do; explain how
# several consumer groups read one stream independently while the members of one group share the work;
# predict where a new group starts reading; and show that the broker keeps events while a consumer is
# away, and deletes them by age, never because someone read them.
#
# **Time:** about 30 minutes.

# %% [markdown]
# ## A producer writes to a topic, and that is all it knows
#
# A producer names a **topic** and hands over records. It does not know who will read them, how many
# readers there are, or whether any of them is running. The **broker** appends each record to one
# partition of the topic, where it gets the next **offset**, and keeps it.

# %%
from eda_sim import Simulation

sim = Simulation(seed=2, name="basics")
sim.create_topic("page-views", partitions=3)
frontend = sim.producer({"client.id": "frontend"})
for i, user in enumerate(["user-000", "user-001", "user-002", "user-001", "user-000", "user-003"]):
    frontend.produce("page-views", key=user, value=f"viewed p{i:02d}")
frontend.flush()
sim.records("page-views")[["partition", "offset", "key", "value"]]

# %% [markdown]
# Each partition counts its own offsets from 0. The simulator runs a single broker that keeps one copy
# of each partition; a real cluster copies every partition to several brokers, which changes nothing in
# this notebook.

# %% [markdown]
# ## A consumer reads, and the log stays as it was
#
# A consumer joins a **consumer group** (`group.id`), subscribes to the topic and polls. Reading removes
# nothing: the broker only remembers, per group and partition, how far the group has got (its
# **committed offset**). Lag is what the group has not committed yet: log end minus committed.

# %%
reader = sim.consumer({"group.id": "recommender", "auto.offset.reset": "earliest"})
reader.subscribe(["page-views"])
got = reader.consume(10, timeout=1.0)
reader.commit(asynchronous=False)
[(m.partition(), m.offset(), m.value().decode()) for m in got]

# %%
sim.offsets("recommender")[["partition", "log_start", "log_end", "committed", "lag"]]

# %% [markdown]
# `log_start` is still 0 everywhere: all six records are still there, for anyone else who wants them.

# %% [markdown]
# ## Fan-out: another group reads the same events
#
# A second group has offsets of its own, so it reads the whole stream too, at its own pace, without
# taking anything from the first. That is how one `UserViewedProduct` stream feeds a recommender, an
# analytics job and a model monitor at once.

# %%
analytics = sim.consumer({"group.id": "analytics", "auto.offset.reset": "earliest"})
analytics.subscribe(["page-views"])
seen = analytics.consume(10, timeout=1.0)
analytics.commit(asynchronous=False)
{"recommender read": len(got), "analytics read": len(seen),
 "records still in the log": len(sim.records("page-views"))}

# %% [markdown]
# ## A new group does not read the whole topic (by default)
#
# A group with no committed offset starts where `auto.offset.reset` says, and Kafka's default is
# `latest`: the end of the log. A new group with default settings sees only what is produced **after**
# it joins. Below, `trending` keeps every default; `archive` asks for `earliest`.

# %%
def first_reads(settings):
    consumer = sim.consumer({"group.id": settings["group.id"], **settings})
    consumer.subscribe(["page-views"])
    before = consumer.consume(10, timeout=1.0)             # joins the group, reads what it may
    frontend.produce("page-views", key="user-004", value=f"viewed while {settings['group.id']} waits")
    frontend.flush()
    after = consumer.consume(10, timeout=1.0)
    return {"group": settings["group.id"], "auto.offset.reset": settings.get("auto.offset.reset", "(default)"),
            "read at first": len(before), "read after one more record": len(after)}

# %%
import pandas as pd

pd.DataFrame([first_reads({"group.id": "trending"}),
              first_reads({"group.id": "archive", "auto.offset.reset": "earliest"})])

# %% [markdown]
# `trending` read nothing of the history: it started at the end. `archive` read everything there was.
# The setting only matters for a group with no committed offset: a group that has committed resumes where
# it left off, whatever `auto.offset.reset` says. Almost always: the end of this notebook shows the two
# ways a group that was away too long finds no usable committed offset.

# %% [markdown]
# ## A group shares the work; groups share nothing
#
# Now a running shop. The front end publishes about 20 page views per second to `page-views`
# (3 partitions, keyed by user). Group `recommender` has two members: each partition belongs to exactly
# one of them, so they work in parallel on different parts of the stream. Group `analytics` has one
# member, which gets all three partitions and every event.

# %%
from eda_sim.course.nb02.world import shop_world
from eda_sim.views.widgets import show

shop = shop_world(until=20.0)
show(shop, ("board", "page-views", {"group": "recommender"}), ("board", "page-views", {"group": "analytics"}))

# %% [markdown]
# Each strip is a partition from offset 0 to its log end, coloured by the member that owns it; the black
# bar is the group's committed offset. The two recommender members split the partitions; the analytics
# member owns all three. Both groups are at the end of every partition.

# %% [markdown]
# ## The broker keeps events while a consumer is away
#
# Take the analytics consumer offline from t = 4 s to t = 10 s (a deploy, say). The front end does not
# notice and keeps publishing; the broker keeps every event. Here is the analytics group at t = 9.9 s:
# no owner, the committed offsets frozen at t = 4 s, and the lag growing.

# %%
from eda_sim.course.nb02.world import catch_up_report
from eda_sim.views import draw_board, draw_core_metrics

away = shop_world(offline=(4.0, 10.0), until=20.0)
draw_board(away, "page-views", time=9.9, group="analytics")

# %% [markdown]
# When it comes back it starts from the committed offsets and works through the backlog, faster than new
# events arrive, so the lag rises while it is away and then falls back to zero.

# %%
draw_core_metrics(away, bucket=1.0, topic="page-views")

# %%
pd.DataFrame([catch_up_report(away, "analytics"), catch_up_report(away, "recommender")])

# %% [markdown]
# Nothing was lost and nothing was processed twice: the analytics consumer left cleanly, after
# committing, and came back to exactly where it had stopped. (A consumer that *crashes* is another story:
# notebook 05.) Try `offline=(4.0, 16.0)`: at 20 s the report shows events not processed *yet*; with
# `until=40.0` the backlog is gone and every event was processed once.

# %% [markdown]
# ## Try it: the shop, live
#
# **Step** moves to the next thing that happens, **▶** plays 1 virtual second per tick, **Reset** starts
# over. The slider sets the number of recommender members; the checkbox takes analytics offline from 4 s
# to 10 s. Look for: both groups receive every event (the arrows), however many members the recommender
# has; the board recolours as members share the partitions, and with 4 members one gets none (notebook
# 04 is about that); with analytics offline, the diagram marks it down while its lag climbs, and after
# 10 s the lag melts away.

# %% tags=["nbval-ignore-output"]
from eda_sim.views.widgets import controls

def build(recommenders=2, analytics_offline=False):
    offline = (4.0, 10.0) if analytics_offline else None
    return shop_world(until=0.01, recommenders=recommenders, offline=offline)  # 0.01 s: members have joined

views = ["flow", ("board", "page-views", {"group": "recommender"})]
controls(build, views, knobs={"recommenders": (1, 4, 1, 2), "analytics_offline": False}, tick=1.0)

# %% [markdown]
# The same views after 20 virtual seconds, with three recommender members and analytics offline:

# %%
show(shop_world(until=20.0, recommenders=3, offline=(4.0, 10.0)), *views)

# %% [markdown]
# ## Reading deletes nothing; age does
#
# Many people believe a broker deletes a record once it has been consumed. It does not: every group reads
# independently, and on an ordinary topic (`cleanup.policy=delete`, the default) records leave by
# **retention**: by age (`retention.ms`) or by size (`retention.bytes`, a limit per partition), and always a
# whole **segment** at a time (a segment is a chunk of the log, rolled every `segment.ms` or `segment.bytes`). A *compacted* topic
# (`cleanup.policy=compact`) also loses every record that a newer one with the same key replaced, long
# before any retention: notebook 11 shows it. And an administrator can cut a partition's start by hand
# (below the timeline). First, a topic nobody reads, with one record per second, a retention of one
# minute and 20-second segments; the broker checks every five minutes.

# %%
from eda_sim.course.nb02.world import retention_timeline

retention_timeline(retention_ms=60_000, segment_ms=20_000)

# %% [markdown]
# `log_start` moves forward although no group ever read a record, and a group that starts now with
# `earliest` begins at `log_start`: what expired is gone for everyone. Change `retention_ms` to
# `600_000` (ten minutes) and see fewer records expire. Kafka's default is seven days.

# %% [markdown]
# The third way out is an order from an administrator. `AdminClient.delete_records` (Kafka's
# DeleteRecords) drops every record below an offset of your choice at once, whatever the retention:
# for example records written by mistake. Here a topic holds six orders and the first four go:

# %%
from eda_sim.kafka import AdminClient, TopicPartition

sim = Simulation(seed=2, name="delete-records")
sim.create_topic("orders", partitions=1)
shop = sim.producer()
for i in range(6):
    shop.produce("orders", value=f"order {i}")
shop.flush()
admin = AdminClient({"bootstrap.servers": sim.bootstrap_servers})
[f.result().low_watermark for f in admin.delete_records([TopicPartition("orders", 0, 4)]).values()]

# %% [markdown]
# The answer is the new *low watermark*: the partition's log start, now 4. A group that starts with
# `earliest` begins there, since `earliest` means the log start and not offset 0:

# %%
audit = sim.consumer({"group.id": "audit", "auto.offset.reset": "earliest"})
audit.subscribe(["orders"])
[(m.offset(), m.value().decode()) for m in audit.consume(10, timeout=1.0)]

# %% [markdown]
# A group whose committed offset now lies below the log start is out of range and falls back to
# `auto.offset.reset`, exactly as after retention. Kafka refuses the call on a topic that is only
# compacted (`POLICY_VIOLATION`), and for an offset past the end (`OFFSET_OUT_OF_RANGE`).

# %% [markdown]
# ## A committed group resumes, unless it was away too long
#
# The broker keeps a group's committed offsets, but not forever. Once a group has no members, its offsets
# expire after `offsets.retention.minutes` (a broker setting, 7 days by default, counted from when the last
# member left). And a committed offset can point at records that topic retention has already deleted: it is
# *out of range*. Either way the returning group starts where `auto.offset.reset` says. Below, `billing`
# reads 3 of 6 orders, commits, and leaves for a while:

# %%
from eda_sim.course.nb02.world import come_back

pd.DataFrame([come_back(6 * 86400), come_back(8 * 86400), come_back(2 * 3600, topic_retention_ms=3_600_000)])

# %% [markdown]
# Six days away: it resumes at offset 3. Eight days: the broker forgot the group, and with `earliest` it
# processes orders 0 to 2 a second time (with `latest` it would skip orders 3 to 6 instead). Two hours on a
# topic that keeps one hour: the offset is still there but its records are not, so it starts at the log
# start and orders 3 to 5 were never processed. A consumer that may be down for days needs a longer
# `offsets.retention.minutes`, or a way to notice that it restarted from `auto.offset.reset`.
# Members alone do not protect an offset: since Kafka 2.4, when no member of a running group
# subscribes to a topic any more, that topic's offsets expire `offsets.retention.minutes` after their
# last commit.

# %% [markdown]
# ## Exercise: a second group that reads the whole history
#
# The recommender group has been reading `page-views` for 10 s when a new feature, *trending products*,
# needs a consumer of its own. It must process **every** page view since the first one, each once, and
# must not take any work away from the recommender. Fill in its consumer settings.

# %% tags=["exercise"]
from eda_sim.course.nb02.check import check_second_group

trending_config = {
    "group.id": "recommender",
}
check_second_group(trending_config)

# %% tags=["solution"]
from eda_sim.course.nb02.check import check_second_group

### BEGIN SOLUTION
trending_config = {
    "group.id": "trending",
    "auto.offset.reset": "earliest",
}
### END SOLUTION
check_second_group(trending_config)

# %% [markdown]
# ## What to remember
#
# - A producer knows a topic, not its readers; the broker stores each record in a partition, at an offset.
# - Each consumer group reads the whole stream with offsets of its own (fan-out); within a group each
#   partition has one owner, so members share the work.
# - A new group starts at `auto.offset.reset`: `latest` by default, so it skips the history unless you ask
#   for `earliest`.
# - While a consumer is away the broker keeps its events and the lag grows; it catches up from its
#   committed offsets.
# - Reading deletes nothing. Retention deletes whole segments by age or size, read or not; compaction
#   and an administrator's `delete_records` remove records too.
# - A group's committed offsets last while some member subscribes to their topic, then at most
#   `offsets.retention.minutes` (7 days) more; an expired or out-of-range offset sends it back to
#   `auto.offset.reset`.
#
# Next: [03 · partitions and ordering](03_partitions_and_ordering.ipynb).
