"""Checks for notebook 15 (replay, audit and monitoring): consumer settings that back-test on the full history."""

from __future__ import annotations

from eda_sim.course.feedback import checker
from eda_sim.course.nb15.world import LIVE_GROUP, archive_world, replay


@checker(
    "Exercise 12 · replay the whole history for a back-test",
    hint="use a group.id the live services do not use (a group with no committed offsets), set "
    "auto.offset.reset to 'earliest' so that group starts at the beginning of each partition, and set "
    "enable.auto.commit to False so the back-test commits nothing and can be run again",
)
def check_backtest_config(fb, config) -> None:
    """Replay the transactions topic twice with the learner's consumer ``config`` and count what was read."""
    if not isinstance(config, dict):
        fb.miss(
            f"backtest_config should be a dict of consumer settings, got {type(config).__name__}"
        )
        return
    group = config.get("group.id")
    if not isinstance(group, str) or not group:
        fb.miss("every consumer in a group needs a 'group.id' (a non-empty string)")
        return
    sim = archive_world()
    total = sum(log.log_end_offset for log in sim.topic("transactions").partitions)
    first = len(replay(sim, config))
    reset = config.get("auto.offset.reset", "latest")
    if first == total:
        fb.ok(f"the replay read all {total} transactions, from offset 0 of every partition")
    elif group == LIVE_GROUP:
        fb.miss(
            f"the replay read {first} of {total}: '{LIVE_GROUP}' is the live scorer's group, which has committed "
            "the end of the log, so it resumes there; a back-test needs a group of its own"
        )
    elif reset != "earliest":
        fb.miss(
            f"the replay read {first} of {total}: a group with no committed offsets starts where "
            f"auto.offset.reset says, here {reset!r}{' (the default)' if 'auto.offset.reset' not in config else ''}"
            ", i.e. only records that arrive after it joins"
        )
    else:
        fb.miss(f"the replay read {first} of {total} transactions")
    if first != total:
        return
    again = len(replay(sim, config))
    fb.expect(
        again == total,
        "running the same back-test again reads the whole history again",
        f"a second run with the same settings read {again}: with enable.auto.commit on (the default), closing "
        f"the consumer committed the end of the log for group '{group}', so it resumes there",
    )
    committed = sim.offsets(LIVE_GROUP, "transactions")["lag"].tolist()
    fb.expect(
        all(lag == 0 for lag in committed),
        f"the live group '{LIVE_GROUP}' was left untouched",
        f"the live group's position changed: lag {committed}",
    )
