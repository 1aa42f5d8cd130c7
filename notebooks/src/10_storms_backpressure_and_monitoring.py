# %% [markdown]
# # 10 · Storms, backpressure and monitoring
#
# **After this notebook you can** watch a surge of events outrun a consumer group and read it on a
# dashboard of throughput, latency, lag and errors; raise and resolve alerts as events; compare three
# answers to a storm (scale out on lag, rate-limit the producer, backpressure); spot a hot partition that
# the group's total lag hides; and tell when a slowdown turns into a rebalance storm.
#
# **Time:** about 35 minutes.

# %% [markdown]
# ## A surge outruns the consumers
#
# The `scorer` service scores `InferenceRequested` events from `requests` (6 partitions). An instance
# scores 10 requests per second and two instances run: 20 per second. The app sends 15 per second, all
# the time. From 10 s to 25 s a **storm** adds 40 more per second (a campaign, a retry loop somewhere, a
# bot). Run it for 45 virtual seconds:

# %%
from eda_sim.course.nb10.world import storm_summary, storm_world

storm = storm_world(storm_rate=40)
storm_summary(storm)

# %% [markdown]
# The lag peaks at 559 requests, the slowest 5 % of requests wait over 20 s, and 20 s after the storm
# ended the backlog is still there (`drained_at` is empty): two instances have only 5 requests per second
# to spare for it. Nobody was evicted and nothing was handled twice; it is simply too much work.

# %% [markdown]
# ## What to watch: throughput, latency, lag, errors
#
# Four signals tell the story, per 2 s of virtual time. **Throughput** in (appended to the topic) and
# handled: the gap between them is the backlog growing. **Latency** from produce to handled, p50 and
# p95. **Lag**: records written but not yet committed by the group. **Errors** per second: here
# feature-store timeouts, retried. The dashed red lines are the alert levels.

# %%
from eda_sim.course.nb10.world import THRESHOLDS, dashboard
from eda_sim.views import draw_metrics

draw_metrics(dashboard(storm.sim), thresholds=THRESHOLDS, title="scorer under a storm · 2 s buckets")

# %% [markdown]
# Throughput handled stays flat at 20 while 55 arrive: that flat line is the first sign. Lag says how
# much work waits; latency says how long a request waits, which is what users feel. Watch both: a lag of
# 500 is nothing for a service that handles 10 000 a second and a disaster for ours.

# %% [markdown]
# ## Alerts are events too
#
# An `AlertMonitor` runs on the clock like any service: every second it checks the latest complete bucket
# against each threshold and publishes `AlertRaised` when a metric crosses it and `AlertResolved` when it
# comes back, to the `alerts` topic, where a pager, a dashboard or an autoscaler can consume them.

# %%
from eda_sim.services.metrics import alerts

alerts(storm.sim)[["time", "type", "rule", "value", "threshold"]]

# %% [markdown]
# The alerts fire three and four seconds into the storm and never resolve in this run. Set thresholds above
# normal noise (before the storm p95 is under 0.2 s, so 2 s is far from it) and below the point where
# users notice, and alert on the edge (raised, resolved), not on every bucket.

# %% [markdown]
# ## Try it: the storm knob and the autoscaler
#
# Change the storm's rate, switch autoscaling on, press **Play** and watch the four panels.

# %% tags=["nbval-ignore-output"]
from eda_sim.views.widgets import controls, show

def scorer_dashboard(sim):
    return draw_metrics(dashboard(sim), thresholds=THRESHOLDS)

def build(storm_rate, autoscale):
    return storm_world(storm_rate, autoscale=autoscale, until=0).sim

controls(build, [scorer_dashboard], knobs={"storm_rate": (0, 80, 10, 40), "autoscale": True}, tick=1.0)

# %% [markdown]
# The same storm with autoscaling on, after 45 virtual seconds:

# %%
scaled = storm_world(storm_rate=40, autoscale=True)
show(scaled.sim, scorer_dashboard)

# %% [markdown]
# ## Fix 1: scale out on lag
#
# The autoscaler reads the group's lag every second. Above 100 it adds an instance, below 10 it removes
# one, and after each decision it waits 3 s (the cool-down) so the rebalance settles and the lag shows
# the effect. It never goes past one instance per partition: more would sit idle (notebook 04).

# %%
from eda_sim.course.nb10.world import ALERT_LAG, compare_lag

lag = compare_lag({"autoscaler off": storm, "autoscaler on": scaled})
draw_metrics(lag, thresholds={"lag": ALERT_LAG}, title="lag of the scorer · 2 s buckets")

# %%
scaled.scaler.decisions[["time", "lag", "action", "before", "after"]]

