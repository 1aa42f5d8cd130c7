"""JSON Schema compatibility as Confluent Schema Registry's JSON Schema provider decides it.

Confluent compares two JSON Schemas keyword by keyword (its ``SchemaDiff``) and names every
difference it finds (``Difference.Type``): ``MAX_LENGTH_INCREASED``, ``REQUIRED_ATTRIBUTE_ADDED``,
``PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL`` and about a hundred more. A change is compatible when
every difference found is in :data:`COMPATIBLE_CHANGES`. :func:`diff` re-implements that
comparison in Python, with Confluent's names and JSON paths, so its verdicts can be checked case
by case against Confluent's published examples (``tests/data/confluent_json_diff_cases.json``).

Direction: :func:`diff` (``original``, ``update``) asks whether data valid for ``original`` is
still valid for ``update``. A BACKWARD check is ``diff(old, new)`` (the new schema must accept
what the old one wrote), FORWARD is ``diff(new, old)``, FULL both.

Content models (the idea that surprises people coming from Avro):

* **open**: no ``additionalProperties`` (or ``true``) and no ``patternProperties``. Data may
  already hold *any* extra property with *any* type, so adding a property with a type is
  ``PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL`` (incompatible), while removing one is fine.
* **closed**: ``additionalProperties: false``. Nothing extra can be in old data, so adding an
  optional property is fine (``OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL``), while removing
  one is ``PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL`` (incompatible).
* **partially open**: ``additionalProperties`` is a schema, or ``patternProperties`` exist. A
  property added or removed must be covered by that schema.

So under FULL (both directions) neither an open nor a closed object can gain or lose a typed
property; a partially open one can, when the extra-properties schema covers it.

The schemas are read the way Confluent's loader (everit) reads them: ``"type": [..]`` is an
``anyOf`` of one schema per type, several keyword groups in one object (``type`` and ``enum``)
are an implicit ``allOf``, ``$ref`` is followed (local references), ``integer`` and ``number``
are one kind of schema that differs in "requires integer".
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "CHANGE_TYPES",
    "COMPATIBLE_CHANGES",
    "Change",
    "describe",
    "diff",
    "is_compatible",
]

#: Every difference kind Confluent's JSON Schema diff can report (``Difference.Type``).
CHANGE_TYPES = tuple(
    """
    ID_CHANGED DESCRIPTION_CHANGED TITLE_CHANGED DEFAULT_CHANGED SCHEMA_ADDED SCHEMA_REMOVED
    TYPE_EXTENDED TYPE_NARROWED TYPE_CHANGED
    MAX_LENGTH_ADDED MAX_LENGTH_REMOVED MAX_LENGTH_INCREASED MAX_LENGTH_DECREASED
    MIN_LENGTH_ADDED MIN_LENGTH_REMOVED MIN_LENGTH_INCREASED MIN_LENGTH_DECREASED
    PATTERN_ADDED PATTERN_REMOVED PATTERN_CHANGED
    MAXIMUM_ADDED MAXIMUM_REMOVED MAXIMUM_INCREASED MAXIMUM_DECREASED
    MINIMUM_ADDED MINIMUM_REMOVED MINIMUM_INCREASED MINIMUM_DECREASED
    EXCLUSIVE_MAXIMUM_ADDED EXCLUSIVE_MAXIMUM_REMOVED EXCLUSIVE_MAXIMUM_INCREASED
    EXCLUSIVE_MAXIMUM_DECREASED EXCLUSIVE_MINIMUM_ADDED EXCLUSIVE_MINIMUM_REMOVED
    EXCLUSIVE_MINIMUM_INCREASED EXCLUSIVE_MINIMUM_DECREASED
    MULTIPLE_OF_ADDED MULTIPLE_OF_REMOVED MULTIPLE_OF_EXPANDED MULTIPLE_OF_REDUCED
    MULTIPLE_OF_CHANGED
    REQUIRED_ATTRIBUTE_ADDED REQUIRED_ATTRIBUTE_WITH_DEFAULT_ADDED REQUIRED_ATTRIBUTE_REMOVED
    MAX_PROPERTIES_ADDED MAX_PROPERTIES_REMOVED MAX_PROPERTIES_INCREASED MAX_PROPERTIES_DECREASED
    MIN_PROPERTIES_ADDED MIN_PROPERTIES_REMOVED MIN_PROPERTIES_INCREASED MIN_PROPERTIES_DECREASED
    ADDITIONAL_PROPERTIES_ADDED ADDITIONAL_PROPERTIES_REMOVED ADDITIONAL_PROPERTIES_EXTENDED
    ADDITIONAL_PROPERTIES_NARROWED
    DEPENDENCY_ARRAY_ADDED DEPENDENCY_ARRAY_REMOVED DEPENDENCY_ARRAY_EXTENDED
    DEPENDENCY_ARRAY_NARROWED DEPENDENCY_ARRAY_CHANGED DEPENDENCY_SCHEMA_ADDED
    DEPENDENCY_SCHEMA_REMOVED
    PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL PROPERTY_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL
    REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL
    REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_UNOPEN_CONTENT_MODEL
    OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL
    PROPERTY_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL
    PROPERTY_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL
    PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL
    PROPERTY_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL
    PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL
    MAX_ITEMS_ADDED MAX_ITEMS_REMOVED MAX_ITEMS_INCREASED MAX_ITEMS_DECREASED
    MIN_ITEMS_ADDED MIN_ITEMS_REMOVED MIN_ITEMS_INCREASED MIN_ITEMS_DECREASED
    UNIQUE_ITEMS_ADDED UNIQUE_ITEMS_REMOVED
    ADDITIONAL_ITEMS_ADDED ADDITIONAL_ITEMS_REMOVED ADDITIONAL_ITEMS_EXTENDED
    ADDITIONAL_ITEMS_NARROWED
    ITEM_ADDED_TO_OPEN_CONTENT_MODEL ITEM_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL
    ITEM_ADDED_TO_CLOSED_CONTENT_MODEL ITEM_REMOVED_FROM_OPEN_CONTENT_MODEL
    ITEM_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL ITEM_REMOVED_FROM_CLOSED_CONTENT_MODEL
    ITEM_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL
    ITEM_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL
    ITEM_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL
    ITEM_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL
    ENUM_ARRAY_EXTENDED ENUM_ARRAY_NARROWED ENUM_ARRAY_CHANGED
    COMBINED_TYPE_EXTENDED COMBINED_TYPE_CHANGED PRODUCT_TYPE_EXTENDED PRODUCT_TYPE_NARROWED
    SUM_TYPE_EXTENDED SUM_TYPE_NARROWED COMBINED_TYPE_SUBSCHEMAS_CHANGED
    NOT_TYPE_EXTENDED NOT_TYPE_NARROWED
    """.split()
)

#: The differences Confluent counts as compatible (its ``SchemaDiff.COMPATIBLE_CHANGES``).
COMPATIBLE_CHANGES = frozenset(
    """
    ID_CHANGED DESCRIPTION_CHANGED TITLE_CHANGED DEFAULT_CHANGED SCHEMA_REMOVED TYPE_EXTENDED
    MAX_LENGTH_INCREASED MAX_LENGTH_REMOVED MIN_LENGTH_DECREASED MIN_LENGTH_REMOVED PATTERN_REMOVED
    MAXIMUM_INCREASED MAXIMUM_REMOVED MINIMUM_DECREASED MINIMUM_REMOVED
    EXCLUSIVE_MAXIMUM_INCREASED EXCLUSIVE_MAXIMUM_REMOVED EXCLUSIVE_MINIMUM_DECREASED
    EXCLUSIVE_MINIMUM_REMOVED MULTIPLE_OF_REDUCED MULTIPLE_OF_REMOVED
    REQUIRED_ATTRIBUTE_WITH_DEFAULT_ADDED REQUIRED_ATTRIBUTE_REMOVED DEPENDENCY_ARRAY_NARROWED
    DEPENDENCY_ARRAY_REMOVED DEPENDENCY_SCHEMA_REMOVED MAX_PROPERTIES_INCREASED
    MAX_PROPERTIES_REMOVED MIN_PROPERTIES_DECREASED MIN_PROPERTIES_REMOVED
    ADDITIONAL_PROPERTIES_ADDED ADDITIONAL_PROPERTIES_EXTENDED
    PROPERTY_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL
    REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_UNOPEN_CONTENT_MODEL
    OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL
    PROPERTY_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL
    PROPERTY_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL
    PROPERTY_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL
    MAX_ITEMS_INCREASED MAX_ITEMS_REMOVED MIN_ITEMS_DECREASED MIN_ITEMS_REMOVED
    UNIQUE_ITEMS_REMOVED ADDITIONAL_ITEMS_ADDED ADDITIONAL_ITEMS_EXTENDED
    ITEM_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL ITEM_ADDED_TO_CLOSED_CONTENT_MODEL
    ITEM_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL ITEM_REMOVED_FROM_OPEN_CONTENT_MODEL
    ITEM_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL
    ITEM_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL
    ENUM_ARRAY_EXTENDED COMBINED_TYPE_EXTENDED PRODUCT_TYPE_NARROWED SUM_TYPE_EXTENDED
    NOT_TYPE_NARROWED
    """.split()
)


@dataclass(frozen=True)
class Change:
    """One difference: Confluent's change name and the JSON path where it was found (``#/properties/x``)."""

    type: str
    path: str

    @property
    def compatible(self) -> bool:
        """Whether Confluent accepts this difference."""
        return self.type in COMPATIBLE_CHANGES

    def __str__(self) -> str:
        return f"{self.type} {self.path}"


