"""Views: the course's pictures, each drawn from the simulation's journal.

Every picture has a *model* (a networkx graph or a pandas DataFrame, pure and
testable, computed from the journal) and a *renderer* that draws the model
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

    sim = Simulation(seed=1)
    ...                                   # build a world, sim.run(until=10)
    flow_graph(sim).nodes(data=True)      # the model: kind, events, down, lagging, dead_lettering
    draw_flow(sim)                        # the picture
    board(sim, "orders", time=4.0)        # who owned what, and the lag, at t = 4 s
    draw_board(sim, "orders", time=4.0)
"""

from __future__ import annotations

import bisect
import json
import math
import re
from collections import defaultdict

import matplotlib
import matplotlib.pyplot as _plt
import networkx as nx
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch, Patch, Rectangle
from matplotlib.ticker import MaxNLocator

from .retries import DLT_SUFFIX

__all__ = [
    "OKABE_ITO",
    "VIEWS",
    "board",
    "core_metrics",
    "draw_board",
    "draw_core_metrics",
    "draw_flow",
    "draw_metrics",
    "draw_timeline",
    "draw_trace",
    "flow_graph",
    "flow_layout",
    "key_timeline",
    "out_of_order_pairs",
    "trace_graph",
]

#: Okabe & Ito's colour-blind-safe palette, by name.
OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
}
_OI = OKABE_ITO
#: Colours for members (board) and partitions (timeline), in order of first appearance.
SERIES = (
    _OI["blue"],
    _OI["orange"],
    _OI["green"],
    _OI["purple"],
    _OI["sky_blue"],
    _OI["yellow"],
    _OI["vermillion"],
    _OI["black"],
)
_HATCHES = (
    "",
    "//",
    "..",
    "\\\\",
)  # after eight colours, patterns keep members apart ("xx" marks a crash)
_ALERT = _OI["vermillion"]
_GREY = "#8C8C8C"
_LIGHT = "#E6E6E6"

#: Figure sizes in inches at ``DPI``: fixed by the library, so notebooks compare equal everywhere.
FLOW_SIZE = (10.0, 5.0)
DPI = 100
_STYLE = {
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 8.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "font.family": "DejaVu Sans",
    "hatch.linewidth": 0.8,
    "svg.hashsalt": "eda_sim",
}

#: Total lag (records) above which a group is flagged as lagging in the flow diagram.
LAG_THRESHOLD = 100
_KIND_ORDER = {"producer": 0, "service": 1, "group": 2, "topic": 3}


# ---------------------------------------------------------------------------------------------
# Replaying the journal


class _State:
    """What the journal says about the world up to some row: offsets, owners, members, counts."""

    def __init__(self):
        self.partitions: dict = {}  # topic -> partition count
        self.log_end: dict = defaultdict(int)  # (topic, partition) -> log-end offset
        self.log_start: dict = defaultdict(int)  # (topic, partition) -> log-start offset
        self.appended: dict = defaultdict(int)  # topic -> records appended
        self.produced: dict = defaultdict(int)  # (producer, topic) -> records produced
        self.delivered: dict = defaultdict(int)  # (group, topic) -> records delivered
        self.committed: dict = {}  # (group, topic, partition) -> committed offset
        self.owner: dict = defaultdict(dict)  # group -> {(topic, partition): member}
        self.members: dict = defaultdict(
            dict
        )  # group -> {member: "alive" | "crashed"} (in the group)
        self.crashed: dict = {}  # member -> group, crashed and not restarted
        self.subscriptions: dict = defaultdict(set)  # group -> topics it subscribed to
        self.positions: dict = {}  # (group, member, topic, partition) -> position


def _replay(rows) -> _State:
    s = _State()
    for r in rows:
        k = r.kind
        if k == "appended":
            tp = (r.topic, r.partition)
            end = r.offset + r.count
            if end > s.log_end[tp]:
                s.log_end[tp] = end
            s.appended[r.topic] += r.count
        elif k == "delivered":
            s.delivered[(r.group, r.topic)] += r.count
            s.positions[(r.group, r.actor, r.topic, r.partition)] = r.offset + r.count
        elif k == "committed":
            s.committed[(r.group, r.topic, r.partition)] = r.offset
        elif k == "produced":
            s.produced[(r.actor, r.topic)] += r.count
        elif k == "assigned":
            # Ownership follows 'assigned' and 'revoked' rows (the member is the row's actor, exactly);
            # together they say what each 'rebalanced' row's assignment says.
            owners = s.owner[r.group]
            for tp in _parse_parts(r.detail):
                owners[tp] = r.actor
                c = s.committed.get((r.group,) + tp)
                key = (r.group, r.actor) + tp
                if c is None:
                    s.positions.pop(key, None)
                else:
                    s.positions[key] = c
        elif k == "revoked":
            owners = s.owner[r.group]
            for tp in _parse_parts(r.detail):
                s.positions.pop((r.group, r.actor) + tp, None)
                if owners.get(tp) == r.actor:
                    del owners[tp]
        elif k == "offset_reset" or k == "seeked":
            key = (r.group, r.actor, r.topic, r.partition)
            if r.offset >= 0:
                s.positions[key] = r.offset
            else:
                s.positions.pop(key, None)
        elif k == "joined":
            s.members[r.group][r.actor] = "alive"
            if r.detail:
                s.subscriptions[r.group].update(r.detail.split(","))
        elif k in ("left", "evicted", "session_expired"):
            s.members[r.group].pop(r.actor, None)
        elif k == "crashed" or k == "departed":
            # a static member that closed keeps its partitions unread, as a crashed one does
            s.crashed[r.actor] = r.group
            if r.actor in s.members[r.group]:
                s.members[r.group][r.actor] = "crashed"
        elif k == "rejoined":
            s.crashed.pop(r.actor, None)
            s.members[r.group][r.actor] = "alive"
        elif k == "restarted":
            s.crashed.pop(r.actor, None)
            for key in [key for key in s.positions if key[1] == r.actor]:
                del s.positions[key]
        elif k == "expired":
            s.log_start[(r.topic, r.partition)] = r.offset + r.count
        elif k == "topic_created" or k == "partitions_added":
            s.partitions[r.topic] = r.count
    return s


def _parse_parts(text: str) -> list:
    """``"[t-0,t-1]"`` or ``"t-0,t-1"`` -> ``[("t", 0), ("t", 1)]``."""
    out = []
    for item in text.strip().strip("[]").split(","):
        if item:
            topic, _, part = item.rpartition("-")
            out.append((topic, int(part)))
    return out


def _check_time(sim, time) -> float:
    if time is None:
        return sim.now
    if isinstance(time, bool) or not isinstance(time, (int, float)) or time != time:
        raise TypeError(f"time must be a virtual time in seconds or None (now), got {time!r}")
    if not 0 <= time <= sim.now:
        raise ValueError(
            f"time={time!r} is outside the simulation's past: pick a time from 0 to now ({sim.now:g} s)"
        )
    return float(time)


