# %% [markdown]
# # 07 · Schemas and how they evolve
#
# **After this notebook you can** write an event's schema, register versions of it, predict which
# changes a registry accepts under BACKWARD, FORWARD and FULL compatibility, and evolve a schema
# without breaking the services on either side.
#
# **Time:** about 25 minutes.

# %% [markdown]
# ## A contract between strangers
#
# A producer and its consumers never call each other, and they are deployed on different days by
# different teams. The schema is the contract they share: which fields an event has and of what type.
# Here schemas are JSON Schema. Kafka shops also use **Avro** (compact binary, evolution through
# defaults) and **Protocol Buffers** (numbered fields; never reuse a number); the rules below carry over.

# %%
from eda_sim.schemas import SchemaRegistry, conform, object_schema, validate

v1 = object_schema(
    {"user_id": "string", "product_id": "string", "price": "number"},
    required=["user_id", "product_id", "price"],
    title="UserViewedProduct",
)
validate({"user_id": "u7", "product_id": "p42", "price": 19.5}, v1)  # fine: returns nothing
v1

# %% [markdown]
# A payload that breaks the contract is refused with the field and the reason. Edit the payload and
# run the cell again.

# %%
try:
    validate({"user_id": "u7", "price": "cheap"}, v1)
except ValueError as err:
    print(err)

# %% [markdown]
# ## A registry guards the versions
#
# A schema registry keeps every version of a *subject* (by convention `<topic>-value`) and refuses a new
# version that would break readers. Its default mode, as in Confluent's registry, is **BACKWARD**:
# consumers on the new schema must be able to read events written with the old one.

# %%
registry = SchemaRegistry()
registry.register("product-views-value", v1)
registry.table()

# %% [markdown]
# ## Which changes are safe?
#
# Five candidate version-2 schemas, each one change away from version 1, checked in three modes.
# BACKWARD asks "can a new reader read old data?", FORWARD "can an old reader read new data?",
# FULL asks both.

# %%
fields = {"user_id": "string", "product_id": "string", "price": "number"}
req = ["user_id", "product_id", "price"]
candidates = {
    "add optional 'device' with a default": object_schema(
        {**fields, "device": ("string", "web")}, req
    ),
    "add required 'device'": object_schema({**fields, "device": "string"}, req + ["device"]),
    "change 'price' to a string": object_schema({**fields, "price": "string"}, req),
    "rename 'price' to 'amount'": object_schema(
        {"user_id": "string", "product_id": "string", "amount": "number"},
        ["user_id", "product_id", "amount"],
    ),
    "drop required 'price'": object_schema({"user_id": "string", "product_id": "string"}, req[:2]),
}

# %%
import pandas as pd

from eda_sim.schemas import compare

verdicts = pd.DataFrame(
    {
        mode: {
            name: "accepted" if compare(v1, v2, mode).compatible else "refused"
            for name, v2 in candidates.items()
        }
        for mode in ("BACKWARD", "FORWARD", "FULL")
    }
)
verdicts

# %% [markdown]
# A refusal says which rule broke and for which field. The rename is the classic trap: to a reader it
# looks like one field removed and another added, so it breaks **both** directions.

# %%
print(compare(v1, candidates["rename 'price' to 'amount'"], "FULL"))

# %% [markdown]
# ## Old and new consumers side by side
#
# Register the safe change as version 2. An old consumer (reading with v1) ignores the field it does
# not know; a new consumer (reading with v2) fills in the default when an old event lacks the field.

# %%
v2 = candidates["add optional 'device' with a default"]
registry.register("product-views-value", v2)
new_event = {"user_id": "u7", "product_id": "p42", "price": 19.5, "device": "ios"}
old_event = {"user_id": "u8", "product_id": "p13", "price": 5.0}
conform(new_event, v1), conform(old_event, v2)

# %% [markdown]
# **Who upgrades first?** Under BACKWARD, upgrade the consumers first (they can read old and new events);
# under FORWARD, the producers first; under FULL, either. Try it: change the mode in `compare(...)` above,
# or add a candidate of your own, and rerun the table.

# %% [markdown]
# ## Explore: pick a change and a mode
#
# The control re-checks a candidate whenever you change a menu. Below it, the same verdict as a plain
# cell, for readers without a live kernel.

# %% tags=["nbval-ignore-output"]
from eda_sim.widgets import explore

explore(
    lambda change, mode: print(compare(v1, candidates[change], mode)),
    change=list(candidates),
    mode=["BACKWARD", "FORWARD", "FULL", "NONE"],
)

# %%
print(compare(v1, candidates["add required 'device'"], "BACKWARD"))

# %% [markdown]
# ## Events that break the contract go to the dead-letter topic
#
# A service can read with its own schema. An event that does not fit is not dropped: it goes to the
# dead-letter topic with the validation error, and the events behind it keep flowing.

# %%
from eda_sim import Simulation
from eda_sim.retries import dead_letters
from eda_sim.services import Service, Source

sim = Simulation(seed=7)
sim.create_topic("product-views", partitions=2)
events = [
    {"time": 0.1 * i, "type": "UserViewedProduct", **old_event, "price": p}
    for i, p in enumerate([5, "n/a", 7])
]
Source(sim, "frontend", "product-views", events, key="user_id")
seen = []
Service(
    sim,
    "pricing",
    consumes="product-views",
    schemas={"UserViewedProduct": v2},
    handlers={"UserViewedProduct": lambda event, ctx: seen.append(event.payload["price"])},
)
sim.run(until=2)
seen, dead_letters(sim, "product-views.DLT")[["original_offset", "error", "message"]]

# %% [markdown]
# ## Exercise: evolve the schema safely
#
# The product team wants to know which device a view came from. Write `my_v2`: version 1 plus a
# `device` field, such that a registry in **FULL** mode accepts it. Run the cell and read the feedback.

# %% tags=["exercise"]
from eda_sim.exercises.nb07 import check_schema_evolution

my_v2 = object_schema(
    {"user_id": "string", "product_id": "string", "price": "number"},
    required=["user_id", "product_id", "price"],
)
check_schema_evolution(my_v2)

# %% tags=["solution"]
from eda_sim.exercises.nb07 import check_schema_evolution

### BEGIN SOLUTION
my_v2 = object_schema(
    {
        "user_id": "string",
        "product_id": "string",
        "price": "number",
        "device": ("string", "unknown"),
    },
    required=["user_id", "product_id", "price"],
)
### END SOLUTION
check_schema_evolution(my_v2)

# %% [markdown]
# ## Pitfall checklist: schema evolution
#
# - [ ] Every event type has a registered schema, and producers validate before they publish.
# - [ ] New fields are optional and have defaults; nothing new is required.
# - [ ] No renames and no type changes in place: add the new field, migrate, then retire the old one.
# - [ ] You know your compatibility mode and upgrade the right side first.
# - [ ] Consumers read with their own schema and ignore what they do not know.
# - [ ] Events that fail validation go to a dead-letter topic with the error, not to `/dev/null`.
#
# Next: [08 · storms, backpressure and monitoring](08_storms_backpressure_and_monitoring.ipynb).