# ----------------------------------------------------------------------------- the schema model
# A small model of how Confluent's loader reads a schema: each node has a kind (the everit class)
# and the keywords that kind compares.

_STRING_KEYS = ("minLength", "maxLength", "pattern", "format")
_NUMBER_KEYS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")
_OBJECT_KEYS = (
    "properties",
    "required",
    "additionalProperties",
    "patternProperties",
    "minProperties",
    "maxProperties",
    "dependencies",
    "dependentRequired",
    "dependentSchemas",
    "propertyNames",
)
_ARRAY_KEYS = (
    "items",
    "additionalItems",
    "prefixItems",
    "minItems",
    "maxItems",
    "uniqueItems",
    "contains",
)
_COMBINERS = ("allOf", "anyOf", "oneOf")


@dataclass(eq=False)
class _Node:
    kind: str  # empty false string number boolean null object array enum const not combined ref
    raw: Any  # the JSON it was read from (for de-duplicating combined subschemas)
    ann: dict = field(default_factory=dict)  # id, title, description, default
    data: dict = field(default_factory=dict)


class _Loader:
    """Reads JSON Schema into :class:`_Node` trees, following local ``$ref``s once each."""

    def __init__(self, root: Any):
        self.root = root
        self.modern = isinstance(root, dict) and any(
            v in str(root.get("$schema", "")) for v in ("2019-09", "2020-12")
        )
        self.refs: dict[str, _Node] = {}

    def ref(self, pointer: str) -> _Node:
        if pointer not in self.refs:
            node = _Node("ref", {"$ref": pointer})
            self.refs[pointer] = node
            node.data["target"] = self.load(self._resolve(pointer))
        return self.refs[pointer]

    def _resolve(self, pointer: str) -> Any:
        if not pointer.startswith("#"):
            raise ValueError(
                f"only local $ref ('#/...') can be followed here, got {pointer!r}; "
                "register referenced schemas inline or under $defs/definitions"
            )
        target = self.root
        for part in [p for p in pointer[1:].split("/") if p]:
            part = part.replace("~1", "/").replace("~0", "~")
            if isinstance(target, list):
                target = target[int(part)]
            elif isinstance(target, dict) and part in target:
                target = target[part]
            else:
                raise ValueError(f"$ref {pointer!r} points to nothing in the schema")
        return target

    def load(self, s: Any) -> _Node:
        if s is True:
            return _Node("empty", True)
        if s is False:
            return _Node("false", False)
        if not isinstance(s, dict):
            raise TypeError(f"a (sub)schema must be an object or a boolean, got {s!r}")
        ann = {k: s[k] for k in ("title", "description", "default") if k in s}
        if not self.modern and ("$id" in s or "id" in s):
            # before 2019-09 an id is compared (ID_CHANGED); later drafts treat $id as a base URI
            ann["id"] = s.get("$id", s.get("id"))
        if "$ref" in s:
            ref = self.ref(s["$ref"])
            if not self.modern:  # before 2019-09 the siblings of $ref are ignored
                return ref
            rest = {k: v for k, v in s.items() if k != "$ref"}
            other = self.load(rest)
            if other.kind == "empty":
                return ref
            return _Node("combined", s, ann, {"criterion": "allOf", "subs": [ref, other]})
        parts: list[_Node] = []
        types = s.get("type")
        if isinstance(types, list):
            subs = [self._typed(t, s) for t in types]
            parts.append(_Node("combined", s, {}, {"criterion": "anyOf", "subs": subs}))
        elif isinstance(types, str):
            parts.append(self._typed(types, s))
        else:
            if any(k in s for k in _STRING_KEYS):
                parts.append(self._typed("string", s, required=False))
            if any(k in s for k in _NUMBER_KEYS):
                parts.append(self._typed("number", s, required=False))
            if any(k in s for k in _OBJECT_KEYS):
                parts.append(self._typed("object", s, required=False))
            if any(k in s for k in _ARRAY_KEYS):
                parts.append(self._typed("array", s, required=False))
        if "enum" in s:
            parts.append(_Node("enum", {"enum": s["enum"]}, {}, {"values": list(s["enum"])}))
        if "const" in s:
            parts.append(_Node("const", {"const": s["const"]}, {}, {"value": s["const"]}))
        if "not" in s:
            parts.append(_Node("not", {"not": s["not"]}, {}, {"schema": self.load(s["not"])}))
        for crit in _COMBINERS:
            if crit in s:
                subs = [self.load(x) for x in s[crit]]
                parts.append(
                    _Node("combined", {crit: s[crit]}, {}, {"criterion": crit, "subs": subs})
                )
        if not parts:
            return _Node("empty", s, ann)
        if len(parts) == 1:
            node = parts[0]
            node.ann = ann
            node.raw = s
            return node
        return _Node("combined", s, ann, {"criterion": "allOf", "subs": parts})

    def _typed(self, t: str, s: dict, required: bool = True) -> _Node:
        if t in ("number", "integer"):
            keys = {k: s[k] for k in _NUMBER_KEYS if k in s}
            # Draft 4 spells exclusive bounds as booleans beside minimum/maximum.
            for bound, excl in (("minimum", "exclusiveMinimum"), ("maximum", "exclusiveMaximum")):
                if isinstance(keys.get(excl), bool):
                    if keys.pop(excl) and bound in keys:
                        keys[excl] = keys.pop(bound)
            keys["integer"] = t == "integer"
            return _Node("number", {"type": t, **keys}, {}, keys)
        if t == "string":
            keys = {k: s[k] for k in ("minLength", "maxLength", "pattern") if k in s}
            return _Node("string", {"type": t, **keys}, {}, keys)
        if t == "object":
            return _Node("object", {**s, "type": t}, {}, self._object(s))
        if t == "array":
            return _Node("array", {**s, "type": t}, {}, self._array(s))
        if t in ("boolean", "null"):
            return _Node(t, {"type": t})
        raise ValueError(
            f"unknown JSON Schema type {t!r}; valid types: "
            "array, boolean, integer, null, number, object, string"
        )

    def _object(self, s: dict) -> dict:
        props = s.get("properties") or {}
        extra = s.get("additionalProperties", True)
        deps_array = {k: v for k, v in (s.get("dependencies") or {}).items() if isinstance(v, list)}
        deps_schema = {
            k: v for k, v in (s.get("dependencies") or {}).items() if not isinstance(v, list)
        }
        deps_array.update(s.get("dependentRequired") or {})
        deps_schema.update(s.get("dependentSchemas") or {})
        return {
            "properties": {k: self.load(v) for k, v in props.items()},
            "required": list(s.get("required") or []),
            "permits_extra": extra is not False,
            "extra": None if isinstance(extra, bool) else self.load(extra),
            "patterns": {k: self.load(v) for k, v in (s.get("patternProperties") or {}).items()},
            "deps_array": deps_array,
            "deps_schema": {k: self.load(v) for k, v in deps_schema.items()},
            "maxProperties": s.get("maxProperties"),
            "minProperties": s.get("minProperties"),
        }

    def _array(self, s: dict) -> dict:
        items = s.get("items")
        if "prefixItems" in s:  # 2020-12: prefixItems is the tuple, items the rest
            tuple_items, all_items, extra = s["prefixItems"], None, items
        elif self.modern and isinstance(items, bool):  # 2020-12 "items": false closes the array
            tuple_items, all_items, extra = None, None, items
        elif isinstance(items, list):  # draft 4-7 array form
            tuple_items, all_items, extra = items, None, s.get("additionalItems", True)
        else:
            tuple_items, all_items, extra = None, items, s.get("additionalItems", True)
        extra = True if extra is None else extra
        return {
            "all": None if all_items is None else self.load(all_items),
            "tuple": None if tuple_items is None else [self.load(x) for x in tuple_items],
            "permits_extra": extra is not False,
            "extra": None if isinstance(extra, bool) else self.load(extra),
            "maxItems": s.get("maxItems"),
            "minItems": s.get("minItems"),
            "uniqueItems": bool(s.get("uniqueItems", False)),
        }


