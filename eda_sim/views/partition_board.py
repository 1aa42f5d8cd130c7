"""The partition board: per partition, the log, the committed offset, the position, the lag and the owner.

Model: :func:`board` (a DataFrame); picture: :func:`draw_board`. The model loads without matplotlib.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import pandas as pd

from eda_sim.broker.group_consumer import epoch_state
from eda_sim.core.replay import State as _State
from eda_sim.core.replay import check_time as _check_time
from eda_sim.core.replay import state_at as _state
from eda_sim.views import figure as _mpl
from eda_sim.views.style import (
    ALERT as _ALERT,
)
from eda_sim.views.style import (
    HATCHES as _HATCHES,
)
from eda_sim.views.style import (
    LIGHT as _LIGHT,
)
from eda_sim.views.style import (
    SERIES,
)
from eda_sim.views.style import (
    STYLE as _STYLE,
)
from eda_sim.views.style import (
    check_topic as _check_topic,
)
from eda_sim.views.style import (
    count_text as _count,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

#: The band of records a consumer's client holds fetched ahead (dark grey: reads on any member colour).
_HELD = "#333333"


# ---------------------------------------------------------------------------------------------
# Partition board

BOARD_COLUMNS = [
    "partition",
    "group",
    "log_start",
    "log_end",
    "committed",
    "lag",
    "owner",
    "position",
    "fetched",
    "paused",
    "crashed",
]


def _groups_of(s: _State, topic: str) -> list:
    found = {g for g, topics in s.subscriptions.items() if topic in topics}
    found |= {g for (g, t, _p) in s.committed if t == topic}
    found |= {g for (g, t) in s.delivered if t == topic}
    found |= {g for g, topics in s.assigned_topics.items() if topic in topics}
    found.discard("")
    return sorted(found)


def board(sim, topic: str, time: float | None = None, group: str | None = None) -> pd.DataFrame:
    """One row per (partition, group) of ``topic``: the log, the group's committed offset, lag, owner, position.

    ``log_start``/``log_end`` are the oldest retained offset and the next
    offset to be written; ``committed`` is the group's committed offset and
    ``lag`` = ``log_end - committed`` (missing where nothing was committed, as
    ``kafka-consumer-groups`` shows "-"); ``owner`` the member that owns the
    partition ("" for none), ``position`` that member's next offset to fetch,
    ``fetched`` the offset after the last record the owner's client has
    fetched ahead into its local fetch queue (librdkafka's ``next_offset``:
    offsets from ``position`` up to it are in the consumer's memory, not yet
    handed to the application; equal to ``position`` when nothing is held),
    ``paused`` whether the owner paused the partition, and ``crashed`` whether
    the owner has crashed (it keeps the partition until ``session.timeout.ms``
    passes; a crashed process holds nothing, so ``fetched`` is missing). Groups are those that subscribed to,
    were assigned partitions of (also by a consumer's own ``assign()`` under the group's id: its handle name,
    e.g. ``rdkafka#consumer-1``, is the owner), fetched from or committed on the topic; with none, one row per partition
    with group "". With ``time`` the journal is replayed up to that instant.
    """
    _check_topic(sim, topic)
    s = _state(sim, time)
    groups = _groups_of(s, topic)
    if group is not None:
        if group not in groups:
            raise ValueError(
                f"group {group!r} does not read topic {topic!r}"
                f"{' at that time' if time is not None else ''}; groups reading it: "
                f"{', '.join(groups) or 'none'}"
            )
        groups = [group]
    rows = []
    for p in range(s.partitions.get(topic, 0)):
        tp = (topic, p)
        base = {"partition": p, "log_start": s.log_start[tp], "log_end": s.log_end[tp]}
        for g in groups or [""]:
            committed = s.committed.get((g, topic, p))
            owner = s.owner[g].get(tp, "") if g else ""
            key = (g, owner, topic, p)
            position = s.positions.get(key) if owner else None
            crashed = bool(owner) and s.members[g].get(owner) == "crashed"
            fetched = None
            if position is not None and not crashed:
                fetched = max(position, s.fetched.get(key, position))
            rows.append(
                {
                    **base,
                    "group": g,
                    "committed": committed,
                    "lag": None if committed is None else s.log_end[tp] - committed,
                    "owner": owner,
                    "position": position,
                    "fetched": fetched,
                    "paused": key in s.paused,
                    "crashed": crashed,
                }
            )
    frame = pd.DataFrame(rows, columns=BOARD_COLUMNS)
    for col in ("partition", "log_start", "log_end"):
        frame[col] = frame[col].astype("int64")
    for col in ("committed", "lag", "position", "fetched"):
        frame[col] = frame[col].astype("Int64")
    for col in ("paused", "crashed"):
        frame[col] = frame[col].astype(bool)
    return frame


def _member_colours(sim, group: str) -> dict:
    """Member id -> colour (and hatch), by order of first join in the whole journal: stable across times."""
    out: dict = {}
    for r in sim.journal.rows("joined"):
        if r.group == group and r.actor not in out:
            i = len(out)
            out[r.actor] = (SERIES[i % len(SERIES)], _HATCHES[(i // len(SERIES)) % len(_HATCHES)])
    return out


def _board_size(n: int) -> tuple:
    return (10.0, min(7.0, max(2.8, 1.6 + 0.5 * n)))


def draw_board(
    sim, topic: str, time: float | None = None, group: str | None = None, ax=None
) -> Figure:
    """Draw :func:`board`: one strip per partition from log start to log end, coloured by owner.

    Offsets run along the x axis; a black bar marks the committed offset, a
    triangle the owner's position, a thin dark band under the strip the
    records its client has fetched ahead and holds in memory (from the
    position to ``fetched``), and the lag is written at the right (with
    "paused" for a paused partition). Offsets
    removed by retention or ``delete_records`` are hatched grey. Each member keeps its colour across
    times (order of first join), so a rebalance shows as strips changing colour.
    Each strip ends at its own partition's log end (a shorter log is a shorter
    strip, not a blank tail); members of the group that own no partition get a
    row of their own under the partitions, marked idle. With several groups
    reading ``topic``, pass ``group``.
    """
    _check_topic(sim, topic)
    t = _check_time(sim, time)
    frame = board(sim, topic, time, group)
    groups = sorted(set(frame["group"]))
    if len(groups) > 1:
        raise ValueError(
            f"several groups read {topic!r}: {', '.join(groups)}; pass group= one of them"
        )
    g = groups[0] if groups else ""
    colours = _member_colours(sim, g) if g else {}
    # a KIP-848 group: its epoch in the title, each owner's member epoch and where a partition is headed
    group_epoch, epochs, target = epoch_state(sim, g, t) if g else (None, {}, {})
    n = len(frame)
    owners = set(frame["owner"])
    # members alive (or crashed) in the group at t that own nothing here: an idle row each
    idle = [m for m in _state(sim, time).members.get(g, {}) if m not in owners] if g else []
    idle.sort(key=lambda m: (list(colours).index(m) if m in colours else len(colours), m))
    with _mpl.matplotlib.rc_context(_STYLE):
        fig, ax = _mpl.figure_and_ax(ax, _board_size(n + len(idle)), reuse="board")
        epoch_text = "" if group_epoch is None else f" · group epoch {group_epoch}"
        _mpl.title(
            ax,
            f"{topic} · {'group ' + g if g else 'no consumer group'}{epoch_text} · t = {t:.3f} s (virtual)",
        )
        hi = max([1] + list(frame["log_end"]))
        seen = []
        ticks_x, ticks_y, pos_x, pos_y = [], [], [], []
        held_any = False
        for row in frame.itertuples(index=False):
            y = row.partition
            if row.log_start:
                ax.add_patch(
                    _mpl.Rectangle(
                        (0, y - 0.3),
                        row.log_start,
                        0.6,
                        facecolor=_LIGHT,
                        hatch="///",
                        edgecolor="#BBBBBB",
                        linewidth=0,
                    )
                )
            colour, hatch = colours.get(row.owner, (_LIGHT, "")) if row.owner else (_LIGHT, "")
            if row.crashed:
                hatch = "xx"
            ax.add_patch(
                _mpl.Rectangle(
                    (row.log_start, y - 0.3),
                    max(row.log_end - row.log_start, 0),
                    0.6,
                    facecolor=colour,
                    hatch=hatch,
                    edgecolor="white" if hatch else colour,
                    linewidth=0,
                    alpha=0.85,
                )
            )
            ax.add_patch(
                _mpl.Rectangle(  # the outline ends where this partition's log ends
                    (0, y - 0.3),
                    row.log_end,
                    0.6,
                    fill=False,
                    edgecolor=colour if row.owner else "#BBBBBB",
                    linewidth=1.4 if row.owner else 0.6,
                )
            )
            if row.owner and row.owner not in seen:
                seen.append(row.owner)
            if row.committed is not pd.NA:
                ticks_x += [row.committed, row.committed, math.nan]
                ticks_y += [y - 0.38, y + 0.38, math.nan]
            if row.position is not pd.NA:
                pos_x.append(row.position)
                pos_y.append(y - 0.42)
            if row.fetched is not pd.NA and row.fetched > row.position:
                held_any = True
                ax.add_patch(
                    _mpl.Rectangle(  # fetched ahead, held in the client's memory
                        (row.position, y + 0.3),
                        row.fetched - row.position,
                        0.12,
                        facecolor=_HELD,
                        edgecolor=_HELD,
                        linewidth=0,
                        zorder=3,
                    )
                )
            lag = "lag –" if row.lag is pd.NA else f"lag {_count(row.lag)}"
            if row.owner:
                lag += f" · {row.owner}" + (" (crashed)" if row.crashed else "")
                if row.owner in epochs:
                    lag += f" (epoch {epochs[row.owner]})"
                if row.paused:
                    lag += " · paused"
            headed = target.get((topic, row.partition))
            if group_epoch is not None and headed and headed != row.owner:
                lag += f" → {headed}"
            ax.annotate(
                lag,
                (1.0, y),
                xycoords=("axes fraction", "data"),
                xytext=(6, 0),
                textcoords="offset points",
                va="center",
                fontsize=9,
                color=_ALERT if row.lag is not pd.NA and row.lag > 0 else "black",
            )
        for k, m in enumerate(idle):
            y = n + k
            colour, hatch = colours.get(m, (_LIGHT, ""))
            ax.plot([0], [y], marker="s", markersize=9, color=colour, linestyle="none")
            ax.annotate(
                f"{m} · idle: no partition",
                (0.0, y),
                xycoords=("axes fraction", "data"),
                xytext=(12, 0),
                textcoords="offset points",
                va="center",
                fontsize=9,
            )
            ax.annotate(
                "idle",
                (0.0, y),
                xycoords=("axes fraction", "data"),
                xytext=(-6, 0),
                textcoords="offset points",
                ha="right",
                va="center",
                fontsize=9,
                color="#666666",
            )
        ax.plot(ticks_x, ticks_y, color="black", lw=2.2, solid_capstyle="butt", zorder=4)
        ax.plot(pos_x, pos_y, marker="v", color="black", markersize=7, zorder=5, linestyle="none")
        rows_drawn = n + len(idle)
        ax.set_ylim(rows_drawn - 0.4 if rows_drawn else 0.6, -0.7)
        # partition names as plain labels: a _mpl.matplotlib tick costs four artists on every draw
        ax.set_yticks([])
        ax.spines["left"].set_visible(False)
        for p in frame["partition"].drop_duplicates():
            ax.annotate(
                f"p{p}",
                (0.0, p),
                xycoords=("axes fraction", "data"),
                xytext=(-6, 0),
                textcoords="offset points",
                ha="right",
                va="center",
                fontsize=9,
            )
        ax.set_ylabel("partition", labelpad=22)
        ax.set_xlim(-hi * 0.012, hi * 1.012)
        ax.set_xlabel("offset")
        ax.xaxis.set_major_locator(_mpl.MaxNLocator(nbins=8, integer=True))
        handles = []
        for m in seen + idle:
            colour, hatch = colours.get(m, (_LIGHT, ""))
            crashed = any(frame.loc[frame["owner"] == m, "crashed"])
            handles.append(
                _mpl.Patch(
                    facecolor=colour,
                    hatch="xx" if crashed else hatch,
                    edgecolor="white",
                    label=f"{m} (crashed)" if crashed else m if m in seen else f"{m} (idle)",
                )
            )
        handles.append(_mpl.Patch(facecolor=_LIGHT, edgecolor="#BBBBBB", label="no owner"))
        handles.append(_mpl.Line2D([], [], color="black", lw=2.2, label="committed"))
        handles.append(
            _mpl.Line2D([], [], color="black", marker="v", linestyle="none", label="position")
        )
        if held_any:
            handles.append(_mpl.Patch(facecolor=_HELD, label="fetched, in memory"))
        if any(frame["log_start"] > 0):
            handles.append(
                _mpl.Patch(
                    facecolor=_LIGHT,
                    hatch="///",
                    edgecolor="#BBBBBB",
                    label="deleted: retention, delete_records",
                )
            )
        if any(lag is not pd.NA and lag > 0 for lag in frame["lag"]):
            # the lag written in vermillion at the right: a word-shaped mark in the same colour
            handles.append(
                _mpl.Line2D(
                    [],
                    [],
                    color=_ALERT,
                    marker=r"$\mathsf{lag}$",
                    markersize=14,
                    markeredgewidth=0,
                    linestyle="none",
                    label="lag > 0",
                )
            )
        ax.legend(
            handles=handles,
            loc="upper left",
            bbox_to_anchor=(0, -0.22 if rows_drawn < 4 else -0.12),
            ncol=min(len(handles), 6),
            frameon=False,
        )
        fig.subplots_adjust(
            left=0.08,
            right=0.82 if group_epoch is None else 0.74,  # room for member epochs and targets
            bottom=0.3 if rows_drawn < 4 else 0.2,
            top=0.85 if rows_drawn < 4 else 0.9,
        )
        return fig
