"""Event schemas as JSON Schema, and a schema registry modelled on Confluent's.

An event's *schema* is a JSON Schema (validated with ``jsonschema``'s validator for the draft its
``$schema`` names, Draft 2020-12 when it names none;
validator). A :class:`SchemaRegistry` keeps, per *subject*, a list of schema
versions 1, 2, 3, ... and gives every distinct schema a global id (1, 2, 3, ...;
the same schema registered under two subjects keeps one id, as in Confluent).
By default the subject for topic ``T`` is ``"T-value"`` (Confluent's
TopicNameStrategy, see :func:`topic_subject`).

Before a new version is accepted the registry checks it against the subject's
compatibility mode (Confluent's names and meanings):

====================  ===========================================================
BACKWARD (default)    consumers using the NEW schema can read data written with
                      the latest OLD schema (upgrade consumers first)
FORWARD               consumers using the latest OLD schema can read data written
                      with the NEW schema (upgrade producers first)
FULL                  both
``*_TRANSITIVE``      the same, against every earlier version, not only the latest
NONE                  no check
====================  ===========================================================

The reader/writer rule
----------------------
Every check asks one question: can a *reader* schema read data written with a
*writer* schema? (BACKWARD: reader = new, writer = old; FORWARD: the other way.)
A reader can read a writer's data when

1. every field the reader requires (listed in ``required``) is present in the
   writer's data: the writer requires it too, or the reader gives it a
   ``default`` and fills it in (a field not in ``required`` may be missing, so
   adding or removing an *optional* field is fine even without a default);
2. every field both know has a writer type the reader accepts (``number``
   accepts ``integer``; a type list accepts each of its types; a field with no
   ``type`` accepts anything); nested objects and array items are checked the
   same way, field by field;
3. fields the reader does not know are ignored -- unless the reader says
   ``"additionalProperties": false`` (a closed content model), in which case a
   field the writer declares and the reader does not breaks it.

Writers are assumed to write only the fields their schema declares. Keywords
other than ``type``, ``properties``, ``required``, ``default``,
``additionalProperties``, ``items``, ``enum`` and ``const`` (for example
``minimum``, ``pattern``, ``anyOf``, ``$ref``) are compared for equality only: a
reader constraint the writer does not have identically is reported, to be safe.
Each broken rule is a :class:`Problem` naming the field, one of :data:`RULES`
and a sentence; a field that disappears while one of the same type appears is
explained as a rename.

Confluent's real JSON Schema checker is stricter: it does not assume writers
stick to their declared fields, so under BACKWARD it refuses to add even an
optional property to an open content model (``PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL``:
old data may already hold that name with another type) and to remove one from a
closed model, and it distinguishes open, closed and partially open content
models keyword by keyword. This module keeps the simpler Avro-style rule for a service's
reader-side ``conform``; the registry as Confluent runs it (its JSON Schema rules, Avro, the wire
format, the serializers) is :mod:`eda_sim.kafka.schema_registry`, which notebook 09 teaches.

Example (a notebook can copy this)::

    >>> from eda_sim.services.schemas import SchemaRegistry, conform, object_schema, topic_subject
    >>> registry = SchemaRegistry()
    >>> subject = topic_subject("product-views")
    >>> v1 = object_schema({"user_id": "string", "product_id": "string"},
    ...                    required=["user_id", "product_id"], title="UserViewedProduct")
    >>> registry.register(subject, v1).version
    1
    >>> v2 = object_schema({"user_id": "string", "product_id": "string", "price": "number"},
    ...                    required=["user_id", "product_id", "price"], title="UserViewedProduct")
    >>> verdict = registry.check_compatibility(subject, v2)
    >>> verdict.compatible
    False
    >>> print(verdict)  # doctest: +NORMALIZE_WHITESPACE
    NOT compatible under BACKWARD (checked against version 1):
      - field 'price' [required_field_missing]: The new schema requires 'price' and has
        no default for it, but version 1 has no field 'price', so its data cannot
        provide it -- a new required field needs a default to read old data
    >>> v2 = object_schema({"user_id": "string", "product_id": "string", "price": ("number", 0.0)},
    ...                    required=["user_id", "product_id"], title="UserViewedProduct")
    >>> registry.register(subject, v2).version
    2
    >>> conform({"user_id": "u1", "product_id": "p9"}, v2)  # a new consumer reads old data
    {'user_id': 'u1', 'product_id': 'p9', 'price': 0.0}
    >>> conform({"user_id": "u1", "product_id": "p9", "price": 5.0}, v1)  # an old consumer
    {'user_id': 'u1', 'product_id': 'p9'}
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

import pandas as pd
from jsonschema import Draft202012Validator, validators
from jsonschema.exceptions import SchemaError

__all__ = [
    "DEFAULT_MODE",
    "JSON_TYPES",
    "MODES",
    "RULES",
    "IncompatibleSchemaError",
    "Problem",
    "RegisteredSchema",
    "SchemaRegistry",
    "SchemaValidationError",
    "UnknownSubjectError",
    "Verdict",
    "check_schema",
    "compare",
    "conform",
    "object_schema",
    "topic_subject",
    "validate",
]

#: Every compatibility mode, as Confluent Schema Registry spells them.
MODES = (
    "BACKWARD",
    "BACKWARD_TRANSITIVE",
    "FORWARD",
    "FORWARD_TRANSITIVE",
    "FULL",
    "FULL_TRANSITIVE",
    "NONE",
)
#: The mode a new registry uses, as in Confluent.
DEFAULT_MODE = "BACKWARD"
#: The type names JSON Schema knows.
JSON_TYPES = ("array", "boolean", "integer", "null", "number", "object", "string")

#: Every rule a compatibility :class:`Problem` can name, with what it means.
RULES = {
    "required_field_missing": (
        "the reader requires a field, has no default for it, and the writer's data may lack it"
    ),
    "incompatible_type": "the writer may write a type the reader does not accept",
    "closed_content_model": (
        "the reader forbids unknown fields (additionalProperties: false) and the writer writes one"
    ),
    "constraint_changed": (
        "the reader has a constraint (enum, minimum, pattern, ...) the writer does not guarantee"
    ),
}

# Keywords the compatibility check understands; everything not here and not an
# annotation is compared for equality.
_ANALYSED = {"type", "properties", "required", "additionalProperties", "items", "enum", "const"}
_ANNOTATIONS = {
    "$schema",
    "$id",
    "$anchor",
    "$comment",
    "title",
    "description",
    "default",
    "examples",
    "deprecated",
    "readOnly",
    "writeOnly",
    "format",
}


# --------------------------------------------------------------------------- subjects


def topic_subject(topic: str, *, key: bool = False) -> str:
    """The subject for a topic under Confluent's TopicNameStrategy: ``"<topic>-value"``.

    With ``key=True`` it is the subject of the record keys, ``"<topic>-key"``.
    """
    if not isinstance(topic, str) or not topic:
        raise ValueError(f"topic must be a non-empty string, got {topic!r}")
    return f"{topic}-{'key' if key else 'value'}"


# --------------------------------------------------------------------------- schemas


def _canonical(schema: Any) -> str:
    """One string per schema content: identical schemas give identical strings."""
    try:
        return json.dumps(schema, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ValueError(
            f"a schema must be plain JSON (dicts, lists, str, numbers, bool, None): {exc}"
        ) from None


def _join(path: Sequence[Any]) -> str:
    """A field path as a learner writes it: ``address.city``, ``items[0].sku``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _draft(cls) -> str:
    """``Draft 2020-12`` for ``Draft202012Validator``, ``Draft 7`` for ``Draft7Validator``."""
    digits = cls.__name__.removeprefix("Draft").removesuffix("Validator")
    return f"Draft {digits[:4]}-{digits[4:]}" if len(digits) == 6 else f"Draft {digits}"


