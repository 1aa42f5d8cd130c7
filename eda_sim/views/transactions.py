"""The transactions board: each partition's offsets, what sits there, and where each reader stops.

One row per partition, one cell per offset. Committed records are dark,
records of an aborted transaction hatched in vermillion, records of an open
transaction light, ordinary records grey, and commit and abort markers are
narrow black bars with a C or an A. A line marks the last stable offset
(where ``read_committed`` stops) and another the log end (where
``read_uncommitted`` stops).

Model: :func:`eda_sim.broker.transactions.partition_table` (a DataFrame, no
matplotlib); picture: :func:`draw_transactions`.

Example::

    sim = Simulation(seed=1)
    sim.create_topic("out", partitions=1)
    p = sim.producer({"transactional.id": "doubler-0"})
    p.init_transactions()
    for outcome in ("commit", "abort"):
        p.begin_transaction()
        p.produce("out", value="2")
        p.commit_transaction() if outcome == "commit" else p.abort_transaction()
    draw_transactions(sim, "out")
"""

from __future__ import annotations

from eda_sim.broker.transactions import partition_table
from eda_sim.views import figure as _mpl
from eda_sim.views.style import ALERT, GREY, OI

#: Cell colours by what the offset holds.
COLOURS = {
    "committed": OI["blue"],
    "aborted": "#F6D3BF",
    "open": OI["sky_blue"],
    "": GREY,
}


def draw_transactions(sim, topic: str, ax=None, title: str | None = None):
    """Draw the transactions board of ``topic`` now; returns the figure."""
    table = partition_table(sim, topic)
    parts = sim.topic(topic).partitions
    width = max([log.log_end_offset for log in parts] + [1])
    fig, ax = _mpl.figure_and_ax(ax, (9.0, 1.6 + 0.6 * len(parts)))
    for p, log in enumerate(parts):
        y = len(parts) - 1 - p
        rows = table[table.partition == log.index]
        for r in rows.itertuples(index=False):
            if r.what != "record":
                ax.add_patch(
                    _mpl.Rectangle((r.offset + 0.3, y - 0.35), 0.32, 0.7, facecolor="black")
                )
                ax.text(r.offset + 0.46, y + 0.45, r.what[0].upper(), ha="center", fontsize=8)
                continue
            aborted = r.state == "aborted"
            ax.add_patch(
                _mpl.Rectangle(
                    (r.offset, y - 0.35),
                    0.92,
                    0.7,
                    facecolor=COLOURS[r.state],
                    edgecolor=ALERT if aborted else "none",
                    hatch="//" if aborted else "",
                )
            )
            if r.value is not None and len(r.value) <= 8:
                dark = r.state in ("committed", "")
                ax.text(
                    r.offset + 0.46,
                    y,
                    r.value,
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if dark else "black",
                )
        lso = sim.transactions.last_stable_offset(topic, log.index)
        for x, label, colour in ((lso, "LSO", ALERT), (log.log_end_offset, "log end", "black")):
            ax.plot([x - 0.04, x - 0.04], [y - 0.5, y + 0.5], color=colour, linewidth=1.6)
            ax.text(x, y - 0.62, f"{label} {x}", color=colour, fontsize=8, ha="left", va="top")
    handles = [
        _mpl.Patch(facecolor=COLOURS["committed"], label="committed"),
        _mpl.Patch(facecolor=COLOURS["aborted"], edgecolor=ALERT, hatch="//", label="aborted"),
        _mpl.Patch(facecolor=COLOURS["open"], label="open transaction"),
        _mpl.Patch(facecolor=COLOURS[""], label="no transaction"),
        _mpl.Patch(facecolor="black", label="marker (C commit, A abort)"),
    ]
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    ax.set_yticks(range(len(parts)))
    ax.set_yticklabels([f"partition {log.index}" for log in reversed(parts)], fontsize=9)
    ax.set_xlim(0, width + 1)
    ax.set_ylim(-0.9, len(parts) - 0.3)
    ax.set_xlabel(
        "offset: read_committed reads below the LSO, skipping aborted records and markers"
    )
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    _mpl.title(ax, title or f"{topic}: transactions at t = {sim.now:g} s")
    fig.subplots_adjust(right=0.72)
    return fig
