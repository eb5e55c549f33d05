"""Estimators of harness.stats checked against values worked by hand."""

from __future__ import annotations

import math
import time

import numpy as np
import pandas as pd
import pytest

from harness.stats import (
    bootstrap_interval,
    compare,
    compare_to,
    mcnemar_exact,
    one_sided_drop_test,
    pass_at_k,
    per_item,
    regression_test,
    sample_size_advice,
    sign_flip_pvalue,
    summarize,
    throughput,
    usage_summary,
)

Z95 = 1.959963984540054


def scores(rows: list[tuple], model: str = "m", task: str = "t", **extra: object) -> pd.DataFrame:
    """Frame from (item_id, sample, status, correct, normalized) tuples, with usage filled in."""
    frame = pd.DataFrame(rows, columns=["item_id", "sample", "status", "correct", "normalized"])
    return frame.assign(
        model=model, task=task, prompt_tokens=100, completion_tokens=1000, reasoning_tokens=600,
        latency_s=10.0, ttft_s=1.0, provider="simulated", **extra,
    )


def item_frame(accuracies: list[float], k: int, prefix: str = "q") -> pd.DataFrame:
    """Per-item counts (as a stored baseline holds them) for the given per-item accuracies."""
    return pd.DataFrame({
        "item_id": [f"{prefix}{i}" for i in range(len(accuracies))],
        "n_samples": k,
        "n_correct": [round(a * k) for a in accuracies],
    })


# A hand-made run: k = 2; item e failed twice, f once; b has one truncated sample.
HAND = scores([
    ("a", 0, "ok", True, "4"), ("a", 1, "ok", True, "4"),              # 1.0
    ("b", 0, "ok", True, "x"), ("b", 1, "truncated", False, None),     # 0.5
    ("c", 0, "ok", False, "y"), ("c", 1, "ok", True, "z"),             # 0.5, maj tie -> "y" (wrong)
    ("d", 0, "ok", False, "p"), ("d", 1, "ok", False, "p"),            # 0.0
    ("e", 0, "failed", False, None), ("e", 1, "failed", False, None),  # no graded sample
    ("f", 0, "ok", True, "q"), ("f", 1, "failed", False, None),        # 1.0 from one sample
])


@pytest.mark.parametrize(
    ("n", "c", "k", "expected"),
    [
        (5, 2, 2, 1 - 3 / 10),        # 1 - C(3,2)/C(5,2)
        (10, 3, 5, 1 - 21 / 252),     # 1 - C(7,5)/C(10,5)
        (4, 1, 1, 0.25),              # pass@1 = c/n
        (5, 0, 3, 0.0),
        (5, 5, 3, 1.0),
        (3, 1, 3, 1.0),               # n = k: any right
        (2, 1, 4, 1.0),               # fewer graded samples than k: scored at k = n
        (2, 0, 4, 0.0),
    ],
)
def test_pass_at_k_by_hand(n: int, c: int, k: int, expected: float) -> None:
    assert pass_at_k(n, c, k) == pytest.approx(expected)


def test_pass_at_k_matches_binomials_and_is_nan_without_samples() -> None:
    n, c = np.meshgrid(np.arange(1, 17), np.arange(0, 17))
    n, c = n[c <= n], c[c <= n]
    for k in (1, 2, 5, 16):
        ok = n >= k
        expected = [1 - math.comb(ni - ci, k) / math.comb(ni, k) for ni, ci in zip(n[ok], c[ok])]
        np.testing.assert_allclose(pass_at_k(n[ok], c[ok], k), expected, rtol=1e-12, atol=1e-12)
    assert np.isnan(pass_at_k(0, 0, 2))
    with pytest.raises(ValueError):
        pass_at_k(3, 4, 1)


