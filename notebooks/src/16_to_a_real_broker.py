# %% [markdown]
# # 16 · To a real broker: the recommender on Redis Streams
#
# **After this notebook you can** run the same handler against a real broker in separate processes, say what
# happens when a consumer process dies and when an event can never be handled, name what the simulator left
# out, and translate the course's words into those of Kafka, Kinesis, Event Hubs and Pub/Sub.
#
# **Time:** about 25 minutes.

# %% [markdown]
# ## From one process to several
#
# Until now every producer, broker and consumer lived inside one Python process, on a virtual clock. A real
# broker is a server of its own; producers and consumers are other processes, often on other machines, and
# the clock is the real one. A production Kafka cluster is several broker processes (JVMs) with replicated
# logs, although a single broker runs on a laptop; this notebook first uses **Redis Streams**, a real event
# log with consumer groups, acknowledgements and a list of pending entries, served by one small program,
# and at the end a real Kafka-protocol broker.
# `eda_sim.backends.redis.backend` gives it Kafka's shape: a `Producer`, a `Consumer`, and `run_service` for the same
# `handler(event, ctx)` functions you wrote for the simulator.

# %% [markdown]
# ## Find a server
#
# `Backend.find()` uses the server named by the environment variable `EDA_REDIS_URL`; if there is none and
# `redis-server` is installed, it starts a throwaway one on this machine (it stops with the notebook).

# %%
from eda_sim.course.nb16.world import Backend, run_story

backend = Backend.find()

# %% tags=["nbval-ignore-output"]
# reason: depends on whether a Redis server is reachable
print(backend)

# %% [markdown]
# If that line says there is no server, nothing breaks: every cell below runs, on the simulator, with the
# same handler and the same policies, and prints the same checked results. The line says how to get a server.

# %% [markdown]
# ## The service, unchanged
#
# The recommender is notebook 13's: for each `UserViewedProduct` its item-to-item model learns from the
# view, then it emits a `RecommendationGenerated` event. A view without a `product_id` makes it raise
# `ValueError`. The frontend sends 30 views of six shoppers, 33 per second, keyed by user, and one poison view:

# %%
from eda_sim.course.nb16.world import views

items = views()
len(items), items[8]

# %% [markdown]
# In each consumer process the service is one call (`consume` in `eda_sim/scenarios/real_broker.py`, shortened):
#
# ```python
# run_service(url, "recommender", "product-views", {"UserViewedProduct": recommender_handler()},
#             retry=Retry(attempts=1, permanent=()), idempotent=True, max_deliveries=3,
#             instance="recommender-1")
# ```
#
# `permanent=()` treats every error as transient, as a service must when it cannot tell; only the count of
# deliveries will stop the poison view. `idempotent=True` is notebook 05's inbox of event ids.

# %% [markdown]
# ## Kill a consumer, poison a view
#
# `run_story` starts three processes: the frontend and two recommenders, `recommender-1` (partitions 0 and 2)
# and `recommender-2` (partition 1), in one consumer group. A third of the way through, `recommender-1` is
# killed with `SIGKILL` while it holds views it has not acknowledged. Then it reads the topics back.

# %%
run = run_story(backend)
run

# %% [markdown]
# Those lines are what the design **guarantees**, so they are the same on every run, on Redis and on the
# simulator alike. What varies (which process handled how many views, how many were in flight when the
# process died) is below; `run.seconds` holds how long it took, real seconds on Redis.

# %% tags=["nbval-ignore-output"]
# reason: depends on whether a Redis server is reachable, and on real timing
print(run.details())

# %% [markdown]
# ## How the broker did it
#
# - **Nothing is lost.** A view handed to `recommender-1` stays in the group's *pending entries list* until
#   it is acknowledged (`XACK`). The killed process acknowledged nothing more, so its views waited there.
# - **The survivor takes over.** Redis itself has no group membership and no heartbeats: the course's
#   backend adds them (each member renews a lease key that expires after `session.timeout.ms`). When
#   `recommender-1`'s leases expire, `recommender-2` takes its partitions, and *claims* (`XCLAIM`) the entries pending longer than
#   `redis.claim.idle.ms` before it reads anything new: each user's views stay in order.
# - **Nothing is doubled.** Under the idempotent policy, the inbox insert, the emitted recommendation and the
#   acknowledgement run in one Lua script: a view is either fully handled or not at all.
# - **The poison stops.** Redis counts deliveries per entry; after `max_deliveries` the view goes to
#   `product-views.DLT` with its origin and error. On the simulator, the retry policy counts the tries.
#
# One thing did not survive: `recommender-1`'s model. State kept inside a consumer process dies with it;
# keep it in a store, or rebuild it from the log (notebook 15).

