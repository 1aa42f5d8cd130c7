# %% [markdown]
# # 12 · Tracing a request across services
#
# **After this notebook you can** follow one request through every event it caused, read where its time
# went, and find the hop where it failed or got stuck.
#
# **Time:** about 20 minutes.

# %% [markdown]
# ## The flow we trace
#
# The course's running example: an uploader sends raw interaction data, a feature service turns it into
# per-user features, a real-time inference service scores requests from the front end with the latest
# features, and a model monitor watches the scores and raises a drift alert. Nobody calls anybody: each
# service reacts to events. That is what makes a slow or broken request hard to follow, unless every event
# carries two ids.

# %%
from eda_sim.course.nb00.world import ai_flow
from eda_sim.views.widgets import show

sim = ai_flow(seed=1, until=20, drift_at=10)
show(sim, "flow")

# %% [markdown]
# ## Correlation and causation
#
# The first event of a request gets a **correlation id** (its own id). Every event a handler publishes in
# reaction keeps that correlation id and records the event that caused it as its **causation id**. The
# service layer does this for every `ctx.emit`, so the handler writer cannot forget.

# %%
from eda_sim.services.tracing import correlation_ids, trace

requests = [c for c in correlation_ids(sim) if trace(sim, c).iloc[0].type == "InferenceRequested"]
cid = max(requests, key=lambda c: trace(sim, c).depth.max())  # the deepest: its request led to an alert
trace(sim, cid)[["event_id", "type", "causation_id", "depth", "service", "queue_time", "processing_time"]]

# %% [markdown]
# Read it as a tree: the request (depth 0) caused a recommendation (depth 1), which the monitor handled,
# and which here tipped the monitor into a drift alert (depth 2). **Queue time** is the time the event
# waited in its topic before a handler picked it up; **processing time** the time inside the handler.
# The alert's are empty: no service of this flow consumes alerts.

# %%
from eda_sim.views import draw_trace, trace_graph

list(trace_graph(sim, cid).edges(data="delay"))

# %%
draw_trace(sim, cid)

# %% [markdown]
# ## Where did it get stuck?
#
# Break one hop: the model monitor cannot reach its store and fails every event. The request's trace now
# ends in a dead-letter topic, and `where_stuck` says which hop, which event and why.

# %%
from eda_sim.services.tracing import where_stuck

broken = ai_flow(seed=1, until=10, break_hop="model-monitor", name="broken")
stuck_cid = [c for c in correlation_ids(broken) if trace(broken, c).iloc[0].type == "InferenceRequested"][0]
where_stuck(broken, stuck_cid)["reason"]

# %%
draw_trace(broken, stuck_cid)

# %% [markdown]
# A crash looks different: nothing failed, the event just waits. The crashed instance still owns its
# partitions until the group gives up on it after `session.timeout.ms`, and nobody else may take them.

# %%
crashed = ai_flow(seed=1, until=6, crash=("realtime-inference", 4.0), name="crashed")
where_stuck(crashed, correlation_ids(crashed)[-1])["reason"]

# %% [markdown]
# ## Try it: break a hop, pick a request
#
# Choose which service fails and which request (by position) to trace. Look for the first vermillion
# bar: everything after it never happened.

# %% tags=["nbval-ignore-output"]
from eda_sim.views.widgets import explore

def trace_of(break_hop, request):
    world = ai_flow(seed=1, until=10, break_hop=None if break_hop == "none" else break_hop, name="explore")
    ids = [c for c in correlation_ids(world) if trace(world, c).iloc[0].type == "InferenceRequested"]
    return draw_trace(world, ids[min(request, len(ids) - 1)])

explore(trace_of, break_hop=["none", "feature-service", "realtime-inference", "model-monitor"], request=(0, 10, 1, 3))

# %%
trace_of("realtime-inference", 3)

# %% [markdown]
# ## Latency across the whole flow
#
# Traces explain one request; metrics watch all of them. End-to-end latency percentiles per second
# (from each hop's publication to the end of its handling) show when the flow slowed down.

# %%
from eda_sim.services.metrics import metrics
from eda_sim.views import draw_metrics

m = metrics(sim, bucket=2.0)
draw_metrics(m[["latency_p50", "latency_p95", "latency_p99"]], thresholds={"latency_p99": 0.2})

# %% [markdown]
# ## Exercise: do not break the trace
#
# This enricher publishes an `OrderEnriched` event for each order, but builds it from scratch, so every
# enriched order starts a new trace. Fix the handler so the trace continues.

# %% tags=["exercise"]
from eda_sim.course.nb12.check import check_trace_carried
from eda_sim.services.service import new_event, publish

def enrich(event, ctx):
    enriched = new_event(ctx.sim, "OrderEnriched", {"order": event.payload["order"], "vip": True}, key=event.key)
    publish(ctx.service.producer, "orders-enriched", enriched)

check_trace_carried(enrich)

# %% tags=["solution"]
from eda_sim.course.nb12.check import check_trace_carried

def enrich(event, ctx):
    ### BEGIN SOLUTION
    ctx.emit("orders-enriched", "OrderEnriched", {"order": event.payload["order"], "vip": True})
    ### END SOLUTION

check_trace_carried(enrich)

# %% [markdown]
# ## Pitfall checklist: debugging and traceability
#
# - [ ] Every event carries a correlation id and a causation id, set by the platform, not by hand.
# - [ ] Handlers publish through one helper that copies them (here `ctx.emit`).
# - [ ] You can list a request's events and timings across services from the log.
# - [ ] Failed hops end in a dead-letter topic that keeps the ids, so a trace ends somewhere visible.
# - [ ] Queue time and processing time are measured separately: a slow consumer and a long queue need
#   different fixes.
# - [ ] Latency percentiles and lag are watched with alert thresholds (notebook 10).
#
# Next: [13 · real-time recommendations](13_realtime_recommendations.ipynb).
