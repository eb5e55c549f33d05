"""Calibration by simulation: intervals cover, tests hold their error rates.

Items are drawn afresh in every replication from a population of heterogeneous difficulty
(Beta-distributed per-item accuracy), k samples each: the setting the item-level standard
error describes. Each check runs thousands of replications at once through the same
vectorised estimators `summarize`, `compare` and `regression_test` use.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from harness.stats import (
    bootstrap_interval,
    mcnemar_exact,
    mean_interval,
    one_sided_drop_test,
    sample_size_advice,
    sign_flip_pvalue,
)

REPS, ITEMS, K = 2000, 200, 4
A, B = 2.0, 1.2          # item accuracy ~ Beta(2, 1.2): mean 0.625, many easy and many hard items


def binomial_band(rate: float, reps: int, sds: float = 3.5) -> tuple[float, float]:
    sd = math.sqrt(rate * (1 - rate) / reps)
    return rate - sds * sd, rate + sds * sd


def run(rng: np.random.Generator, p: np.ndarray, k: int = K) -> np.ndarray:
    """Per-item mean accuracy over k samples, for every replication and item."""
    return rng.binomial(k, p) / k


def test_accuracy_interval_covers_95_percent() -> None:
    rng = np.random.default_rng(20250728)
    p = rng.beta(A, B, size=(REPS, ITEMS))
    estimate = mean_interval(run(rng, p))
    truth = A / (A + B)
    coverage = np.mean((estimate.low <= truth) & (truth <= estimate.high))
    assert 0.93 <= coverage <= 0.97


def test_bootstrap_interval_covers_95_percent() -> None:
    rng = np.random.default_rng(7)
    reps = 300
    accuracies = run(rng, rng.beta(A, B, size=(reps, ITEMS)))
    truth = A / (A + B)
    hits = [low <= truth <= high for low, high in (bootstrap_interval(x, rng, n_resamples=1000) for x in accuracies)]
    low, high = binomial_band(0.95, reps)
    assert low <= np.mean(hits) <= high


def test_paired_interval_is_significant_in_5_percent_of_null_runs() -> None:
    rng = np.random.default_rng(11)
    p = rng.beta(A, B, size=(REPS, ITEMS))
    diffs = run(rng, p) - run(rng, p)
    estimate = mean_interval(diffs, bounds=(-1.0, 1.0))
    significant = np.mean((estimate.low > 0) | (estimate.high < 0))
    low, high = binomial_band(0.05, REPS)
    assert low <= significant <= high


def test_permutation_pvalue_rejects_5_percent_of_null_runs() -> None:
    rng = np.random.default_rng(12)
    reps = 500
    p = rng.beta(A, B, size=(reps, ITEMS))
    diffs = run(rng, p) - run(rng, p)
    rejected = np.mean([sign_flip_pvalue(d, rng, n_permutations=999)[0] < 0.05 for d in diffs])
    low, high = binomial_band(0.05, reps)
    assert low <= rejected <= high


def test_mcnemar_rejects_at_most_5_percent_of_null_runs() -> None:
    rng = np.random.default_rng(13)
    p = rng.beta(A, B, size=(REPS, ITEMS))
    a, b = run(rng, p, k=1), run(rng, p, k=1)
    only_a, only_b = ((a > b).sum(axis=1)), ((b > a).sum(axis=1))
    rejected = np.mean([mcnemar_exact(int(x), int(y)) < 0.05 for x, y in zip(only_a, only_b)])
    assert 0.02 <= rejected <= binomial_band(0.05, REPS)[1]   # exact McNemar is conservative


@pytest.mark.parametrize("tolerance_pts", [0.0, 1.0])
def test_regression_false_alarms_stay_at_or_below_alpha(tolerance_pts: float) -> None:
    rng = np.random.default_rng(14)
    p = rng.beta(A, B, size=(REPS, ITEMS))
    test = one_sided_drop_test(run(rng, p) - run(rng, p), tolerance_pts, alpha=0.05)
    false_alarms = np.mean(test.p_value < 0.05)
    assert np.array_equal(test.p_value < 0.05, test.upper_bound < -tolerance_pts / 100)
    if tolerance_pts == 0:
        low, high = binomial_band(0.05, REPS)
        assert low <= false_alarms <= high        # at the boundary the rate is alpha
    else:
        assert false_alarms <= 0.05


@pytest.mark.parametrize(("items", "k", "min_power"), [(200, 4, 0.97), (30, 32, 0.8)])
def test_regression_catches_a_10_point_drop(items: int, k: int, min_power: float) -> None:
    rng = np.random.default_rng(15)
    p = 0.1 + 0.9 * rng.beta(A, B, size=(1000, items))   # >= 0.1, so a 10-point drop fits
    test = one_sided_drop_test(run(rng, p - 0.1, k) - run(rng, p, k), tolerance_pts=1.0, alpha=0.05)
    assert np.mean(test.p_value < 0.05) >= min_power


def test_sample_size_advice_delivers_the_promised_power() -> None:
    """Plan from a one-variant pilot run, then check the planned k detects 5 points ~80% of the time."""
    rng = np.random.default_rng(16)
    items, pilot_k, detect = 100, 4, 0.05
    p = rng.uniform(0.15, 0.8, size=items)
    correct = rng.random((items, pilot_k)) < p[:, None]
    pilot = pd.DataFrame({
        "model": "a", "task": "t", "item_id": np.repeat([f"i{i}" for i in range(items)], pilot_k),
        "sample": np.tile(np.arange(pilot_k), items), "status": "ok", "correct": correct.ravel(),
        "normalized": "1", "prompt_tokens": 100, "completion_tokens": 1000,
    })
    advice = sample_size_advice(pilot, "t", detect_pts=100 * detect)
    assert advice.k_needed is not None
    p_reps = np.broadcast_to(p, (REPS, items))
    diffs = run(rng, p_reps + detect, advice.k_needed) - run(rng, p_reps, advice.k_needed)
    estimate = mean_interval(diffs, bounds=(-1.0, 1.0))
    power = np.mean(estimate.low > 0)
    assert 0.72 <= power <= 0.9
