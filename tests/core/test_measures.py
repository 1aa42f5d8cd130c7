"""One lag everywhere: the table, the charts, the flow diagram, the alerts and the autoscaler agree.

The case that split them before: retention deletes records past a slow group's
committed offset. Kafka reports ``log_end - committed`` (kafka-consumer-groups),
and so does every view here.
"""

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eda_sim import Member, Simulation
from eda_sim.core.measures import group_lag, lag
from eda_sim.services.load import Feed
from eda_sim.services.metrics import metrics
from eda_sim.views.charts import core_metrics
from eda_sim.views.flow import flow_graph


def test_lag_is_log_end_minus_committed_even_below_the_log_start():
    assert lag(0, 10, 4) == 6
    assert lag(7, 10, 4) == 6  # committed fell below the log start: Kafka still reports 10 - 4
    assert lag(3, 10, None) == 7  # nothing committed: the retained backlog is ahead
    assert lag(0, 10, 12) == 0  # never negative


def _everywhere(sim, group, topic):
    """The group's lag as each place in the course shows or acts on it, now."""
    table = sim.offsets(group)["lag"].sum()
    chart = metrics(sim, bucket=0.25)[f"lag_{group}"].iloc[-1]
    core = core_metrics(sim, bucket=0.25)[f"lag_{group}"].iloc[-1]
    diagram = flow_graph(sim).nodes[f"group:{group}"]["lag"]
    autoscaler = group_lag(sim, group, [topic])
    return {
        "table": table,
        "chart": chart,
        "core": core,
        "diagram": diagram,
        "autoscaler": autoscaler,
    }


def retention_world(until):
    sim = Simulation(seed=3)
    sim.create_topic("clicks", partitions=1, config={"retention.ms": 300, "segment.ms": 100})
    Feed(sim, "clicks", ((f"k{i % 7}", f"v{i}") for i in range(2000)), rate=500)
    Member(sim, "slow", ["clicks"], processing_time=0.004, max_poll_records=50)
    sim.run(until=until)
    sim.broker.enforce_retention()  # the broker checks every 5 minutes; check now
    return sim


@pytest.mark.parametrize("t", [1.25, 1.75])
def test_the_retention_case_shows_one_figure_everywhere(t):
    sim = retention_world(t)
    log = sim.topic("clicks").partitions[0]
    committed = sim.group("slow").committed[("clicks", 0)]
    assert committed < log.log_start_offset, "the case needs retention past the committed offset"
    seen = _everywhere(sim, "slow", "clicks")
    assert set(seen.values()) == {log.log_end_offset - committed}, seen


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    partitions=st.integers(1, 4),
    rate=st.sampled_from([50, 200, 800]),
    processing=st.sampled_from([0.0005, 0.002, 0.01]),
    retention=st.sampled_from([None, 200, 600]),
    members=st.integers(1, 3),
    ticks=st.integers(2, 8),
)
def test_every_view_agrees_on_lag_in_random_worlds(
    seed, partitions, rate, processing, retention, members, ticks
):
    sim = Simulation(seed=seed)
    config = {} if retention is None else {"retention.ms": retention, "segment.ms": 100}
    sim.create_topic("t", partitions=partitions, config=config)
    Feed(sim, "t", ((f"k{i % 11}", "v") for i in range(rate * 3)), rate=rate)
    for i in range(members):
        Member(sim, "g", ["t"], name=f"m{i}", processing_time=processing, max_poll_records=20)
    sim.run(until=ticks * 0.25)
    sim.broker.enforce_retention()
    seen = _everywhere(sim, "g", "t")
    assert len(set(seen.values())) == 1, seen


def test_lag_on_a_transactional_topic_as_each_tool_reports_it():
    """kafka-consumer-groups counts to the high watermark; librdkafka's read_committed consumer_lag to the LSO."""
    from eda_sim import Simulation
    from eda_sim.core.measures import group_lag, readable_end

    sim = Simulation(seed=1, name="lag-txn")
    sim.create_topic("out", partitions=1)
    p = sim.producer({"transactional.id": "t"})
    p.init_transactions()
    p.begin_transaction()
    p.produce("out", value="done")
    p.commit_transaction()  # offset 0 the record, 1 the commit marker
    p.begin_transaction()
    p.produce("out", value="open")
    p.flush()  # offset 2, in an open transaction
    reader = sim.consumer({"group.id": "g", "auto.offset.reset": "earliest"})
    reader.subscribe(["out"])
    assert [m.value() for m in reader.consume(10, 0.5)] == [b"done"]
    reader.commit(asynchronous=False)  # the position: 2, past the marker, at the LSO
    assert readable_end(sim, "out", 0, "read_committed") == 2
    assert readable_end(sim, "out", 0) == 3
    assert group_lag(sim, "g", ["out"]) == 1  # the open record counts for kafka-consumer-groups
    assert group_lag(sim, "g", ["out"], isolation_level="read_committed") == 0