# ----------------------------------------------------------------------------- the comparison


class _Context:
    def __init__(self, path: list[str] | None = None, busy: set | None = None):
        self.path = list(path or [])
        self.changes: list[Change] = []
        self.busy = busy if busy is not None else set()

    def sub(self) -> _Context:
        return _Context(self.path, self.busy)

    def add(self, kind: str, attribute: str | None = None) -> None:
        parts = self.path + ([attribute] if attribute else [])
        self.changes.append(Change(kind, "#/" + "/".join(parts)))

    def extend(self, changes: list[Change]) -> None:
        self.changes.extend(changes)

    @property
    def compatible(self) -> bool:
        return all(c.type in COMPATIBLE_CHANGES for c in self.changes)

    def enter(self, *parts: str):
        ctx = self

        class _Scope:
            def __enter__(self):
                ctx.path.extend(parts)

            def __exit__(self, *exc):
                del ctx.path[len(ctx.path) - len(parts) :]

        return _Scope()


def _deref(node: _Node | None) -> _Node | None:
    seen = 0
    while node is not None and node.kind == "ref" and seen < 100:
        node, seen = node.data["target"], seen + 1
    return node


def _compare(ctx: _Context, o: _Node | None, u: _Node | None) -> None:
    if o is None and u is None:
        return
    if o is None:
        ctx.add("SCHEMA_ADDED")
        return
    if u is None:
        ctx.add("SCHEMA_REMOVED")
        return
    o, u = _deref(o), _deref(u)
    if o.kind != "combined" and u.kind == "combined":
        subs = u.data["subs"]
        if len(subs) == 1:
            sub = ctx.sub()
            _compare(sub, o, subs[0])
            if sub.compatible:
                ctx.extend(sub.changes)
                return
        elif u.data["criterion"] in ("anyOf", "oneOf"):
            for s in subs:
                sub = ctx.sub()
                _compare(sub, o, s)
                if sub.compatible:
                    ctx.extend(sub.changes)
                    ctx.add("SUM_TYPE_EXTENDED")
                    return
    elif o.kind == "combined" and u.kind != "combined":
        subs = o.data["subs"]
        if len(subs) == 1:
            sub = ctx.sub()
            _compare(sub, subs[0], u)
            if sub.compatible:
                ctx.extend(sub.changes)
                return
        elif o.data["criterion"] == "allOf":
            for s in subs:
                sub = ctx.sub()
                _compare(sub, s, u)
                if sub.compatible:
                    ctx.extend(sub.changes)
                    ctx.add("PRODUCT_TYPE_NARROWED")
                    return
    if o.kind != u.kind:
        if o.kind != "false" and u.kind != "empty":
            ctx.add("TYPE_CHANGED")
        return
    key = (id(o), id(u))
    if key in ctx.busy:  # a recursive schema met itself: assume compatible, as Confluent does
        return
    ctx.busy.add(key)
    try:
        for name, change in (
            ("id", "ID_CHANGED"),
            ("title", "TITLE_CHANGED"),
            ("description", "DESCRIPTION_CHANGED"),
            ("default", "DEFAULT_CHANGED"),
        ):
            if _canon(o.ann.get(name, _MISSING)) != _canon(u.ann.get(name, _MISSING)):
                ctx.add(change)
        compare = _KIND_COMPARE.get(o.kind)
        if compare is not None:
            compare(ctx, o.data, u.data)
    finally:
        ctx.busy.discard(key)


