"""Checks for notebook 04 (consumer groups and scaling): size a group that keeps up without evictions or idlers."""

from __future__ import annotations

from eda_sim.course.feedback import checker, same_code
from eda_sim.course.nb04.world import group_summary, group_world, storm_counts

PARTITIONS = 6
RATE = 240.0  # orders per second
PROCESSING_TIME = 0.02  # seconds per order: a worker handles 50 per second
MAX_POLL_INTERVAL_MS = 2000
BACKLOG = 600
RUN = 20.0
#: Keeping up: at the end, no more than one second of orders waits.
LAG_OK = int(RATE)
#: "Well inside" max.poll.interval.ms: a batch may take at most this share of it, leaving room for a slow
#: record or a pause.
MARGIN = 0.5
#: The exercise cell's starting answer.
STARTER = (2, 500)


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
    "group-sizing",
    "Exercise 04 · a group that keeps up, with no evictions and no idle workers",
    items=[
        ("no-idle", 1, "every worker owns a partition"),
        ("no-evictions", 2, "no worker is evicted for a slow poll loop"),
        ("margin", 1, "a poll's batch ends well inside max.poll.interval.ms"),
        ("keeps-up", 1, "the group keeps up with the orders"),
    ],
    hints=[
        f"how many orders per second does one worker handle, how many does each of the {PARTITIONS} "
        "partitions bring, and how long does one poll's batch take?",
        f"a worker handles {1 / PROCESSING_TIME:g} orders/s and each of the {PARTITIONS} partitions brings "
        f"about {RATE / PARTITIONS:g}/s, so every partition needs a worker of its own, and a worker more "
        f"than partitions gets nothing; a poll's batch takes max_poll_records x {PROCESSING_TIME:g} s and "
        f"must end well inside max.poll.interval.ms ({MAX_POLL_INTERVAL_MS / 1000:g} s), say within half",
    ],
    starter=lambda instances, max_poll_records: (instances, max_poll_records) == STARTER,
    not_answered=f"instances and max_poll_records are still the starting {STARTER[0]} and {STARTER[1]}; "
    "choose your own, then run the cell again",
)
def check_group_sizing(fb, instances, max_poll_records) -> None:
    """Run the orders world with ``instances`` workers taking ``max_poll_records`` per poll, and judge it."""
    bad = [
        f"{name} should be a whole number from 1 to {top}, got {value!r}"
        for name, value, top in (
            ("instances", instances, 32),
            ("max_poll_records", max_poll_records, 100000),
        )
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= top
    ]
    if bad:
        fb.invalid("; ".join(bad))
        return
    sim = sizing_world(instances, max_poll_records)
    summary = group_summary(sim)
    counts = storm_counts(sim, PROCESSING_TIME, max_poll_records, "range")
    batch = max_poll_records * PROCESSING_TIME
    limit = MAX_POLL_INTERVAL_MS / 1000
    idle = summary["idle"]
    fb.mark(
        "no-idle",
        idle == 0 and instances <= PARTITIONS,
        f"each of the {instances} workers owns a partition and does work",
        f"{max(idle, instances - PARTITIONS)} of {instances} workers sat idle: the topic has {PARTITIONS} "
        "partitions and a partition belongs to one member of the group",
    )
    fb.mark(
        "no-evictions",
        counts["evictions"] == 0,
        f"no worker was evicted: a batch of {max_poll_records} takes {batch:g} s, less than "
        f"max.poll.interval.ms ({limit:g} s)",
        f"workers were evicted {counts['evictions']} times: a batch of {max_poll_records} orders takes "
        f"{batch:g} s, more than max.poll.interval.ms allows ({limit:g} s); "
        f"{counts['duplicates']} orders were processed twice",
    )
    fb.mark(
        "margin",
        batch <= MARGIN * limit,
        f"a batch takes {batch:g} s, well inside the {limit:g} s limit",
        f"a batch of {max_poll_records} takes {batch:g} s of the {limit:g} s max.poll.interval.ms allows: "
        f"one slow order or a pause and the worker is evicted; keep a batch within {MARGIN * limit:g} s "
        f"({int(MARGIN * limit / PROCESSING_TIME)} records or fewer)"
        if batch <= limit
        else f"a batch of {max_poll_records} takes {batch:g} s, longer than the {limit:g} s "
        "max.poll.interval.ms allows",
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
    fb.mark(
        "keeps-up",
        lag <= LAG_OK,
        f"the group keeps up: {lag} orders waiting after {RUN:g} s",
        f"the group falls behind: {lag} orders waiting after {RUN:g} s ({why})",
    )


# -- static membership through a rolling deploy -------------------------------------------------

DEPLOY_WORKERS = 3
DEPLOY_PARTITIONS = 6
RESTART_S = 50.0  # how long one worker's restart takes in the exercise's deploy
DEPLOY_EVERY_S = 60.0
MAX_WAIT_MS = 90000
#: Exercise (b)'s starting function: a longer session, no static membership.
STARTER_DEPLOY = """
def worker_config(name):
    return {"session.timeout.ms": 45000}
"""  # a crashed worker's partitions should not wait longer than this unread


def deploy_exercise_world(worker_config):
    """Three workers on six partitions; each in turn stops and is back ``RESTART_S`` seconds later.

    ``worker_config(name)`` gives the consumer settings of the worker called
    ``name`` (``worker-1``, ...), merged over ``auto.offset.reset=earliest``.
    """
    from eda_sim.core.simulation import Simulation
    from eda_sim.course.nb04.protocols import _restart_when_stopped
    from eda_sim.course.nb04.world import GROUP, TOPIC, _orders
    from eda_sim.services.load import Feed
    from eda_sim.services.members import Member

    sim = Simulation(seed=4, name="exercise-04-deploy")
    sim.create_topic(TOPIC, partitions=DEPLOY_PARTITIONS)
    configs = {}
    for k in range(DEPLOY_WORKERS):
        name = f"worker-{k + 1}"
        extra = worker_config(name)
        if not isinstance(extra, dict):
            raise TypeError(
                f"worker_config({name!r}) should return a dict of consumer settings, got {extra!r}"
            )
        configs[name] = extra
        Member(
            sim,
            GROUP,
            [TOPIC],
            name=name,
            processing_time=0.01,
            max_poll_records=50,
            config={"auto.offset.reset": "earliest", **extra},
        )
    Feed(sim, TOPIC, _orders(), rate=30.0, config={"client.id": "shop"}, start=0.0)
    for k in range(DEPLOY_WORKERS):
        member = sim.members[f"worker-{k + 1}"]
        stop = 5.0 + k * DEPLOY_EVERY_S
        sim.at(stop, member.stop)
        sim.at(stop + RESTART_S, _restart_when_stopped, sim, member)
    sim.run(until=5.0 + DEPLOY_WORKERS * DEPLOY_EVERY_S)
    return sim, configs


@checker(
    "static-deploy",
    "Exercise 04 (b) · a rolling deploy with no rebalance",
    items=[
        ("own-ids", 1, "each worker is a static member with an id of its own"),
        ("no-rebalance", 2, "the deploy causes no rebalance"),
        (
            "crash-bound",
            1,
            f"a worker that really crashes loses its partitions within {MAX_WAIT_MS // 1000} s",
        ),
    ],
    hints=[
        "how does the group tell a worker that restarts from one that is gone, and how long does it wait?",
        f"a static member (group.instance.id) that is back within session.timeout.ms keeps its place and "
        f"its partitions; a restart here takes {RESTART_S:g} s, so the session must outlast it, while a "
        f"worker that really crashed should lose its partitions within {MAX_WAIT_MS // 1000} s; each worker "
        "needs an id of its own (a second process with the same id fences the first)",
    ],
    starter=lambda worker_config: same_code(worker_config, STARTER_DEPLOY),
    not_answered="worker_config is still the starting function; change the settings it returns, then run "
    "the cell again",
)
def check_static_deploy(fb, worker_config) -> None:
    """Run the deploy with ``worker_config(name)``'s settings for each worker, and judge it."""
    if not callable(worker_config):
        fb.invalid(
            "worker_config should be a function that takes a worker's name and returns a dict of consumer "
            f"settings, got {type(worker_config).__name__}"
        )
        return
    from eda_sim.core.errors import KafkaException
    from eda_sim.course.nb04.protocols import group_counts

    try:
        sim, configs = deploy_exercise_world(fb.guard(worker_config, "worker_config"))
    except (TypeError, ValueError, KafkaException) as err:
        fb.stop_if_raised()
        fb.invalid(f"the consumers refused these settings: {err}")
        return
    ids = [c.get("group.instance.id") for c in configs.values()]
    named = [i for i in ids if i is not None]
    fb.mark(
        "own-ids",
        len(named) == DEPLOY_WORKERS and len(set(named)) == DEPLOY_WORKERS,
        f"each worker is a static member with an id of its own: {', '.join(map(str, named))}",
        "every worker needs its own group.instance.id"
        + (
            f": {', '.join(map(repr, sorted(set(named), key=str)))} is used more than once, so a worker that "
            "comes back fences another"
            if len(set(named)) < len(named)
            else f"; {DEPLOY_WORKERS - len(named)} of {DEPLOY_WORKERS} have none, so they leave and join as "
            "new members"
        ),
    )
    group = sim.groups.get("workers")
    timeouts = (
        [group.session_timeout(sim.members[n].consumer) for n in sorted(sim.members)]
        if group
        else []
    )
    longest = max(timeouts, default=0.0)
    counts = group_counts(sim, after=4.9)
    fb.mark(
        "no-rebalance",
        counts["rebalances"] == 0,
        "the deploy caused no rebalance: every worker was back within its session and kept its partitions",
        f"the deploy caused {counts['rebalances']} rebalances and revoked {counts['revoked']} partitions"
        + (
            f"; a restart takes {RESTART_S:g} s, longer than the session ({longest:g} s), so the group "
            "gave the partitions away before the worker was back"
            if len(named) == DEPLOY_WORKERS
            else ""
        ),
    )
    fb.mark(
        "crash-bound",
        0 < longest * 1000 <= MAX_WAIT_MS,
        f"a worker that really crashes loses its partitions after {longest:g} s",
        f"a worker that really crashes would keep its partitions, unread, for {longest:g} s: keep the session "
        f"timeout at {MAX_WAIT_MS // 1000} s or less",
    )
