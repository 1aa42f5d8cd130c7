"""Views: the models (graph, tables) read the journal right, and every renderer draws, headless and deterministic."""

import io
import json

import matplotlib

matplotlib.use("Agg")

import pandas as pd  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from eda_sim import Simulation, views  # noqa: E402
from eda_sim.services.load import Feed  # noqa: E402
from eda_sim.testing.worlds import SHORT_SESSIONS  # noqa: E402

# -- worlds -------------------------------------------------------------------------------------


def pipeline(seed: int = 1, n: int = 100, dlt: bool = False) -> Simulation:
    """A Feed (client.id 'web') into 'clicks'; group 'counter' reads it; 'enricher' reads it and writes 'enriched'.

    'enricher' is a service by the convention: its producer's client.id equals its group id.
    """
    sim = Simulation(seed=seed, name="views-pipeline")
    sim.create_topic("clicks", partitions=3)
    sim.create_topic("enriched", partitions=2)
    if dlt:
        sim.create_topic("clicks.DLT", partitions=1)
    Feed(
        sim,
        "clicks",
        ((f"user-{i % 10}", f"click {i}") for i in range(n)),
        rate=50,
        config={"client.id": "web"},
    )
    cfg = {"auto.offset.reset": "earliest"}
    sim.member("counter", ["clicks"], processing_time=0.001, config=cfg)
    out = sim.producer({"client.id": "enricher"})

    def enrich(msg):
        bad = dlt and msg.offset() % 10 == 3
        out.produce(
            "clicks.DLT" if bad else "enriched", key=msg.key(), value=msg.value() + b" +geo"
        )

    sim.member("enricher", ["clicks"], processing_time=0.001, config=cfg, on_record=enrich)
    sim.run(until=n / 50 + 1)
    return sim


def crash_world(seed: int = 3, until: float = 12.0) -> Simulation:
    """Two members share 'orders'; 'a' crashes at 4 s (session.timeout.ms = 2 s) and restarts at 9 s."""
    sim = Simulation(seed=seed, name="views-crash", broker_config=SHORT_SESSIONS)
    sim.create_topic("orders", partitions=3)
    Feed(sim, "orders", ((f"user-{i % 23}", f"order {i}") for i in range(1000)), rate=50)
    cfg = {"session.timeout.ms": 2000, "auto.offset.reset": "earliest"}
    a = sim.member("billing", ["orders"], processing_time=0.015, config=cfg, name="a")
    sim.member("billing", ["orders"], processing_time=0.015, config=cfg, name="b")
    sim.crash(a, at=4.0)
    sim.restart(a, at=9.0)
    sim.run(until=until)
    return sim


