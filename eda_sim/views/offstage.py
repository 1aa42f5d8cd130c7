"""Grading mode: while a class is graded, pictures are not rendered and live controls do not run.

``python -m eda_sim.course grade`` starts every kernel with ``EDA_SIM_GRADING=1``.
No grade depends on a picture or a slider, so in that mode:

* figures are still drawn (a view returns the same :class:`~matplotlib.figure.Figure`,
  with every artist), but displaying one shows no image: encoding PNGs is most of
  a picture's cost;
* ``controls(...)`` and ``explore(...)`` return an :class:`Offstage` stand-in
  without making widgets or running the world or the function: those cells are
  never scored, nothing reads their result, and a widget cell can stall a
  headless kernel client (jupyter/nbclient#312).

Outside a grading run (a learner's JupyterLab, nbval, the notebook builder) the
variable is unset and nothing changes.

Example::

    from eda_sim.views.offstage import grading
    grading()                               # False unless EDA_SIM_GRADING=1
"""

from __future__ import annotations

import os

#: The environment variable the grade command sets in every kernel it starts.
ENV = "EDA_SIM_GRADING"

_silenced = False


def grading() -> bool:
    """True in a kernel the grade command started (``EDA_SIM_GRADING=1``)."""
    return os.environ.get(ENV, "").strip() == "1"


class Offstage:
    """What a live-control cell returns while grading: says so, and holds what it was asked to show."""

    def __init__(self, kind: str, target, knobs: dict):
        self.kind, self.target, self.knobs = kind, target, dict(knobs)

    def __repr__(self) -> str:
        name = getattr(self.target, "__name__", type(self.target).__name__)
        return f"<{self.kind}({name}): live controls do not run while grading>"


def silence_figures() -> None:
    """Make displayed figures show no image from now on (grading mode only; once per kernel).

    Called after the first figure is made, when the notebook backend has
    registered its figure formatters: a formatter that returns None shows nothing.
    """
    global _silenced
    if _silenced or not grading():
        return
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython comes with matplotlib-inline and ipywidgets
        return
    shell = get_ipython()
    if shell is None:
        return
    from matplotlib.figure import Figure

    for formatter in shell.display_formatter.formatters.values():
        if "image" in formatter.format_type or "pdf" in formatter.format_type:
            formatter.for_type(Figure, _nothing)
    _silenced = True


def _nothing(_fig, *_args, **_kwargs):
    return None
