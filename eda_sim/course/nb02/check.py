"""Checks for notebook 02 (producers, consumers, broker): add a second reader of the whole history."""

from __future__ import annotations

from eda_sim.course.feedback import checker
from eda_sim.course.nb02.world import FIRST_GROUP, catch_up_report, second_group_world

JOIN_AT = 10.0


@checker(
    "Exercise 02 · a second consumer group that reads the whole history",
    hint=f"give trending a group of its own (any group.id but {FIRST_GROUP!r}); a new group has no "
    "committed offsets, so auto.offset.reset decides where it starts: 'latest' (the default) skips "
    "what is already in the log, 'earliest' starts at the oldest record still kept",
)
def check_second_group(fb, config) -> None:
    """Start a member called ``trending`` with the learner's consumer ``config`` after 10 s of traffic.

    Right: a new ``group.id`` and ``auto.offset.reset`` ``earliest``: it processes every page view once,
    and the recommender group keeps all its partitions and its own count.
    """
    if not isinstance(config, dict):
        fb.miss(
            f"trending_config should be a dict of consumer settings, got {type(config).__name__}"
        )
        return
    group = config.get("group.id")
    if not isinstance(group, str) or not group:
        fb.miss('set "group.id": a consumer needs a group to subscribe')
        return
    sim, _member = second_group_world(config, join_at=JOIN_AT)
    mine = catch_up_report(sim, group, member="trending")
    first = catch_up_report(sim, FIRST_GROUP)
    if group == FIRST_GROUP:
        fb.miss(
            f"trending joined the {FIRST_GROUP!r} group, so the group split its partitions: the recommender "
            f"lost a partition to it and trending processed only {mine['processed once']} of "
            f"{mine['produced']} page views; a group shares work, a new group reads everything"
        )
    else:
        fb.ok(f"trending reads in its own group {group!r}, with its own committed offsets")
    moved = [
        r for r in sim.journal.rows("rebalanced") if r.group == FIRST_GROUP and r.time >= JOIN_AT
    ]
    by_recommenders = sum(
        1
        for r in sim.journal.rows("processed")
        if r.group == FIRST_GROUP and r.detail != "trending"
    )
    fb.expect(
        not moved and by_recommenders > 0,
        f"the {FIRST_GROUP} group is unaffected: no rebalance, its members kept every partition",
        f"the {FIRST_GROUP} group rebalanced when trending joined, and its members lost partitions",
    )
    if group == FIRST_GROUP:
        return
    fb.expect(
        mine["never"] == 0,
        f"trending processed every page view from the first one ({mine['produced']} in all)",
        f"trending missed {mine['never']} of {mine['produced']} page views: the ones produced "
        f"before it joined at t = {JOIN_AT:g} s (where does a new group start?)",
    )
    fb.expect(
        mine["more than once"] == 0 and mine["processed once"] > 0,
        "each page view was processed once by trending",
        f"{mine['more than once']} page views were processed twice by trending",
    )
    fb.expect(
        first["never"] == 0 and first["more than once"] == 0,
        f"the {FIRST_GROUP} group still processed each of the {first['produced']} page views once",
        f"the {FIRST_GROUP} group's own count is off: {first}",
    )
