"""The compaction picture: one partition's offsets, what the cleaner removed, and its clean, dirty and active parts.

Model: :func:`compaction_cells`, a DataFrame with one row per offset from the
log start to the log end: the record's key (if it is still there), whether a
record is there at all (compaction leaves gaps; the offsets stay), whether it
is a tombstone, and which part of the log the offset is in:

* ``clean``: cleaned by the log cleaner already (before its checkpoint);
* ``dirty``: written since, closed segments the cleaner may clean next;
* ``waiting``: closed but younger than ``min.compaction.lag.ms``;
* ``active``: the segment being written, which is never compacted.

Renderer: :func:`draw_compaction`, a strip of cells, one per offset: filled
where a record still is (coloured by part), empty where the cleaner removed
one, crossed for a tombstone.
"""

from __future__ import annotations

import pandas as pd

from eda_sim.views import figure as _mpl
from eda_sim.views.style import GREY, OI

PARTS = {"clean": OI["blue"], "dirty": OI["orange"], "waiting": OI["yellow"], "active": GREY}


def compaction_cells(sim, topic: str, partition: int = 0) -> pd.DataFrame:
    """One row per offset of ``topic``[``partition``]: offset, key, present, tombstone, part."""
    log = sim.topic(topic).partition(partition)
    lay = sim.broker.cleaner.layout(topic, partition)
    there = {r.offset: r for r in log.records()}
    rows = []
    for o in range(log.log_start_offset, log.log_end_offset):
        r = there.get(o)
        part = (
            "clean"
            if o < lay.first_dirty
            else "dirty"
            if o < lay.first_uncleanable
            else "waiting"
            if o < lay.active_base
            else "active"
        )
        key = None if r is None or r.key is None else r.key.decode(errors="replace")
        rows.append((o, key, r is not None, r is not None and r.value is None, part))
    return pd.DataFrame.from_records(
        rows, columns=["offset", "key", "present", "tombstone", "part"]
    )


def draw_compaction(sim, topic: str, partition: int = 0, last: int = 60):
    """Draw the last ``last`` offsets of a partition as cells coloured by part; gaps left empty."""
    cells = compaction_cells(sim, topic, partition).tail(last)
    fig = _mpl.new_figure((10.0, 2.2))
    ax = fig.add_subplot(1, 1, 1)
    for row in cells.itertuples(index=False):
        colour = PARTS[row.part]
        ax.add_patch(
            _mpl.Rectangle(
                (row.offset, 0),
                0.9,
                1,
                facecolor=colour if row.present else "white",
                edgecolor="white" if row.present else colour,
                linewidth=0.8,
            )
        )
        if row.tombstone:
            ax.plot([row.offset, row.offset + 0.9], [0, 1], color="black", linewidth=1)
            ax.plot([row.offset, row.offset + 0.9], [1, 0], color="black", linewidth=1)
    if len(cells):
        ax.set_xlim(cells["offset"].iloc[0] - 0.5, cells["offset"].iloc[-1] + 1.5)
    ax.set_ylim(-0.1, 1.1)
    ax.set_yticks([])
    ax.set_xlabel("offset")
    gaps = int((~cells["present"]).sum())
    handles = [
        _mpl.Patch(facecolor=c, label=p) for p, c in PARTS.items() if p in set(cells["part"])
    ]
    handles.append(_mpl.Patch(facecolor="white", edgecolor=GREY, label="removed (a gap)"))
    ax.legend(
        handles=handles,
        loc="lower right",
        bbox_to_anchor=(1.0, 1.0),
        ncol=len(handles),
        frameon=False,
    )
    fig.subplots_adjust(bottom=0.3, top=0.7)
    _mpl.title(
        ax, f"{topic}[{partition}]: last {len(cells)} offsets, {gaps} removed by the cleaner"
    )
    return fig
