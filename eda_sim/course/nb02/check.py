"""Checks for notebook 02 (producers, consumers, broker): add a second reader of the whole history."""

from __future__ import annotations

from eda_sim.core.errors import KafkaException
from eda_sim.course.feedback import checker
from eda_sim.course.nb02.world import FIRST_GROUP, catch_up_report, second_group_world

JOIN_AT = 10.0
#: The exercise cell's starting config: it joins the recommender group, which shares work.
STARTER = {"group.id": FIRST_GROUP}


@checker(
    "second-group",
    "Exercise 02 · a second consumer group that reads the whole history",
    items=[
        ("own-group", 1, "trending reads in a group of its own"),
        ("others-unaffected", 1, f"the {FIRST_GROUP} group keeps its partitions and its count"),
        ("whole-history", 2, "trending reads every page view, from the first one"),
        ("once", 1, "trending processes each page view once"),
    ],
    hints=[
        "what does a consumer group share among its members, and what does a new group have that an "
        "old one does not?",
        f"give trending a group of its own (any group.id but {FIRST_GROUP!r}); a new group has no committed "
        "offsets, so auto.offset.reset decides where it starts: 'latest' (the default) skips what is "
        "already in the log, 'earliest' starts at the oldest record still kept",
    ],
    starter=lambda config: config == STARTER,
    not_answered="trending_config is still the starting config; change it so trending reads every page "
    "view without taking any from the recommender, then run the cell again",
)
def check_second_group(fb, config) -> None:
    """Start a member called ``trending`` with the learner's consumer ``config`` after 10 s of traffic.

    Right: a new ``group.id`` and ``auto.offset.reset`` ``earliest``: it processes every page view once,
    and the recommender group keeps all its partitions and its own count.
    """
    if not isinstance(config, dict):
        fb.invalid(
            f"trending_config should be a dict of consumer settings, got {type(config).__name__}"
        )
        return
    group = config.get("group.id")
    if not isinstance(group, str) or not group:
        fb.invalid('set "group.id" to a non-empty string: a consumer needs a group to subscribe')
        return
    try:
        sim, _member = second_group_world(config, join_at=JOIN_AT)
    except (TypeError, ValueError, KeyError, KafkaException) as err:
        fb.invalid(f"the consumer refused these settings: {err}")
        return
    mine = catch_up_report(sim, group, member="trending")
    first = catch_up_report(sim, FIRST_GROUP)
    reset = str(config.get("auto.offset.reset", "latest")).lower()
    moved = [
        r for r in sim.journal.rows("rebalanced") if r.group == FIRST_GROUP and r.time >= JOIN_AT
    ]
    same = group == FIRST_GROUP
    fb.mark(
        "own-group",
        not same,
        f"trending reads in its own group {group!r}, with its own committed offsets",
        f"trending joined the {FIRST_GROUP!r} group, which shares its partitions among its members: "
        "a group shares work, a new group reads everything",
    )
    fb.mark(
        "others-unaffected",
        not moved and first["never"] == 0 and first["more than once"] == 0,
        f"the {FIRST_GROUP} group is unaffected: no rebalance, each of its {first['produced']} page views "
        "processed once",
        f"the {FIRST_GROUP} group rebalanced when trending joined and gave it partitions"
        if moved
        else f"the {FIRST_GROUP} group's own count is off: {first}",
    )
    errored = [
        r for r in sim.journal.rows("offset_reset") if r.group == group and "=none" in r.detail
    ]
    if same:
        wrong = (
            f"trending processed {mine['processed once']} of {mine['produced']} page views: in the "
            f"{FIRST_GROUP} group it got only the partitions the group gave it, from where the group had "
            "committed"
        )
    elif errored:
        wrong = (
            "with auto.offset.reset 'none', a group with no committed offset gets an error "
            "(_AUTO_OFFSET_RESET) instead of a starting position, so trending read nothing: 'none' suits a "
            "consumer that always commits or seeks first; a new group needs another policy"
        )
    else:
        wrong = (
            f"trending missed {mine['never']} of {mine['produced']} page views: the ones produced "
            f"before it joined at t = {JOIN_AT:g} s, since auto.offset.reset is {reset!r}"
            f"{' (the default)' if 'auto.offset.reset' not in config else ''} (where does a new group start?)"
        )
    fb.mark(
        "whole-history",
        mine["never"] == 0,
        f"trending processed every page view from the first one ({mine['produced']} in all)",
        wrong,
    )
    fb.mark(
        "once",
        mine["more than once"] == 0 and mine["processed once"] > 0,
        "each page view trending read was processed once",
        f"{mine['more than once']} page views were processed twice by trending"
        if mine["more than once"]
        else "trending processed no page view at all",
    )


hint = check_second_group.hint
