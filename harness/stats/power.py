"""How many samples per item are needed to tell two variants apart (`glm-eval plan --detect`).

The paired test of `harness.stats.paired` works on per-item differences d_i = p̂_Bi - p̂_Ai of
mean accuracies over k samples per item. Their mean over n items has variance

    Var(mean d) = (sigma2_between + 2 * v_within / k) / n

where v_within is the per-sample Bernoulli variance p_i(1 - p_i) averaged over items (and
variants), and sigma2_between the variance over items of the true per-item difference. A
difference d is detected by a two-sided test at level alpha with the given power when

    (z_{1-alpha/2} + z_{power}) * sqrt(Var(mean d)) <= d

so k = ceil(2 * v_within / (n * (d / z)^2 - sigma2_between)), with z the sum of the two
quantiles. When n * (d / z)^2 <= sigma2_between, no k suffices: the items themselves vary too
much and only more items help. Both variances come from a previous run of the task:
v_within from p̂(1 - p̂) * k / (k - 1) per item (unbiased), sigma2_between from the spread of the
observed per-item differences between each pair of variants minus what within-item noise alone
explains. With one variant in the run, sigma2_between is unknown and taken as 0, which makes k
a lower bound; `between_source` says which case applied.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from harness.stats.intervals import z_quantile
from harness.stats.items import graded_mask, per_item


@dataclass(frozen=True)
class SampleSizeAdvice:
    """Advice for one task. Variances are per sample / per item on the fraction scale; k_needed
    and n_requests are None when no number of samples per item suffices. n_requests counts both
    variants (2 x n_items x k_needed); the mean token counts let a caller price it."""

    task: str
    detect_pts: float
    alpha: float
    power: float
    n_items: int
    k_current: int
    within_var: float
    between_var: float
    between_source: str
    detectable_pts_at_current_k: float
    k_needed: int | None
    n_requests: int | None
    mean_prompt_tokens: float
    mean_completion_tokens: float


def sample_size_advice(
    scores: pd.DataFrame, task: str, detect_pts: float, alpha: float = 0.05, power: float = 0.8
) -> SampleSizeAdvice:
    """Samples per item needed to detect `detect_pts` points between two variants on `task`,
    estimated from a previous run's scores (formula in the module docstring)."""
    if detect_pts <= 0:
        raise ValueError(f"detect_pts must be positive, got {detect_pts}")
    rows = scores[scores["task"] == task]
    items = per_item(rows)
    items = items[items["n_samples"] >= 2]
    if items.empty:
        raise ValueError(
            f"task {task!r} has no item with two or more graded samples in this run; "
            "within-item variance needs k >= 2"
        )
    n = items["n_samples"]
    items = items.assign(var=items["accuracy"] * (1 - items["accuracy"]) * n / (n - 1))
    within = float(items["var"].mean())
    between, source = _between_variance(items)
    n_items = int(items["item_id"].nunique())
    k_current = int(items["k"].max())
    z = z_quantile(1 - alpha / 2) + z_quantile(power)
    budget = n_items * (detect_pts / 100 / z) ** 2 - between
    k_needed = max(1, math.ceil(2 * within / budget)) if budget > 0 else None
    graded = rows[graded_mask(rows)]
    return SampleSizeAdvice(
        task=task,
        detect_pts=detect_pts,
        alpha=alpha,
        power=power,
        n_items=n_items,
        k_current=k_current,
        within_var=within,
        between_var=between,
        between_source=source,
        detectable_pts_at_current_k=100 * z * math.sqrt((between + 2 * within / k_current) / n_items),
        k_needed=k_needed,
        n_requests=None if k_needed is None else 2 * n_items * k_needed,
        mean_prompt_tokens=float(graded["prompt_tokens"].mean()),
        mean_completion_tokens=float(graded["completion_tokens"].mean()),
    )


def _between_variance(items: pd.DataFrame) -> tuple[float, str]:
    """Mean over variant pairs of var(observed d_i) - mean(s2_Ai/n_Ai + s2_Bi/n_Bi), floored at 0."""
    models = sorted(items["model"].unique())
    if len(models) < 2:
        return 0.0, "assumed 0 (one variant in the run; k_needed is a lower bound)"
    wide = items.assign(noise=items["var"] / items["n_samples"]).pivot(
        index="item_id", columns="model", values=["accuracy", "noise"]
    )
    estimates = []
    for a, b in itertools.combinations(models, 2):
        pair = wide.loc[:, (slice(None), [a, b])].dropna()
        if len(pair) < 2:
            continue
        diffs = pair[("accuracy", b)] - pair[("accuracy", a)]
        noise = (pair[("noise", a)] + pair[("noise", b)]).mean()
        estimates.append(max(0.0, float(np.var(diffs, ddof=1) - noise)))
    if not estimates:
        return 0.0, "assumed 0 (no two variants share two items; k_needed is a lower bound)"
    return float(np.mean(estimates)), f"estimated from {len(estimates)} variant pair(s)"
