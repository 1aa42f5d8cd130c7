"""Replication: leaders, followers, the ISR, acks and failover (eda_sim.broker.replication)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, find, given, settings
from hypothesis import strategies as st

from eda_sim import Simulation
from eda_sim.core.errors import KafkaError, KafkaException


def cluster(seed=1, unclean=False, **config):
    broker_config = {"unclean.leader.election.enable": unclean}
    return Simulation(seed=seed, name="repl", brokers=3, broker_config=broker_config)


def payments(sim, min_isr=1, rf=3):
    sim.create_topic(
        "payments", partitions=1, replication_factor=rf, config={"min.insync.replicas": min_isr}
    )
    return sim.topic("payments").partitions[0]


class Ledger:
    """What a producer was told: values acknowledged and values whose delivery failed (with the error)."""

    def __init__(self):
        self.acked, self.failed = [], []

    def __call__(self, err, msg):
        if err is None:
            self.acked.append(msg.value().decode())
        else:
            self.failed.append((msg.value().decode(), err.name()))


def produce_steadily(sim, producer, ledger, n, every=0.05, start=0.0):
    for i in range(n):
        sim.at(start + i * every, producer.produce, "payments", f"pay-{i}", None, -1, ledger)


def held(part):
    return [r.value.decode() for r in part.records()]


def settle(sim, producer):
    producer.flush(600)
    for node in sim.cluster.nodes:
        if not node.alive:
            sim.restart_broker(node.id)
        if node.cut:
            sim.heal_broker(node.id)
        if node.slow:
            sim.slow_broker(node.id, 0)
    sim.run(sim.now + 35)


# -- the cluster's shape ----------------------------------------------------------------


def test_replicas_are_placed_on_different_brokers_and_the_first_leads():
    sim = cluster()
    sim.create_topic("payments", partitions=3, replication_factor=3)
    frame = sim.cluster.describe("payments")
    for _p, rows in frame.groupby("partition"):
        assert sorted(rows.broker) == [0, 1, 2]
    leaders = frame[frame.role == "leader"].sort_values("partition").broker.tolist()
    assert leaders == [0, 1, 2]  # round-robin: each broker leads one partition


def test_replication_factor_above_the_brokers_is_refused_with_the_count():
    sim = cluster()
    with pytest.raises(KafkaException) as info:
        sim.create_topic("payments", replication_factor=4)
    assert info.value.error.name() == "INVALID_REPLICATION_FACTOR"
    assert "3 live broker" in str(info.value)
    one = Simulation(seed=1, name="one")
    with pytest.raises(KafkaException, match="brokers=3"):
        one.create_topic("payments", replication_factor=3)


def test_one_broker_builds_no_cluster_and_keeps_plain_logs():
    sim = Simulation(seed=1, name="one")
    sim.create_topic("payments")
    assert sim.cluster is None
    assert type(sim.topic("payments").partitions[0]).__name__ == "PartitionLog"
    with pytest.raises(RuntimeError, match="brokers=3"):
        sim.crash_broker(0)


def test_followers_copy_the_leader_and_the_high_watermark_follows_the_slowest_in_sync_replica():
    sim = cluster()
    part = payments(sim)
    sim.slow_broker(2, 0.2)
    p = sim.producer(acks="1")
    for i in range(5):
        p.produce("payments", f"pay-{i}")
    p.flush()
    assert part.leader_log_end_offset == 5
    assert part.high_watermark < 5  # broker 2 has not fetched yet: consumers cannot see them
    sim.run(sim.now + 1)
    assert part.high_watermark == 5
    frame = sim.cluster.describe("payments")
    assert frame.log_end.tolist() == [5, 5, 5]
    assert frame.high_watermark.tolist() == [5, 5, 5]


def test_consumers_read_only_below_the_high_watermark():
    sim = cluster()
    part = payments(sim)
    sim.cut_broker(2)  # broker 2 follows nothing: until it leaves the ISR the HW cannot pass 0
    p = sim.producer(acks="1")
    for i in range(3):
        p.produce("payments", f"pay-{i}")
    p.flush()
    c = sim.consumer({"group.id": "g", "auto.offset.reset": "earliest"})
    c.subscribe(["payments"])
    assert c.consume(10, 1.0) == []
    assert part.leader_log_end_offset == 3 and part.high_watermark == 0
    sim.run(sim.now + 46)  # past replica.lag.time.max.ms and the next ISR check (every 15 s)
    assert 2 not in part.isr
    got = [m.value().decode() for m in c.consume(10, 1.0)]
    assert got == ["pay-0", "pay-1", "pay-2"]
    assert sim.journal.frame(kind="isr_shrunk").detail.str.contains(r"\[2\]").any()


# -- acks and min.insync.replicas ---------------------------------------------------------


def test_acks_all_with_too_few_in_sync_replicas_is_refused_and_reads_go_on():
    sim = cluster()
    part = payments(sim, min_isr=2)
    p = sim.producer(acks="all", message_timeout_ms=3000)
    ledger = Ledger()
    p.produce("payments", "before", on_delivery=ledger)
    p.flush()
    sim.cut_broker(1)
    sim.cut_broker(2)
    sim.run(sim.now + 46)
    assert part.isr == [0]
    p.produce("payments", "after", on_delivery=ledger)
    p.flush()
    assert ledger.acked == ["before"]
    assert ledger.failed == [
        ("after", "_MSG_TIMED_OUT")
    ]  # retried NOT_ENOUGH_REPLICAS until it timed out
    refused = sim.journal.frame(kind="refused")
    assert refused.detail.str.contains("NOT_ENOUGH_REPLICAS").all() and len(refused) > 1
    c = sim.consumer({"group.id": "g", "auto.offset.reset": "earliest"})
    c.subscribe(["payments"])
    assert [m.value().decode() for m in c.consume(10, 1.0)] == ["before"]


def test_not_enough_replicas_with_no_retries_reports_that_error():
    sim = cluster()
    payments(sim, min_isr=3)
    sim.cut_broker(2)
    sim.run(46)
    p = sim.producer(acks="all", retries=0)
    ledger = Ledger()
    p.produce("payments", "x", on_delivery=ledger)
    p.flush()
    assert ledger.failed == [("x", "NOT_ENOUGH_REPLICAS")]
    assert KafkaError(KafkaError.NOT_ENOUGH_REPLICAS).retriable()


def test_isr_shrinking_after_append_answers_not_enough_replicas_after_append():
    sim = cluster()
    part = payments(sim, min_isr=2)
    sim.cut_broker(1)
    sim.cut_broker(2)  # both followers stop fetching, but are still in the ISR for 30 s
    p = sim.producer(acks="all", retries=0, request_timeout_ms=60000)
    ledger = Ledger()
    p.produce("payments", "x", on_delivery=ledger)
    p.flush()
    assert ledger.failed == [("x", "NOT_ENOUGH_REPLICAS_AFTER_APPEND")]
    assert held(part) == ["x"]  # it was appended: only the answer says it is not safe


def test_acks_all_waits_for_every_in_sync_replica():
    sim = cluster()
    part = payments(sim, min_isr=2)
    sim.slow_broker(2, 0.5)
    p = sim.producer(acks="all")
    ledger = Ledger()
    p.produce("payments", "x", on_delivery=ledger)
    p.flush()
    acked_at = sim.journal.frame(kind="acked").time.iloc[0]
    assert acked_at > 1.0  # two slow fetch round trips of broker 2
    assert part.replicas[2].leo == 1


# -- failover ---------------------------------------------------------------------------------


def failover(acks, min_isr=1, unclean=False, idempotent=False):
    sim = cluster(unclean=unclean)
    part = payments(sim, min_isr=min_isr)
    sim.slow_broker(1, 0.5)
    sim.slow_broker(2, 0.5)
    config = {"acks": acks, "message.timeout.ms": 60000, "enable.idempotence": idempotent}
    p = sim.producer(config)
    ledger = Ledger()
    produce_steadily(sim, p, ledger, 40)
    sim.crash_broker(0, at=1.0)
    sim.run(1.5)
    settle(sim, p)
    return sim, part, ledger


def test_acks_1_loses_acknowledged_records_on_failover_while_lag_reads_0():
    sim, part, ledger = failover("1")
    lost = [v for v in ledger.acked if v not in held(part)]
    assert lost and len(ledger.acked) == 40
    assert sim.journal.frame(kind="truncated").iloc[0]["count"] == len(lost)
    c = sim.consumer({"group.id": "audit", "auto.offset.reset": "earliest"})
    c.subscribe(["payments"])
    seen = []
    while batch := c.consume(100, 1.0):
        seen += [m.value().decode() for m in batch]
    c.commit(asynchronous=False)
    assert set(seen).isdisjoint(lost)
    assert sim.offsets("audit").lag.tolist() == [0]


def test_acks_all_with_min_insync_2_loses_nothing_on_the_same_failover():
    sim, part, ledger = failover("all", min_isr=2)
    assert len(ledger.acked) == 40 and not ledger.failed
    assert set(ledger.acked) <= set(held(part))


def test_idempotent_producer_keeps_order_and_writes_once_across_a_leader_change():
    sim, part, ledger = failover("all", min_isr=2, idempotent=True)
    assert held(part) == [f"pay-{i}" for i in range(40)]
    assert sorted(ledger.acked, key=lambda v: int(v[4:])) == held(part)


def test_without_idempotence_a_retry_after_a_leader_change_can_duplicate():
    sim, part, ledger = failover("all", min_isr=2)
    values = held(part)
    assert len(values) > len(set(values))  # appended by the old leader, replicated, then retried
    assert set(values) == {f"pay-{i}" for i in range(40)}


def test_offline_partition_without_unclean_election_waits_for_an_in_sync_replica():
    sim = cluster()
    part = payments(sim, min_isr=1)
    p = sim.producer(acks="1")
    p.produce("payments", "a")
    p.flush()
    sim.cut_broker(1)
    sim.cut_broker(2)
    sim.run(sim.now + 46)
    p.produce("payments", "only-on-0")
    p.flush()
    sim.crash_broker(0)
    sim.heal_broker(1)
    sim.heal_broker(2)
    sim.run(sim.now + 10)
    assert part.offline
    assert sim.journal.frame(kind="partition_offline").shape[0] == 1
    sim.restart_broker(0)
    sim.run(sim.now + 1)
    assert part.leader == 0 and held(part) == ["a", "only-on-0"]


def test_unclean_election_lets_an_out_of_sync_replica_lead_and_truncates_the_old_leader():
    sim = cluster(unclean=True)
    part = payments(sim, min_isr=1)
    p = sim.producer(acks="1")
    p.produce("payments", "a")
    p.flush()
    sim.run(sim.now + 1)
    sim.cut_broker(1)
    sim.cut_broker(2)
    sim.run(sim.now + 46)
    p.produce("payments", "only-on-0")
    p.flush()
    sim.run(sim.now + 1)
    assert part.high_watermark == 2  # ISR is [0]: committed, and consumers may read it
    sim.crash_broker(0)
    sim.heal_broker(1)
    sim.heal_broker(2)
    sim.run(sim.now + 10)
    elected = sim.journal.frame(kind="leader_elected").iloc[-1]
    assert "unclean" in elected.detail and "1 committed record" in elected.detail
    assert held(part) == ["a"] and part.high_watermark == 1
    sim.restart_broker(0)
    sim.run(sim.now + 1)
    assert sim.journal.frame(kind="truncated").iloc[-1]["count"] == 1
    assert [r.leo for r in part.replicas.values()] == [1, 1, 1]


def test_faults_schedule_checks_its_steps():
    sim = cluster()
    with pytest.raises(ValueError, match="faults are"):
        sim.faults([(1.0, "explode", 0)])
    with pytest.raises(ValueError, match="0..2"):
        sim.faults([(1.0, "crash", 7)])
    with pytest.raises(ValueError, match="only 'slow'"):
        sim.faults([(1.0, "crash", 0, 2.0)])


# -- properties under fault schedules --------------------------------------------------------


@st.composite
def one_down_at_a_time(draw):
    """Crashes and cuts of one broker at a time (each healed before the next), plus slow followers."""
    steps, t = [], 0.2
    for _ in range(draw(st.integers(1, 3))):
        broker = draw(st.integers(0, 2))
        fault = draw(st.sampled_from(["crash", "cut", "slow"]))
        down = draw(st.floats(0.1, 12.0))
        if fault == "slow":
            steps += [
                (t, "slow", broker, draw(st.floats(0.01, 1.0))),
                (t + down, "slow", broker, 0.0),
            ]
        else:
            steps += [
                (t, fault, broker),
                (t + down, "restart" if fault == "crash" else "heal", broker),
            ]
        t += down + draw(st.floats(0.0, 3.0))
    return steps


def run_schedule(steps, acks, min_isr, unclean=False, idempotent=False, watch=None):
    sim = cluster(unclean=unclean)
    part = payments(sim, min_isr=min_isr)
    p = sim.producer({"acks": acks, "message.timeout.ms": 30000, "enable.idempotence": idempotent})
    ledger = Ledger()
    produce_steadily(sim, p, ledger, 60, every=0.1)
    sim.faults(steps)
    if watch is not None:
        sim.env.process(watch(sim, part))
    sim.run(max(s[0] for s in steps) + 10)  # past broker.session.timeout.ms: the controller acts
    settle(sim, p)
    return sim, part, ledger


def watcher(seen):
    """A process checking, every 10 ms, the HW, the epochs and agreement below each replica's HW."""

    def watch(sim, part):
        while True:
            yield sim.env.timeout(0.01)
            seen["hw"].append(part.high_watermark)
            seen["epoch"].append(part.epoch)
            if part.offline:
                continue
            leader = part.replicas[part.leader]
            for rep in part.replicas.values():
                if sim.cluster.nodes[rep.broker].alive:
                    mine = rep.log.records(0, rep.hw)
                    assert [r.value for r in mine] == [
                        r.value for r in leader.log.records(0, rep.hw)
                    ]

    return watch


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(one_down_at_a_time())
def test_acks_all_min_insync_2_clean_elections_never_lose_an_acknowledged_record(steps):
    seen = {"hw": [], "epoch": []}
    sim, part, ledger = run_schedule(steps, "all", 2, watch=watcher(seen))
    assert set(ledger.acked) <= set(held(part))
    assert seen["hw"] == sorted(seen["hw"])  # the HW never goes backwards for a consumer
    assert seen["epoch"] == sorted(seen["epoch"])  # leader epochs only grow
    epochs = sim.journal.frame(kind="leader_elected")["count"].tolist()
    assert epochs == sorted(set(epochs))
    assert not sim.journal.frame(kind="leader_elected").detail.str.contains("unclean").any()


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(one_down_at_a_time())
def test_idempotent_producer_writes_each_record_once_in_order_under_faults(steps):
    sim, part, ledger = run_schedule(steps, "all", 2, idempotent=True)
    values = held(part)
    assert len(values) == len(set(values))
    assert values == sorted(values, key=lambda v: int(v[4:]))
    assert set(ledger.acked) <= set(values)


