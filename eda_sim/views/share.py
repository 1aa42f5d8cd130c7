"""The share-group picture: per partition, where every record a share group has seen stands now.

One horizontal bar per share-partition, from :meth:`ShareGroup.frame
<eda_sim.broker.share_group.ShareGroup.frame>`: records accepted, rejected,
archived at the delivery limit, acquired (a member holds them under a lock)
and available (released, lock expired, or not fetched yet), with the
share-partition start offset and how many members share the partition. A
consumer group's lag has no meaning here (members share a partition and
settle records one by one); this is what a share group has instead.
"""

from __future__ import annotations

from eda_sim.views import figure as _mpl
from eda_sim.views.style import ALERT, GREY, OI

#: Segment, column and colour, left to right: settled first, then what is still open.
SEGMENTS = (
    ("accepted", "accepted", OI["green"]),
    ("rejected", "rejected", ALERT),
    ("archived", "archived (delivery limit)", OI["purple"]),
    ("acquired", "acquired (locked)", OI["orange"]),
    ("available", "available", "#D9D9D9"),
)


def draw_share_group(sim, group_id: str):
    """Draw share group ``group_id`` of ``sim``: one bar of record counts per partition."""
    groups = sim.share_groups
    if group_id not in groups:
        known = ", ".join(sorted(groups)) or "none yet"
        raise ValueError(f"no share group {group_id!r} in this simulation; share groups: {known}")
    frame = groups[group_id].frame()
    fig = _mpl.new_figure((9.0, 1.4 + 0.5 * max(len(frame), 1)))
    ax = fig.add_subplot(1, 1, 1)
    fig.subplots_adjust(top=0.82, bottom=0.3)
    _mpl.title(ax, f"Share group {group_id} at t = {sim.now:.3f} s: records per partition")
    if frame.empty:
        ax.set_axis_off()
        ax.text(0.5, 0.5, "no partitions yet: subscribe a member", ha="center", color=GREY)
        return fig
    labels = [f"{t}-{p}" for t, p in zip(frame["topic"], frame["partition"])]
    ys = list(range(len(frame)))[::-1]
    left = [0] * len(frame)
    for column, label, colour in SEGMENTS:
        widths = frame[column].tolist()
        ax.barh(ys, widths, left=left, color=colour, label=label, height=0.6)
        left = [a + b for a, b in zip(left, widths)]
    for y, total, start, members in zip(ys, left, frame["start"], frame["members"]):
        ax.annotate(
            f"start {start} · {members} member{'' if members == 1 else 's'}",
            (total, y),
            xytext=(4, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
        )
    ax.set_yticks(ys, labels)
    ax.set_xlim(0, max(max(left), 1) * 1.25)
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=5, fontsize=8, frameon=False)
    return fig
