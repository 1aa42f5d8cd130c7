"""The :class:`Feedback` a check returns, and the :func:`checker` decorator that keeps checks from raising."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field


@dataclass
class Feedback:
    """What a check found: passed items, missing items, and a hint.

    ``str(feedback)`` (and its notebook repr) reads like::

        Exercise 05 · make the ledger exact: 2 of 3 checks pass
          ✔ every payment is counted
          ✘ a redelivered payment was counted twice (ledger 61, expected 60)
          hint: record the event id in an inbox before ...
    """

    title: str
    right: list = field(default_factory=list)
    missing: list = field(default_factory=list)
    hint: str = ""

    @property
    def passed(self) -> bool:
        """True when nothing is missing and at least one thing was checked."""
        return not self.missing and bool(self.right)

    def ok(self, text: str) -> Feedback:
        """Record something the answer gets right."""
        self.right.append(text)
        return self

    def miss(self, text: str) -> Feedback:
        """Record something the answer lacks or gets wrong."""
        self.missing.append(text)
        return self

    def expect(self, condition: bool, right: str, missing: str) -> bool:
        """Record ``right`` if ``condition`` holds, else ``missing``; return the condition."""
        (self.right if condition else self.missing).append(right if condition else missing)
        return bool(condition)

    def __str__(self) -> str:
        total = len(self.right) + len(self.missing)
        head = f"{self.title}: " + (
            "all checks pass ✔" if self.passed else f"{len(self.right)} of {total} checks pass"
        )
        lines = [head] + [f"  ✔ {t}" for t in self.right] + [f"  ✘ {t}" for t in self.missing]
        if self.missing and self.hint:
            lines.append(f"  hint: {self.hint}")
        return "\n".join(lines)

    __repr__ = __str__

    def _repr_pretty_(self, p, cycle) -> None:  # IPython shows the text, not a dataclass repr
        p.text(str(self))


def checker(title: str, hint: str = ""):
    """Wrap a check ``fn(feedback, *args)`` so it returns :class:`Feedback` and never raises.

    An exception inside the learner's code (or the check) becomes a missing
    item that names it, so the notebook keeps running.
    """

    def wrap(fn):
        @functools.wraps(fn)
        def run(*args, **kwargs) -> Feedback:
            fb = Feedback(title, hint=hint)
            try:
                fn(fb, *args, **kwargs)
            except Exception as err:  # noqa: BLE001 - feedback, not a crash
                fb.miss(f"running your answer raised {type(err).__name__}: {err}")
            if not fb.right and not fb.missing:
                fb.miss("nothing to check yet: fill in the exercise cell and run it again")
            return fb

        return run

    return wrap
