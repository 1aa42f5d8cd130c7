# %% [markdown]
# # 09 · Schemas and how they evolve
#
# **After this notebook you can** register event schemas in a registry shaped like Confluent's,
# read the bytes a schema-aware producer writes, predict which changes the registry accepts under
# BACKWARD, FORWARD, FULL and their transitive forms, for JSON Schema and for Avro, and evolve a
# schema without breaking the services on either side.
#
# **Time:** about 35 minutes.

# %% [markdown]
# ## A contract between strangers
#
# A producer and its consumers never call each other, and different teams deploy them on
# different days. What they share is the schema: which fields an event has, and of what type.
# Kafka itself stores bytes and checks nothing; the **schema registry** beside it keeps every
# version of each schema and refuses a new version that would break readers.
#
# Here is version 1 of a product-view event as a JSON Schema, and the registry client with
# confluent-kafka's names.

# %%
import json

from eda_sim.course.nb09.world import AVRO_V1, JSON_V1, OLD_VIEW
from eda_sim.kafka.schema_registry import Schema, SchemaRegistryClient

registry = SchemaRegistryClient()  # with Confluent's: SchemaRegistryClient({"url": ...})
schema_id = registry.register_schema("product-views-value", Schema(json.dumps(JSON_V1), "JSON"))
schema_id, registry.get_latest_version("product-views-value").version

# %% [markdown]
# The subject is `<topic>-value`: Confluent's default **topic name strategy** keeps one history
# per topic. (The record strategy uses the record's name instead, so several topics share one
# history; topic-record combines both so one topic can carry several event types.)

# %% [markdown]
# ## What goes on the wire
#
# A serializer checks the value against the schema, registers the schema if needed, and writes
# **one byte 0** (the magic byte), **four bytes of schema id**, then the payload. The record
# itself says which schema wrote it, so a consumer asks the registry by id.

# %%
from eda_sim.kafka.schema_registry import JSONSerializer, MessageField, SerializationContext

ctx = SerializationContext("product-views", MessageField.VALUE)
data = JSONSerializer(json.dumps(JSON_V1), registry)(OLD_VIEW, ctx)
list(data[:5]), data[5:]

# %% [markdown]
# The same record in Avro: the payload is binary with no field names in it (a string is its
# length and bytes, a double eight bytes), so a reader *must* have the writer's schema, which the
# id finds. It goes to a topic of its own: the registry refuses a second schema type in one
# subject (unless its mode is NONE). Compare the sizes.

# %%
from eda_sim.kafka.schema_registry import AvroSerializer

avro_ctx = SerializationContext("product-views-avro", MessageField.VALUE)
avro_data = AvroSerializer(registry, json.dumps(AVRO_V1))(OLD_VIEW, avro_ctx)
list(avro_data[:5]), avro_data[5:], len(avro_data), len(data)

# %% [markdown]
# A value that breaks the contract never reaches the topic: the serializer refuses it and names
# the field. Edit the value and run the cell again.

# %%
from eda_sim.kafka.schema_registry import SerializationError

try:
    JSONSerializer(json.dumps(JSON_V1), registry)({**OLD_VIEW, "price": "cheap"}, ctx)
except SerializationError as err:
    print(err)

# %% [markdown]
# ## One change, two formats
#
# Four changes a team makes to version 1: add a `device` field with a default, rename `price` to
# `amount`, remove `price`, and widen `quantity` (JSON `integer` to `number`, Avro `int` to
# `long`).
# Each is checked by the registry under JSON Schema (open, and closed with
# `"additionalProperties": false`) and under Avro. `ok` means accepted; otherwise the cell names
# the first problem the way the registry does. First the default mode, **BACKWARD**: can the new
# schema read what the latest old one wrote?

# %%
from eda_sim.course.nb09.world import CHANGES, readers, verdict, verdicts

verdicts("BACKWARD")

# %% [markdown]
# **FORWARD** asks the other way: can readers still on the old schema read what the new one
# writes? **FULL** asks both.

# %%
verdicts("FORWARD")

# %%
verdicts("FULL")

# %% [markdown]
# Two things stand out. In Avro, adding a field with a default passes FULL. In JSON Schema it
# passes nothing in both directions, open or closed. Why? Confluent's JSON rules do not assume a
# writer sticks to its declared fields. An **open** schema lets old records hold *any* extra
# property, `device` included, with any type, so giving `device` a type may refuse them:

# %%
print(verdict(CHANGES[0], "JSON open", "BACKWARD"))

# %% [markdown]
# A **closed** schema has the opposite problem: old readers refuse the new field.

