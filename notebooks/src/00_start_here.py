# %% [markdown]
# # 00 · Start here
#
# This course teaches event-driven architecture for AI systems by letting you *watch* it happen.
# Everything runs in a small simulated world with a virtual clock: events, producers, a broker with
# partitions and offsets, consumer groups that crash and recover.
#
# **After this notebook you can** build a tiny world, send events through it, and read what happened
# from its journal.
#
# **Time:** 5 minutes.

# %% [markdown]
# ## One deterministic world
#
# A `Simulation` owns a virtual clock, one seeded random generator, a broker and a *journal*: a record of
# everything that happened. The same seed always gives the same journal, so your results match your
# neighbour's.

# %%
from eda_sim import Simulation

sim = Simulation(seed=42)
sim.create_topic("page-views", partitions=3)
sim

# %% [markdown]
# ## Produce a few events
#
# A producer publishes records to a topic without knowing who will read them. `flush()` moves the virtual
# clock forward until the broker has acknowledged every record.

# %%
producer = sim.producer()
for i in range(6):
    producer.produce("page-views", key=f"user-{i % 2}", value=f"viewed product {i}")
producer.flush()
sim.now

# %% [markdown]
# ## Read the journal
#
# Every picture in this course is drawn from the journal. Here it is as a table: the producer sent
# batches, the broker appended them to partitions, and the acknowledgements came back.

# %%
sim.journal.frame()[["time", "kind", "actor", "topic", "partition", "offset", "count"]]

# %% [markdown]
# Try it: change `seed=42` or the number of users (`i % 2`) and run the notebook again.
# Which partitions do the users land on?
