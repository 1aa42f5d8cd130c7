"""The state notebook's check on a right, partly right, wrong, garbage and raising answer."""

from eda_sim.course.nb11.check import check_velocity


def test_a_right_answer_passes():
    fb = check_velocity({"size": 60, "step": 10, "lateness": 20, "grace": 5})
    assert fb.passed, str(fb)


def test_no_lateness_catches_the_card_but_drops_late_charges():
    fb = check_velocity({"size": 60, "step": 10, "lateness": 0, "grace": 0})
    assert not fb.passed
    assert any("card-13 is flagged" in r for r in fb.right)
    assert any("velocity.late" in m for m in fb.missing)


def test_a_short_window_misses_the_burst_and_a_long_one_flags_everyone():
    short = check_velocity({"size": 30, "step": 10, "lateness": 20, "grace": 5})
    assert any("never reached" in m for m in short.missing)
    long = check_velocity({"size": 600, "step": 60, "lateness": 20, "grace": 5})
    assert any("ordinary cards are flagged" in m for m in long.missing)


def test_waiting_too_long_is_over_the_budget():
    fb = check_velocity({"size": 60, "step": 10, "lateness": 50, "grace": 30})
    assert any("over the 60 s" in m for m in fb.missing)


def test_garbage_answers_get_feedback_not_an_exception():
    for answer in (
        None,
        60,
        {"size": 60},
        {"size": "60", "step": 10, "lateness": 0, "grace": 0},
        {"size": 60, "step": 90, "lateness": 0, "grace": 0},
        {"size": 60, "step": 10, "lateness": -1, "grace": 0},
    ):
        fb = check_velocity(answer)
        assert not fb.passed and fb.missing


def test_an_answer_that_raises_is_named_in_the_feedback():
    class Boom(dict):
        def __contains__(self, key):
            raise RuntimeError("my settings broke")

    fb = check_velocity(Boom())
    assert not fb.passed
    assert any("RuntimeError: my settings broke" in m for m in fb.missing)
