"""Checks for notebook 15 (replay, audit and monitoring): consumer settings that back-test on the full history."""

from __future__ import annotations

from eda_sim.core.errors import KafkaException
from eda_sim.course.feedback import checker
from eda_sim.course.nb15.world import LIVE_GROUP, archive_world, replay

#: The exercise cell's starting settings: the live scorer's own group.
STARTER = {"group.id": LIVE_GROUP}


@checker(
    "backtest-config",
    "Exercise 15 · replay the whole history for a back-test",
    items=[
        ("reads-all", 2, "the replay reads every transaction, from offset 0"),
        ("repeatable", 1, "the same back-test run again reads everything again"),
        ("live-untouched", 1, "the live group's position is left alone"),
    ],
    hints=[
        "where does a consumer group start reading, and what does closing a consumer leave behind?",
        "use a group.id the live services do not use (a group with no committed offsets), set "
        "auto.offset.reset to 'earliest' so that group starts at the beginning of each partition, and set "
        "enable.auto.commit to False so the back-test commits nothing and can be run again",
    ],
    starter=lambda config: config == STARTER,
    not_answered="backtest_config is still the starting config; write your settings, then run the cell "
    "again",
)
def check_backtest_config(fb, config) -> None:
    """Replay the transactions topic twice with the learner's consumer ``config`` and count what was read."""
    if not isinstance(config, dict):
        fb.invalid(
            f"backtest_config should be a dict of consumer settings, got {type(config).__name__}"
        )
        return
    group = config.get("group.id")
    if not isinstance(group, str) or not group:
        fb.invalid("every consumer in a group needs a 'group.id' (a non-empty string)")
        return
    sim = archive_world()
    total = sum(log.log_end_offset for log in sim.topic("transactions").partitions)
    try:
        first = len(replay(sim, config))
    except (TypeError, ValueError, KeyError, KafkaException) as err:
        fb.invalid(f"the consumer refused these settings: {err}")
        return
    reset = config.get("auto.offset.reset", "latest")
    if first == total:
        fb.ok(
            "reads-all",
            f"the replay read all {total} transactions, from offset 0 of every partition",
        )
    elif group == LIVE_GROUP:
        fb.fail(
            "reads-all",
            f"the replay read {first} of {total}: '{LIVE_GROUP}' is the live scorer's group, which has "
            "committed the end of the log, so it resumes there; a back-test needs a group of its own",
        )
    elif str(reset).lower() == "none":
        fb.fail(
            "reads-all",
            f"the replay read {first} of {total}: with auto.offset.reset 'none', a group with no committed "
            "offset gets an error instead of a starting position",
        )
    elif reset != "earliest":
        fb.fail(
            "reads-all",
            f"the replay read {first} of {total}: a group with no committed offsets starts where "
            f"auto.offset.reset says, here {reset!r}{' (the default)' if 'auto.offset.reset' not in config else ''}"
            ", i.e. only records that arrive after it joins",
        )
    else:
        fb.fail("reads-all", f"the replay read {first} of {total} transactions")
    committed = sim.offsets(LIVE_GROUP, "transactions")["lag"].tolist()
    if first == total:
        again = len(replay(sim, config))
        fb.mark(
            "repeatable",
            again == total,
            "running the same back-test again reads the whole history again",
            f"a second run with the same settings read {again}: with enable.auto.commit on (the default), "
            f"closing the consumer committed the end of the log for group '{group}', so it resumes there",
        )
        committed = sim.offsets(LIVE_GROUP, "transactions")["lag"].tolist()
    fb.mark(
        "live-untouched",
        group != LIVE_GROUP and all(lag == 0 for lag in committed),
        f"the live group '{LIVE_GROUP}' was left untouched",
        f"the back-test ran in the live group '{LIVE_GROUP}', so its commits move the live scorer's position"
        if group == LIVE_GROUP
        else f"the live group's position changed: lag {committed}",
    )


hint = check_backtest_config.hint
