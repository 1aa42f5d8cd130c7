"""explore(): knobs that re-run a function when they change."""

import pytest

from eda_sim.views.widgets import explore


def test_explore_reruns_with_the_knob_values():
    calls = []
    box = explore(
        lambda n, on, mode: calls.append((n, on, mode)), n=(1, 5, 1, 2), on=False, mode=["a", "b"]
    )
    assert calls == [(2, False, "a")]
    box.knobs["n"].value = 4
    box.knobs["mode"].value = "b"
    assert calls[-2:] == [(4, False, "a"), (4, False, "b")]


def test_explore_needs_a_function():
    with pytest.raises(TypeError, match="needs a function"):
        explore("not a function")