# %% [markdown]
# ## Try it: where it runs, the kill, the poison
#
# Switch `where` to `redis` to run the story on the server again (a few seconds, real processes), or keep
# the simulator. Change the deliveries allowed, or let `ValueError` count as permanent. The summary does not
# depend on `where`.

# %% tags=["nbval-ignore-output"]
from eda_sim.backends.redis.server import start_hint
from eda_sim.views.widgets import explore


def story(where, kill, max_deliveries, all_transient):
    if where == "redis" and not backend.redis:
        print("no Redis server here, so this runs on the simulator.", start_hint())
    target = backend if where == "redis" else "simulator"
    print(run_story(target, kill=kill, max_deliveries=max_deliveries, all_transient=all_transient))


explore(story, where=["simulator", "redis"], kill=True, max_deliveries=(1, 5, 1, 3), all_transient=True)

# %%
story("simulator", kill=True, max_deliveries=3, all_transient=False)

# %% [markdown]
# With `ValueError` counted as permanent the poison view is parked after one try, without waiting for
# redeliveries; keeping `all_transient` on is the safety net for errors nobody classified.

# %% [markdown]
# ## What the simulator left out, and where Redis is not Kafka
#
# The simulator fixed the timing with a seed; here, time is real and only the guarantees repeat. Its world
# also lowers the broker's `group.min.session.timeout.ms` (6 s on a real Kafka broker) so a hand-over
# takes a fraction of a second; Redis has no such limit, the backend's leases take what you give. A real
# broker can also be out of reach (the client names the URL it could not reach), and Redis keeps its log in
# memory. The backend writes down every place where Redis Streams differs from Kafka and what it does
# about it:

# %%
import pandas as pd
from eda_sim.backends.redis.backend import differences

pd.set_option("display.max_colwidth", None)
differences()[["aspect", "kafka", "redis_streams"]]

# %% [markdown]
# The last column of `differences()` (`this_backend`) says how the backend bridges each gap.

# %% [markdown]
# ## The same program on a Kafka broker
#
# Redis is not Kafka. A broker that speaks Kafka's own wire protocol is closer: **Tansu** (Apache-2.0) is
# one, small enough to start in milliseconds with its log in memory. The course's conformance suite holds
# small programs written once against confluent-kafka's API; `side_by_side` runs one on the simulator and,
# when Tansu and confluent-kafka are installed (`pip install -r requirements-test.txt`), with
# confluent-kafka against a Tansu broker it starts on this machine. This one commits part way, leaves, and
# resumes in the same group:

# %%
from eda_sim.course.nb16.kafka_broker import side_by_side

resume = side_by_side("commit_and_resume")
resume["simulator"]

# %% tags=["nbval-ignore-output"]
# reason: depends on whether confluent-kafka and the Tansu broker are installed
print(resume["where"])
print("the real broker observed the same:", resume["same"])

# %% [markdown]
# A real broker is a program with bugs of its own. Tansu 0.6.0 answers "where does this partition end?"
# with offset 1, so a new group under `auto.offset.reset=latest` reads records that were there before it
# joined; Kafka gives it only the new ones, and so does the simulator:

# %% tags=["nbval-ignore-output"]
# reason: depends on whether confluent-kafka and the Tansu broker are installed
latest = side_by_side("offset_reset[latest]")
{key: latest[key] for key in ("simulator", "real broker", "kafka documents")}

# %% [markdown]
# The README lists what the suite compares and every place where Tansu departs from Kafka; there the
# simulator is held to Kafka's documentation instead.

