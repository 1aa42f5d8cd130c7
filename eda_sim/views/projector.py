"""Projector mode: larger text in every picture and control, one setting for a room.

``projector(1.3)`` in a notebook's first cell (or ``EDA_SIM_PROJECTOR=1.3`` in the
environment JupyterLab starts from) makes every figure the views draw show its
text and lines 1.3 times larger at the same size on screen, and enlarges the
controls' labels, buttons and readouts. ``projector(1)`` turns it off. Saved
notebooks are built with it off, so their outputs do not change.

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


def widget_css(factor: float) -> str:
    """A style sheet that scales ipywidgets' font and control heights by ``factor``."""
    return (
        "<style>:root{"
        f"--jp-widgets-font-size:{13 * factor:.0f}px !important;"
        f"--jp-widgets-inline-height:{28 * factor:.0f}px !important;"
        f"--jp-widgets-inline-label-width:{80 * factor:.0f}px !important;"
        "}</style>"
    )


def projector(factor: float = 1.3):
    """Turn projector mode on at ``factor`` (1 to 3; 1 turns it off) for the figures drawn from now on.

    Returns an HTML object with the controls' style sheet: as a cell's last line it
    enlarges the controls in the whole notebook page.
    """
    global _scale
    _scale = _checked(factor)
    from IPython.display import HTML

    return HTML(widget_css(_scale))
