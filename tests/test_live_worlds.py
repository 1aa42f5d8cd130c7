"""Every live cell of every notebook, driven headless as a learner drives it (no browser, no kernel).

Each notebook source is executed cell by cell in one namespace, as Run All would; every
``controls(...)`` and ``explore(...)`` it makes is caught. For each live world:

* it produces traffic within a few Steps (records reach a topic): the first demo of the course
  once built a world with no traffic at all, so Step and Play moved the clock and nothing else;
* every knob changes the world: set to another value, the same run gives another journal;
* every ``explore`` knob changes what is shown.

The browser test (test_browser.py) drives the same cells in JupyterLab; this one holds the rule
in every ``python -m pytest`` run.
"""

from __future__ import annotations

import ast
import contextlib
import hashlib
import io
import re
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402

import eda_sim.views.widgets as widgets  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SOURCES = sorted((ROOT / "notebooks" / "src").glob("*.py"))
#: Steps a learner presses before expecting to see events.
FEW_STEPS = 5
#: Virtual seconds both runs of a knob comparison last.
COMPARE_FOR = 30.0


def _code_cells(src: Path) -> list[str]:
    cells = []
    for cell in re.split(r"(?m)^(?=# %%)", src.read_text(encoding="utf-8")):
        head, _, body = cell.partition("\n")
        if head.startswith("# %%") and "[markdown]" not in head and '"solution"' not in head:
            cells.append(body)
    return cells


def _live_cells(src: Path) -> list[int]:
    return [
        i for i, c in enumerate(_code_cells(src)) if re.search(r"^\s*(controls|explore)\(", c, re.M)
    ]


def _run_notebook(src: Path, monkeypatch) -> list:
    """Execute ``src``'s code cells up to its last live cell; return what controls/explore made."""
    made = []
    real_controls, real_explore = widgets.controls, widgets.explore

    def spy_controls(build, views, knobs=None, **kw):
        ui = real_controls(build, views, knobs, **kw)
        made.append(("controls", ui, build, knobs or {}))
        return ui

    def spy_explore(fn, **knobs):
        box = real_explore(fn, **knobs)
        made.append(("explore", box, fn, knobs))
        return box

    monkeypatch.setattr(widgets, "controls", spy_controls)
    monkeypatch.setattr(widgets, "explore", spy_explore)
    monkeypatch.chdir(ROOT / "notebooks")
    cells = _code_cells(src)
    last = max(_live_cells(src))
    ns: dict = {"__name__": "__main__"}
    for body in cells[: last + 1]:
        tree = ast.parse(body)
        exec(compile(tree, f"<{src.stem}>", "exec"), ns)
        plt.close("all")
    return made


def _traffic(sim) -> int:
    return sum(log.log_end_offset for t in sim.broker.topics.values() for log in t.partitions)


def _fingerprint(sim) -> str:
    h = hashlib.sha256()
    for row in sim.journal.rows():
        h.update(repr(tuple(row)).encode())
    for name in sorted(sim.broker.topics):
        for log in sim.broker.topics[name].partitions:
            for r in log.records():
                h.update(repr((name, r.key, r.value)).encode())
    return h.hexdigest()


def _other_values(widget) -> list:
    """Values of ``widget`` other than its current one, as a learner would try them (ends, middle)."""
    value = widget.value
    if isinstance(value, bool):
        return [not value]
    options = getattr(widget, "options", None)
    if options:
        labels = [o[1] if isinstance(o, tuple) else o for o in options]
        return [o for o in labels if o != value]
    lo, hi = getattr(widget, "min", None), getattr(widget, "max", None)
    if lo is not None and hi is not None:
        mid = type(value)(lo + (hi - lo) / 2)
        return [v for v in (lo, hi, mid) if v != value]
    return [value + 1 if isinstance(value, (int, float)) else value + "x"]


