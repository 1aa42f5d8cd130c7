"""The flow diagram's brokers (``flow_graph(..., brokers=True)``): who leads what, replayed at a time."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from eda_sim import Simulation
from eda_sim.core.replay import state_at
from eda_sim.views.flow import flow_graph, flow_layout

FENCE = 9.0  # broker.session.timeout.ms: the controller moves a crashed broker's leaders after it


def cluster(partitions=3, rf=3, **broker_config):
    sim = Simulation(seed=3, brokers=3, broker_config=broker_config)
    sim.create_topic("payments", partitions=partitions, replication_factor=rf)
    return sim


def brokers(g) -> dict:
    return {
        d["name"]: (d["down"], d["leads"], d["replicas"])
        for _n, d in g.nodes(data=True)
        if d["kind"] == "broker"
    }


def leads(g) -> dict:
    return {(a, b): d["leads"] for a, b, d in g.edges(data=True) if "leads" in d}


def test_each_broker_leads_the_partitions_placed_first_on_it():
    sim = cluster()
    g = flow_graph(sim, brokers=True)
    # round-robin placement: partition p's replicas start at broker p, which leads it
    assert brokers(g) == {f"broker-{b}": (False, 1, 3) for b in range(3)}
    assert leads(g) == {(f"broker:{b}", "topic:payments"): 1 for b in range(3)}


def test_a_crashed_leader_keeps_its_partition_until_fenced_then_it_moves():
    sim = cluster()
    sim.crash_broker(0, at=1.0)
    sim.restart_broker(0, at=20.0)
    sim.run(25.0)
    before = flow_graph(sim, time=0.5, brokers=True)
    crashed = flow_graph(sim, time=5.0, brokers=True)
    fenced = flow_graph(sim, time=15.0, brokers=True)
    back = flow_graph(sim, time=25.0, brokers=True)
    assert brokers(before)["broker-0"] == (False, 1, 3)
    assert brokers(crashed)["broker-0"] == (True, 1, 3)  # the controller has not noticed yet
    assert brokers(fenced)["broker-0"] == (True, 0, 3)
    assert sum(d[1] for d in brokers(fenced).values()) == 3  # every partition still has a leader
    assert ("broker:0", "topic:payments") not in leads(fenced)
    # it comes back as a follower (preferred-leader rebalance is minutes away)
    assert brokers(back)["broker-0"] == (False, 0, 3)
    # the replay agrees with the cluster itself
    parts = sim.topic("payments").partitions
    assert {p.index: p.leader for p in parts} == {
        p: state_at(sim).leader[("payments", p)] for p in range(3)
    }


def test_an_offline_partition_is_led_by_no_one():
    sim = cluster(partitions=1, rf=2)
    sim.crash_broker(1, at=1.0)  # the follower: the ISR shrinks to the leader
    sim.crash_broker(0, at=12.0)  # then the last in-sync replica: no clean leader is left
    sim.run(30.0)
    g = flow_graph(sim, brokers=True)
    assert g.nodes["topic:payments"]["offline"] == 1
    assert brokers(g) == {
        "broker-0": (True, 0, 1),
        "broker-1": (True, 0, 1),
        "broker-2": (False, 0, 0),
    }
    assert leads(g) == {}


def test_added_partitions_are_placed_and_led_too():
    sim = cluster(partitions=1, rf=2)
    sim.add_partitions("payments", 3)
    g = flow_graph(sim, brokers=True)
    assert sum(d[1] for d in brokers(g).values()) == 3
    assert sum(d[2] for d in brokers(g).values()) == 6
    assert sorted(state_at(sim).replicas) == [("payments", p) for p in range(3)]


def test_off_by_default_and_the_rest_of_the_graph_is_the_same():
    sim = cluster()
    sim.crash_broker(2, at=1.0)
    sim.run(12.0)
    plain, full = flow_graph(sim), flow_graph(sim, brokers=True)
    assert not [n for n in plain if n.startswith("broker:")]
    rest = full.subgraph(n for n in full if not n.startswith("broker:"))
    assert dict(rest.nodes(data=True)) == dict(plain.nodes(data=True))
    assert set(rest.edges) == set(plain.edges)


def test_one_broker_without_a_cluster_leads_everything():
    sim = Simulation(seed=1)
    sim.create_topic("a", partitions=2)
    sim.create_topic("b", partitions=3)
    g = flow_graph(sim, brokers=True)
    assert brokers(g) == {"broker-0": (False, 5, 5)}
    assert leads(g) == {("broker:0", "topic:a"): 2, ("broker:0", "topic:b"): 3}


def test_brokers_sit_on_a_row_below_and_move_nothing_else():
    sim = cluster()
    sim.producer().produce("payments", value=b"x")
    sim.run(1.0)
    plain = flow_layout(flow_graph(sim))
    full = flow_layout(flow_graph(sim, brokers=True))
    assert {n: p for n, p in full.items() if not n.startswith("broker:")} == plain
    row = [full[f"broker:{b}"] for b in range(3)]
    assert len({y for _x, y in row}) == 1
    assert row[0][1] < min(y for _x, y in plain.values())
    assert [x for x, _y in row] == sorted(x for x, _y in row)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(st.floats(0.5, 60.0), st.sampled_from(["crash", "restart"]), st.integers(0, 2)),
        max_size=6,
    ),
    st.booleans(),
)
def test_replayed_leaders_and_brokers_match_the_cluster(steps, unclean):
    """Whatever fails and comes back, the replay ends where the cluster is."""
    sim = cluster(partitions=3, rf=2, **{"unclean.leader.election.enable": unclean})
    for at, action, b in steps:
        (sim.crash_broker if action == "crash" else sim.restart_broker)(b, at=at)
    sim.run(80.0)
    s = state_at(sim)
    assert s.brokers_down == {n.id for n in sim.cluster.nodes if not n.alive}
    for part in sim.topic("payments").partitions:
        tp = ("payments", part.index)
        assert s.replicas[tp] == tuple(part.assignment)
        assert s.leader[tp] == part.leader
        assert (tp in s.offline) == (part.leader < 0)
    g = flow_graph(sim, brokers=True)
    led = sum(1 for p in sim.topic("payments").partitions if p.leader >= 0)
    assert sum(d[1] for d in brokers(g).values()) == led


def test_the_picture_draws_brokers_and_who_leads():
    from eda_sim.views import draw_flow

    sim = cluster()
    sim.crash_broker(1, at=1.0)
    sim.run(12.0)
    fig = draw_flow(sim, time=11.0, brokers=True)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert {"broker-0", "broker-1", "broker-2", "DOWN"} <= set(texts)
    assert texts.count("leads 2") + texts.count("leads 1") == 2  # broker 1's partition moved
    assert "3 replicas · leads 0" in texts
