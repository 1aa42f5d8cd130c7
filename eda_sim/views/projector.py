"""Projector mode: larger text in every picture and control, one setting for a room.

``projector(1.3)`` in a notebook's first cell (or ``EDA_SIM_PROJECTOR=1.3`` in the
environment JupyterLab starts from) makes every figure the views draw show its
text and lines 1.3 times larger at the same size on screen, and enlarges the
controls' labels, buttons, sliders and readouts and the tables and text that
cells print (:func:`dress`: every live control box carries the style sheet, so
the environment variable alone is enough). ``projector(1)`` turns it off.
Saved notebooks are built with it off, so their outputs do not change.

Example::

    from eda_sim.views.projector import projector
    projector(1.3)                          # text 1.3 times larger in every picture from now on
    projector(1)                            # and back to normal
"""

from __future__ import annotations

import os

_scale = None


def _from_environment() -> float:
    text = os.environ.get("EDA_SIM_PROJECTOR", "").strip()
    if not text:
        return 1.0
    try:
        value = float(text)
    except ValueError:
        raise ValueError(
            f"EDA_SIM_PROJECTOR should be a number from 1 to 3 (e.g. 1.5), got {text!r}"
        ) from None
    return _checked(value)


def _checked(value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 1 <= value <= 3:
        raise ValueError(
            f"projector scale should be a number from 1 to 3 (e.g. 1.5), got {value!r}"
        )
    return float(value)


def scale() -> float:
    """The current projector scale (1.0: off)."""
    global _scale
    if _scale is None:
        _scale = _from_environment()
    return _scale


#: ipywidgets' and JupyterLab's default text size in pixels (``--jp-widgets-font-size``, tables, code).
FONT_PX = 13


def widget_css(factor: float) -> str:
    """A style sheet that scales the controls' text and heights, and the tables and text cells print, by ``factor``.

    ipywidgets sizes its sliders, dropdowns, checkboxes and readouts from
    JupyterLab's ``--jp-widgets-*`` variables; output tables (pandas) and
    printed text are sized by JupyterLab's own rules, overridden here for
    outputs only (the notebook's prose keeps its size: the browser's zoom is for that).
    """
    return (
        "<style>:root{"
        f"--jp-widgets-font-size:{FONT_PX * factor:.0f}px !important;"
        f"--jp-widgets-inline-height:{28 * factor:.0f}px !important;"
        f"--jp-widgets-inline-label-width:{80 * factor:.0f}px !important;"
        "}"
        ".jp-OutputArea-output table,.jp-OutputArea-output pre{"
        f"font-size:{FONT_PX * factor:.0f}px !important;"
        "}</style>"
    )


def _tree(widget):
    yield widget
    for child in getattr(widget, "children", ()):
        yield from _tree(child)


def dress(box):
    """Enlarge the text of the control box ``box`` to the projector scale; returns ``box``. Off: unchanged.

    Every widget in the tree whose style has a font size (buttons, labels, HTML
    readouts, text boxes) gets it set; sliders, dropdowns and checkboxes have
    none in ipywidgets, so the box also carries the style sheet of
    :func:`widget_css` (an HTML widget with nothing visible), which sizes them
    and, once on the page, the tables and printed text of every output.
    """
    factor = scale()
    if factor == 1.0:
        return box
    import ipywidgets as W

    size = f"{FONT_PX * factor:.0f}px"
    for widget in _tree(box):
        style = getattr(widget, "style", None)
        if style is not None and style.has_trait("font_size"):
            style.font_size = size
    sheet = W.HTML(widget_css(factor))
    sheet.add_class("eda-projector")
    box.children = (*box.children, sheet)
    return box


def projector(factor: float = 1.3):
    """Turn projector mode on at ``factor`` (1 to 3; 1 turns it off) for the figures drawn from now on.

    Returns an HTML object with the controls' style sheet: as a cell's last line it
    enlarges the controls in the whole notebook page.
    """
    global _scale
    _scale = _checked(factor)
    from IPython.display import HTML

    return HTML(widget_css(_scale))
