"""Checks for notebook 14 (the fraud-detection challenge): a design written as data."""

from __future__ import annotations

from eda_sim.course.feedback import checker
from eda_sim.course.nb14.world import compare_with_rule, design_problems, read_design

#: The exercise cell's starting design: the entry event only.
STARTER = {
    "events": {
        "TransactionSubmitted": {
            "producer": "payments-api",
            "consumers": ["feature-service"],
            "topic": "transactions",
        },
    },
    "flow": ["TransactionSubmitted"],
    "dead_letters": {},
}

#: What each group of findings is about, and the line shown when the group is clean.
_CLEAN = {
    "orphans": "every event that is consumed has a producer",
    "unread": "every event that is produced has a consumer",
    "names": "every event type reads as a fact: a noun and a past-tense verb",
    "monitoring": "model monitoring is in the design, and a monitor watches the live flow",
    "dead_letters": "there is a dead-letter path, starting where transactions enter",
}


@checker(
    "fraud-design",
    "Exercise 14 · design the fraud-detection flow",
    items=[
        ("structure", 1, "the design reads as data"),
        ("orphans", 1, "every event that is consumed has a producer"),
        ("unread", 1, "every event that is produced has a consumer"),
        ("names", 1, "every event type reads as a fact"),
        ("path", 1, "a path along 'flow' from the transaction to the alert"),
        ("steps", 1, "features and scoring in steps of their own"),
        ("monitoring", 1, "model monitoring watches the live flow"),
        ("dead_letters", 1, "a dead-letter path where transactions enter"),
        ("beats-rule", 2, "run on the stream, the model beats the threshold rule"),
    ],
    hints=[
        "walk the flow from TransactionSubmitted to an alert: which service consumes each event, and what "
        "fact does it publish next?",
        "start from TransactionSubmitted (produced by the payments API); give each next step of 'flow' a "
        "producer that consumes the step before (features, then a score, then the alert); name events as "
        "facts (TransactionScored, not ScoreTransaction); add ModelDeployed and a ModelDriftDetected from "
        "a monitor that consumes the features; map 'transactions' to 'transactions.DLT'",
    ],
    starter=lambda design: design == STARTER,
    not_answered="my_design still holds only the entry event; add the events that lead to an alert, then "
    "run the cell again",
)
def check_fraud_design(fb, design) -> None:
    """Check a design (see :mod:`eda_sim.scenarios.fraud`) and, when it holds together, run it on the stream."""
    found = design_problems(design)
    if not isinstance(design, dict):
        fb.invalid(
            "; ".join(found["structure"]) or f"a design is a dict, got {type(design).__name__}"
        )
        return
    d = read_design(design)
    if found["structure"]:
        fb.fail("structure", "; ".join(found["structure"]))
    else:
        n, t = len(d.events), len(d.topics())
        fb.ok(
            "structure",
            f"the design reads as data: {n} event type{'s' * (n != 1)} on {t} topic{'s' * (t != 1)}",
        )
    for group in ("orphans", "unread", "names"):
        if found[group]:
            fb.fail(group, "; ".join(found[group]))
        elif d.events:
            fb.ok(group, _CLEAN[group])
    if found["path"]:
        fb.fail("path", found["path"][0])
    else:
        hops = " -> ".join(f"{step} ({d.events[step]['producer']})" for step in d.flow)
        fb.ok("path", f"a path from the transaction to the alert: {hops}")
    if found["steps"]:
        fb.fail("steps", found["steps"][0])
    else:
        fb.ok(
            "steps",
            f"features ({d.flow[1]}, from {d.events[d.flow[1]]['producer']}) and scoring ({d.flow[-2]}, "
            f"from {d.events[d.flow[-2]]['producer']}) are steps of their own",
        )
    for group in ("monitoring", "dead_letters"):
        if found[group]:
            fb.fail(group, found[group][0])
        else:
            fb.ok(group, _CLEAN[group])
    if fb.missing:
        fb.fail(
            "beats-rule", "not run on the stream yet: the design above must hold together first"
        )
        return
    table = compare_with_rule(design)
    model, rule = table.loc["model"], table.loc["rule"]
    ran = (
        f"it ran on {model.transactions} live transactions ({model.fraud} fraudulent): the model's alerts "
        f"have precision {model.precision:.2f} and recall {model.recall:.2f}, each "
        f"{model.latency_p50_s * 1000:.0f} ms (median) after the transaction; "
    )
    fb.mark(
        "beats-rule",
        model.precision > rule.precision and model.recall > rule.recall,
        ran
        + f"the model beats the threshold rule run through the same design (precision {rule.precision:.2f}, "
        f"recall {rule.recall:.2f})",
        ran
        + f"the model does not beat the threshold rule here (rule precision {rule.precision:.2f}, recall "
        f"{rule.recall:.2f})",
    )


hint = check_fraud_design.hint
