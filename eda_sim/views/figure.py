"""Matplotlib for the views, loaded on first use so that picture models never need it.

``from eda_sim.views import figure as _mpl`` costs nothing; ``_mpl.Rectangle``
or ``_mpl.new_figure(...)`` loads matplotlib the first time a picture is drawn.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
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


def figure_and_ax(ax, size, reuse: str | None = None):
    """The figure and axes to draw into: ``ax``'s, or a new figure of ``size`` with one axes.

    ``reuse``: the view's name, for views that set every property of their
    axes on every draw; inside :func:`reusing` they get back the figure they
    drew last time, wiped (:func:`_wipe`), instead of a new one.
    """
    if ax is not None:
        return ax.figure, ax
    fig, axes = _kept_or_new(size, reuse, lambda fig: [fig.add_subplot()])
    return fig, axes[0]


def figure_and_axes(size, rows: int, reuse=None) -> tuple:
    """A figure of ``size`` with ``rows`` axes one above the other, sharing x; a kept one inside :func:`reusing`.

    ``reuse`` is a key of everything that decides which properties the view
    sets (its name, its panels): a kept figure is used again only for the
    same key, so every property it carries is set again by the new draw.
    """
    return _kept_or_new(
        size,
        None if reuse is None else (reuse, rows),
        lambda fig: list(fig.subplots(rows, 1, sharex=True, squeeze=False)[:, 0]),
    )


def _kept_or_new(size, reuse, make_axes) -> tuple:
    slot = _slot
    key = (reuse, tuple(size), _projector.scale())
    if reuse is not None and slot is not None:
        fig = slot.take(key)
        if fig is not None:
            _wipe(fig)
            return fig, list(fig.axes)
    fig = new_figure(size)
    axes = make_axes(fig)
    if reuse is not None and slot is not None:
        slot.keep(key, fig)
    return fig, axes


class Reuse:
    """Where one live view keeps its figure between redraws (see :func:`reusing`).

    Building a figure and its axes costs about as much as drawing them, and
    a live view redraws the same kind of picture at every click: drawing into
    the last figure again skips the build, and matplotlib's caches (the
    renderer, text metrics) stay warm. A figure is handed out once per redraw.
    """

    def __init__(self):
        self._key, self._fig, self._taken = None, None, False

    def take(self, key):
        """The kept figure if it was made for ``key`` and not yet handed out in this redraw."""
        if self._fig is None or self._taken or key != self._key:
            return None
        self._taken = True
        return self._fig

    def keep(self, key, fig) -> None:
        """Keep ``fig`` for the next redraw, unless this redraw already drew into a kept figure."""
        if not self._taken:
            self._key, self._fig, self._taken = key, fig, True

    def release(self) -> None:
        """The redraw is over: the kept figure may be handed out again."""
        self._taken = False


_slot = None


@contextmanager
def reusing(slot: Reuse):
    """Views drawn inside this block may draw into the figure ``slot`` kept from the last redraw."""
    global _slot
    before, _slot = _slot, slot
    try:
        yield slot
    finally:
        _slot = before
        slot.release()


def _wipe(fig) -> None:
    """Remove what a view drew into ``fig``; its axes keep their settings, which the view sets again."""
    for ax in fig.axes:
        for artist in (*ax.texts, *ax.patches, *ax.artists, *ax.lines, *ax.collections, *ax.images):
            artist.remove()
        if ax.legend_ is not None:
            ax.legend_.remove()
        ax.containers.clear()
        ax.set_prop_cycle(None)  # colours without an explicit one start from the first again
        ax.ignore_existing_data_limits = True  # limits not set by the view come from the new data
    for artist in (*fig.texts, *fig.legends, *fig.patches, *fig.lines, *fig.images, *fig.artists):
        artist.remove()
