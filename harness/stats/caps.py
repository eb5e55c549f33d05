"""Accuracy as a function of the token cap (max_tokens), computed after the fact from one run.

An answer that used N completion tokens (reasoning included) would have been cut at any cap below
N, and a cut answer is wrong (it never reached its final answer); below N nothing else changes,
since generation up to the cap is the same. So the accuracy a run would have had at every cap up
to the one it used follows from each answer's token count, with no request sent again. The item
stays the unit of every interval, as everywhere in harness.stats.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from harness.stats.intervals import mean_interval
from harness.stats.items import GROUP_KEYS, graded_mask, require_columns

# Caps a user would try, in tokens: powers of two and the steps between, up to the published 81,920.
CAPS = (1024, 2048, 4096, 6144, 8192, 12288, 16384, 24576, 32768, 49152, 65536, 81920)
WITHIN_PTS = 1.0

CURVE_COLUMNS = [*GROUP_KEYS, "cap", "n_items", "accuracy", "ci_low", "ci_high", "truncated_share", "output_tokens", "cost"]


def caps_for(max_tokens: int) -> list[int]:
    """The grid of caps a run at `max_tokens` can answer for: those below it, and its own."""
    return [c for c in CAPS if c < max_tokens] + [max_tokens]


def cap_curve(
    scores: pd.DataFrame, max_tokens: int, row_cost: Callable[[pd.DataFrame], pd.Series] | None = None
) -> pd.DataFrame:
    """Per (model, task, cap): accuracy with its 95% interval over items, the share of answers
    truncated, mean output tokens per answer, and (with `row_cost`, the cost of each row of a
    scores frame) the cost of the answers at that cap. Empty for a group where some answer has no
    token count (a server that sends no usage): its curve cannot be known."""
    require_columns(scores, [*GROUP_KEYS, "item_id", "status", "correct", "completion_tokens"], "cap_curve")
    graded = scores[graded_mask(scores)]
    rows = []
    for (model, task), group in graded.groupby(GROUP_KEYS, observed=True, sort=True):
        used = pd.to_numeric(group["completion_tokens"], errors="coerce")
        if used.isna().any():
            continue
        truncated = (group["status"] == "truncated").to_numpy()
        correct = group["correct"].fillna(False).astype(bool).to_numpy()
        items = pd.factorize(group["item_id"].astype(str))[0]
        for cap in caps_for(max_tokens):
            fits = used.to_numpy() <= cap
            right = (correct & fits).astype(float)
            per_item = np.bincount(items, weights=right) / np.bincount(items)
            estimate = mean_interval(per_item)
            capped = group.assign(completion_tokens=np.minimum(used.to_numpy(), cap))
            rows.append({
                "model": model, "task": task, "cap": cap, "n_items": len(per_item),
                "accuracy": float(estimate.mean), "ci_low": float(estimate.low), "ci_high": float(estimate.high),
                "truncated_share": float(np.mean(~fits | truncated)),
                "output_tokens": float(capped["completion_tokens"].mean()),
                "cost": float(row_cost(capped).sum()) if row_cost is not None else np.nan,
            })
    return pd.DataFrame(rows, columns=CURVE_COLUMNS)


def sufficient_caps(curve: pd.DataFrame, within_pts: float = WITHIN_PTS) -> pd.DataFrame:
    """Per (model, task): the smallest cap whose accuracy is within `within_pts` points of the score
    at the run's own cap, and what the run's cap costs beyond it (ratio of cost, or of output tokens
    where the cost is unknown) for how many points."""
    rows = []
    for (model, task), group in curve.groupby(GROUP_KEYS, observed=True, sort=True):
        group = group.sort_values("cap")
        full = group.iloc[-1]
        enough = group[group["accuracy"] >= full["accuracy"] - within_pts / 100].iloc[0]
        by_cost = np.isfinite(full["cost"]) and np.isfinite(enough["cost"]) and enough["cost"] > 0
        ratio = full["cost"] / enough["cost"] if by_cost else full["output_tokens"] / enough["output_tokens"]
        rows.append({
            "model": model, "task": task, "cap": int(enough["cap"]), "accuracy": float(enough["accuracy"]),
            "full_cap": int(full["cap"]), "full_accuracy": float(full["accuracy"]),
            "gain_pts": 100 * float(full["accuracy"] - enough["accuracy"]), "ratio": float(ratio),
            "ratio_of": "cost" if by_cost else "output tokens",
        })
    return pd.DataFrame(rows, columns=["model", "task", "cap", "accuracy", "full_cap", "full_accuracy", "gain_pts", "ratio", "ratio_of"])


def sentence(row: pd.Series, task_name: str) -> str:
    """The summary line: where the score is reached, and what the rest of the cap buys."""
    if row["cap"] == row["full_cap"]:
        return f"{row['model']} reaches its {task_name} score only by {row['cap']:,} tokens, its whole cap: a lower one would cost accuracy"
    head = f"{row['model']} reaches its {task_name} score by {_k(row['cap'])} tokens"
    what = "costs" if row["ratio_of"] == "cost" else "uses"
    more = "" if row["ratio_of"] == "cost" else " the output tokens"
    return f"{head}; {row['full_cap']:,} {what} {row['ratio']:.2f}x{more} for {row['gain_pts']:+.1f} points"


def _k(tokens: int) -> str:
    return f"{tokens // 1024}k" if tokens % 1024 == 0 else f"{tokens:,}"
