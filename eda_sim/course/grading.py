"""Grading re-runs a check: a score is computed from the learner's answer, never read from printed text.

:func:`score_of` reads a :class:`Feedback` as ``(score, max_score)``;
:func:`regrade` re-imports a check fresh (so a learner who redefined the check
function, or printed a fake "all checks pass", changes nothing), runs it on the
answer and returns the points earned as a number, which is what an nbgrader
autograded test cell must show as its last value for partial credit.

Example (the locked cell under notebook 01's exercise)::

    from eda_sim.course.grading import regrade
    feedback, points = regrade("eda_sim.course.nb01.check", "check_events_vs_commands", answer, points=10)
    print(feedback)
    points                      # nbgrader reads this number as the cell's partial credit
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib
import io


def score_of(feedback) -> tuple[float, float]:
    """``(score, max_score)`` of a check's result.

    A result with ``score`` and ``max_score`` (a fixed list of items with
    points) is read as is; an older one counts its passed items out of all its
    items. Anything else (a learner's fake) scores ``(0, 0)``.
    """
    score, top = getattr(feedback, "score", None), getattr(feedback, "max_score", None)
    if isinstance(score, (int, float)) and isinstance(top, (int, float)):
        return float(score), float(top)
    right, missing = getattr(feedback, "right", None), getattr(feedback, "missing", None)
    if isinstance(right, list) and isinstance(missing, list):
        return float(len(right)), float(len(right) + len(missing))
    return 0.0, 0.0


def fresh_check(module: str, name: str):
    """The check ``name`` of ``module``, re-imported from its file with a fresh feedback module."""
    from eda_sim.course import feedback

    importlib.reload(feedback)
    return getattr(importlib.reload(importlib.import_module(module)), name)


def run_check(module: str, name: str, *answer):
    """Run a fresh copy of a check on ``answer``; return ``(feedback, text it would show)``.

    Whatever the learner's code prints or warns while the check runs is kept
    out of the grade cell's output, so nbgrader reads only the score.
    """
    check = fresh_check(module, name)
    sink = io.StringIO()
    with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
        feedback = check(*answer)
    return feedback, str(feedback)


def fingerprint(source: str) -> str:
    """A short hash of code, ignoring trailing spaces and blank lines (how a starter is recognised)."""
    lines = [ln.rstrip() for ln in str(source).strip().splitlines() if ln.strip()]
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()[:16]


def regrade(
    module: str,
    name: str,
    *answer,
    points: float = 10,
    answered: str | None = None,
    starter: str | None = None,
) -> tuple[str, float]:
    """``(feedback text, points out of points)`` the answer earns, from a fresh run of the check.

    ``answered`` is the source of the answer cell as run (in an nbgrader grading cell,
    ``In[-2]``: the cell just before) and ``starter`` the :func:`fingerprint` of the exercise's
    starter: a cell left as the starter earns 0 points, even where a default in it happens to
    pass an item.
    """
    feedback, text = run_check(module, name, *answer)
    score, top = score_of(feedback)
    if starter is not None and answered is not None and fingerprint(answered) == starter:
        return f"the starting answer, untouched: 0 points\n{text}", 0.0
    return text, (round(points * score / top, 2) if top else 0.0)