@lru_cache(maxsize=512)
def _validator(canonical: str):
    """A checked validator for a schema (by its canonical text)."""
    schema = json.loads(canonical)
    cls = validators.validator_for(schema, default=Draft202012Validator)
    try:
        cls.check_schema(schema)
    except SchemaError as exc:
        where = "/".join(str(p) for p in exc.path) or "(top level)"
        hint = ""
        if exc.path and list(exc.path)[-1] == "type":
            hint = f" (valid types: {', '.join(JSON_TYPES)})"
        raise ValueError(
            f"not a valid JSON Schema ({_draft(cls)}) at {where!r}: {exc.message}{hint}"
        ) from None
    _check_defaults(schema, [])
    return cls(schema)


def _check_defaults(schema: Any, path: list) -> None:
    """Every ``default`` must itself be valid for its field, or readers would fill in junk."""
    if not isinstance(schema, dict):
        return
    for name, sub in (schema.get("properties") or {}).items():
        if not isinstance(sub, dict):
            continue
        if "default" in sub:
            errors = list(Draft202012Validator(sub).iter_errors(sub["default"]))
            if errors:
                raise ValueError(
                    f"field {_join(path + [name])!r}: default {sub['default']!r} does not fit "
                    f"its own schema: {errors[0].message}"
                )
        _check_defaults(sub, path + [name])
    if isinstance(schema.get("items"), dict):
        _check_defaults(schema["items"], path + [0])


