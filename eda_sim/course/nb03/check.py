"""Checks for notebook 03 (partitions and ordering): choose the key; choose the reorder window."""

from __future__ import annotations

from eda_sim.course.feedback import checker
from eda_sim.course.nb03.world import (
    KEY_CHOICES,
    SERVICE,
    TOPIC,
    clicks_world,
    key_order,
    late_world,
)

#: The mean wait (seconds, from reaching the broker to being handled) the team accepts for taps.
WAIT_BUDGET = 2.0
#: Taps from a phone that was offline arrive at most this late (seconds).
MAX_DELAY = 1.5
#: Exercise B's starting window.
STARTER_WINDOW = 0.5


@checker(
    "ordering-key",
    "Exercise 03a · a key that keeps each user's clicks in order",
    items=[
        ("in-order", 2, "no user's clicks reach the sessionizer out of order"),
        ("one-partition", 1, "each user's clicks are all in one partition"),
        ("spread", 1, "the load is spread over every partition"),
    ],
    hints=[
        "order holds only within a partition, and the key decides the partition: whose clicks must stay "
        "in order?",
        "key by the thing whose events must stay in order, and make sure it has enough distinct values to "
        "spread the load over the three partitions",
    ],
    starter=lambda key: key is ...,
    not_answered="set my_key to the name of a click's field (a string), or None for no key, then run "
    "the cell again",
)
def check_ordering_key(fb, key) -> None:
    """Run the clicks world keyed by the field ``key`` (or ``None``) and look at every user's order."""
    fields = [k for k in KEY_CHOICES if k]
    if key is not None and key not in fields:
        fb.invalid(
            f"{key!r} is not a field of a click; the fields are {', '.join(fields)} (or None for no key)"
        )
        return
    sim = clicks_world(key)
    per_user = key_order(sim)
    pairs = int(per_user["out_of_order_pairs"].sum())
    keyed = "without a key" if key is None else f"keyed by {key!r}"
    users = per_user.loc[per_user["out_of_order_pairs"] > 0, "user_id"].tolist()
    fb.mark(
        "in-order",
        pairs == 0,
        "no user's clicks reached the sessionizer out of order",
        f"{pairs} pairs of clicks reached the sessionizer out of order, for {', '.join(users)}: "
        f"{keyed}, one user's clicks land in several partitions, read at different speeds",
    )
    fb.mark(
        "one-partition",
        bool((per_user["partitions"] == 1).all()),
        "each user's clicks are all in one partition",
        f"users' clicks are spread over up to {int(per_user['partitions'].max())} partitions",
    )
    sizes = [log.log_end_offset for log in sim.topic(TOPIC).partitions]
    used = sum(1 for n in sizes if n)
    share = max(sizes) / max(1, sum(sizes))
    fb.mark(
        "spread",
        used == len(sizes) and share < 0.6,
        f"the load is spread: all {len(sizes)} partitions get clicks (the busiest {share:.0%})",
        f"only {used} of {len(sizes)} partitions get clicks (the busiest {share:.0%}), so only {used} "
        f"{SERVICE} instance(s) can work: {key!r} has too few distinct values",
    )


@checker(
    "reorder-window",
    "Exercise 03b · a reorder window with no late taps and a short wait",
    items=[
        ("no-late", 2, "no tap arrives after its window closed"),
        ("in-order", 1, "each user's taps are handled in order"),
        ("wait", 1, f"the mean wait stays within {WAIT_BUDGET:g} s"),
    ],
    hints=[
        "how late can a tap arrive? a window shorter than that lets some through too late; every second "
        "of window is a second every tap waits",
        f"a tap from a phone that was offline arrives at most {MAX_DELAY:g} s late; a window at least that "
        "long puts every tap back in order, and a longer one only adds to the wait",
    ],
    starter=lambda window: window == STARTER_WINDOW and not isinstance(window, bool),
    not_answered=f"my_window is still the starting {STARTER_WINDOW:g} s; choose your window, then run "
    "the cell again",
)
def check_reorder_window(fb, window) -> None:
    """Run the taps world with ``Service(reorder=window)``: no late taps, mean wait within the budget."""
    if isinstance(window, bool) or not isinstance(window, (int, float)) or window != window:
        fb.invalid(f"window should be a number of seconds, got {window!r}")
        return
    if window <= 0:
        fb.invalid(
            f"a window must be more than 0 s (got {window!r}): a buffer that holds nothing reorders nothing"
        )
        return
    _sim, report = late_world(float(window), max_delay=MAX_DELAY)
    fb.mark(
        "no-late",
        report["late"] == 0,
        "no tap came too late: every one was handled, in order",
        f"{report['late']} taps came after the window had closed and went to taps.late unhandled",
    )
    fb.mark(
        "in-order",
        report["handled out of order"] == 0,
        "each user's taps were handled in the order they happened",
        f"{report['handled out of order']} taps were handled after a later tap of the same user",
    )
    fb.mark(
        "wait",
        report["mean wait"] <= WAIT_BUDGET,
        f"the mean wait, {report['mean wait']:g} s, is within the {WAIT_BUDGET:g} s budget",
        f"taps wait {report['mean wait']:g} s on average, over the {WAIT_BUDGET:g} s budget: "
        "the window is longer than it needs to be",
    )