# %% [markdown]
# Scaling out drains the storm by 36 s instead of never, and then gives the instances back. It cuts the
# peak less than the tail: it reacts to lag that is already there, and each new instance takes a
# rebalance to join (here instantly; a real one also needs time to start and load its model). Our scorer
# uses cooperative rebalancing, so a newcomer takes partitions without stopping the others.

# %% [markdown]
# ## Fix 2: rate-limit the producer
#
# If the storm comes from a producer you control (a bulk job, a backfill), make it send through a
# **token bucket**: at most `limit` records per second, the rest queue at the producer. Compare no limit,
# 10 per second and 4 per second on the storm's producer:

# %%
from eda_sim.course.nb10.world import rate_limit_table

rate_limit_table(runs={None: storm})      # the storm above had no limit

# %% [markdown]
# With a limit of 4 per second the scorer nearly keeps up (peak lag 54) and the app's requests stay far
# faster (p95 about 4 s instead of 22 s), while the storm takes longer: 460 of its 600 requests are still waiting
# at the producer at 45 s. A rate limit decides **who waits**; it does not make the work smaller. Put it
# on producers whose work can wait, not on the users'.

# %% [markdown]
# ## Fix 3: backpressure
#
# Each instance takes at most `max_in_flight` records per poll and asks for more only when it has handled
# them. What it has not taken stays in the log: durable, visible as lag, and ready for whichever instance
# owns the partition. Compare how much the two instances hold in memory at worst:

# %%
from eda_sim.course.nb10.world import backpressure_table

backpressure_table(runs={20: storm})      # the storm above took 20 per poll

# %% [markdown]
# With 1000 per poll the instances pull the backlog into memory (422 records held at once), which grows
# with every storm, is lost on a crash and redone by the next owner, and makes the lag look worse (the
# commit waits for the whole batch). With 5 or 20 per poll the *application* holds little, whatever the
# storm does. That is not yet all the memory the backlog takes.

# %% [markdown]
# ### What the client itself holds: the fetch queue
#
# `max_in_flight` bounds what the application takes from each poll, not what the client has fetched.
# confluent-kafka's client (librdkafka) fetches ahead in the background into a local queue, up to
# `queued.min.messages` records per partition (100,000 by default) and `queued.max.messages.kbytes` in
# all (64 MiB), and `poll()` hands records out from there. So a backlog sits in the log **and**, up to
# those limits, in every consumer's memory. What the two scorer instances' clients hold when the run
# ends (value bytes, as librdkafka counts them):

# %%
import pandas as pd

pd.DataFrame(
    [
        (inst.name, f"{topic}-{part}", records, nbytes)
        for inst in storm.service.instances
        for (topic, part), (records, nbytes) in inst.consumer.fetch_queue().items()
    ],
    columns=["instance", "partition", "fetched_not_polled", "bytes"],
)

# %% [markdown]
# Most of each partition's lag is already in the instance's memory, fetched but not handed
# out yet; a crash loses it and the next owner fetches it again. Those two limits are the client's
# memory budget: lower them to bound it (at a price in latency, shown below). A production client
# reports the same figures in librdkafka's statistics (set `statistics.interval.ms` and a `stats_cb`:
# `fetchq_cnt` and `fetchq_size` per partition); here `consumer.fetch_queue()` and `consumer.stats()`
# give them too.
#
# The partition board draws it: under each strip, a dark band from the owner's position (the triangle)
# to where its client has fetched. Twenty seconds into the run, the records under each band are in
# an instance's memory as well as in the log:

# %%
from eda_sim.views import draw_board

draw_board(storm.sim, "requests", time=20.0, group="scorer")

# %% [markdown]
# The bands stop a little short of the log ends because the simulated client fetches only when the
# application polls, and an instance busy with a batch does not poll; a real librdkafka client keeps
# fetching in the background between polls, so its band would reach the log end.
#
# ### Backpressure with `pause()` and `resume()`
#
# When work piles up inside the application (a worker pool, a batch being built), stop fetching rather
# than poll more: `pause()` the assigned partitions while the work queue is long, keep calling `poll()`
# (the consumer stays in its group; paused partitions return nothing), and `resume()` once the work has
# drained. Pausing also drops what the client had fetched for those partitions, and resuming fetches
# again from the position, so nothing is lost or handed out twice. A worker that handles one job per two
# polls, behind a consumer of 400 queued jobs:

# %%
from collections import deque

from eda_sim import Simulation
from eda_sim.kafka import Consumer, Producer

bp = Simulation(seed=1, name="backpressure")
bp.create_topic("jobs", partitions=2)
jobs = Producer({"bootstrap.servers": bp.bootstrap_servers})
for i in range(400):
    jobs.produce("jobs", key=f"job-{i}", value=f"{i}")