def check_schema(schema: dict) -> None:
    """Raise ``ValueError`` naming the problem unless ``schema`` is a valid JSON Schema.

    Valid means: a dict of plain JSON, accepted by Draft 2020-12's ``check_schema``,
    and every property's ``default`` fits that property's schema.
    """
    if not isinstance(schema, dict):
        raise TypeError(
            f"a schema must be a dict (a JSON Schema object), got {type(schema).__name__}"
        )
    _validator(_canonical(schema))


def object_schema(
    fields: Mapping[str, Any],
    required: Sequence[str] = (),
    *,
    title: str | None = None,
    closed: bool = False,
) -> dict:
    """Build a JSON Schema for an object tersely.

    Each field spec is a type name (``"string"``), a list of type names
    (``["string", "null"]``), a full JSON Schema dict (for example another
    ``object_schema``), or a tuple ``(spec, default)``. ``closed=True`` adds
    ``"additionalProperties": false``.

    >>> object_schema({"user_id": "string", "price": ("number", 0.0)}, required=["user_id"])
    {'type': 'object', 'properties': {'user_id': {'type': 'string'},
     'price': {'type': 'number', 'default': 0.0}}, 'required': ['user_id']}
    """
    if isinstance(required, str):
        raise TypeError(f"required must be a list of field names, got the string {required!r}")
    properties: dict[str, Any] = {}
    for name, spec in fields.items():
        default_given = isinstance(spec, tuple)
        if default_given:
            if len(spec) != 2:
                raise ValueError(f"field {name!r}: a tuple spec is (type, default), got {spec!r}")
            spec, default = spec
        type_names = isinstance(spec, list) and all(isinstance(t, str) for t in spec)
        if isinstance(spec, str) or type_names:
            names = [spec] if isinstance(spec, str) else spec
            unknown = [t for t in names if t not in JSON_TYPES]
            if unknown:
                raise ValueError(
                    f"field {name!r}: unknown type {unknown[0]!r}; "
                    f"valid types: {', '.join(JSON_TYPES)}"
                )
            sub: dict[str, Any] = {"type": spec if isinstance(spec, str) else list(spec)}
        elif isinstance(spec, dict):
            sub = copy.deepcopy(spec)
        else:
            raise TypeError(
                f"field {name!r}: expected a type name, a list of type names, a schema dict "
                f"or (type, default), got {spec!r}"
            )
        if default_given:
            sub["default"] = copy.deepcopy(default)
        properties[name] = sub
    missing = [r for r in required if r not in properties]
    if missing:
        raise ValueError(
            f"required field {missing[0]!r} is not among the fields: "
            f"{', '.join(properties) or '(none)'}"
        )
    schema: dict[str, Any] = {}
    if title is not None:
        schema["title"] = title
    schema["type"] = "object"
    schema["properties"] = properties
    if required:
        schema["required"] = list(required)
    if closed:
        schema["additionalProperties"] = False
    check_schema(schema)
    return schema


# --------------------------------------------------------------------------- validation


class SchemaValidationError(ValueError):
    """A payload does not fit a schema.

    ``field`` is the path of the first offending field (``"price"``,
    ``"address.city"``; ``None`` for the payload as a whole) and ``errors``
    one sentence per problem found, in a fixed order.
    """

    def __init__(self, errors: Sequence[tuple[str | None, str]]):
        self.field = errors[0][0]
        self.errors = tuple(text for _, text in errors)
        super().__init__("; ".join(self.errors))


