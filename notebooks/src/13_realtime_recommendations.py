# %% [markdown]
# # 13 · Real-time recommendations
#
# **After this notebook you can** build a service that learns a model from the events it consumes,
# publish what it decides as events for other services, send malformed input to a dead-letter topic with
# the reason, and measure from the events whether the model beats simple baselines as views arrive.
#
# **Time:** about 30 minutes.

# %% [markdown]
# ## The worked example, running
#
# A shop's frontend publishes a `UserViewedProduct` event each time someone opens a product page. A
# recommendation service consumes those events, learns from them, and publishes `RecommendationGenerated`
# events that other services (the home page, an e-mail job) can use. Nobody calls the recommender: it
# reacts. Two more services read the same views, each in its own consumer group: simple baselines we
# will compare the recommender with. Ten virtual minutes of shopping by 80 users:

# %%
from eda_sim.course.nb13.world import recommendation_world
from eda_sim.views.widgets import show

sim = recommendation_world(seed=10)
show(sim, "flow")

# %% [markdown]
# The simulator runs one broker and keeps one copy of each partition; a real Kafka cluster replicates
# every partition to several brokers, which changes nothing in what follows.

# %% [markdown]
# ## What the frontend sends
#
# Views are keyed by `user_id`, so one shopper's views all land on the same partition and are consumed in
# the order they happened: the model sees each shopper's path through the shop as it was.

# %%
import pandas as pd
from eda_sim.course.nb13.world import frontend_events

views = pd.DataFrame([e for e in frontend_events(seed=10) if isinstance(e, dict)])
views[["time", "user_id", "session_id", "product_id", "category"]].head(6)

# %% [markdown]
# ## A model learned from the stream
#
# The recommender keeps an **item-to-item** model: each time a shopper views a product, it counts that
# product as "viewed near" each of the shopper's last few views, if they are less than `window` seconds
# apart. To recommend, it ranks the neighbours of the shopper's latest views. There is no training job:
# each event makes the model a little better. Here are the products most often viewed near a popular one.

# %%
model = sim.services["recommender"].model
top = views["product_id"].value_counts().index[0]
top, model.neighbours(top, k=5)

# %% [markdown]
# ## Decisions as events
#
# For every view it learns from, the service publishes a `RecommendationGenerated` event: the shopper,
# five products, the model, and its version. An online model changes with every event, so its version is
# simply the number of views it has learned from: anyone reading the topic later can tell which state of
# the model made which recommendation.

# %%
from eda_sim.course.nb13.world import recommendation_events

recs = recommendation_events(sim, model="item-to-item")
recs.iloc[[0, 1, 2, 500, 1000]]

# %% [markdown]
# The very first recommendations are short or generic: the model has seen almost nothing. By the 500th
# view it has learned which products go together.

# %% [markdown]
# ## Malformed views go to the dead-letter topic
#
# The frontend has bugs too. Six of its events are broken: three are cut off in the middle of the JSON,
# three have no `product_id`. The service cannot learn from them, and retrying will not help, so each one
# goes to `product-views.DLT` with the error in its headers, and the stream moves on.

# %%
from eda_sim.services.retries import dead_letters
from eda_sim.course.nb13.world import DLT

dead_letters(sim, DLT)[["original_partition", "original_offset", "error", "message"]]

# %%
from eda_sim.services.service import reconcile

reconcile(sim, "recommender")

# %% [markdown]
# ## Is it any good? Hit rate over time
#
# A recommendation is a **hit** when the shopper's next view is one of the five products recommended to
# them just before. We measure it the way an analytics job downstream would, from the two topics alone.
# The two baselines publish their own `RecommendationGenerated` events: the most **popular** products so
# far, and **random** products seen so far.

# %%
from eda_sim.course.nb13.world import hit_rate_over_time, hit_rates

hit_rates(sim)

# %%
import matplotlib.pyplot as plt

curve = hit_rate_over_time(sim, bucket=60.0)
fig, ax = plt.subplots(figsize=(7, 3.2))
curve.plot(ax=ax, marker="o")
ax.set(xlabel="virtual time (s), per minute", ylabel="hit rate at 5", ylim=(0, 0.7))
ax.set_title("Hit rate of each model on the shopper's next view")
plt.show()

# %% [markdown]
# The item-to-item model starts low (0.125 in the first minute, when it knows almost nothing) and climbs
# as views arrive: from the fifth minute on it stays above 0.5 (the fourth minute dips to 0.456), so more
# than every second view was among the five products recommended just before it. Popularity stays under
# 0.12: it recommends the same products to everyone.

# %% [markdown]
# ## Try it: list length and window
#
# `k` is how many products are recommended; `window` how far apart (in seconds) two views of one shopper
# may be and still count as "viewed together". Watch both models' hit rates.

# %% tags=["nbval-ignore-output"]
from eda_sim.course.nb13.world import compare_models
from eda_sim.views.widgets import explore

def compare(k, window):
    return compare_models(seed=10, k=k, window=window, models=("item-to-item", "popularity"))

explore(compare, k=(1, 10, 1, 5), window=(1.0, 120.0, 1.0, 2.0))

# %%
compare(5, 2.0)

# %% [markdown]
# A longer list hits more often for **every** model, so compare models at the same `k`. A window shorter
# than the usual gap between two views links almost nothing, and the model falls back to popular products.

# %% [markdown]
# ## Exercise: beat popularity
#
# The page has room for five products. Choose `k` (at most 5) and `window` (seconds) so that the
# recommender's hit rate beats the popularity baseline's by at least 0.4.

# %% tags=["exercise"]
from eda_sim.course.nb13.check import check_recommender_settings

k, window = 5, 2.0
check_recommender_settings(k, window)

# %% tags=["solution"]
from eda_sim.course.nb13.check import check_recommender_settings

### BEGIN SOLUTION
k, window = 5, 120.0
### END SOLUTION
check_recommender_settings(k, window)

# %% [markdown]
# ## Summary
#
# - A model can live inside a consumer: it learns from each event and publishes what it decides as events.
# - Keying by user keeps each shopper's events in order, which is what a sequence model needs.
# - Each output event names the model and its version, so later you can tell who decided what.
# - Malformed input is parked in a dead-letter topic with the reason; the stream keeps flowing.
# - Measure a model against baselines on the same events, over time, from the events themselves.
#
# Next: [14 · the fraud-detection challenge](14_fraud_detection_challenge.ipynb).
