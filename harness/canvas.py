"""The frame every chart is drawn in, a report's and the gate's trend charts alike: resolution,
grid, title, and for simulated runs the SIMULATED mark in the title and across the plot (a chart
copied out on its own must still say what it is).

Figures are built without pyplot: no global state, no display needed.
"""

from __future__ import annotations

from typing import Any

from matplotlib import patheffects
from matplotlib.figure import Figure

from harness.runs import SIMULATED

DPI = 150
WATERMARK = (0.835, 0.369, 0.0, 0.35)  # Okabe-Ito vermillion, outline only, so it tints no data
GRID: dict[str, Any] = {"color": "#d9d9d9", "linewidth": 0.6}


def titled_figure(size: tuple[float, float], title: str, simulated: bool) -> Figure:
    """A chart's figure: titled, and for simulated runs marked in the title and across the plot."""
    fig = Figure(figsize=size, dpi=DPI, layout="constrained")
    if simulated:
        fig.suptitle(f"{SIMULATED}: {title}\nscores from glm-eval's simulated endpoint, not the real models", fontsize=12.5)
        fig.text(0.5, 0.5, SIMULATED, fontsize=80, fontweight="bold", color=(1, 1, 1, 0), rotation=20, ha="center",
                 va="center", zorder=10, path_effects=[patheffects.withStroke(linewidth=1.1, foreground=WATERMARK)])
    else:
        fig.suptitle(title, fontsize=13)
    return fig
