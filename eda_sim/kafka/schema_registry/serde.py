"""Serializers and deserializers that write and read Confluent's wire format.

Every record value (or key) a Confluent serializer writes is::

    byte 0       magic byte, always 0
    bytes 1-4    the schema id, a 4-byte big-endian integer (the registry's global id)
    bytes 5-     the payload: JSON text (JSON Schema) or Avro binary (no schema inside)

So the record says which schema wrote it, and a consumer asks the registry for that schema by id.
The classes here take the same arguments as confluent-kafka's (``JSONSerializer(schema_str,
schema_registry_client, to_dict=None, conf=None)``, ``AvroSerializer(schema_registry_client,
schema_str, ...)``, ``...Deserializer``) and are called the same way:
``serializer(obj, SerializationContext(topic, MessageField.VALUE))``.

Two behaviours worth knowing, both Confluent's:

* A JSON deserializer validates the payload against its schema but does **not** fill in JSON
  Schema ``default`` values (``default`` is only an annotation). An Avro deserializer reads with
  the writer's schema and, when given a reader schema, resolves: it skips fields the reader lacks,
  fills the reader's defaults and follows aliases (``fastavro.schemaless_reader``).
* Anything wrong with a record (wrong magic byte, unknown id, payload invalid for its schema)
  raises :class:`SerializationError`; a service sends such a record to its dead-letter topic.
"""

from __future__ import annotations

import io
import json
import struct
from collections.abc import Callable
from enum import StrEnum
from typing import Any

import fastavro

from eda_sim.core.errors import KafkaError, KafkaException
from eda_sim.kafka.schema_registry.client import (
    Schema,
    SchemaRegistryClient,
    SchemaRegistryError,
    json_validator,
)

__all__ = [
    "MAGIC_BYTE",
    "AvroDeserializer",
    "AvroSerializer",
    "JSONDeserializer",
    "JSONSerializer",
    "MessageField",
    "SerializationContext",
    "SerializationError",
    "pack",
    "record_subject_name_strategy",
    "topic_record_subject_name_strategy",
    "topic_subject_name_strategy",
    "unpack",
]

#: The first byte of every record in Confluent's wire format.
MAGIC_BYTE = 0
_HEADER = struct.Struct(">bI")


class MessageField(StrEnum):
    """Which part of a record is being (de)serialized, as in confluent-kafka."""

    NONE = "none"
    KEY = "key"
    VALUE = "value"


class SerializationContext:
    """What a serializer is told about the record: its topic, the field, the headers."""

    def __init__(self, topic: str, field: MessageField, headers: list | None = None):
        self.topic = topic
        self.field = field
        self.headers = headers


class SerializationError(KafkaException):
    """A record could not be serialized or deserialized; ``str()`` says why."""

    def __init__(self, message: str, code: int = KafkaError._VALUE_DESERIALIZATION):
        super().__init__(KafkaError(code, message))

    def __str__(self) -> str:
        return self.args[0].str()


# ----------------------------------------------------------------------------- wire format


def pack(schema_id: int, payload: bytes) -> bytes:
    """Frame ``payload`` in Confluent's wire format: magic byte 0, the 4-byte schema id, the payload."""
    return _HEADER.pack(MAGIC_BYTE, schema_id) + payload


def unpack(data: bytes) -> tuple[int, bytes]:
    """Split a framed record into (schema id, payload); :class:`SerializationError` if it is not one."""
    if not isinstance(data, (bytes, bytearray)):
        raise SerializationError(
            f"expected bytes in Confluent's wire format, got {type(data).__name__}"
        )
    if len(data) < _HEADER.size:
        raise SerializationError(
            f"message too small ({len(data)} bytes) to hold the 5-byte schema header"
        )
    magic, schema_id = _HEADER.unpack_from(data)
    if magic != MAGIC_BYTE:
        raise SerializationError(
            f"Unexpected magic byte {magic}. This message was not produced with a Confluent "
            "Schema Registry serializer"
        )
    return schema_id, bytes(data[_HEADER.size :])


# ----------------------------------------------------------------------------- subject names


def topic_subject_name_strategy(ctx: SerializationContext, record_name: str | None) -> str:
    """``<topic>-key`` or ``<topic>-value`` (the default): one schema history per topic."""
    return f"{ctx.topic}-{ctx.field}"


def record_subject_name_strategy(ctx: SerializationContext, record_name: str | None) -> str:
    """The record's full name: one history per record type, shared by every topic carrying it."""
    if not record_name:
        raise SerializationError(
            "record_subject_name_strategy needs a record name (an Avro record's full name, "
            "or a JSON schema's 'title')",
            KafkaError._VALUE_SERIALIZATION,
        )
    return record_name


