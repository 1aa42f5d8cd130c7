"""The delivery lessons, one scenario each: when offsets are committed decides what a crash costs.

Every test builds a small world by hand, with times chosen so the crash lands
at a known point of the poll-process-commit cycle: one partition ``jobs`` with
numbered records, a worker processing 0.1 s per record.
"""

from collections import Counter

import pytest

from eda_sim import Simulation
from eda_sim.core.errors import KafkaError, KafkaException
from eda_sim.kafka.message import TopicPartition
from eda_sim.testing.worlds import SHORT_SESSIONS, filled, topics


def jobs_world(name: str, records: int, partitions: int = 1) -> Simulation:
    # sessions of 0.5-3 s, under Kafka's 6 s minimum: the broker allows them (SHORT_SESSIONS)
    sim = topics({"jobs": partitions}, seed=5, name=name, broker_config=SHORT_SESSIONS)
    if partitions > 1:
        return filled(sim, "jobs", records, key=lambda i: f"job-{i}")
    return filled(sim, "jobs", records, partition=0)


def worker(sim, commit: str, done: Counter, **options):
    config = {
        "auto.offset.reset": "earliest",
        "session.timeout.ms": 500,
        **options.pop("config", {}),
    }
    return sim.member(
        "workers",
        ["jobs"],
        name="worker",
        processing_time=0.1,
        commit=commit,
        on_record=lambda m: done.update([int(m.value())]),
        config=config,
        **options,
    )


def first_delivery(sim, member_id: str) -> int:
    return next(r.offset for r in sim.journal.rows("delivered") if r.actor == member_id)


def test_process_then_commit_a_crash_mid_batch_duplicates_exactly_what_was_processed_since_the_last_commit():
    sim = jobs_world("after", 12)
    done = Counter()
    w = worker(sim, "after", done, max_poll_records=4)
    t0 = sim.now
    # batch 0-3 is processed by t0+0.4 and committed (offset 4); batch 4-7 starts; 4 and 5 finish by t0+0.6
    sim.run(until=t0 + 0.65)
    sim.crash(w)
    assert sim.group("workers").committed[("jobs", 0)] == 4
    processed_since_commit = {i for i in done if i >= 4}
    assert processed_since_commit == {4, 5}
    sim.restart(w, at=t0 + 1.0)
    sim.run(until=t0 + 4.0)
    assert first_delivery(sim, "worker-2") == 4  # the new member starts at the committed offset
    assert {
        i for i, n in done.items() if n > 1
    } == processed_since_commit  # duplicates: exactly the window
    assert max(done.values()) == 2
    assert set(done) == set(range(12))  # at-least-once: nothing lost


def test_commit_then_process_a_crash_mid_batch_loses_only_the_rest_of_the_committed_batch():
    sim = jobs_world("before", 12)
    done = Counter()
    w = worker(sim, "before", done, max_poll_records=4)
    t0 = sim.now
    # batch 4-7 was committed (offset 8) when it was polled at t0+0.4; 4 and 5 finish before the crash
    sim.run(until=t0 + 0.65)
    sim.crash(w)
    assert sim.group("workers").committed[("jobs", 0)] == 8
    sim.restart(w, at=t0 + 1.0)
    sim.run(until=t0 + 4.0)
    assert first_delivery(sim, "worker-2") == 8
    assert max(done.values()) == 1  # at-most-once: no duplicates
    assert set(range(12)) - set(done) == {6, 7}  # lost: committed but never processed, nothing else


def test_auto_commit_a_crash_after_the_timer_fired_skips_records_while_lag_reads_zero():
    sim = jobs_world("auto", 8)
    done = Counter()
    w = worker(sim, "auto", done, config={"auto.commit.interval.ms": 300})
    t0 = sim.now
    # one poll hands out all 8 records; the timer commits offset 8 at t0+0.3; 0-4 are processed by t0+0.5
    sim.run(until=t0 + 0.55)
    sim.crash(w)
    assert set(done) == {0, 1, 2, 3, 4}
    lag = sim.offsets("workers", "jobs")
    assert list(lag["committed"]) == [8] and list(lag["lag"]) == [0]  # the dashboard says all done
    sim.restart(w, at=t0 + 1.0)
    sim.run(until=t0 + 4.0)
    assert set(range(8)) - set(done) == {5, 6, 7}  # never processed, and nobody will
    assert list(sim.offsets("workers", "jobs")["lag"]) == [0]


def test_stored_offsets_auto_commit_commits_only_what_was_processed_so_a_crash_loses_nothing():
    """librdkafka's at-least-once auto-commit: enable.auto.offset.store=false + store_offsets() after processing."""
    sim = jobs_world("store", 8)
    done = Counter()
    w = worker(sim, "store", done, config={"auto.commit.interval.ms": 300})
    assert w.consumer._config["enable.auto.offset.store"] is False
    t0 = sim.now
    # the same timing as auto-commit above: all 8 polled at once; the timer fires at t0+0.3, the instant
    # record 2 finishes, before it is stored: it commits 2 (where auto-commit committed 8)
    sim.run(until=t0 + 0.55)
    sim.crash(w)
    assert set(done) == {0, 1, 2, 3, 4}
    assert sim.group("workers").committed[("jobs", 0)] == 2
    sim.restart(w, at=t0 + 1.0)
    sim.run(until=t0 + 4.0)
    assert set(done) == set(range(8))  # nothing lost
    assert {i for i, n in done.items() if n > 1} == {
        2,
        3,
        4,
    }  # processed after the last commit: again


