"""Every figure a report shows, computed once from the merged scores frame.

Tables, charts, the page and the terminal summary all read this one object, so no two of them can
disagree, and every statistic comes from harness.stats (accuracy and intervals, tokens, latency)
or harness.cost (prices), never from arithmetic of our own.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from harness import cost, stats
from harness.audit.analysis import Audit, audit, is_audit
from harness.report.costs import Costs, price_runs
from harness.report.reference import DEFAULT_REFERENCE, Reference, load_reference, reference_comparison
from harness.runs import Runs
from harness.stats import caps


@dataclass(frozen=True)
class Breakdown:
    """Accuracy of one task split by one column (MATH-500 by subject, GPQA by domain, ...)."""

    task: str
    column: str
    summary: pd.DataFrame  # stats.summarize(task rows, by=(column,))


@dataclass(frozen=True, eq=False)
class Figures:
    runs: Runs
    summary: pd.DataFrame  # stats.summarize: one row per (label, task)
    usage: pd.DataFrame  # stats.usage_summary: one row per (label, task)
    costs: Costs
    breakdowns: tuple[Breakdown, ...]
    reference: Reference
    reference_rows: pd.DataFrame
    throughput: dict[str, stats.Throughput | None]  # per run name; None without a wall time
    providers: Audit | None = None  # one variant sent to several providers: each against the first run's
    caps: pd.DataFrame | None = None  # stats.caps.cap_curve per label and task: accuracy at every cap up to the run's
    sufficient: pd.DataFrame | None = None  # stats.caps.sufficient_caps: the smallest cap within a point of the score

    @property
    def labels(self) -> tuple[str, ...]:
        return self.runs.labels

    @property
    def tasks(self) -> tuple[str, ...]:
        return self.runs.tasks

    def breakdown(self, task: str, column: str) -> Breakdown | None:
        return next((b for b in self.breakdowns if b.task == task and b.column == column), None)


def collect(
    runs: Runs, prices: Path = cost.DEFAULT_PRICES, reference: Path = DEFAULT_REFERENCE, price_as: str | None = None
) -> Figures:
    scores = runs.scores
    summary = stats.summarize(scores)
    published = load_reference(reference)
    costs = price_runs(runs, prices, price_as)
    curve = _cap_curves(runs, prices, price_as)
    return Figures(
        runs=runs,
        summary=summary,
        usage=stats.usage_summary(scores),
        costs=costs,
        breakdowns=tuple(_breakdowns(scores, runs.tasks)),
        reference=published,
        reference_rows=reference_comparison(runs, summary, published),
        throughput={
            run.name: stats.throughput(run.scores, run.manifest.wall_s) if run.manifest.wall_s else None
            for run in runs.runs
        },
        providers=audit(runs, summary, costs) if is_audit(runs) else None,
        caps=curve,
        sufficient=caps.sufficient_caps(curve),
    )


def _cap_curves(runs: Runs, prices: Path, price_as: str | None) -> pd.DataFrame:
    """Each run's accuracy at every cap up to its own max_tokens, costed as the run's cost table is."""
    try:
        book = cost.load_prices(prices)
    except cost.PriceError:
        book = None
    frames = []
    for run in runs.runs:
        max_tokens = int(run.manifest.sampling.get("max_tokens") or 0)
        if max_tokens <= 0:
            continue
        curve = caps.cap_curve(run.scores, max_tokens, None if book is None else _row_cost(book, cost.run_preset(book, run.manifest, price_as)))
        if not curve.empty:  # (an empty frame's columns are objects, which would turn every figure into one)
            frames.append(curve.assign(model=[runs.label(run, v) for v in curve["model"]]))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=caps.CURVE_COLUMNS)


def _row_cost(book: cost.PriceBook, preset: str | None) -> Callable[[pd.DataFrame], pd.Series]:
    """What a set of answers costs, priced as the run's cost table prices them."""
    return lambda rows: cost.row_costs(rows, book, preset)["cost"]


def _breakdowns(scores: pd.DataFrame, tasks: tuple[str, ...]) -> list[Breakdown]:
    """Every breakdown column a task's rows carry (subject and level for MATH-500, domain for GPQA).

    One summary per column over all tasks, split by task afterwards, rather than a copy of each
    task's rows: a task without the column has no rows in its summary (nulls are left out), and a
    group's figures do not depend on the other groups in the frame (see stats.summarize).
    """
    by_column = {column: stats.summarize(scores, by=(column,)) for column in stats.available_breakdowns(scores)}
    return [
        Breakdown(task, column, rows.reset_index(drop=True))
        for task in tasks
        for column, summary in by_column.items()
        if not (rows := summary[summary["task"] == task]).empty
    ]