def topic_record_subject_name_strategy(ctx: SerializationContext, record_name: str | None) -> str:
    """``<topic>-<record name>``: several record types per topic, each with its own history."""
    return f"{ctx.topic}-{record_subject_name_strategy(ctx, record_name)}"


_SERIALIZER_CONF = ("auto.register.schemas", "use.latest.version", "subject.name.strategy")


class _Serializer:
    """What the JSON and Avro serializers share: the registry, the subject, the schema id."""

    _type = ""

    def __init__(self, schema_str: str, client: SchemaRegistryClient, to_dict, conf: dict | None):
        if not isinstance(client, SchemaRegistryClient):
            raise TypeError(f"expected a SchemaRegistryClient, got {type(client).__name__}")
        conf = dict(conf or {})
        unknown = sorted(set(conf) - set(_SERIALIZER_CONF))
        if unknown:
            raise ValueError(
                f"unknown serializer configuration {unknown[0]!r}; valid: {', '.join(_SERIALIZER_CONF)}"
            )
        strategy = conf.get("subject.name.strategy", topic_subject_name_strategy)
        if not callable(strategy):
            raise TypeError(
                "subject.name.strategy must be a function (ctx, record_name) -> subject"
            )
        self._registry = client
        self._schema = (
            schema_str if isinstance(schema_str, Schema) else Schema(schema_str, self._type)
        )
        self._auto_register = bool(conf.get("auto.register.schemas", True))
        self._use_latest = bool(conf.get("use.latest.version", False))
        self._strategy = strategy
        self._to_dict = to_dict
        self._ids: dict[str, tuple[int, Any]] = {}

    def _record_name(self) -> str | None:  # pragma: no cover - overridden
        return None

    def _writer(self, ctx: SerializationContext) -> tuple[int, Any]:
        """(schema id, parsed schema) to write with, registering the schema if configured to."""
        subject = self._strategy(ctx, self._record_name())
        if subject not in self._ids:
            try:
                if self._use_latest:
                    registered = self._registry.get_latest_version(subject)
                    self._ids[subject] = (registered.schema_id, registered.schema.parsed)
                elif self._auto_register:
                    sid = self._registry.register_schema(subject, self._schema)
                    self._ids[subject] = (sid, self._schema.parsed)
                else:
                    registered = self._registry.lookup_schema(subject, self._schema)
                    self._ids[subject] = (registered.schema_id, self._schema.parsed)
            except SchemaRegistryError as err:
                raise SerializationError(str(err), KafkaError._VALUE_SERIALIZATION) from err
        return self._ids[subject]

    def _dict(self, obj: Any, ctx: SerializationContext) -> Any:
        return self._to_dict(obj, ctx) if self._to_dict is not None else obj


class JSONSerializer(_Serializer):
    """Validates an object against a JSON schema and writes it as framed JSON text."""

    _type = "JSON"

    def __init__(self, schema_str, schema_registry_client, to_dict=None, conf=None):
        super().__init__(schema_str, schema_registry_client, to_dict, conf)
        self._validator = json_validator(self._schema.parsed)

    def _record_name(self) -> str | None:
        return self._schema.parsed.get("title")

    def __call__(self, obj: Any, ctx: SerializationContext) -> bytes | None:
        """The framed bytes for ``obj`` (``None`` stays ``None``, a tombstone)."""
        if obj is None:
            return None
        schema_id, schema = self._writer(ctx)
        value = self._dict(obj, ctx)
        validator = self._validator if schema == self._schema.parsed else json_validator(schema)
        error = next(iter(sorted(validator.iter_errors(value), key=str)), None)
        if error is not None:
            where = "/".join(str(p) for p in error.absolute_path) or "(the whole value)"
            raise SerializationError(
                f"value is not valid for its JSON schema at {where}: {error.message}",
                KafkaError._VALUE_SERIALIZATION,
            )
        # as confluent-kafka's encoder: compact, keys in the object's order, UTF-8 kept as is
        text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
        return pack(schema_id, text.encode())


class AvroSerializer(_Serializer):
    """Writes an object as framed Avro binary with ``fastavro.schemaless_writer``."""

    _type = "AVRO"

    def __init__(self, schema_registry_client, schema_str, to_dict=None, conf=None):
        super().__init__(schema_str, schema_registry_client, to_dict, conf)
        self._parsed = fastavro.parse_schema(self._schema.parsed)

    def _record_name(self) -> str | None:
        return self._parsed.get("name") if isinstance(self._parsed, dict) else None

    def __call__(self, obj: Any, ctx: SerializationContext) -> bytes | None:
        """The framed bytes for ``obj`` (``None`` stays ``None``, a tombstone)."""
        if obj is None:
            return None
        schema_id, schema = self._writer(ctx)
        parsed = self._parsed if schema == self._schema.parsed else fastavro.parse_schema(schema)
        out = io.BytesIO()
        try:
            fastavro.schemaless_writer(out, parsed, self._dict(obj, ctx))
        except (ValueError, TypeError, KeyError, AttributeError) as err:
            raise SerializationError(
                f"value does not fit its Avro schema: {err}", KafkaError._VALUE_SERIALIZATION
            ) from err
        return pack(schema_id, out.getvalue())


