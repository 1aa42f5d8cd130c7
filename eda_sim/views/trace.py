"""The trace view: one request's causal tree across services, with hop timings.

Model: :func:`trace_graph` (a networkx graph); picture: :func:`draw_trace`. The model loads without matplotlib.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import networkx as nx
import pandas as pd

from eda_sim.views import figure as _mpl
from eda_sim.views.style import (
    ALERT as _ALERT,
)
from eda_sim.views.style import (
    GREY as _GREY,
)
from eda_sim.views.style import (
    LIGHT as _LIGHT,
)
from eda_sim.views.style import (
    OI as _OI,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure


# ---------------------------------------------------------------------------------------------
# Trace view


def trace_graph(sim, correlation_id: str) -> nx.DiGraph:
    """One request's causal tree as a networkx DiGraph: event -> the events it caused.

    Nodes carry ``type``, ``topic``, ``depth``, ``published_at`` and, per
    handling service, ``handled_by`` (a list of (service, outcome, started,
    finished)); edges carry the hop's ``delay`` (child published - parent
    published). ``ValueError`` names known correlation ids for an unknown one.
    """
    from eda_sim.services.tracing import trace, trace_edges

    frame = trace(sim, correlation_id)
    graph = nx.DiGraph(correlation_id=correlation_id)
    for eid, rows in frame.groupby("event_id", sort=False):
        first = rows.iloc[0]
        handled = [
            (r.service, r.outcome, r.started, r.finished)
            for r in rows.itertuples()
            if isinstance(r.service, str)
        ]
        graph.add_node(
            eid,
            type=first["type"],
            topic=first["topic"],
            depth=int(first["depth"]),
            published_at=float(first["published_at"]),
            handled_by=handled,
        )
    for e in trace_edges(frame).itertuples():
        graph.add_edge(e.parent, e.child, delay=float(e.delay))
    return graph


def draw_trace(sim, correlation_id: str, ax=None) -> Figure:
    """One request across services: a row per hop in tree order, bars for waiting and handling.

    Light bars are time spent waiting in a topic (queue time), dark bars time
    in a handler (retries included); a failed hop is vermillion, and a hop
    still waiting (see :func:`eda_sim.services.tracing.where_stuck`) is marked ``stuck``
    (``lost`` when at-most-once dropped it) with a bar running to now.
    """
    from eda_sim.services.tracing import trace, where_stuck

    frame = trace(sim, correlation_id)
    stuck = where_stuck(sim, correlation_id)
    rows = list(frame.itertuples(index=False))
    fig, ax = _mpl.figure_and_ax(ax, (10.0, max(2.6, 0.45 * len(rows) + 1.4)))
    if ax is fig.axes[0] and len(fig.axes) == 1:
        fig.subplots_adjust(left=0.34, right=0.95, top=0.82, bottom=0.2)
    t0 = float(frame["published_at"].min()) if len(frame) else 0.0
    labels = []
    for i, r in enumerate(rows):
        y = len(rows) - 1 - i
        service = r.service if isinstance(r.service, str) else None
        depth = 0 if r.depth is pd.NA else int(r.depth)
        labels.append(("↳ " * min(depth, 1)) + f"{r.type}" + (f" → {service}" if service else ""))
        if service is not None:
            failed = r.outcome in ("dead_lettered", "failed")
            ax.barh(
                y,
                r.started - r.published_at,
                left=r.published_at - t0,
                color=_LIGHT,
                edgecolor=_GREY,
                height=0.5,
            )
            ax.barh(
                y,
                max(r.finished - r.started, 1e-4),
                left=r.started - t0,
                height=0.5,
                color=_ALERT if failed else _OI["blue"],
            )
            ax.text(
                r.finished - t0,
                y,
                f"  {1000 * (r.finished - r.published_at):.0f} ms"
                + (f" · {r.outcome}" if failed else ""),
                va="center",
                fontsize=8.5,
                color=_ALERT if failed else "black",
            )
        elif stuck is not None and stuck["event_id"] == r.event_id:
            ax.barh(
                y,
                sim.now - r.published_at,
                left=r.published_at - t0,
                color=_LIGHT,
                edgecolor=_ALERT,
                hatch="//",
                height=0.5,
            )
            ax.text(
                sim.now - t0,
                y,
                "  lost" if stuck["state"] == "lost" else "  stuck",
                va="center",
                fontsize=8.5,
                color=_ALERT,
            )
        else:
            ax.plot([r.published_at - t0], [y], marker="o", color=_GREY)
    ax.set_yticks(range(len(rows) - 1, -1, -1), labels) if rows else ax.set_yticks([])
    ax.set_xlabel("virtual seconds since the first event of the request")
    ax.margins(x=0.15)
    legend = [
        _mpl.Patch(facecolor=_LIGHT, edgecolor=_GREY, label="waiting in a topic"),
        _mpl.Patch(facecolor=_OI["blue"], label="in a handler"),
        _mpl.Patch(facecolor=_ALERT, label="failed"),
    ]
    ax.legend(handles=legend, loc="lower right", bbox_to_anchor=(1.0, 1.0), frameon=False, ncols=3)
    _mpl.title(
        ax,
        f"trace {correlation_id}"
        + (f" · {stuck['state']} at {stuck['service']}" if stuck else " · complete"),
    )
    return fig
