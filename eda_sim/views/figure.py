"""Matplotlib for the views, loaded on first use so that picture models never need it.

``from eda_sim.views import figure as _mpl`` costs nothing; ``_mpl.Rectangle``
or ``_mpl.new_figure(...)`` loads matplotlib the first time a picture is drawn.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from eda_sim.views import offstage as _offstage
from eda_sim.views import projector as _projector
from eda_sim.views.style import DPI

if TYPE_CHECKING:
    from matplotlib.figure import Figure

_NAMES = {
    "matplotlib": ("matplotlib", None),
    "plt": ("matplotlib.pyplot", None),
    "FigureCanvasAgg": ("matplotlib.backends.backend_agg", "FigureCanvasAgg"),
    "LineCollection": ("matplotlib.collections", "LineCollection"),
    "Figure": ("matplotlib.figure", "Figure"),
    "Line2D": ("matplotlib.lines", "Line2D"),
    "FancyArrowPatch": ("matplotlib.patches", "FancyArrowPatch"),
    "Patch": ("matplotlib.patches", "Patch"),
    "Rectangle": ("matplotlib.patches", "Rectangle"),
    "MaxNLocator": ("matplotlib.ticker", "MaxNLocator"),
}


def __getattr__(name):
    if name in _NAMES:
        from importlib import import_module

        module, attr = _NAMES[name]
        value = import_module(module)
        value = value if attr is None else getattr(value, attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _m(name):
    return globals().get(name) or __getattr__(name)


def new_figure(size) -> Figure:
    # Made by pyplot so that the notebook's backend is loaded (which registers IPython's PNG formatter
    # for figures), then closed at once so that only the returned figure shows, once.
    # Projector mode: the same pixels, drawn as a smaller page at a higher dpi, so every text
    # (fixed in points) and line comes out ``scale`` times larger against the picture.
    scale = _projector.scale()
    fig = _m("plt").figure(figsize=(size[0] / scale, size[1] / scale), dpi=DPI * scale)
    _m("plt").close(fig)
    _m("FigureCanvasAgg")(
        fig
    )  # closing detached the canvas; an Agg one measures text and draws the PNG
    _offstage.silence_figures()  # while grading: displayed figures show no image (else nothing)
    return fig


def title(ax, text: str) -> None:
    """A left-aligned title; cheaper than ``set_title``, which lays out the tick labels to dodge them."""
    ax.text(0.0, 1.0, text, transform=ax.transAxes, ha="left", va="bottom", fontsize=11)


def box_half_sizes(fig, texts: dict, pad: float) -> dict:
    """Half width and height, in pixels, of each text's box (its text plus ``pad`` points around)."""
    extra = pad * fig.dpi / 72
    out = {}
    for key, text in texts.items():
        bb = text.get_window_extent()  # any canvas: matplotlib finds the figure's renderer
        out[key] = (bb.width / 2 + extra, bb.height / 2 + extra)
    return out


def to_edge(half: tuple, dx: float, dy: float, dpi: float) -> float:
    """Points from a box's centre to its edge in the direction (dx, dy) (pixels)."""
    w, h = half
    along = math.inf
    if dx:
        along = min(along, w / abs(dx))
    if dy:
        along = min(along, h / abs(dy))
    if along == math.inf:
        return 0.0
    return along * math.hypot(dx, dy) * 72 / dpi


def figure_and_ax(ax, size):
    if ax is None:
        fig = new_figure(size)
        return fig, fig.add_subplot()
    return ax.figure, ax
