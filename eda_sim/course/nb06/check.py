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


def _read(fb, name: str, answer):
    """The answer's settings as (acks, min_isr, unclean), or None after saying what is wrong."""
    if not isinstance(answer, dict):
        fb.miss(
            f"{name} should be a dict with the keys {', '.join(KEYS)}, got {type(answer).__name__}"
        )
        return None
    unknown = sorted(str(k) for k in answer if k not in KEYS)
    if unknown:
        fb.miss(f"{name}: unknown setting(s) {unknown}; use {', '.join(KEYS)}")
        return None
    missing = [k for k in KEYS if k not in answer]
    if missing:
        fb.miss(f"{name}: set {', '.join(missing)} too")
        return None
    acks = _ACKS.get(str(answer["acks"]))
    if acks is None:
        fb.miss(f"{name}: acks is one of 0, 1, 'all' (or -1), got {answer['acks']!r}")
        return None
    min_isr = answer["min.insync.replicas"]
    if isinstance(min_isr, bool) or not isinstance(min_isr, int) or not 1 <= min_isr <= 3:
        fb.miss(
            f"{name}: min.insync.replicas is a whole number from 1 to 3 (the replication factor), "
            f"got {min_isr!r}"
        )
        return None
    unclean = answer["unclean.leader.election.enable"]
    if not isinstance(unclean, bool):
        fb.miss(f"{name}: unclean.leader.election.enable is True or False, got {unclean!r}")
        return None
    return acks, min_isr, unclean


def _names(ids: list, n: int = 3) -> str:
    shown = ", ".join(ids[:n])
    return shown + (f" and {len(ids) - n} more" if len(ids) > n else "")


@checker(
    "Exercise 06 · settings for payments and clicks",
    hint="a payment must survive any one broker failing: it needs every in-sync replica to confirm "
    "(acks='all') and at least two of them (min.insync.replicas=2), and must never be led by a "
    "replica that missed it. A click must never be refused: when the only in-sync replica dies, "
    "let another replica lead at once, and do not wait on followers",
)
def check_topic_settings(fb, payments, clickstream) -> None:
    """Run the bad afternoon with each topic's settings and say what was lost or refused."""
    pay = _read(fb, "payments", payments)
    click = _read(fb, "clickstream", clickstream)
    if pay is not None:
        out = bad_afternoon(*pay, topic="payments", prefix="pay")
        lost, single = out.lost, out.single_copy
        fb.expect(
            not lost,
            f"no acknowledged payment was lost ({len(out.refused)} refused, and their callers were told)",
            f"{len(lost)} payment(s) were acknowledged and then lost: {_names(lost)}",
        )
        if not lost:
            fb.expect(
                not single,
                "every payment was acknowledged only once at least two brokers held it",
                f"{len(single)} payment(s) were acknowledged while one broker alone held them "
                f"({_names(single)}): they survived only because that broker came back",
            )
    if click is not None:
        out = bad_afternoon(*click, topic="clickstream", prefix="click")
        refused = sorted(out.refused)
        fb.expect(
            not refused,
            f"no click was refused ({len(out.lost)} lost, which a dashboard can afford)",
            f"{len(refused)} click(s) were refused ({_names(refused)}, "
            f"{out.refused[refused[0]] if refused else ''}): the web tier had to drop them",
        )
