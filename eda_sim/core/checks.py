"""Argument checks shared across the package: numbers that must be finite, positive or at least a bound.

Booleans are refused where a number is expected (``True`` is an ``int`` to
Python, never a duration to a learner), and so are NaN and infinity, with the
parameter's name and what was expected in the message.
"""

from __future__ import annotations

import math


def positive(value, name: str, what: str = "a number") -> float:
    """``value`` as a float, if it is a finite number > 0; else ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{name} must be {what} > 0, got {value!r}")
    if value <= 0:
        raise ValueError(f"{name} must be {what} > 0, got {value!r}")
    return float(value)


def at_least(value, name: str, low: float, what: str) -> float:
    """``value`` as a float, if it is a finite number >= ``low``; else ValueError naming ``name``."""
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value < low
    ):
        raise ValueError(f"{name} must be {what} >= {low:g}, got {value!r}")
    return float(value)
