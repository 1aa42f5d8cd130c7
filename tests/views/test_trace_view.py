"""The trace view: one request's causal tree, drawn with hop timings."""

import pytest

from eda_sim.course.nb00.world import ai_flow
from eda_sim.services.tracing import correlation_ids
from eda_sim.views import draw_trace, trace_graph


@pytest.fixture(scope="module")
def flow():
    return ai_flow(until=8)


def test_the_tree_of_an_upload_is_upload_then_features(flow):
    upload = next(
        c
        for c in correlation_ids(flow)
        if trace_graph(flow, c).nodes[c]["type"] == "RawDataUploaded"
    )
    g = trace_graph(flow, upload)
    child = next(iter(g.successors(upload)))
    assert g.nodes[child]["type"] == "UserFeaturesUpdated" and g.nodes[child]["depth"] == 1
    assert [h[0] for h in g.nodes[upload]["handled_by"]] == ["feature-service"]
    assert g.edges[upload, child]["delay"] > 0


def test_a_broken_hop_is_drawn_failed_and_a_crashed_one_stuck():
    broken = ai_flow(until=5, break_hop="feature-service", name="broken")
    cid = correlation_ids(broken)[0]
    fig = draw_trace(broken, cid)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert any("dead_lettered" in t for t in texts)
    crashed = ai_flow(until=6, crash=("realtime-inference", 2.0), name="crashed")
    cid = correlation_ids(crashed)[-1]
    texts = [t.get_text() for t in draw_trace(crashed, cid).axes[0].texts]
    assert any("waiting at realtime-inference" in t for t in texts) and any(
        "stuck" in t for t in texts
    )


def test_same_seed_same_picture(flow):
    cid = correlation_ids(flow)[3]
    twin = ai_flow(until=8, name="twin")

    def data(fig):
        return [(p.get_x(), p.get_width(), p.get_y()) for p in fig.axes[0].patches]

    assert data(draw_trace(flow, cid)) == data(draw_trace(twin, cid))


def test_unknown_correlation_id_names_some_that_exist(flow):
    with pytest.raises(ValueError, match="evt-"):
        draw_trace(flow, "nope")