def _describe(error) -> tuple[str | None, str]:
    """(field path, sentence) for one jsonschema error."""
    path = list(error.absolute_path)
    if error.validator == "required" and isinstance(error.instance, dict):
        for name in error.validator_value:
            if name not in error.instance and error.message.startswith(repr(name)):
                field = _join(path + [name])
                return field, f"field {field!r}: required but missing"
    if error.validator == "additionalProperties" and error.validator_value is False:
        known = error.schema.get("properties", {})
        extras = [k for k in error.instance if k not in known] or ["?"]
        fields = [_join(path + [k]) for k in extras]
        listed = ", ".join(repr(f) for f in fields)
        return fields[0], (
            f"field{'s' if len(fields) > 1 else ''} {listed}: not allowed, the schema forbids "
            "unknown fields (additionalProperties: false)"
        )
    field = _join(path) or None
    return field, (f"field {field!r}: {error.message}" if field else f"payload: {error.message}")


def validate(payload: Any, schema: dict) -> None:
    """Raise :class:`SchemaValidationError` unless ``payload`` fits ``schema``.

    The message names each offending field and what was expected, e.g.
    ``field 'price': 'abc' is not of type 'number'``. An invalid schema raises
    ``ValueError`` (see :func:`check_schema`).
    """
    check_schema(schema)
    validator = _validator(_canonical(schema))
    errors = sorted(
        validator.iter_errors(payload),
        key=lambda e: ([str(p) for p in e.absolute_path], e.validator, e.message),
    )
    if errors:
        raise SchemaValidationError([_describe(e) for e in errors])


def _project(value: Any, schema: Any) -> Any:
    """Keep what ``schema`` knows of ``value``, filling defaults, recursively."""
    if not isinstance(schema, dict):
        return copy.deepcopy(value)
    props = schema.get("properties")
    if isinstance(value, dict) and isinstance(props, dict):
        known = list(props) + [n for n in schema.get("required", []) if n not in props]
        out = {}
        for name in known:
            sub = props.get(name, True)
            if name in value:
                out[name] = _project(value[name], sub)
            elif isinstance(sub, dict) and "default" in sub:
                out[name] = copy.deepcopy(sub["default"])
        return out
    if isinstance(value, list) and isinstance(schema.get("items"), dict):
        return [_project(v, schema["items"]) for v in value]
    return copy.deepcopy(value)


def conform(payload: dict, reader_schema: dict) -> dict:
    """Read ``payload`` the way a consumer using ``reader_schema`` does.

    Returns a new dict holding only the fields the reader declares (in the
    reader's order; nested objects likewise), with the reader's defaults filled
    in for missing ones, then validates it against the reader schema (raising
    :class:`SchemaValidationError`). So old consumers ignore fields they do not
    know and new consumers fill defaults. Because unknown fields are dropped
    first, a closed reader (``additionalProperties: false``) does not reject them
    here; the compatibility check is stricter, as a consumer that validated the
    raw data would be. A reader schema with no ``properties`` keeps everything.
    """
    if not isinstance(payload, dict):
        raise TypeError(f"payload must be a dict, got {type(payload).__name__}")
    check_schema(reader_schema)
    result = _project(payload, reader_schema)
    validate(result, reader_schema)
    return result


# --------------------------------------------------------------------------- compatibility


@dataclass(frozen=True)
class Problem:
    """One broken compatibility rule: the field (a dotted path, ``""`` for the
    whole event), the rule (a key of :data:`RULES`) and a sentence saying why."""

    field: str
    rule: str
    message: str

    def __str__(self) -> str:
        return f"field {self.field or '(whole event)'!r} [{self.rule}]: {self.message}"


@dataclass(frozen=True)
class Verdict:
    """The answer of a compatibility check. ``bool(verdict)`` is ``compatible``.

    ``mode`` is the mode checked and ``against`` describes what the new schema
    was compared with (e.g. ``("version 1",)``); both are for the reader.
    """

    compatible: bool
    problems: tuple[Problem, ...] = ()
    mode: str = DEFAULT_MODE
    against: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return self.compatible

    def __str__(self) -> str:
        if self.mode == "NONE":
            return "compatible: the mode is NONE, so nothing is checked"
        if not self.against:
            return "compatible: there is no earlier version to check against"
        where = f"under {self.mode} (checked against {', '.join(self.against)})"
        if self.compatible:
            return f"compatible {where}"
        lines = [f"NOT compatible {where}:"] + [f"  - {p}" for p in self.problems]
        return "\n".join(lines)