class _Deserializer:
    def __init__(self, client: SchemaRegistryClient | None, from_dict):
        if client is not None and not isinstance(client, SchemaRegistryClient):
            raise TypeError(f"expected a SchemaRegistryClient, got {type(client).__name__}")
        self._registry = client
        self._from_dict = from_dict

    def _writer_schema(self, schema_id: int, expected: str) -> Schema:
        if self._registry is None:
            raise SerializationError("a schema_registry_client is needed to look up schema ids")
        try:
            schema = self._registry.get_schema(schema_id)
        except SchemaRegistryError as err:
            raise SerializationError(f"unknown schema id {schema_id}: {err.error_message}") from err
        if schema.schema_type != expected:
            raise SerializationError(
                f"schema id {schema_id} is a {schema.schema_type} schema; this deserializer reads {expected}"
            )
        return schema

    def _obj(self, value: Any, ctx: SerializationContext) -> Any:
        return self._from_dict(value, ctx) if self._from_dict is not None else value


class JSONDeserializer(_Deserializer):
    """Reads framed JSON and validates it against ``schema_str`` (or, if None, the writer's schema).

    It fills in no defaults: a field the writer did not write is simply absent.
    """

    def __init__(self, schema_str, from_dict=None, schema_registry_client=None):
        super().__init__(schema_registry_client, from_dict)
        if schema_str is None and schema_registry_client is None:
            raise ValueError(
                "give a schema_str to read with, or a schema_registry_client to use the writer's"
            )
        self._reader = None
        if schema_str is not None:
            schema = schema_str if isinstance(schema_str, Schema) else Schema(schema_str, "JSON")
            self._reader = json_validator(schema.parsed)

    def __call__(self, data: bytes | None, ctx: SerializationContext) -> Any:
        """The object ``data`` holds; :class:`SerializationError` naming what is wrong."""
        if data is None:
            return None
        schema_id, payload = unpack(data)
        validator = self._reader
        if self._registry is not None:
            writer = self._writer_schema(schema_id, "JSON")
            if validator is None:
                validator = json_validator(writer.parsed)
        try:
            value = json.loads(payload)
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise SerializationError(f"payload is not JSON: {err}") from err
        error = next(iter(sorted(validator.iter_errors(value), key=str)), None)
        if error is not None:
            where = "/".join(str(p) for p in error.absolute_path) or "(the whole value)"
            raise SerializationError(
                f"payload is not valid for the schema at {where}: {error.message}"
            )
        return self._obj(value, ctx)


class AvroDeserializer(_Deserializer):
    """Reads framed Avro with the writer's schema (found by id), resolved to ``schema_str`` if given."""

    def __init__(self, schema_registry_client, schema_str=None, from_dict=None):
        super().__init__(schema_registry_client, from_dict)
        if schema_registry_client is None:
            raise ValueError(
                "an AvroDeserializer needs a schema_registry_client to find writer schemas"
            )
        self._reader = None
        if schema_str is not None:
            schema = schema_str if isinstance(schema_str, Schema) else Schema(schema_str, "AVRO")
            self._reader = fastavro.parse_schema(schema.parsed)
        self._writers: dict[int, Any] = {}

    def __call__(self, data: bytes | None, ctx: SerializationContext) -> Any:
        """The object ``data`` holds; :class:`SerializationError` naming what is wrong."""
        if data is None:
            return None
        schema_id, payload = unpack(data)
        if schema_id not in self._writers:
            self._writers[schema_id] = fastavro.parse_schema(
                self._writer_schema(schema_id, "AVRO").parsed
            )
        stream = io.BytesIO(payload)
        try:
            value = fastavro.schemaless_reader(stream, self._writers[schema_id], self._reader)
        except Exception as err:  # fastavro raises SchemaResolutionError, EOFError, ValueError...
            raise SerializationError(
                f"cannot read the Avro payload: {type(err).__name__}: {err}"
            ) from err
        if stream.tell() != len(payload):
            raise SerializationError(
                f"the Avro payload has {len(payload) - stream.tell()} byte(s) left over after the record"
            )
        return self._obj(value, ctx)


#: A deserializer as a service calls it.
Deserializer = Callable[[bytes | None, SerializationContext], Any]
