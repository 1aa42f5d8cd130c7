"""Number checks: one place that says what a duration, a rate, a count or a time must be.

Python lets through values no clock can use: ``nan`` compares false with
everything (a ``sim.at(nan, f)`` never runs, a backoff of ``nan`` never ends),
``inf`` never arrives, and ``True`` is an ``int`` to Python but not a number of
seconds to anyone. Every public parameter that is a number goes through one of
these checks, so a bad value is refused where it is given, with the
parameter's name, what was expected and what came instead, instead of
surfacing later as a stuck event or a journal row at time NaN.

The checks raise ``TypeError`` for a value that is not a number at all (a
``str``, ``None``, a ``bool``) and ``ValueError`` for a number outside its
range (NaN, infinity, negative, too large). The Kafka client surface turns
config and protocol errors into ``KafkaException`` as confluent-kafka does;
see :mod:`eda_sim.kafka.config` and :mod:`eda_sim.broker.topics`.

Example::

    seconds(0.5, "backoff")                 # 0.5
    for bad in (lambda: seconds(float("nan"), "backoff"), lambda: count(True, "instances", low=1)):
        try:
            bad()
        except (TypeError, ValueError) as error:
            print(error)                    # backoff must be ..., got NaN; instances must be a whole number ...
"""

from __future__ import annotations

import math

__all__ = [
    "at_least",
    "count",
    "instant",
    "is_number",
    "number",
    "positive",
    "rate",
    "seconds",
    "timeout",
]

_INF = math.inf


def is_number(value) -> bool:
    """True for an ``int`` or ``float`` that is not a ``bool`` (finite or not)."""
    return (value.__class__ is float or value.__class__ is int) or (
        isinstance(value, (int, float)) and not isinstance(value, bool)
    )


def _bounds(low, high, low_open: bool) -> str:
    parts = []
    if low is not None:
        parts.append(f"{'>' if low_open else '>='} {low:g}")
    if high is not None:
        parts.append(f"<= {high:g}")
    return " and ".join(parts)


def number(
    value,
    name: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    finite: bool = True,
    what: str = "a number",
) -> float:
    """``value`` as a float if it is a real number in range; else an error naming ``name``.

    ``low``/``high`` bound it (``low_open`` makes the lower bound strict);
    ``finite=False`` lets ``+inf`` through (never NaN).
    """
    bounds = _bounds(low, high, low_open)
    expected = f"{what}{' ' + bounds if bounds else ''}"
    if not is_number(value):
        raise TypeError(f"{name} must be {expected}, got {type(value).__name__} {value!r}")
    if value != value:
        raise ValueError(f"{name} must be {expected}, got NaN (not a number)")
    if value in (_INF, -_INF) and (finite or value < 0):
        raise ValueError(f"{name} must be a finite number: {expected}, got {value!r}")
    if low is not None and (value <= low if low_open else value < low):
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    if high is not None and value > high:
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    return float(value)


def seconds(value, name: str, *, positive: bool = False) -> float:
    """A duration in virtual seconds: finite, ``>= 0`` (``> 0`` with ``positive``)."""
    return number(value, name, low=0, low_open=positive, what="a duration in virtual seconds")


def instant(value, name: str, *, not_before: float | None = None) -> float:
    """A point in virtual time: finite seconds, not before ``not_before`` (the clock, usually)."""
    t = number(value, name, what="a virtual time in seconds")
    if not_before is not None and t < not_before:
        raise ValueError(
            f"{name}={value!r} is in the past: the clock is at {not_before:g} s and only moves forward"
        )
    return t


def positive(value, name: str, what: str = "a number") -> float:
    """``value`` as a float, if it is a finite number > 0; else an error naming ``name``."""
    return number(value, name, low=0, low_open=True, what=what)


def at_least(value, name: str, low: float, what: str) -> float:
    """``value`` as a float, if it is a finite number >= ``low``; else an error naming ``name``."""
    return number(value, name, low=low, what=what)


def rate(value, name: str, unit: str = "per virtual second") -> float:
    """A rate: a finite number ``> 0``."""
    return number(value, name, low=0, low_open=True, what=f"a finite number {unit}")


def count(value, name: str, *, low: int = 0, high: int | None = None) -> int:
    """A whole number (an ``int``, not a ``bool``, not a float) in ``[low, high]``."""
    bounds = _bounds(low, high, False)
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(
            f"{name} must be a whole number {bounds}, got {type(value).__name__} {value!r}"
        )
    if value < low or (high is not None and value > high):
        raise ValueError(f"{name} must be a whole number {bounds}, got {value!r}")
    return value


def timeout(value, name: str = "timeout") -> float:
    """A client timeout in seconds as librdkafka reads one: ``None`` or negative waits forever.

    Returns the number of seconds to wait (``inf`` for forever). NaN is refused
    (confluent-kafka would wait forever on it without saying so), and so is
    anything that is not a real number (as confluent-kafka's ``must be real
    number``).
    """
    if value is None:
        return _INF
    if not isinstance(value, (int, float)):
        raise TypeError(
            f"{name} must be a real number of seconds (negative or None: wait forever), "
            f"got {type(value).__name__} {value!r}"
        )
    if value != value:
        raise ValueError(
            f"{name} must be a real number of seconds (negative or None: wait forever), got NaN"
        )
    if value < 0:
        return _INF
    try:
        return float(value)
    except OverflowError:
        raise ValueError(
            f"{name} must be a real number of seconds (negative or None: wait forever), "
            f"got an integer too large for a float ({len(str(value))} digits)"
        ) from None
