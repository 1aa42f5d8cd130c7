"""Projector mode: text drawn larger against the picture, on screen at the same size; off by default."""

from __future__ import annotations

import pytest

from eda_sim.views import figure, projector


@pytest.fixture(autouse=True)
def _off(monkeypatch):
    monkeypatch.delenv("EDA_SIM_PROJECTOR", raising=False)
    monkeypatch.setattr(projector, "_scale", None)


def _text_height(fig) -> float:
    text = fig.text(0.5, 0.5, "lag 120", fontsize=10)
    fig.canvas.draw()
    return text.get_window_extent().height


def test_off_by_default_and_the_same_pixels_when_on():
    plain = figure.new_figure((10.0, 5.0))
    assert projector.scale() == 1.0 and plain.dpi == 100
    projector.projector(1.5)
    big = figure.new_figure((10.0, 5.0))
    size = lambda f: tuple(round(v) for v in f.get_size_inches() * f.dpi)
    assert size(big) == size(plain) == (1000, 500)
    assert _text_height(big) == pytest.approx(1.5 * _text_height(plain), rel=0.05)


def test_the_environment_turns_it_on_and_bad_values_are_refused(monkeypatch):
    monkeypatch.setenv("EDA_SIM_PROJECTOR", "2")
    assert projector.scale() == 2.0
    monkeypatch.setattr(projector, "_scale", None)
    monkeypatch.setenv("EDA_SIM_PROJECTOR", "big")
    with pytest.raises(ValueError, match="number from 1 to 3"):
        projector.scale()
    with pytest.raises(ValueError, match="got 5"):
        projector.projector(5)


def test_controls_get_a_larger_font():
    html = projector.projector(1.5).data
    assert "--jp-widgets-font-size:20px" in html and "--jp-widgets-inline-height:42px" in html
    projector.projector(1)
    assert projector.scale() == 1.0


def _sizes(box) -> dict:
    """Font size of each widget in ``box`` whose style has one, by class name, and the style sheets."""
    sizes = {}
    for w in projector._tree(box):
        if "eda-projector" in w._dom_classes:  # the style sheet shows no text of its own
            continue
        style = getattr(w, "style", None)
        if style is not None and style.has_trait("font_size"):
            sizes.setdefault(type(w).__name__, set()).add(style.font_size)
    sheets = [w.value for w in projector._tree(box) if "eda-projector" in w._dom_classes]
    return {"sizes": sizes, "sheets": sheets}


def _boxes():
    from eda_sim import Simulation
    from eda_sim.views.widgets import controls, explore

    def build(partitions=2):
        sim = Simulation(seed=3, name="room")
        sim.create_topic("orders", partitions=partitions)
        return sim

    ui = controls(build, [lambda sim: figure.new_figure((2.0, 1.0))], knobs={"partitions": (1, 4)})
    box = explore(lambda n=1, label="a": f"{label} x {n}", n=(1, 5), label=["a", "b"])
    return ui, box


def test_every_control_gets_larger_text_when_on_and_the_default_when_off():
    plain = [_sizes(b) for b in _boxes()]
    for found in plain:  # off: ipywidgets' defaults (no size set: None), no style sheet
        assert found["sheets"] == []
        assert all(sizes == {None} for sizes in found["sizes"].values())
    assert {"Button", "HTML"} <= set(plain[0]["sizes"])  # Step/Reset and the readouts
    projector.projector(2)
    for found in (_sizes(b) for b in _boxes()):
        assert all(sizes == {"26px"} for sizes in found["sizes"].values()), found
        # sliders, dropdowns and printed tables have no font size of their own: the sheet sizes them
        (sheet,) = found["sheets"]
        assert "--jp-widgets-font-size:26px" in sheet and "table" in sheet
        assert ".jp-OutputArea-output table,.jp-OutputArea-output pre{font-size:26px" in sheet


def test_the_environment_alone_enlarges_the_controls(monkeypatch):
    monkeypatch.setenv("EDA_SIM_PROJECTOR", "1.5")
    ui, box = _boxes()
    assert _sizes(ui)["sizes"]["Button"] == {"20px"} and len(_sizes(box)["sheets"]) == 1
