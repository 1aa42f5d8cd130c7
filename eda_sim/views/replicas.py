"""The replica board: each partition's replicas, broker by broker, as a picture.

One row per replica. A row shows the replica's log from offset 0 to its log
end: records below the leader's high watermark (committed: consumers may read
them) are dark, records above it light (on the leader, not yet on every
in-sync replica). A tick marks the replica's own high watermark. The leader's
row is marked with a star and its leader epoch; a replica out of the ISR says
so; a crashed broker's row is grey.

:meth:`eda_sim.broker.replication.Cluster.describe` is the same picture as a table
(no matplotlib needed). Drawing it after each step of a failover shows the
leader move, the ISR shrink and the old leader truncate when it comes back.

Example::

    sim = Simulation(seed=1, brokers=3)
    sim.create_topic("payments", replication_factor=3)
    ...
    draw_replicas(sim, "payments")
"""

from __future__ import annotations

from eda_sim.views import figure as _mpl

COMMITTED = "#2b6ca3"  # below the HW: on every in-sync replica
UNCOMMITTED = "#a9cbe8"  # above the HW: on this replica, not yet committed
DOWN = "#bdbdbd"
CELLS_UP_TO = 60  # draw one cell per record up to this many offsets, a bar beyond


def replica_rows(sim, topic: str) -> list:
    """The rows the picture draws: per replica, its labels and offsets (no matplotlib)."""
    if sim.cluster is None:
        raise ValueError(
            "the replica board needs a cluster: Simulation(brokers=3) and a topic with replication_factor=3"
        )
    parts = sim.cluster.topic_partitions(topic)
    if not parts:
        known = ", ".join(sorted(sim.broker.topics)) or "none yet"
        raise ValueError(f"unknown topic {topic!r}; topics are: {known}")
    rows = []
    for part in parts:
        for b in part.assignment:
            rep = part.replicas[b]
            alive = sim.cluster.nodes[b].alive
            leader = b == part.leader
            notes = []
            if leader:
                notes.append(f"leader, epoch {part.epoch}")
            if not alive:
                notes.append("down")
            elif b not in part.isr:
                notes.append("out of ISR")
            rows.append(
                {
                    "partition": part.index,
                    "broker": b,
                    "leader": leader,
                    "alive": alive,
                    "in_isr": b in part.isr,
                    "log_end": rep.leo,
                    "high_watermark": rep.hw,
                    "committed": min(part.high_watermark, rep.leo),
                    "label": f"p{part.index} broker {b}" + (" \u2605" if leader else ""),
                    "note": ", ".join(notes),
                }
            )
    return rows


def draw_replicas(sim, topic: str, ax=None, title: str | None = None):
    """Draw the replica board of ``topic`` now; returns the figure."""
    rows = replica_rows(sim, topic)
    width = max(max(r["log_end"] for r in rows), 1)
    own = ax is None
    height = 1.2 + 0.42 * len(rows)
    fig, ax = _mpl.figure_and_ax(ax, (9.0, height))
    if own:  # room for the offset label under the rows, whatever their number
        fig.subplots_adjust(left=0.14, right=0.98, bottom=0.6 / height, top=1 - 0.35 / height)
    cells = width <= CELLS_UP_TO
    for i, r in enumerate(rows):
        y = len(rows) - 1 - i
        if not r["alive"]:
            colours = [(0, r["log_end"], DOWN)]
        else:
            colours = [
                (0, r["committed"], COMMITTED),
                (r["committed"], r["log_end"], UNCOMMITTED),
            ]
        for lo, hi, colour in colours:
            if hi <= lo:
                continue
            if cells:
                for o in range(lo, hi):
                    ax.add_patch(
                        _mpl.Rectangle((o, y - 0.35), 0.92, 0.7, facecolor=colour, edgecolor="none")
                    )
            else:
                ax.add_patch(_mpl.Rectangle((lo, y - 0.35), hi - lo, 0.7, facecolor=colour))
        hw = r["high_watermark"]
        ax.plot([hw - 0.04, hw - 0.04], [y - 0.45, y + 0.45], color="black", linewidth=1.4)
        ax.text(
            width + width * 0.02 + 0.3,
            y,
            f"LEO {r['log_end']}, HW {hw}" + (f"  ({r['note']})" if r["note"] else ""),
            va="center",
            fontsize=8,
            fontweight="bold" if r["leader"] else "normal",
        )
        if i and rows[i - 1]["partition"] != r["partition"]:
            ax.axhline(y + 0.5, color="#888888", linewidth=0.6)
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels([r["label"] for r in reversed(rows)], fontsize=8)
    ax.set_xlim(0, width * 1.45 + 2)
    ax.set_ylim(-0.6, len(rows) - 0.4)
    ax.set_xlabel("offset (dark: below the leader's high watermark; light: not yet committed)")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    _mpl.title(ax, title or f"{topic}: replicas at t = {sim.now:g} s")
    return fig


def draw_lost_and_refused(table, ax=None):
    """Bars of lost and refused writes per setting, from a sweep table (``acks``,
    ``min.insync.replicas``, ``unclean``, ``lost``, ``refused`` columns); returns the figure."""
    fig, ax = _mpl.figure_and_ax(ax, (9.0, 3.6))
    rows = table.to_dict("records")
    labels = [
        f"acks={r['acks']}\nmin.isr={r['min.insync.replicas']}\n{'unclean' if r['unclean'] else 'clean'}"
        for r in rows
    ]
    xs = range(len(rows))
    lost = ax.bar(
        [x - 0.2 for x in xs],
        [r["lost"] for r in rows],
        width=0.4,
        color="#c0392b",
        label="lost (acknowledged, then gone)",
    )
    refused = ax.bar(
        [x + 0.2 for x in xs],
        [r["refused"] for r in rows],
        width=0.4,
        color="#7f8c8d",
        label="refused (the caller was told)",
    )
    ax.bar_label(lost, fontsize=7)
    ax.bar_label(refused, fontsize=7)
    ax.set_xticks(list(xs), labels, fontsize=7)
    ax.set_ylabel("writes")
    ax.legend(fontsize=8)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    return fig
