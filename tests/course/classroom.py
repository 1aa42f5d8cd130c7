"""Shared pieces of the classroom tests: the right answers, taken from the repository's solution cells."""

from __future__ import annotations

from eda_sim.course.release import exercises

#: Notebook 01's exercise, answered right (its solution cell) and partly right (3 of 8 wrong or open).
RIGHT_01 = exercises("01")[0]["solution"]
PARTLY_01 = (
    "from eda_sim.course.nb01.check import check_events_vs_commands\n"
    "answer = {'UserViewedProduct': 'event', 'RecommendProductsForUser': 'command',\n"
    "          'ModelDriftDetected': 'event', 'RetrainFraudModel': 'command',\n"
    "          'PaymentCaptured': 'command', 'SendWelcomeEmail': 'event',\n"
    "          'InventoryLevelChanged': 'event', 'ScoreTransaction': '?'}\n"
    "check_events_vs_commands(answer)"
)
#: A submission that prints the words of a pass and replaces the check by a fake.
FAKE_01 = (
    "answer = {}\n"
    "check_events_vs_commands = lambda a: 'all checks pass ✔'\n"
    "print('Exercise 01 · events or commands?: all checks pass ✔')\n"
    "check_events_vs_commands(answer)"
)


def without_live_cells(nb):
    """``nb`` without its live-control cells (``controls(...)``/``explore(...)``), which grading never scores.

    nbclient can wait out a whole cell timeout on a widget cell (jupyter/nbclient#312); the grading
    tests leave those cells out so that a rare stall does not decide a test about scores.
    """
    import re

    live = re.compile(r"\b(controls|explore)\(")
    nb.cells = [c for c in nb.cells if not (c.cell_type == "code" and live.search(c.source))]
    return nb
