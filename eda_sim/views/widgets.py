"""Widget controls: step, play, pause, reset, speed and knobs that drive a simulation and redraw its views.

The simulation stays plain Python; the widgets only call it. ``controls``
takes a ``build`` function that makes a fresh world from the knobs' values
(so Reset rebuilds it from the same seed), the views to draw, and the knobs::

    def build(partitions=3, idempotent=False):
        sim = Simulation(seed=7)
        ...                                  # topics, feeds, members
        return sim

    ui = controls(build, ["flow", ("board", "orders")], knobs={"partitions": (1, 8, 1, 3)})
    ui                                       # the live controls (tag the cell nbval-ignore-output)
    show(ui.sim, "flow", ("board", "orders"))   # the same views as plain output, which nbval checks

How time moves:

* **Step** runs the clock to the next moment where the picture changes: a
  moment is the next journal row and every other event of that same virtual
  instant; moments that only wrote bookkeeping (acks, offset resets) or leave
  the picture as it was are run through, at most ``step_horizon`` virtual
  seconds and ``STEP_MOMENTS`` moments ahead.
* **Play** advances the clock by ``tick`` virtual seconds per tick (not one
  step per tick: steps can be microseconds apart, and a fixed slice of
  virtual time makes the animation's pace honest). Pause is Play's own
  button; the **ms/tick** slider sets the Play interval (lower is faster).
  Every tick redraws the views; with an interval shorter than a redraw,
  ticks queue up in the kernel and the picture trails the button.
* **Reset** stops Play and rebuilds the world with the knobs' current
  values; changing a knob resets too (``reset_on_change``).

Every part is an attribute (``ui.step_button``, ``ui.play``,
``ui.reset_button``, ``ui.speed``, ``ui.time_label``, ``ui.knobs``,
``ui.picture``, ``ui.message``, ``ui.sim``, ``ui.figures``), so a headless
run can ``ui.step_button.click()`` and read ``ui.time_label.value``.

Every redraw draws all the views into one PNG (:func:`stack_png`) that
replaces ``ui.picture``'s image in place, then sets the readout: one image,
one stable height, no flicker, and readout and picture of the same instant.
The flow diagram, the board and the metric panels draw into the figure they
drew at the last redraw (:class:`eda_sim.views.figure.Reuse`), which gives
the same pixels as a new figure for less work (``benchmarks/click.py``).

The cell that displays live controls carries the tag
``nbval-ignore-output`` (reason: live widget output), and a plain cell with
:func:`show` draws the same views where nbval checks them.
"""

from __future__ import annotations

import ipywidgets as W
from IPython.display import display

from eda_sim import views as _views
from eda_sim.views import figure as _mpl
from eda_sim.views import offstage as _offstage
from eda_sim.views import projector as _projector

__all__ = [
    "QUIET_KINDS",
    "STEP_MOMENTS",
    "Controls",
    "Figures",
    "controls",
    "explore",
    "knob",
    "resolve_view",
    "show",
    "stack_png",
]

#: Journal kinds no picture shows: a Step runs on past moments that only wrote these.
QUIET_KINDS = frozenset({"acked", "offset_reset"})

#: The most moments one Step runs looking for a changed picture (each costs a redraw).
STEP_MOMENTS = 12

#: Play's range of ticks; it stops at the end (about 11 days at 1 tick/s).
PLAY_TICKS = 1_000_000


def resolve_view(spec):
    """A view spec as ``(label, draw)`` where ``draw(sim) -> Figure``.

    A spec is a callable ``view(sim) -> Figure``, the name of a built-in view
    (``"flow"``, ``"board"``, ``"timeline"``, ``"metrics"``: see
    :data:`eda_sim.views.VIEWS`), or a tuple of a name, its arguments and
    optionally a dict of keyword arguments: ``("board", "orders", {"group": "billing"})``.
    """
    if callable(spec):
        return getattr(spec, "__name__", "view"), spec
    name, args, kwargs = spec, (), {}
    if isinstance(spec, tuple) and spec and isinstance(spec[0], str):
        name, args = spec[0], spec[1:]
        if args and isinstance(args[-1], dict):
            args, kwargs = args[:-1], args[-1]
    if not isinstance(name, str) or name not in _views.VIEWS:
        raise ValueError(
            f"unknown view {spec!r}: give a function view(sim) -> Figure, or one of "
            f"{', '.join(sorted(_views.VIEWS))} (with arguments as a tuple, e.g. ('board', 'orders'))"
        )
    draw = _views.VIEWS[name]
    label = name + (f"({', '.join(map(repr, args))})" if args else "")
    return label, (lambda sim: draw(sim, *args, **kwargs))


