"""How long a live view takes to redraw at 10,000 events: ``python benchmarks/redraw.py``.

The worlds: 10,000 keyed records produced at 1,000 per virtual second into a
6-partition topic, read by a 3-member group; and the course's AI flow
(uploader and frontend -> raw-data / inference-requests -> feature-service ->
feature-updates -> realtime-inference -> inference-results -> model-monitor
-> model-alerts) at a rate that makes about 11,000 records.

For each view it prints the best of several runs, in milliseconds, of

* ``model``: the journal replayed into the graph or table,
* ``figure``: model plus building the matplotlib Figure,
* ``draw``: figure plus rendering it with Agg,
* ``redraw``: figure plus rendering and encoding it as PNG, which is what a
  notebook does to show it (the widgets' Output redraw). Target: under 100 ms.

matplotlib spends about 1 ms per text object on a draw (more on a busy
machine), so the figures' text is kept to what a learner reads.

Timing belongs in a benchmark, not a test: figures are printed, not asserted.
"""

from __future__ import annotations

import argparse
import io
import time

from matplotlib.backends.backend_agg import FigureCanvasAgg

from eda_sim import Simulation, views
from eda_sim.course.nb00.world import ai_flow
from eda_sim.services.load import Feed

TARGET_MS = 100.0


def group_world(n: int = 10_000) -> Simulation:
    """``n`` keyed records into 'orders' (6 partitions), read by the 3 members of 'billing'."""
    sim = Simulation(seed=1, name="redraw-group")
    sim.create_topic("orders", partitions=6)
    Feed(sim, "orders", ((f"user-{i % 97}", f"order {i}") for i in range(n)), rate=1000)
    for _ in range(3):
        sim.member(
            "billing", ["orders"], processing_time=0.001, config={"auto.offset.reset": "earliest"}
        )
    sim.run(until=n / 1000 + 2)
    return sim


def ai_world() -> Simulation:
    """The course's AI flow (:mod:`eda_sim.course.nb00.world`) at a higher rate: about 11,000 records."""
    return ai_flow(seed=1, until=40, upload_rate=150, request_rate=100, name="redraw-ai")


def best_ms(fn, repeat: int, clock=time.process_time) -> float:
    """The fastest of ``repeat`` runs of ``fn()``, in milliseconds of ``clock``.

    The default clock is this process's CPU time, so that other work on a
    shared machine does not count; on an idle laptop it matches wall time.
    """
    best = float("inf")
    for _ in range(repeat):
        start = clock()
        fn()
        best = min(best, clock() - start)
    return best * 1000


def calibration_figure(texts: int = 40):
    """A bare 10 x 5 inch figure with ``texts`` short labels: what matplotlib alone costs, to scale the rows by."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=views.FLOW_SIZE, dpi=views.DPI)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.set_axis_off()
    for i in range(texts):
        ax.text(i / texts, (i % 7) / 7, f"feature-service {i:,}", fontsize=9)
    return fig


def png(fig) -> bytes:
    """The figure as PNG bytes, as IPython's inline display makes them (one Agg draw, then encoding)."""
    buf = io.BytesIO()
    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    canvas.print_png(buf)
    return buf.getvalue()


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument(
        "--wall", action="store_true", help="time with the wall clock instead of CPU time"
    )
    args = parser.parse_args(argv)
    clock = time.perf_counter if args.wall else time.process_time
    group, ai = group_world(), ai_world()
    cases = [
        ("flow (group world)", group, lambda s: views.flow_graph(s), lambda s: views.draw_flow(s)),
        ("flow (course AI flow)", ai, lambda s: views.flow_graph(s), lambda s: views.draw_flow(s)),
        (
            "board (orders, 6 partitions)",
            group,
            lambda s: views.board(s, "orders"),
            lambda s: views.draw_board(s, "orders"),
        ),
        (
            "board (orders, at t = 5 s)",
            group,
            lambda s: views.board(s, "orders", time=5.0),
            lambda s: views.draw_board(s, "orders", time=5.0),
        ),
    ]
    print(
        f"records appended: group world {group.broker.appended_total:,} "
        f"({len(group.journal):,} journal rows), AI flow {ai.broker.appended_total:,} "
        f"({len(ai.journal):,} journal rows)"
    )
    unit = f"ms {'wall' if args.wall else 'CPU'}, best of {args.repeat}"
    print(f"{'view':32} {'model':>7} {'figure':>7} {'draw':>7} {'redraw':>7}   ({unit})")
    for name, sim, model, draw in cases:
        draw(sim)  # warm caches (fonts, glyphs)
        m = best_ms(lambda: model(sim), args.repeat, clock)  # noqa: B023
        f = best_ms(lambda: draw(sim), args.repeat, clock)  # noqa: B023
        d = best_ms(lambda: draw(sim).canvas.draw(), args.repeat, clock)  # noqa: B023
        r = best_ms(lambda: png(draw(sim)), args.repeat, clock)  # noqa: B023
        flag = "" if r < TARGET_MS else f"  over the {TARGET_MS:g} ms target"
        print(f"{name:32} {m:7.1f} {f:7.1f} {d:7.1f} {r:7.1f}{flag}")
    f = best_ms(calibration_figure, args.repeat, clock)
    d = best_ms(lambda: calibration_figure().canvas.draw(), args.repeat, clock)
    r = best_ms(lambda: png(calibration_figure()), args.repeat, clock)
    print(f"{'(matplotlib alone: 40 labels)':32} {'':7} {f:7.1f} {d:7.1f} {r:7.1f}")


if __name__ == "__main__":
    main()