def ordering_world(per_user_keys: bool, seed: int = 5, n: int = 60, users: int = 4) -> Simulation:
    """Numbered events per user (JSON 'user', 'seq'), keyed by user or at random; a slow reader falls behind."""
    sim = Simulation(seed=seed, name="views-order")
    sim.create_topic("clicks", partitions=3)
    rng = sim.random

    def items():
        for i in range(n):
            user = f"user-{i % users}"
            key = user if per_user_keys else f"r{rng.randrange(10**6)}"
            yield key, json.dumps({"user": user, "seq": i // users})

    Feed(sim, "clicks", items(), rate=40)
    sim.member(
        "reader",
        ["clicks"],
        processing_time=0.05,
        max_poll_records=5,
        config={"auto.offset.reset": "earliest"},
    )
    sim.run(until=n / 40 + 3)
    return sim


def png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()


# -- flow diagram -------------------------------------------------------------------------------


def test_flow_graph_nodes_edges_and_counts():
    sim = pipeline()
    g = views.flow_graph(sim)
    assert sorted(g.nodes) == [
        "group:counter",
        "producer:web",
        "service:enricher",
        "topic:clicks",
        "topic:enriched",
    ]
    assert {n: d["kind"] for n, d in g.nodes(data=True)} == {
        "producer:web": "producer",
        "topic:clicks": "topic",
        "group:counter": "group",
        "service:enricher": "service",
        "topic:enriched": "topic",
    }
    events = {(a, b): d["events"] for a, b, d in g.edges(data=True)}
    assert events == {
        ("producer:web", "topic:clicks"): 100,
        ("topic:clicks", "group:counter"): 100,
        ("topic:clicks", "service:enricher"): 100,
        ("service:enricher", "topic:enriched"): 100,
    }
    assert g.nodes["topic:clicks"]["events"] == 100 and g.nodes["topic:clicks"]["partitions"] == 3
    assert (
        g.nodes["service:enricher"]["delivered"] == 100
        and g.nodes["service:enricher"]["produced"] == 100
    )
    assert not any(d["down"] or d["lagging"] or d["dead_lettering"] for _n, d in g.nodes(data=True))


def test_flow_layout_is_layered_by_the_flow():
    pos = views.flow_layout(views.flow_graph(pipeline()))
    layer = {n: x for n, (x, _y) in pos.items()}
    assert layer == {
        "producer:web": 0,
        "topic:clicks": 1,
        "group:counter": 2,
        "service:enricher": 2,
        "topic:enriched": 3,
    }
    assert pos["group:counter"][1] != pos["service:enricher"][1]


def test_flow_layout_breaks_cycles_and_keeps_positions_when_nodes_are_added():
    sim = Simulation(seed=1, name="views-cycle")
    for t in ("a", "b"):
        sim.create_topic(t)
    p = sim.producer({"client.id": "svc"})
    p.produce("a", value="x")
    p.flush()
    sim.member(
        "svc",
        ["a"],
        processing_time=0.001,
        config={"auto.offset.reset": "earliest"},
        on_record=lambda m: p.produce("b", value=m.value()),
    )
    sim.member("back", ["b"], processing_time=0.001, config={"auto.offset.reset": "earliest"})
    sim.run(until=2)
    g = views.flow_graph(sim)
    pos = views.flow_layout(g)
    assert set(pos) == set(g.nodes)
    assert pos == views.flow_layout(g.copy())
    sim2 = pipeline()
    before = views.flow_layout(views.flow_graph(sim2))
    sim2.member("archive", ["enriched"], config={"auto.offset.reset": "earliest"})
    sim2.run(until=sim2.now + 1)
    after = views.flow_layout(views.flow_graph(sim2))
    assert after["group:archive"][0] == 4
    assert {n: after[n] for n in before} == before  # a new reader downstream moves nobody


def test_flow_graph_at_an_earlier_time_counts_only_what_had_happened():
    sim = pipeline()
    early = views.flow_graph(sim, time=0.5)
    appended = sum(
        r.count for r in sim.journal.rows("appended") if r.time <= 0.5 and r.topic == "clicks"
    )
    assert 0 < early.nodes["topic:clicks"]["events"] == appended < 100


def test_flow_flags_down_lagging_and_dead_lettering():
    sim = pipeline(dlt=True)
    g = views.flow_graph(sim)
    assert g.nodes["service:enricher"]["dead_lettering"] and g.nodes["topic:clicks.DLT"]["dlt"]
    assert g.edges["service:enricher", "topic:clicks.DLT"]["events"] == 10
    assert not g.nodes["group:counter"]["down"]
    sim.crash(sim.members["counter-member-1"])
    Feed(
        sim, "clicks", ((None, "more") for _ in range(300)), rate=300, config={"client.id": "web2"}
    )
    sim.run(until=sim.now + 2)
    g = views.flow_graph(sim, lag_threshold=100)
    counter = g.nodes["group:counter"]
    assert counter["down"] and counter["crashed"] == 1 and counter["members"] == 0
    assert counter["lag"] >= 300 and counter["lagging"]
    assert not g.nodes["service:enricher"]["lagging"]


def test_flow_declares_the_whole_service_graph_before_events_flow():
    from eda_sim.services.load import Source
    from eda_sim.services.service import Service

    sim = Simulation(seed=1, name="views-declared")
    sim.create_topic("views", partitions=2)
    sim.create_topic("recs", partitions=2)
    Source(sim, "frontend", "views", [{"time": 1.0, "type": "Viewed", "user": "u1"}], key="user")
    Service(
        sim,
        "recommender",
        consumes=["views"],
        handlers={"Viewed": lambda e, ctx: None},
        produces={"recs": ["Recommended"]},
    )
    g = views.flow_graph(sim)  # nothing has run yet
    assert {(a, b): d["declared"] for a, b, d in g.edges(data=True)} == {
        ("producer:frontend", "topic:views"): True,
        ("topic:views", "service:recommender"): True,
        ("service:recommender", "topic:recs"): True,
    }
    assert {n: x for n, (x, _y) in views.flow_layout(g).items()} == {
        "producer:frontend": 0,
        "topic:views": 1,
        "service:recommender": 2,
        "topic:recs": 3,
    }


def test_the_course_ai_flow_is_laid_out_by_the_flow():
    from eda_sim.course.nb00 import world as course

    sim = course.ai_flow(seed=1, until=3.0, crash=("model-monitor", 1.0))
    g = views.flow_graph(sim)
    kinds = {d["name"]: d["kind"] for _n, d in g.nodes(data=True)}
    assert {s: kinds[s] for s in course.SERVICES} == {s: "service" for s in course.SERVICES}
    assert {t for t, k in kinds.items() if k == "topic"} == set(course.TOPICS)
    layer = {d["name"]: views.flow_layout(g)[n][0] for n, d in g.nodes(data=True)}
    assert [
        layer[n]
        for n in (
            "uploader",
            "raw-data",
            "feature-service",
            "feature-updates",
            "realtime-inference",
            "inference-results",
            "model-monitor",
            "model-alerts",
        )
    ] == list(range(8))
    assert layer["frontend"] == 0 and layer["inference-requests"] == 1
    assert g.nodes["service:model-monitor"]["down"]
    assert repr(views.draw_flow(sim)) == "<Figure size 1000x500 with 1 Axes>"


# -- partition board ----------------------------------------------------------------------------


def test_board_now_matches_the_live_offsets():
    sim = crash_world()
    live = sim.offsets(topic="orders").drop(columns="topic")
    mine = views.board(sim, "orders").drop(columns="crashed")
    pd.testing.assert_frame_equal(
        mine[list(live.columns)].reset_index(drop=True),
        live.reset_index(drop=True),
        check_dtype=False,
    )


@pytest.mark.parametrize("t", [2.5123, 4.5123, 7.0123, 9.5123])
def test_board_in_the_past_matches_a_twin_run_to_that_time(t):
    sim = crash_world()
    twin = crash_world(until=t)
    live = twin.offsets(topic="orders").drop(columns="topic")
    past = views.board(sim, "orders", time=t)
    pd.testing.assert_frame_equal(
        past[list(live.columns)].reset_index(drop=True),
        live.reset_index(drop=True),
        check_dtype=False,
    )


def test_board_shows_ownership_and_lag_through_crash_and_rebalance():
    sim = crash_world()
    owners = {t: list(views.board(sim, "orders", time=t)["owner"]) for t in (3.0, 5.0, 7.0, 11.0)}
    assert owners[3.0] == ["a-1", "a-1", "b-1"]  # range assignor: a-1 p0-p1, b-1 p2
    assert owners[5.0] == [
        "a-1",
        "a-1",
        "b-1",
    ]  # a-1 crashed at 4 s but owns until the session times out
    assert owners[7.0] == ["b-1", "b-1", "b-1"]  # expired at 6 s: b-1 took everything
    assert owners[11.0] == ["a-2", "a-2", "b-1"]  # restarted at 9 s as a new member
    at5 = views.board(sim, "orders", time=5.0)
    assert list(at5["crashed"]) == [True, True, False]
    stuck = at5[at5["owner"] == "a-1"]
    assert (stuck["lag"] > 0).all()  # the crashed member's partitions fall behind
    assert (
        views.board(sim, "orders", time=5.0)["log_end"] <= views.board(sim, "orders")["log_end"]
    ).all()


def _strip_colours(fig: Figure) -> dict:
    """Partition -> face colour of its retained-log strip (the filled rectangle starting at log start)."""
    out = {}
    for patch in fig.axes[0].patches:
        if (
            isinstance(patch, Rectangle)
            and patch.get_fill()
            and patch.get_hatch() in (None, "", "xx")
        ):
            y = round(patch.get_y() + patch.get_height() / 2)
            out.setdefault(y, patch.get_facecolor()[:3])
    return out


def test_board_rebalance_shows_as_a_change_of_colour():
    sim = crash_world()
    before = _strip_colours(views.draw_board(sim, "orders", time=3.0))
    after = _strip_colours(views.draw_board(sim, "orders", time=7.0))
    assert (
        before[0] != after[0] and before[2] == after[2]
    )  # p0 moved from a-1 to b-1; p2 stayed with b-1
    assert after[0] == after[1] == after[2]


# -- per-key timeline ------------------------------------------------------------------------------


def test_random_keys_break_per_user_order_and_user_keys_keep_it():
    shuffled = views.key_timeline(
        ordering_world(False), "clicks", key_field="user", order_field="seq"
    )
    kept = views.key_timeline(ordering_world(True), "clicks", key_field="user", order_field="seq")
    assert len(shuffled) == len(kept) == 60
    pairs = views.out_of_order_pairs(shuffled)
    assert len(pairs) > 0 and (pairs["first_seq"] > pairs["second_seq"]).all()
    assert (pairs["first_delivered"] <= pairs["second_delivered"]).all()
    assert views.out_of_order_pairs(kept).empty
    assert kept.groupby("key")["partition"].nunique().max() == 1  # one user, one partition


def test_key_timeline_defaults_to_record_keys_and_produce_order():
    sim = ordering_world(True)
    frame = views.key_timeline(sim, "clicks", keys=["user-1"])
    assert set(frame["key"]) == {"user-1"} and len(frame) == 15
    assert list(frame["seq"]) == sorted(frame["seq"]) and frame["delivered"].notna().all()
    assert (frame["delivered"] >= frame["produced"]).all()


def test_out_of_order_pairs_by_hand():
    frame = pd.DataFrame(
        {
            "key": ["k"] * 4,
            "partition": [0, 1, 0, 1],
            "offset": [0, 0, 1, 1],
            "produced": [0.0, 0.1, 0.2, 0.3],
            "seq": [1, 2, 3, 4],
            "delivered": [1.0, 3.0, 2.0, 4.0],
            "delivery": [0, 2, 1, 3],
            "member": ["m"] * 4,
        }
    )
    pairs = views.out_of_order_pairs(frame)
    assert pairs[["first_seq", "second_seq"]].values.tolist() == [[3, 2]]


# -- metrics ---------------------------------------------------------------------------------------


def test_core_metrics_counts_and_lag():
    sim = crash_world()
    m = views.core_metrics(sim, bucket=1.0)
    assert list(m.columns) == ["throughput", "delivered", "lag_billing"]
    assert list(m.index) == [float(i) for i in range(12)] and m.index.name == "time"
    assert m["throughput"].sum() == pytest.approx(
        sim.broker.appended_total
    )  # 1 s buckets: rate = count
    assert m["delivered"].sum() == sum(r.count for r in sim.journal.rows("delivered"))
    assert (
        m.loc[5.0, "lag_billing"] > 10 * m.loc[2.0, "lag_billing"]
    )  # a crashed owner: lag builds up
    assert m["lag_billing"].iloc[-1] == views.flow_graph(sim).nodes["group:billing"]["lag"]


def test_core_metrics_lag_agrees_with_the_service_metrics():
    metrics = pytest.importorskip("eda_sim.services.metrics")
    sim = crash_world()
    pd.testing.assert_series_equal(
        views.core_metrics(sim, 0.5)["lag_billing"],
        metrics.metrics(sim, 0.5)["lag_billing"],
        check_names=False,
    )


def test_draw_metrics_panels_families_and_thresholds():
    frame = pd.DataFrame(
        {
            "throughput": [1.0, 2.0],
            "latency_p50": [0.1, 0.2],
            "latency_p99": [0.3, 0.9],
            "lag_a": [0.0, 5.0],
            "lag_b": [1.0, 2.0],
            "error_rate": [0.0, 0.1],
        },
        index=pd.Index([0.0, 1.0], name="time"),
    )
    fig = views.draw_metrics(frame, thresholds={"latency_p99": 0.5, "lag": 3})
    assert len(fig.axes) == 4  # throughput, latency (p50+p99), lag (a+b), error_rate
    labels = [a.get_ylabel() for a in fig.axes]
    assert labels == [
        "throughput\n(events/s)",
        "latency\n(virtual s)",
        "lag\n(records)",
        "error_rate\n(errors per event)",
    ]
    dashed = [line for line in fig.axes[2].lines if line.get_linestyle() == "--"]
    assert [line.get_ydata()[0] for line in dashed] == [3]


# -- every renderer, any size, deterministic -------------------------------------------------------


def empty_world() -> Simulation:
    sim = Simulation(seed=1, name="views-empty")
    sim.create_topic("t", partitions=2)
    return sim


def one_event_world() -> Simulation:
    sim = empty_world()
    p = sim.producer()
    p.produce("t", key="k", value=json.dumps({"seq": 1}))
    p.flush()
    sim.member("g", ["t"], config={"auto.offset.reset": "earliest"})
    sim.run(until=sim.now + 1)
    return sim


def big_world(n: int = 10_000) -> Simulation:
    sim = Simulation(seed=1, name="views-big")
    sim.create_topic("t", partitions=4)
    Feed(sim, "t", ((f"k{i % 50}", json.dumps({"seq": i})) for i in range(n)), rate=5000)
    sim.member("g", ["t"], processing_time=0.0001, config={"auto.offset.reset": "earliest"})
    sim.run(until=n / 5000 + 1)
    return sim


RENDERERS = {
    "flow": lambda sim: views.draw_flow(sim),
    "board": lambda sim: views.draw_board(sim, "t"),
    "timeline": lambda sim: views.draw_timeline(sim, "t"),
    "metrics": lambda sim: views.draw_core_metrics(sim),
}


@pytest.fixture(scope="module")
def worlds():
    return {"empty": empty_world(), "one": one_event_world(), "big": big_world()}


@pytest.mark.parametrize("world", ["empty", "one", "big"])
@pytest.mark.parametrize("view", sorted(RENDERERS))
def test_every_renderer_draws_any_world(worlds, world, view):
    fig = RENDERERS[view](worlds[world])
    assert isinstance(fig, Figure) and fig.dpi == views.DPI
    assert png(fig).startswith(b"\x89PNG")


def test_big_world_really_has_ten_thousand_events(worlds):
    assert worlds["big"].broker.appended_total == 10_000
    assert views.board(worlds["big"], "t")["lag"].sum() == 0


def test_figure_sizes_are_fixed_by_the_library(worlds):
    assert repr(views.draw_flow(worlds["one"])) == "<Figure size 1000x500 with 1 Axes>"
    assert views.draw_board(worlds["one"], "t").get_size_inches()[0] == 10.0


def test_renderers_draw_into_a_given_axes(worlds):
    fig = Figure()
    ax = fig.add_subplot()
    assert views.draw_board(worlds["one"], "t", ax=ax) is fig
    assert views.draw_flow(worlds["one"], ax=ax) is fig


def test_same_seed_same_pictures():
    a, b = pipeline(seed=4, dlt=True), pipeline(seed=4, dlt=True)
    for draw in (
        lambda s: views.draw_flow(s),
        lambda s: views.draw_board(s, "clicks", group="counter"),
        lambda s: views.draw_timeline(s, "clicks", group="counter"),
        lambda s: views.draw_core_metrics(s, bucket=0.5),
    ):
        assert png(draw(a)) == png(draw(b))


# -- bad input -------------------------------------------------------------------------------------


def test_bad_input_names_what_exists():
    sim = pipeline()
    with pytest.raises(ValueError, match="unknown topic 'nope'; topics are: clicks, enriched"):
        views.board(sim, "nope")
    with pytest.raises(ValueError, match="unknown topic 'nope'; topics are: clicks, enriched"):
        views.draw_timeline(sim, "nope")
    with pytest.raises(ValueError, match="groups reading it: counter, enricher"):
        views.board(sim, "clicks", group="billing")
    with pytest.raises(
        ValueError, match="several groups read 'clicks': counter, enricher; pass group="
    ):
        views.draw_board(sim, "clicks")
    with pytest.raises(
        ValueError, match=r"unknown key\(s\) 'user-99'.*keys are: user-0, user-1, user-2"
    ):
        views.key_timeline(sim, "clicks", keys=["user-99"], group="counter")
    with pytest.raises(ValueError, match="pass group= one of them"):
        views.key_timeline(sim, "clicks")
    with pytest.raises(ValueError, match="no record of 'clicks' has a JSON field 'seq'"):
        views.key_timeline(sim, "clicks", order_field="seq", group="counter")
    with pytest.raises(ValueError, match="outside the simulation's past"):
        views.flow_graph(sim, time=sim.now + 1)
    with pytest.raises(ValueError, match="bucket must be a positive number"):
        views.core_metrics(sim, bucket=0)
    with pytest.raises(
        ValueError, match="thresholds for unknown metric.*'lagg'.*metrics are: throughput"
    ):
        views.draw_metrics(views.core_metrics(sim), thresholds={"lagg": 1})
    with pytest.raises(TypeError, match="expects a DataFrame"):
        views.draw_metrics([1, 2])


def test_board_strips_end_at_their_own_log_end_and_idle_members_get_rows():
    from matplotlib.patches import Rectangle

    from eda_sim.views import board, draw_board

    sim = Simulation(seed=2, name="idle-board")
    sim.create_topic("orders", partitions=2)
    Feed(
        sim, "orders", (("same-key", f"order {i}") for i in range(30)), rate=50
    )  # one partition only
    for n in (1, 2, 3):
        sim.member(
            "billing", ["orders"], name=f"billing-{n}", config={"auto.offset.reset": "earliest"}
        )
    sim.run(until=2.0)
    frame = board(sim, "orders")
    ends = dict(zip(frame["partition"], frame["log_end"]))
    assert sorted(ends.values()) == [0, 30]
    fig = draw_board(sim, "orders")
    outlines = [p for p in fig.axes[0].patches if isinstance(p, Rectangle) and not p.get_fill()]
    assert sorted(p.get_width() for p in outlines) == [0, 30]  # no strip drawn past its own end
    owners = set(frame["owner"]) - {""}
    idle = {"billing-1-1", "billing-2-1", "billing-3-1"} - owners
    assert len(idle) == 1
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert f"{idle.pop()} · idle: no partition" in texts
    legend = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert any(label.endswith("(idle)") for label in legend)
