"""Worlds for the schema lesson: one change under JSON Schema and Avro, readers, and a replay.

``verdicts(level)`` checks four changes (add a field with a default, rename, remove, widen a
type) to a product-view event under JSON Schema (open and closed) and Avro with the schema
registry. ``readers(change)`` actually writes an old and a new record and reads each with the
other side's schema. ``replay(level)`` registers three Avro versions, then a new reader replays
the topic from the log start: the level decides whether the registry stops the bad version or
the replay meets records it cannot read.

Example::

    verdicts("FULL")                 # one row per change, one column per format
    readers("add device, with a default")
    registered, outcome, dlt = replay("BACKWARD")
"""

from __future__ import annotations

import copy
import json

import pandas as pd

from eda_sim.kafka.schema_registry import (
    AvroDeserializer,
    AvroSerializer,
    JSONDeserializer,
    JSONSerializer,
    MessageField,
    Schema,
    SchemaRegistryClient,
    SchemaRegistryError,
    SerializationContext,
    SerializationError,
)

#: Version 1 of the event as JSON Schema (an open content model: no additionalProperties).
JSON_V1 = {
    "title": "UserViewedProduct",
    "type": "object",
    "properties": {
        "user_id": {"type": "string"},
        "product_id": {"type": "string"},
        "price": {"type": "number"},
        "quantity": {"type": "integer"},
    },
    "required": ["user_id", "product_id", "price", "quantity"],
}
#: The same, closed: no property beyond the listed ones.
JSON_V1_CLOSED = {**JSON_V1, "additionalProperties": False}
#: Version 1 as Avro.
AVRO_V1 = {
    "type": "record",
    "name": "UserViewedProduct",
    "namespace": "shop",
    "fields": [
        {"name": "user_id", "type": "string"},
        {"name": "product_id", "type": "string"},
        {"name": "price", "type": "double"},
        {"name": "quantity", "type": "int"},
    ],
}
#: A record written by a version-1 producer.
OLD_VIEW = {"user_id": "u7", "product_id": "p42", "price": 19.5, "quantity": 1}
#: The three ways of writing the schema, in the order the tables show them.
FORMATS = ("JSON open", "JSON closed", "Avro")
#: The four changes, in teaching order.
CHANGES = (
    "add device, with a default",
    "rename price to amount",
    "remove price",
    "widen quantity",
)


def _json_change(v1: dict, change: str) -> dict:
    v2 = copy.deepcopy(v1)
    props, required = v2["properties"], v2["required"]
    if change == CHANGES[0]:
        props["device"] = {"type": "string", "default": "web"}
    elif change == CHANGES[1]:
        v2["properties"] = {("amount" if k == "price" else k): v for k, v in props.items()}
        v2["required"] = ["amount" if r == "price" else r for r in required]
    elif change == CHANGES[2]:
        del props["price"]
        required.remove("price")
    else:
        props["quantity"] = {"type": "number"}
    return v2


def _avro_change(change: str) -> dict:
    v2 = copy.deepcopy(AVRO_V1)
    fields = v2["fields"]
    if change == CHANGES[0]:
        fields.append({"name": "device", "type": "string", "default": "web"})
    elif change == CHANGES[1]:
        fields[2] = {"name": "amount", "type": "double", "aliases": ["price"]}
    elif change == CHANGES[2]:
        del fields[2]
    else:
        fields[3] = {"name": "quantity", "type": "long"}
    return v2


def schemas(change: str, fmt: str) -> tuple[Schema, Schema]:
    """(version 1, version 2) of the event for one change in one format."""
    if change not in CHANGES:
        raise ValueError(f"unknown change {change!r}; changes: {', '.join(CHANGES)}")
    if fmt == "Avro":
        return Schema(json.dumps(AVRO_V1)), Schema(json.dumps(_avro_change(change)))
    if fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; formats: {', '.join(FORMATS)}")
    v1 = JSON_V1 if fmt == "JSON open" else JSON_V1_CLOSED
    return Schema(json.dumps(v1), "JSON"), Schema(json.dumps(_json_change(v1, change)), "JSON")


def verdict(change: str, fmt: str, level: str):
    """The registry's :class:`~eda_sim.kafka.schema_registry.Verdict` on version 2 of ``change`` under ``level``."""
    v1, v2 = schemas(change, fmt)
    registry = SchemaRegistryClient()
    registry.set_compatibility("views-value", level)
    registry.register_schema("views-value", v1)
    return registry.check_compatibility("views-value", v2)


def verdicts(level: str = "BACKWARD") -> pd.DataFrame:
    """One row per change, one column per format: ``ok`` or the first problem's name."""
    rows = {}
    for change in CHANGES:
        row = {}
        for fmt in FORMATS:
            v = verdict(change, fmt, level)
            row[fmt] = "ok" if v.is_compatible else v.problems[0].type
        rows[change] = row
    return pd.DataFrame.from_dict(rows, orient="index")


