"""Avro compatibility by Avro's schema resolution rules (the reader/writer rules of the spec).

Avro data is always read with two schemas: the *writer's* (the one the bytes were written with;
Confluent's deserializer finds it from the schema id on the wire) and the *reader's* (the one the
consumer's code expects). The spec's "Schema Resolution" section says when the reader can read:

* same primitive type, or a promotion: int -> long, float, double; long -> float, double;
  float -> double; string <-> bytes;
* records with the same unqualified name (or the writer's name among the reader's ``aliases``):
  fields are matched by name (or by a reader field's ``aliases``, which is how a rename stays
  compatible); a writer field the reader lacks is skipped; a reader field the writer lacks is
  filled with the reader's ``default``, and without a default reading fails;
* enums with the same name: every writer symbol the reader lacks fails, unless the reader gives
  an enum ``default``;
* fixed with the same name and size; arrays and maps by their items and values;
* a writer union: every branch must be readable; a reader union: some branch must read the writer.

:func:`problems` returns every broken rule with the name Avro's Java ``SchemaCompatibility``
gives it (``READER_FIELD_MISSING_DEFAULT_VALUE``, ``TYPE_MISMATCH``, ``NAME_MISMATCH``,
``MISSING_ENUM_SYMBOLS``, ``MISSING_UNION_BRANCH``, ``FIXED_SIZE_MISMATCH``) and a sentence.
BACKWARD is ``problems(reader=new, writer=old)``, FORWARD the other way round.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import fastavro

__all__ = ["AvroProblem", "parse", "problems"]

_PRIMITIVES = ("null", "boolean", "int", "long", "float", "double", "bytes", "string")
_PROMOTIONS = {
    "int": ("long", "float", "double"),
    "long": ("float", "double"),
    "float": ("double",),
    "string": ("bytes",),
    "bytes": ("string",),
}


@dataclass(frozen=True)
class AvroProblem:
    """One broken resolution rule: Avro's name for it, where (``/fields/price``) and why."""

    type: str
    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.type} {self.path}: {self.message}"


def parse(schema: Any) -> tuple[Any, dict]:
    """Check ``schema`` with fastavro and return it with its table of named types."""
    names: dict = {}
    parsed = fastavro.parse_schema(schema, named_schemas=names, _write_hint=False)
    return parsed, names


def problems(reader: Any, writer: Any) -> list[AvroProblem]:
    """Every reason a reader with ``reader`` cannot read data written with ``writer``."""
    r, rnames = parse(reader)
    w, wnames = parse(writer)
    return _Checker(rnames, wnames).check(r, w, "")


def _type(schema: Any) -> str:
    if isinstance(schema, list):
        return "union"
    if isinstance(schema, dict):
        t = schema["type"]
        return t if isinstance(t, str) else _type(t)
    return schema


def _short(name: str) -> str:
    return name.rsplit(".", 1)[-1]


class _Checker:
    def __init__(self, rnames: dict, wnames: dict):
        self.rnames, self.wnames = rnames, wnames
        self.busy: set = set()

    def _resolve(self, schema: Any, names: dict) -> Any:
        while isinstance(schema, str) and schema not in _PRIMITIVES:
            schema = names[schema]
        if isinstance(schema, dict) and isinstance(schema.get("type"), (dict, list)):
            return self._resolve(schema["type"], names)
        if isinstance(schema, dict) and schema.get("type") in _PRIMITIVES:
            return schema["type"]  # drop logicalType and other attributes of a primitive
        if isinstance(schema, dict) and schema["type"] not in (
            "record",
            "error",
            "enum",
            "fixed",
            "array",
            "map",
        ):
            return self._resolve(schema["type"], names)
        return schema

    def check(self, r: Any, w: Any, path: str) -> list[AvroProblem]:
        r, w = self._resolve(r, self.rnames), self._resolve(w, self.wnames)
        if isinstance(w, list):
            out: list[AvroProblem] = []
            for i, branch in enumerate(w):
                out += self.check(r, branch, f"{path}/{i}")
            return out
        if isinstance(r, list):
            for branch in r:
                if not self.check(branch, w, path):
                    return []
            return [
                AvroProblem(
                    "MISSING_UNION_BRANCH",
                    path or "/",
                    f"the reader's union has no branch that can read the writer's {_describe(w)}",
                )
            ]
        rt, wt = _type(r), _type(w)
        if rt != wt and not (rt == "record" and wt == "error" or rt == "error" and wt == "record"):
            if rt in _PROMOTIONS.get(wt, ()):
                return []
            return [
                AvroProblem(
                    "TYPE_MISMATCH",
                    path or "/",
                    f"the writer wrote {_describe(w)} and the reader expects {_describe(r)}, "
                    "which is neither the same type nor a promotion (int->long->float->double, "
                    "string<->bytes)",
                )
            ]
        if rt in _PRIMITIVES:
            return []
        if rt in ("record", "error", "enum", "fixed"):
            if not _names_match(r, w):
                return [
                    AvroProblem(
                        "NAME_MISMATCH",
                        path or "/",
                        f"the writer's {rt} is named {_short(w['name'])!r} and the reader's "
                        f"{_short(r['name'])!r} (without the writer's name among its aliases)",
                    )
                ]
        if rt == "fixed":
            if r["size"] != w["size"]:
                return [
                    AvroProblem(
                        "FIXED_SIZE_MISMATCH",
                        path or "/",
                        f"the writer's fixed has {w['size']} bytes and the reader's {r['size']}",
                    )
                ]
            return []
        if rt == "enum":
            missing = [s for s in w["symbols"] if s not in r["symbols"]]
            if missing and "default" not in r:
                return [
                    AvroProblem(
                        "MISSING_ENUM_SYMBOLS",
                        path or "/",
                        f"the writer may write {', '.join(missing)}, which the reader's enum "
                        "lacks, and the reader gives no enum default",
                    )
                ]
            return []
        if rt == "array":
            return self.check(r["items"], w["items"], f"{path}/items")
        if rt == "map":
            return self.check(r["values"], w["values"], f"{path}/values")
        return self._record(r, w, path)

    def _record(self, r: dict, w: dict, path: str) -> list[AvroProblem]:
        if (r["name"], w["name"]) in self.busy:  # a recursive type met itself
            return []
        self.busy.add((r["name"], w["name"]))
        try:
            wfields = {f["name"]: f for f in w["fields"]}
            out: list[AvroProblem] = []
            for f in r["fields"]:
                where = f"{path}/fields/{f['name']}"
                source = wfields.get(f["name"])
                if source is None:
                    source = next((wfields[a] for a in f.get("aliases", []) if a in wfields), None)
                if source is not None:
                    out += self.check(f["type"], source["type"], where)
                elif "default" not in f:
                    out.append(
                        AvroProblem(
                            "READER_FIELD_MISSING_DEFAULT_VALUE",
                            where,
                            f"the reader needs field {f['name']!r}, the writer's record has no "
                            f"such field (nor one named by its aliases), and the reader gives no "
                            "default to fill it in",
                        )
                    )
            return out
        finally:
            self.busy.discard((r["name"], w["name"]))


def _names_match(r: dict, w: dict) -> bool:
    aliases = r.get("aliases", [])
    return (
        _short(r["name"]) == _short(w["name"])
        or w["name"] in aliases
        or _short(w["name"]) in aliases
    )


def _describe(schema: Any) -> str:
    t = _type(schema)
    if isinstance(schema, dict) and "name" in schema:
        return f"{t} {_short(schema['name'])!r}"
    return repr(t)
