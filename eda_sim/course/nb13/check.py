"""Checks for notebook 13 (real-time recommendations): settings that beat the popularity baseline."""

from __future__ import annotations

from eda_sim.course.feedback import checker
from eda_sim.course.nb13.world import compare_models

#: How many products the page shows: a longer list would hit more often for every model.
MAX_K = 5
#: How far above the popularity baseline's hit rate the recommender must be.
MARGIN = 0.4


@checker(
    "Exercise 10 · tune the recommender to beat popularity",
    hint="look at how far apart one shopper's views are (about 7 s on average, rarely more than 30 s): a "
    "window shorter than that links almost no pairs of views, and the model falls back to popular "
    f"products; keep k at {MAX_K} or fewer, since a longer list makes every model look better",
)
def check_recommender_settings(fb, k, window) -> None:
    """Run the recommender and the popularity baseline with ``k`` and ``window`` and compare hit rates."""
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        fb.miss(f"k should be a whole number of recommended products >= 1, got {k!r}")
        return
    if isinstance(window, bool) or not isinstance(window, (int, float)) or not window > 0:
        fb.miss(f"window should be a number of seconds > 0, got {window!r}")
        return
    fb.expect(
        k <= MAX_K,
        f"k = {k} fits on the page (at most {MAX_K})",
        f"k = {k} does not fit on the page (at most {MAX_K}); with a longer list every model hits more often",
    )
    rates = compare_models(
        k=k, window=float(window), models=("item-to-item", "popularity")
    ).set_index("model")
    item, pop = rates.loc["item-to-item", "hit_rate"], rates.loc["popularity", "hit_rate"]
    fb.expect(
        item >= pop + MARGIN,
        f"hit rate at {k}: item-to-item {item:.3f} vs popularity {pop:.3f}, a margin of {item - pop:.3f} "
        f"(at least {MARGIN} needed)",
        f"hit rate at {k}: item-to-item {item:.3f} vs popularity {pop:.3f}; the margin {item - pop:.3f} is "
        f"below {MARGIN}",
    )