def _rows_until(sim, time: float | None) -> list:
    """The journal rows written at or before ``time`` (all rows when None)."""
    journal = sim.journal
    if time is None:
        return journal.rows()
    end = bisect.bisect_right(journal, time, key=lambda r: r.time)
    return [journal[i] for i in range(end)]


def _state(sim, time=None) -> _State:
    return _replay(_rows_until(sim, None if time is None else _check_time(sim, time)))


def _check_topic(sim, topic) -> None:
    if not isinstance(topic, str) or topic not in sim.broker.topics:
        known = ", ".join(sorted(sim.broker.topics)) or "none yet"
        raise ValueError(f"unknown topic {topic!r}; topics are: {known}")


def _natural(text: str):
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", str(text))]


def _new_figure(size) -> Figure:
    # Made by pyplot so that the notebook's backend is loaded (which registers IPython's PNG formatter
    # for figures), then closed at once so that only the returned figure shows, once.
    fig = _plt.figure(figsize=size, dpi=DPI)
    _plt.close(fig)
    FigureCanvasAgg(fig)  # closing detached the canvas; an Agg one measures text and draws the PNG
    return fig


def _title(ax, text: str) -> None:
    """A left-aligned title; cheaper than ``set_title``, which lays out the tick labels to dodge them."""
    ax.text(0.0, 1.0, text, transform=ax.transAxes, ha="left", va="bottom", fontsize=11)


def _box_half_sizes(fig, texts: dict, pad: float) -> dict:
    """Half width and height, in pixels, of each text's box (its text plus ``pad`` points around)."""
    extra = pad * fig.dpi / 72
    out = {}
    for key, text in texts.items():
        bb = text.get_window_extent()  # any canvas: matplotlib finds the figure's renderer
        out[key] = (bb.width / 2 + extra, bb.height / 2 + extra)
    return out


def _to_edge(half: tuple, dx: float, dy: float, dpi: float) -> float:
    """Points from a box's centre to its edge in the direction (dx, dy) (pixels)."""
    w, h = half
    along = math.inf
    if dx:
        along = min(along, w / abs(dx))
    if dy:
        along = min(along, h / abs(dy))
    if along == math.inf:
        return 0.0
    return along * math.hypot(dx, dy) * 72 / dpi


def _figure_and_ax(ax, size):
    if ax is None:
        fig = _new_figure(size)
        return fig, fig.add_subplot()
    return ax.figure, ax


def _count(n) -> str:
    return f"{int(n):,}"


def _read_topics(subscriptions: dict, committed: dict, group: str) -> list:
    """The topics a group reads: those it subscribed to ('joined' rows) and those it committed on."""
    return sorted(set(subscriptions.get(group, ())) | {t for (g, t, _p) in committed if g == group})


def _group_lag(
    group: str, topics, partitions: dict, end: dict, start: dict, committed: dict
) -> int:
    """A group's total lag: per partition of ``topics``, log end minus committed offset, or minus log start
    where the group has committed nothing yet (the whole backlog is ahead of it). Same rule as
    :func:`eda_sim.metrics.metrics`, so the flow diagram's flag and the lag chart agree."""
    total = 0
    for topic in topics:
        for p in range(partitions.get(topic, 0)):
            c = committed.get((group, topic, p))
            total += max(0, end.get((topic, p), 0) - (start.get((topic, p), 0) if c is None else c))
    return total


# ---------------------------------------------------------------------------------------------
# Flow diagram


def _node(kind: str, name: str) -> str:
    return f"{kind}:{name}"


def flow_graph(sim, time: float | None = None, lag_threshold: int = LAG_THRESHOLD) -> nx.DiGraph:
    """The flow of events as a directed graph: producers -> topics -> services/groups -> topics.

    Node ids are ``"<kind>:<name>"`` with kind ``producer``, ``topic``,
    ``service`` or ``group``. A *service* is a consumer group with a producer
    of the same name (``client.id == group.id``, as :class:`~eda_sim.services.Service`
    sets it): one node that consumes and produces.

    Edges carry ``events``: records produced (producer/service -> topic, from
    'produced' rows) or delivered (topic -> group/service, from 'delivered'
    rows) up to ``time``. Structure known before any event flows (topics
    created, groups' subscriptions from 'joined' rows, what services and
    sources declare they produce) gives edges with ``events=0`` and
    ``declared=True``, so the diagram is whole, and laid out for good, from
    the first instant.

    Node attributes: ``kind``, ``name``, ``events`` (records produced by a
    producer, appended to a topic, delivered to a group or service),
    ``produced``, ``delivered``, ``partitions`` (topics), ``members`` (live
    members), ``crashed`` (members crashed and not restarted), ``down`` (a
    group that had members and has no live one), ``lag`` (records: over the
    partitions of the topics it reads, log end minus committed offset, or
    minus log start where it has committed nothing, the rule of the lag
    charts), ``lagging`` (lag above ``lag_threshold``), ``dead_lettering``
    (produced to a ``*.DLT`` topic) and ``dlt`` (a dead-letter topic).
    """
    s = _state(sim, time)
    g = nx.DiGraph()
    groups = (
        set(s.members)
        | {grp for grp, _t in s.delivered}
        | {c[0] for c in s.committed}
        | set(s.subscriptions)
    )
    groups |= set(sim.services)
    groups.discard("")
    producers = {actor for actor, _t in s.produced}
    # kinds come from what exists, not what has happened yet, so a node keeps its kind (and place)
    service_names = groups & (producers | set(sim.producers) | set(sim.services))

    def client(name: str) -> str:
        if name in service_names:
            return _node("service", name)
        if name in groups:
            return _node("group", name)
        return _node("producer", name)

    def add(node: str) -> None:
        if node not in g:
            kind, _, name = node.partition(":")
            g.add_node(node, kind=kind, name=name, events=0, produced=0, delivered=0)

    def edge(a: str, b: str, events: int) -> None:
        add(a)
        add(b)
        if g.has_edge(a, b):
            g[a][b]["events"] += events
        else:
            g.add_edge(a, b, events=events)
        g[a][b]["weight"] = g[a][b]["events"]
        g[a][b]["declared"] = g[a][b]["events"] == 0

    for topic in sorted(s.partitions):
        add(_node("topic", topic))
    for grp in sorted(groups):
        add(client(grp))
        for topic in sorted(s.subscriptions.get(grp, ())):
            if topic in s.partitions:
                edge(_node("topic", topic), client(grp), 0)
    for name in sorted(sim.services):
        for topic in sim.services[name].topics:
            if topic in s.partitions:
                edge(_node("topic", topic), client(name), 0)
    for etype in sorted(sim.event_catalog):
        for who, topic in sorted(sim.event_catalog[etype]):
            if topic in s.partitions:
                edge(client(who), _node("topic", topic), 0)
    for (actor, topic), n in sorted(s.produced.items()):
        edge(client(actor), _node("topic", topic), n)
        g.nodes[client(actor)]["produced"] += n
    for (grp, topic), n in sorted(s.delivered.items()):
        if grp:
            edge(_node("topic", topic), client(grp), n)
            g.nodes[client(grp)]["delivered"] += n

    lag = {
        grp: _group_lag(
            grp,
            _read_topics(s.subscriptions, s.committed, grp),
            s.partitions,
            s.log_end,
            s.log_start,
            s.committed,
        )
        for grp in groups
    }
    crashed = defaultdict(int)
    for _member, grp in s.crashed.items():
        crashed[grp] += 1
    for _n, data in g.nodes(data=True):
        kind, name = data["kind"], data["name"]
        data.update(
            down=False, lagging=False, dead_lettering=False, dlt=False, lag=0, members=0, crashed=0
        )
        if kind == "topic":
            data["events"] = s.appended.get(name, 0)
            data["partitions"] = s.partitions.get(name, 0)
            data["dlt"] = name.endswith(DLT_SUFFIX)
            continue
        data["dead_lettering"] = any(
            t.endswith(DLT_SUFFIX) and n for (a, t), n in s.produced.items() if a == name
        )
        if kind == "producer":
            data["events"] = data["produced"]
            continue
        data["events"] = data["delivered"]
        states = s.members.get(name, {})
        data["members"] = sum(1 for st in states.values() if st == "alive")
        data["crashed"] = crashed.get(name, 0)
        had_members = name in s.members
        data["down"] = had_members and data["members"] == 0
        data["lag"] = lag.get(name, 0)
        data["lagging"] = data["lag"] > lag_threshold
    return g


