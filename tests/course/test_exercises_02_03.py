"""Notebooks 02 and 03's exercise checks with a right, a partly right and a wrong answer: the feedback says so."""

from eda_sim.course import Feedback
from eda_sim.course.nb02.check import check_second_group
from eda_sim.course.nb03.check import check_ordering_key, check_reorder_window

# -- 02: a second group that reads the whole history ----------------------------------------


def test_02_right_a_new_group_from_the_earliest_offset():
    fb = check_second_group({"group.id": "trending", "auto.offset.reset": "earliest"})
    text = str(fb)
    assert fb.passed and "all checks pass" in text
    assert "processed every page view from the first one" in text
    assert "recommender group is unaffected" in text


def test_02_partly_right_a_new_group_that_starts_at_latest_misses_the_history():
    fb = check_second_group({"group.id": "trending"})
    text = str(fb)
    assert not fb.passed and "4 of 5 checks pass" in text
    assert "reads in its own group 'trending'" in text
    assert "missed 200 of 478 page views" in text and "before it joined" in text
    assert "hint:" in text and "'earliest'" in text


def test_02_wrong_joining_the_first_group_takes_its_partitions():
    fb = check_second_group({"group.id": "recommender", "auto.offset.reset": "earliest"})
    text = str(fb)
    assert not fb.passed and not fb.right
    assert "joined the 'recommender' group" in text and "lost a partition" in text
    assert "rebalanced when trending joined" in text


def test_02_bad_input_is_feedback_not_an_exception():
    assert "should be a dict" in str(check_second_group(["trending"]))
    assert 'set "group.id"' in str(check_second_group({}))
    fb = check_second_group({"group.id": "trending", "auto.offset.reset": "oldest"})
    assert isinstance(fb, Feedback) and "raised KafkaException" in str(fb) and "earliest" in str(fb)


# -- 03a: the key -----------------------------------------------------------------------------


def test_03a_right_key_by_user():
    fb = check_ordering_key("user_id")
    assert fb.passed and "no user's clicks reached the sessionizer out of order" in str(fb)
    assert "all 3 partitions get clicks" in str(fb)


def test_03a_partly_right_a_coarse_key_keeps_order_but_not_the_load_spread():
    fb = check_ordering_key("region")
    text = str(fb)
    assert not fb.passed and "2 of 3 checks pass" in text
    assert "no user's clicks reached the sessionizer out of order" in text
    assert "only 1 of 3 partitions get clicks" in text and "too few distinct values" in text
    assert "hint:" in text


def test_03a_wrong_no_key_or_a_random_key_breaks_each_users_order():
    for key, says in ((None, "without a key"), ("click_id", "keyed by 'click_id'")):
        text = str(check_ordering_key(key))
        assert "pairs of clicks reached the sessionizer out of order" in text and says in text
        assert "spread over up to 3 partitions" in text


def test_03a_a_field_that_does_not_exist_is_named_with_the_choices():
    text = str(check_ordering_key("name"))
    assert (
        "'name' is not a field of a click" in text
        and "user_id, region, product_id, click_id" in text
    )


# -- 03b: the reorder window -----------------------------------------------------------------


def test_03b_right_the_longest_delay():
    fb = check_reorder_window(1.5)
    assert fb.passed and "no tap came too late" in str(fb) and "within the 2 s budget" in str(fb)


def test_03b_partly_right_a_window_too_long_waits_over_the_budget():
    fb = check_reorder_window(3.0)
    text = str(fb)
    assert not fb.passed and "2 of 3 checks pass" in text
    assert "no tap came too late" in text and "over the 2 s budget" in text


def test_03b_wrong_a_window_too_short_leaves_late_taps():
    fb = check_reorder_window(0.5)
    text = str(fb)
    assert not fb.passed and "24 taps came after the window had closed" in text
    assert "at most 1.5 s late" in text  # the hint


def test_03b_bad_input_is_feedback_not_an_exception():
    assert "more than 0 s" in str(check_reorder_window(0))
    assert "should be a number of seconds" in str(check_reorder_window("2"))
    assert "should be a number of seconds" in str(check_reorder_window(True))
