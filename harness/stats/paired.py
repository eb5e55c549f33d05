"""Paired comparison of two variants (or two runs) on the same items, and the CI drop test.

Pairing by item removes the item-difficulty variance that dominates unpaired comparisons:
two variants that both fail the same hard AIME problems differ only where they disagree.
Every difference here is b - a (current - base), as a fraction, over the items both sides
graded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from harness.stats.intervals import (
    CHUNK_ELEMENTS,
    bootstrap_interval,
    mean_interval,
    normal_cdf,
    standard_error,
    z_quantile,
)
from harness.stats.items import GROUP_KEYS, per_item, require_columns

# Exact sign-flip enumeration stays cheap up to this many non-zero differences (8192 patterns).
_EXACT_FLIP_LIMIT = 13


@dataclass(frozen=True, eq=False)
class PairedComparison:
    """Result of `compare`. `significant` follows the normal interval only: it is True exactly
    when [ci_low, ci_high] excludes zero, so a table never shows a "significant" delta whose
    interval crosses zero. The p-value and bootstrap interval are there to be read beside it."""

    n_items: int
    n_only_a: int
    n_only_b: int
    k_a: int
    k_b: int
    accuracy_a: float
    accuracy_b: float
    delta: float
    sem: float
    ci_low: float
    ci_high: float
    boot_low: float
    boot_high: float
    p_value: float
    p_method: str
    significant: bool
    flips: pd.DataFrame


@dataclass(frozen=True)
class RegressionResult:
    """Result of `regression_test`: `regressed` is True when H0 "the drop is no larger than the
    tolerance" is rejected at alpha, i.e. when upper_bound < -tolerance (equivalently
    p_value < alpha). Figures are fractions; `tolerance` is tolerance_pts / 100."""

    n_items: int
    accuracy_base: float
    accuracy_current: float
    delta: float
    sem: float
    upper_bound: float
    p_value: float
    tolerance: float
    alpha: float
    regressed: bool


class DropTest(NamedTuple):
    """One-sided test figures; scalars, or arrays when run over many replications at once."""

    delta: float | np.ndarray
    sem: float | np.ndarray
    upper_bound: float | np.ndarray
    p_value: float | np.ndarray


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value from the discordant counts.

    b = items right for a only, c = items right for b only. Under H0 each discordant item is
    a fair coin, so p = P(Binomial(b+c, 1/2) as extreme as min(b, c)), doubled and capped at 1.
    """
    n = b + c
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(b, c) + 1))
    return min(1.0, 2 * tail / 2**n)