# %%
print(verdict(CHANGES[0], "JSON closed", "FORWARD"))

# %% [markdown]
# ## Readers reading old and new records
#
# The verdicts are about real reads. Here each format writes an old record and a new one, and
# the other side reads it. A new Avro reader *fills in* the default for `device`; a JSON
# reader does not, because in JSON Schema a `default` is only an annotation and Confluent's
# deserializer leaves the field absent. A closed old JSON reader refuses the new field.

# %%
import pandas as pd

pd.set_option("display.max_colwidth", 70)
readers(CHANGES[0])

# %% [markdown]
# The rename. Avro's reader schema can say `"aliases": ["price"]` on `amount`: a new reader
# finds the old field under its old name. An old reader still needs `price` and has no default
# for it, so FORWARD fails. JSON Schema has no aliases at all.

# %%
readers(CHANGES[1])

# %% [markdown]
# Widening is a one-way street in both formats: a `number` reader accepts integers, and an Avro
# `long` reader promotes an `int`, but not the other way round. Avro even refuses a `long` that
# would fit, since it resolves types, not values.

# %%
readers(CHANGES[3])

# %% [markdown]
# ## What FULL really accepts in JSON Schema
#
# Between open and closed there is a third content model, **partially open**:
# `additionalProperties` (or `patternProperties`) is a schema. Extra properties are allowed
# when they fit it. A new optional property that this schema covers is safe in both directions:
# old records could only hold it with that type, and old readers accept it as an extra.

# %%
from eda_sim.course.nb09.world import JSON_V1

partial_v1 = {**JSON_V1, "additionalProperties": {"type": "string"}}
partial_v2 = {
    **partial_v1,
    "properties": {**JSON_V1["properties"], "device": {"type": "string"}},
}
full = SchemaRegistryClient()
full.set_compatibility("views-value", "FULL")
full.register_schema("views-value", Schema(json.dumps(partial_v1), "JSON"))
print(full.check_compatibility("views-value", Schema(json.dumps(partial_v2), "JSON")))

# %% [markdown]
# The price: the choice is made in version 1. Going from open to partially open later
# (`ADDITIONAL_PROPERTIES_NARROWED`) or to closed (`ADDITIONAL_PROPERTIES_REMOVED`) is itself
# refused under BACKWARD. Decide the content model when you write the first version.

# %% [markdown]
# ## Replaying history needs the transitive modes
#
# BACKWARD checks the new schema against the **latest** version only. That is enough for a
# consumer that keeps up with the topic. It is not enough for one that reads from the log start,
# as notebook 15's back-test does: it meets every version still in the log. Here a checkout event
# drops `coupon` in version 2 and brings it back as a number in version 3. Each step reads the
# one before it, so BACKWARD accepts version 3; a back-test reading with version 3 from the start
# then meets version-1 records it cannot read, and they go to the dead-letter topic.

# %%
from eda_sim.course.nb09.world import replay

registered, handled, dead = replay("BACKWARD")
registered, handled

# %%
print(dead[["original_offset", "message"]].to_string(index=False))

# %% [markdown]
# Under **BACKWARD_TRANSITIVE** the registry checks version 3 against every earlier version and
# refuses it up front, so the log never holds records the newest reader cannot read.

# %%
registered, handled, dead = replay("BACKWARD_TRANSITIVE")
for line in registered:
    print(line)
handled

# %% [markdown]
# **Who upgrades first?** Under BACKWARD, consumers first (new readers can read old data); under
# FORWARD, producers first; under FULL, either. If anything ever reads from the log start
# (replays, back-tests, a new service bootstrapping), use the `_TRANSITIVE` form.

# %% [markdown]
# ## Explore: pick a change, a format and a mode
#
# The control re-checks whenever you change a menu. Below it, one verdict as a plain cell for
# readers without a live kernel.

# %% tags=["nbval-ignore-output"]
from eda_sim.course.nb09.world import FORMATS
from eda_sim.views.widgets import explore

explore(
    lambda change, fmt, mode: print(verdict(change, fmt, mode)),
    change=list(CHANGES),
    fmt=list(FORMATS),
    mode=["BACKWARD", "FORWARD", "FULL", "NONE"],
)

# %%
print(verdict(CHANGES[1], "Avro", "FULL"))

# %% [markdown]
# ## Records that do not deserialize go to the dead-letter topic
#
# A service given a deserializer reads the wire format. A record with the wrong magic byte, a
# schema id the registry never gave, or a payload its schema refuses is not dropped: it goes to
# the dead-letter topic with the reason in its headers, and the records behind it keep flowing.