_MISSING = object()


def _canon(value: Any) -> str:
    if value is _MISSING:
        return "<missing>"
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _bound(ctx: _Context, name: str, o: Any, u: Any, prefix: str) -> None:
    """ADDED / REMOVED / INCREASED / DECREASED for one numeric keyword."""
    if o == u:
        return
    if o is None:
        ctx.add(f"{prefix}_ADDED", name)
    elif u is None:
        ctx.add(f"{prefix}_REMOVED", name)
    elif o < u:
        ctx.add(f"{prefix}_INCREASED", name)
    elif o > u:
        ctx.add(f"{prefix}_DECREASED", name)


def _string(ctx: _Context, o: dict, u: dict) -> None:
    _bound(ctx, "maxLength", o.get("maxLength"), u.get("maxLength"), "MAX_LENGTH")
    _bound(ctx, "minLength", o.get("minLength"), u.get("minLength"), "MIN_LENGTH")
    op, up = o.get("pattern"), u.get("pattern")
    if op is None and up is not None:
        ctx.add("PATTERN_ADDED", "pattern")
    elif op is not None and up is None:
        ctx.add("PATTERN_REMOVED", "pattern")
    elif op != up:
        ctx.add("PATTERN_CHANGED", "pattern")


def _number(ctx: _Context, o: dict, u: dict) -> None:
    _bound(ctx, "maximum", o.get("maximum"), u.get("maximum"), "MAXIMUM")
    _bound(ctx, "minimum", o.get("minimum"), u.get("minimum"), "MINIMUM")
    _bound(
        ctx,
        "exclusiveMaximum",
        o.get("exclusiveMaximum"),
        u.get("exclusiveMaximum"),
        "EXCLUSIVE_MAXIMUM",
    )
    _bound(
        ctx,
        "exclusiveMinimum",
        o.get("exclusiveMinimum"),
        u.get("exclusiveMinimum"),
        "EXCLUSIVE_MINIMUM",
    )
    om, um = o.get("multipleOf"), u.get("multipleOf")
    if om != um:
        if om is None:
            ctx.add("MULTIPLE_OF_ADDED", "multipleOf")
        elif um is None:
            ctx.add("MULTIPLE_OF_REMOVED", "multipleOf")
        elif int(om) and int(um) and int(um) % int(om) == 0:
            ctx.add("MULTIPLE_OF_EXPANDED", "multipleOf")
        elif int(om) and int(um) and int(om) % int(um) == 0:
            ctx.add("MULTIPLE_OF_REDUCED", "multipleOf")
        else:
            ctx.add("MULTIPLE_OF_CHANGED", "multipleOf")
    if o["integer"] != u["integer"]:
        ctx.add("TYPE_EXTENDED" if o["integer"] else "TYPE_NARROWED")


