# %% [markdown]
# # 08 · Retries and dead letters
#
# **After this notebook you can** tell a transient failure from a permanent one, retry with backoff,
# park a poison event in a dead-letter topic with its origin and error, re-drive it after a fix,
# and show that every event is accounted for.
#
# **Time:** about 25 minutes.

# %% [markdown]
# ## Two kinds of failure
#
# A **transient** failure goes away by itself: a timeout, a service restarting, a lock held a moment too
# long. Trying again a little later works. A **permanent** failure does not: a field the model cannot
# handle, a bug this event triggers. Trying again only wastes time, and while a consumer retries, the
# events behind it on the same partition wait.
#
# Our world: a fraud scorer reads `TransactionSubmitted` events. Transactions 3, 11 and 23 hit a flaky
# feature store (two failures, then success). Transactions 7 and 19 carry a currency the model cannot
# score: poison.

# %%
from eda_sim.services.retries import Retry, dead_letters, redrive
from eda_sim.course.nb08.world import scoring_world
from eda_sim.services.service import reconcile

sim, svc = scoring_world(retry=None)        # no retries: one try, then the dead-letter topic
reconcile(sim, svc)

# %% [markdown]
# Without retries the three flaky transactions end up dead-lettered with the poison. Not good: they
# would have worked a moment later.

# %% [markdown]
# ## Retry with exponential backoff
#
# `Retry(attempts=3, backoff=0.2, factor=2)` tries up to three times, waiting 0.2 s, then 0.4 s on the
# virtual clock. Errors listed as permanent (`ValueError`, `KeyError`, `TypeError`, `PermanentError`)
# skip the retries.

# %%
sim, svc = scoring_world(retry=Retry(attempts=3, backoff=0.2))
j = sim.journal.frame(kind="retry_scheduled")
j[["time", "partition", "offset", "detail"]]

# %%
reconcile(sim, svc)

# %% [markdown]
# ## The dead-letter topic
#
# The poison events are not lost and did not block anyone: each sits in `transactions.DLT` with its
# original key, value and timestamp, plus headers saying where it came from and why it failed.

# %%
dead_letters(sim, "transactions.DLT")[["original_partition", "original_offset", "error", "message", "attempts", "key"]]

# %% [markdown]
# ## "Just keep retrying" blocks the partition
#
# Treat everything as transient and retry forty times, and the first poison event holds its partition
# hostage: the events behind it wait, and the lag on that partition only grows.

# %%
stubborn, svc2 = scoring_world(retry=Retry(attempts=40, backoff=0.5, permanent=()))
reconcile(stubborn, svc2)[["produced", "processed", "dead_lettered", "in_flight"]]

# %%
stubborn.offsets("fraud-scorer", topic="transactions")[["topic", "partition", "log_end", "committed", "lag"]]

# %% [markdown]
# All four cards hash (CRC32, confluent-kafka's default) to partition 0 of `transactions`, so the
# partition the poison event holds is the one with every transaction behind it; partition 1 gets none
# (notebook 03 shows why).

# %% [markdown]
# Note the price of the dead-letter topic: transaction 7 is now behind later transactions of the same
# card. A dead letter breaks per-key order for its key; a consumer that needs strict order per card must
# also park the later events of that card, or accept that a re-driven event arrives late.

# %% [markdown]
# ## Re-drive after the fix
#
# Once the model learns the new currency, send the dead letters back to their original topic. The
# re-drive remembers how far it got, so running it twice sends nothing twice.

# %%
sent = redrive(sim, "transactions.DLT", fix=lambda value: value.replace(b'"XXX"', b'"USD"'))
sim.run(until=sim.now + 2)
sent, redrive(sim, "transactions.DLT"), sorted(svc.scored)[-3:]

# %% [markdown]
# ## Every event accounted for
#
# At any instant, produced = processed + dead-lettered + in flight (+ late, sent aside by a reorder
# window; + expired, removed by retention first; + lost, committed before handling by an at-most-once
# service that then crashed: all zero here). Counts that do not reconcile mean something was dropped
# silently. Each offset counts once. Delivery is at least once, so a crash before the commit can hand
# a poison event over again and park a second copy in the dead-letter topic; with `idempotent=True`
# the inbox remembers that the event was dead-lettered and skips the copy.

# %%
import pandas as pd

checks = []
for t in (0.5, 1.5, 3.0):
    sim_t, svc_t = scoring_world(Retry(attempts=3, backoff=0.2), until=t)
    checks.append(reconcile(sim_t, svc_t).assign(at=t))
pd.concat(checks)[["at", "produced", "processed", "dead_lettered", "in_flight", "balanced"]]

# %% [markdown]
# ## Try it: attempts and backoff
#
# Change the number of tries and the first backoff; watch how many transactions are scored, parked,
# or still stuck after 20 virtual seconds, how many calls the handler took, and how long one event held up
# the others on its partition.

# %% tags=["nbval-ignore-output"]
from eda_sim.course.nb08.world import worst_stall
from eda_sim.views.widgets import explore

def outcome(attempts, backoff, treat_all_as_transient):
    policy = Retry(attempts=attempts, backoff=backoff, permanent=() if treat_all_as_transient else Retry.permanent)
    s, v = scoring_world(policy)
    print(reconcile(s, v)[["processed", "dead_lettered", "in_flight"]].to_string(index=False))
    print(f"handler calls: {sum(v.tries.values())}; longest hold: {worst_stall(s):.2f} s")

explore(outcome, attempts=(1, 20, 1, 3), backoff=(0.05, 2.0, 0.05, 0.2), treat_all_as_transient=False)

# %%
outcome(3, 0.2, False)

# %% [markdown]
# ## Exercise: pick the policy
#
# Set `my_retry` so that every flaky transaction is scored, both poison transactions reach the
# dead-letter topic without being retried, and no event holds its partition for more than 2 s.

# %% tags=["exercise"]
from eda_sim.course.nb08.check import check_retry_policy

my_retry = Retry(attempts=1)
check_retry_policy(my_retry)

# %% tags=["solution"]
from eda_sim.course.nb08.check import check_retry_policy

### BEGIN SOLUTION
my_retry = Retry(attempts=3, backoff=0.2, factor=2.0)
### END SOLUTION
check_retry_policy(my_retry)

# %% [markdown]
# ## Pitfall checklist: failures
#
# - [ ] Each handler knows which of its errors are transient and which are permanent.
# - [ ] Retries are bounded, with backoff, and short enough not to stall the partition.
# - [ ] After the last try, the event goes to a dead-letter topic with its origin and error.
# - [ ] Someone watches the dead-letter topic, and there is a re-drive procedure after a fix.
# - [ ] You know that a dead letter breaks per-key order for its key.
# - [ ] Produced = processed + dead-lettered + in flight, at every instant.
#
# Next: [09 · schemas and evolution](09_schemas_and_evolution.ipynb).
