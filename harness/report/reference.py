"""The published GLM-4.5 figures (configs/reference.yaml) set beside the measured ones, each
variant beside its own.

The figures are shown "as published, not checked": the table says where each comes from and under
which protocol it was measured, and only whether it lies inside the measured 95% interval, which
is what a reader can act on (a figure outside it means this provider, prompt or grader does not
reproduce the claim, or the claim does not hold).
"""

from __future__ import annotations

import datetime
from pathlib import Path

import pandas as pd
from pydantic import Field, model_validator

from harness.config import Strict, load
from harness.paths import CONFIGS
from harness.runs import Runs

DEFAULT_REFERENCE = CONFIGS / "reference.yaml"

REFERENCE_COLUMNS = [
    "model", "variant", "task", "benchmark", "published", "source", "accuracy", "ci_low", "ci_high",
    "n_items", "items_in_set", "k", "inside", "difference",
]


class Source(Strict):
    publisher: str
    title: str
    kind: str
    where: str = Field(description="where in the source: an arXiv id and table, a page")
    date: datetime.date | None = None
    status: str
    protocol: str = Field(description="how the figures were measured, as the source says")

    def cite(self) -> str:
        when = f", {self.date.isoformat()}" if self.date else ""
        return f'{self.publisher}, {self.kind} "{self.title}" ({self.where}{when}), {self.status}'


class Published(Strict):
    benchmark: str = Field(description="the benchmark's name in the source")
    percent: float = Field(ge=0, le=100)


class PublishedModel(Strict):
    source: str = Field(description="a name under `sources`")
    scores: dict[str, Published] = Field(min_length=1, description="keyed by task id")


class Reference(Strict):
    sources: dict[str, Source] = Field(min_length=1)
    models: dict[str, PublishedModel] = Field(min_length=1, description="keyed by variant")

    @model_validator(mode="after")
    def _sources_exist(self) -> Reference:
        for variant, published in self.models.items():
            if published.source not in self.sources:
                raise ValueError(f"models.{variant}.source: '{published.source}' is not one of sources ({', '.join(self.sources)})")
        return self

    def scores_for(self, variant: str) -> dict[str, Published]:
        found = self.models.get(variant)
        return found.scores if found is not None else {}

    def source_of(self, variant: str) -> Source | None:
        found = self.models.get(variant)
        return self.sources[found.source] if found is not None else None


def load_reference(path: Path = DEFAULT_REFERENCE) -> Reference:
    return load(path, Reference)


def reference_comparison(runs: Runs, summary: pd.DataFrame, reference: Reference) -> pd.DataFrame:
    """One row per (label whose variant has published figures, task it has a figure for).

    Figures are fractions, as in `summary` (from `harness.stats.summarize`); `difference` is
    measured minus published, `inside` whether the published figure lies in [ci_low, ci_high],
    `items_in_set` the size of the whole benchmark (a run with --limit measured a subset).
    `inside` is None when the interval has no width: when every item scored the same (all right
    on 30 MATH-500 items, say) the interval over items collapses to a point, and "98.2 is outside
    [100, 100]" would claim a precision that 30 items do not have.
    """
    rows = []
    for label in runs.labels:
        variant = runs.variant_of[label]
        found = reference.models.get(variant)
        if found is None:
            continue
        tasks = runs.run_of[label].manifest.tasks
        mine = summary[summary["model"] == label]
        for m in (row for _, row in mine.iterrows() if str(row["task"]).partition(":")[0] in found.scores):
            task = str(m["task"])  # the published figure of a task stands beside it under any protocol (math500:zai-kit)
            published = found.scores[task.partition(":")[0]]
            value = published.percent / 100
            rows.append({
                "model": label, "variant": variant, "task": task, "benchmark": published.benchmark, "published": value,
                "source": found.source, "accuracy": m["accuracy"], "ci_low": m["ci_low"], "ci_high": m["ci_high"],
                "n_items": m["n_items"], "items_in_set": tasks[task].rows if task in tasks else None, "k": m["k"],
                "inside": bool(m["ci_low"] <= value <= m["ci_high"]) if m["ci_high"] > m["ci_low"] else None,
                "difference": m["accuracy"] - value,
            })
    return pd.DataFrame(rows, columns=REFERENCE_COLUMNS)
