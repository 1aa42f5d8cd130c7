"""The views' shared look: colours, figure sizes and text style, fixed here so every figure compares equal.

Colours are Okabe and Ito's colour-blind-safe palette; vermillion means
trouble. Nothing here imports matplotlib, so picture models can use it.
"""

from __future__ import annotations

import re

#: Okabe & Ito's colour-blind-safe palette, by name.
OKABE_ITO = {
    "black": "#000000",
    "orange": "#E69F00",
    "sky_blue": "#56B4E9",
    "green": "#009E73",
    "yellow": "#F0E442",
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "purple": "#CC79A7",
}
OI = OKABE_ITO
#: Colours for members (board) and partitions (timeline), in order of first appearance.
SERIES = (
    OI["blue"],
    OI["orange"],
    OI["green"],
    OI["purple"],
    OI["sky_blue"],
    OI["yellow"],
    OI["vermillion"],
    OI["black"],
)
HATCHES = (
    "",
    "//",
    "..",
    "\\\\",
)  # after eight colours, patterns keep members apart ("xx" marks a crash)
ALERT = OI["vermillion"]
GREY = "#8C8C8C"
LIGHT = "#E6E6E6"

#: Figure sizes in inches at ``DPI``: fixed by the library, so notebooks compare equal everywhere.
FLOW_SIZE = (10.0, 5.0)
DPI = 100
STYLE = {
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 8.5,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "font.family": "DejaVu Sans",
    "hatch.linewidth": 0.8,
    "svg.hashsalt": "eda_sim",
}

#: Total lag (records) above which a group is flagged as lagging in the flow diagram.
LAG_THRESHOLD = 100
KIND_ORDER = {"producer": 0, "service": 1, "group": 2, "topic": 3}


def check_topic(sim, topic) -> None:
    if not isinstance(topic, str) or topic not in sim.broker.topics:
        known = ", ".join(sorted(sim.broker.topics)) or "none yet"
        raise ValueError(f"unknown topic {topic!r}; topics are: {known}")


def natural(text: str):
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", str(text))]


def count_text(n) -> str:
    """A count with thousands separators."""
    return f"{int(n):,}"
