"""Checks for notebook 01 (events): events versus commands."""

from __future__ import annotations

from eda_sim.course.feedback import checker

#: The messages of the sorting exercise, with the right answer and why.
MESSAGES = {
    "UserViewedProduct": ("event", "it reports something a user already did"),
    "RecommendProductsForUser": (
        "command",
        "it asks one service to do something, which it may refuse",
    ),
    "ModelDriftDetected": ("event", "it records what a monitor observed"),
    "RetrainFraudModel": ("command", "it tells a training pipeline what to do next"),
    "PaymentCaptured": ("event", "it states that money has moved"),
    "SendWelcomeEmail": ("command", "it is an instruction addressed to one mailer"),
    "InventoryLevelChanged": ("event", "it announces a change that many services may care about"),
    "ScoreTransaction": ("command", "it requests work from a specific scorer"),
}


@checker(
    "Exercise 01 · events or commands?",
    hint="an event names something that already happened (a past-tense fact anyone may react to); "
    "a command asks one owner to act, in the imperative, and can be refused",
)
def check_events_vs_commands(fb, answer: dict) -> None:
    """Check a dict mapping each message name in :data:`MESSAGES` to "event" or "command"."""
    if not isinstance(answer, dict):
        fb.miss(
            f"answer should be a dict of message name -> 'event' or 'command', got {type(answer).__name__}"
        )
        return
    for name, (truth, why) in MESSAGES.items():
        given = answer.get(name)
        if given is None or given == "?":
            fb.miss(f"{name}: not sorted yet")
        elif str(given).strip().lower() == truth:
            fb.ok(f"{name} is {'an' if truth == 'event' else 'a'} {truth}: {why}")
        else:
            fb.miss(f"{name} is not {'an' if given == 'event' else 'a'} {given}: {why}")
    extra = sorted(set(answer) - set(MESSAGES))
    if extra:
        fb.miss(f"these names are not in the exercise: {', '.join(extra)}")