def flow_layout(graph: nx.DiGraph) -> dict:
    """Positions ``{node: (x, y)}``: layered left to right by the flow, deterministic.

    Cycles (a service feeding a topic upstream of itself, a re-drive) are
    broken by a depth-first search in name order; on that DAG each node's
    layer is its longest path from a source (producers and groups with no
    input start at 0, topics with no input at 1), so clients sit on even
    layers and topics on odd ones. Within a layer nodes are ranked by the
    mean rank of their neighbours in the layer before (then by name), which
    keeps edges from crossing where it can; ``x`` is the layer and ``y`` the
    rank, centred. Nothing random: the same graph gives the same positions.
    """
    nodes = sorted(graph, key=lambda n: (_KIND_ORDER.get(graph.nodes[n].get("kind"), 9), n))
    back = set()
    state: dict = {}
    for root in sorted(nodes, key=lambda n: (graph.in_degree(n) > 0, n)):
        if root in state:
            continue
        stack = [(root, iter(sorted(graph.successors(root))))]
        state[root] = 1
        while stack:
            node, it = stack[-1]
            nxt = next(it, None)
            if nxt is None:
                state[node] = 2
                stack.pop()
            elif state.get(nxt) == 1:
                back.add((node, nxt))
            elif nxt not in state:
                state[nxt] = 1
                stack.append((nxt, iter(sorted(graph.successors(nxt)))))
    dag = nx.DiGraph()
    dag.add_nodes_from(nodes)
    dag.add_edges_from(e for e in graph.edges if e not in back)
    layer: dict = {}
    for node in nx.lexicographical_topological_sort(dag):
        preds = list(dag.predecessors(node))
        base = 1 if graph.nodes[node].get("kind") == "topic" else 0
        layer[node] = max([layer[p] + 1 for p in preds] + [base])
    layers: dict = defaultdict(list)
    for node in nodes:
        layers[layer[node]].append(node)
    rank: dict = {}
    for lv in sorted(layers):

        def key(n):
            near = [rank[p] for p in dag.predecessors(n) if p in rank]
            return (sum(near) / len(near) if near else math.inf, n)

        for i, node in enumerate(sorted(layers[lv], key=key)):
            rank[node] = i - (len(layers[lv]) - 1) / 2
    # one pass back up: sources line up with what they feed
    for lv in sorted(layers, reverse=True):

        def key_up(n):
            near = [rank[c] for c in dag.successors(n) if layer[c] > lv]  # noqa: B023
            return (sum(near) / len(near) if near else rank[n], n)

        if lv == 0 or all(not list(dag.predecessors(n)) for n in layers[lv]):
            for i, node in enumerate(sorted(layers[lv], key=key_up)):
                rank[node] = i - (len(layers[lv]) - 1) / 2
    return {n: (float(layer[n]), -float(rank[n])) for n in nodes}


_FLOW_FILL = {"producer": "#DCEAF5", "service": "#D5EFE6", "group": "#FBEBCB", "topic": "#F2F2F2"}
_FLOW_EDGE = {
    "producer": _OI["blue"],
    "service": _OI["green"],
    "group": _OI["orange"],
    "topic": "#555555",
}


def _wrap(name: str, width: int = 11) -> str:
    if len(name) <= width:
        return name
    cuts = [i for i, ch in enumerate(name) if ch in "-_." and 0 < i < len(name) - 1]
    if not cuts:
        return name
    cut = min(cuts, key=lambda i: abs(i - len(name) / 2))
    return name[: cut + 1] + "\n" + name[cut + 1 :]


