"""Checks for notebook 04 (consumer groups and scaling): size a group that keeps up without evictions or idlers."""

from __future__ import annotations

from eda_sim.course.feedback import checker
from eda_sim.course.nb04.world import group_summary, group_world, storm_counts

PARTITIONS = 6
RATE = 240.0  # orders per second
PROCESSING_TIME = 0.02  # seconds per order: a worker handles 50 per second
MAX_POLL_INTERVAL_MS = 2000
BACKLOG = 600
RUN = 20.0
#: Keeping up: at the end, no more than one second of orders waits.
LAG_OK = int(RATE)


def sizing_world(instances: int, max_poll_records: int):
    """The exercise's world: six partitions, 240 orders/s, 0.02 s per order, max.poll.interval.ms 2000."""
    return group_world(
        instances,
        partitions=PARTITIONS,
        rate=RATE,
        processing_time=PROCESSING_TIME,
        max_poll_records=max_poll_records,
        max_poll_interval_ms=MAX_POLL_INTERVAL_MS,
        backlog=BACKLOG,
        until=RUN,
        name="exercise-04",
    )


@checker(
    "Exercise 04 · a group that keeps up, with no evictions and no idle workers",
    hint=f"a worker handles {1 / PROCESSING_TIME:g} orders/s and each of the {PARTITIONS} partitions brings "
    f"about {RATE / PARTITIONS:g}/s, so every partition needs a worker of its own, and a worker more than "
    f"partitions gets nothing; a poll's batch takes max_poll_records x {PROCESSING_TIME:g} s and must end "
    f"well inside max.poll.interval.ms ({MAX_POLL_INTERVAL_MS / 1000:g} s)",
)
def check_group_sizing(fb, instances, max_poll_records) -> None:
    """Run the orders world with ``instances`` workers taking ``max_poll_records`` per poll, and judge it."""
    for name, value, top in (
        ("instances", instances, 32),
        ("max_poll_records", max_poll_records, 100000),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= top:
            fb.miss(f"{name} should be a whole number from 1 to {top}, got {value!r}")
    if fb.missing:
        return
    sim = sizing_world(instances, max_poll_records)
    summary = group_summary(sim)
    counts = storm_counts(sim, PROCESSING_TIME, max_poll_records, "range")
    batch = max_poll_records * PROCESSING_TIME
    idle = summary["idle"]
    fb.expect(
        idle == 0 and instances <= PARTITIONS,
        f"each of the {instances} workers owns a partition and does work",
        f"{max(idle, instances - PARTITIONS)} of {instances} workers sat idle: the topic has {PARTITIONS} "
        "partitions and a partition belongs to one member of the group",
    )
    fb.expect(
        counts["evictions"] == 0,
        f"no worker was evicted: a batch of {max_poll_records} takes {batch:g} s, inside "
        f"max.poll.interval.ms ({MAX_POLL_INTERVAL_MS / 1000:g} s)",
        f"workers were evicted {counts['evictions']} times: a batch of {max_poll_records} orders takes "
        f"{batch:g} s, more than max.poll.interval.ms allows ({MAX_POLL_INTERVAL_MS / 1000:g} s); "
        f"{counts['duplicates']} orders were processed twice",
    )
    lag = summary["lag"]
    busiest = -(-PARTITIONS // instances)  # partitions on the busiest worker
    if counts["evictions"]:
        why = "evicted workers' commits are refused, so the group makes no progress"
    elif busiest > 1:
        why = (
            f"a worker with {busiest} partitions gets {busiest * RATE / PARTITIONS:g} orders/s and handles "
            f"{1 / PROCESSING_TIME:g}"
        )
    else:
        why = "the backlog is not worked off"
    fb.expect(
        lag <= LAG_OK,
        f"the group keeps up: {lag} orders waiting after {RUN:g} s",
        f"the group falls behind: {lag} orders waiting after {RUN:g} s ({why})",
    )