def _enum(ctx: _Context, o: dict, u: dict) -> None:
    ov = {_canon(v) for v in o["values"]}
    uv = {_canon(v) for v in u["values"]}
    if ov != uv:
        if uv >= ov:
            ctx.add("ENUM_ARRAY_EXTENDED", "enum")
        elif ov >= uv:
            ctx.add("ENUM_ARRAY_NARROWED", "enum")
        else:
            ctx.add("ENUM_ARRAY_CHANGED", "enum")


def _const(ctx: _Context, o: dict, u: dict) -> None:
    if _canon(o["value"]) != _canon(u["value"]):
        ctx.add("ENUM_ARRAY_CHANGED", "const")


def _not(ctx: _Context, o: dict, u: dict) -> None:
    with ctx.enter("not"):
        sub = ctx.sub()
        _compare(sub, u["schema"], o["schema"])  # reversed: NOT narrows what it forbids
        ctx.add("NOT_TYPE_NARROWED" if sub.compatible else "NOT_TYPE_EXTENDED")


def _singleton(d: dict) -> bool:
    return len(d["subs"]) == 1


def _combined(ctx: _Context, o: dict, u: dict) -> None:
    oc, uc = o["criterion"], u["criterion"]
    if oc != uc:
        if uc == "anyOf":
            kind = "COMBINED_TYPE_EXTENDED"
        elif uc == "oneOf" and _singleton(o):
            kind = "COMBINED_TYPE_EXTENDED"
        elif uc == "allOf" and _singleton(o) and _singleton(u):
            kind = "COMBINED_TYPE_EXTENDED"
        else:
            kind = "COMBINED_TYPE_CHANGED"
        ctx.add(kind)
        if kind == "COMBINED_TYPE_CHANGED":
            return
    osubs = _dedup(o["subs"])
    usubs = _dedup(u["subs"])
    if len(osubs) < len(usubs):
        ctx.add("PRODUCT_TYPE_EXTENDED" if uc == "allOf" else "SUM_TYPE_EXTENDED")
    elif len(osubs) > len(usubs):
        ctx.add("PRODUCT_TYPE_NARROWED" if uc == "allOf" else "SUM_TYPE_NARROWED")
    edges: dict[tuple[int, int], list[Change]] = {}
    for i, os_ in enumerate(osubs):
        with ctx.enter(oc, str(i)):
            for j, us in enumerate(usubs):
                sub = ctx.sub()
                _compare(sub, os_, us)
                if sub.compatible:
                    edges[(i, j)] = sub.changes
    matching = _max_matching(len(osubs), len(usubs), edges)
    for pair in matching:
        ctx.extend(edges[pair])
    if len(matching) < min(len(osubs), len(usubs)):
        ctx.add("COMBINED_TYPE_SUBSCHEMAS_CHANGED")


