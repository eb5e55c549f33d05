"""The CSV files: summary.csv (the table a person reads first) and figures.csv (every figure
behind the tables, numeric, for a spreadsheet or a notebook)."""

from __future__ import annotations

import pandas as pd

from harness.report.figures import Figures
from harness.report.tables import DASH, accuracy_table, cost_totals_table, display_label, pct, task_name


def summary_frame(figures: Figures) -> pd.DataFrame:
    """Rows variants, columns tasks ("accuracy [CI] (items×k)", in percent), each task's ambiguous
    share (answers counted wrong because the grader would not guess), then cost per variant."""
    frame = accuracy_table(figures).frame
    s = figures.summary
    for task in figures.tasks:
        shares = dict(zip(s.loc[s["task"] == task, "model"], s.loc[s["task"] == task, "ambiguous_share"]))
        frame[f"{task_name(task)}, ambiguous %"] = [pct(shares[label]) if label in shares else DASH for label in figures.labels]
    costs = cost_totals_table(figures).frame
    if "variant" in costs:
        frame = frame.merge(costs.drop(columns=["correct answers"]), on="variant", how="left")
    frame["simulated"] = [label in figures.runs.simulated_labels for label in figures.labels]
    return frame


def figures_frame(figures: Figures) -> pd.DataFrame:
    """One row per (variant, task) and per (variant, task, breakdown group), figures as fractions
    and counts exactly as harness.stats and harness.cost return them."""
    keys = ["model", "task"]
    overall = figures.summary.merge(figures.usage.drop(columns="n_samples"), on=keys, how="left")
    costs = figures.costs.by_task.drop(columns=["n_correct"]).rename(columns={"n_requests": "requests"})
    overall = overall.merge(costs, on=keys, how="left")
    parts = [overall.assign(breakdown=None, group=None)]
    for b in figures.breakdowns:
        parts.append(b.summary.rename(columns={b.column: "group"}).assign(breakdown=b.column))
    frame = pd.concat(parts, ignore_index=True)
    runs = figures.runs
    frame.insert(0, "variant", frame["model"].map(runs.variant_of))
    frame.insert(1, "run", frame["model"].map(lambda label: runs.run_of[label].name))
    frame.insert(2, "simulated", frame["model"].map(lambda label: runs.run_of[label].simulated))
    frame["model"] = frame["model"].map(lambda label: display_label(figures, label))
    front = ["variant", "run", "simulated", "model", "task", "breakdown", "group"]
    return frame[front + [c for c in frame.columns if c not in front]]
