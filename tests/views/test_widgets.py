"""Widget controls, headless: buttons and Play drive the simulation, Reset and knobs rebuild it, views redraw."""

import matplotlib

matplotlib.use("Agg")

import ipywidgets as W  # noqa: E402
import pytest  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from eda_sim import Simulation  # noqa: E402
from eda_sim.services.load import Feed  # noqa: E402
from eda_sim.views.widgets import Controls, Figures, controls, knob, show  # noqa: E402

BUILDS: list = []


def build(partitions: int = 3, fast: bool = False, seed: int = 7) -> Simulation:
    BUILDS.append({"partitions": partitions, "fast": fast, "seed": seed})
    sim = Simulation(seed=seed, name="widgets")
    sim.create_topic("orders", partitions=partitions)
    Feed(sim, "orders", ((f"user-{i % 9}", f"order {i}") for i in range(400)), rate=100)
    sim.member(
        "billing",
        ["orders"],
        processing_time=0.001 if fast else 0.02,
        config={"auto.offset.reset": "earliest"},
    )
    return sim


def make(**kw) -> Controls:
    BUILDS.clear()
    return controls(
        build,
        ["flow", ("board", "orders")],
        knobs={"partitions": (1, 8, 1, 3), "fast": False},
        **kw,
    )


def test_controls_show_the_parts_and_draw_the_views_at_once():
    ui = make()
    assert isinstance(ui, W.VBox) and isinstance(ui.picture, W.Image)
    assert bytes(ui.picture.value).startswith(b"\x89PNG")
    assert ui.time_label.value == "t = 0.000 s · 1 journal rows"
    assert [type(f) for f in ui.figures] == [Figure, Figure] and ui.errors == []
    assert BUILDS == [{"partitions": 3, "fast": False, "seed": 7}]
    assert ui.sim.topic("orders").partition_count == 3


def test_step_button_steps_the_simulation_and_redraws():
    ui = make()
    sim, before = ui.sim, ui.figures
    ui.step_button.click()
    assert ui.sim is sim and sim.journal.written > 1
    assert ui.time_label.value == f"t = {sim.now:.3f} s · {sim.journal.written:,} journal rows"
    assert ui.figures is not before
    for _ in range(8):
        ui.step_button.click()
    assert sim.now > 0 and ui.time_label.value.startswith(f"t = {sim.now:.3f} s")


def test_play_ticks_advance_virtual_time_by_the_tick():
    ui = make(tick=0.25)
    ui.play.value += 1
    assert ui.sim.now == pytest.approx(0.25)
    ui.play.value += 3  # a jump of several ticks at once is still one tick's work per change
    assert ui.sim.now == pytest.approx(0.5)
    assert "t = 0.500 s" in ui.time_label.value


def test_speed_slider_sets_the_play_interval():
    ui = make(interval=400)
    assert ui.play.interval == 400
    ui.speed.value = 100
    assert ui.play.interval == 100


def test_reset_rebuilds_the_same_world_from_the_same_seed():
    ui = make()
    first = ui.sim
    for _ in range(5):
        ui.play.value += 1
    ui.reset_button.click()
    assert ui.sim is not first and ui.sim.now == 0 and ui.play.value == 0 and not ui.play.playing
    assert ui.time_label.value == "t = 0.000 s · 1 journal rows"
    ui.advance(2.5)
    twin = build()
    twin.run(until=2.5)
    assert ui.sim.journal.digest() == twin.journal.digest()


def test_knobs_rebuild_with_their_new_values():
    ui = make()
    ui.knobs["partitions"].value = 5
    assert ui.sim.topic("orders").partition_count == 5
    ui.knobs["fast"].value = True
    assert BUILDS[-1] == {"partitions": 5, "fast": True, "seed": 7}
    ui.reset_button.click()
    assert BUILDS[-1] == {"partitions": 5, "fast": True, "seed": 7}
    assert ui.knob_values() == {"partitions": 5, "fast": True}


def test_knob_specs():
    assert isinstance(knob("n", (1, 8, 1, 3)), W.IntSlider) and knob("n", (1, 8, 1, 3)).value == 3
    assert knob("n", (0, 10)).value == 5  # no default: the middle, as ipywidgets.interact does
    assert isinstance(knob("x", (0.0, 1.0, 0.1)), W.FloatSlider)
    assert isinstance(knob("on", True), W.Checkbox) and knob("on", True).value is True
    assert knob("mode", ["eager", "cooperative"]).value == "eager"
    ready = W.IntText(value=4)
    assert knob("n", ready) is ready and ready.description == "n"
    with pytest.raises(TypeError, match=r"expected \(min, max\[, step\[, default\]\]\)"):
        knob("bad", {"a": 1})
    with pytest.raises(ValueError, match="outside"):
        knob("n", (1, 8, 1, 9))


def test_views_given_as_functions_and_failing_views_are_reported_not_raised():
    def count(sim):
        fig = Figure()
        fig.add_subplot().set_title(f"{sim.journal.written} rows")
        return fig

    ui = controls(build, [count, ("board", "no-such-topic")])
    assert len(ui.figures) == 1
    assert ui.errors == [
        "board('no-such-topic'): ValueError: unknown topic 'no-such-topic'; topics are: orders"
    ]


def test_bad_arguments_say_what_is_expected():
    with pytest.raises(ValueError, match="unknown view 'flows'.*board, flow, metrics, timeline"):
        controls(build, ["flows"])
    with pytest.raises(TypeError, match="build must be a function"):
        controls("build", ["flow"])
    with pytest.raises(TypeError, match="must return a Simulation"):
        controls(lambda: 42, ["flow"])
    with pytest.raises(ValueError, match="tick must be a positive number"):
        controls(build, ["flow"], tick=0)


