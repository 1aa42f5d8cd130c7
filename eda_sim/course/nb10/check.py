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
    "Exercise 08 · an autoscaler that rides out the storm",
    hint=f"scale out early (a lower scale_out_lag, a short cooldown) so the lag peaks under {LAG_BOUND}; "
    f"more instances than the {PARTITIONS} partitions sit idle; the app's own traffic needs two "
    "instances, so never scale in below that (min_instances), or the lag comes back and the "
    "autoscaler scales out again",
)
def check_autoscaler_plan(fb, plan) -> None:
    """Run the storm with an Autoscaler configured by ``plan`` (a dict with the keys in ``KEYS``)."""
    if not isinstance(plan, dict):
        fb.miss(f"plan should be a dict with the keys {', '.join(KEYS)}, got {type(plan).__name__}")
        return
    missing = [k for k in KEYS if k not in plan]
    unknown = sorted(k for k in plan if k not in KEYS)
    if missing or unknown:
        fb.miss(
            ("plan lacks " + ", ".join(missing) if missing else "")
            + ("; " if missing and unknown else "")
            + ("unknown keys: " + ", ".join(unknown) if unknown else "")
        )
        return
    w = storm_world(autoscale=True, name="exercise-08", **plan)
    summary = storm_summary(w)
    fb.expect(
        plan["max_instances"] <= PARTITIONS,
        f"max_instances {plan['max_instances']} is within the {PARTITIONS} partitions",
        f"max_instances {plan['max_instances']} is more than the {PARTITIONS} partitions: instances past "
        "one per partition would sit idle (the autoscaler refuses them)",
    )
    peak = summary["peak_lag"]
    fb.expect(
        peak <= LAG_BOUND,
        f"the lag peaked at {peak}, under {LAG_BOUND}",
        f"the lag peaked at {peak}, over the bound of {LAG_BOUND}: the autoscaler reacted too late or "
        "too slowly",
    )
    flapped = flaps(w.scaler.decisions)
    fb.expect(
        not flapped,
        "no flapping: it never had to scale out soon after scaling in",
        f"it flapped: scaled in, then had to scale out again at {', '.join(f'{t:g} s' for t in flapped)}",
    )
    running = w.service.running
    fb.expect(
        running <= MOST_AFTER,
        f"after the storm it gave instances back ({running} running at the end)",
        f"{running} instances still run at the end, long after the storm: scale_in_lag or cooldown keep "
        "it from scaling in",
    )
