# %% [markdown]
# # 01 · Events: immutable facts
#
# **After this notebook you can** build an event, explain why nobody may change it once it exists,
# turn it into JSON and back, and tell an event from a command.
#
# **Time:** about 15 minutes.

# %% [markdown]
# ## What an event is
#
# An event is a record that something *happened*: a user viewed a product, a payment was captured,
# a model was deployed. It has a type named in the past tense, a key saying what it is about, a payload
# with the details, and the time it happened. Because it describes the past, it never changes:
# you can add a new event that corrects an old one, but you cannot edit history.

# %%
from eda_sim import Event

viewed = Event.create("UserViewedProduct", {"user_id": "u7", "product_id": "p42", "category": "books"},
                      key="u7", time=12.5, id="evt-000001")
viewed

# %% [markdown]
# The event also carries a **correlation id** (which request or conversation it belongs to; a first
# event is its own) and a **causation id** (which event caused it; none for a first event), plus a
# **schema version** for its payload. Later notebooks use them to trace a request across services.

# %%
viewed.correlation_id, viewed.causation_id, viewed.schema_version

# %% [markdown]
# ## Try to change it
#
# A frozen event refuses every change: its fields, and the payload inside it too.

# %%
try:
    viewed.type = "UserBoughtProduct"
except AttributeError as err:
    print("refused:", err)
try:
    viewed.payload["product_id"] = "p1"
except TypeError as err:
    print("refused:", err)

# %% [markdown]
# To record a correction you publish a *new* event (say `ProductViewCorrected`) that refers to the
# old one. Consumers that already reacted to the first event see the correction as a second fact.

# %% [markdown]
# ## Kinds of events in an AI system
#
# | kind | examples | who usually publishes it |
# |---|---|---|
# | data ingestion | `RawDataUploaded`, `SensorReadingReceived` | an upload service, a device gateway |
# | user interaction | `UserViewedProduct`, `UserSearchedQuery` | the web or app front end |
# | inference request | `TransactionSubmitted`, `SupportQuestionAsked` | the system that needs a prediction |
# | model lifecycle | `ModelDeployed`, `ModelDriftDetected` | the deployment pipeline, a monitor |
# | feature update | `UserProfileUpdated`, `InventoryLevelChanged` | the service owning that data |

# %% [markdown]
# ## Events travel as JSON
#
# A broker moves bytes. An event becomes JSON text on the way in and an event again on the way out.
# The time is written as an ISO 8601 UTC timestamp; the simulation's clock starts at 2026-01-01 00:00 UTC.

# %%
text = viewed.to_json()
print(text)
Event.from_json(text) == viewed

# %% [markdown]
# Try it: move the time and pick a user; the event is rebuilt, written as JSON and read back.
# Look at how virtual seconds become a UTC timestamp, and that the copy always equals the original.

# %% tags=["nbval-ignore-output"]
from eda_sim.views.widgets import explore

def round_trip(time, user):
    event = Event.create("UserViewedProduct", {"user_id": user, "product_id": "p42"}, key=user, time=time,
                         id="evt-000002")
    print(event.to_json(), "\nequal after the round trip:", Event.from_json(event.to_json()) == event)

explore(round_trip, time=(0.0, 120.0, 0.25, 61.5), user=["u7", "u8", "u9"])

# %%
round_trip(61.5, "u7")

# %% [markdown]
# Broken input gets a clear answer that says what is wrong, never a silent guess.
# Change the text below (drop a field, break the timestamp) and see what the error says.

# %%
broken = '{"id": "evt-9", "type": "UserViewedProduct", "time": "yesterday", "payload": {}}'
try:
    Event.from_json(broken)
except ValueError as err:
    print(err)

# %% [markdown]
# ## Events are not commands
#
# A **command** asks one specific owner to do something (`ShipOrder`, `RetrainModel`): it is
# imperative, it has one receiver, and the receiver may say no. An **event** states a fact
# (`OrderShipped`, `ModelRetrained`): any number of services may react, or none, and the sender
# does not wait to hear about it. Designs go wrong when commands are dressed up as events:
# the sender secretly depends on one receiver doing one thing.

# %% [markdown]
# ## Exercise: sort the messages
#
# Replace each `"?"` with `"event"` or `"command"`, run the cell, and read the feedback.

# %% tags=["exercise"]
from eda_sim.course.nb01.check import check_events_vs_commands

answer = {
    "UserViewedProduct": "?",
    "RecommendProductsForUser": "?",
    "ModelDriftDetected": "?",
    "RetrainFraudModel": "?",
    "PaymentCaptured": "?",
    "SendWelcomeEmail": "?",
    "InventoryLevelChanged": "?",
    "ScoreTransaction": "?",
}
check_events_vs_commands(answer)

# %% tags=["solution"]
from eda_sim.course.nb01.check import check_events_vs_commands

### BEGIN SOLUTION
answer = {
    "UserViewedProduct": "event",
    "RecommendProductsForUser": "command",
    "ModelDriftDetected": "event",
    "RetrainFraudModel": "command",
    "PaymentCaptured": "event",
    "SendWelcomeEmail": "command",
    "InventoryLevelChanged": "event",
    "ScoreTransaction": "command",
}
### END SOLUTION
check_events_vs_commands(answer)

# %% [markdown]
# ## What to remember
#
# - An event is an immutable, timestamped fact, named in the past tense.
# - It carries ids that tie it to the request it belongs to and the event that caused it.
# - It crosses the broker as JSON and must come back exactly as it left.
# - A command asks one owner to act; an event lets anyone react.
#
# Next: [02 · producers, consumers and the broker](02_producers_consumers_broker.ipynb).
