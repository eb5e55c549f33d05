"""The report's charts (matplotlib, PNG at 150 dpi), drawn from `Figures`.

Every chart has a title, axes labelled with their units, a legend outside the plotting area (so
it never covers a point), the same colour and marker for a variant everywhere (palette.py), and,
for simulated runs, "SIMULATED" in the title and across the plot as a watermark: a chart copied
out of the report on its own must still say what it is.

Figures are built without pyplot: no global state, no display needed, and saving renders with
the Agg canvas whatever backend the caller's matplotlib is set to.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib import ticker
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from harness import cost
from harness.canvas import DPI, GRID, titled_figure
from harness.formats import task_name
from harness.palette import Style, styles
from harness.report.figures import Figures
from harness.report.tables import display_label
from harness.stats.items import graded_mask

PANEL_COLUMNS = 3
SINGLE_SIZE = (11.0, 5.5)
HEATMAP_SIZE = (11.0, 6.0)


@dataclass(frozen=True)
class Chart:
    name: str
    section: str
    title: str
    path: Path
    caption: str
    pixels: tuple[int, int]  # width, height of the PNG


def panel_size(n_panels: int) -> tuple[float, float]:
    """Figure size in inches for one panel per task: three across, plus room for the legend; never
    narrower than a single chart, so that the title and the legend of a one-task run do not collide."""
    columns = min(n_panels, PANEL_COLUMNS)
    rows = math.ceil(n_panels / PANEL_COLUMNS)
    return (max(4.2 * columns + 2.6, SINGLE_SIZE[0]), 4.0 * rows + 1.4)


def write_charts(figures: Figures, folder: Path) -> list[Chart]:
    """Draw every chart the runs have data for into `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    drawers: list[Callable[[Figures, Path], Chart | None]] = [
        accuracy_chart, accuracy_vs_cost_chart, accuracy_vs_tokens_chart, latency_chart, subject_heatmap,
    ]
    return [chart for draw in drawers if (chart := draw(figures, folder)) is not None]


def accuracy_chart(figures: Figures, folder: Path) -> Chart:
    """Dots with whiskers rather than bars: the scores sit near 100%, where bars from zero would
    hide every difference, and the whiskers are what a reader must compare."""
    title = "Accuracy per task and variant, with 95% confidence intervals"
    fig, style = _figure(figures, SINGLE_SIZE, title), styles(figures.runs)
    ax = fig.add_subplot()
    s = figures.summary
    labels, tasks = figures.labels, figures.tasks
    width = 0.8 / len(labels)
    compared = False
    for i, label in enumerate(labels):
        mine = s[s["model"] == label].set_index("task")
        xs = [t for t, task in enumerate(tasks) if task in mine.index]
        rows = mine.loc[[task for task in tasks if task in mine.index]]
        positions = np.array(xs) + (i - (len(labels) - 1) / 2) * width
        _dots(ax, positions, rows, style[label])
        own = figures.reference.scores_for(figures.runs.variant_of[label])
        for x, task in zip(positions, rows.index):
            if task in own:  # the variant's own published figure, beside its dot
                ax.hlines(own[task].percent, x - width / 2, x + width / 2, colors=style[label].colour, linestyles=(0, (3, 1.5)),
                          linewidth=2.0, zorder=2)
                compared = True
        for x, value in zip(positions, rows["accuracy"]):
            ax.annotate(f"{100 * value:.1f}", (x, 100 * value), xytext=(7, 0), textcoords="offset points", va="center",
                        fontsize=8, color="#222222", zorder=4,
                        bbox={"boxstyle": "square,pad=0.1", "facecolor": "white", "edgecolor": "none", "alpha": 0.85})
    ax.set_xticks(range(len(tasks)), [task_name(task) for task in tasks])
    ax.set_xlim(-0.5, len(tasks) - 0.5)
    ax.set_ylim(_floor(s["ci_low"]), 101)
    ax.set_xlabel("Benchmark")
    ax.set_ylabel("Accuracy (%)")
    ax.grid(axis="y", **GRID)
    ax.set_axisbelow(True)
    # a variant with no published figure gets no line, and a chart with none no legend for one
    extra = [Line2D([], [], color="#444444", linestyle=(0, (3, 1.5)), linewidth=2.0,
                    label="the variant's published figure\n(as published, not checked)")] if compared else []
    _legend(fig, figures, style, extra)
    caption = "Dots are avg@k accuracy, whiskers the 95% interval over items"
    if compared:
        cited = {figures.reference.models[v].source for v in figures.runs.variant_of.values() if v in figures.reference.models}
        caption += ("; a dashed line beside a dot is that variant's own published figure ("
                    + "; ".join(figures.reference.sources[name].cite() for name in sorted(cited)) + ")")
    return _save(fig, folder, "accuracy", "Accuracy", title, caption + ".")


def accuracy_vs_cost_chart(figures: Figures, folder: Path) -> Chart:
    """One panel per task, because accuracy on AIME and on MATH-500 cannot share an axis. When no
    price is known, mean output tokens (what a provider bills) stand in, and the title says so.
    A free variant has no place on a log axis, yet it is the cheapest of all, so it is drawn at
    the left edge, marked "free", and counted first on the frontier."""
    priced = figures.costs.available
    if priced:
        c = figures.costs.by_task
        c = c[(c["priced_as"] != cost.UNPRICED) & c["cost_per_request"].notna()]
        x = {(m, t): 1000 * v for m, t, v in zip(c["model"], c["task"], c["cost_per_request"])}
        presets = ", ".join(sorted(set(c["priced_as"])))
        currency = ", ".join(sorted({cur for cur in c["currency"] if isinstance(cur, str)})) or "cost"
        title = "Accuracy vs cost per variant, with the Pareto frontier"
        xlabel = f"Cost per 1,000 answers ({currency}, log scale), priced as {presets}"
        unknown = [display_label(figures, label) for label in figures.labels if label not in set(c["model"])]
        if unknown:
            xlabel += f"; not shown, price unknown: {', '.join(unknown)}"
        if (c["cost_per_request"] == 0).any():
            xlabel += "; free variants at the left edge"
        doubtful = [display_label(figures, label) for label in figures.labels if label in figures.costs.unverified]
        if doubtful:
            xlabel += f"\nhollow, and off the frontier: price unverified ({', '.join(doubtful)}; see the price file)"
    else:
        u = figures.usage
        x = {(m, t): v for m, t, v in zip(u["model"], u["task"], u["completion_tokens_mean"])}
        title = "Accuracy vs mean output tokens (no prices: tokens stand in for cost), with the Pareto frontier"
        xlabel = "Mean output tokens per answer (tokens, log scale)"
    fig, style = _figure(figures, panel_size(len(figures.tasks)), title), styles(figures.runs)
    for ax, task in _panels(fig, figures.tasks):
        mine = {key: value for key, value in x.items() if key[1] == task and np.isfinite(value)}
        positive = [value for value in mine.values() if value > 0]
        edge = min(positive) / 3 if positive else 1.0
        placed = {key: value if value > 0 else edge for key, value in mine.items()}
        doubtful_labels = figures.costs.unverified if priced else frozenset()
        points = _scatter(ax, figures, task, placed, style, hollow=doubtful_labels)
        for (label, _), value in mine.items():
            if value == 0:
                row = figures.summary[(figures.summary["model"] == label) & (figures.summary["task"] == task)]
                ax.annotate("free", (edge, 100 * float(row["accuracy"].iloc[0])), xytext=(0, -14),
                            textcoords="offset points", ha="center", fontsize=8)
        frontier = _pareto([p for label, p in points.items() if label not in doubtful_labels]) or [(np.nan, np.nan)]
        ax.plot(*zip(*frontier), color="#555555", linestyle=(0, (5, 3)), linewidth=1.2, marker="o", markersize=15,
                markerfacecolor="none", markeredgecolor="#555555", zorder=1)
        _log_axis(ax, [p[0] for p in points.values()])
        _panel_axes(ax, task)
    fig.supxlabel(xlabel, fontsize=10)
    extra = [Line2D([], [], color="#555555", linestyle=(0, (5, 3)), linewidth=1.2, marker="o", markersize=11,
                    markerfacecolor="none", label="Pareto frontier: no other\nvariant is both cheaper\nand more accurate")]
    _legend(fig, figures, style, extra)
    measure = "cost" if priced else "output tokens"
    caption = ("Each dot is a variant on one task; whiskers are 95% intervals. Variants on the dashed frontier are the "
               f"ones worth considering: every other variant is beaten on both accuracy and {measure} by one of them.")
    if priced and figures.runs.simulated:
        caption += f" The token counts are simulated, priced as {presets}."
    return _save(fig, folder, "accuracy_vs_cost", "Cost, tokens and latency", title, caption)


def accuracy_vs_tokens_chart(figures: Figures, folder: Path) -> Chart:
    title = "Accuracy vs mean output tokens per answer"
    u = figures.usage
    x = {(m, t): v for m, t, v in zip(u["model"], u["task"], u["completion_tokens_mean"])}
    fig, style = _figure(figures, panel_size(len(figures.tasks)), title), styles(figures.runs)
    for ax, task in _panels(fig, figures.tasks):
        _scatter(ax, figures, task, x, style)
        ax.xaxis.set_major_locator(ticker.MaxNLocator(5))
        ax.xaxis.set_major_formatter(ticker.StrMethodFormatter("{x:,.0f}"))
        _panel_axes(ax, task)
    fig.supxlabel("Mean output tokens per answer (tokens, reasoning included)", fontsize=10)
    _legend(fig, figures, style)
    return _save(fig, folder, "accuracy_vs_tokens", "Cost, tokens and latency", title,
                 "Output tokens include the reasoning; more thinking costs more and takes longer.")


def latency_chart(figures: Figures, folder: Path) -> Chart:
    title = "Latency per request, by variant"
    scores = figures.runs.scores
    graded = scores.loc[graded_mask(scores) & scores["latency_s"].notna(), ["task", "model", "latency_s"]]
    fig, style = _figure(figures, panel_size(len(figures.tasks)), title), styles(figures.runs)
    for ax, task in _panels(fig, figures.tasks):
        mine = graded[graded["task"] == task]
        labels = [label for label in figures.labels if (mine["model"] == label).any()]
        boxes = ax.boxplot(
            [mine.loc[mine["model"] == label, "latency_s"].to_numpy() for label in labels],
            whis=(5, 95), patch_artist=True, widths=0.6, medianprops={"color": "black", "linewidth": 1.4},
            flierprops={"marker": ".", "markersize": 3, "markerfacecolor": "#555555", "markeredgecolor": "none"},
        )
        for i, label in enumerate(labels):
            # Whiskers and caps in the variant's colour too: a box squeezed flat by near-equal
            # latencies must still say whose it is.
            boxes["boxes"][i].set(facecolor=style[label].colour, edgecolor="black", linewidth=0.8)
            for line in (*boxes["whiskers"][2 * i : 2 * i + 2], *boxes["caps"][2 * i : 2 * i + 2]):
                line.set(color=style[label].colour, linewidth=1.6)
        ax.set_xticks(range(1, len(labels) + 1), [display_label(figures, label) for label in labels], rotation=25, ha="right")
        ax.set_ylim(bottom=0)
        ax.set_title(task_name(task), fontsize=11)
        ax.set_ylabel("Latency per request (s)")
        ax.grid(axis="y", **GRID)
        ax.set_axisbelow(True)
    fig.supxlabel("Box: quartiles, line: median, whiskers: 5th to 95th percentile, dots: requests beyond", fontsize=10)
    return _save(fig, folder, "latency", "Cost, tokens and latency", title,
                 "Boxes span the quartiles with the median as a line; whiskers reach the 5th and 95th percentiles, "
                 "dots are requests beyond them. Failed requests are left out.")


def subject_heatmap(figures: Figures, folder: Path) -> Chart | None:
    breakdown = figures.breakdown("math500", "subject")
    if breakdown is None:
        return None
    title = "MATH-500 accuracy by subject and variant"
    s = breakdown.summary
    labels = [label for label in figures.labels if (s["model"] == label).any()]
    subjects = sorted(s["subject"].unique())
    table = s.pivot(index="subject", columns="model", values="accuracy").reindex(index=subjects, columns=labels) * 100
    items = s.pivot(index="subject", columns="model", values="n_items").reindex(index=subjects, columns=labels)
    fig = _figure(figures, HEATMAP_SIZE, title)
    ax = fig.add_subplot()
    # At least 30 points of scale: 95 against 100 on ten items should not look like black and white.
    low = min(_floor(s["accuracy"]), 70.0)
    # A mesh of cells, not imshow: an image is resampled to the chart's pixels when saved, ~30 MB
    # of arrays for a few cells. Edges at +-0.5 put cell (row, column) at (column, row), as imshow did.
    image = ax.pcolormesh(np.arange(len(labels) + 1) - 0.5, np.arange(len(subjects) + 1) - 0.5, table.to_numpy(dtype=float),
                          cmap="cividis", vmin=low, vmax=100)
    ax.invert_yaxis()
    for (r, c), value in np.ndenumerate(table.to_numpy(dtype=float)):
        if np.isfinite(value):
            shade = image.cmap(image.norm(value))
            ink = "black" if 0.299 * shade[0] + 0.587 * shade[1] + 0.114 * shade[2] > 0.5 else "white"
            ax.text(c, r, f"{value:.1f}\n{int(items.iat[r, c])} items", ha="center", va="center", fontsize=8.5, color=ink)
    ax.set_xticks(range(len(labels)), [display_label(figures, label) for label in labels], rotation=15, ha="right")
    ax.set_yticks(range(len(subjects)), subjects)
    ax.set_xlabel("Variant")
    ax.set_ylabel("MATH-500 subject")
    fig.colorbar(image, ax=ax, label="Accuracy (%)", shrink=0.9)
    return _save(fig, folder, "math500_subjects", "Breakdowns", title,
                 "Accuracy (avg@k, %) per MATH-500 subject; each cell also gives the items behind it, which are few "
                 "in a --limit run (see the table for intervals).")


def _figure(figures: Figures, size: tuple[float, float], title: str) -> Figure:
    return titled_figure(size, title, figures.runs.simulated)


def _panels(fig: Figure, tasks: tuple[str, ...]) -> list[tuple[Axes, str]]:
    columns = min(len(tasks), PANEL_COLUMNS)
    rows = math.ceil(len(tasks) / PANEL_COLUMNS)
    return [(fig.add_subplot(rows, columns, i + 1), task) for i, task in enumerate(tasks)]


def _scatter(
    ax: Axes, figures: Figures, task: str, x: dict[tuple[str, str], float], style: dict[str, Style], hollow: frozenset[str] = frozenset()
) -> dict[str, tuple[float, float]]:
    """Accuracy (with whiskers) against `x` for every label on `task`; returns the points drawn,
    by label. Labels in `hollow` are drawn hollow: their x is doubtful (an unverified price)."""
    s = figures.summary
    points = {}
    for label in figures.labels:
        row = s[(s["model"] == label) & (s["task"] == task)]
        value = x.get((label, task), np.nan)
        if row.empty or not np.isfinite(value) or value <= 0:
            continue
        _dots(ax, np.array([value]), row, style[label], hollow=label in hollow)
        points[label] = (value, 100 * float(row["accuracy"].iloc[0]))
    return points


def _dots(ax: Axes, xs: np.ndarray, rows: pd.DataFrame, style: Style, hollow: bool = False) -> None:
    acc = 100 * rows["accuracy"].to_numpy(dtype=float)
    low, high = 100 * rows["ci_low"].to_numpy(dtype=float), 100 * rows["ci_high"].to_numpy(dtype=float)
    ax.errorbar(xs, acc, yerr=[acc - low, high - acc], fmt=style.marker, color=style.colour, markersize=7,
                markerfacecolor="white" if hollow else style.colour,
                markeredgecolor=style.colour if hollow else "black", markeredgewidth=1.4 if hollow else 0.6,
                ecolor=style.colour, elinewidth=1.6, capsize=3.5, zorder=3)


def _pareto(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """Points no other point beats on both axes (lower x, higher accuracy), cheapest first."""
    frontier: list[tuple[float, float]] = []
    for x, y in sorted(points, key=lambda p: (p[0], -p[1])):
        if not frontier or y > frontier[-1][1]:
            frontier.append((x, y))
    return frontier


def _panel_axes(ax: Axes, task: str) -> None:
    ax.set_title(task_name(task), fontsize=11)
    ax.set_ylabel("Accuracy (%)")
    ax.margins(x=0.15, y=0.12)
    ax.grid(which="major", **GRID)
    ax.set_axisbelow(True)


def _log_axis(ax: Axes, values: list[float]) -> None:
    """Log scale (costs span two orders of magnitude across variants) with plain tick labels:
    1-2-5 steps over a wide range, evenly spaced ticks within one decade, where 1-2-5 would
    leave an axis with a single label."""
    ax.set_xscale("log")
    wide = len(values) > 1 and max(values) / min(values) >= 10
    ax.xaxis.set_major_locator(ticker.LogLocator(base=10, subs=(1.0, 2.0, 5.0)) if wide else ticker.MaxNLocator(5))
    ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:,.3g}"))
    ax.xaxis.set_minor_formatter(ticker.NullFormatter())


def _legend(fig: Figure, figures: Figures, style: dict[str, Style], extra: Sequence[Line2D] = ()) -> None:
    handles = [
        Line2D([], [], marker=style[label].marker, color=style[label].colour, markeredgecolor="black",
               markeredgewidth=0.6, markersize=7, linestyle="none", label=display_label(figures, label))
        for label in figures.labels
    ]
    fig.legend(handles=[*handles, *extra], loc="outside right center", title="Variant", fontsize=9, title_fontsize=9.5, frameon=False)


def _floor(lows: pd.Series) -> float:
    """A lower axis limit a little under the lowest interval, on a multiple of 10."""
    lowest = np.nanmin(100 * lows.to_numpy(dtype=float)) if len(lows) else 0.0
    return max(0.0, math.floor((lowest - 3) / 10) * 10) if np.isfinite(lowest) else 0.0


def _save(fig: Figure, folder: Path, name: str, section: str, title: str, caption: str) -> Chart:
    path = folder / f"{name}.png"
    # The title and caption travel inside the PNG too, so a chart copied out of the report keeps
    # its SIMULATED mark and its explanation in its metadata as well as on its face.
    fig.savefig(path, dpi=DPI, facecolor="white",
                metadata={"Title": fig.get_suptitle().replace("\n", " "), "Description": caption, "Software": "glm-eval"})
    width, height = (round(v * DPI) for v in fig.get_size_inches())
    return Chart(name, section, title, path, caption, (width, height))