def loses_acked(acks, min_isr, unclean):
    def lost(steps):
        sim, part, ledger = run_schedule(steps, acks, min_isr, unclean=unclean)
        return bool(set(ledger.acked) - set(held(part)))

    return lost


@st.composite
def leader_crash_with_slow_followers(draw):
    """Followers slowed by up to a second, then the leader crashes and later comes back."""
    crash = draw(st.floats(0.5, 5.0))
    return [
        (0.1, "slow", 1, draw(st.floats(0.0, 1.0))),
        (0.1, "slow", 2, draw(st.floats(0.0, 1.0))),
        (crash, "crash", 0),
        (crash + draw(st.floats(0.1, 15.0)), "restart", 0),
    ]


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(one_down_at_a_time(), leader_crash_with_slow_followers()),
    st.sampled_from(["1", "all"]),
)
def test_a_consumer_never_reads_a_record_that_a_clean_election_takes_back(steps, acks):
    """Even with acks=1: consumers read only below the HW, which every in-sync replica holds."""
    read = []

    def watch(sim, part):
        sim.member(
            "readers",
            ["payments"],
            processing_time=0.0,
            on_record=lambda msg: read.append((msg.offset(), msg.value())),
            config={"auto.offset.reset": "earliest"},
        )
        yield sim.env.timeout(0)

    sim, part, ledger = run_schedule(steps, acks, 1, watch=watch)
    final = {r.offset: r.value for r in part.records()}
    assert read and all(final.get(offset) == value for offset, value in read)