def _call_shown(fn, values: dict) -> str:
    """Call ``fn`` as explore does and digest everything it shows: printed text, displays, its result."""
    shown = []
    out = io.StringIO()
    import IPython.display

    def fake_display(*objs, **_kw):
        shown.extend(_shown(o) for o in objs)

    with pytest.MonkeyPatch.context() as mp, contextlib.redirect_stdout(out):
        mp.setattr(IPython.display, "display", fake_display)
        result = fn(**values)
    return "\n".join([out.getvalue(), *shown, _shown(result)])


def _shown(result) -> str:
    """What an explore cell shows, as a digest: a table's values, a figure's pixels, or text."""
    if result is None:
        return ""
    if isinstance(result, (pd.DataFrame, pd.Series)):
        return result.to_csv()
    figs = result if isinstance(result, (list, tuple)) else [result]
    if all(hasattr(f, "savefig") for f in figs):
        h = hashlib.sha256()
        for f in figs:
            buf = io.BytesIO()
            f.savefig(buf, format="png", dpi=40)
            h.update(buf.getvalue())
        plt.close("all")
        return h.hexdigest()
    return repr(result)


#: Knobs whose point is that what is shown does NOT change (the notebook says so beside them).
SAME_BY_DESIGN = {
    ("16", "where"): "the summary does not depend on where it runs: simulator or Redis",
}


def _knob_matters(fn, knobs, defaults, name, most: int = 40) -> bool:
    """True if moving knob ``name`` changes what ``fn`` shows: from the defaults, or, when a knob only
    matters together with others (grace once lateness is short, a stall's length once the action is a
    stall), from settings of the other knobs (one moved first, then every combination, at most
    ``most`` of them)."""
    others = [k for k in knobs if k != name]
    singles = [{**defaults, k: v} for k in others for v in _other_values(knobs[k])]
    grid = [dict(defaults)]
    for k in others:
        grid = [{**g, k: v} for g in grid for v in [defaults[k], *_other_values(knobs[k])]]
    for base in [defaults, *singles, *grid[:most]]:
        shown = _call_shown(fn, base)
        if any(_call_shown(fn, {**base, name: v}) != shown for v in _other_values(knobs[name])):
            return True
    return False


LIVE = [pytest.param(src, id=src.stem[:2]) for src in SOURCES if _live_cells(src)]


def test_every_notebook_with_a_live_cell_is_covered():
    assert len(LIVE) >= 10


@pytest.mark.parametrize("src", LIVE)
def test_every_live_cell_moves_and_every_knob_matters(src, monkeypatch):
    made = _run_notebook(src, monkeypatch)
    assert len(made) == len(_live_cells(src)), "every live cell made its widget"
    for kind, ui, fn, _knobs in made:
        if kind == "controls":
            ui.reset()
            for _ in range(FEW_STEPS):
                if _traffic(ui.sim):
                    break
                ui.step_button.click()
            assert _traffic(ui.sim) > 0, (
                f"{src.stem}: no event reached a topic in {FEW_STEPS} Steps"
            )
            before = ui.sim.journal.written
            ui.advance()
            assert ui.sim.journal.written >= before and ui.figures, "Play's tick redraws"
            assert re.search(rf"t = {ui.sim.now:.3f} s", ui.time_label.value)
            defaults = ui.knob_values()
            base = fn(**defaults)
            base.run(until=base.now + COMPARE_FOR)
            base_print = _fingerprint(base)
            for name, widget in ui.knobs.items():
                changed = []
                for other in _other_values(widget):
                    world = fn(**{**defaults, name: other})
                    world.run(until=world.now + COMPARE_FOR)
                    changed.append(_fingerprint(world) != base_print)
                    if changed[-1]:
                        break
                assert any(changed), (
                    f"{src.stem}: no value of knob {name} changes the world in {COMPARE_FOR:g} s"
                )
        else:
            defaults = {name: w.value for name, w in ui.knobs.items()}
            for name in ui.knobs:
                if (src.stem[:2], name) in SAME_BY_DESIGN:
                    continue
                assert _knob_matters(fn, ui.knobs, defaults, name), (
                    f"{src.stem}: no value of explore knob {name} changes what is shown"
                )
        plt.close("all")
