"""Views: the course's pictures, each drawn from the simulation's journal, one module per picture.

Every picture has a *model* (a networkx graph or a pandas DataFrame, pure and
testable, computed from the journal, loadable without matplotlib) and a *renderer* that draws the model
into a matplotlib :class:`~matplotlib.figure.Figure` and returns it:

==========================  ==========================  =========================================
model                       renderer                    what it shows
==========================  ==========================  =========================================
:func:`flow_graph`          :func:`draw_flow`           producers, topics and services; events per edge
:func:`board`               :func:`draw_board`          per partition: log, committed offset, position, lag, owner
:func:`key_timeline`,       :func:`draw_timeline`       per key: when each record was produced and delivered;
:func:`out_of_order_pairs`                              deliveries that came out of order
:func:`core_metrics`        :func:`draw_metrics`        throughput, deliveries and lag per time bucket
:func:`trace_graph`         :func:`draw_trace`          one request's causal tree with hop timings
==========================  ==========================  =========================================

A ``time`` argument (virtual seconds, ``None`` for now) redraws the past: the
journal is replayed up to that instant, so ownership before and after a
rebalance, or lag before and after a storm, can be put side by side.

Figures are made with pyplot and closed at once, so a figure shows once,
where the notebook displays the returned value (and pyplot has loaded the
notebook's backend, which is what lets IPython show a figure as an image).
Sizes are fixed here (``FLOW_SIZE``, ``DPI`` and the functions that size
boards, timelines and metric panels) so a figure's text form,
``<Figure size 1000x500 with 1 Axes>``, is the same everywhere. Colours are
Okabe and Ito's colour-blind-safe palette; vermillion means trouble.

Example::

    from eda_sim.views import board, draw_board, draw_flow, flow_graph
    from eda_sim.services.load import Feed

    sim = Simulation(seed=1)
    sim.create_topic("orders", partitions=3)
    Feed(sim, "orders", ((f"user-{i % 5}", "order") for i in range(100)), rate=20)
    Member(sim, "billing", ["orders"])
    sim.run(until=10)
    flow_graph(sim).nodes(data=True)      # the model: kind, events, down, lagging, dead_lettering
    draw_flow(sim)                        # the picture
    board(sim, "orders", time=4.0)        # who owned what, and the lag, at t = 4 s
    draw_board(sim, "orders", time=4.0)
"""

from __future__ import annotations

from importlib import import_module

# Public names and the module that defines each. They load on first use, so
# importing a picture's model (``eda_sim.views.flow``) never loads matplotlib.
_WHERE = {
    "flow_graph": "flow",
    "flow_layout": "flow",
    "draw_flow": "flow",
    "board": "partition_board",
    "draw_board": "partition_board",
    "key_timeline": "timeline",
    "out_of_order_pairs": "timeline",
    "draw_timeline": "timeline",
    "core_metrics": "charts",
    "draw_metrics": "charts",
    "draw_core_metrics": "charts",
    "trace_graph": "trace",
    "replica_rows": "replicas",
    "draw_replicas": "replicas",
    "draw_trace": "trace",
    "compaction_cells": "compaction",
    "draw_compaction": "compaction",
    "draw_watermark": "watermark",
    "draw_share_group": "share",
    "OKABE_ITO": "style",
    "DPI": "style",
    "FLOW_SIZE": "style",
    "LAG_THRESHOLD": "style",
    "controls": "widgets",
    "explore": "widgets",
    "show": "widgets",
}

__all__ = ["VIEWS", *sorted(_WHERE)]


def __getattr__(name):
    if name == "VIEWS":
        views = {
            "flow": __getattr__("draw_flow"),
            "board": __getattr__("draw_board"),
            "timeline": __getattr__("draw_timeline"),
            "metrics": __getattr__("draw_core_metrics"),
            "trace": __getattr__("draw_trace"),
        }
        globals()["VIEWS"] = views
        return views
    if name in _WHERE:
        value = getattr(import_module(f".{_WHERE[name]}", __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(
        f"module {__name__!r} has no attribute {name!r}; pictures: {', '.join(sorted(_WHERE))}"
    )
