"""The text a picture draws is checked as data: the partition board writes each partition's lag,
and it must be the lag of the board's model (a planted bug labelling the committed offset as the
lag survived every test before issue 19)."""

import matplotlib

matplotlib.use("Agg")

from eda_sim import Simulation  # noqa: E402
from eda_sim.kafka import TopicPartition  # noqa: E402
from eda_sim.views.partition_board import board, draw_board  # noqa: E402


def test_the_lag_the_board_writes_is_the_lag_of_its_model():
    sim = Simulation(seed=3, name="board-text")
    sim.create_topic("t", partitions=3)
    p = sim.producer()
    for part, n in ((0, 7), (1, 4), (2, 2)):
        for i in range(n):
            p.produce("t", value=str(i), partition=part)
    p.flush()
    c = sim.consumer(
        {"group.id": "g", "enable.auto.commit": False, "auto.offset.reset": "earliest"}
    )
    c.subscribe(["t"])
    c.consume(20, 0.1)
    c.commit(offsets=[TopicPartition("t", 0, 2), TopicPartition("t", 1, 4)], asynchronous=False)
    model = board(sim, "t", group="g").set_index("partition")
    fig = draw_board(sim, "t", group="g")
    texts = [t.get_text() for ax in fig.axes for t in ax.texts]
    lags = sorted(t for t in texts if t.startswith("lag"))
    assert len(lags) == 3
    want = sorted(
        "lag –"
        if model.loc[q, "lag"] is None or str(model.loc[q, "lag"]) == "<NA>"
        else f"lag {int(model.loc[q, 'lag'])}"
        for q in range(3)
    )
    assert [t.split(" ·")[0] for t in lags] == want
    assert int(model.loc[0, "lag"]) == 5 and int(model.loc[0, "committed"]) == 2
    assert any(t.startswith("lag 5") for t in texts) and not any(
        t.startswith("lag 2 ") for t in texts
    )


# -- a legend for every mark ------------------------------------------------------------------------

NEUTRAL_INK = {"#000000", "#666666"}  # labels (p0, idle, lag 0) written in black or grey


def _hex(colour) -> str:
    from matplotlib.colors import to_hex

    return to_hex(colour, keep_alpha=False)


def _legend_marks(ax) -> set:
    """What each legend entry shows, as data: ('patch', face, hatch) or ('line', colour, marker)."""
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    marks = set()
    for handle in ax.get_legend().legend_handles:
        if isinstance(handle, Patch):
            marks.add(("patch", _hex(handle.get_facecolor()), handle.get_hatch() or ""))
        elif isinstance(handle, Line2D):
            marks.add(("line", _hex(handle.get_color()), str(handle.get_marker())))
    return marks


def _unexplained_marks(fig) -> list:
    """Every mark on the board (strips, outlines, lines, markers, coloured text) no legend entry shows."""
    from matplotlib.patches import Rectangle

    ax = fig.axes[0]
    legend = _legend_marks(ax)
    faces = {face for kind, face, _h in legend if kind == "patch"}
    ink = {colour for kind, colour, _m in legend if kind == "line" and colour not in NEUTRAL_INK}
    missing = []
    for patch in ax.patches:
        if not isinstance(patch, Rectangle):
            continue
        if patch.get_fill():
            mark = ("patch", _hex(patch.get_facecolor()), patch.get_hatch() or "")
            if mark not in legend:
                missing.append(mark)
        elif _hex(patch.get_edgecolor()) not in faces | {
            "#bbbbbb"
        }:  # an outline: its strip's colour
            missing.append(("outline", _hex(patch.get_edgecolor())))
    for line in ax.lines:
        mark = ("line", _hex(line.get_color()), str(line.get_marker()))
        square = line.get_marker() == "s" and mark[1] in faces  # an idle member's swatch
        if mark not in legend and not square:
            missing.append(mark)
    for text in ax.texts:
        colour = _hex(text.get_color())
        if colour not in NEUTRAL_INK and colour not in ink:
            missing.append(("text", colour, text.get_text()))
    return missing


def _legend_world():
    """Retention trims 'orders', a member crashes, one sits idle, one lags: every mark at once."""
    from eda_sim.services.load import Feed

    sim = Simulation(seed=4, name="board-legend")
    # the broker looks for expired segments every 300 s (log.retention.check.interval.ms)
    sim.create_topic("orders", partitions=2, config={"retention.ms": 3000, "segment.ms": 1000})
    Feed(sim, "orders", ((f"user-{i % 7}", f"order {i}") for i in range(1300)), rate=4)
    cfg = {"session.timeout.ms": 30000, "auto.offset.reset": "earliest"}
    members = [
        sim.member("billing", ["orders"], processing_time=0.05, config=cfg, name=f"m{i}")
        for i in range(3)
    ]
    sim.crash(members[0], at=299.0)
    sim.run(until=305.0)
    return sim


def test_every_mark_the_board_draws_has_a_legend_entry():
    sim = _legend_world()
    frame = board(sim, "orders")
    # the world shows what the test is about: expired offsets, a crash, an idle member, lag
    assert (frame["log_start"] > 0).any() and frame["crashed"].any()
    assert (frame["lag"] > 0).any()
    fig = draw_board(sim, "orders")
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert any("idle: no partition" in t for t in texts)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "lag > 0" in labels and "deleted: retention, delete_records" in labels
    assert _unexplained_marks(fig) == []


def test_a_board_without_lag_has_no_lag_entry():
    sim = Simulation(seed=5, name="board-no-lag")
    sim.create_topic("t", partitions=1)
    c = sim.consumer({"group.id": "g", "auto.offset.reset": "earliest"})
    c.subscribe(["t"])
    c.consume(1, 0.5)
    fig = draw_board(sim, "t", group="g")
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "lag > 0" not in labels and _unexplained_marks(fig) == []


def test_each_legend_entry_names_the_mark_it_shows():
    # The line drawn at the committed offset is called "committed", the marker at the position
    # "position": a legend that swapped or renamed them would teach the wrong word.
    fig = draw_board(_legend_world(), "orders")
    legend = fig.axes[0].get_legend()
    named = {t.get_text(): h for h, t in zip(legend.legend_handles, legend.get_texts())}
    assert named["committed"].get_marker() in ("None", "", None)
    assert named["committed"].get_linestyle() == "-"
    assert named["position"].get_marker() == "v"