def _new_view(change: str) -> dict:
    view = dict(OLD_VIEW)
    if change == CHANGES[0]:
        view["device"] = "ios"
    elif change == CHANGES[1]:
        view["amount"] = view.pop("price")
    elif change == CHANGES[2]:
        del view["price"]
    else:
        view["quantity"] = 3  # a whole number: valid for integer and number, int and long
    return view


def _read(fmt: str, writer: Schema, reader: Schema, value: dict, registry) -> str:
    ctx = SerializationContext("views", MessageField.VALUE)
    try:
        if fmt == "Avro":
            data = AvroSerializer(registry, writer.schema_str)(value, ctx)
            out = AvroDeserializer(registry, reader.schema_str)(data, ctx)
        else:
            data = JSONSerializer(writer.schema_str, registry)(value, ctx)
            out = JSONDeserializer(reader.schema_str, schema_registry_client=registry)(data, ctx)
    except SerializationError as err:
        text = str(err)
        for prefix in (
            "payload is not valid for the schema at (the whole value): ",
            "cannot read the Avro payload: SchemaResolutionError: ",
        ):
            text = text.removeprefix(prefix)
        return f"error: {text}"
    return ", ".join(f"{k}={v}" for k, v in out.items())


def readers(change: str) -> pd.DataFrame:
    """Write an old and a new record in each format and read each with the other version's schema.

    Rows: format and direction (a new reader reading an old record, an old reader reading a new
    one); the cell is what the reader got, or the error it raised.
    """
    rows = []
    for fmt in FORMATS:
        v1, v2 = schemas(change, fmt)
        registry = SchemaRegistryClient()
        registry.set_compatibility(level="NONE")  # write both whatever the verdict, to see reading
        rows.append(
            {
                "format": fmt,
                "new reader, old record": _read(fmt, v1, v2, OLD_VIEW, registry),
                "old reader, new record": _read(fmt, v2, v1, _new_view(change), registry),
            }
        )
    return pd.DataFrame(rows).set_index("format")


# ----------------------------------------------------------------------------- replay

#: Three versions of a checkout event: v2 drops 'coupon', v3 brings it back as a number.
REPLAY_VERSIONS = (
    {
        "type": "record",
        "name": "Checkout",
        "fields": [{"name": "order", "type": "string"}, {"name": "coupon", "type": "string"}],
    },
    {"type": "record", "name": "Checkout", "fields": [{"name": "order", "type": "string"}]},
    {
        "type": "record",
        "name": "Checkout",
        "fields": [
            {"name": "order", "type": "string"},
            {"name": "coupon", "type": "int", "default": 0},
        ],
    },
)
_REPLAY_ITEMS = (
    [{"order": "o1", "coupon": "SPRING"}, {"order": "o2", "coupon": "VIP"}],
    [{"order": "o3"}, {"order": "o4"}],
    [{"order": "o5", "coupon": 10}],
)


def replay(level: str, seed: int = 7):
    """Register three Avro versions under ``level``, produce with each, then replay from the log start.

    Returns ``(registered, handled, dead_letters)``: the versions the registry accepted (with
    the refusal as text when it refused one), the orders a back-test reading with the newest
    accepted schema handled, and the dead-letter frame of what it could not read.
    """
    from eda_sim.core.simulation import Simulation
    from eda_sim.services.load import Source
    from eda_sim.services.retries import dead_letters
    from eda_sim.services.service import Service

    sim = Simulation(seed=seed)
    sim.create_topic("checkouts", partitions=1)
    registry = SchemaRegistryClient()
    registry.set_compatibility("checkouts-value", level)
    registered, newest = [], None
    for i, (schema, items) in enumerate(zip(REPLAY_VERSIONS, _REPLAY_ITEMS, strict=True), start=1):
        text = json.dumps(schema)
        try:
            registry.register_schema("checkouts-value", Schema(text))
        except SchemaRegistryError as err:
            registered.append(f"v{i} refused: {err.error_message.split(': ', 1)[-1]}")
            continue
        registered.append(f"v{i} registered")
        newest = text
        timed = [{"time": 0.1 * i + 0.01 * k, "type": "Checkout", **x} for k, x in enumerate(items)]
        Source(
            sim, f"shop-v{i}", "checkouts", timed, value_serializer=AvroSerializer(registry, text)
        )
    handled = []
    Service(
        sim,
        "backtest",
        consumes="checkouts",
        handlers={"Checkout": lambda event, ctx: handled.append(dict(event.payload))},
        value_deserializer=AvroDeserializer(registry, newest),
    )
    sim.run(until=2)
    dlt = dead_letters(sim, "checkouts.DLT") if "checkouts.DLT" in sim.broker.topics else None
    return registered, handled, dlt