# %%
from eda_sim.kafka.schema_registry import JSONDeserializer, pack

serializer = JSONSerializer(json.dumps(JSON_V1), registry)
good = serializer(OLD_VIEW, ctx)
broken = [
    b"\x01" + good[1:],  # wrong magic byte
    pack(99, good[5:]),  # a schema id the registry never gave
    good[:5] + b'{"user_id": "u9"}',  # no price: the schema refuses it
]

# %%
from eda_sim import Simulation
from eda_sim.services.retries import dead_letters
from eda_sim.services.service import Service
from eda_sim.services.load import Source

sim = Simulation(seed=7)
sim.create_topic("product-views", partitions=1)
items = [{"time": 0.1, "type": "UserViewedProduct", **OLD_VIEW}, *broken]
Source(sim, "web", "product-views", items, value_serializer=serializer)
reader = JSONDeserializer(json.dumps(JSON_V1), schema_registry_client=registry)
seen = []
handlers = {"UserViewedProduct": lambda event, c: seen.append(event.payload["price"])}
Service(sim, "pricing", consumes="product-views", handlers=handlers, value_deserializer=reader)
sim.run(until=2)

# %%
print("handled prices:", seen)
print(dead_letters(sim, "product-views.DLT")[["original_offset", "message"]].to_string(index=False))

# %% [markdown]
# ## Protocol Buffers, for comparison
#
# Protobuf (the registry's third format) puts **field numbers** on the wire, not names. Its rules
# follow from that:
#
# | change | Protobuf on the wire |
# |---|---|
# | add a field with a new number | compatible: old readers skip the unknown number, new readers see the type's zero value |
# | rename a field, same number | compatible on the wire (names are not there); code and JSON renderings change |
# | remove a field | compatible if its number (and name) are `reserved`, so nobody reuses them |
# | reuse a number with another type | breaks readers: the bytes are read as the wrong type |
# | `int32` to `int64` | compatible (same wire type, values are widened) |
#
# ## Pitfall: "renaming a field is a small change"
#
# It depends on the format, and in none of them is it free:

# %%
pd.DataFrame(
    {
        "BACKWARD": verdicts("BACKWARD").loc[CHANGES[1]],
        "FORWARD": verdicts("FORWARD").loc[CHANGES[1]],
    }
)

# %% [markdown]
# - **JSON Schema**: a rename is a removal plus an addition, refused in at least one direction
#   for every content model, and no reader finds the old value under the new name.
# - **Avro**: an alias on the new field lets new readers read old records (BACKWARD), but old
#   readers need the old field: not FORWARD, not FULL.
# - **Protobuf**: keep the number and the rename is invisible on the wire.
#
# The safe way everywhere: add the new field, write both for a while, move readers over, then
# retire the old one.

# %% [markdown]
# ## Exercise: a change FULL accepts
#
# The product team wants to know which device a view came from, and the subject
# `product-views-value` is in **FULL** mode. Version 1 (`VIEW_V1` below) was designed partially
# open: extra properties are allowed when they are strings. Write `my_v2`, version 1 plus a
# `device` field, that the registry accepts. The check registers it, then writes an old and a new
# record and reads each with the other version.

# %% tags=["exercise"]
import copy

from eda_sim.course.nb09.check import VIEW_V1, check_schema_evolution

my_v2 = copy.deepcopy(VIEW_V1)
# add "device" to my_v2["properties"] here
check_schema_evolution(my_v2)

# %% tags=["solution"]
import copy

from eda_sim.course.nb09.check import VIEW_V1, check_schema_evolution

### BEGIN SOLUTION
my_v2 = copy.deepcopy(VIEW_V1)
my_v2["properties"]["device"] = {"type": "string"}  # optional, and covered by the extras' schema
### END SOLUTION
check_schema_evolution(my_v2)

# %% [markdown]
# ## Pitfall checklist: schema evolution
#
# - [ ] Producers serialize through the registry, so every record carries its schema id.
# - [ ] You know your subject's mode, and use the `_TRANSITIVE` form if anyone replays from the start.
# - [ ] JSON Schema: the content model (open, closed, partially open) is chosen in version 1.
# - [ ] Avro: new fields have defaults; renames use aliases and still need a plan for old readers.
# - [ ] No renames and no type changes in place: add, migrate, then retire.
# - [ ] A JSON `default` is not filled in by a reader; an Avro default is.
# - [ ] Records that do not deserialize go to a dead-letter topic with the reason, not to `/dev/null`.
#
# Next: [10 · storms, backpressure and monitoring](10_storms_backpressure_and_monitoring.ipynb).