@dataclass(frozen=True)
class _Roles:
    """Who reads and who writes in one direction of a check, for the messages."""

    reader: str
    writer: str
    reader_is_new: bool


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _child(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _types(schema: dict) -> frozenset[str] | None:
    """The JSON types a schema admits, or None for any."""
    t = schema.get("type")
    if isinstance(t, str):
        return frozenset([t])
    if isinstance(t, list):
        return frozenset(t)
    if "const" in schema:
        return frozenset([_json_type(schema["const"])])
    if isinstance(schema.get("enum"), list):
        return frozenset(_json_type(v) for v in schema["enum"])
    return None


def _values(schema: dict) -> list[str] | None:
    """The canonical texts of the values an enum/const admits, or None if unrestricted."""
    if "const" in schema:
        return [_canonical(schema["const"])]
    if isinstance(schema.get("enum"), list):
        return [_canonical(v) for v in schema["enum"]]
    return None


def _fmt(types) -> str:
    return " or ".join(repr(t) for t in sorted(types))


def _maybe(types: frozenset[str] | None, name: str) -> bool:
    return types is None or name in types


def _read_problems(reader: Any, writer: Any, roles: _Roles, path: str = "") -> list[Problem]:
    """Everything that stops ``reader`` from reading data written with ``writer``."""
    if writer is False:  # the writer writes nothing here
        return []
    if reader is False:
        return [Problem(path, "incompatible_type", f"{_cap(roles.reader)} accepts nothing here")]
    r = reader if isinstance(reader, dict) else {}
    w = writer if isinstance(writer, dict) else {}
    out: list[Problem] = []
    rt, wt = _types(r), _types(w)
    if rt is not None:
        if wt is None:
            out.append(
                Problem(
                    path,
                    "incompatible_type",
                    (
                        f"{_cap(roles.writer)} allows any type here, but {roles.reader} accepts "
                        f"only {_fmt(rt)}"
                    ),
                )
            )
        else:
            bad = sorted(t for t in wt if not (t in rt or (t == "integer" and "number" in rt)))
            if bad:
                old, new = (wt, rt) if roles.reader_is_new else (rt, wt)
                text = (
                    f"type changed from {_fmt(old)} to {_fmt(new)}: data written with "
                    f"{roles.writer} may hold {_fmt(bad)} here, which {roles.reader} does "
                    f"not accept"
                )
                if "number" in bad and "integer" in rt:
                    text += (
                        " (integer -> number is a widening: a number reader accepts "
                        "integers, but an integer reader cannot read 2.5)"
                    )
                out.append(Problem(path, "incompatible_type", _cap(text)))
    rvals = _values(r)
    if rvals is not None:
        wvals = _values(w)
        extra = None if wvals is None else [v for v in wvals if v not in rvals]
        if wvals is None or extra:
            what = "any value" if wvals is None else ", ".join(extra)
            out.append(
                Problem(
                    path,
                    "constraint_changed",
                    (
                        f"{_cap(roles.writer)} may write {what} here, which {roles.reader}'s "
                        f"enum/const does not allow"
                    ),
                )
            )
    for key in sorted(set(r) - _ANALYSED - _ANNOTATIONS):
        if key not in w or _canonical(r[key]) != _canonical(w[key]):
            out.append(
                Problem(
                    path,
                    "constraint_changed",
                    (
                        f"{_cap(roles.reader)} restricts this with '{key}': {_canonical(r[key])}, which "
                        f"{roles.writer} does not guarantee (this checker compares '{key}' for "
                        f"equality only)"
                    ),
                )
            )
    if (
        _maybe(rt, "object")
        and _maybe(wt, "object")
        and ("properties" in r or "properties" in w or "additionalProperties" in r)
    ):
        out += _object_problems(r, w, roles, path)
    if _maybe(rt, "array") and _maybe(wt, "array") and ("items" in r or "items" in w):
        out += _read_problems(r.get("items", True), w.get("items", True), roles, path + "[]")
    return out


def _object_problems(r: dict, w: dict, roles: _Roles, path: str) -> list[Problem]:
    rprops = r.get("properties") if isinstance(r.get("properties"), dict) else {}
    wprops = w.get("properties") if isinstance(w.get("properties"), dict) else {}
    rreq, wreq = list(r.get("required", [])), list(w.get("required", []))
    rnames = list(rprops) + [n for n in rreq if n not in rprops]
    wnames = list(wprops) + [n for n in wreq if n not in wprops]
    out: list[Problem] = []
    for name in rnames:
        field = _child(path, name)
        rsub = rprops.get(name, True)
        has_default = isinstance(rsub, dict) and "default" in rsub
        if name in wnames:
            if name in rprops:
                out += _read_problems(rsub, wprops.get(name, True), roles, field)
            if name in rreq and name not in wreq and not has_default:
                out.append(
                    Problem(
                        field,
                        "required_field_missing",
                        (
                            f"{_cap(roles.reader)} requires {name!r} and has no default for it, but "
                            f"{roles.writer} does not require it, so its data may lack it"
                        ),
                    )
                )
        elif name in rreq and not has_default:
            hint = (
                "a new required field needs a default to read old data"
                if roles.reader_is_new
                else "a field old consumers require cannot be removed (one with a default can)"
            )
            out.append(
                Problem(
                    field,
                    "required_field_missing",
                    (
                        f"{_cap(roles.reader)} requires {name!r} and has no default for it, but "
                        f"{roles.writer} has no field {name!r}, so its data cannot provide it -- {hint}"
                    ),
                )
            )
    extra_schema = r.get("additionalProperties", True)
    for name in wnames:
        if name in rnames:
            continue
        field = _child(path, name)
        if extra_schema is False:
            hint = (
                "removing a field from a closed schema breaks reading old data"
                if roles.reader_is_new
                else "adding a field breaks consumers whose schema is closed"
            )
            out.append(
                Problem(
                    field,
                    "closed_content_model",
                    (
                        f"Data written with {roles.writer} may hold {name!r}, which {roles.reader} does "
                        f"not know and {roles.reader} forbids unknown fields (additionalProperties: "
                        f"false) -- {hint}"
                    ),
                )
            )
        elif isinstance(extra_schema, dict):
            out += _read_problems(extra_schema, wprops.get(name, True), roles, field)
    return _explain_rename(out, r, w, roles, path)


def _explain_rename(problems: list[Problem], r: dict, w: dict, roles: _Roles, path: str):
    """If one field vanished and one of the same type appeared, say it is a rename."""
    new, old = (r, w) if roles.reader_is_new else (w, r)
    new_props, old_props = new.get("properties") or {}, old.get("properties") or {}
    gone = [n for n in old_props if n not in new_props]
    came = [n for n in new_props if n not in old_props]
    if len(gone) != 1 or len(came) != 1:
        return problems
    before, after = old_props[gone[0]], new_props[came[0]]
    if not (isinstance(before, dict) and isinstance(after, dict)):
        return problems
    if _types(before) is None or _types(before) != _types(after):
        return problems
    fields = {_child(path, gone[0]), _child(path, came[0])}
    note = (
        f"; this looks like a rename of {gone[0]!r} to {came[0]!r}, and to a schema a rename "
        f"is a removal plus an addition: add {came[0]!r} with a default and keep {gone[0]!r} "
        "until no one needs it"
    )
    return [replace(p, message=p.message + note) if p.field in fields else p for p in problems]


def _check_mode(mode: Any) -> str:
    if not isinstance(mode, str) or mode.upper() not in MODES:
        raise ValueError(f"unknown compatibility mode {mode!r}; valid modes: {', '.join(MODES)}")
    return mode.upper()


def _verdict(new: dict, history: Sequence[tuple[str, dict]], mode: str) -> Verdict:
    """Check ``new`` against ``history`` (label, schema), oldest first, under ``mode``."""
    if mode == "NONE" or not history:
        return Verdict(True, (), mode, ())
    against = list(history) if mode.endswith("_TRANSITIVE") else [history[-1]]
    base = mode.removesuffix("_TRANSITIVE")
    problems: list[Problem] = []
    for label, old in against:
        if base in ("BACKWARD", "FULL"):
            problems += _read_problems(new, old, _Roles("the new schema", label, True))
        if base in ("FORWARD", "FULL"):
            problems += _read_problems(old, new, _Roles(label, "the new schema", False))
    unique = tuple(dict.fromkeys(problems))
    return Verdict(not unique, unique, mode, tuple(label for label, _ in against))


def compare(old: dict | Sequence[dict], new: dict, mode: str = DEFAULT_MODE) -> Verdict:
    """Check ``new`` against ``old`` under ``mode`` without a registry.

    ``old`` is one schema, or a list of earlier versions (oldest first; a
    non-transitive mode uses only the last, a transitive one all of them).
    """
    mode = _check_mode(mode)
    olds = [old] if isinstance(old, dict) else list(old)
    check_schema(new)
    for schema in olds:
        check_schema(schema)
    if len(olds) == 1:
        history = [("the old schema", olds[0])]
    else:
        history = [(f"version {i}", s) for i, s in enumerate(olds, start=1)]
    return _verdict(new, history, mode)


# --------------------------------------------------------------------------- registry


class IncompatibleSchemaError(ValueError):
    """A schema was refused by the subject's compatibility mode.

    Carries ``subject``, ``mode``, ``verdict`` and ``problems`` (the verdict's).
    """

    def __init__(self, subject: str, verdict: Verdict):
        self.subject = subject
        self.mode = verdict.mode
        self.verdict = verdict
        self.problems = verdict.problems
        super().__init__(f"schema for subject {subject!r} rejected: {verdict}")


class UnknownSubjectError(ValueError, KeyError):
    """A subject, version or id the registry does not have.

    Both a ``ValueError`` (the project's rule for bad input) and a ``KeyError``.
    """

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True)
class RegisteredSchema:
    """One version of a subject: its number, global id, schema and the mode it passed."""

    subject: str
    version: int
    id: int
    schema: dict
    compatibility: str


