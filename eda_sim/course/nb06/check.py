"""Check for the durability notebook: settings for a payments topic and a clickstream topic.

The learner gives each topic a dict of ``acks``, ``min.insync.replicas`` and
``unclean.leader.election.enable``. The check runs the bad afternoon
(:data:`eda_sim.course.nb06.world.BAD_AFTERNOON`) once per topic with those
settings and judges what the callers saw:

* payments may be refused (the caller is told and retries) but never lost,
  and never acknowledged while a single broker held them;
* clicks may be lost (a few missing clicks skew a dashboard a little) but the
  web tier has nowhere to keep a refused click, so none may be refused.
"""

from __future__ import annotations

from eda_sim.course.feedback import checker
from eda_sim.course.nb06.world import bad_afternoon

KEYS = ("acks", "min.insync.replicas", "unclean.leader.election.enable")
_ACKS = {"0": "0", "1": "1", "all": "all", "-1": "all"}


def _read(name: str, answer):
    """The answer's settings as ``((acks, min_isr, unclean), None)``, or ``(None, what is wrong)``."""
    if not isinstance(answer, dict):
        return None, (
            f"{name} should be a dict with the keys {', '.join(KEYS)}, got {type(answer).__name__}"
        )
    unknown = sorted(str(k) for k in answer if k not in KEYS)
    if unknown:
        return None, (f"{name}: unknown setting(s) {unknown}; use {', '.join(KEYS)}")
    missing = [k for k in KEYS if k not in answer]
    if missing:
        return None, (f"{name}: set {', '.join(missing)} too")
    acks = _ACKS.get(str(answer["acks"]))
    if acks is None:
        return None, (f"{name}: acks is one of 0, 1, 'all' (or -1), got {answer['acks']!r}")
    min_isr = answer["min.insync.replicas"]
    if isinstance(min_isr, bool) or not isinstance(min_isr, int) or not 1 <= min_isr <= 3:
        return None, (
            f"{name}: min.insync.replicas is a whole number from 1 to 3 (the replication factor), "
            f"got {min_isr!r}"
        )
    unclean = answer["unclean.leader.election.enable"]
    if not isinstance(unclean, bool):
        return None, (f"{name}: unclean.leader.election.enable is True or False, got {unclean!r}")
    return (acks, min_isr, unclean), None


def _names(ids: list, n: int = 3) -> str:
    shown = ", ".join(ids[:n])
    return shown + (f" and {len(ids) - n} more" if len(ids) > n else "")


#: The exercise cell's starting settings (the other way round from what each topic needs).
STARTER = (
    {"acks": 1, "min.insync.replicas": 1, "unclean.leader.election.enable": False},
    {"acks": "all", "min.insync.replicas": 2, "unclean.leader.election.enable": False},
)


@checker(
    "topic-settings",
    "Exercise 06 · settings for payments and clicks",
    items=[
        ("payments-kept", 2, "no acknowledged payment is lost"),
        ("payments-two-copies", 1, "a payment is acknowledged only once two brokers hold it"),
        ("clicks-accepted", 2, "no click is refused"),
    ],
    hints=[
        "what does each topic's caller do with a refused write, and what does a lost one cost?",
        "a payment must survive any one broker failing: it needs every in-sync replica to confirm "
        "(acks='all') and at least two of them (min.insync.replicas=2), and must never be led by a "
        "replica that missed it. A click must never be refused: when the only in-sync replica dies, "
        "let another replica lead at once, and do not wait on followers",
    ],
    starter=lambda payments, clickstream: (payments, clickstream) == STARTER,
    not_answered="payments and clickstream still hold the starting settings; choose each topic's, then "
    "run the cell again",
)
def check_topic_settings(fb, payments, clickstream) -> None:
    """Run the bad afternoon with each topic's settings and say what was lost or refused."""
    pay, pay_wrong = _read("payments", payments)
    click, click_wrong = _read("clickstream", clickstream)
    if pay is None and click is None:
        fb.invalid(f"{pay_wrong}; {click_wrong}")
        return
    if pay is None:
        fb.fail("payments-kept", pay_wrong)
    else:
        out = bad_afternoon(*pay, topic="payments", prefix="pay")
        lost, single = out.lost, out.single_copy
        fb.mark(
            "payments-kept",
            not lost,
            f"no acknowledged payment was lost ({len(out.refused)} refused, and their callers were told)",
            f"{len(lost)} payment(s) were acknowledged and then lost: {_names(lost)}",
        )
        fb.mark(
            "payments-two-copies",
            not single and not lost,
            "every payment was acknowledged only once at least two brokers held it",
            f"{len(single)} payment(s) were acknowledged while one broker alone held them "
            f"({_names(single)})"
            + ("" if lost else ": they survived only because that broker came back")
            if single
            else "payments were lost, so some were acknowledged with too few copies",
        )
    if click is None:
        fb.fail("clicks-accepted", click_wrong)
    else:
        out = bad_afternoon(*click, topic="clickstream", prefix="click")
        refused = sorted(out.refused)
        fb.mark(
            "clicks-accepted",
            not refused,
            f"no click was refused ({len(out.lost)} lost, which a dashboard can afford)",
            f"{len(refused)} click(s) were refused ({_names(refused)}, "
            f"{out.refused[refused[0]] if refused else ''}): the web tier had to drop them",
        )


hint = check_topic_settings.hint
