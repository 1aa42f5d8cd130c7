"""Grading mode: live controls run nothing and displayed figures show no image; off, nothing changes."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
from IPython.core.interactiveshell import InteractiveShell  # noqa: E402

from eda_sim.views import figure, offstage  # noqa: E402
from eda_sim.views.widgets import Controls, controls, explore  # noqa: E402


@pytest.fixture
def grading(monkeypatch):
    monkeypatch.setenv(offstage.ENV, "1")
    monkeypatch.setattr(offstage, "_silenced", False)


def _boom(**_knobs):
    raise AssertionError("a live control ran while grading")


def test_live_controls_run_nothing_while_grading(grading):
    ui = controls(_boom, ["flow"], knobs={"partitions": (1, 8)})
    box = explore(_boom, n=(1, 5))
    assert isinstance(ui, offstage.Offstage) and isinstance(box, offstage.Offstage)
    assert "do not run while grading" in repr(box) and box.knobs == {"n": (1, 5)}


def test_live_controls_run_when_not_grading(monkeypatch):
    monkeypatch.delenv(offstage.ENV, raising=False)
    calls = []
    box = explore(lambda n=1: calls.append(n), n=(1, 5, 1, 2))
    assert calls == [2] and not isinstance(box, offstage.Offstage)
    from eda_sim import Simulation

    ui = controls(lambda: Simulation(seed=1), [lambda sim: figure.new_figure((2.0, 1.0))])
    assert isinstance(ui, Controls) and ui.picture.value  # drawn


def _png_of_a_view(shell) -> dict:
    fig = figure.new_figure((2.0, 1.0))
    fig.add_subplot().plot([0, 1], [1, 0])
    data, _meta = shell.display_formatter.format(fig)
    return data


def test_figures_are_drawn_but_display_no_image_while_grading(monkeypatch):
    shell = InteractiveShell.instance()
    monkeypatch.setattr(offstage, "_silenced", False)
    from matplotlib_inline.backend_inline import configure_inline_support

    configure_inline_support(shell, "module://matplotlib_inline.backend_inline")  # as a kernel does
    try:
        monkeypatch.delenv(offstage.ENV, raising=False)
        assert "image/png" in _png_of_a_view(shell)
        monkeypatch.setenv(offstage.ENV, "1")
        data = _png_of_a_view(shell)
        assert "image/png" not in data and data["text/plain"].startswith("<Figure size")
    finally:
        InteractiveShell.clear_instance()