def test_summary_of_hand_made_frame() -> None:
    row = summarize(HAND).iloc[0]
    # item accuracies 1, .5, .5, 0, 1: mean .6, sample variance .175, sem sqrt(.175 / 5)
    sem = math.sqrt(0.175 / 5)
    assert (row["n_items"], row["k"], row["n_samples"]) == (5, 2, 9)
    assert row["accuracy"] == pytest.approx(0.6)
    assert row["sem"] == pytest.approx(sem)
    assert row["ci_low"] == pytest.approx(0.6 - Z95 * sem)
    assert row["ci_high"] == pytest.approx(0.6 + Z95 * sem)
    assert row["pass_at_k"] == pytest.approx(4 / 5)   # d is the only item never right
    assert row["maj_at_k"] == pytest.approx(3 / 5)    # a, b, f; c's tie goes to sample 0 ("y")
    assert row["truncated_share"] == pytest.approx(1 / 12)
    assert row["failed_share"] == pytest.approx(3 / 12)
    assert row["boot_low"] < row["accuracy"] < row["boot_high"]


def test_interval_is_clipped_to_unit_range() -> None:
    rows = [(f"i{i}", s, "ok", i > 0, "1") for i in range(5) for s in range(2)]
    row = summarize(scores(rows)).iloc[0]
    assert row["accuracy"] == pytest.approx(0.8)
    assert row["ci_high"] == 1.0 and row["ci_low"] < 0.8


def test_majority_vote_ties_go_to_lowest_first_sample_and_none_never_wins() -> None:
    votes = [("B", False), ("A", True), ("A", True), ("B", False), (None, False), (None, False), (None, False)]
    rows = [("q", s, "ok", right, answer) for s, (answer, right) in enumerate(votes)]
    rows += [("r", s, "ok", False, None) for s in range(3)]   # no answer at all: wrong
    shuffled = scores(rows).sample(frac=1.0, random_state=3)
    maj = per_item(shuffled).set_index("item_id")["maj_correct"]
    assert maj["q"] == 0.0 and maj["r"] == 0.0                # B (first at sample 0) beats A
    swapped = scores([("q", s, "ok", right, answer) for s, (answer, right) in zip([1, 0, 3, 2, 4, 5, 6], votes)])
    assert per_item(swapped)["maj_correct"].iloc[0] == 1.0    # now A appears first


def test_breakdown_skips_items_without_a_value_and_rejects_unknown_columns() -> None:
    frame = HAND.assign(subject=HAND["item_id"].map({"a": "algebra", "b": "algebra", "c": "geometry"}))
    table = summarize(frame, by=["subject"]).set_index("subject")
    assert list(table.index) == ["algebra", "geometry"]
    assert table.loc["algebra", "accuracy"] == pytest.approx(0.75)
    assert table.loc["geometry", "n_items"] == 1 and np.isnan(table.loc["geometry", "sem"])
    with pytest.raises(ValueError, match="domain"):
        summarize(frame, by=["domain"])


def test_unknown_status_is_refused() -> None:
    with pytest.raises(ValueError, match="status"):
        per_item(scores([("a", 0, "length", False, None)]))


def test_group_interval_does_not_depend_on_other_groups() -> None:
    other = HAND.assign(model="other")
    alone = summarize(HAND)
    together = summarize(pd.concat([HAND, other])).query("model == 'm'").reset_index(drop=True)
    pd.testing.assert_frame_equal(alone, together)


def test_bootstrap_is_seeded_and_fast() -> None:
    values = np.random.default_rng(0).random(500)
    start = time.perf_counter()
    first = bootstrap_interval(values, np.random.default_rng(7), n_resamples=2000)
    assert time.perf_counter() - start < 5.0  # milliseconds when vectorised; generous, as the machine may be shared
    assert first == bootstrap_interval(values, np.random.default_rng(7), n_resamples=2000)
    sem = values.std(ddof=1) / math.sqrt(500)
    assert first[0] == pytest.approx(values.mean() - Z95 * sem, abs=sem / 4)


@pytest.mark.parametrize(
    ("b", "c", "expected"),
    [(1, 6, 2 * (1 + 7) / 2**7), (0, 5, 2 / 2**5), (2, 8, 2 * (1 + 10 + 45) / 2**10), (3, 3, 1.0), (0, 0, 1.0)],
)
def test_mcnemar_exact_by_hand(b: int, c: int, expected: float) -> None:
    assert mcnemar_exact(b, c) == pytest.approx(expected)
    assert mcnemar_exact(c, b) == pytest.approx(expected)


