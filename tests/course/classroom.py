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
