"""Check for notebook 11 (tables, windows and joins): size a velocity feature on event time."""

from __future__ import annotations

import math

from eda_sim.course.feedback import checker
from eda_sim.course.nb11.world import FLAG_AT, TESTED_CARD, flagged, velocity_world

#: The longest a charge takes to reach the broker in the velocity world (seconds).
MAX_DELAY = 20.0
#: How long the fraud team accepts to wait for a window's final count after it ends (seconds).
DECISION_BUDGET = 60.0
_KEYS = ("size", "step", "lateness", "grace")


#: The exercise cell's starting settings.
STARTER = {"size": 30, "step": 10, "lateness": 0, "grace": 0}


@checker(
    "velocity",
    "Exercise 11 · a velocity feature that catches card testing and drops no late charge",
    items=[
        ("flags-tester", 2, "the card under test is flagged"),
        ("no-false-flags", 1, "no ordinary card is flagged"),
        ("no-late", 1, "no late charge misses its windows"),
        ("in-time", 1, f"a window's final count comes within {DECISION_BUDGET:g} s"),
    ],
    hints=[
        "how long does the burst last, how late can a charge arrive, and how long may the fraud team "
        "wait for a window's count?",
        f"card testing is ten small charges in 45 s: the window must be long enough to hold them, short "
        f"enough that an ordinary card (about one charge a minute) stays under {FLAG_AT}; a charge arrives up to "
        f"{MAX_DELAY:g} s late, so lateness + grace must cover that, and a window's result waits lateness + grace "
        f"after it ends, within {DECISION_BUDGET:g} s",
    ],
    starter=lambda settings: settings == STARTER,
    not_answered="my_settings still holds the starting window; choose yours, then run the cell again",
)
def check_velocity(fb, settings) -> None:
    """Run the velocity world with ``settings`` = {size, step, lateness, grace} and judge it."""
    if not isinstance(settings, dict):
        fb.invalid(
            f"settings should be a dict with the keys {', '.join(_KEYS)}, got {type(settings).__name__}"
        )
        return
    missing = [k for k in _KEYS if k not in settings]
    if missing:
        fb.invalid(f"settings lacks {', '.join(missing)} (it needs {', '.join(_KEYS)}, in seconds)")
        return
    values = {}
    for k in _KEYS:
        v = settings[k]
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v < 0:
            fb.invalid(f"{k} should be a number of seconds >= 0, got {v!r}")
            return
        values[k] = float(v)
    if values["size"] <= 0 or values["step"] <= 0 or values["step"] > values["size"]:
        fb.invalid(
            f"a hopping window needs 0 < step <= size, got size {values['size']:g} and step {values['step']:g}"
        )
        return
    if values["size"] / values["step"] > 60:
        fb.invalid(
            f"size / step = {values['size'] / values['step']:g} windows per charge is too many to run; keep it <= 60"
        )
        return
    _sim, app = velocity_world(
        values["size"], values["step"], values["lateness"], values["grace"], max_delay=MAX_DELAY
    )
    hits = flagged(app)
    fb.mark(
        "flags-tester",
        TESTED_CARD in hits,
        f"{TESTED_CARD} is flagged: {hits.get(TESTED_CARD, (0, 0, 0))[2]} charges in one window",
        f"{TESTED_CARD}'s burst never reached {FLAG_AT} charges in one window: the window is too short "
        "(or its charges were dropped as late)",
    )
    others = sorted(c for c in hits if c != TESTED_CARD)
    fb.mark(
        "no-false-flags",
        not others,
        "no ordinary card is flagged",
        f"{len(others)} ordinary cards are flagged too ({', '.join(others[:4])}{', ...' if len(others) > 4 else ''}): "
        "the window is so long that a normal card's charges add up",
    )
    late = app.late_records()
    fb.mark(
        "no-late",
        not late,
        "no charge missed a window: every late charge was still counted",
        f"{len(late)} charges came after some of their windows had closed and went to velocity.late; "
        f"lateness + grace = {values['lateness'] + values['grace']:g} s is less than the {MAX_DELAY:g} s a charge can take",
    )
    wait = values["lateness"] + values["grace"]
    fb.mark(
        "in-time",
        wait <= DECISION_BUDGET,
        f"a window's final count comes {wait:g} s after it ends, within the {DECISION_BUDGET:g} s budget",
        f"a window's final count comes {wait:g} s after it ends: over the {DECISION_BUDGET:g} s the fraud team "
        "can wait while the card is being tested",
    )


hint = check_velocity.hint
