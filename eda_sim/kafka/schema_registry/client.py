"""An in-memory schema registry with the names and answers of confluent-kafka's ``SchemaRegistryClient``.

Subjects hold versions 1, 2, 3, ...; every distinct schema gets one global id (the same schema
under two subjects keeps its id), and that id is what a serializer writes in front of each record.
Before a new version is accepted it is checked under the subject's compatibility level (its own,
else the global one; ``BACKWARD`` by default, as in Confluent):

====================  ============================================================
BACKWARD              the new schema reads data written with the **latest** version
FORWARD               the latest version reads data written with the new schema
FULL                  both
``*_TRANSITIVE``      the same against **every** earlier version, not only the latest
NONE                  no check
====================  ============================================================

JSON schemas are compared with Confluent's JSON Schema rules (:mod:`.json_diff`), Avro schemas
with Avro's schema resolution rules (:mod:`.avro_compat`). A refusal raises
:class:`SchemaRegistryError` with HTTP status 409, as Confluent's REST API answers; the
:meth:`SchemaRegistryClient.check_compatibility` verdict lists every problem with its name and a
sentence.

What differs from a real registry: it lives in the process (no HTTP, no ``url`` needed), and
schema references, metadata, rule sets, deletion and Protobuf are not modelled.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from jsonschema import Draft7Validator, exceptions, validators

from eda_sim.kafka.schema_registry import avro_compat, json_diff

__all__ = [
    "COMPATIBILITY_LEVELS",
    "SCHEMA_TYPES",
    "Problem",
    "RegisteredSchema",
    "Schema",
    "SchemaRegistryClient",
    "SchemaRegistryError",
    "Verdict",
    "json_validator",
]

#: The compatibility levels, as Confluent spells them.
COMPATIBILITY_LEVELS = (
    "BACKWARD",
    "BACKWARD_TRANSITIVE",
    "FORWARD",
    "FORWARD_TRANSITIVE",
    "FULL",
    "FULL_TRANSITIVE",
    "NONE",
)
#: The schema types this registry understands (Confluent also has PROTOBUF).
SCHEMA_TYPES = ("AVRO", "JSON")


class SchemaRegistryError(Exception):
    """An error answer of the registry, with Confluent's HTTP status and error code.

    404/40401 subject not found, 404/40402 version not found, 404/40403 schema not found,
    409 incompatible schema, 422/42201 invalid schema, 422/42203 invalid compatibility level.
    """

    UNKNOWN = -1

    def __init__(self, http_status_code: int, error_code: int, error_message: str):
        self.http_status_code = http_status_code
        self.error_code = error_code
        self.error_message = error_message
        super().__init__(error_message)

    def __str__(self) -> str:
        return (
            f"{self.error_message} (HTTP status code {self.http_status_code}, "
            f"SR code {self.error_code})"
        )


@dataclass(frozen=True)
class Schema:
    """An unregistered schema: its text and type (``"AVRO"``, the default as in confluent-kafka, or ``"JSON"``)."""

    schema_str: str
    schema_type: str = "AVRO"

    def __post_init__(self):
        if not isinstance(self.schema_str, str):
            raise TypeError(
                f"schema_str must be the schema as a JSON string (json.dumps(...)), "
                f"got {type(self.schema_str).__name__}"
            )
        if self.schema_type not in SCHEMA_TYPES:
            raise ValueError(
                f"unknown schema_type {self.schema_type!r}; valid types: {', '.join(SCHEMA_TYPES)}"
            )

    @property
    def parsed(self) -> Any:
        """The schema text parsed as JSON."""
        return json.loads(self.schema_str)


@dataclass(frozen=True)
class RegisteredSchema:
    """One version of a subject: its global id, schema, subject and version number."""

    schema_id: int
    schema: Schema
    subject: str
    version: int


@dataclass(frozen=True)
class Problem:
    """One reason a schema is refused: the change's name, where, a sentence, and the version it breaks."""

    type: str
    path: str
    message: str
    version: int

    def __str__(self) -> str:
        return f"[version {self.version}] {self.type} at {self.path}: {self.message}"


