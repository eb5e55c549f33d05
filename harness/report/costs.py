"""Cost per variant and task for a report, from harness.cost and configs/prices.yaml.

A simulated run has no bill. Its token counts are priced with a named preset instead, so that a
reader still sees what the same tokens would cost at published prices; every cost figure then
says "priced as <preset>" and the page says the tokens are simulated.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from harness import cost
from harness.errors import UserError
from harness.runs import Run, Runs

# The preset that prices simulated tokens: CometAPI's list is the one published beside the
# reference figures and the only one with a price for all five variants.

COST_COLUMNS = [
    "model", "task", "priced_as", "currency", "n_requests", "n_correct", "cost", "cost_per_request", "cost_per_correct",
    "prompt_tokens", "cached_tokens", "cached_share", "cost_uncached", "n_reported", "reported_cost", "table_cost_of_reported",
]
TOTAL_COLUMNS = [
    "model", "priced_as", "currency", "cost", "n_correct", "cost_per_correct",
    "cached_share", "cost_uncached", "n_reported", "reported_cost", "table_cost_of_reported",
]


@dataclass(frozen=True)
class Costs:
    """`by_task` has one row per (label, task), `totals` one per label (all tasks); a priced_as of
    "unpriced" means the provider has no preset and the cost is not known."""

    by_task: pd.DataFrame
    totals: pd.DataFrame
    notes: tuple[str, ...]
    unverified: frozenset[str] = frozenset()  # labels priced with a row the price file marks unverified

    @property
    def available(self) -> bool:
        priced = self.by_task["priced_as"] != cost.UNPRICED
        return bool(pd.to_numeric(self.by_task.loc[priced, "cost"]).notna().any())


def price_runs(runs: Runs, prices: Path = cost.DEFAULT_PRICES, price_as: str | None = None) -> Costs:
    """Costs of every run, each priced by cost.run_preset (`price_as` prices them all)."""
    try:
        book = cost.load_prices(prices)
    except cost.PriceError as error:
        return Costs(pd.DataFrame(columns=COST_COLUMNS), pd.DataFrame(columns=TOTAL_COLUMNS), (f"The price file cannot be used: {error}",))
    by_task, totals, unverified, unverified_labels = [], [], set(), set()
    for run in runs.runs:
        preset = cost.run_preset(book, run.manifest, price_as)
        try:
            summary = cost.cost_summary(run.scores, book, preset)
        except cost.PriceError as error:
            raise UserError(f"cannot price run {run.name}: {error}") from None
        summary["model"] = [runs.label(run, variant) for variant in summary["model"]]
        by_task.append(summary)
        for variant, rows in run.scores.groupby("model", observed=True, sort=False):
            total = cost.run_cost(rows, book, preset)
            mine = summary[summary["model"] == runs.label(run, variant)]
            n_correct = int(mine["n_correct"].sum())
            prompt = float(mine["prompt_tokens"].sum())
            totals.append({
                "model": runs.label(run, variant), "priced_as": "+".join(total.priced_as), "currency": total.currency,
                "cost": total.cost, "n_correct": n_correct,
                "cost_per_correct": total.cost / n_correct if n_correct else np.nan,
                "cached_share": float(mine["cached_tokens"].sum()) / prompt if prompt > 0 else np.nan,
                "cost_uncached": mine["cost_uncached"].sum(min_count=len(mine)) if mine["cost_uncached"].notna().all() else np.nan,
                "n_reported": int(mine["n_reported"].sum()),
                "reported_cost": float(mine["reported_cost"].sum()),
                "table_cost_of_reported": (mine["table_cost_of_reported"].sum()
                                           if mine["table_cost_of_reported"].notna().all() else np.nan),
            })
            for name in total.priced_as:
                price = book.presets[name].models.get(variant) if name in book.presets else None
                if price is not None and (price.unverified or book.presets[name].unverified):
                    unverified.add(f"{variant} ({name})")
                    unverified_labels.add(runs.label(run, variant))
    by_task = pd.concat(by_task, ignore_index=True)[COST_COLUMNS]
    notes = _notes(runs, by_task, unverified, prices, book)
    return Costs(by_task, pd.DataFrame(totals, columns=TOTAL_COLUMNS), notes, frozenset(unverified_labels))


def _rows_used(run: Run, book: cost.PriceBook, preset: str | None) -> set[tuple[str, str]]:
    """The (preset, model) rows of the price file that price `run`."""
    if preset is not None:
        return {(preset, m) for m in run.scores["model"].unique()}
    pairs = run.scores[["provider", "model"]].drop_duplicates()
    return {(p, m) for p, m in zip(pairs["provider"].map(book.preset_for), pairs["model"]) if p is not None}


def _notes(runs: Runs, by_task: pd.DataFrame, unverified: set[str], prices: Path, book: cost.PriceBook) -> tuple[str, ...]:
    """What a reader must know before trusting a cost figure; why a cost is missing comes last."""
    notes = [f"Prices from {prices}; prices change, and are yours to keep current."]
    if runs.simulated:
        presets = sorted(set(by_task.loc[by_task["model"].isin(runs.simulated_labels), "priced_as"]))
        notes.append(f"Simulated runs have no bill: their token counts are priced as {', '.join(presets)}.")
    used = {(p, m) for run in runs.runs for p, m in _rows_used(run, book, cost.run_preset(book, run.manifest))}
    stale = book.stale_rows(used)
    if stale:
        notes.append(f"Price rows read more than {cost.STALE_AFTER_DAYS} days ago, which may no longer be the bill: {'; '.join(stale)}.")
    for run in runs.runs:
        if "via" in run.scores.columns and run.scores["via"].eq("batch").any():
            preset = cost.run_preset(book, run.manifest)
            factor = book.batch_factor(preset) if preset in book.presets else None
            n = int(run.scores["via"].eq("batch").sum())
            notes.append(f"{run.name}: {n} answers came through the provider's batch API, priced at {preset}'s batch price "
                         f"({factor:g}x every rate)." if factor is not None else
                         f"{run.name}: {n} answers came through the provider's batch API, and {preset or 'its preset'} gives no batch "
                         f"price, so their cost is unknown; --price-as a preset with one (configs/prices.yaml, batch) prices them.")
    if unverified:
        notes.append(f"Prices as published and unverified (see the price file): {', '.join(sorted(unverified))}.")
    unpriced = by_task.loc[by_task["priced_as"] == cost.UNPRICED, "model"]
    providers = sorted({runs.run_of[label].scores["provider"].iloc[0] for label in unpriced})
    if providers:
        notes.append(f"No preset in the price file prices provider(s) {', '.join(providers)}, so their cost is not known; "
                     f"--price-as PRESET prices the tokens with one of {', '.join(book.presets)}.")
    return tuple(notes)