def test_search_finds_acks_1_losing_acknowledged_records_on_failover():
    found = find(
        leader_crash_with_slow_followers(),
        loses_acked("1", 1, False),
        settings=settings(max_examples=200, deadline=None, database=None),
    )
    assert any(step[1] == "crash" for step in found)
    # the same schedule with acks=all and min.insync.replicas=2 loses nothing
    sim, part, ledger = run_schedule(found, "all", 2)
    assert set(ledger.acked) <= set(held(part))


@st.composite
def two_down(draw):
    """Cut both followers (the ISR shrinks to the leader), then crash the leader and heal the followers."""
    cut_at = draw(st.floats(0.2, 2.0))
    crash_at = cut_at + draw(st.floats(46.0, 50.0))
    return [
        (cut_at, "cut", 1),
        (cut_at, "cut", 2),
        (crash_at, "crash", 0),
        (crash_at + 0.01, "heal", 1),
        (crash_at + 0.01, "heal", 2),
    ]


def test_search_finds_unclean_election_losing_records_and_clean_election_refusing_to():
    found = find(
        two_down(),
        loses_acked("1", 1, True),
        settings=settings(max_examples=50, deadline=None, database=None),
    )
    sim, part, ledger = run_schedule(found, "1", 1, unclean=False)
    assert set(ledger.acked) <= set(held(part))  # without unclean election it waited instead