def draw_flow(
    sim, time: float | None = None, ax=None, lag_threshold: int = LAG_THRESHOLD
) -> Figure:
    """Draw :func:`flow_graph`: boxes for producers and services, rounded boxes for topics.

    Edges are labelled with their event counts (dashed when declared but
    unused so far); marks: a red ``DOWN`` on a group without live members, an
    orange ``LAG n`` above ``lag_threshold``, red borders on dead-letter topics
    and a ``→ DLT`` on whoever writes to them. Positions come from
    :func:`flow_layout` of the whole journal, so drawing an earlier ``time``
    keeps every node where it is now.
    """
    t = _check_time(sim, time)
    graph = flow_graph(sim, time, lag_threshold)
    pos = flow_layout(flow_graph(sim, None, lag_threshold) if time is not None else graph)
    with matplotlib.rc_context(_STYLE):
        own = ax is None
        fig, ax = _figure_and_ax(ax, FLOW_SIZE)
        if own:
            ax.set_position([0.01, 0.09, 0.98, 0.83])
        ax.set_axis_off()
        _title(ax, f"Event flow at t = {t:.3f} s (virtual)")
        if not graph:
            ax.text(
                0.5,
                0.5,
                "nothing yet: create a topic, a producer or a consumer group",
                ha="center",
                va="center",
                color=_GREY,
                transform=ax.transAxes,
            )
            return fig
        xs = [pos[n][0] for n in graph]
        ys = [pos[n][1] for n in graph]
        ax.set_xlim(min(xs) - 0.6, max(xs) + 0.6)
        ax.set_ylim(min(ys) - 0.6, max(ys) + 0.65)
        boxes = {}
        for node in sorted(graph):
            d = graph.nodes[node]
            x, y = pos[node]
            kind = d["kind"]
            topic = kind == "topic"
            edge = _ALERT if d["down"] or d["dlt"] else _FLOW_EDGE[kind]
            style = "round,pad=0.45,rounding_size=0.8" if topic else "square,pad=0.45"
            boxes[node] = ax.text(
                x,
                y,
                _wrap(d["name"]),
                ha="center",
                va="center",
                fontsize=9.5,
                zorder=2,
                fontweight="bold" if kind == "service" else "normal",
                bbox=dict(
                    boxstyle=style,
                    facecolor=_FLOW_FILL[kind],
                    edgecolor=edge,
                    linewidth=2.2 if d["down"] or d["dlt"] else 1.2,
                    linestyle="--" if d["down"] else "-",
                ),
            )
            if topic:  # a client's counts are on its edges; a topic's size and partitions only here
                ax.annotate(
                    f"{_count(d['events'])} event{'' if d['events'] == 1 else 's'} · {d['partitions']} part.",
                    (x, y),
                    xytext=(0, -21 if "\n" not in _wrap(d["name"]) else -28),
                    textcoords="offset points",
                    ha="center",
                    va="top",
                    fontsize=7.5,
                    color="#444444",
                )
            marks = []
            if d["down"]:
                marks.append(("DOWN", _ALERT, "white"))
            elif d["crashed"]:
                marks.append((f"{d['crashed']} crashed", _ALERT, "white"))
            if d["lagging"]:
                marks.append((f"LAG {_count(d['lag'])}", _OI["orange"], "black"))
            if d["dead_lettering"]:
                marks.append(("→ DLT", _OI["vermillion"], "white"))
            for i, (text, face, ink) in enumerate(marks):
                ax.annotate(
                    text,
                    (x, y),
                    xytext=(0, 20 + 13 * i if "\n" not in _wrap(d["name"]) else 27 + 13 * i),
                    textcoords="offset points",
                    ha="center",
                    va="bottom",
                    fontsize=7,
                    color=ink,
                    fontweight="bold",
                    zorder=5,
                    bbox=dict(boxstyle="round,pad=0.2", facecolor=face, edgecolor="none"),
                )
        top = max([d["events"] for _a, _b, d in graph.edges(data=True)] + [1])
        # Where an arrow leaves and meets a box, computed once here (matplotlib's patch clipping
        # would bisect each arrow against each box on every draw: a third of the redraw time).
        half = _box_half_sizes(fig, boxes, pad=0.45 * 9.5)
        to_px = ax.transData.transform
        for a, b in sorted(graph.edges):
            d = graph.edges[a, b]
            back = pos[b][0] <= pos[a][0]
            width = 0.8 + 2.6 * math.log1p(d["events"]) / math.log1p(top)
            colour = _ALERT if graph.nodes[b].get("dlt") else "#4D4D4D"
            (ax_, ay_), (bx_, by_) = to_px(pos[a]), to_px(pos[b])
            shrink_a = _to_edge(half[a], bx_ - ax_, by_ - ay_, fig.dpi) + 3
            shrink_b = _to_edge(half[b], bx_ - ax_, by_ - ay_, fig.dpi) + 3
            ax.add_patch(
                FancyArrowPatch(
                    pos[a],
                    pos[b],
                    arrowstyle="-|>",
                    color=colour,
                    lw=width,
                    mutation_scale=12,
                    zorder=3,
                    linestyle="--" if d["declared"] else "-",
                    alpha=0.5 if d["declared"] else 0.9,
                    shrinkA=shrink_a,
                    shrinkB=shrink_b,
                    connectionstyle=f"arc3,rad={0.35 if back else 0.0}",
                )
            )
            if d["events"]:
                # the label sits at the middle of the visible arrow, between the two boxes
                length = math.hypot(bx_ - ax_, by_ - ay_) or 1.0
                k = (0.5 + (shrink_a - shrink_b) * fig.dpi / 72 / 2 / length) if not back else 0.5
                mx = pos[a][0] + (pos[b][0] - pos[a][0]) * k
                my = pos[a][1] + (pos[b][1] - pos[a][1]) * k + (0.3 if back else 0.0)
                ax.annotate(
                    _count(d["events"]),
                    (mx, my),
                    xytext=(0, 3),
                    textcoords="offset points",
                    ha="center",
                    va="bottom",
                    fontsize=8,
                    zorder=4,
                    color=colour,
                    bbox=dict(
                        boxstyle="round,pad=0.1", facecolor="white", edgecolor="none", alpha=0.8
                    ),
                )
        handles = [
            Patch(facecolor=_FLOW_FILL[k], edgecolor=_FLOW_EDGE[k], label=label)
            for k, label in (
                ("producer", "producer"),
                ("topic", "topic"),
                ("service", "service (group + producer)"),
                ("group", "consumer group"),
            )
            if any(graph.nodes[n]["kind"] == k for n in graph)
        ]
        ax.legend(
            handles=handles,
            loc="lower center",
            bbox_to_anchor=(0.5, -0.08),
            ncol=len(handles),
            frameon=False,
        )
        return fig


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
    "crashed",
]


def _groups_of(s: _State, topic: str) -> list:
    found = {g for g, topics in s.subscriptions.items() if topic in topics}
    found |= {g for (g, t, _p) in s.committed if t == topic}
    found |= {g for (g, t) in s.delivered if t == topic}
    found.discard("")
    return sorted(found)


