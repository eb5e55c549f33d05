"""`glm-eval history`: every run under a folder as one table, one row per run x model x task.

A check compares two runs; a drift of a point a month passes every check and shows only here, as
a trend. Accuracy and its interval come from harness.stats.summarize and cost from
harness.cost.cost_summary (priced as the run was), so the figures match the run's own report.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from harness import results, stats
from harness.cost import UNPRICED, PriceBook, PriceError, cost_summary, load_prices, run_preset
from harness.errors import UserError
from harness.gate.order import task_rank, variant_rank
from harness.runs import Run, load_run

COLUMNS = [
    "started", "run_id", "git_commit", "provider", "simulated", "model", "model_id", "task", "fingerprint",
    "n_items", "k", "accuracy", "ci_low", "ci_high", "cost", "currency", "priced_as",
]


@dataclass(frozen=True)
class History:
    table: pd.DataFrame  # COLUMNS, oldest run first
    skipped: tuple[str, ...]  # run folders that could not be read, with why


def gather(root: Path) -> History:
    """Every run folder below `root` (any depth). A folder that cannot be read is skipped and
    named rather than stopping the history: one broken run must not hide the others."""
    if not root.is_dir():
        raise UserError(f"{root}: no such folder; name the folder your runs are in (default results/)")
    book = load_prices()
    frames, skipped = [], []
    for manifest in sorted(root.rglob(results.MANIFEST)):
        try:
            run = load_run(manifest.parent)
        except UserError as error:
            skipped.append(str(error))
            continue
        if not run.manifest.started:
            skipped.append(f"{manifest.parent}: the manifest has no start time, so the run has no place in time")
            continue
        folder = manifest.parent.relative_to(root).as_posix()
        frames.append(_rows(run, run.name if folder == "." else folder, book))
    if not frames:
        why = f"; skipped: {skipped[0]}" if skipped else ""
        raise UserError(f"no run folders under {root} (a run folder holds {results.MANIFEST} and {results.SAMPLES}){why}")
    table = pd.concat(frames, ignore_index=True)
    table = table.assign(_model=table["model"].map(variant_rank), _task=table["task"].map(task_rank))
    table = table.sort_values(["started", "run_id", "_model", "_task"], kind="mergesort")
    return History(table.drop(columns=["_model", "_task"]).reset_index(drop=True), tuple(skipped))


def _rows(run: Run, name: str, book: PriceBook) -> pd.DataFrame:
    manifest = run.manifest
    summary = stats.summarize(run.scores, n_resamples=200)[["model", "task", "n_items", "k", "accuracy", "ci_low", "ci_high"]]
    try:
        costs = cost_summary(run.scores, book, run_preset(book, manifest))[["model", "task", "cost", "currency", "priced_as"]]
        costs["cost"] = costs["cost"].where(costs["priced_as"] != UNPRICED)
    except PriceError:  # e.g. a preset the price file no longer has: the history still has the scores
        costs = summary[["model", "task"]].assign(cost=float("nan"), currency=None, priced_as="unknown")
    frame = summary.merge(costs, on=["model", "task"], how="left")
    frame.insert(0, "started", pd.to_datetime(manifest.started, utc=True))
    frame.insert(1, "run_id", name)
    frame.insert(2, "git_commit", manifest.git_commit)
    frame.insert(3, "provider", manifest.provider.name)
    frame.insert(4, "simulated", run.simulated)
    frame["model_id"] = frame["model"].map(manifest.models)
    frame["fingerprint"] = frame["task"].map(lambda t: (manifest.tasks[t].fingerprint or "")[:12] or None if t in manifest.tasks else None)
    return frame[COLUMNS]