# %% [markdown]
# ## Two Kafka clients
#
# The course's client is confluent-kafka, built on **librdkafka**. Kafka's **Java client** has the same
# ideas with other defaults and, in places, other behaviour; code moving between them, or two services
# sharing a topic, meet these:
#
# | | librdkafka (confluent-kafka; this course) | Java client |
# |---|---|---|
# | keyed partitioner | `consistent_random`: CRC32 of the key | murmur2 of the key (`murmur2_random` in librdkafka) |
# | auto-commit | offset stored when `poll` returns the record; a background timer commits what is stored | `poll()` commits what earlier polls returned |
# | at-least-once with auto-commit | `enable.auto.offset.store=false` + `store_offsets()` after processing | process each batch before the next `poll()` |
# | records per poll | `consume(num_messages=...)`; `max.poll.records` is refused | `max.poll.records` (500) |
# | default assignors | `range,roundrobin` | `range` + `cooperative-sticky` |
# | default `isolation.level` | `read_committed` | `read_uncommitted` |
# | metadata refresh | `topic.metadata.refresh.interval.ms` | `metadata.max.age.ms` |
# | `request.timeout.ms` | the broker's wait for acks; the client gives up after `socket.timeout.ms` | the client's wait for any response, then a retry |
# | commit with no offsets given | the stored offsets beyond the committed ones; `_NO_OFFSET` when there are none | `commitSync()`: every assigned partition's position, even unchanged or behind the committed one |
# | prefetch | up to `queued.min.messages` per partition and `queued.max.messages.kbytes` in all; a partition found at those limits waits `fetch.queue.backoff.ms` (1 s) before its next fetch | one fetch per partition at a time (`max.partition.fetch.bytes`, `fetch.max.bytes`), fetched again once its records have all been returned |
#
# The simulator follows the left column. Where a lesson depends on the right one it shows both: 03 the
# two partitioners, 04 the two batch sizes, 05 the two auto-commits, the Java side through
# `eda_sim.kafka.java.KafkaConsumer`, a model of the Java consumer. Both prefetch rules are modelled:
# librdkafka's fetch queue is what the partition board's dark band shows (notebook 10), and the Java
# model fetches a partition again only when nothing of it is buffered.

# %% [markdown]
# ## The brokers of the chapter
#
# The chapter names four brokers. The ideas are the same; the words are not, and some ideas are missing.
# One row per idea of this course, one column per broker:

# %%
from eda_sim.course.nb16.world import broker_terms

broker_terms()

# %% [markdown]
# Two differences matter most when you move a design. **Pub/Sub has no partitions to see**: per-key order
# comes from ordering keys, and a subscription plays the part of a consumer group. **Kinesis and Event Hubs
# leave dead letters to you**, as Kafka's consumer groups do; Pub/Sub and Redis count deliveries for you,
# and so do Kafka 4's share groups (notebook 04), which archive a record after its last allowed delivery.

# %% [markdown]
# ## Exercise: translate the words
#
# Fill in each broker's own word for the Kafka idea, using the table above.

# %% tags=["exercise"]
from eda_sim.course.nb16.check import check_broker_terms

answer = {"Kinesis": {"partition": "?", "offset": "?"},
          "Event Hubs": {"consumer group": "?"},
          "Pub/Sub": {"consumer group": "?", "partition": "?"},
          "Redis Streams": {"committed offset": "?"}}
check_broker_terms(answer)

# %% tags=["solution"]
from eda_sim.course.nb16.check import check_broker_terms

### BEGIN SOLUTION
answer = {"Kinesis": {"partition": "shard", "offset": "sequence number"},
          "Event Hubs": {"consumer group": "consumer group"},
          "Pub/Sub": {"consumer group": "subscription", "partition": "ordering key"},
          "Redis Streams": {"committed offset": "XACK"}}
### END SOLUTION
check_broker_terms(answer)

# %% [markdown]
# ## Checklist: moving to a real broker
#
# - [ ] Handlers take `(event, ctx)` and nothing broker-specific, so they move unchanged.
# - [ ] Every consumer with a side effect is idempotent: a dead process's events come back.
# - [ ] You know how your broker redelivers (a rebalance from the committed offset, a claim of pending
#   entries, an ack deadline) and how long it waits before it does.
# - [ ] Poison events stop after a bounded number of tries, counted by your code or by the broker.
# - [ ] State inside a consumer process is a cache: it can be rebuilt from the log or a store.
# - [ ] Addresses and credentials come from the environment, never from the code.
#
# Next: [99 · recap](99_recap.ipynb).

# %%
backend.close()  # stops the throwaway server, if this notebook started one
