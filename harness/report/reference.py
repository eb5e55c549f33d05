"""The published GLM-4.5 figures (configs/reference.yaml) set beside the measured ones.

The figures are shown "as published, not checked": the table says where they come from and only
whether each lies inside the measured 95% interval, which is what a reader can act on (a figure
outside it means this provider, prompt or grader does not reproduce the claim, or the claim does
not hold).
"""

from __future__ import annotations

import datetime
from pathlib import Path

import pandas as pd
from pydantic import Field

from harness.config import Strict, load
from harness.paths import CONFIGS
from harness.report.runs import Runs

DEFAULT_REFERENCE = CONFIGS / "reference.yaml"

REFERENCE_COLUMNS = [
    "model", "task", "benchmark", "published", "accuracy", "ci_low", "ci_high",
    "n_items", "items_in_set", "k", "inside", "difference",
]


class Source(Strict):
    publisher: str
    title: str
    kind: str
    date: datetime.date
    status: str

    def cite(self) -> str:
        return f'{self.publisher} {self.kind} "{self.title}" ({self.date.isoformat()}), {self.status}'


class Published(Strict):
    benchmark: str = Field(description="the benchmark's name in the source")
    percent: float = Field(ge=0, le=100)


class Reference(Strict):
    model: str = Field(description="the variant the published figures belong to")
    source: Source
    scores: dict[str, Published] = Field(min_length=1, description="keyed by task id")


def load_reference(path: Path = DEFAULT_REFERENCE) -> Reference:
    return load(path, Reference)


def reference_comparison(runs: Runs, summary: pd.DataFrame, reference: Reference) -> pd.DataFrame:
    """One row per (label of the reference variant, task it has a published figure for).

    Figures are fractions, as in `summary` (from `harness.stats.summarize`); `difference` is
    measured minus published, `inside` whether the published figure lies in [ci_low, ci_high],
    `items_in_set` the size of the whole benchmark (a run with --limit measured a subset).
    `inside` is None when the interval has no width: when every item scored the same (all right
    on 30 MATH-500 items, say) the interval over items collapses to a point, and "98.2 is outside
    [100, 100]" would claim a precision that 30 items do not have.
    """
    rows = []
    for label in runs.labels:
        if runs.variant_of[label] != reference.model:
            continue
        tasks = runs.run_of[label].manifest.get("tasks", {})
        for task, published in reference.scores.items():
            measured = summary[(summary["model"] == label) & (summary["task"] == task)]
            if measured.empty:
                continue
            m = measured.iloc[0]
            value = published.percent / 100
            rows.append({
                "model": label, "task": task, "benchmark": published.benchmark, "published": value,
                "accuracy": m["accuracy"], "ci_low": m["ci_low"], "ci_high": m["ci_high"],
                "n_items": m["n_items"], "items_in_set": tasks.get(task, {}).get("rows"), "k": m["k"],
                "inside": bool(m["ci_low"] <= value <= m["ci_high"]) if m["ci_high"] > m["ci_low"] else None,
                "difference": m["accuracy"] - value,
            })
    return pd.DataFrame(rows, columns=REFERENCE_COLUMNS)