def test_admin_metadata_names_leader_replicas_and_isr_and_follows_a_failover():
    from eda_sim.kafka import AdminClient, NewTopic

    sim = cluster()
    admin = AdminClient({"bootstrap.servers": sim.bootstrap_servers})
    admin.create_topics([NewTopic("payments", 1, replication_factor=3)])["payments"].result()
    meta = admin.list_topics().topics["payments"].partitions[0]
    assert (meta.leader, meta.replicas, meta.isrs) == (0, [0, 1, 2], [0, 1, 2])
    sim.crash_broker(0)
    sim.run(sim.now + 10)
    metadata = admin.list_topics()
    meta = metadata.topics["payments"].partitions[0]
    assert (meta.leader, meta.replicas, meta.isrs) == (1, [0, 1, 2], [1, 2])
    assert sorted(metadata.brokers) == [1, 2]


def test_replica_board_marks_leader_isr_down_and_committed_part():
    from eda_sim.views.replicas import draw_replicas, replica_rows

    sim = cluster()
    payments(sim)
    sim.slow_broker(2, 0.5)
    p = sim.producer(acks="1")
    for i in range(4):
        p.produce("payments", f"pay-{i}")
    p.flush()
    sim.crash_broker(0)
    rows = replica_rows(sim, "payments")
    assert [r["note"] for r in rows] == ["leader, epoch 0, down", "", ""]
    assert rows[0]["committed"] < rows[0]["log_end"]  # broker 2 has not fetched: not committed yet
    sim.run(sim.now + 10)
    rows = replica_rows(sim, "payments")
    assert rows[1]["leader"] and rows[1]["note"] == "leader, epoch 1"
    fig = draw_replicas(sim, "payments")
    assert "replicas at t =" in fig.axes[0].texts[-1].get_text()
    with pytest.raises(ValueError, match="topics are"):
        replica_rows(sim, "nope")