def _dedup(subs: list[_Node]) -> list[_Node]:
    seen, out = set(), []
    for s in subs:
        key = _canon(s.raw)
        if key not in seen:
            seen.add(key)
            out.append(s)
    return out


def _max_matching(n: int, m: int, edges: dict) -> list[tuple[int, int]]:
    """A maximum bipartite matching (augmenting paths), deterministic in the input order."""
    match_u: dict[int, int] = {}

    def augment(i: int, seen: set) -> bool:
        for j in range(m):
            if (i, j) in edges and j not in seen:
                seen.add(j)
                if j not in match_u or augment(match_u[j], seen):
                    match_u[j] = i
                    return True
        return False

    for i in range(n):
        augment(i, set())
    return sorted((i, j) for j, i in match_u.items())


def _is_open(d: dict) -> bool:
    return not d["patterns"] and d["extra"] is None and d["permits_extra"]


def _partial(d: dict, name: str) -> _Node | None:
    for pattern, node in d["patterns"].items():
        if re.search(pattern, name):
            return node
    return d["extra"]


def _object(ctx: _Context, o: dict, u: dict) -> None:
    oprops, uprops = o["properties"], u["properties"]
    with ctx.enter("required"):
        for name in oprops:
            if name in uprops:
                oreq, ureq = name in o["required"], name in u["required"]
                if oreq and not ureq:
                    ctx.add("REQUIRED_ATTRIBUTE_REMOVED", name)
                elif ureq and not oreq:
                    with_default = "default" in _deref(uprops[name]).ann
                    ctx.add(
                        "REQUIRED_ATTRIBUTE_WITH_DEFAULT_ADDED"
                        if with_default
                        else "REQUIRED_ATTRIBUTE_ADDED",
                        name,
                    )
    with ctx.enter("properties"):
        names = list(oprops) + [n for n in uprops if n not in oprops]
        for name in names:
            with ctx.enter(name):
                _property(ctx, o, u, name)
    with ctx.enter("dependencies"):
        for name in list(o["deps_array"]) + [
            n for n in u["deps_array"] if n not in o["deps_array"]
        ]:
            od, ud = o["deps_array"].get(name), u["deps_array"].get(name)
            if ud is None:
                ctx.add("DEPENDENCY_ARRAY_REMOVED", name)
            elif od is None:
                ctx.add("DEPENDENCY_ARRAY_ADDED", name)
            elif set(od) != set(ud):
                if set(ud) >= set(od):
                    ctx.add("DEPENDENCY_ARRAY_EXTENDED", name)
                elif set(od) >= set(ud):
                    ctx.add("DEPENDENCY_ARRAY_NARROWED", name)
                else:
                    ctx.add("DEPENDENCY_ARRAY_CHANGED", name)
        for name in list(o["deps_schema"]) + [
            n for n in u["deps_schema"] if n not in o["deps_schema"]
        ]:
            od, ud = o["deps_schema"].get(name), u["deps_schema"].get(name)
            if ud is None:
                ctx.add("DEPENDENCY_SCHEMA_REMOVED", name)
            elif od is None:
                ctx.add("DEPENDENCY_SCHEMA_ADDED", name)
            else:
                with ctx.enter(name):
                    _compare(ctx, od, ud)
    with ctx.enter("additionalProperties"):
        if o["permits_extra"] != u["permits_extra"]:
            ctx.add(
                "ADDITIONAL_PROPERTIES_ADDED"
                if u["permits_extra"]
                else "ADDITIONAL_PROPERTIES_REMOVED"
            )
        elif o["extra"] is None and u["extra"] is not None:
            ctx.add("ADDITIONAL_PROPERTIES_NARROWED")
        elif u["extra"] is None and o["extra"] is not None:
            ctx.add("ADDITIONAL_PROPERTIES_EXTENDED")
        else:
            _compare(ctx, o["extra"], u["extra"])
    _bound(ctx, "maxProperties", o["maxProperties"], u["maxProperties"], "MAX_PROPERTIES")
    _bound(ctx, "minProperties", o["minProperties"], u["minProperties"], "MIN_PROPERTIES")