def _resolve_all(views) -> list:
    if callable(views) or isinstance(views, str):
        views = [views]
    elif (
        isinstance(views, tuple)
        and views
        and isinstance(views[0], str)
        and views[0] in _views.VIEWS
    ):
        views = [views]
    if not isinstance(views, (list, tuple)):
        raise TypeError(
            f"views must be a list of views (functions or names), got {type(views).__name__}"
        )
    return [resolve_view(v) for v in views]


class Figures(tuple):
    """Figures that display one after the other when they end a notebook cell."""

    def _ipython_display_(self):
        for fig in self:
            display(fig)


def show(sim, *views) -> Figures:
    """Draw ``views`` of ``sim`` (default: the flow diagram) as plain figures.

    For the static cell beside live controls: the same views as ordinary
    outputs, which nbval checks and any notebook renderer shows.
    """
    return Figures(draw(sim) for _label, draw in _resolve_all(list(views) or ["flow"]))


def knob(name: str, spec):
    """An ipywidgets control from a short spec.

    ``(min, max)``, ``(min, max, step)`` or ``(min, max, step, default)``: an
    integer or float slider (without a default it starts in the middle, as
    ``ipywidgets.interact`` does); ``True``/``False``: a checkbox; a list of
    strings: a dropdown starting at the first; a string: a text box; an int or
    float: a number box; a ready ipywidgets control: itself.
    """
    if isinstance(spec, W.ValueWidget):
        if not getattr(spec, "description", ""):
            spec.description = name
        return spec
    style = {"description_width": "initial"}
    if isinstance(spec, bool):
        return W.Checkbox(value=spec, description=name, indent=False)
    if (
        isinstance(spec, tuple)
        and 2 <= len(spec) <= 4
        and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in spec)
    ):
        lo, hi = spec[0], spec[1]
        integer = all(isinstance(v, int) for v in spec)
        step = spec[2] if len(spec) > 2 else (1 if integer else (hi - lo) / 100)
        if not lo < hi or step <= 0:
            raise ValueError(f"knob {name!r}: a range needs min < max and step > 0, got {spec!r}")
        default = spec[3] if len(spec) == 4 else lo + step * round((hi - lo) / 2 / step)
        if not lo <= default <= hi:
            raise ValueError(f"knob {name!r}: default {default!r} is outside [{lo}, {hi}]")
        cls = W.IntSlider if integer else W.FloatSlider
        return cls(
            value=default,
            min=lo,
            max=hi,
            step=step,
            description=name,
            continuous_update=False,
            style=style,
        )
    if isinstance(spec, list) and spec and all(isinstance(v, str) for v in spec):
        return W.Dropdown(options=spec, value=spec[0], description=name, style=style)
    if isinstance(spec, str):
        return W.Text(value=spec, description=name, style=style)
    if isinstance(spec, int) and not isinstance(spec, bool):
        return W.IntText(value=spec, description=name, style=style)
    if isinstance(spec, float):
        return W.FloatText(value=spec, description=name, style=style)
    raise TypeError(
        f"knob {name!r}: expected (min, max[, step[, default]]), True/False, a list of strings, "
        f"a string, a number or an ipywidgets control; got {spec!r}"
    )