def board(sim, topic: str, time: float | None = None, group: str | None = None) -> pd.DataFrame:
    """One row per (partition, group) of ``topic``: the log, the group's committed offset, lag, owner, position.

    ``log_start``/``log_end`` are the oldest retained offset and the next
    offset to be written; ``committed`` is the group's committed offset and
    ``lag`` = ``log_end - committed`` (missing where nothing was committed, as
    ``kafka-consumer-groups`` shows "-"); ``owner`` the member that owns the
    partition ("" for none), ``position`` that member's next offset to fetch,
    and ``crashed`` whether the owner has crashed (it keeps the partition until
    ``session.timeout.ms`` passes). Groups are those that subscribed to,
    fetched from or committed on the topic; with none, one row per partition
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
            rows.append(
                {
                    **base,
                    "group": g,
                    "committed": committed,
                    "lag": None if committed is None else s.log_end[tp] - committed,
                    "owner": owner,
                    "position": s.positions.get((g, owner, topic, p)) if owner else None,
                    "crashed": bool(owner) and s.members[g].get(owner) == "crashed",
                }
            )
    frame = pd.DataFrame(rows, columns=BOARD_COLUMNS)
    for col in ("partition", "log_start", "log_end"):
        frame[col] = frame[col].astype("int64")
    for col in ("committed", "lag", "position"):
        frame[col] = frame[col].astype("Int64")
    frame["crashed"] = frame["crashed"].astype(bool)
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
    triangle the owner's position, and the lag is written at the right. Offsets
    removed by retention are hatched grey. Each member keeps its colour across
    times (order of first join), so a rebalance shows as strips changing colour.
    With several groups reading ``topic``, pass ``group``.
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
    n = len(frame)
    with matplotlib.rc_context(_STYLE):
        fig, ax = _figure_and_ax(ax, _board_size(n))
        _title(
            ax, f"{topic} · {'group ' + g if g else 'no consumer group'} · t = {t:.3f} s (virtual)"
        )
        hi = max([1] + list(frame["log_end"]))
        seen = []
        ticks_x, ticks_y, pos_x, pos_y = [], [], [], []
        for row in frame.itertuples(index=False):
            y = row.partition
            if row.log_start:
                ax.add_patch(
                    Rectangle(
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
                Rectangle(
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
                Rectangle(
                    (0, y - 0.3),
                    hi,
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
            lag = "lag –" if row.lag is pd.NA else f"lag {_count(row.lag)}"
            if row.owner:
                lag += f" · {row.owner}" + (" (crashed)" if row.crashed else "")
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
        ax.plot(ticks_x, ticks_y, color="black", lw=2.2, solid_capstyle="butt", zorder=4)
        ax.plot(pos_x, pos_y, marker="v", color="black", markersize=7, zorder=5, linestyle="none")
        ax.set_ylim(n - 0.4 if n else 0.6, -0.7)
        # partition names as plain labels: a matplotlib tick costs four artists on every draw
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
        ax.xaxis.set_major_locator(MaxNLocator(nbins=8, integer=True))
        handles = []
        for m in seen:
            colour, hatch = colours.get(m, (_LIGHT, ""))
            crashed = any(frame.loc[frame["owner"] == m, "crashed"])
            handles.append(
                Patch(
                    facecolor=colour,
                    hatch="xx" if crashed else hatch,
                    edgecolor="white",
                    label=f"{m} (crashed)" if crashed else m,
                )
            )
        handles.append(Patch(facecolor=_LIGHT, edgecolor="#BBBBBB", label="no owner"))
        handles.append(Line2D([], [], color="black", lw=2.2, label="committed"))
        handles.append(
            Line2D([], [], color="black", marker="v", linestyle="none", label="position")
        )
        if any(frame["log_start"] > 0):
            handles.append(
                Patch(facecolor=_LIGHT, hatch="///", edgecolor="#BBBBBB", label="expired")
            )
        ax.legend(
            handles=handles,
            loc="upper left",
            bbox_to_anchor=(0, -0.22 if n < 4 else -0.12),
            ncol=min(len(handles), 6),
            frameon=False,
        )
        fig.subplots_adjust(
            left=0.08, right=0.82, bottom=0.3 if n < 4 else 0.2, top=0.85 if n < 4 else 0.9
        )
        return fig


# ---------------------------------------------------------------------------------------------
# Per-key timeline

TIMELINE_COLUMNS = [
    "key",
    "partition",
    "offset",
    "produced",
    "seq",
    "delivered",
    "delivery",
    "member",
]


def _field(value: bytes | None, path: str):
    """A JSON field of a record value by dotted path; for event JSON, payload fields also by bare name."""
    if value is None:
        return None
    try:
        data = json.loads(value)
    except (ValueError, UnicodeDecodeError):
        return None
    for candidate in (data, data.get("payload") if isinstance(data, dict) else None):
        cur = candidate
        for part in path.split("."):
            if not isinstance(cur, dict) or part not in cur:
                cur = None
                break
            cur = cur[part]
        if cur is not None:
            return cur
    return None


def _delivering_groups(sim, topic: str) -> list:
    return sorted({r.group for r in sim.journal.rows("delivered") if r.topic == topic and r.group})


def key_timeline(
    sim,
    topic: str,
    keys=None,
    order_field: str | None = None,
    key_field: str | None = None,
    group: str | None = None,
) -> pd.DataFrame:
    """One row per retained record of ``topic``: its key, where it is, when it was produced and delivered.

    ``key`` is the record's key, or with ``key_field`` a JSON field of its
    value (e.g. ``"user"``: the entity whose order matters, however the
    record was keyed). ``seq`` is the JSON field ``order_field`` of the value
    (dotted paths work; event JSON's payload fields also by bare name), or
    without it the produce order: the rank of the record's create time, equal
    for records produced at the same virtual instant. ``delivered`` is when
    the record was first handed to ``group`` (virtual s; missing if never),
    ``delivery`` the rank of that first delivery across the topic and
    ``member`` who got it. ``group`` may be left out when one group reads the
    topic. Records removed by retention are not in the log any more, so not
    here.
    """
    _check_topic(sim, topic)
    if key_field is not None and not isinstance(key_field, str):
        raise TypeError(f"key_field must be a JSON field name or None, got {key_field!r}")
    if order_field is not None and not isinstance(order_field, str):
        raise TypeError(f"order_field must be a JSON field name or None, got {order_field!r}")
    readers = _delivering_groups(sim, topic)
    if group is None:
        if len(readers) > 1:
            raise ValueError(
                f"records of {topic!r} went to groups {', '.join(readers)}; pass group= one of them"
            )
        group = readers[0] if readers else None
    elif group not in readers:
        raise ValueError(
            f"group {group!r} has had no records of {topic!r}; "
            f"groups that did: {', '.join(readers) or 'none'}"
        )
    first: dict = {}
    if group is not None:
        rank = 0
        for r in sim.journal.rows("delivered"):
            if r.topic == topic and r.group == group:
                for off in range(r.offset, r.offset + r.count):
                    if (r.partition, off) not in first:
                        first[(r.partition, off)] = (r.time, rank, r.actor)
                        rank += 1
    rows = []
    for log in sim.topic(topic).partitions:
        for rec in log.records():
            if key_field is not None:
                k = _field(rec.value, key_field)
                key = "" if k is None else str(k)
            else:
                key = "" if rec.key is None else rec.key.decode(errors="replace")
            seq = _field(rec.value, order_field) if order_field is not None else None
            d = first.get((rec.partition, rec.offset))
            rows.append(
                {
                    "key": key,
                    "partition": rec.partition,
                    "offset": rec.offset,
                    "produced": rec.timestamp,
                    "seq": seq,
                    "delivered": d[0] if d else None,
                    "delivery": d[1] if d else None,
                    "member": d[2] if d else "",
                }
            )
    rows.sort(key=lambda r: (_natural(r["key"]), r["produced"], r["partition"], r["offset"]))
    frame = pd.DataFrame(rows, columns=TIMELINE_COLUMNS)
    if order_field is not None and len(frame) and frame["seq"].isna().all():
        raise ValueError(
            f"no record of {topic!r} has a JSON field {order_field!r}; "
            f"fields of the first value: {_fields_of(sim, topic)}"
        )
    if order_field is None:
        frame["seq"] = (
            frame["produced"].rank(method="dense").astype("int64")
            if len(frame)
            else frame["produced"]
        )
    if keys is not None:
        if isinstance(keys, str):
            keys = [keys]
        keys = [str(k) for k in keys]
        known = sorted(set(frame["key"]), key=_natural)
        missing = [k for k in keys if k not in set(known)]
        if missing:
            shown = ", ".join(known[:20]) + (
                f", ... ({len(known)} in all)" if len(known) > 20 else ""
            )
            raise ValueError(
                f"unknown key(s) {', '.join(map(repr, missing))} in {topic!r}; "
                f"keys are: {shown or 'none'}"
            )
        frame = frame[frame["key"].isin(keys)]
    frame["delivered"] = frame["delivered"].astype("float64")
    frame["delivery"] = frame["delivery"].astype("Int64")
    return frame.reset_index(drop=True)


def _fields_of(sim, topic: str) -> str:
    for log in sim.topic(topic).partitions:
        for rec in log.records(end=log.log_start_offset + 1):
            try:
                data = json.loads(rec.value)
            except (TypeError, ValueError, UnicodeDecodeError):
                return "(not JSON)"
            if isinstance(data, dict):
                fields = sorted(data)
                if isinstance(data.get("payload"), dict):
                    fields += [f"payload.{f}" for f in sorted(data["payload"])]
                return ", ".join(fields)
            return "(not a JSON object)"
    return "(no records)"


PAIR_COLUMNS = [
    "key",
    "first_partition",
    "first_offset",
    "first_seq",
    "first_delivered",
    "second_partition",
    "second_offset",
    "second_seq",
    "second_delivered",
]


def out_of_order_pairs(frame: pd.DataFrame) -> pd.DataFrame:
    """Per key, each delivery that came after a record with a later sequence: the pair (first, second).

    Records are taken in delivery order; a record whose ``seq`` is below the
    highest ``seq`` already delivered for its key arrived out of order, and is
    paired with that record (the one a consumer saw "too early"). Records
    never delivered are left out. ``frame`` is a :func:`key_timeline`.
    """
    missing = [
        c for c in ("key", "partition", "offset", "seq", "delivered", "delivery") if c not in frame
    ]
    if missing:
        raise ValueError(
            f"out_of_order_pairs expects a key_timeline frame; missing columns: {', '.join(missing)}"
        )
    rows = []
    done = frame[frame["delivery"].notna() & frame["seq"].notna()].sort_values(
        "delivery", kind="stable"
    )
    best: dict = {}
    for r in done.itertuples(index=False):
        top = best.get(r.key)
        if top is None or r.seq > top.seq:
            best[r.key] = r
        elif r.seq < top.seq:
            rows.append(
                {
                    "key": r.key,
                    "first_partition": top.partition,
                    "first_offset": top.offset,
                    "first_seq": top.seq,
                    "first_delivered": top.delivered,
                    "second_partition": r.partition,
                    "second_offset": r.offset,
                    "second_seq": r.seq,
                    "second_delivered": r.delivered,
                }
            )
    rows.sort(key=lambda r: _natural(r["key"]))  # stable: delivery order within a key
    return pd.DataFrame(rows, columns=PAIR_COLUMNS)


def draw_timeline(
    sim,
    topic: str,
    keys=None,
    order_field: str | None = None,
    key_field: str | None = None,
    group: str | None = None,
    max_keys: int = 10,
    ax=None,
) -> Figure:
    """Draw :func:`key_timeline`: one row per key, virtual time across.

    A hollow circle marks when a record was produced, a filled one (coloured
    by partition) when it was delivered, joined by a thin line; a red
    connector joins each :func:`out_of_order_pairs` pair. Sequence numbers
    are written beside deliveries when there are few. Without ``keys`` the
    first ``max_keys`` keys in natural order are shown.
    """
    frame = key_timeline(sim, topic, keys, order_field, key_field, group)
    pairs = out_of_order_pairs(frame)
    shown = sorted(set(frame["key"]), key=_natural)
    total_keys = len(shown)
    if keys is None:
        shown = shown[:max_keys]
        frame = frame[frame["key"].isin(shown)]
        pairs = pairs[pairs["key"].isin(shown)]
    y_of = {k: i for i, k in enumerate(shown)}
    size = (10.0, min(7.0, max(2.8, 1.6 + 0.45 * len(shown))))
    with matplotlib.rc_context(_STYLE):
        fig, ax = _figure_and_ax(ax, size)
        readers = _delivering_groups(sim, topic)
        g = group or (readers[0] if len(readers) == 1 else "")
        title = f"{topic}: order per {key_field or 'key'}"
        title += f" · delivered to {g}" if g else " · not consumed yet"
        title += f" · {len(pairs)} out-of-order pair{'s' if len(pairs) != 1 else ''}"
        if total_keys > len(shown):
            title += f" · {len(shown)} of {total_keys} keys"
        _title(ax, title)
        ax.set_xlabel("virtual time (s)")
        ax.set_ylabel(key_field or "key")
        if frame.empty:
            ax.text(
                0.5,
                0.5,
                "no records yet",
                ha="center",
                va="center",
                color=_GREY,
                transform=ax.transAxes,
            )
            ax.set_yticks([])
            return fig
        ys = frame["key"].map(y_of).astype(float)
        done = frame["delivered"].notna()
        lo = min(frame["produced"].min(), frame["delivered"].min() if done.any() else math.inf)
        hi = max(frame["produced"].max(), frame["delivered"].max() if done.any() else -math.inf)
        span = max(hi - lo, 0.01)
        # Records one poll handed over share an instant: spread them a little, in delivery order.
        dx = {}
        step = span * 0.012
        got = frame[done].sort_values("delivery", kind="stable")
        last: dict = {}
        for i, k, d in zip(got.index, got["key"], got["delivered"]):
            n = last.get((k, d), -1) + 1
            last[(k, d)] = n
            dx[i] = d + n * step
        dcol = pd.Series(dx, dtype="float64").reindex(frame.index)
        up, down = ys - 0.2, ys + 0.2  # produced above, delivered below (the y axis runs downwards)
        segs = [
            [(p, a), (d, b)]
            for p, a, d, b in zip(frame["produced"][done], up[done], dcol[done], down[done])
        ]
        ax.add_collection(LineCollection(segs, colors="#C8C8C8", linewidths=0.6, zorder=1))
        ax.scatter(
            frame["produced"],
            up,
            s=20,
            facecolors="white",
            edgecolors=_GREY,
            linewidths=1,
            zorder=2,
        )
        parts = sorted(set(frame["partition"]))
        colour = {p: SERIES[p % len(SERIES)] for p in parts}
        ax.scatter(
            dcol[done],
            down[done],
            s=30,
            c=[colour[p] for p in frame["partition"][done]],
            zorder=3,
            edgecolors="none",
        )
        if len(pairs):
            where = {
                (r.key, r.partition, r.offset): dcol[i]
                for i, r in zip(frame.index, frame.itertuples())
            }
            red = []
            for r in pairs.itertuples(index=False):
                y = y_of[r.key] + 0.2
                red.append(
                    [
                        (where[(r.key, r.first_partition, r.first_offset)], y),
                        (where[(r.key, r.second_partition, r.second_offset)], y),
                    ]
                )
            ax.add_collection(
                LineCollection(red, colors=_ALERT, linewidths=2.0, zorder=4, alpha=0.85)
            )
            late = sorted(
                {
                    (r.key, r.second_partition, r.second_offset)
                    for r in pairs.itertuples(index=False)
                }
            )
            ax.scatter(
                [where[t] for t in late],
                [y_of[t[0]] + 0.2 for t in late],
                s=75,
                facecolors="none",
                edgecolors=_ALERT,
                linewidths=1.5,
                zorder=5,
            )
        involved = set(zip(pairs["key"], pairs["first_partition"], pairs["first_offset"]))
        involved |= set(zip(pairs["key"], pairs["second_partition"], pairs["second_offset"]))
        label = done & (
            (done.sum() <= 40)
            | pd.Series(
                [
                    (k, p, o) in involved
                    for k, p, o in zip(frame["key"], frame["partition"], frame["offset"])
                ],
                index=frame.index,
                dtype=bool,
            )
        )
        if label.sum() <= 150:
            for d, y, q in zip(dcol[label], down[label], frame["seq"][label]):
                ax.annotate(
                    str(q),
                    (d, y),
                    xytext=(0, -6),
                    textcoords="offset points",
                    ha="center",
                    va="top",
                    fontsize=7,
                    color="#333333",
                )
        ax.set_yticks(range(len(shown)))
        ax.set_yticklabels(shown)
        ax.set_ylim(len(shown) - 0.35, -0.55)
        ax.set_xlim(lo - span * 0.03, hi + span * 0.05)
        handles = [
            Line2D(
                [],
                [],
                marker="o",
                color=_GREY,
                markerfacecolor="white",
                linestyle="none",
                label="produced",
            )
        ]
        handles += [
            Line2D([], [], marker="o", color=colour[p], linestyle="none", label=f"delivered, p{p}")
            for p in parts[:6]
        ]
        handles.append(
            Line2D(
                [],
                [],
                color=_ALERT,
                lw=2.0,
                marker="o",
                markerfacecolor="none",
                markersize=8,
                label="out of order",
            )
        )
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
        fig.subplots_adjust(left=0.1, right=0.8, bottom=0.16, top=0.9)
        return fig


# ---------------------------------------------------------------------------------------------
# Metrics


def core_metrics(sim, bucket: float = 1.0, topic: str | None = None) -> pd.DataFrame:
    """Per bucket of virtual time: records appended and delivered per second, and each group's total lag.

    Buckets follow :func:`eda_sim.metrics.metrics`: half open,
    ``[start, start + bucket)``, indexed by their start (``time``); the last
    one ends now and also holds what happened at exactly now; rates divide by
    the time a bucket covers. ``throughput`` counts 'appended' rows and
    ``delivered`` the 'delivered' rows (redeliveries included), in events/s;
    ``lag_<group>`` is the group's total lag at the bucket's end, in records:
    per partition of the topics it reads, log end minus committed offset, or
    minus log start where it has committed nothing. ``topic`` limits all of it
    to one topic. Only core journal rows are read; the service layer's
    ``metrics`` adds latency and errors, and :func:`draw_metrics` draws either.
    """
    if (
        isinstance(bucket, bool)
        or not isinstance(bucket, (int, float))
        or not 0 < bucket < math.inf
    ):
        raise ValueError(f"bucket must be a positive number of virtual seconds, got {bucket!r}")
    if topic is not None:
        _check_topic(sim, topic)
    kinds = ("appended", "expired", "delivered", "committed", "joined")
    rows = [r for r in sim.journal if r.kind in kinds]
    subs: dict = defaultdict(set)
    for r in rows:
        if r.kind == "joined" and r.group and r.detail:
            subs[r.group].update(r.detail.split(","))
    if topic is not None:
        rows = [r for r in rows if r.topic == topic or r.kind == "joined"]
    committed_keys = {
        (r.group, r.topic, r.partition): 0 for r in rows if r.kind == "committed" and r.group
    }
    groups = sorted(set(subs) | {g for g, _t, _p in committed_keys})
    partitions = {name: t.partition_count for name, t in sim.broker.topics.items()}
    reads = {}
    for g in groups:
        topics = [t for t in _read_topics(subs, committed_keys, g) if t in partitions]
        reads[g] = [t for t in topics if topic is None or t == topic]
    groups = [g for g in groups if reads[g]]
    now = sim.now
    n = max(0, math.ceil(now / bucket - 1e-9))
    cols = ["throughput", "delivered"] + [f"lag_{g}" for g in groups]
    starts = [round(k * float(bucket), 9) for k in range(n)]
    index = pd.Index(starts, name="time", dtype="float64")
    if n == 0:
        return pd.DataFrame({c: pd.Series(dtype="float64") for c in cols}, index=index)
    appended = [0] * n
    delivered = [0] * n
    lag = {g: [0] * n for g in groups}
    end: dict = {}
    start: dict = {}
    committed: dict = {}
    k_open = 0

    def close(k):
        for g in groups:
            lag[g][k] = _group_lag(g, reads[g], partitions, end, start, committed)

    for r in rows:
        k = min(int(r.time / bucket + 1e-9), n - 1)
        while k_open < k:
            close(k_open)
            k_open += 1
        kind = r.kind
        if kind == "appended":
            appended[k] += r.count
            tp = (r.topic, r.partition)
            if r.offset + r.count > end.get(tp, 0):
                end[tp] = r.offset + r.count
        elif kind == "delivered":
            delivered[k] += r.count
        elif kind == "committed":
            committed[(r.group, r.topic, r.partition)] = r.offset
        elif kind == "expired":
            start[(r.topic, r.partition)] = r.offset + r.count
    while k_open < n:
        close(k_open)
        k_open += 1
    widths = [min(s0 + bucket, now) - s0 for s0 in starts]
    data = {
        "throughput": [a / w for a, w in zip(appended, widths)],
        "delivered": [d / w for d, w in zip(delivered, widths)],
    }
    for g in groups:
        data[f"lag_{g}"] = [float(v) for v in lag[g]]
    return pd.DataFrame(data, index=index, columns=cols)


_PCT = re.compile(r"(^|_)p\d{2,3}($|_)")
#: Column prefixes that share a panel, one line per suffix: ``lag_billing`` and ``lag_scorer`` in "lag".
_FAMILIES = ("latency", "lag", "throughput", "handled", "delivered", "produced", "consumed")


def _family(column: str) -> tuple:
    """(panel, line label) for a metrics column."""
    c = str(column)
    low = c.lower()
    if _PCT.search(low) and "latency" not in low:
        return "latency", c
    for fam in _FAMILIES:
        if low == fam:
            return fam, c
        if low.startswith(fam) and low[len(fam)] in "_:":
            return fam, c[len(fam) + 1 :]
    return c, c


_UNITS = {
    "latency": "virtual s",
    "lag": "records",
    "throughput": "events/s",
    "delivered": "events/s",
    "produced": "events/s",
    "consumed": "events/s",
    "handled": "events/s",
    "processed": "events/s",
    "error_rate": "errors per event",
}


def _unit(panel: str, units: dict) -> str:
    if panel in units:
        return units[panel]
    if panel.endswith("_per_s"):
        return "events/s"
    return ""


def _metrics_size(panels: int) -> tuple:
    return (10.0, min(9.0, max(2.4, 0.8 + 1.45 * panels)))


def draw_metrics(
    frame: pd.DataFrame,
    thresholds: dict | None = None,
    ax=None,
    units: dict | None = None,
    title: str | None = None,
) -> Figure:
    """Small multiples of a metrics frame indexed by virtual time: one panel per metric.

    Works on :func:`core_metrics` and on the service layer's
    ``eda_sim.metrics.metrics`` alike. Each column gets a panel, except that
    columns of one family share a panel with a line each: latency
    percentiles (``p50``, ``latency_p95``, ...), and ``lag_<group>``,
    ``throughput_<topic>``, ``handled_<service>``. ``thresholds`` maps a column
    or a family (``"lag"``, ``"latency"``) to an alert level: a dashed red
    line, with the points above it marked. Units come from the names
    (events/s, virtual s, records; ``*_per_s`` is events/s) or from ``units``
    (panel -> unit). ``ax``: an Axes when there is one panel, or a list of
    Axes, one per panel; by default a figure of the library's size.
    """
    if not isinstance(frame, pd.DataFrame):
        raise TypeError(
            f"draw_metrics expects a DataFrame indexed by virtual time, got {type(frame).__name__}"
        )
    thresholds = dict(thresholds or {})
    units = {**_UNITS, **(units or {})}
    panels: dict = {}
    for col in frame.columns:
        panel, label = _family(col)
        panels.setdefault(panel, []).append((col, label))
    unknown = [k for k in thresholds if k not in frame.columns and k not in panels]
    if unknown:
        known = list(map(str, frame.columns)) + [p for p in panels if p not in frame.columns]
        raise ValueError(
            f"thresholds for unknown metric(s) {', '.join(map(repr, unknown))}; "
            f"metrics are: {', '.join(known) or 'none'}"
        )
    need = max(1, len(panels))
    with matplotlib.rc_context(_STYLE):
        if ax is None:
            fig = _new_figure(_metrics_size(need))
            axes = list(fig.subplots(need, 1, sharex=True, squeeze=False)[:, 0])
        elif isinstance(ax, (list, tuple)):
            axes, fig = list(ax), ax[0].figure
        else:
            axes, fig = [ax], ax.figure
        if len(axes) < need:
            raise ValueError(
                f"draw_metrics draws {need} panels ({', '.join(panels)}); pass that many axes "
                f"as a list, or none"
            )
        if title:
            _title(axes[0], title)
        axes[need - 1].set_xlabel("virtual time (s)")
        if frame.empty or not panels:
            axes[0].text(
                0.5,
                0.5,
                "no metrics yet",
                ha="center",
                va="center",
                color=_GREY,
                transform=axes[0].transAxes,
            )
            return fig
        x = [float(v) for v in frame.index]
        for a, (panel, cols) in zip(axes, panels.items()):
            level = thresholds.get(panel)
            peak = 0.0
            for j, (col, label) in enumerate(cols):
                y = [float(v) for v in frame[col]]
                here = thresholds.get(col, level)
                a.plot(
                    x,
                    y,
                    color=SERIES[j % len(SERIES)],
                    lw=1.6,
                    marker="o" if len(x) <= 30 else None,
                    markersize=3,
                    label=label,
                )
                finite = [v for v in y if v == v]
                peak = max([peak] + finite)
                if here is not None:
                    over = [(xi, v) for xi, v in zip(x, y) if v > here]
                    if over:
                        a.scatter(
                            [o[0] for o in over], [o[1] for o in over], s=28, color=_ALERT, zorder=4
                        )
                    if here != level:
                        a.axhline(
                            here,
                            color=_ALERT,
                            lw=1.3,
                            linestyle="--",
                            label=f"{label}: alert at {here:g}",
                        )
                    peak = max(peak, here)
            if level is not None:
                a.axhline(level, color=_ALERT, lw=1.3, linestyle="--", label=f"alert at {level:g}")
            unit = _unit(panel, units)
            a.set_ylabel(f"{panel}\n({unit})" if unit else panel, fontsize=9)
            a.yaxis.set_major_locator(MaxNLocator(nbins=4))
            a.set_ylim(
                0, peak * 1.15 if peak > 0 else 1
            )  # rates, lags and latencies are never negative
            a.grid(True, axis="y", color="#EEEEEE")
            if (
                len(cols) > 1
                or any(lbl != panel for _c, lbl in cols)
                or level is not None
                or any(c in thresholds for c, _l in cols)
            ):
                a.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
        if ax is None:
            height = fig.get_figheight()
            fig.subplots_adjust(
                left=0.1,
                right=0.8,
                top=1 - (0.4 if title else 0.15) / height,
                bottom=0.55 / height,
                hspace=0.4,
            )
        return fig


def draw_core_metrics(
    sim, bucket: float = 1.0, topic: str | None = None, thresholds: dict | None = None, ax=None
) -> Figure:
    """:func:`draw_metrics` of :func:`core_metrics`: throughput, deliveries and lag over virtual time."""
    return draw_metrics(
        core_metrics(sim, bucket, topic),
        thresholds,
        ax=ax,
        title=f"{topic or 'all topics'} · {bucket:g} s buckets",
    )


# ---------------------------------------------------------------------------------------------
# Trace view


def trace_graph(sim, correlation_id: str) -> nx.DiGraph:
    """One request's causal tree as a networkx DiGraph: event -> the events it caused.

    Nodes carry ``type``, ``topic``, ``depth``, ``published_at`` and, per
    handling service, ``handled_by`` (a list of (service, outcome, started,
    finished)); edges carry the hop's ``delay`` (child published - parent
    published). ``ValueError`` names known correlation ids for an unknown one.
    """
    from .tracing import trace, trace_edges

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
    still waiting (see :func:`eda_sim.tracing.where_stuck`) is marked ``stuck``
    (``lost`` when at-most-once dropped it) with a bar running to now.
    """
    from .tracing import trace, where_stuck

    frame = trace(sim, correlation_id)
    stuck = where_stuck(sim, correlation_id)
    rows = list(frame.itertuples(index=False))
    fig, ax = _figure_and_ax(ax, (10.0, max(2.6, 0.45 * len(rows) + 1.4)))
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
        Patch(facecolor=_LIGHT, edgecolor=_GREY, label="waiting in a topic"),
        Patch(facecolor=_OI["blue"], label="in a handler"),
        Patch(facecolor=_ALERT, label="failed"),
    ]
    ax.legend(handles=legend, loc="lower right", bbox_to_anchor=(1.0, 1.0), frameon=False, ncols=3)
    _title(
        ax,
        f"trace {correlation_id}"
        + (f" · {stuck['state']} at {stuck['service']}" if stuck else " · complete"),
    )
    return fig


#: Views by name, for :func:`eda_sim.widgets.controls` and :func:`eda_sim.widgets.show`:
#: each is ``draw(sim, *args, **kwargs) -> Figure``. Other modules may add theirs.
VIEWS = {
    "flow": draw_flow,
    "board": draw_board,
    "timeline": draw_timeline,
    "metrics": draw_core_metrics,
    "trace": draw_trace,
}
