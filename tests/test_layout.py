"""The package's shape: layers that import downwards only, no import circles, pictures apart.

Read from the source with ``ast`` (nothing is imported), so a new module that
breaks the architecture fails here before anyone has to notice.
"""

import ast
from pathlib import Path

import networkx as nx

PACKAGE = Path(__file__).resolve().parent.parent / "eda_sim"


MODULE_NAMES: set = set()


def _module_name(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, *, top_level_only: bool):
    """Modules ``path`` imports (absolute names); at module level only, or everywhere."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    name = _module_name(path)
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    nodes = tree.body if top_level_only else list(ast.walk(tree))
    found = []
    for node in nodes:
        if isinstance(node, ast.If) and top_level_only:  # `if TYPE_CHECKING:` blocks are not run
            continue
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                mod = ".".join(base + ([node.module] if node.module else []))
            else:
                mod = node.module or ""
            # `from pkg import submodule` imports the submodule, not names of pkg's __init__
            subs = [f"{mod}.{a.name}" for a in node.names if f"{mod}.{a.name}" in MODULE_NAMES]
            found += subs if len(subs) == len(node.names) else [mod, *subs]
    return found


MODULES = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
MODULE_NAMES.update(MODULES)


def _graph(top_level_only=True):
    g = nx.DiGraph()
    for name, path in MODULES.items():
        g.add_node(name)
        for imported in _imports(path, top_level_only=top_level_only):
            if imported in MODULES and imported != name:
                g.add_edge(name, imported)
    return g


def test_no_import_circles_at_module_level():
    cycles = sorted(sorted(c) for c in nx.simple_cycles(_graph()))
    assert not cycles, f"modules that import each other in a circle: {cycles[:5]}"


# A layer may import the layers listed before it, and itself.
LAYERS = ["core", "broker", "kafka", "services", "ai", "views", "backends", "course"]


def _layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[1] in LAYERS else None


def test_layers_import_only_downwards():
    # core.simulation composes the world (broker, groups, transactions): it is core's one
    # module allowed to reach the broker layer.
    allowed = {("eda_sim.core.simulation", "broker")}
    wrong = []
    for a, b in _graph().edges:
        la, lb = _layer(a), _layer(b)
        if la and lb and LAYERS.index(lb) > LAYERS.index(la) and (a, lb) not in allowed:
            wrong.append(f"{a} -> {b}")
    assert not wrong, "imports against the layering:\n" + "\n".join(sorted(wrong))


def test_only_views_import_matplotlib_networkx_or_ipywidgets():
    drawing = ("matplotlib", "networkx", "ipywidgets")
    wrong = [
        f"{name} imports {imp}"
        for name, path in MODULES.items()
        if not name.startswith("eda_sim.views")
        for imp in _imports(path, top_level_only=False)
        if imp.split(".")[0] in drawing
    ]
    assert not wrong, wrong


def test_picture_models_load_without_matplotlib():
    import subprocess
    import sys

    code = (
        "import sys, eda_sim, eda_sim.views.flow, eda_sim.views.partition_board, eda_sim.views.timeline, "
        "eda_sim.views.charts, eda_sim.views.trace; "
        "assert 'matplotlib' not in sys.modules, 'a picture model loaded matplotlib'"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_every_package_is_a_layer_or_a_known_top_level_module():
    top = sorted(p.name for p in PACKAGE.iterdir() if p.is_dir() and p.name != "__pycache__")
    assert top == sorted([*LAYERS, "testing"])
    modules = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert modules == ["__init__.py", "__main__.py", "bench.py"]


# Reaches into other objects' private members (``obj._x``, ``from m import _x``) not marked as a
# measured hot path. The ratchet only goes down: lower it when you remove some; a new reach needs a
# public name (a read-only property or a method) instead, or a ``# hot path: why`` comment on its
# line if it is per-record code the benchmark measures.
PRIVATE_REACHES_AT_MOST = 34


def _reach_tool():
    import importlib.util

    path = PACKAGE.parent / "tools" / "private_reaches.py"
    spec = importlib.util.spec_from_file_location("private_reaches", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_private_reaches_do_not_grow():
    unmarked = [r for r in _reach_tool().reaches(PACKAGE) if not r.hot_path]
    where = "\n".join(f"{r.path}:{r.line}: .{r.attr}" for r in unmarked[:20])
    assert len(unmarked) <= PRIVATE_REACHES_AT_MOST, (
        f"{len(unmarked)} reaches into private members (at most {PRIVATE_REACHES_AT_MOST}); "
        f"use a public name, or mark a measured hot path:\n{where}"
    )


def test_the_reach_scan_sees_a_reach_and_its_hot_path_mark(tmp_path):
    (tmp_path / "m.py").write_text(
        "from other import _helper\n"
        "def f(self, other, row):\n"
        "    a = other._x\n"
        "    b = other._y  # hot path: per record\n"
        "    c = self._z + row._fields[0]\n"
    )
    found = {(r.attr, r.hot_path) for r in _reach_tool().reaches(tmp_path)}
    assert found == {("_helper", False), ("_x", False), ("_y", True)}


# The public API a learner's code calls: every parameter and return value is annotated.
ANNOTATED = [
    "kafka/producer.py",
    "kafka/consumer.py",
    "kafka/admin.py",
    "core/simulation.py",
    "services/service.py",
    "services/load.py",
]


def test_the_public_api_has_type_hints():
    missing = []
    for rel in ANNOTATED:
        tree = ast.parse((PACKAGE / rel).read_text(encoding="utf-8"))
        public = [
            n for n in tree.body if isinstance(n, ast.ClassDef) and not n.name.startswith("_")
        ]
        for owner in [tree, *public]:
            for fn in owner.body:
                if not isinstance(fn, ast.FunctionDef):
                    continue
                if fn.name.startswith("_") and fn.name != "__init__":
                    continue
                a = fn.args
                params = [
                    *a.posonlyargs,
                    *a.args,
                    *a.kwonlyargs,
                    *filter(None, [a.vararg, a.kwarg]),
                ]
                unannotated = [
                    p.arg for p in params if p.arg not in ("self", "cls") and not p.annotation
                ]
                if unannotated or (fn.returns is None and fn.name != "__init__"):
                    name = fn.name if owner is tree else f"{owner.name}.{fn.name}"
                    missing.append(f"{rel}: {name} {unannotated or ''}")
    assert not missing, "public functions without type hints:\n" + "\n".join(missing)
