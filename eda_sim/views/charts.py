"""Metric charts: throughput, deliveries, latency and lag per time bucket.

Model: :func:`core_metrics` (a DataFrame); pictures: :func:`draw_metrics` (any metrics frame) and
:func:`draw_core_metrics`. The model loads without matplotlib.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from typing import TYPE_CHECKING

import pandas as pd

from eda_sim.core.measures import lag as measure_lag
from eda_sim.core.measures import throughput
from eda_sim.core.replay import read_topics, series
from eda_sim.views import figure as _mpl
from eda_sim.views.style import (
    ALERT as _ALERT,
)
from eda_sim.views.style import (
    GREY as _GREY,
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

if TYPE_CHECKING:
    from matplotlib.figure import Figure


# ---------------------------------------------------------------------------------------------
# Metrics


def core_metrics(sim, bucket: float = 1.0, topic: str | None = None) -> pd.DataFrame:
    """Per bucket of virtual time: records appended and delivered per second, and each group's total lag.

    Buckets follow :func:`eda_sim.services.metrics.metrics`: half open,
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
        if r.kind == "joined" and r.group:
            subs[r.group].update(r.data)
    if topic is not None:
        rows = [r for r in rows if r.topic == topic or r.kind == "joined"]
    committed_keys = {
        (r.group, r.topic, r.partition): 0 for r in rows if r.kind == "committed" and r.group
    }
    groups = sorted(set(subs) | {g for g, _t, _p in committed_keys})
    partitions = {name: t.partition_count for name, t in sim.broker.topics.items()}
    reads = {}
    for g in groups:
        topics = [t for t in read_topics(subs, committed_keys, g) if t in partitions]
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
    for k, state, in_bucket in series(rows, bucket, n):
        for r in in_bucket:
            if r.kind == "appended":
                appended[k] += r.count
            elif r.kind == "delivered":
                delivered[k] += r.count
        for g in groups:
            lag[g][k] = sum(
                measure_lag(
                    state.log_start.get((t, p), 0),
                    state.log_end.get((t, p), 0),
                    state.committed.get((g, t, p)),
                )
                for t in reads[g]
                for p in range(partitions.get(t, 0))
            )
    widths = [min(s0 + bucket, now) - s0 for s0 in starts]
    data = {
        "throughput": [throughput(a, w) for a, w in zip(appended, widths)],
        "delivered": [throughput(d, w) for d, w in zip(delivered, widths)],
    }
    for g in groups:
        data[f"lag_{g}"] = [float(v) for v in lag[g]]
    frame = pd.DataFrame(data, index=index, columns=cols)
    frame.attrs.update(bucket=float(bucket), until=now)  # draw_metrics leaves out a partial bucket
    return frame


def full_buckets(frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` without a last bucket that the clock has not finished.

    Metrics frames record their ``bucket`` and ``until`` in ``frame.attrs``.
    A bucket that ends after ``until`` covers only part of its time: a rate
    over a few milliseconds reads 0 or a spike, and a lag sampled mid-bucket
    is not comparable with the others, so it is not drawn. Frames without
    those attributes are returned as they are.
    """
    bucket, until = frame.attrs.get("bucket"), frame.attrs.get("until")
    if bucket is None or until is None or frame.empty:
        return frame
    last = float(frame.index[-1])
    return frame.iloc[:-1] if last + bucket > until + 1e-9 else frame


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
    ``eda_sim.services.metrics.metrics`` alike. Each column gets a panel, except that
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
    span = frame.attrs.get("until")
    frame = full_buckets(frame)
    with _mpl.matplotlib.rc_context(_STYLE):
        if ax is None:
            # a live view draws into its last figure when the panels (so the properties set) match
            kind = (
                "metrics",
                tuple((panel, tuple(cols)) for panel, cols in panels.items()),
                tuple(sorted(thresholds.items())),
                title is not None,
                frame.empty,
                span is None,
            )
            fig, axes = _mpl.figure_and_axes(_metrics_size(need), need, reuse=kind)
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
            _mpl.title(axes[0], title)
        axes[need - 1].set_xlabel("virtual time (s)")
        if span is not None:  # the axis spans the clock, so it stays put while buckets fill in
            axes[need - 1].set_xlim(0, max(float(span), frame.attrs.get("bucket", 1.0)))
        if frame.empty or not panels:
            axes[0].text(
                0.5,
                0.5,
                (
                    f"no full {frame.attrs.get('bucket', 1.0):g} s bucket yet (t = {float(span):.3f} s)"
                    if span is not None
                    else "no metrics yet"
                ),
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
            a.yaxis.set_major_locator(_mpl.MaxNLocator(nbins=4))
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
