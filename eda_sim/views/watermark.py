"""The watermark picture: event time against processing time, the watermark, and late records.

Each record a :class:`~eda_sim.streams.StreamApp` handled is a dot at (when it
was processed, when it happened); the line is each partition's watermark (the
largest event time seen minus the allowed lateness) as processing went on. A
record below the line came after the watermark passed it; a red cross is one
whose windows had already closed (later than lateness + grace), sent to the
late topic. On a diagonal world (processing time = event time) every dot would
sit on one line: the vertical spread is how far event time and processing time
drift apart.
"""

from __future__ import annotations

from eda_sim.views import figure as _mpl
from eda_sim.views.style import ALERT, SERIES

SIZE = (9.0, 4.0)


def draw_watermark(app, start: float | None = None, end: float | None = None):
    """Draw :meth:`StreamApp.timeline` as event time over processing time with the watermark,
    for records processed between ``start`` and ``end`` (virtual seconds; default all)."""
    frame = app.timeline()
    if start is not None:
        frame = frame[frame["processed_at"] >= start]
    if end is not None:
        frame = frame[frame["processed_at"] <= end]
    fig = _mpl.new_figure(SIZE)
    ax = fig.add_subplot(1, 1, 1)
    for p, part in frame.groupby("partition", sort=True):
        colour = SERIES[int(p) % len(SERIES)]
        ok = part[~part["late"]]
        ax.scatter(ok["processed_at"], ok["event_time"], s=10, color=colour, label=f"partition {p}")
        wm = part[part["watermark"] > float("-inf")]
        ax.step(
            wm["processed_at"], wm["watermark"], where="post", color=colour, linewidth=1, alpha=0.7
        )
    late = frame[frame["late"]]
    if len(late):
        ax.scatter(
            late["processed_at"],
            late["event_time"],
            s=40,
            marker="x",
            color=ALERT,
            label="late: to the side topic",
        )
    ax.set_xlabel("processing time (virtual s)")
    ax.set_ylabel("event time (s)")
    _mpl.title(ax, f"{app.name}: event time, watermark (lines) and late records")
    ax.legend(loc="upper left", fontsize=8, frameon=False)
    return fig
