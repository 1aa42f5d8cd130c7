"""Count reaches into other objects' private members across the package.

A *reach* is an attribute whose name starts with one underscore (``obj._x``,
not ``obj.__x__``) read or written on anything but ``self`` or ``cls``, or a
``from module import _x``. Two
kinds of underscore names are public API and not counted: a named tuple's
``_fields``, ``_asdict``, ``_replace``, ``_make`` and ``_field_defaults``, and
confluent-kafka's local error codes on ``KafkaError`` (``KafkaError._MSG_TIMED_OUT``,
``KafkaError._FENCED``, ...), which librdkafka names with a leading underscore.
CONTRIBUTING.md allows one only on a measured hot path, with a comment on the
same line that says ``hot path``; ``tests/test_layout.py`` holds the number of
unmarked reaches to a ratchet so it cannot grow.

Run from the repository root::

    python tools/private_reaches.py            # per-file counts
    python tools/private_reaches.py --list     # every reach, file:line
"""

from __future__ import annotations

import ast
import sys
from collections import Counter
from pathlib import Path
from typing import NamedTuple

PACKAGE = Path(__file__).resolve().parent.parent / "eda_sim"

# public despite the underscore (see the module docstring)
NAMEDTUPLE_API = frozenset({"_fields", "_asdict", "_replace", "_make", "_field_defaults"})


def _public_underscore(node: ast.Attribute) -> bool:
    if node.attr in NAMEDTUPLE_API:
        return True
    owner = node.value
    owner_name = owner.id if isinstance(owner, ast.Name) else getattr(owner, "attr", "")
    return owner_name == "KafkaError" and node.attr[1:].isupper()


class Reach(NamedTuple):
    """One ``obj._x`` in the source: where, which name, and whether marked ``hot path``."""

    path: str
    line: int
    attr: str
    hot_path: bool


def reaches(package: Path = PACKAGE) -> list[Reach]:
    """Every reach into a private member under ``package``, in file and line order."""
    found = []
    for path in sorted(package.rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        lines = text.splitlines()
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, ast.ImportFrom) and node.module != "__future__":
                # ``from other import _name``: the same reach, made at import time
                for alias in node.names:
                    if alias.name.startswith("_") and not alias.name.startswith("__"):
                        marked = "hot path" in lines[node.lineno - 1]
                        rel = str(path.relative_to(package.parent))
                        found.append(Reach(rel, node.lineno, alias.name, marked))
                continue
            if not isinstance(node, ast.Attribute):
                continue
            if not node.attr.startswith("_") or node.attr.startswith("__"):
                continue
            if isinstance(node.value, ast.Name) and node.value.id in ("self", "cls"):
                continue
            if _public_underscore(node):
                continue
            # the comment may sit on any line of a statement split over several lines
            end = getattr(node, "end_lineno", node.lineno) or node.lineno
            span = lines[node.lineno - 1 : end]
            marked = any("hot path" in line for line in span)
            rel = str(path.relative_to(package.parent))
            found.append(Reach(rel, node.lineno, node.attr, marked))
    return sorted(found)


def main(argv: list[str]) -> None:
    """Print the total, the unmarked count, and per-file counts (or every reach with ``--list``)."""
    found = reaches()
    unmarked = [r for r in found if not r.hot_path]
    print(f"{len(found)} reaches, {len(unmarked)} not marked 'hot path'")
    if "--list" in argv:
        for r in found:
            print(f"{r.path}:{r.line}: {r.attr}{'  (hot path)' if r.hot_path else ''}")
        return
    for path, count in Counter(r.path for r in unmarked).most_common():
        print(f"{count:4d} {path}")


if __name__ == "__main__":
    main(sys.argv[1:])
