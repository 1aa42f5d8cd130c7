"""What one click of the live controls costs in the kernel, before and after figure reuse.

``python benchmarks/click.py [--clicks N] [--wall]``

For each live world of the course (the worlds and views of notebooks 00,
02, 03, 04 and 10) it presses Step ``N`` times and, at every state, times
two redraws of the same views, interleaved so that a busy machine slows
both alike:

* ``before``: what a click cost before figure reuse: every view builds a
  new figure, Agg renders it, and Pillow encodes the stacked picture as PNG
  (``compress_level=1``; Pillow tries every PNG filter on every row);
* ``now``: :meth:`Controls.redraw`: the flow diagram and the board draw
  into the figure they drew last time (:class:`eda_sim.views.figure.Reuse`),
  and the picture is encoded by zlib with no row filter.

It prints the median of each, in milliseconds, and their ratio, and checks
that both give the same pixels. The browser adds the rest of a click
(the message to the kernel, the PNG's trip back, decoding and layout):
``tests/test_browser.py`` measures the whole click in JupyterLab.

Timing belongs in a benchmark, not a test: figures are printed, not asserted.
"""

from __future__ import annotations

import argparse
import io
import statistics
import time

import numpy as np
from PIL import Image

from eda_sim.views.widgets import controls


def worlds() -> list:
    """(name, build, views) of each notebook's live controls, built as the notebooks build them."""
    from eda_sim.course.nb00.world import ai_flow
    from eda_sim.course.nb02.world import shop_world
    from eda_sim.course.nb03.world import clicks_world
    from eda_sim.course.nb04.world import group_world
    from eda_sim.course.nb10.world import THRESHOLDS, dashboard, storm_world
    from eda_sim.views import draw_metrics

    def scorer_dashboard(sim):
        return draw_metrics(dashboard(sim), thresholds=THRESHOLDS)

    return [
        ("00 flow", lambda: ai_flow(seed=1, until=0, duration=120), ["flow"]),
        ("10 dashboard", lambda: storm_world(40, autoscale=True, until=0).sim, [scorer_dashboard]),
        (
            "02 flow + board",
            lambda: shop_world(until=0.01, recommenders=2),
            ["flow", ("board", "page-views", {"group": "recommender"})],
        ),
        (
            "03 board + timeline",
            lambda: clicks_world(None, partitions=3, until=0),
            [
                ("board", "clicks"),
                ("timeline", "clicks", {"key_field": "user_id", "order_field": "n"}),
            ],
        ),
        (
            "04 board + metrics",
            lambda: group_world(6, partitions=4, until=0),
            [("board", "orders"), "metrics"],
        ),
    ]


def before(ui) -> bytes:
    """The redraw as it was: new figures for every view, the stacked picture encoded by Pillow."""
    figures = [draw(ui.sim) for _label, draw in ui.views]
    frames = []
    for fig in figures:
        fig.canvas.draw()
        frames.append(np.asarray(fig.canvas.buffer_rgba())[:, :, :3])
    width = max(f.shape[1] for f in frames)
    gap = 8 if len(frames) > 1 else 0
    sheet = np.full(
        (sum(f.shape[0] for f in frames) + gap * (len(frames) - 1), width, 3), 255, np.uint8
    )
    y = 0
    for f in frames:
        sheet[y : y + f.shape[0], : f.shape[1]] = f
        y += f.shape[0] + gap
    buf = io.BytesIO()
    Image.fromarray(sheet).save(buf, format="png", compress_level=1)
    return buf.getvalue()


def now(ui) -> bytes:
    ui.redraw()
    return bytes(ui.picture.value)


def pixels(png: bytes):
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clicks", type=int, default=8, help="Steps per world (default 8)")
    parser.add_argument("--wall", action="store_true", help="wall clock instead of CPU time")
    args = parser.parse_args(argv)
    clock = time.perf_counter if args.wall else time.process_time
    unit = "ms wall" if args.wall else "ms CPU"
    print(
        f"{'live world (views)':22} {'before':>8} {'now':>8} {'now/before':>11}   (median {unit})"
    )
    for name, build, views in worlds():
        ui = controls(build, views, tick=1.0)
        before(ui), now(ui)  # warm caches (fonts, glyphs) and the kept figures
        old, new, same = [], [], True
        for _ in range(args.clicks):
            ui.step()
            for runs, redraw in ((old, before), (new, now)):
                start = clock()
                png = redraw(ui)
                runs.append((clock() - start) * 1000)
                if redraw is before:
                    want = png
            same = same and np.array_equal(pixels(want), pixels(png))
        a, b = statistics.median(old), statistics.median(new)
        note = "" if same else "   PIXELS DIFFER"
        print(f"{name:22} {a:8.1f} {b:8.1f} {b / a:11.2f}{note}")


if __name__ == "__main__":
    main()