@dataclass(frozen=True)
class Verdict:
    """A compatibility answer: ``is_compatible``, the level, the versions checked, and every problem."""

    is_compatible: bool
    level: str
    checked: tuple[int, ...] = ()
    problems: tuple[Problem, ...] = field(default_factory=tuple)

    def __bool__(self) -> bool:
        return self.is_compatible

    @property
    def messages(self) -> list[str]:
        """One line per problem."""
        return [str(p) for p in self.problems]

    def __str__(self) -> str:
        if self.level == "NONE":
            return "compatible: the level is NONE, so nothing is checked"
        if not self.checked:
            return "compatible: the subject has no version yet"
        versions = ", ".join(str(v) for v in self.checked)
        head = f"{'compatible' if self.is_compatible else 'NOT compatible'} under {self.level} (checked against version {versions})"
        return "\n".join(
            [head + (":" if self.problems else "")] + [f"  - {p}" for p in self.problems]
        )


def json_validator(schema: Any):
    """jsonschema's validator for the draft named by ``$schema`` (draft-07 when there is none, as in Confluent).

    Raises ``SchemaRegistryError`` (422) when the schema is not valid for its draft.
    """
    cls = validators.validator_for(schema, default=Draft7Validator)
    try:
        cls.check_schema(schema)
    except exceptions.SchemaError as err:
        where = "/".join(str(p) for p in err.path) or "(top level)"
        raise SchemaRegistryError(
            422, 42201, f"invalid JSON schema for {cls.__name__} at {where!r}: {err.message}"
        ) from None
    return cls(schema)


def _canonical(schema: Schema) -> tuple[str, str]:
    return schema.schema_type, json.dumps(schema.parsed, sort_keys=True, separators=(",", ":"))


def _check_level(level: Any) -> str:
    if not isinstance(level, str) or level.upper() not in COMPATIBILITY_LEVELS:
        raise SchemaRegistryError(
            422,
            42203,
            f"invalid compatibility level {level!r}; valid levels: {', '.join(COMPATIBILITY_LEVELS)}",
        )
    return level.upper()


def _problems(new: Schema, old: Schema, version: int, new_reads_old: bool) -> list[Problem]:
    """What stops data of one schema being read with the other (one direction)."""
    if new.schema_type != old.schema_type:
        return [
            Problem(
                "SCHEMA_TYPE_CHANGED",
                "#/",
                f"version {version} is {old.schema_type} and the new schema {new.schema_type}",
                version,
            )
        ]
    if new.schema_type == "JSON":
        original, update = (old.parsed, new.parsed) if new_reads_old else (new.parsed, old.parsed)
        return [
            Problem(c.type, c.path, json_diff.describe(c, new_reads_old), version)
            for c in json_diff.diff(original, update)
            if not c.compatible
        ]
    reader, writer = (new.parsed, old.parsed) if new_reads_old else (old.parsed, new.parsed)
    return [
        Problem(p.type, p.path, p.message, version) for p in avro_compat.problems(reader, writer)
    ]


