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
