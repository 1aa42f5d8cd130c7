"""Predict before you see: the learner writes a number, then a run answers it.

Before a result that breaks a common belief, a notebook has a cell such as::

    my_prediction = None  # write a number: orders per second with 8 workers on 4 partitions

and after the result, one line that sets the two side by side::

    reveal(my_prediction, sweep.throughput.iloc[-1], "orders per second with 8 workers",
           why="four partitions keep four workers busy; the other four get nothing")

which prints ``You predicted 800; the run shows 400 orders per second with 8 workers.`` and the
reason, or, while the cell above still says ``None``, asks for a prediction first. A prediction
is not a graded exercise: nothing is scored, nothing raises, and the output depends only on the
prediction and the run, so a saved notebook (with ``None``) replays the same.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Real

__all__ = ["Reveal", "reveal"]

NOT_YET = "No prediction yet: write one above before reading on."


def _show(value) -> str:
    """A number as a learner would write it: 400, 0.46, 2.5."""
    value = float(value)
    if value.is_integer():
        return str(int(value))
    return f"{value:.3g}"


def _as_number(prediction) -> float | None:
    """The prediction as a float, or None when it is not a finite number (a bool is not one)."""
    if isinstance(prediction, bool):
        return None
    if isinstance(prediction, str):
        try:
            prediction = float(prediction.strip().replace(",", "").rstrip("%"))
        except ValueError:
            return None
    if not isinstance(prediction, Real):
        return None
    prediction = float(prediction)
    return prediction if math.isfinite(prediction) else None


@dataclass(frozen=True)
class Reveal:
    """A prediction set beside what the run shows; its text is what the notebook prints."""

    prediction: object
    actual: float
    what: str
    why: str
    tolerance: float = 0.0

    @property
    def answered(self) -> bool:
        """True once the learner has written a number."""
        return _as_number(self.prediction) is not None

    @property
    def right(self) -> bool:
        """True when the prediction is within ``tolerance`` of the run."""
        guess = _as_number(self.prediction)
        return guess is not None and abs(guess - self.actual) <= self.tolerance

    def text(self) -> str:
        """The comparison in one or two sentences, then why the run came out as it did."""
        if self.prediction is None:
            return NOT_YET
        shown = f"the run shows {_show(self.actual)} {self.what}."
        guess = _as_number(self.prediction)
        if guess is None:
            return (
                f"A prediction is a number (for example 3), not {self.prediction!r}: "
                f"write one above. For the record, {shown}"
            )
        verdict = "Right: " if self.right else ""
        return f"{verdict}You predicted {_show(guess)}; {shown}\n{self.why}"

    def __str__(self) -> str:
        return self.text()

    def __repr__(self) -> str:  # what a notebook cell shows
        return self.text()


def reveal(prediction, actual, what: str, *, why: str, tolerance: float = 0.0) -> Reveal:
    """Compare the learner's ``prediction`` with ``actual``, the run's number.

    ``what`` names the number after it ("orders per second with 8 workers"); ``why`` is the
    sentence that explains the run. A prediction within ``tolerance`` of the run counts as right
    (use it for numbers nobody can guess to the unit). ``None`` (the cell as handed out) asks for
    a prediction first; anything that is not a finite number is answered with what was expected.
    Never raises for any prediction.

    Example::

        print(reveal(None, 400, "orders per second", why="only four partitions"))
        # No prediction yet: write one above before reading on.
        print(reveal(800, 400, "orders per second", why="Only four partitions work."))
        # You predicted 800; the run shows 400 orders per second.
        # Only four partitions work.
    """
    actual = float(actual)
    if not math.isfinite(actual):
        raise ValueError(f"reveal: the run's number must be finite, got {actual!r}")
    return Reveal(prediction, actual, what, why, float(tolerance))
