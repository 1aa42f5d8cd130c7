"""Checks for notebook 13 (real-time recommendations): settings that beat the popularity baseline."""

from __future__ import annotations

from eda_sim.course.feedback import checker
from eda_sim.course.nb13.world import compare_models

#: How many products the page shows: a longer list would hit more often for every model.
MAX_K = 5
#: How far above the popularity baseline's hit rate the recommender must be.
MARGIN = 0.4
#: The exercise cell's starting settings.
STARTER = (5, 2.0)


@checker(
    "recommender-settings",
    "Exercise 13 · tune the recommender to beat popularity",
    items=[
        ("k-fits", 1, f"k fits on the page (at most {MAX_K})"),
        ("beats", 2, f"item-to-item beats popularity by at least {MARGIN}"),
    ],
    hints=[
        "how far apart are one shopper's views? a pair of views the window does not link teaches the "
        "model nothing",
        "one shopper's views are about 7 s apart on average, rarely more than 30 s: a window shorter than "
        "that links almost no pairs of views, and the model falls back to popular products; keep k at "
        f"{MAX_K} or fewer, since a longer list makes every model look better",
    ],
    starter=lambda k, window: (k, window) == STARTER,
    not_answered=f"k and window are still the starting {STARTER[0]} and {STARTER[1]:g} s; choose your own, "
    "then run the cell again",
)
def check_recommender_settings(fb, k, window) -> None:
    """Run the recommender and the popularity baseline with ``k`` and ``window`` and compare hit rates."""
    bad = []
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        bad.append(f"k should be a whole number of recommended products >= 1, got {k!r}")
    if isinstance(window, bool) or not isinstance(window, (int, float)) or not window > 0:
        bad.append(f"window should be a number of seconds > 0, got {window!r}")
    if bad:
        fb.invalid("; ".join(bad))
        return
    fb.mark(
        "k-fits",
        k <= MAX_K,
        f"k = {k} fits on the page (at most {MAX_K})",
        f"k = {k} does not fit on the page (at most {MAX_K}); with a longer list every model hits more often",
    )
    rates = compare_models(
        k=k, window=float(window), models=("item-to-item", "popularity")
    ).set_index("model")
    item, pop = rates.loc["item-to-item", "hit_rate"], rates.loc["popularity", "hit_rate"]
    fb.mark(
        "beats",
        item >= pop + MARGIN,
        f"hit rate at {k}: item-to-item {item:.3f} vs popularity {pop:.3f}, a margin of {item - pop:.3f} "
        f"(at least {MARGIN} needed)",
        f"hit rate at {k}: item-to-item {item:.3f} vs popularity {pop:.3f}; the margin {item - pop:.3f} is "
        f"below {MARGIN}"
        + (f": a {window:g} s window links few of a shopper's views" if window < 30 else ""),
    )


hint = check_recommender_settings.hint