def test_a_follower_behind_the_leaders_retention_starts_over_at_the_log_start():
    sim = cluster()
    sim.create_topic(
        "clicks",
        replication_factor=3,
        config={"retention.ms": 60_000, "segment.ms": 10_000},
    )
    part = sim.topic("clicks").partitions[0]
    sim.cut_broker(2)
    p = sim.producer(acks="1")
    for second in range(0, 200, 5):
        sim.at(float(second), p.produce, "clicks", f"c-{second}")
    sim.run(400)
    assert part.log_start_offset > 0  # retention deleted the oldest segments on the leader
    assert part.replicas[2].leo == 0
    sim.heal_broker(2)
    sim.run(sim.now + 1)
    follower, leader = part.replicas[2], part.replicas[0]
    assert follower.log.log_start_offset == leader.log.log_start_offset
    assert follower.leo == leader.leo
    assert [r.value for r in follower.log.records()] == [r.value for r in leader.log.records()]


def test_idempotent_producer_goes_on_after_an_unclean_election_lost_its_acknowledged_sequences():
    sim = cluster(unclean=True)
    part = payments(sim, min_isr=1)
    p = sim.producer({"enable.idempotence": True, "message.timeout.ms": 20000})
    ledger = Ledger()
    p.produce("payments", "a", on_delivery=ledger)
    p.flush()
    sim.run(sim.now + 1)
    sim.cut_broker(1)
    sim.cut_broker(2)
    sim.run(sim.now + 46)
    p.produce("payments", "only-on-0", on_delivery=ledger)
    p.flush()
    sim.crash_broker(0)
    sim.heal_broker(1)
    sim.heal_broker(2)
    sim.run(sim.now + 10)
    p.produce("payments", "after", on_delivery=ledger)
    p.flush()
    assert ledger.acked == ["a", "only-on-0", "after"] and not ledger.failed
    assert held(part) == ["a", "after"]  # 'only-on-0' went with the unclean election
    reset = sim.journal.frame(kind="sequence_reset")
    assert len(reset) == 1 and "lacks acknowledged sequences 1..1" in reset.detail.iloc[0]