def _property(ctx: _Context, o: dict, u: dict, name: str) -> None:
    os_, us = o["properties"].get(name), u["properties"].get(name)
    if us is None:  # removed: only the update's content model matters
        if _is_open(u):
            ctx.add("PROPERTY_REMOVED_FROM_OPEN_CONTENT_MODEL")
            return
        cover = _partial(u, name)
        if cover is not None:
            sub = ctx.sub()
            _compare(sub, os_, cover)
            ctx.extend(sub.changes)
            ctx.add(
                "PROPERTY_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
                if sub.compatible
                else "PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
            )
        elif _deref(os_).kind == "false":
            ctx.add("PROPERTY_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL")
        else:
            ctx.add("PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL")
    elif os_ is None:  # added: only the original's content model matters
        if _is_open(o):
            ctx.add(
                "PROPERTY_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL"
                if _deref(us).kind == "empty"
                else "PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL"
            )
            return
        cover = _partial(o, name)
        if cover is not None:
            sub = ctx.sub()
            _compare(sub, cover, us)
            ctx.extend(sub.changes)
            ctx.add(
                "PROPERTY_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
                if sub.compatible
                else "PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
            )
        if name in u["required"]:
            ctx.add(
                "REQUIRED_PROPERTY_WITH_DEFAULT_ADDED_TO_UNOPEN_CONTENT_MODEL"
                if "default" in _deref(us).ann
                else "REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL"
            )
        else:
            ctx.add("OPTIONAL_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL")
    else:
        _compare(ctx, os_, us)


def _array(ctx: _Context, o: dict, u: dict) -> None:
    with ctx.enter("items"):
        _compare(ctx, o["all"], u["all"])
    ot, ut = o["tuple"] or [], u["tuple"] or []
    for i in range(max(len(ot), len(ut))):
        with ctx.enter(f"items/{i}"):
            if i < len(ot) and i < len(ut):
                _compare(ctx, ot[i], ut[i])
            elif i < len(ot):  # an item position removed
                if _is_open_array(u):
                    ctx.add("ITEM_REMOVED_FROM_OPEN_CONTENT_MODEL")
                elif u["extra"] is not None:
                    sub = ctx.sub()
                    _compare(sub, ot[i], u["extra"])
                    ctx.extend(sub.changes)
                    ctx.add(
                        "ITEM_REMOVED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
                        if sub.compatible
                        else "ITEM_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
                    )
                elif _deref(ot[i]).kind == "false":
                    ctx.add("ITEM_WITH_FALSE_REMOVED_FROM_CLOSED_CONTENT_MODEL")
                else:
                    ctx.add("ITEM_REMOVED_FROM_CLOSED_CONTENT_MODEL")
            else:  # an item position added
                if _is_open_array(o):
                    ctx.add(
                        "ITEM_WITH_EMPTY_SCHEMA_ADDED_TO_OPEN_CONTENT_MODEL"
                        if _deref(ut[i]).kind == "empty"
                        else "ITEM_ADDED_TO_OPEN_CONTENT_MODEL"
                    )
                elif o["extra"] is not None:
                    sub = ctx.sub()
                    _compare(sub, o["extra"], ut[i])
                    ctx.extend(sub.changes)
                    ctx.add(
                        "ITEM_ADDED_IS_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
                        if sub.compatible
                        else "ITEM_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL"
                    )
                else:
                    ctx.add("ITEM_ADDED_TO_CLOSED_CONTENT_MODEL")
    with ctx.enter("additionalItems"):
        if o["permits_extra"] != u["permits_extra"]:
            ctx.add("ADDITIONAL_ITEMS_REMOVED" if o["permits_extra"] else "ADDITIONAL_ITEMS_ADDED")
        elif o["extra"] is None and u["extra"] is not None:
            ctx.add("ADDITIONAL_ITEMS_NARROWED")
        elif u["extra"] is None and o["extra"] is not None:
            ctx.add("ADDITIONAL_ITEMS_EXTENDED")
        else:
            _compare(ctx, o["extra"], u["extra"])
    _bound(ctx, "maxItems", o["maxItems"], u["maxItems"], "MAX_ITEMS")
    _bound(ctx, "minItems", o["minItems"], u["minItems"], "MIN_ITEMS")
    if o["uniqueItems"] != u["uniqueItems"]:
        ctx.add("UNIQUE_ITEMS_REMOVED" if o["uniqueItems"] else "UNIQUE_ITEMS_ADDED", "uniqueItems")