def test_show_draws_the_same_views_as_plain_figures():
    ui = make()
    ui.advance(1.0)
    figs = show(ui.sim, "flow", ("board", "orders"))
    assert isinstance(figs, Figures) and [repr(f) for f in figs] == [repr(f) for f in ui.figures]
    assert repr(figs[0]) == "<Figure size 1000x500 with 1 Axes>"
    assert len(show(ui.sim)) == 1  # the flow diagram by default


def test_several_views_are_one_picture_replaced_in_place():
    import io

    from PIL import Image

    ui = make()
    image = ui.picture
    ui.step_button.click()
    assert ui.picture is image and len(ui.figures) == 2  # the same Image widget, a new frame
    heights = [round(f.get_figheight() * f.dpi) for f in ui.figures]
    frame = Image.open(io.BytesIO(bytes(ui.picture.value)))
    assert frame.height == sum(heights) + 8  # both views, one under the other, 8 px apart
    assert frame.width == max(round(f.get_figwidth() * f.dpi) for f in ui.figures)


def test_a_step_ends_on_a_whole_moment_where_the_picture_changed():
    from eda_sim.views.widgets import QUIET_KINDS

    ui = make()
    for _ in range(6):
        shown = bytes(ui.picture.value)
        rows = ui.step()
        assert rows and any(r.kind not in QUIET_KINDS for r in rows)
        assert ui.sim.env.peek() > ui.sim.now  # nothing more is due at the instant shown
        assert bytes(ui.picture.value) != shown
        assert ui.time_label.value.startswith(f"t = {ui.sim.now:.3f} s")


def test_a_partial_last_bucket_is_not_drawn_and_the_axis_spans_the_clock():
    from eda_sim.views.charts import core_metrics, draw_core_metrics, full_buckets

    sim = build()
    sim.run(until=3.004)  # the last 1 s bucket has run 4 ms: its rate would read 0 or a spike
    frame = core_metrics(sim)
    assert list(frame.index) == [0.0, 1.0, 2.0, 3.0]
    assert list(full_buckets(frame).index) == [0.0, 1.0, 2.0]
    fig = draw_core_metrics(sim)
    line = fig.axes[0].get_lines()[0]
    assert list(line.get_xdata()) == [0.0, 1.0, 2.0]
    assert fig.axes[-1].get_xlim() == (0.0, 3.004)
    sim.run(until=4.0)  # now whole: all four buckets drawn
    assert list(draw_core_metrics(sim).axes[0].get_lines()[0].get_xdata()) == [0.0, 1.0, 2.0, 3.0]


# -- redraws reuse figures and give the pictures fresh figures give -----------------------------------


def _pixels(png: bytes):
    import io

    import numpy as np
    from PIL import Image

    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))


def _fresh_pixels(ui):
    """The picture ``ui`` should show, drawn from new figures and encoded by Pillow."""
    import numpy as np

    frames = []
    for _label, draw in ui.views:
        fig = draw(ui.sim)
        fig.canvas.draw()
        frames.append(np.asarray(fig.canvas.buffer_rgba())[:, :, :3])
    width, gap = max(f.shape[1] for f in frames), 8
    sheet = np.full((sum(f.shape[0] for f in frames) + gap * (len(frames) - 1), width, 3), 255)
    y = 0
    for f in frames:
        sheet[y : y + f.shape[0], : f.shape[1]] = f
        y += f.shape[0] + gap
    return sheet


def crash_and_idle_world() -> Simulation:
    """Three members on two partitions (one idle) of 'orders'; one crashes at 1 s, its group shrinks."""
    sim = Simulation(seed=11, name="widgets-reuse")
    sim.create_topic("orders", partitions=2)
    Feed(sim, "orders", ((f"user-{i % 5}", f"order {i}") for i in range(300)), rate=60)
    cfg = {"session.timeout.ms": 1500, "auto.offset.reset": "earliest"}
    members = [
        sim.member("billing", ["orders"], processing_time=0.03, config=cfg, name=f"b{i}")
        for i in range(3)
    ]
    sim.crash(members[0], at=1.0)
    return sim


def test_a_redraw_into_the_kept_figures_shows_what_new_figures_show():
    import numpy as np

    ui = controls(crash_and_idle_world, ["flow", ("board", "orders")], tick=0.7)
    kept = list(ui.figures)
    for k in range(5):  # members join, own, crash, time out and rebalance: rows and marks change
        ui.step() if k % 2 else ui.advance()
        assert np.array_equal(_pixels(bytes(ui.picture.value)), _fresh_pixels(ui)), f"frame {k}"
    assert ui.figures[0] is kept[0]  # the flow diagram is drawn into the same figure every time
    assert ui.sim.now > 1.5


def test_a_view_that_draws_twice_in_one_redraw_gets_two_figures():
    from eda_sim.views import draw_board

    pairs = []

    def both(sim):
        pairs.append((draw_board(sim, "orders"), draw_board(sim, "orders")))
        return pairs[-1][1]

    ui = controls(build, [both])
    ui.step()
    assert all(a is not b for a, b in pairs) and len(pairs) == 2
    assert pairs[0][0] is pairs[1][0]  # the first one is kept between redraws


def test_metrics_panels_redrawn_into_kept_axes_match_new_ones():
    import numpy as np

    ui = controls(crash_and_idle_world, [("board", "orders"), "metrics"], tick=0.6)
    for k in range(5):  # from "no full bucket yet" to panels with lines
        ui.step() if k % 2 else ui.advance()
        assert np.array_equal(_pixels(bytes(ui.picture.value)), _fresh_pixels(ui)), f"frame {k}"
    assert ui.sim.now >= 1.5


def test_show_draws_new_figures_every_time():
    ui = make()
    assert show(ui.sim, "flow")[0] is not show(ui.sim, "flow")[0]
