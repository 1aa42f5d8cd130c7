"""Checks for notebook 00 (start here): who plays which role in the flow."""

from __future__ import annotations

from eda_sim.course.feedback import all_placeholders, checker

#: The parts of the course's AI flow and their role.
ROLES = {
    "uploader": ("producer", "it publishes RawDataUploaded events and reads nothing"),
    "frontend": ("producer", "it publishes InferenceRequested events and reads nothing"),
    "raw-data": ("topic", "the broker keeps it: a log of events, not a program"),
    "feature-service": ("both", "it consumes raw data and produces feature updates"),
    "realtime-inference": (
        "both",
        "it consumes features and requests and produces recommendations",
    ),
    "model-monitor": ("both", "it consumes recommendations and produces drift alerts"),
    "model-alerts": ("topic", "the broker keeps it; whoever cares about alerts subscribes"),
}
_CHOICES = ("producer", "consumer", "both", "topic")


@checker(
    "roles",
    "Exercise 00 · producers, consumers and the broker's topics",
    items=[(name, 1, f"the role of {name}") for name in ROLES],
    hints=[
        "look at the arrows in the flow diagram: where does each one start and end?",
        "a box with only outgoing arrows produces; a box with arrows in and out does both; the rounded "
        "nodes are topics the broker keeps",
    ],
    starter=all_placeholders,
    not_answered='replace each "?" with "producer", "consumer", "both" or "topic", then run the cell again',
)
def check_roles(fb, answer: dict) -> None:
    """Check a dict mapping each name in :data:`ROLES` to producer, consumer, both or topic."""
    if not isinstance(answer, dict):
        fb.invalid(
            f"answer should be a dict of name -> one of {', '.join(_CHOICES)}, got {type(answer).__name__}"
        )
        return
    for name, (truth, why) in ROLES.items():
        given = str(answer.get(name, "?")).strip().lower()
        if given in ("?", "", "none", "..."):
            fb.fail(name, f"{name}: not answered yet")
        elif given not in _CHOICES:
            fb.fail(name, f"{name}: {given!r} is not one of {', '.join(_CHOICES)}")
        elif given == truth:
            fb.ok(name, f"{name} is {truth}: {why}")
        else:
            fb.fail(name, f"{name} is not {given}: {why}")
    extra = sorted(str(k) for k in answer if k not in ROLES)
    if extra:
        fb.note(f"these names are not in the flow, so they were not checked: {', '.join(extra)}")


hint = check_roles.hint