def test_compare_uses_mcnemar_with_one_sample_per_item() -> None:
    # 20 items: both right on 10, a alone on 1, b alone on 6, both wrong on 3.
    a = [1] * 10 + [1] + [0] * 6 + [0] * 3
    b = [1] * 10 + [0] + [1] * 6 + [0] * 3
    result = compare(item_frame(a, 1), item_frame(b, 1))
    assert result.p_method == "mcnemar exact"
    assert result.p_value == pytest.approx(0.125)
    assert result.delta == pytest.approx(5 / 20)
    assert sorted(result.flips["change"]) == ["gained"] * 6 + ["lost"]


def test_sign_flip_exact_by_hand() -> None:
    # |sum| of +-0.5 +-0.5 +-0.25 reaches 1.25 in 2 of 8 sign patterns; zeros change nothing.
    p, method = sign_flip_pvalue(np.array([0.5, 0.5, 0.25, 0.0, 0.0]), np.random.default_rng(0))
    assert (p, method) == (0.25, "sign-flip exact")
    assert sign_flip_pvalue(np.zeros(4), np.random.default_rng(0))[0] == 1.0


def test_paired_comparison_by_hand() -> None:
    a = item_frame([1.0, 0.5, 0.0, 1.0, 0.25], k=4)
    b = item_frame([1.0, 1.0, 0.5, 0.0], k=4)
    result = compare(a, b)
    # d = 0, .5, .5, -1: mean 0, sample variance .5, sem sqrt(.5 / 4)
    sem = math.sqrt(0.5 / 4)
    assert (result.n_items, result.n_only_a, result.n_only_b, result.k_a, result.k_b) == (4, 1, 0, 4, 4)
    assert result.delta == pytest.approx(0.0)
    assert result.sem == pytest.approx(sem)
    assert (result.ci_low, result.ci_high) == pytest.approx((-Z95 * sem, Z95 * sem))
    assert not result.significant
    assert result.p_method == "sign-flip exact" and result.p_value == pytest.approx(1.0)
    flips = result.flips.set_index("item_id")["change"].to_dict()
    assert flips == {"q1": "gained", "q3": "lost"}   # q2 reaches exactly half: not a majority


def test_paired_comparison_calls_a_clear_difference_significant() -> None:
    a = item_frame([0.25] * 40, k=4)
    b = item_frame([0.75] * 30 + [0.25] * 10, k=4)
    result = compare(a, b, seed=1)
    assert result.significant and result.ci_low > 0 and result.p_value < 0.001
    assert result.boot_low > 0


def test_compare_accepts_score_frames_and_refuses_mixed_models() -> None:
    result = compare(HAND, HAND.assign(model="other"))
    assert result.n_items == 5 and result.delta == 0.0
    with pytest.raises(ValueError, match="model"):
        compare(pd.concat([HAND, HAND.assign(model="other")]), HAND)
    with pytest.raises(ValueError, match="no item"):
        compare(item_frame([1.0], 1, prefix="x"), item_frame([1.0], 1, prefix="y"))


def test_compare_to_lists_every_model_against_the_reference() -> None:
    table = compare_to(pd.concat([HAND, HAND.assign(model="twin"), HAND.assign(model="zz")]), "m")
    assert list(table["model"]) == ["twin", "zz"]
    assert (table["delta"] == 0).all() and not table["significant"].any()


def test_regression_test_by_hand() -> None:
    diffs = np.array([-0.2, -0.1, -0.3, -0.2])      # mean -.2, sample variance .02/3
    sem = math.sqrt(0.02 / 3 / 4)
    test = one_sided_drop_test(diffs, tolerance_pts=1.0, alpha=0.05)
    assert test.delta == pytest.approx(-0.2)
    assert test.upper_bound == pytest.approx(-0.2 + 1.6448536269514722 * sem)
    from statistics import NormalDist
    assert test.p_value == pytest.approx(NormalDist().cdf((-0.2 + 0.01) / sem))

    base = item_frame([0.5, 0.75, 1.0, 0.5], k=4)
    current = item_frame([0.25, 0.5, 0.75, 0.25], k=4)   # every item down 25 points
    result = regression_test(base, current, tolerance_pts=1.0)
    assert result.regressed and result.p_value == 0.0 and result.delta == pytest.approx(-0.25)
    assert not regression_test(base, base).regressed
    assert not regression_test(base, current, tolerance_pts=30).regressed