jobs.flush()
worker = Consumer({"bootstrap.servers": bp.bootstrap_servers, "group.id": "workers",
                   "auto.offset.reset": "earliest"})
worker.subscribe(["jobs"])

# %%
HIGH, LOW = 50, 10                      # pause above HIGH jobs waiting, resume at LOW
work, handled, trace = deque(), [], []
while len(handled) < 400:
    msg = worker.poll(0.01)
    if msg is not None and msg.error() is None:
        work.append(msg)
    if len(trace) % 2 and work:         # the worker handles one job every second poll
        handled.append(work.popleft())
    if len(work) >= HIGH and not worker.paused():
        worker.pause(worker.assignment())
    elif len(work) <= LOW and worker.paused():
        worker.resume(worker.assignment())
    trace.append((bp.now, len(work), worker.queued_records, bool(worker.paused())))

# %%
trace = pd.DataFrame(trace, columns=["time", "work_waiting", "fetched_not_polled", "paused"])
{
    "most work waiting": int(trace.work_waiting.max()),
    "polls while paused": int(trace.paused.sum()),
    "client queue while paused (most)": int(trace.fetched_not_polled[trace.paused].max()),
    "jobs handled twice": len(handled) - len({(m.partition(), m.offset()) for m in handled}),
}

# %% [markdown]
# The work queue never grows past `HIGH`, the client holds nothing for the paused partitions, and every
# job is handled exactly once. The jobs that wait do so where they should: in the log, visible as lag.
# The board just after the first pause: both partitions marked paused, and no band, since pausing
# dropped what the client had fetched:

# %%
draw_board(bp, "jobs", time=float(trace.time[trace.paused].iloc[0]), group="workers")

# %% [markdown]
# ### Low fetch limits make a fast consumer wait
#
# Lowered limits cost latency. Once librdkafka's fetcher finds a partition at `queued.min.messages` or the
# consumer at `queued.max.messages.kbytes`, it leaves that partition alone for `fetch.queue.backoff.ms`
# (1 s by default), however fast the application empties the queue meanwhile. Here a consumer that holds at
# most 5 records per partition starts half a second behind a producer of 100 records a second:

# %%
def ticking_world(backoff_ms):
    sim = Simulation(seed=1, name=f"waits-{backoff_ms}")
    sim.create_topic("ticks", partitions=1)
    ticks = Producer({"bootstrap.servers": sim.bootstrap_servers})
    for i in range(300):                      # one record every 10 ms for 3 s
        sim.at(i / 100, ticks.produce, "ticks", f"{i}")
    sim.run(until=0.5)                        # the consumer starts about 50 records behind
    fast = Consumer({"bootstrap.servers": sim.bootstrap_servers, "group.id": "fast",
                     "queued.min.messages": 5, "fetch.queue.backoff.ms": backoff_ms,
                     "auto.offset.reset": "earliest"})
    fast.subscribe(["ticks"])
    return sim, fast

# %% [markdown]
# The longest wait between two of its records, in seconds, for two backoffs:

# %%
def longest_wait(backoff_ms):
    sim, fast = ticking_world(backoff_ms)
    times = []                                # when each record reached the application
    while len(times) < 300:
        if fast.poll(5.0) is not None:
            times.append(sim.now)
    return round(max(b - a for a, b in zip(times, times[1:])), 3)


{ms: longest_wait(ms) for ms in (1000, 10)}

# %% [markdown]
# With the default the records come in bursts 1 s apart, although the producer sends one every 10 ms:
# each fetch brings more than 5, so the fetcher backs off again. With the backoff at 10 ms the consumer
# catches up, and then no record waits longer than the producer's own pace (0.01 s). Lower
# `fetch.queue.backoff.ms` whenever you lower the two limits.

# %% [markdown]
# ## When the storm slows the consumer: evictions
#
# During the storm the feature store the scorer calls is overloaded too, and each request takes twice as
# long (0.2 s). With 20 records per poll a batch now takes 4 s, and `max.poll.interval.ms` is 3 s here
# (300 s by default). The instances keep heartbeating, and are evicted anyway:

# %%
from eda_sim.course.nb10.world import slow_storm_table

slow_storm_table()

# %% [markdown]
# "A slow consumer stays in its group while it heartbeats" fails again, this time because of load: the
# batch that fitted at 0.1 s per request no longer fits at 0.2 s. Each eviction refuses a commit and
# triggers a rebalance, the next owner repeats the work, and the storm of events becomes a storm of
# rebalances on top. Size the batch for the slowest processing you expect, not the usual one. (The storm
# world's instances use a 3 s session, under the 6 s a real broker accepts by default
# (`group.min.session.timeout.ms`); the world lowers that broker setting, as 04 shows.)

