"""The per-key timeline: when each record of a key was produced and delivered, and which deliveries came out of order.

Models: :func:`key_timeline` and :func:`out_of_order_pairs` (DataFrames); picture: :func:`draw_timeline`.
The models load without matplotlib.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING

import pandas as pd

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
from eda_sim.views.style import (
    natural as _natural,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure


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
    with _mpl.matplotlib.rc_context(_STYLE):
        fig, ax = _mpl.figure_and_ax(ax, size)
        readers = _delivering_groups(sim, topic)
        g = group or (readers[0] if len(readers) == 1 else "")
        title = f"{topic}: order per {key_field or 'key'}"
        title += f" · delivered to {g}" if g else " · not consumed yet"
        title += f" · {len(pairs)} out-of-order pair{'s' if len(pairs) != 1 else ''}"
        if total_keys > len(shown):
            title += f" · {len(shown)} of {total_keys} keys"
        _mpl.title(ax, title)
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
        ax.add_collection(_mpl.LineCollection(segs, colors="#C8C8C8", linewidths=0.6, zorder=1))
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
                _mpl.LineCollection(red, colors=_ALERT, linewidths=2.0, zorder=4, alpha=0.85)
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
            _mpl.Line2D(
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
            _mpl.Line2D(
                [], [], marker="o", color=colour[p], linestyle="none", label=f"delivered, p{p}"
            )
            for p in parts[:6]
        ]
        handles.append(
            _mpl.Line2D(
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