def test_describe_topics_gives_leader_replicas_and_isr_as_nodes():
    from eda_sim.kafka import AdminClient, KafkaException, TopicCollection

    sim = cluster()
    payments(sim)
    admin = AdminClient({"bootstrap.servers": sim.bootstrap_servers})
    sim.crash_broker(1)
    sim.run(10)
    futures = admin.describe_topics(TopicCollection(["payments", "nope"]))
    info = futures["payments"].result().partitions[0]
    assert (info.leader.id, [n.id for n in info.replicas], [n.id for n in info.isr]) == (
        0,
        [0, 1, 2],
        [0, 2],
    )
    with pytest.raises(KafkaException, match="UNKNOWN_TOPIC_OR_PART"):
        futures["nope"].result()
    with pytest.raises(TypeError, match="TopicCollection"):
        admin.describe_topics(["payments"])


def test_leadership_returns_to_the_preferred_replica_at_the_next_imbalance_check():
    sim = cluster()
    part = payments(sim, min_isr=2)
    p = sim.producer({"enable.idempotence": True})
    sim.crash_broker(0, at=1.0)
    sim.restart_broker(0, at=20.0)
    for i in range(0, 400, 2):
        sim.at(float(i), p.produce, "payments", f"pay-{i}")
    sim.run(299)
    assert part.leader == 1 and part.epoch == 1
    sim.run(310)
    assert part.leader == 0 and part.epoch == 2
    assert "preferred replica election" in sim.journal.frame(kind="leader_elected").detail.iloc[-1]
    sim.run(400)
    p.flush()
    assert held(part) == [f"pay-{i}" for i in range(0, 400, 2)]


def test_auto_leader_rebalance_can_be_turned_off():
    sim = Simulation(
        seed=1, name="repl", brokers=3, broker_config={"auto.leader.rebalance.enable": "false"}
    )
    part = payments(sim)
    sim.crash_broker(0, at=1.0)
    sim.restart_broker(0, at=20.0)
    sim.run(700)
    assert part.leader == 1


def test_journal_replay_follows_the_leaders_log_end_through_a_lossy_failover():
    from eda_sim.core.replay import state_at

    sim = cluster()
    part = payments(sim)
    sim.slow_broker(1, 0.5)
    sim.slow_broker(2, 0.5)
    p = sim.producer(acks="1")
    for i in range(10):
        sim.at(i * 0.05, p.produce, "payments", f"pay-{i}")
    sim.crash_broker(0, at=0.6)
    sim.run(0.6)
    before = part.leader_log_end_offset
    sim.run(10)
    after = part.leader_log_end_offset
    assert after < before  # the new leader never had the last records
    assert state_at(sim, 0.6).log_end[("payments", 0)] == before
    assert state_at(sim, 10).log_end[("payments", 0)] == after


def test_flow_diagram_marks_under_replicated_and_offline_topics():
    from eda_sim.views import draw_flow, flow_graph

    sim = cluster()
    payments(sim)
    p = sim.producer(acks="1")
    p.produce("payments", "a")
    p.flush()
    node = flow_graph(sim).nodes["topic:payments"]
    assert (node["replication"], node["under_replicated"], node["offline"]) == (3, 0, 0)
    sim.cut_broker(1)
    sim.cut_broker(2)
    sim.run(46)
    sim.crash_broker(0, at=50)
    sim.run(60)
    assert flow_graph(sim, time=47).nodes["topic:payments"]["under_replicated"] == 1
    assert flow_graph(sim).nodes["topic:payments"]["offline"] == 1
    fig = draw_flow(sim)
    assert any("OFFLINE" in t.get_text() for t in fig.axes[0].texts)
    one = Simulation(seed=1, name="one")
    one.create_topic("clicks")
    assert flow_graph(one).nodes["topic:clicks"]["under_replicated"] == 0
