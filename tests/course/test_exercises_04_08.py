"""The checks of notebooks 04 and 10 with a right answer, a partly right one and a wrong one."""

from eda_sim.course.nb04.check import check_group_sizing
from eda_sim.course.nb10.check import check_autoscaler_plan

# -- 04 ------------------------------------------------------------------------------------


def test_04_right():
    fb = check_group_sizing(6, 50)
    assert (
        fb.passed
        and "all checks pass" in str(fb)
        and "each of the 6 workers owns a partition" in str(fb)
    )


def test_04_partly_right_extra_workers_sit_idle():
    text = str(check_group_sizing(8, 50))
    assert "2 of 3 checks pass" in text and "2 of 8 workers sat idle" in text
    assert "the group keeps up" in text and "hint:" in text


def test_04_partly_right_batches_too_long_are_evicted():
    text = str(check_group_sizing(6, 500))
    assert "workers were evicted" in text and "a batch of 500 orders takes 10 s" in text
    assert "processed twice" in text and "the group falls behind" in text


def test_04_wrong():
    fb = check_group_sizing(2, 500)
    text = str(fb)
    assert not fb.passed and "the group falls behind" in text and "workers were evicted" in text
    assert "instances should be a whole number" in str(check_group_sizing("6", 50))


# -- 08 ------------------------------------------------------------------------------------

GOOD = {
    "min_instances": 2,
    "max_instances": 6,
    "scale_out_lag": 40,
    "scale_in_lag": 5,
    "cooldown": 1,
}


def test_08_right():
    fb = check_autoscaler_plan(GOOD)
    assert fb.passed and "no flapping" in str(fb) and "gave instances back" in str(fb)


def test_08_partly_right_too_slow_and_flapping():
    text = str(
        check_autoscaler_plan({**GOOD, "min_instances": 1, "scale_out_lag": 100, "cooldown": 3})
    )
    assert "over the bound of 320" in text and "it flapped" in text
    assert "within the 6 partitions" in text and "hint:" in text


def test_08_wrong():
    plan = {
        "min_instances": 1,
        "max_instances": 12,
        "scale_out_lag": 400,
        "scale_in_lag": 20,
        "cooldown": 5,
    }
    text = str(check_autoscaler_plan(plan))
    assert (
        "0 of 4 checks pass" in text
        and "more than the 6 partitions" in text
        and "still run at the end" in text
    )
    assert "plan lacks max_instances" in str(check_autoscaler_plan({"min_instances": 2}))
    assert "raised ValueError" in str(check_autoscaler_plan({**GOOD, "scale_in_lag": 40}))