class SchemaRegistryClient:
    """Subjects, versions, global ids and compatibility levels, as confluent-kafka's client sees them.

    ``conf`` may hold ``url`` (kept for the same code to run against a real registry; unused here).
    """

    def __init__(self, conf: dict | None = None):
        conf = dict(conf or {})
        unknown = sorted(set(conf) - {"url"})
        if unknown:
            raise ValueError(f"unknown configuration {unknown[0]!r}; this registry takes: url")
        self.url = conf.get("url", "mock://eda_sim")
        self._global_level = "BACKWARD"
        self._levels: dict[str, str] = {}
        self._versions: dict[str, list[RegisteredSchema]] = {}
        self._ids: dict[tuple[str, str], int] = {}
        self._by_id: dict[int, Schema] = {}

    # ------------------------------------------------------------------ levels

    def set_compatibility(self, subject_name: str | None = None, level: str | None = None) -> str:
        """Set the global level (no subject) or one subject's; returns the level."""
        if level is None:
            raise ValueError("level must be set, one of: " + ", ".join(COMPATIBILITY_LEVELS))
        level = _check_level(level)
        if subject_name is None:
            self._global_level = level
        else:
            self._levels[self._name(subject_name)] = level
        return level

    def get_compatibility(self, subject_name: str | None = None) -> str:
        """The level in force for a subject (its own, else the global), or the global level."""
        if subject_name is None:
            return self._global_level
        return self._levels.get(self._name(subject_name), self._global_level)

    # ------------------------------------------------------------------ registering

    def register_schema(
        self, subject_name: str, schema: Schema, normalize_schemas: bool = False
    ) -> int:
        """Register ``schema`` under ``subject_name`` if its level allows; return the schema id.

        A schema already in the subject returns its id again (nothing new is registered).
        """
        return self.register_schema_full_response(subject_name, schema, normalize_schemas).schema_id

    def register_schema_full_response(
        self, subject_name: str, schema: Schema, normalize_schemas: bool = False
    ) -> RegisteredSchema:
        """:meth:`register_schema`, returning the whole :class:`RegisteredSchema`."""
        subject = self._name(subject_name)
        self._validate(schema)
        key = _canonical(schema)
        for registered in self._versions.get(subject, []):
            if _canonical(registered.schema) == key:
                return registered
        verdict = self.check_compatibility(subject, schema)
        if not verdict.is_compatible:
            raise SchemaRegistryError(
                409,
                409,
                f"Schema being registered is incompatible with an earlier schema for subject "
                f"{subject!r}: {verdict}",
            )
        if key not in self._ids:
            self._ids[key] = len(self._ids) + 1
            self._by_id[self._ids[key]] = schema
        versions = self._versions.setdefault(subject, [])
        registered = RegisteredSchema(self._ids[key], schema, subject, len(versions) + 1)
        versions.append(registered)
        return registered

    def lookup_schema(self, subject_name: str, schema: Schema) -> RegisteredSchema:
        """The version of ``subject_name`` that is exactly ``schema`` (40403 if none)."""
        key = _canonical(schema)
        for registered in self._history(subject_name):
            if _canonical(registered.schema) == key:
                return registered
        raise SchemaRegistryError(404, 40403, f"Schema not found under subject {subject_name!r}")

    # ------------------------------------------------------------------ compatibility

    def check_compatibility(self, subject_name: str, schema: Schema) -> Verdict:
        """What :meth:`register_schema` would decide, with every problem (registers nothing)."""
        subject = self._name(subject_name)
        self._validate(schema)
        level = self.get_compatibility(subject)
        history = self._versions.get(subject, [])
        if level == "NONE" or not history:
            return Verdict(True, level)
        against = history if level.endswith("_TRANSITIVE") else history[-1:]
        return self._verdict(schema, against, level)

    def test_compatibility(
        self,
        subject_name: str,
        schema: Schema,
        version: int | str = "latest",
        verbose: bool = False,
    ) -> bool:
        """Is ``schema`` compatible with one version (``"latest"`` by default) under the subject's level?"""
        level = self.get_compatibility(subject_name)
        registered = self.get_version(subject_name, version)
        self._validate(schema)
        if level == "NONE":
            return True
        return self._verdict(schema, [registered], level.removesuffix("_TRANSITIVE")).is_compatible

    def test_compatibility_all_versions(
        self, subject_name: str, schema: Schema, verbose: bool = False
    ) -> bool:
        """Is ``schema`` compatible with the versions its level checks (all of them for ``*_TRANSITIVE``)?"""
        self._history(subject_name)
        return self.check_compatibility(subject_name, schema).is_compatible

    def _verdict(self, schema: Schema, against: list[RegisteredSchema], level: str) -> Verdict:
        base = level.removesuffix("_TRANSITIVE")
        found: list[Problem] = []
        for old in against:
            if base in ("BACKWARD", "FULL"):
                found += _problems(schema, old.schema, old.version, True)
            if base in ("FORWARD", "FULL"):
                found += _problems(schema, old.schema, old.version, False)
        unique = tuple(dict.fromkeys(found))
        return Verdict(not unique, level, tuple(r.version for r in against), unique)

    # ------------------------------------------------------------------ reading

    def get_schema(
        self, schema_id: int, subject_name: str | None = None, fmt: str | None = None
    ) -> Schema:
        """The schema with a global id, as a deserializer looks it up (40403 if unknown)."""
        if schema_id not in self._by_id:
            known = ", ".join(str(i) for i in sorted(self._by_id)) or "(none yet)"
            raise SchemaRegistryError(
                404, 40403, f"Schema {schema_id!r} not found; known ids: {known}"
            )
        return self._by_id[schema_id]

    def get_subjects(self) -> list[str]:
        """Every subject with a version, sorted."""
        return sorted(self._versions)

    def get_versions(self, subject_name: str) -> list[int]:
        """The version numbers of a subject."""
        return [r.version for r in self._history(subject_name)]

    def get_latest_version(self, subject_name: str, fmt: str | None = None) -> RegisteredSchema:
        """The newest version of a subject."""
        return self._history(subject_name)[-1]

    def get_version(
        self,
        subject_name: str,
        version: int | str = "latest",
        deleted: bool = False,
        fmt: str | None = None,
    ) -> RegisteredSchema:
        """One version of a subject (a number, or ``"latest"``)."""
        history = self._history(subject_name)
        if version == "latest":
            return history[-1]
        if (
            isinstance(version, bool)
            or not isinstance(version, int)
            or not 1 <= version <= len(history)
        ):
            raise SchemaRegistryError(
                404,
                40402,
                f"Version {version!r} not found for subject {subject_name!r}; versions: "
                f"{', '.join(str(r.version) for r in history)} (or 'latest')",
            )
        return history[version - 1]

    def table(self):
        """Every version as a pandas DataFrame: subject, version, id, type, level in force."""
        import pandas as pd

        rows = [
            {
                "subject": r.subject,
                "version": r.version,
                "id": r.schema_id,
                "type": r.schema.schema_type,
                "compatibility": self.get_compatibility(r.subject),
            }
            for subject in self.get_subjects()
            for r in self._versions[subject]
        ]
        return pd.DataFrame(rows, columns=["subject", "version", "id", "type", "compatibility"])

    # ------------------------------------------------------------------ helpers

    @staticmethod
    def _name(subject: Any) -> str:
        if not isinstance(subject, str) or not subject:
            raise ValueError(
                f"a subject must be a non-empty string such as 'orders-value', got {subject!r}"
            )
        return subject

    def _history(self, subject: str) -> list[RegisteredSchema]:
        subject = self._name(subject)
        if subject not in self._versions:
            known = ", ".join(repr(s) for s in self.get_subjects()) or "(none yet)"
            raise SchemaRegistryError(
                404, 40401, f"Subject {subject!r} not found; subjects: {known}"
            )
        return self._versions[subject]

    @staticmethod
    def _validate(schema: Schema) -> None:
        if not isinstance(schema, Schema):
            raise TypeError(
                f"expected a Schema(schema_str, schema_type), got {type(schema).__name__}"
            )
        try:
            parsed = schema.parsed
        except json.JSONDecodeError as err:
            raise SchemaRegistryError(422, 42201, f"the schema is not JSON: {err}") from None
        if schema.schema_type == "JSON":
            json_validator(parsed)
        else:
            try:
                avro_compat.parse(parsed)
            except Exception as err:  # fastavro raises several kinds for a bad schema
                raise SchemaRegistryError(422, 42201, f"invalid Avro schema: {err}") from None
