"""Every example the documentation shows runs: README.md's Python blocks and each docstring's ``Example::``.

A docstring example runs in the namespace of the module that documents it (as
doctest does), so it may use the module's own names without importing them, and
the names README.md introduces (``Simulation``, ``Service``, ``Source``, ...).
Examples that need a server or Jupyter say so and are skipped here: only
those listed in ``NEEDS`` below.
"""

import importlib
import inspect
import pkgutil
import re
import textwrap
from pathlib import Path

import matplotlib
import pytest

import eda_sim

matplotlib.use("Agg")  # examples that draw must not need a display

ROOT = Path(__file__).resolve().parent.parent


def _readme_blocks():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


@pytest.mark.parametrize("block", _readme_blocks(), ids=lambda b: b.splitlines()[0][:40])
def test_readme_python_blocks_run(block):
    exec(compile(block, "README.md", "exec"), {"__name__": "readme"})


def _example_blocks(doc: str):
    """The literal blocks after ``Example::`` / ``Examples::`` in a docstring."""
    lines = doc.expandtabs().splitlines()
    out = []
    for i, line in enumerate(lines):
        if line.strip() in ("Example::", "Examples::"):
            base = len(line) - len(line.lstrip())
            block = []
            for nxt in lines[i + 1 :]:
                if nxt.strip() and len(nxt) - len(nxt.lstrip()) <= base:
                    break
                block.append(nxt)
            out.append(textwrap.dedent("\n".join(block)).strip("\n"))
    return out


def _documented(module):
    yield module.__name__, module.__doc__ or ""
    for name, obj in vars(module).items():
        if getattr(obj, "__module__", None) != module.__name__:
            continue
        if inspect.isclass(obj) or inspect.isfunction(obj):
            yield f"{module.__name__}.{name}", obj.__doc__ or ""
            if inspect.isclass(obj):
                for mname, meth in vars(obj).items():
                    if inspect.isfunction(meth) and meth.__doc__:
                        yield f"{module.__name__}.{name}.{mname}", meth.__doc__


# What every example may take as imported: the names README.md introduces.
PRELUDE = {}
exec(
    "from eda_sim import Event, Member, Simulation\n"
    "from eda_sim.services import Service, Source, reconcile\n"
    "from eda_sim.services.retries import Retry, dead_letters\n",
    PRELUDE,
)

# Examples that need something outside Python; everything else must run.
NEEDS = {
    "eda_sim.backends.redis": "a Redis server",
    "eda_sim.backends.tansu": "the Tansu broker",
    "eda_sim.views.widgets": "a Jupyter front end",
}


def _examples():
    found = []
    for info in pkgutil.walk_packages(eda_sim.__path__, "eda_sim."):
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        for where, doc in _documented(module):
            for k, block in enumerate(_example_blocks(doc)):
                found.append(pytest.param(info.name, block, id=f"{where}#{k}"))
    return found


EXAMPLES = _examples()


def test_the_package_documents_examples():
    assert len(EXAMPLES) >= 30


@pytest.fixture(autouse=True)
def _projector_off(monkeypatch):
    # an example may turn projector mode on; the next test must see the library's defaults
    from eda_sim.views import projector

    monkeypatch.delenv("EDA_SIM_PROJECTOR", raising=False)
    monkeypatch.setattr(projector, "_scale", None)


@pytest.mark.parametrize(("module_name", "block"), EXAMPLES)
def test_docstring_example_runs(module_name, block):
    for prefix, why in NEEDS.items():
        if module_name.startswith(prefix):
            pytest.skip(f"needs {why}")
    namespace = {**PRELUDE, **vars(importlib.import_module(module_name))}
    exec(compile(block, f"<example in {module_name}>", "exec"), namespace)