# %% [markdown]
# ## The hot key hidden in the total
#
# Different world: clicks keyed by user, 100 per second on 6 partitions, read by 6 rankers that handle
# 25 per second each: 150 per second of capacity, plenty. But users are not equal: their activity
# follows a Zipf law, and `user_0` alone sends a fifth of all clicks. A key always lands on the same
# partition, so one partition gets far more than 25 per second.

# %%
from eda_sim.services.metrics import lag_by_partition
from eda_sim.course.nb10.world import hot_key_world, hot_partition

hot = hot_key_world(instances=6)
per_partition = lag_by_partition(hot, "rankers", bucket=2.0).add_prefix("lag_")
draw_metrics(per_partition, title="rankers: lag per partition · 2 s buckets")

# %%
hot_partition(hot)

# %% [markdown]
# **Predict first.** The hot partition `views-4` holds 212 of the lag with 6 rankers. Add 2 rankers, 8 in
# all: what will `views-4`'s lag be at the end of the same run?

# %%
my_prediction = None  # a number: views-4's lag with 8 rankers

# %% [markdown]
# "Group lag is fine, so every partition is fine": a dashboard with one lag number reads 220, under 3 s
# of traffic at 100 clicks per second. But almost all of it sits on `views-4`, which drains at 25 per second:
# its newest click waits about 8 s, and growing. Watch the **largest partition lag**, not only the sum.
#
# More rankers do not help, and salting does. **Salting** adds a salt to the hot key (`0:user_0` ...
# `3:user_0`), spreading it over several partitions, at a price: that user's clicks are no longer in one
# partition, so they are no longer processed in order. The salt goes in front because of the hash:
# CRC32, librdkafka's default, sends keys that differ only in their last character to few partitions of
# an even count (`user_0#0` ... `user_0#3` would land on just two of the six). Check where salted keys go.

# %%
from eda_sim.course.nb10.world import hot_key_table

salting = hot_key_table(((6, 0), (8, 0), (6, 4)), runs={(6, 0): hot})
salting

# %%
from eda_sim.course.predict import reveal

reveal(my_prediction, salting.hot_lag[1], "on views-4 with 8 rankers", tolerance=10,
       why="All of user_0's clicks hash to views-4, and a partition is read by one member of the group.")

# %% [markdown]
# 8 rankers leave `views-4` exactly where 6 left it: a partition has one consumer in a group. Four salts
# cut the hot partition's lag from 212 to 45, and 146 of `user_0`'s clicks are now processed after a later click of theirs. Salt
# only keys whose order you can give up, or put the order back downstream (the reorder buffer of
# notebook 03). Change the salts in the cell (2, 3, 6) and see both columns move.

# %% [markdown]
# ## Exercise: an autoscaler that rides out the storm
#
# Configure the scorer's autoscaler so that during the storm above the lag peaks under 320, it never runs
# more instances than partitions, it does not **flap** (scale in, then have to scale out again within
# 20 s), and after the storm it gives the extra instances back (at most 3 running at the end).

# %% tags=["exercise"]
from eda_sim.course.nb10.check import check_autoscaler_plan

plan = {"min_instances": 1, "max_instances": 12, "scale_out_lag": 400, "scale_in_lag": 20, "cooldown": 5}
check_autoscaler_plan(plan)

# %% tags=["solution"]
from eda_sim.course.nb10.check import check_autoscaler_plan

### BEGIN SOLUTION
# the app alone needs 2 instances; one per partition at most; react early and often, scale in only near 0
plan = {"min_instances": 2, "max_instances": 6, "scale_out_lag": 40, "scale_in_lag": 5, "cooldown": 1}
### END SOLUTION
check_autoscaler_plan(plan)

# %% [markdown]
# ## Pitfall checklist: storms and backpressure
#
# - [ ] Each consumer group has a dashboard of throughput in and out, latency percentiles, lag and errors.
# - [ ] Alerts on lag and on latency, set above normal noise, are published as events someone consumes.
# - [ ] Lag is watched per partition (the largest), not only as the group's total.
# - [ ] Autoscaling on lag is capped at the partition count, has a cool-down, and never scales in below
#   what normal traffic needs.
# - [ ] Producers whose work can wait are rate-limited, so interactive traffic keeps its latency.
# - [ ] Consumers take bounded batches (backpressure), small enough to fit in `max.poll.interval.ms` even
#   when processing slows down under load.
# - [ ] You know your hot keys, and salt only those whose order you can give up.
#
# Next: [12 · tracing](12_tracing.ipynb).
