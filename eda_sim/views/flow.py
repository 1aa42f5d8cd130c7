"""The flow diagram: producers, topics and services as a graph, events counted on each edge.

Model: :func:`flow_graph` (a networkx graph) and :func:`flow_layout`; picture: :func:`draw_flow`.
The model loads without matplotlib.
"""

from __future__ import annotations

import math
from collections import defaultdict
from typing import TYPE_CHECKING

import networkx as nx

from eda_sim.core.measures import replayed_group_lag
from eda_sim.core.replay import check_time as _check_time
from eda_sim.core.replay import state_at as _state
from eda_sim.services.retries import DLT_SUFFIX
from eda_sim.views import figure as _mpl
from eda_sim.views.style import (
    ALERT as _ALERT,
)
from eda_sim.views.style import (
    FLOW_SIZE,
    LAG_THRESHOLD,
)
from eda_sim.views.style import (
    GREY as _GREY,
)
from eda_sim.views.style import (
    KIND_ORDER as _KIND_ORDER,
)
from eda_sim.views.style import (
    OI as _OI,
)
from eda_sim.views.style import (
    STYLE as _STYLE,
)
from eda_sim.views.style import (
    count_text as _count,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure


# ---------------------------------------------------------------------------------------------
# Flow diagram


def _node(kind: str, name: str) -> str:
    return f"{kind}:{name}"


def flow_graph(
    sim, time: float | None = None, lag_threshold: int = LAG_THRESHOLD, *, brokers: bool = False
) -> nx.DiGraph:
    """The flow of events as a directed graph: producers -> topics -> services/groups -> topics.

    Node ids are ``"<kind>:<name>"`` with kind ``producer``, ``topic``,
    ``service`` or ``group``. A *service* is a consumer group with a producer
    of the same name (``client.id == group.id``, as :class:`~eda_sim.services.service.Service`
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
    (produced to a ``*.DLT`` topic) and ``dlt`` (a dead-letter topic). On a
    cluster, topics also carry ``replication`` (the replication factor),
    ``under_replicated`` (partitions whose ISR is smaller) and ``offline``
    (partitions with no leader), which the drawing marks.

    With ``brokers=True`` the graph also has one node per broker (``"broker:<id>"``,
    kind ``broker``, name ``broker-<id>``) with ``broker`` (its id), ``down``
    (crashed and not restarted), ``leads`` (partitions it leads) and ``replicas``
    (partition replicas it holds), and an edge ``broker -> topic`` with ``leads``
    (how many of the topic's partitions it leads) for each topic it leads
    partitions of. All of it is replayed from the journal at ``time``: the
    placement from 'topic_created', leaders from 'leader_elected' and
    'partition_offline', up and down from 'broker_crashed' and 'broker_restarted'.
    A crashed leader keeps its partitions until the controller fences it (after
    ``broker.session.timeout.ms``), as it does in Kafka. Without a cluster there
    is one broker, ``broker-0``, leading every partition.
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

    lag = {grp: replayed_group_lag(s, grp, s.read_topics(grp)) for grp in groups}
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
            # on a cluster: partitions with fewer in-sync replicas than replicas, and with no leader
            rf = s.replication.get(name, 1)
            parts = [(name, p) for p in range(data["partitions"])]
            data["replication"] = rf
            data["under_replicated"] = sum(1 for tp in parts if len(s.isr.get(tp, range(rf))) < rf)
            data["offline"] = sum(1 for tp in parts if tp in s.offline)
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
    if brokers:
        _add_brokers(g, s, len(sim.cluster.nodes) if sim.cluster is not None else 1)
    return g


def _add_brokers(g: nx.DiGraph, s, count: int) -> None:
    """Broker nodes and ``broker -> topic`` leadership edges, from the replayed state ``s``."""
    leads: dict = defaultdict(lambda: defaultdict(int))  # broker -> topic -> partitions led
    hosted: dict = defaultdict(int)
    for topic in sorted(s.partitions):
        for p in range(s.partitions[topic]):
            tp = (topic, p)
            replicas = s.replicas.get(tp, (0,))  # one broker: it holds and leads everything
            for b in replicas:
                hosted[b] += 1
            leader = s.leader.get(tp, replicas[0])
            if leader >= 0 and tp not in s.offline:
                leads[leader][topic] += 1
    for b in range(count):
        node = _node("broker", str(b))
        g.add_node(
            node,
            kind="broker",
            name=f"broker-{b}",
            broker=b,
            events=0,
            produced=0,
            delivered=0,
            down=b in s.brokers_down,
            lagging=False,
            dead_lettering=False,
            dlt=False,
            lag=0,
            members=0,
            crashed=0,
            leads=sum(leads[b].values()),
            replicas=hosted[b],
        )
        for topic in sorted(leads[b]):
            g.add_edge(
                node,
                _node("topic", topic),
                leads=leads[b][topic],
                events=0,
                weight=0,
                declared=False,
            )


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

    Broker nodes (``flow_graph(..., brokers=True)``) are not part of the flow:
    they sit on a row of their own below it, in id order, spread across its
    width, and leave every other node where it would be without them.
    """
    brokers = sorted(
        (n for n in graph if graph.nodes[n].get("kind") == "broker"),
        key=lambda n: graph.nodes[n]["broker"],
    )
    if brokers:
        pos = flow_layout(graph.subgraph(n for n in graph if n not in set(brokers)))
        xs = [x for x, _y in pos.values()] or [0.0]
        lo, hi = min(xs), max(xs)
        y = min([y for _x, y in pos.values()] or [0.0]) - 1.2
        width = max(hi - lo, 1.0 * (len(brokers) - 1))
        left = (lo + hi) / 2 - width / 2
        for i, node in enumerate(brokers):
            x = left + width * i / (len(brokers) - 1) if len(brokers) > 1 else (lo + hi) / 2
            pos[node] = (float(x), float(y))
        return pos
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


_FLOW_FILL = {
    "producer": "#DCEAF5",
    "service": "#D5EFE6",
    "group": "#FBEBCB",
    "topic": "#F2F2F2",
    "broker": "#F6E4EE",
}
_FLOW_EDGE = {
    "producer": _OI["blue"],
    "service": _OI["green"],
    "group": _OI["orange"],
    "topic": "#555555",
    "broker": _OI["purple"],
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
    sim,
    time: float | None = None,
    ax=None,
    lag_threshold: int = LAG_THRESHOLD,
    *,
    brokers: bool = False,
) -> Figure:
    """Draw :func:`flow_graph`: boxes for producers and services, rounded boxes for topics.

    Edges are labelled with their event counts (dashed when declared but
    unused so far); marks: a red ``DOWN`` on a group without live members, an
    orange ``LAG n`` above ``lag_threshold``, red borders on dead-letter topics
    and a ``→ DLT`` on whoever writes to them. Positions come from
    :func:`flow_layout` of the whole journal, so drawing an earlier ``time``
    keeps every node where it is now. ``brokers=True`` adds a row of brokers
    below the flow (a red dashed ``DOWN`` box for a crashed one), each with
    dotted lines to the topics whose partitions it leads, labelled with how
    many (see :func:`flow_graph`).
    """
    t = _check_time(sim, time)
    graph = flow_graph(sim, time, lag_threshold, brokers=brokers)
    pos = flow_layout(
        flow_graph(sim, None, lag_threshold, brokers=brokers) if time is not None else graph
    )
    with _mpl.matplotlib.rc_context(_STYLE):
        own = ax is None
        fig, ax = _mpl.figure_and_ax(ax, FLOW_SIZE, reuse="flow")
        if own:
            ax.set_position([0.01, 0.09, 0.98, 0.83])
        ax.set_axis_off()
        _mpl.title(ax, f"Event flow at t = {t:.3f} s (virtual)")
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
            if topic or kind == "broker":  # a client's counts are on its edges
                text = (
                    f"{_count(d['events'])} event{'' if d['events'] == 1 else 's'} · {d['partitions']} part."
                    if topic
                    else f"{d['replicas']} replica{'' if d['replicas'] == 1 else 's'} · leads {d['leads']}"
                )
                ax.annotate(
                    text,
                    (x, y),
                    xytext=(0, -21 if "\n" not in _wrap(d["name"]) else -28),
                    textcoords="offset points",
                    ha="center",
                    va="top",
                    fontsize=7.5,
                    color="#444444",
                )
            marks = []
            if d.get("offline"):
                marks.append((f"{d['offline']} part. OFFLINE", _ALERT, "white"))
            elif d.get("under_replicated"):
                marks.append(
                    (
                        f"{d['under_replicated']} part. ISR < {d['replication']}",
                        _OI["orange"],
                        "black",
                    )
                )
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
        half = _mpl.box_half_sizes(fig, boxes, pad=0.45 * 9.5)
        to_px = ax.transData.transform
        for a, b in sorted(graph.edges):
            d = graph.edges[a, b]
            if "leads" in d:  # a broker leading partitions of a topic: not a flow of events
                _draw_lead(ax, pos[a], pos[b], d["leads"], graph.nodes[a]["down"])
                continue
            back = pos[b][0] <= pos[a][0]
            width = 0.8 + 2.6 * math.log1p(d["events"]) / math.log1p(top)
            colour = _ALERT if graph.nodes[b].get("dlt") else "#4D4D4D"
            (ax_, ay_), (bx_, by_) = to_px(pos[a]), to_px(pos[b])
            shrink_a = _mpl.to_edge(half[a], bx_ - ax_, by_ - ay_, fig.dpi) + 3
            shrink_b = _mpl.to_edge(half[b], bx_ - ax_, by_ - ay_, fig.dpi) + 3
            # add_artist, not add_patch: the limits are set, and add_patch would compute each
            # arrow's path (shrunk by bisection) once more only to update the data limits
            ax.add_artist(
                _mpl.FancyArrowPatch(
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
            _mpl.Patch(facecolor=_FLOW_FILL[k], edgecolor=_FLOW_EDGE[k], label=label)
            for k, label in (
                ("producer", "producer"),
                ("topic", "topic"),
                ("service", "service (group + producer)"),
                ("group", "consumer group"),
                ("broker", "broker (leads partitions)"),
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


def _draw_lead(ax, a: tuple, b: tuple, leads: int, down: bool) -> None:
    """A dotted line from a broker up to a topic it leads partitions of, labelled with how many."""
    colour = _ALERT if down else _OI["purple"]
    # stop short of the topic, so the line does not run through its count underneath
    k = 1 - 0.35 / max(abs(b[1] - a[1]), 0.35)
    end = (a[0] + (b[0] - a[0]) * k, a[1] + (b[1] - a[1]) * k)
    ax.plot(
        [a[0], end[0]], [a[1], end[1]], linestyle=":", color=colour, lw=1.3, zorder=1, alpha=0.8
    )
    ax.annotate(
        f"leads {leads}",
        ((a[0] + b[0]) / 2, a[1] + (b[1] - a[1]) * 0.35),
        ha="center",
        va="center",
        fontsize=7,
        color=colour,
        zorder=4,
        bbox=dict(boxstyle="round,pad=0.1", facecolor="white", edgecolor="none", alpha=0.8),
    )
