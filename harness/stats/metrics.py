"""Accuracy (avg@k), pass@k and maj@k per model x task and per breakdown, with error bars."""

from __future__ import annotations

import zlib
from collections.abc import Sequence

import numpy as np
import pandas as pd

from harness.stats.intervals import bootstrap_interval, mean_interval
from harness.stats.items import GROUP_KEYS, per_item

SUMMARY_COLUMNS = [
    "n_items", "k", "n_samples",
    "accuracy", "sem", "ci_low", "ci_high", "boot_low", "boot_high",
    "pass_at_k", "maj_at_k", "truncated_share", "ambiguous_share", "filtered_share", "failed_share",
]


def pass_at_k(n: np.ndarray | int, c: np.ndarray | int, k: int) -> np.ndarray:
    """Unbiased pass@k per item, 1 - C(n-c, k) / C(n, k), from n graded samples with c right.

    Computed as 1 - prod_{j<k} (n-c-j)/(n-j), which equals the binomial ratio without forming
    huge binomials. An item with fewer than k graded samples (some requests failed) is scored
    at k = n, i.e. whether any of its samples was right, rather than being dropped; an item
    with no graded sample is NaN.
    """
    n = np.asarray(n, dtype=np.int64)
    c = np.asarray(c, dtype=np.int64)
    if k < 1 or np.any(c < 0) or np.any(c > n):
        raise ValueError(f"pass@k needs k >= 1 and 0 <= c <= n; got k={k}")
    j = np.arange(k)
    n_ = n[..., None]
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.clip((n_ - c[..., None] - j) / (n_ - j), 0.0, 1.0)
    terms = np.where(j < np.minimum(k, n_), terms, 1.0)
    return np.where(n > 0, 1.0 - terms.prod(axis=-1), np.nan)


def summarize(
    scores: pd.DataFrame,
    by: Sequence[str] = (),
    level: float = 0.95,
    n_resamples: int = 2000,
    seed: int = 0,
) -> pd.DataFrame:
    """One row per (model, task, *by) with accuracy, its error bars and the counts behind it.

    Columns: model, task, *by, then SUMMARY_COLUMNS:
      n_items      items with at least one graded sample (the unit of every error bar)
      k            samples per item as planned (most rows any item has, failures included)
      n_samples    graded samples (ok + truncated) behind the figures
      accuracy     avg@k: mean over samples per item, then over items (equals pass@1)
      sem          standard error over items; ci_low/ci_high its normal 95% interval in [0, 1]
      boot_low/boot_high  percentile bootstrap over items (seeded per group)
      pass_at_k    unbiased pass@k at the k above; maj_at_k majority vote over answers
      truncated_share, ambiguous_share, filtered_share, failed_share  of all rows (requests);
                   failed and filtered rows are excluded from every accuracy figure, truncated and
                   ambiguous rows (a grader that would not guess between the answers a response
                   names) count as wrong.
    `by` names breakdown columns (e.g. "subject"); items where that column is missing are left
    out of the breakdown. All figures are fractions, not points.
    """
    missing = [c for c in by if c not in scores.columns]
    if missing:
        raise ValueError(f"breakdown columns {missing} are not in the scores frame")
    keys = [*GROUP_KEYS, *by]
    items = per_item(scores)
    rows = [
        {**dict(zip(keys, key)), **_group_figures(group, level, n_resamples, seed, key)}
        for key, group in items.groupby(keys, observed=True, sort=True, dropna=True)
    ]
    return pd.DataFrame(rows, columns=[*keys, *SUMMARY_COLUMNS])


def _group_figures(
    items: pd.DataFrame, level: float, n_resamples: int, seed: int, key: tuple
) -> dict[str, float | int]:
    """Figures for one group; the bootstrap seed mixes in the group key so that a group's
    interval does not change when other models or tasks are added to the frame."""
    scored = items[items["n_samples"] > 0]
    accuracy = scored["accuracy"].to_numpy()
    estimate = mean_interval(accuracy, level)
    rng = np.random.default_rng([seed, zlib.crc32(repr(key).encode())])
    boot_low, boot_high = bootstrap_interval(accuracy, rng, level, n_resamples)
    k = int(items["k"].max())
    requests = int(items["k"].sum())
    return {
        "n_items": len(scored),
        "k": k,
        "n_samples": int(scored["n_samples"].sum()),
        "accuracy": float(estimate.mean),
        "sem": float(estimate.sem),
        "ci_low": float(estimate.low),
        "ci_high": float(estimate.high),
        "boot_low": boot_low,
        "boot_high": boot_high,
        "pass_at_k": float(np.mean(pass_at_k(scored["n_samples"], scored["n_correct"], k))) if len(scored) else np.nan,
        "maj_at_k": float(scored["maj_correct"].mean()),
        "truncated_share": items["n_truncated"].sum() / requests,
        "ambiguous_share": items["n_ambiguous"].sum() / requests,
        "filtered_share": items["n_filtered"].sum() / requests,
        "failed_share": items["n_failed"].sum() / requests,
    }
