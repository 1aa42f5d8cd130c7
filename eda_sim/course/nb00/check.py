"""Checks for notebook 00 (start here): who plays which role in the flow."""

from __future__ import annotations

from eda_sim.course.feedback import checker

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
    "Exercise 00 · producers, consumers and the broker's topics",
    hint="look at the arrows in the flow diagram: a box with only outgoing arrows produces, one with "
    "arrows in and out does both; the rounded nodes are topics the broker keeps",
)
def check_roles(fb, answer: dict) -> None:
    """Check a dict mapping each name in :data:`ROLES` to producer, consumer, both or topic."""
    if not isinstance(answer, dict):
        fb.miss(
            f"answer should be a dict of name -> one of {', '.join(_CHOICES)}, got {type(answer).__name__}"
        )
        return
    for name, (truth, why) in ROLES.items():
        given = str(answer.get(name, "?")).strip().lower()
        if given == "?":
            fb.miss(f"{name}: not answered yet")
        elif given not in _CHOICES:
            fb.miss(f"{name}: {given!r} is not one of {', '.join(_CHOICES)}")
        elif given == truth:
            fb.ok(f"{name} is {truth}: {why}")
        else:
            fb.miss(f"{name} is not {given}: {why}")