def _fields_summary(schema: dict) -> str:
    """``user_id:string*, price:number=0.0`` -- ``*`` required, ``=`` default."""
    props = schema.get("properties") if isinstance(schema.get("properties"), dict) else {}
    required = set(schema.get("required", []))
    parts = []
    for name, sub in props.items():
        sub = sub if isinstance(sub, dict) else {}
        types = _types(sub)
        text = f"{name}:{'|'.join(sorted(types)) if types else 'any'}"
        if name in required:
            text += "*"
        if "default" in sub:
            text += f"={_canonical(sub['default'])}"
        parts.append(text)
    return ", ".join(parts)


class SchemaRegistry:
    """Subjects, versions, global ids and compatibility modes, as in Confluent Schema Registry.

    ``compatibility`` is the global mode (default ``"BACKWARD"``); a subject's
    own mode, set with :meth:`set_compatibility`, overrides it.
    """

    def __init__(self, compatibility: str = DEFAULT_MODE):
        self._global_mode = _check_mode(compatibility)
        self._subject_modes: dict[str, str] = {}
        self._versions: dict[str, list[RegisteredSchema]] = {}
        self._canonical: dict[tuple[str, int], str] = {}
        self._ids: dict[str, int] = {}
        self._by_id: dict[int, dict] = {}

    # -- modes

    def set_compatibility(self, mode: str, subject: str | None = None) -> str:
        """Set the global mode, or one subject's (which may not exist yet); returns the mode."""
        mode = _check_mode(mode)
        if subject is None:
            self._global_mode = mode
        else:
            self._check_subject_name(subject)
            self._subject_modes[subject] = mode
        return mode

    def get_compatibility(self, subject: str | None = None) -> str:
        """The mode in force for ``subject`` (its own, else the global one), or the global mode."""
        if subject is None:
            return self._global_mode
        return self._subject_modes.get(subject, self._global_mode)

    # -- registering

    def register(self, subject: str, schema: dict) -> RegisteredSchema:
        """Add ``schema`` as the next version of ``subject`` if the subject's mode allows it.

        A schema identical to one already in the subject returns that version
        unchanged. Raises :class:`IncompatibleSchemaError` (listing every problem)
        when the mode refuses it, ``ValueError`` when it is not valid JSON Schema.
        """
        self._check_subject_name(subject)
        check_schema(schema)
        canonical = _canonical(schema)
        for registered in self._versions.get(subject, []):
            if self._canonical[(subject, registered.version)] == canonical:
                return self._copy(registered)
        verdict = self.check_compatibility(subject, schema)
        if not verdict.compatible:
            raise IncompatibleSchemaError(subject, verdict)
        if canonical not in self._ids:
            self._ids[canonical] = len(self._ids) + 1
            self._by_id[self._ids[canonical]] = json.loads(canonical)
        versions = self._versions.setdefault(subject, [])
        registered = RegisteredSchema(
            subject=subject,
            version=len(versions) + 1,
            id=self._ids[canonical],
            schema=copy.deepcopy(schema),
            compatibility=self.get_compatibility(subject),
        )
        versions.append(registered)
        self._canonical[(subject, registered.version)] = canonical
        return self._copy(registered)

    def check_compatibility(self, subject: str, schema: dict) -> Verdict:
        """Would ``schema`` be accepted as the next version of ``subject``? Registers nothing.

        A subject with no versions yet accepts anything (its first version).
        """
        self._check_subject_name(subject)
        check_schema(schema)
        history = [(f"version {r.version}", r.schema) for r in self._versions.get(subject, [])]
        return _verdict(schema, history, self.get_compatibility(subject))

    # -- reading

    def subjects(self) -> list[str]:
        """Every subject with at least one version, sorted."""
        return sorted(self._versions)

    def versions(self, subject: str) -> list[int]:
        """The version numbers of ``subject``: 1, 2, ..."""
        return [r.version for r in self._history(subject)]

    def latest(self, subject: str) -> RegisteredSchema:
        """The newest version of ``subject``."""
        return self._copy(self._history(subject)[-1])

    def get(self, subject: str, version: int | str) -> RegisteredSchema:
        """One version of ``subject`` (an int, or ``"latest"``)."""
        history = self._history(subject)
        if version == "latest":
            return self._copy(history[-1])
        is_int = isinstance(version, int) and not isinstance(version, bool)
        if not is_int or not 1 <= version <= len(history):
            raise UnknownSubjectError(
                f"subject {subject!r} has no version {version!r}; versions: "
                f"{', '.join(str(r.version) for r in history)} (or 'latest')"
            )
        return self._copy(history[version - 1])

    def schema_by_id(self, schema_id: int) -> dict:
        """The schema with a global id, as a deserializer looks it up from a record's id."""
        if schema_id not in self._by_id:
            known = ", ".join(str(i) for i in sorted(self._by_id)) or "(none yet)"
            raise UnknownSubjectError(f"no schema with id {schema_id!r}; known ids: {known}")
        return copy.deepcopy(self._by_id[schema_id])

    def table(self) -> pd.DataFrame:
        """Every version: subject, version, id, fields (``name:type``, ``*`` required,
        ``=default``) and the compatibility mode it was registered under."""
        rows = [
            {
                "subject": r.subject,
                "version": r.version,
                "id": r.id,
                "fields": _fields_summary(r.schema),
                "compatibility": r.compatibility,
            }
            for subject in self.subjects()
            for r in self._versions[subject]
        ]
        return pd.DataFrame(rows, columns=["subject", "version", "id", "fields", "compatibility"])

    # -- helpers

    @staticmethod
    def _check_subject_name(subject: Any) -> None:
        if not isinstance(subject, str) or not subject:
            raise ValueError(
                f"a subject must be a non-empty string such as 'orders-value', got {subject!r}"
            )

    def _history(self, subject: str) -> list[RegisteredSchema]:
        self._check_subject_name(subject)
        if subject not in self._versions:
            known = ", ".join(repr(s) for s in self.subjects()) or "(none yet)"
            raise UnknownSubjectError(f"unknown subject {subject!r}; known subjects: {known}")
        return self._versions[subject]

    @staticmethod
    def _copy(registered: RegisteredSchema) -> RegisteredSchema:
        # The registry's own copy must not change when a caller edits the dict it got.
        return replace(registered, schema=copy.deepcopy(registered.schema))
