"""Each exercise check with a right answer, a partly right one and a wrong one: the feedback says so."""

from collections import Counter

from eda_sim.course import Feedback, checker
from eda_sim.course.nb01.check import MESSAGES, check_events_vs_commands
from eda_sim.course.nb05.check import check_idempotent_ledger


def test_a_check_never_raises_and_names_the_error():
    @checker("demo")
    def check(fb, x):
        fb.expect(x > 0, "positive", "not positive")

    fb = check(None)
    assert isinstance(fb, Feedback) and not fb.passed
    assert "raised TypeError" in str(fb)


# -- 01 ------------------------------------------------------------------------------------


def test_01_right():
    fb = check_events_vs_commands({k: v for k, (v, _) in MESSAGES.items()})
    assert fb.passed and "all checks pass" in str(fb)


def test_01_partly_right_says_which_are_wrong_and_hints():
    answer = {k: v for k, (v, _) in MESSAGES.items()}
    answer["ScoreTransaction"] = "event"
    answer["PaymentCaptured"] = "?"
    text = str(check_events_vs_commands(answer))
    assert "ScoreTransaction is not an event" in text and "PaymentCaptured: not sorted yet" in text
    assert "hint:" in text and "6 of 8" in text


def test_01_wrong_type():
    assert "should be a dict" in str(check_events_vs_commands(["event"]))


# -- 05 ------------------------------------------------------------------------------------


def _handlers(kind):
    ledger, seen = Counter(), set()

    def post(event, ctx):
        if kind == "by-id":
            if event.id in seen:
                return
            seen.add(event.id)
        if kind == "by-payload":
            k = (event.payload["account"], event.payload["amount"])
            if k in seen:
                return
            seen.add(k)
        ledger[event.payload["account"]] += event.payload["amount"]

    return post, ledger, seen


def test_05_right():
    post, ledger, seen = _handlers("by-id")
    fb = check_idempotent_ledger(post, ledger, seen)
    assert fb.passed and "the ledger total is exact" in str(fb)


def test_05_partly_right_dedupes_on_payload_and_skips_a_real_payment():
    post, ledger, seen = _handlers("by-payload")
    text = str(check_idempotent_ledger(post, ledger, seen))
    assert "a real payment was skipped" in text and "never compare payloads" in text


def test_05_wrong_double_counts():
    post, ledger, seen = _handlers("naive")
    text = str(check_idempotent_ledger(post, ledger, seen))
    assert "posted twice" in text and "deliver 2 payment(s) twice" in text


# 07: tests/test_exercise_07.py


def test_every_check_is_importable_from_the_package():
    import eda_sim.course as ex

    for name in ex.CHECKS:
        assert callable(getattr(ex, name))