def _is_open_array(d: dict) -> bool:
    return d["permits_extra"] and d["extra"] is None


_KIND_COMPARE = {
    "string": _string,
    "number": _number,
    "enum": _enum,
    "const": _const,
    "not": _not,
    "combined": _combined,
    "object": _object,
    "array": _array,
}


# ----------------------------------------------------------------------------- the public face


def diff(original: Any, update: Any) -> list[Change]:
    """Every difference between two JSON Schemas, as Confluent's diff names them.

    ``original`` is the schema whose data must still be accepted, ``update`` the one that must
    accept it (for BACKWARD: the old and the new schema).
    """
    ctx = _Context()
    _compare(ctx, _Loader(original).load(original), _Loader(update).load(update))
    return ctx.changes


def is_compatible(original: Any, update: Any) -> bool:
    """True when every difference :func:`diff` finds is one Confluent accepts."""
    return all(c.compatible for c in diff(original, update))


# One sentence per family of differences, in plain words; {path} is where, {a}/{b} the two
# schemas in the roles of the check (the one that must accept, the one whose data it reads).
_SENTENCES = [
    (
        ("PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL",),
        "{b} has an open content model, so records written with it may already hold a "
        "property {name!r} of any type; {a} now constrains {name!r} and may refuse them (close "
        "the schema with additionalProperties: false, or cover new names with an "
        "additionalProperties or patternProperties schema)",
    ),
    (
        ("PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL", "ITEM_REMOVED_FROM_CLOSED_CONTENT_MODEL"),
        "{a} is closed (additionalProperties: false) and no longer lists {name!r}, which "
        "records written with {b} may hold",
    ),
    (
        (
            "REQUIRED_PROPERTY_ADDED_TO_UNOPEN_CONTENT_MODEL",
            "REQUIRED_ATTRIBUTE_ADDED",
        ),
        "{a} requires {name!r}, which records written with {b} may lack (a JSON Schema "
        "default does not help: deserializers do not fill it in)",
    ),
    (
        (
            "PROPERTY_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
            "PROPERTY_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
            "ITEM_ADDED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
            "ITEM_REMOVED_NOT_COVERED_BY_PARTIALLY_OPEN_CONTENT_MODEL",
        ),
        "{path} is not covered by the schema for extra properties or items, so the two "
        "schemas disagree on what may be there",
    ),
    (
        ("ITEM_ADDED_TO_OPEN_CONTENT_MODEL",),
        "{b} allows any extra array item, and {a} now gives position {path} a type those "
        "items may not have",
    ),
    (
        (
            "TYPE_CHANGED",
            "TYPE_NARROWED",
            "COMBINED_TYPE_CHANGED",
            "COMBINED_TYPE_SUBSCHEMAS_CHANGED",
            "ENUM_ARRAY_CHANGED",
        ),
        "the type at {path} differs: {a} does not accept every value {b} allows there",
    ),
    (
        (
            "ENUM_ARRAY_NARROWED",
            "SUM_TYPE_NARROWED",
            "ADDITIONAL_PROPERTIES_NARROWED",
            "ADDITIONAL_ITEMS_NARROWED",
        ),
        "{a} allows fewer choices at {path} than {b}",
    ),
    (
        (
            "PRODUCT_TYPE_EXTENDED",
            "NOT_TYPE_EXTENDED",
            "DEPENDENCY_ARRAY_EXTENDED",
        ),
        "{a} adds a condition at {path} that data written with {b} may not meet",
    ),
    (
        ("PATTERN_CHANGED", "MULTIPLE_OF_CHANGED", "DEPENDENCY_ARRAY_CHANGED"),
        "the value at {path} changed, so {a} may refuse data {b} accepted",
    ),
    (
        ("SCHEMA_ADDED",),
        "{a} adds a schema at {path} where {b} accepted anything",
    ),
]


def describe(change: Change, new_reads_old: bool = True) -> str:
    """A sentence saying what ``change`` means, naming the new and old schema by role.

    ``new_reads_old`` is True for the BACKWARD direction (the new schema must accept what the
    old one wrote), False for FORWARD.
    """
    a, b = (
        ("the new schema", "the old schema")
        if new_reads_old
        else ("the old schema", "the new schema")
    )
    name = change.path.rsplit("/", 1)[-1]
    for types, template in _SENTENCES:
        if change.type in types:
            text = template.format(path=change.path, name=name, a=a, b=b)
            return text[:1].upper() + text[1:]
    kind = change.type
    if kind.endswith(("_ADDED", "_INCREASED", "_DECREASED", "_EXPANDED", "_REMOVED")):
        what = kind.rsplit("_", 1)[0].lower().replace("_", " ")
        how = kind.rsplit("_", 1)[1].lower()
        if change.compatible:
            effect = f"{a} is looser there, so it accepts whatever {b} wrote"
        else:
            effect = f"{a} is stricter there, so it may refuse records written with {b}"
        return f"{what[:1].upper()}{what[1:]} {how} at {change.path}: {effect}"
    return f"{kind} at {change.path}"