def sign_flip_pvalue(
    diffs: np.ndarray, rng: np.random.Generator, n_permutations: int = 10_000
) -> tuple[float, str]:
    """Two-sided paired permutation p-value: under H0 each item's difference is as likely to
    have the opposite sign, so flip signs at random and count sums at least as extreme.

    Zero differences cannot change the sum and are dropped. With few non-zero differences all
    2^m sign patterns are enumerated (exact); otherwise a Monte Carlo estimate with the +1
    correction keeps p > 0. Returns (p, method).
    """
    d = np.asarray(diffs, dtype=float)
    d = d[d != 0]
    if d.size == 0:
        return 1.0, "sign-flip exact"
    threshold = abs(d.sum()) * (1 - 1e-9) - 1e-12
    if d.size <= _EXACT_FLIP_LIMIT:
        patterns = np.arange(2**d.size)[:, None] >> np.arange(d.size) & 1
        sums = np.abs((1 - 2 * patterns) @ d)
        return float(np.mean(sums >= threshold)), "sign-flip exact"
    chunk = max(1, CHUNK_ELEMENTS // d.size)
    extreme = 0
    for start in range(0, n_permutations, chunk):
        signs = 1 - 2 * rng.integers(0, 2, size=(min(chunk, n_permutations - start), d.size), dtype=np.int8)
        extreme += int(np.count_nonzero(np.abs(signs @ d) >= threshold))
    return (extreme + 1) / (n_permutations + 1), "sign-flip permutation"


def one_sided_drop_test(diffs: np.ndarray, tolerance_pts: float, alpha: float = 0.05) -> DropTest:
    """Test H0: delta >= -t against H1: delta < -t from per-item paired differences (last axis).

    Normal approximation on the standard error over items: the upper bound is
    mean + z_{1-alpha} * sem and p = Phi((mean + t) / sem), so p < alpha exactly when
    upper_bound < -t. With sem = 0 (every item moved by the same amount) p is 0 or 1; with a
    single item there is no standard error and p is NaN (never a regression).
    Vectorised over leading axes for simulation.
    """
    x = np.asarray(diffs, dtype=float)
    if x.shape[-1] == 0:
        raise ValueError("the drop test needs at least one paired item")
    mean, sem = x.mean(axis=-1), np.asarray(standard_error(x))
    margin = mean + tolerance_pts / 100
    degenerate = np.where(margin < 0, -np.inf, np.inf)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(sem > 0, margin / sem, np.where(sem == 0, degenerate, np.nan))
    p = normal_cdf(z)
    upper = mean + z_quantile(1 - alpha) * sem
    if x.ndim == 1:
        return DropTest(float(mean), float(sem), float(upper), float(p))
    return DropTest(mean, sem, upper, p)


def compare(
    a: pd.DataFrame,
    b: pd.DataFrame,
    level: float = 0.95,
    n_resamples: int = 2000,
    n_permutations: int = 10_000,
    seed: int = 0,
) -> PairedComparison:
    """Paired comparison of b against a on the items both graded.

    `a` and `b` are each either a scores frame of one model and task, or a per-item frame with
    item_id, n_samples and n_correct (as `per_item` returns or a stored baseline holds). The
    p-value is exact McNemar when both sides have one sample per item, else a sign-flip
    permutation test. `flips` lists items whose majority verdict (more than half the samples
    right) changed: item_id, accuracy_a, accuracy_b, change ("gained" or "lost").
    """
    matched, n_only_a, n_only_b = _match(a, b)
    acc_a, acc_b = matched["accuracy_a"].to_numpy(), matched["accuracy_b"].to_numpy()
    diffs = acc_b - acc_a
    estimate = mean_interval(diffs, level, bounds=(-1.0, 1.0))
    rng = np.random.default_rng(seed)
    boot_low, boot_high = bootstrap_interval(diffs, rng, level, n_resamples)
    k_a, k_b = int(matched["n_samples_a"].max()), int(matched["n_samples_b"].max())
    if k_a == 1 and k_b == 1:
        p_value, method = mcnemar_exact(int(np.sum(diffs < 0)), int(np.sum(diffs > 0))), "mcnemar exact"
    else:
        p_value, method = sign_flip_pvalue(diffs, rng, n_permutations)
    return PairedComparison(
        n_items=len(matched),
        n_only_a=n_only_a,
        n_only_b=n_only_b,
        k_a=k_a,
        k_b=k_b,
        accuracy_a=float(np.mean(acc_a)),
        accuracy_b=float(np.mean(acc_b)),
        delta=float(estimate.mean),
        sem=float(estimate.sem),
        ci_low=float(estimate.low),
        ci_high=float(estimate.high),
        boot_low=boot_low,
        boot_high=boot_high,
        p_value=p_value,
        p_method=method,
        significant=bool(estimate.low > 0 or estimate.high < 0),
        flips=_flips(matched),
    )


def compare_to(scores: pd.DataFrame, reference: str, **options: Any) -> pd.DataFrame:
    """Every other model against `reference`, per task, as one table for reports.

    Columns: task, reference, model, n_items, accuracy_reference, accuracy, delta, ci_low,
    ci_high, boot_low, boot_high, p_value, p_method, significant, n_gained, n_lost.
    `options` are passed to `compare`.
    """
    items = per_item(scores)
    rows = []
    for task, task_items in items.groupby("task", observed=True, sort=True):
        base = task_items[task_items["model"] == reference]
        if base.empty:
            continue
        for model, other in task_items[task_items["model"] != reference].groupby("model", observed=True, sort=True):
            result = compare(base, other, **options)
            rows.append({
                "task": task, "reference": reference, "model": model, "n_items": result.n_items,
                "accuracy_reference": result.accuracy_a, "accuracy": result.accuracy_b,
                "delta": result.delta, "ci_low": result.ci_low, "ci_high": result.ci_high,
                "boot_low": result.boot_low, "boot_high": result.boot_high,
                "p_value": result.p_value, "p_method": result.p_method,
                "significant": result.significant,
                "n_gained": int((result.flips["change"] == "gained").sum()),
                "n_lost": int((result.flips["change"] == "lost").sum()),
            })
    return pd.DataFrame(rows)


def regression_test(
    base: pd.DataFrame, current: pd.DataFrame, tolerance_pts: float = 1.0, alpha: float = 0.05
) -> RegressionResult:
    """Has `current` dropped by more than `tolerance_pts` points below `base`, at level alpha?

    Inputs as in `compare`. See `one_sided_drop_test` for the test; noise alone trips it in at
    most about alpha of runs, and less the larger the tolerance.
    """
    matched, _, _ = _match(base, current)
    diffs = (matched["accuracy_b"] - matched["accuracy_a"]).to_numpy()
    test = one_sided_drop_test(diffs, tolerance_pts, alpha)
    return RegressionResult(
        n_items=len(matched),
        accuracy_base=float(matched["accuracy_a"].mean()),
        accuracy_current=float(matched["accuracy_b"].mean()),
        delta=float(test.delta),
        sem=float(test.sem),
        upper_bound=float(test.upper_bound),
        p_value=float(test.p_value),
        tolerance=tolerance_pts / 100,
        alpha=alpha,
        regressed=bool(test.p_value < alpha),
    )


def _item_counts(frame: pd.DataFrame, side: str) -> pd.DataFrame:
    """item_id, n_samples, n_correct, accuracy for items with at least one graded sample."""
    if "correct" in frame.columns:
        frame = per_item(frame)
    require_columns(frame, ["item_id", "n_samples", "n_correct"], f"compare (side {side})")
    for column in GROUP_KEYS:
        if column in frame.columns and frame[column].nunique() > 1:
            raise ValueError(
                f"side {side} mixes several {column}s {sorted(frame[column].unique())}; pass one model and task"
            )
    if frame["item_id"].duplicated().any():
        raise ValueError(f"side {side} has repeated item_ids; pass one model and task")
    counts = frame.loc[frame["n_samples"] > 0, ["item_id", "n_samples", "n_correct"]]
    return counts.assign(accuracy=counts["n_correct"] / counts["n_samples"])


def _match(a: pd.DataFrame, b: pd.DataFrame) -> tuple[pd.DataFrame, int, int]:
    """Items graded on both sides, by id, and how many each side had alone."""
    left, right = _item_counts(a, "a"), _item_counts(b, "b")
    left = left.assign(item_id=left["item_id"].astype(str))
    right = right.assign(item_id=right["item_id"].astype(str))
    matched = left.merge(right, on="item_id", suffixes=("_a", "_b"), sort=True)
    if matched.empty:
        raise ValueError(f"no item graded on both sides (a has {len(left)} items, b has {len(right)})")
    return matched, len(left) - len(matched), len(right) - len(matched)


def _flips(matched: pd.DataFrame) -> pd.DataFrame:
    right_a, right_b = matched["accuracy_a"] > 0.5, matched["accuracy_b"] > 0.5
    flipped = matched.loc[right_a != right_b, ["item_id", "accuracy_a", "accuracy_b"]]
    change = np.where(flipped["accuracy_b"] > 0.5, "gained", "lost")
    return flipped.assign(change=change).reset_index(drop=True)