def test_the_crash_sweep_shows_stored_offsets_never_lose():
    from eda_sim.course.nb05.world import crash_sweep

    sweep = crash_sweep(strategies=("auto", "store"))
    store = sweep[sweep.strategy == "store"]
    assert store["lost"].sum() == 0 and store["duplicated"].sum() > 0
    assert sweep[sweep.strategy == "auto"]["lost"].sum() > 0


def test_a_consumer_evicted_for_not_polling_cannot_commit_and_the_committed_offset_stays():
    sim = jobs_world("evicted", 4)
    c = sim.consumer(
        {
            "group.id": "workers",
            "client.id": "slow",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "max.poll.interval.ms": 2000,
        }
    )
    c.subscribe(["jobs"])
    first = c.poll(1.0)
    c.commit(message=first, asynchronous=False)
    second = c.poll(1.0)
    assert (first.offset(), second.offset()) == (0, 1)
    sim.run(
        until=sim.now + 2.5
    )  # "processing" the second record takes longer than max.poll.interval.ms
    assert [r.actor for r in sim.journal.rows("evicted")] == ["slow-1"]
    with pytest.raises(KafkaException):
        c.commit(message=second, asynchronous=False)
    assert sim.group("workers").committed == {("jobs", 0): 1}
    assert c.committed([TopicPartition("jobs", 0)])[0].offset == 1
    assert [r.offset for r in sim.journal.rows("commit_failed")] == [2]
    err = c.poll(1.0)  # the next poll reports the eviction, then the consumer rejoins
    assert err.error().code() == KafkaError._MAX_POLL_EXCEEDED
    assert c.poll(1.0).offset() == 1  # and the second record comes again


@pytest.mark.parametrize("commit", ["after", "auto"])
def test_a_stalled_member_is_evicted_mid_batch_and_commits_nothing(commit):
    sim = jobs_world(f"stalled-{commit}", 6)
    done = Counter()
    w = sim.member(
        "workers",
        ["jobs"],
        name="worker",
        processing_time=1.0,
        commit=commit,
        max_poll_records=3,
        on_record=lambda m: done.update([int(m.value())]),
        config={"auto.offset.reset": "earliest", "max.poll.interval.ms": 2000},
    )
    t0 = sim.now
    sim.run(until=t0 + 3.5)  # polled 0-2 at t0, evicted at t0+2, finished the batch at t0+3
    (evicted,) = sim.journal.rows("evicted")
    assert evicted.actor == "worker-1" and evicted.time == pytest.approx(t0 + 2.0)
    assert set(done) == {0, 1, 2}
    # its partitions were lost, not handed back: no commit on the way out (auto-commit's timer is 5 s),
    # and the commit after the batch did not count
    assert sim.group("workers").committed == {}
    assert not [r for r in sim.journal.rows("committed") if r.actor == "worker-1"]
    assert (
        first_delivery(sim, "worker-2") == 0
    )  # rejoined, and starts over from the committed offset
    assert w.member_id == "worker-2"


def test_a_restarted_consumer_resumes_at_the_committed_offset_not_its_old_position():
    sim = jobs_world("restart", 5)
    c = sim.consumer(
        {
            "group.id": "workers",
            "client.id": "c",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "session.timeout.ms": 3000,
        }
    )
    c.subscribe(["jobs"])
    got = [c.poll(1.0) for _ in range(5)]
    c.commit(message=got[1], asynchronous=False)
    assert c.position([TopicPartition("jobs", 0)])[0].offset == 5
    sim.crash(c)
    sim.restart(c)
    again = c.poll(10.0)  # the crashed member holds the partition until session.timeout.ms
    assert again.offset() == 2
    assert c.position([TopicPartition("jobs", 0)])[0].offset == 3


def test_a_commit_naming_a_partition_that_moved_in_a_rebalance_is_refused_whole():
    sim = jobs_world("moved", 8, partitions=2)
    a = sim.consumer(
        {
            "group.id": "workers",
            "client.id": "a",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "partition.assignment.strategy": "range",
        }
    )
    a.subscribe(["jobs"])
    polled = a.consume(8, 1.0)
    last = {}
    for m in polled:
        last[m.partition()] = m.offset()
    assert set(last) == {0, 1}
    b = sim.consumer(
        {
            "group.id": "workers",
            "client.id": "b",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "partition.assignment.strategy": "range",
        }
    )
    b.subscribe(["jobs"])
    b.poll(0)  # b joins: range gives a partition 0 and b partition 1
    assert sim.group("workers").owner == {("jobs", 0): "a-1", ("jobs", 1): "b-1"}
    both = [TopicPartition("jobs", p, o + 1) for p, o in sorted(last.items())]
    with pytest.raises(KafkaException):
        a.commit(offsets=both, asynchronous=False)
    assert sim.group("workers").committed == {}  # not even partition 0, which a still owns
    assert len(sim.journal.rows("commit_failed")) == 2
    a.commit(offsets=both[:1], asynchronous=False)
    assert sim.group("workers").committed == {("jobs", 0): last[0] + 1}