class Controls(W.VBox):
    """Live controls for a simulation (see the module docstring); a VBox with its parts as attributes."""

    def __init__(
        self,
        build,
        views,
        knobs: dict | None = None,
        *,
        step_horizon: float = 60.0,
        tick: float = 0.5,
        interval: int = 400,
        reset_on_change: bool = True,
    ):
        if not callable(build):
            raise TypeError(
                f"build must be a function (**knob values) -> Simulation, got {type(build).__name__}"
            )
        for name, value in (("step_horizon", step_horizon), ("tick", tick)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
                raise ValueError(
                    f"{name} must be a positive number of virtual seconds, got {value!r}"
                )
        if (
            isinstance(interval, bool)
            or not isinstance(interval, int)
            or not 10 <= interval <= 10000
        ):
            raise ValueError(
                f"interval must be milliseconds per tick from 10 to 10000, got {interval!r}"
            )
        if knobs is not None and not isinstance(knobs, dict):
            raise TypeError(f"knobs must be a dict of name -> spec, got {type(knobs).__name__}")
        self.build = build
        self.views = _resolve_all(views)
        self.step_horizon = float(step_horizon)
        self.tick = float(tick)
        self.knobs = {name: knob(name, spec) for name, spec in (knobs or {}).items()}
        self.figures: list = []
        self.errors: list = []
        # each view draws into the figure it drew last time where it can (eda_sim.views.figure.Reuse)
        self._reuse = [_mpl.Reuse() for _ in self.views]
        self._quiet = False

        self.step_button = W.Button(
            description="Step", icon="step-forward", tooltip="run to the next thing that happens"
        )
        self.play = W.Play(
            value=0,
            min=0,
            max=PLAY_TICKS,
            step=1,
            interval=interval,
            show_repeat=False,
            description="play",
            tooltip=f"advance {self.tick:g} virtual seconds per tick",
        )
        self.reset_button = W.Button(
            description="Reset", icon="undo", tooltip="rebuild the world with these knobs"
        )
        self.speed = W.IntSlider(
            value=interval,
            min=50,
            max=2000,
            step=50,
            description="ms/tick",
            continuous_update=False,
            style={"description_width": "initial"},
        )
        self._speed_link = W.link((self.speed, "value"), (self.play, "interval"))
        self.time_label = W.HTML(value="")
        # the views, drawn into one PNG replaced in place; errors as text under it
        self.picture = W.Image(
            format="png",
            layout=W.Layout(max_width="100%", object_fit="contain", object_position="left top"),
        )
        self._height = None  # the picture's box height, fixed per world (see _show)
        self.message = W.HTML(value="")

        self.step_button.on_click(lambda _b: self.step())
        self.reset_button.on_click(lambda _b: self.reset())
        self.play.observe(self._on_tick, names="value")
        if reset_on_change:
            for w in self.knobs.values():
                w.observe(lambda _change: self.reset(), names="value")

        rows = [
            W.HBox([self.step_button, self.play, self.reset_button, self.speed]),
            self.time_label,
        ]
        if self.knobs:
            rows.append(W.HBox(list(self.knobs.values()), layout=W.Layout(flex_flow="row wrap")))
        rows += [self.picture, self.message]
        super().__init__(children=rows)
        # classes a browser test (or a stylesheet) can find the parts by
        self.add_class("eda-controls")
        self.picture.add_class("eda-picture")
        self.picture.add_class(f"eda-views-{len(self.views)}")
        _projector.dress(self)  # projector mode: larger text in every part (a no-op when off)
        self.sim = self._build()
        self.redraw()

    def __repr__(self) -> str:
        knobs = ", ".join(f"{k}={v!r}" for k, v in self.knob_values().items())
        views = ", ".join(label for label, _draw in self.views)
        return f"<Controls t={self.sim.now:.3f} s; views: {views}" + (
            f"; knobs: {knobs}>" if knobs else ">"
        )

    # -- what the buttons do ----------------------------------------------------------

    def knob_values(self) -> dict:
        """The knobs' current values, by name (what ``build`` is called with)."""
        return {name: w.value for name, w in self.knobs.items()}

    def _build(self):
        sim = self.build(**self.knob_values())
        if not all(hasattr(sim, a) for a in ("step", "run", "journal", "now")):
            raise TypeError(f"build(**knobs) must return a Simulation, got {type(sim).__name__}")
        return sim

    def step(self) -> list:
        """Run to the next moment where the picture changes, then show it; returns the journal rows written.

        A moment is one ``sim.step`` (to the next journal row) and every other
        event due at that same virtual instant. A Step runs moments until one
        wrote something besides bookkeeping (:data:`QUIET_KINDS`) and the
        picture it draws differs from the one shown, or ``step_horizon``
        virtual seconds or :data:`STEP_MOMENTS` moments have passed.
        """
        sim, rows = self.sim, []
        deadline = sim.now + self.step_horizon
        shown = bytes(self.picture.value)
        for _ in range(STEP_MOMENTS):
            if sim.now >= deadline:
                break
            got = sim.step(deadline - sim.now)
            rows += got + _finish_instant(sim)  # one picture per moment, not per event
            if not got or sim.now >= deadline:
                break
            if all(r.kind in QUIET_KINDS for r in got):
                continue
            drawn = self._draw()
            if drawn[2] != shown:
                self._show(*drawn)
                return rows
        self.redraw()
        return rows

    def advance(self, seconds: float | None = None) -> None:
        """Run the clock ``seconds`` (default: one Play tick) further, then redraw."""
        self.sim.run(until=self.sim.now + (self.tick if seconds is None else seconds))
        self.redraw()

    def reset(self) -> None:
        """Stop Play and rebuild the world from the knobs' current values, then redraw."""
        self._quiet = True
        try:
            self.play.playing = False
            self.play.value = 0
        finally:
            self._quiet = False
        self.sim = self._build()
        self._height = None
        self.redraw()

    def _on_tick(self, change) -> None:
        if not self._quiet and change["new"] > change["old"]:
            self.advance()

    def redraw(self) -> None:
        """Draw every view into one picture, then set the readout to the same instant.

        All views go into one PNG that replaces the image in place (an
        ``ipywidgets.Image``): no cleared output between frames, so no flicker
        and one stable height, and one message per redraw. The readout is set
        after the picture, from the same clock, so it never runs ahead of it.
        """
        self._show(*self._draw())

    def _draw(self) -> tuple:
        figures, errors = [], []
        for (label, draw), slot in zip(self.views, self._reuse):
            try:
                with _mpl.reusing(slot):
                    fig = draw(self.sim)
            except Exception as err:  # noqa: BLE001 - shown to the learner; a callback's traceback would vanish
                errors.append(f"{label}: {type(err).__name__}: {err}")
            else:
                if fig is not None:
                    figures.append(fig)
        return figures, errors, stack_png(figures) if figures else b""

    def _show(self, figures, errors, png) -> None:
        sim = self.sim
        self.figures, self.errors = figures, errors
        if figures:
            if self._height is None:
                # the box keeps the first frame's height until the world is rebuilt: a view that
                # grows (more keys on a timeline) is scaled into it instead of pushing the page
                self._height = round(sum(f.get_figheight() * f.dpi for f in figures))
                self._height += 8 * (len(figures) - 1)
                self.picture.layout.height = f"{self._height}px"
            self.picture.value = png
        self.picture.layout.display = None if figures else "none"
        self.message.value = "".join(
            f"<pre style='color:#D55E00;margin:0'>{_escape(text)}</pre>" for text in errors
        )
        self.time_label.value = f"t = {sim.now:.3f} s · {sim.journal.written:,} journal rows"


def _finish_instant(sim) -> list:
    """Run every event still due at the current virtual instant; returns the journal rows they wrote."""
    stored = len(sim.journal)
    while sim.env.peek() == sim.now:
        sim.advance(sim.now)
    return sim.journal.rows()[stored:] if sim.journal.enabled else []


def stack_png(figures) -> bytes:
    """One PNG of ``figures`` drawn one under the other (left-aligned, white between), fast to encode.

    The figures are rendered by Agg at their own size and DPI (the library
    fixes both), so the picture's size only changes when a view's does.
    """
    import numpy as np

    frames = []
    for fig in figures:
        canvas = fig.canvas if hasattr(fig.canvas, "buffer_rgba") else _mpl.FigureCanvasAgg(fig)
        canvas.draw()
        frames.append(np.asarray(canvas.buffer_rgba())[:, :, :3])
    width = max(f.shape[1] for f in frames)
    gap = 8 if len(frames) > 1 else 0
    height = sum(f.shape[0] for f in frames) + gap * (len(frames) - 1)
    # PNG scanlines: a filter-type byte (0, none) then the row's RGB bytes, all white to start
    lines = np.full((height, 1 + 3 * width), 255, dtype=np.uint8)
    lines[:, 0] = 0
    y = 0
    for f in frames:
        lines[y : y + f.shape[0], 1 : 1 + 3 * f.shape[1]] = f.reshape(f.shape[0], -1)
        y += f.shape[0] + gap
    return _png(lines, width, height)


def _png(lines, width: int, height: int) -> bytes:
    """A PNG (8-bit RGB) of ``lines``: ``height`` scanlines of a filter byte and ``3 * width`` bytes.

    Written with zlib at level 1 and no per-row filter: Pillow tries every
    PNG filter on every row, which on these mostly flat pictures costs twice
    the time for a larger file. The pixels are the same (PNG is lossless).
    """
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    return b"".join(
        (
            b"\x89PNG\r\n\x1a\n",
            chunk(b"IHDR", header),
            chunk(b"IDAT", zlib.compress(lines.tobytes(), 1)),
            chunk(b"IEND", b""),
        )
    )


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def controls(
    build,
    views,
    knobs: dict | None = None,
    *,
    step_horizon: float = 60.0,
    tick: float = 0.5,
    interval: int = 400,
    reset_on_change: bool = True,
) -> Controls:
    """Live controls for the world ``build(**knob values)`` makes, redrawing ``views`` after each move.

    ``views``: a list of view specs (see :func:`resolve_view`); ``knobs``:
    name -> spec (see :func:`knob`); ``step_horizon``: the most virtual
    seconds one Step may run; ``tick``: virtual seconds per Play tick;
    ``interval``: milliseconds between Play ticks at the start. Returns a
    :class:`Controls` (an ipywidgets VBox) with its parts as attributes.
    While a class is graded it returns an :class:`~eda_sim.views.offstage.Offstage`
    stand-in and runs nothing (see :mod:`eda_sim.views.offstage`).
    """
    if _offstage.grading():
        return _offstage.Offstage("controls", build, knobs or {})
    return Controls(
        build,
        views,
        knobs,
        step_horizon=step_horizon,
        tick=tick,
        interval=interval,
        reset_on_change=reset_on_change,
    )


def explore(fn, **knobs) -> W.VBox:
    """Knobs that re-run ``fn(**values)`` and show what it prints, returns or draws.

    For lessons whose picture is a table or a verdict rather than a world
    running on a clock (``controls`` is for those). Knob specs are as in
    :func:`knob`. The returned box has ``knobs`` (name -> widget), ``out`` and
    ``redraw()``, so a headless run can set a value and read the result.
    Tag the displaying cell ``nbval-ignore-output`` and pair it with a plain
    cell that calls ``fn`` once. While a class is graded it returns an
    :class:`~eda_sim.views.offstage.Offstage` stand-in and runs nothing.
    """
    if _offstage.grading():
        return _offstage.Offstage("explore", fn, knobs)
    if not callable(fn):
        raise TypeError(f"explore() needs a function to re-run, got {type(fn).__name__}")
    widgets = {name: knob(name, spec) for name, spec in knobs.items()}
    out = W.Output()

    def redraw(_change=None):
        with out:
            out.clear_output(wait=True)
            result = fn(**{name: w.value for name, w in widgets.items()})
            if result is not None:
                display(result)

    for w in widgets.values():
        w.observe(redraw, names="value")
    box = W.VBox([W.HBox(list(widgets.values())), out])
    box.add_class("eda-explore")
    box.knobs, box.out, box.redraw = widgets, out, redraw
    _projector.dress(box)  # projector mode: larger text in every part (a no-op when off)
    redraw()
    return box
