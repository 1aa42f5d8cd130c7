"""The share-group picture (eda_sim.views.share): one bar per partition, drawn from ShareGroup.frame()."""

from __future__ import annotations

import pytest

from eda_sim.broker.share_group import share_group
from eda_sim.kafka.share_consumer import AcknowledgeType, ShareConsumer
from eda_sim.testing.worlds import filled, topics
from eda_sim.views import draw_share_group


def test_draws_a_bar_per_partition_with_its_start_and_members():
    sim = topics({"t": 2}, seed=1)
    share_group(sim, "g", {"share.auto.offset.reset": "earliest"})
    filled(sim, "t", 12, key=lambda i: f"k{i % 4}")
    config = {"group.id": "g", "share.acknowledgement.mode": "explicit", "max.poll.records": 3}
    cs = [ShareConsumer(config, sim=sim) for _ in range(3)]
    for c in cs:
        c.subscribe(["t"])
        for m, ack in zip(c.poll(0.1), [AcknowledgeType.ACCEPT, AcknowledgeType.REJECT]):
            c.acknowledge(m, ack)
        c.commit_sync()  # sends the acknowledgements; the third record stays acquired
    fig = draw_share_group(sim, "g")
    ax = fig.axes[0]
    texts = [t.get_text() for t in ax.texts]
    frame = sim.share_groups["g"].frame()
    for start, members in zip(frame["start"], frame["members"]):
        assert f"start {start} · {members} member{'' if members == 1 else 's'}" in texts
    assert sorted(t.get_text() for t in ax.get_yticklabels()) == ["t-0", "t-1"]
    assert (
        frame["accepted"].sum() > 0 and frame["rejected"].sum() > 0 and frame["acquired"].sum() > 0
    )
    # five segments per partition; their widths add up to each partition's log
    widths = [p.get_width() for p in ax.patches]
    assert len(widths) == 5 * len(frame)
    assert sum(widths) == frame["log_end"].sum()


def test_an_unknown_group_names_the_ones_there_are():
    sim = topics({"t": 1}, seed=1)
    share_group(sim, "g")
    with pytest.raises(ValueError, match="share groups: g"):
        draw_share_group(sim, "nope")
