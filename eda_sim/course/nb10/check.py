"""Checks for notebook 10 (storms, backpressure and monitoring): an autoscaler plan that rides out the storm."""

from __future__ import annotations

from eda_sim.course.feedback import checker
from eda_sim.course.nb10.world import PARTITIONS, storm_summary, storm_world

#: The peak lag (records) the plan must stay under during the storm.
LAG_BOUND = 320
#: A scale-in followed by a scale-out within this many seconds is flapping.
FLAP_WINDOW = 20.0
#: After the storm the app alone needs two instances; the plan should give the rest back.
MOST_AFTER = 3
#: Instances the app's own traffic needs after the storm.
APP_NEEDS = 2
#: The autoscaler reads the lag this often (seconds); a cooldown shorter than that lets it act again before
#: the rebalance its last decision started has settled.
INTERVAL = 1.0
#: The exercise cell's starting plan.
STARTER = {
    "min_instances": 1,
    "max_instances": 12,
    "scale_out_lag": 400,
    "scale_in_lag": 20,
    "cooldown": 5,
}
KEYS = ("min_instances", "max_instances", "scale_out_lag", "scale_in_lag", "cooldown")


def flaps(decisions) -> list:
    """Times of scale-outs that came less than FLAP_WINDOW seconds after a scale-in."""
    out, last_in = [], None
    for t, action in zip(decisions["time"], decisions["action"]):
        if action == "scale_in":
            last_in = t
        elif action == "scale_out" and last_in is not None and t - last_in < FLAP_WINDOW:
            out.append(float(t))
    return out


@checker(
    "autoscaler-plan",
    "Exercise 10 · an autoscaler that rides out the storm",
    items=[
        ("within-partitions", 1, "max_instances is within the partition count"),
        ("cooldown", 1, "a cooldown that lets each rebalance settle"),
        ("lag-bound", 2, f"the lag peaks under {LAG_BOUND}"),
        ("no-flapping", 1, "it never scales out again soon after scaling in"),
        ("gives-back", 1, "it gives instances back after the storm"),
    ],
    hints=[
        "when does the autoscaler react, how fast can it add instances, and how low may it go after the "
        "storm?",
        f"scale out early (a lower scale_out_lag, a short but non-zero cooldown) so the lag peaks under "
        f"{LAG_BOUND}; more instances than the {PARTITIONS} partitions sit idle; the app's own traffic needs "
        f"{APP_NEEDS} instances, so never scale in below that (min_instances), or the lag comes back and "
        "the autoscaler scales out again",
    ],
    starter=lambda plan: plan == STARTER,
    not_answered="plan is still the starting plan; change its numbers, then run the cell again",
)
def check_autoscaler_plan(fb, plan) -> None:
    """Run the storm with an Autoscaler configured by ``plan`` (a dict with the keys in ``KEYS``)."""
    if not isinstance(plan, dict):
        fb.invalid(
            f"plan should be a dict with the keys {', '.join(KEYS)}, got {type(plan).__name__}"
        )
        return
    missing = [k for k in KEYS if k not in plan]
    unknown = sorted(str(k) for k in plan if k not in KEYS)
    if missing or unknown:
        fb.invalid(
            ("plan lacks " + ", ".join(missing) if missing else "")
            + ("; " if missing and unknown else "")
            + (
                "unknown keys: " + ", ".join(unknown) + f" (the keys are {', '.join(KEYS)})"
                if unknown
                else ""
            )
        )
        return
    bad = [
        f"{k} should be a number >= 0, got {plan[k]!r}"
        for k in KEYS
        if isinstance(plan[k], bool) or not isinstance(plan[k], (int, float)) or not plan[k] >= 0
    ]
    if bad:
        fb.invalid("; ".join(bad))
        return
    try:
        w = storm_world(autoscale=True, name="exercise-08", **plan)
    except (TypeError, ValueError) as err:
        fb.invalid(f"the autoscaler refused this plan: {err}")
        return
    summary = storm_summary(w)
    lowest = plan["min_instances"]
    fb.mark(
        "within-partitions",
        plan["max_instances"] <= PARTITIONS,
        f"max_instances {plan['max_instances']} is within the {PARTITIONS} partitions",
        f"max_instances {plan['max_instances']} is more than the {PARTITIONS} partitions: instances past "
        "one per partition would sit idle (the autoscaler refuses them)",
    )
    fb.mark(
        "cooldown",
        plan["cooldown"] >= INTERVAL,
        f"a cooldown of {plan['cooldown']:g} s lets each rebalance settle before the next decision",
        f"a cooldown of {plan['cooldown']:g} s lets the autoscaler decide again before the rebalance its "
        f"last decision started has settled, so it reacts to a lag that does not show that change yet; "
        f"give it at least the {INTERVAL:g} s between its readings",
    )
    peak = summary["peak_lag"]
    fb.mark(
        "lag-bound",
        peak <= LAG_BOUND,
        f"the lag peaked at {peak}, under {LAG_BOUND}",
        f"the lag peaked at {peak}, over the bound of {LAG_BOUND}: the autoscaler reacted too late "
        f"(scale_out_lag {plan['scale_out_lag']:g}) or added instances too slowly "
        f"(cooldown {plan['cooldown']:g} s, at most {plan['max_instances']:g})",
    )
    flapped = flaps(w.scaler.decisions)
    fb.mark(
        "no-flapping",
        not flapped,
        "no flapping: it never had to scale out soon after scaling in",
        f"it flapped: scaled in, then had to scale out again at {', '.join(f'{t:g} s' for t in flapped)}"
        + (
            f": with min_instances {lowest:g} it scales in below the {APP_NEEDS} instances the app's own "
            "traffic needs, so the lag comes back"
            if lowest < APP_NEEDS
            else f": scale_in_lag {plan['scale_in_lag']:g} lets it scale in while work is still waiting"
        ),
    )
    running = w.service.running
    if lowest > MOST_AFTER:
        why = f"min_instances {lowest:g} keeps them: the app alone needs {APP_NEEDS}"
    else:
        why = (
            f"scale_in_lag {plan['scale_in_lag']:g} or cooldown {plan['cooldown']:g} s keep it from "
            "scaling in"
        )
    fb.mark(
        "gives-back",
        running <= MOST_AFTER,
        f"after the storm it gave instances back ({running} running at the end)",
        f"{running} instances still run at the end, long after the storm: {why}",
    )


hint = check_autoscaler_plan.hint