def test_usage_summary_by_hand() -> None:
    frame = scores([("a", s, "ok", True, "1") for s in range(4)] + [("a", 4, "failed", False, None)])
    frame["completion_tokens"] = [10, 20, 30, 40, np.nan]
    frame["latency_s"] = [1.0, 2.0, 3.0, 4.0, 600.0]
    frame["ttft_s"] = [0.5, np.nan, 0.5, 0.5, np.nan]
    row = usage_summary(frame).iloc[0]
    assert row["n_samples"] == 4
    assert (row["completion_tokens_mean"], row["completion_tokens_median"]) == (25, 25)
    assert row["completion_tokens_p90"] == pytest.approx(37)     # 30 + 0.7 * 10
    assert row["latency_s_p50"] == pytest.approx(2.5) and row["latency_s_p99"] == pytest.approx(3.97)
    assert row["ttft_s_p90"] == 0.5


def test_throughput_by_hand() -> None:
    rates = throughput(HAND, wall_time_s=6.0)
    assert rates.requests == 12 and rates.requests_per_s == 2.0
    assert rates.completion_tokens_per_s == pytest.approx(12 * 1000 / 6)
    assert rates.total_tokens_per_s == pytest.approx(12 * 1100 / 6)
    with pytest.raises(ValueError):
        throughput(HAND, 0)


def test_sample_size_advice_by_hand() -> None:
    # 10 items, 2 right of 4: within-item variance .5 * .5 * 4/3 = 1/3 for every item.
    rows = [(f"i{i}", s, "ok", s < 2, str(s)) for i in range(10) for s in range(4)]
    advice = sample_size_advice(scores(rows, task="aime24"), "aime24", detect_pts=10)
    z = 1.959963984540054 + 0.8416212335729143
    assert advice.within_var == pytest.approx(1 / 3)
    assert advice.between_var == 0.0 and "assumed" in advice.between_source
    assert advice.k_needed == math.ceil(2 / 3 / (10 * (0.1 / z) ** 2)) == 53
    assert advice.n_requests == 2 * 10 * 53
    assert advice.detectable_pts_at_current_k == pytest.approx(100 * z * math.sqrt(2 / 3 / 4 / 10))
    assert advice.mean_completion_tokens == 1000


def test_sample_size_advice_sees_between_item_variance() -> None:
    # Variant b is much better on half the items and much worse on the other half.
    rows_a = [(f"i{i}", s, "ok", s < 2, "1") for i in range(20) for s in range(4)]
    rows_b = [(f"i{i}", s, "ok", (s < 4) if i % 2 else (s < 0), "1") for i in range(20) for s in range(4)]
    frame = pd.concat([scores(rows_a, task="t"), scores(rows_b, model="b", task="t")])
    advice = sample_size_advice(frame, "t", detect_pts=3)
    # observed d_i = +-0.5: variance .25 * 20/19, less a's within-item noise (1/3) / 4
    assert advice.between_var == pytest.approx(0.25 * 20 / 19 - 1 / 12)
    assert "estimated from 1" in advice.between_source
    assert advice.k_needed is None and advice.n_requests is None
    with pytest.raises(ValueError, match="k >= 2"):
        sample_size_advice(scores([("a", 0, "ok", True, "1")]), "t", detect_pts=3)


def test_all_right_or_all_wrong_items_get_a_wilson_interval_not_certainty() -> None:
    from harness.stats import mean_interval

    z2 = 1.959963984540054**2
    perfect = mean_interval(np.ones(15))
    assert perfect.high == 1.0 and perfect.low == pytest.approx(15 / (15 + z2))
    hopeless = mean_interval(np.zeros(30))
    assert hopeless.low == 0.0 and hopeless.high == pytest.approx(z2 / (30 + z2))
    mixed = mean_interval(np.array([1.0, 0.0, 1.0, 1.0]))
    assert mixed.low == pytest.approx(0.75 - 1.959963984540054 * 0.25)
