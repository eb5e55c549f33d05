"""Trend charts of the history: one PNG per task, accuracy per run with its 95% interval.

The x axis is the run sequence (oldest first, labelled with date and commit), not calendar time:
runs bunch up on busy days and would overlap on a time axis. Each variant keeps its colour and
marker from the report palette; variants of one run are dodged sideways so their whiskers do not
overlap. Lines join a variant's runs only while the items stay the same (dataset fingerprint) and
the endpoint stays simulated or real, so a change of --limit or data shows as a break instead of a
fake step. Simulated runs are hollow markers and the title says so; when every run is simulated,
the title and a watermark say SIMULATED.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from harness import family
from harness.canvas import DPI, GRID, titled_figure
from harness.formats import task_name
from harness.gate.order import task_rank, variant_rank
from harness.palette import MARKERS, OKABE_ITO
from harness.runs import SIMULATED

SIZE = (11.0, 5.5)
MAX_TICKS = 8
SPREAD = 0.6  # share of the gap between runs that one run's variants are spread over


def trend_charts(history: pd.DataFrame, folder: Path, stem: str = "history") -> list[Path]:
    """Write `<stem>-<task>.png` into `folder` for every task of the history; return the paths."""
    folder.mkdir(parents=True, exist_ok=True)
    tasks = sorted(history["task"].unique(), key=task_rank)
    return [trend_chart(history[history["task"] == task], task, folder / f"{stem}-{task}.png") for task in tasks]


def trend_chart(rows: pd.DataFrame, task: str, path: Path) -> Path:
    runs = rows[["started", "run_id", "git_commit"]].drop_duplicates(["started", "run_id"]).reset_index(drop=True)
    x_of = {run_id: i for i, run_id in enumerate(runs["run_id"])}
    variants = _variants(rows["model"])
    colours, markers, simulated = _colours(variants), _markers(variants), rows["simulated"].astype(bool)
    all_simulated, any_simulated = bool(simulated.all()), bool(simulated.any())
    title = f"{task_name(task)}: accuracy per run, with 95% confidence intervals"
    if any_simulated and not all_simulated:
        title += f"\nhollow markers: {SIMULATED} runs (a test double); filled: real API runs"
    fig = _figure(title, all_simulated)
    ax = fig.add_subplot()
    step = SPREAD / len(variants)
    for i, variant in enumerate(variants):
        mine = rows[rows["model"] == variant]
        mine = mine.assign(x=mine["run_id"].map(x_of) + (i - (len(variants) - 1) / 2) * step)
        _variant(ax, mine.sort_values("x"), colours[variant], markers[variant])
    _run_axis(ax, runs)
    lowest = np.nanmin(100 * rows["ci_low"].to_numpy(dtype=float))
    ax.set_ylim(max(0.0, np.floor((lowest - 3) / 10) * 10) if np.isfinite(lowest) else 0.0, 101)
    ax.set_ylabel("Accuracy (%)")
    ax.grid(axis="y", **GRID)
    ax.set_axisbelow(True)
    handles = [
        Line2D([], [], marker=markers[v], color=colours[v], markeredgecolor="black", markeredgewidth=0.6, markersize=7, label=v)
        for v in variants
    ]
    if any_simulated and not all_simulated:
        handles += [
            Line2D([], [], marker="o", linestyle="none", color="#555555", markeredgecolor="black", label="filled: real API run"),
            Line2D([], [], marker="o", linestyle="none", color="#555555", markerfacecolor="white", label=f"hollow: {SIMULATED} run"),
        ]
    fig.legend(handles=handles, loc="outside right upper", title="Variant", fontsize=9, title_fontsize=9.5, frameon=False)
    fig.supxlabel(
        "Dots: avg@k accuracy; whiskers: 95% interval over items.\nLines join a variant's runs on the same items "
        "(dataset fingerprint) and of one kind (simulated or real); a break means either changed.",
        fontsize=8.5, color="#333333",
    )
    fig.savefig(path, dpi=DPI, facecolor="white", metadata={"Title": fig.get_suptitle().replace("\n", " "), "Software": "glm-eval"})
    return path


def _variant(ax: Axes, rows: pd.DataFrame, colour: str, marker: str) -> None:
    acc = 100 * rows["accuracy"].to_numpy(dtype=float)
    low, high = 100 * rows["ci_low"].to_numpy(dtype=float), 100 * rows["ci_high"].to_numpy(dtype=float)
    xs = rows["x"].to_numpy(dtype=float)
    same = ["fingerprint", "simulated"]  # a switch to other items, or between simulated and real, is no trend
    segment = (rows[same] != rows[same].shift()).any(axis=1).cumsum().to_numpy()
    for s in np.unique(segment):
        ax.plot(xs[segment == s], acc[segment == s], color=colour, linewidth=1.2, alpha=0.55, zorder=2)
    ax.errorbar(xs, acc, yerr=[acc - low, high - acc], fmt="none", ecolor=colour, elinewidth=1.5, capsize=3, zorder=3)
    hollow = rows["simulated"].astype(bool).to_numpy()
    for mask, face in ((~hollow, colour), (hollow, "white")):
        ax.plot(xs[mask], acc[mask], linestyle="none", marker=marker, markersize=7, markerfacecolor=face,
                markeredgecolor=colour if face == "white" else "black", markeredgewidth=1.2 if face == "white" else 0.6, zorder=4)


def _run_axis(ax: Axes, runs: pd.DataFrame) -> None:
    """Two short lines per tick (date; time and commit) so neighbouring labels never collide;
    past MAX_TICKS runs only every n-th is labelled."""
    step = -(-len(runs) // MAX_TICKS)
    ticks = np.arange(len(runs) - 1, -1, -step)[::-1]  # counted back from the newest run, which is always labelled
    labels = [f"{runs.at[i, 'started']:%Y-%m-%d}\n{runs.at[i, 'started']:%H:%M} {str(runs.at[i, 'git_commit'] or '-')[:7]}" for i in ticks]
    if len(set(labels)) < len(labels):  # runs of one commit in the same minute: name them
        labels = [f"{label}\n{str(runs.at[i, 'run_id'])[-14:]}" for label, i in zip(labels, ticks)]
    ax.set_xticks(ticks, labels, fontsize=8)
    ax.set_xticks(np.arange(len(runs)), minor=True)
    ax.set_xlim(-0.6, len(runs) - 0.4)
    ax.set_xlabel("Run, oldest to newest: start date, time (UTC) and git commit")


def _variants(models: pd.Series) -> list[str]:
    return sorted(models.unique(), key=variant_rank)


def _colours(variants: list[str]) -> dict[str, str]:
    """The report's colour for each known variant; spare palette colours for the others."""
    own = family.colours()
    spare = [c for c in OKABE_ITO.values() if c not in own.values()]
    colours, extra = {}, 0
    for v in variants:
        if v in own:
            colours[v] = own[v]
        else:
            colours[v] = spare[extra % len(spare)]
            extra += 1
    return colours


def _markers(variants: list[str]) -> dict[str, str]:
    """A marker per variant that is the same in every task's chart (so by the family's order)."""
    order = family.variants()
    others = [v for v in variants if v not in order]
    return {
        v: MARKERS[(order.index(v) if v in order else len(order) + others.index(v)) % len(MARKERS)]
        for v in variants
    }


def _figure(title: str, simulated: bool) -> Figure:
    return titled_figure(SIZE, title, simulated)
