"""Checks for notebook 14 (the fraud-detection challenge): a design written as data."""

from __future__ import annotations

from eda_sim.course.feedback import checker
from eda_sim.course.nb14.world import compare_with_rule, design_problems, read_design

#: What each group of findings is about, and the line shown when the group is clean.
_CLEAN = {
    "orphans": "every event that is consumed has a producer",
    "unread": "every event that is produced has a consumer",
    "names": "every event type reads as a fact: a noun and a past-tense verb",
    "monitoring": "model monitoring is in the design, and a monitor watches the live flow",
    "dead_letters": "there is a dead-letter path, starting where transactions enter",
}


@checker(
    "Exercise 11 · design the fraud-detection flow",
    hint="start from TransactionSubmitted (produced by the payments API); give each next step of 'flow' a "
    "producer that consumes the step before (features, then a score, then the alert); name events as "
    "facts (TransactionScored, not ScoreTransaction); add ModelDeployed and a ModelDriftDetected from a "
    "monitor that consumes the features; map 'transactions' to 'transactions.DLT'",
)
def check_fraud_design(fb, design) -> None:
    """Check a design (see :mod:`eda_sim.course.nb14.world`) and, when it holds together, run it on the stream."""
    found = design_problems(design)
    d = read_design(design)
    if found["structure"]:
        for problem in found["structure"]:
            fb.miss(problem)
    else:
        n, t = len(d.events), len(d.topics())
        fb.ok(
            f"the design reads as data: {n} event type{'s' * (n != 1)} on {t} topic{'s' * (t != 1)}"
        )
    for group in ("orphans", "unread", "names"):
        if found[group]:
            for problem in found[group]:
                fb.miss(problem)
        elif d.events:
            fb.ok(_CLEAN[group])
    if found["path"]:
        fb.miss(found["path"][0])
    else:
        hops = " -> ".join(f"{step} ({d.events[step]['producer']})" for step in d.flow)
        fb.ok(f"a path from the transaction to the alert: {hops}")
    for group in ("monitoring", "dead_letters"):
        if found[group]:
            fb.miss(found[group][0])
        else:
            fb.ok(_CLEAN[group])
    if fb.missing:
        return
    table = compare_with_rule(design)
    model, rule = table.loc["model"], table.loc["rule"]
    fb.ok(
        f"it ran on {model.transactions} live transactions ({model.fraud} fraudulent): the model's alerts have "
        f"precision {model.precision:.2f} and recall {model.recall:.2f}, each {model.latency_p50_s * 1000:.0f} ms "
        "(median) after the transaction"
    )
    fb.expect(
        model.precision > rule.precision and model.recall > rule.recall,
        f"the model beats the threshold rule run through the same design (precision {rule.precision:.2f}, "
        f"recall {rule.recall:.2f})",
        f"the model does not beat the threshold rule here (rule precision {rule.precision:.2f}, recall "
        f"{rule.recall:.2f})",
    )
