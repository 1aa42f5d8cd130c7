"""Checks for notebook 01 (events): events versus commands."""

from __future__ import annotations

from eda_sim.course.feedback import all_placeholders, checker

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


def _a(word: str) -> str:
    return f"an {word}" if word[:1] in "aeiou" else f"a {word}"


@checker(
    "events-vs-commands",
    "Exercise 01 · events or commands?",
    items=[(name, 1, f"{name} sorted") for name in MESSAGES],
    hints=[
        "read the tense of each name: does it say what already happened, or what someone should do?",
        "an event names something that already happened (a past-tense fact anyone may react to); "
        "a command asks one owner to act, in the imperative, and can be refused",
    ],
    starter=all_placeholders,
    not_answered='replace each "?" with "event" or "command", then run the cell again',
)
def check_events_vs_commands(fb, answer: dict) -> None:
    """Check a dict mapping each message name in :data:`MESSAGES` to "event" or "command"."""
    if not isinstance(answer, dict):
        fb.invalid(
            f"answer should be a dict of message name -> 'event' or 'command', got {type(answer).__name__}"
        )
        return
    for name, (truth, why) in MESSAGES.items():
        given = answer.get(name)
        text = "" if given is None else str(given).strip().lower()
        if text in ("", "?", "..."):
            fb.fail(name, f"{name}: not sorted yet")
        elif text not in ("event", "command"):
            fb.fail(name, f"{name}: {given!r} is neither 'event' nor 'command'")
        elif text == truth:
            fb.ok(name, f"{name} is {_a(text)}: {why}")
        else:
            fb.fail(name, f"{name} is not {_a(text)}: {why}")
    extra = sorted(str(k) for k in answer if k not in MESSAGES)
    if extra:
        fb.note(f"these names are not in the exercise: {', '.join(extra)}")


hint = check_events_vs_commands.hint