def test_a_crash_called_from_a_cell_takes_effect_before_it_returns():
    sim = jobs_world("crash-now", 6)
    done = Counter()
    w = worker(sim, "after", done, max_poll_records=2)
    sim.run(until=sim.now + 0.15)
    sim.crash(w)
    assert w.consumer.crashed and not w.alive
    assert [r.time for r in sim.journal.rows("crashed")] == [pytest.approx(sim.now)]
    sim.restart(w)  # no clock movement needed in between
    assert w.alive


@pytest.mark.parametrize("idempotent, copies", [(False, 2), (True, 1)])
def test_a_lost_acknowledgement_duplicates_a_record_unless_the_producer_is_idempotent(
    idempotent, copies
):
    sim = Simulation(seed=1, name=f"acks-{idempotent}")
    sim.create_topic("payments", partitions=1)
    p = sim.producer(enable_idempotence=idempotent)
    sim.lose_acks(p, 1)
    p.produce("payments", key="acct-1", value="pay 10")
    p.flush()  # waits request.timeout.ms, then sends the batch again
    assert [r.value for r in sim.topic("payments").partitions[0].records()] == [b"pay 10"] * copies
    assert len(sim.journal.rows("retried")) == 1
    assert len(sim.journal.rows("duplicate_dropped")) == (1 if idempotent else 0)


def test_a_member_stopped_cleanly_can_be_started_again_and_picks_up_where_the_group_committed():
    sim = Simulation(seed=4, name="stop-start")
    sim.create_topic("orders", partitions=2)
    producer = sim.producer()
    for i in range(40):
        sim.at(i * 0.1, lambda i=i: producer.produce("orders", key=f"k{i % 4}", value=f"{i}"))
    seen = []
    member = sim.member(
        "billing",
        ["orders"],
        processing_time=0.01,
        commit="after",
        on_record=lambda m: seen.append((m.partition(), m.offset())),
    )
    sim.at(1.0, member.stop)
    sim.run(until=2.0)
    assert not member.alive and len(seen) < 40
    sim.crash(member)  # crashing a stopped member changes nothing
    sim.restart(member)
    sim.run(until=10.0)
    assert member.alive
    logs = sim.topic("orders").partitions
    assert sum(log.log_end_offset for log in logs) == 40
    # every record once: it left cleanly with what it processed committed, so nothing came twice
    assert sorted(seen) == [(log.index, o) for log in logs for o in range(log.log_end_offset)]


def test_an_evicted_members_commit_reaches_the_coordinator_and_is_refused_until_its_next_poll():
    # librdkafka hands the loss of the partitions to the application at the next poll; until then the
    # stored offsets are still there, so the commit goes out and the coordinator refuses it.
    sim = jobs_world("evicted-commit", 5)
    c = sim.consumer(
        {
            "group.id": "g",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": False,
            "max.poll.interval.ms": 1000,
        }
    )
    c.subscribe(["jobs"])
    batch = c.consume(5, timeout=1.0)
    assert len(batch) == 5
    sim.run(until=sim.now + 2.0)  # evicted meanwhile
    with pytest.raises(KafkaException) as err:
        c.commit(asynchronous=False)
    assert err.value.args[0].code() == KafkaError.UNKNOWN_MEMBER_ID
    refused = sim.journal.rows("commit_failed")
    assert len(refused) == 1 and refused[0].offset == 5 and "not a member" in refused[0].detail
    assert (
        c.poll(1.0).error().code() == KafkaError._MAX_POLL_EXCEEDED
    )  # the next poll reports the loss
    with pytest.raises(KafkaException) as err:
        c.commit(asynchronous=False)
    assert err.value.args[0].code() == KafkaError._NO_OFFSET  # now nothing is stored any more
    assert sim.group("g").committed.get(("jobs", 0)) is None  # nothing moved the group


def test_a_member_evicted_mid_batch_leaves_a_commit_failed_row_and_its_batch_comes_again():
    sim = jobs_world("evicted-member", 10)
    seen = []
    sim.member(
        "g",
        ["jobs"],
        processing_time=0.3,
        max_poll_records=10,
        commit="after",
        on_record=lambda m: seen.append(m.offset()),
        config={"max.poll.interval.ms": 2000, "auto.offset.reset": "earliest"},
    )
    sim.run(until=6.5)
    kinds = [
        r.kind
        for r in sim.journal.rows()
        if r.kind in ("evicted", "processed", "commit_failed", "joined")
    ]
    assert kinds[:5] == ["joined", "evicted", "processed", "commit_failed", "joined"]
    assert (
        seen[:20] == list(range(10)) * 2
    )  # nothing was committed, so the new member starts at 0 again
