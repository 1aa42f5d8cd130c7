"""notebooks/API_CARD.md: every name it shows exists, and its code runs.

A learner copies from the card; a renamed method or a dropped keyword there is
a broken promise the notebooks' own tests never see. So the card's Python
blocks are run in order in one namespace, and every ``name(`` and dotted name
in its code (blocks and inline spans) is resolved against what they built,
the public modules and the classes a learner holds (``ctx``, ``event``). The
keywords written as ``name(kw=...)`` must be parameters of that callable.
"""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

CARD = Path(__file__).resolve().parents[1] / "notebooks" / "API_CARD.md"
TEXT = CARD.read_text(encoding="utf-8")
BLOCKS = re.findall(r"```python\n(.*?)```", TEXT, re.S)
SPANS = re.findall(r"(?<!`)`([^`\n]+)`(?!`)", re.sub(r"```.*?```", "", TEXT, flags=re.S))
# the modules a learner imports from, and the objects a handler is handed
MODULES = [
    "eda_sim",
    "eda_sim.kafka",
    "eda_sim.services",
    "eda_sim.services.retries",
    "eda_sim.views",
    "eda_sim.views.widgets",
]


def _strip_strings(code: str) -> str:
    """Drop string literals: ``"enable.idempotence"`` is a config key, not a name."""
    return re.sub(r"\"[^\"\n]*\"|'[^'\n]*'", '""', code)


@pytest.fixture(scope="module")
def namespace():
    """The card's code run in order, plus the public names and the handler's arguments."""
    from importlib import import_module

    from eda_sim.services.events import Event
    from eda_sim.services.service import Context

    ns: dict = {}
    for i, block in enumerate(BLOCKS):
        exec(compile(block, f"{CARD.name} block {i + 1}", "exec"), ns)
    for name in MODULES:
        module = import_module(name)
        for public in getattr(module, "__all__", []):
            ns.setdefault(public, getattr(module, public))
    # a handler's arguments, and the world a build() function makes
    ns.update(ctx=Context, event=Event, world=ns["Simulation"], eda_sim=import_module("eda_sim"))
    return ns


def _code() -> list[str]:
    return [_strip_strings(b) for b in BLOCKS] + [_strip_strings(s) for s in SPANS]


def _resolve(ns: dict, dotted: str):
    root, *rest = dotted.split(".")
    obj = ns[root]
    for attr in rest:
        obj = getattr(obj, attr)
    return obj


def _callables(ns: dict, name: str) -> list:
    """What a bare ``name(`` can mean: a name in scope, or a method of an object in scope."""
    if name in ns:
        return [ns[name]]
    found = []
    for value in ns.values():
        owner = value if inspect.isclass(value) else type(value)
        if owner.__module__.startswith("eda_sim") and callable(getattr(owner, name, None)):
            found.append(getattr(owner, name))
    return found


def test_the_card_has_code_to_check():
    assert len(BLOCKS) >= 4 and len(SPANS) >= 20


def test_every_dotted_name_resolves(namespace):
    names = sorted(
        {
            m
            for code in _code()
            for m in re.findall(r"(?<![\w.])[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+", code)
        }
    )
    assert len(names) > 20
    missing = []
    for dotted in names:
        try:
            _resolve(namespace, dotted)
        except (KeyError, AttributeError) as e:
            missing.append(f"{dotted}: {e!r}")
    assert not missing, missing


def test_every_call_names_a_callable_and_its_keywords(namespace):
    problems = []
    calls = {
        (m.group(1), m.group(2))
        for code in _code()
        for m in re.finditer(
            r"(?<![\w.])((?:[A-Za-z_]\w*\.)*[A-Za-z_]\w*)\(([^()]*(?:\([^()]*\)[^()]*)*)\)", code
        )
    }
    assert len(calls) > 30
    for target, args in sorted(calls):
        if target in {"range", "print", "lambda"}:
            continue
        if "." in target:
            try:
                candidates = [_resolve(namespace, target)]
            except (KeyError, AttributeError) as e:
                problems.append(f"{target}(: {e!r}")
                continue
        else:
            candidates = _callables(namespace, target)
        if not candidates or not all(callable(c) for c in candidates):
            problems.append(f"{target}( is not a callable the package offers")
            continue
        outer = re.sub(
            r"\([^()]*\)|\[[^\[\]]*\]|\{[^{}]*\}", "", args
        )  # not the inner calls' keywords
        keywords = set(re.findall(r"(?:^|[,(\s])([A-Za-z_]\w*)\s*=(?!=)", outer))
        if keywords and not any(_accepts(c, keywords) for c in candidates):
            problems.append(f"{target}( takes none of {sorted(keywords)} all together")
    assert not problems, problems


def _accepts(fn, keywords: set) -> bool:
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return True  # a builtin without a signature: nothing to check against
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return True
    return keywords <= set(params)


def test_a_misspelt_name_would_fail(namespace):
    """The resolver is not vacuous: a method the package lacks is reported."""
    with pytest.raises(AttributeError):
        _resolve(namespace, "sim.creat_topic")
    assert not _callables(namespace, "produce_all")
    assert not _accepts(namespace["Service"], {"handler"})
