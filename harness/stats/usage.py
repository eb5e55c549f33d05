"""Tokens, latency and throughput per model x task.

Failed rows are left out: an API error has no usage to speak of and its latency is a timeout,
not the model's speed. NaN (unknown ttft, say) is skipped, not read as zero.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from harness.stats.items import GROUP_KEYS, graded_mask, require_columns

TOKEN_COLUMNS = ["prompt_tokens", "completion_tokens", "reasoning_tokens"]
TIME_COLUMNS = ["latency_s", "ttft_s"]
TIME_QUANTILES = (0.5, 0.9, 0.99)


@dataclass(frozen=True)
class Throughput:
    """Rates over a run's wall time. Completion tokens include reasoning tokens."""

    requests: int
    wall_time_s: float
    requests_per_s: float
    completion_tokens_per_s: float
    total_tokens_per_s: float


def usage_summary(scores: pd.DataFrame) -> pd.DataFrame:
    """Per (model, task): n_samples (graded rows), then for each token column
    `<col>_mean`, `<col>_median`, `<col>_p90`, and for latency_s and ttft_s
    `<col>_p50`, `<col>_p90`, `<col>_p99`."""
    require_columns(scores, [*GROUP_KEYS, "status", *TOKEN_COLUMNS, *TIME_COLUMNS], "usage_summary")
    graded = scores.loc[graded_mask(scores), [*GROUP_KEYS, *TOKEN_COLUMNS, *TIME_COLUMNS]]
    token_order = [f"{c}_{s}" for c in TOKEN_COLUMNS for s in ("mean", "median", "p90")]
    time_order = [f"{c}_p{round(q * 100)}" for c in TIME_COLUMNS for q in TIME_QUANTILES]
    if graded.empty:  # every request failed: the table still has its columns, and no rows
        return pd.DataFrame(columns=[*GROUP_KEYS, "n_samples", *token_order, *time_order])
    groups = graded.groupby(GROUP_KEYS, observed=True, sort=True)
    tokens = groups[TOKEN_COLUMNS]
    times = groups[TIME_COLUMNS].quantile(list(TIME_QUANTILES)).unstack()
    times.columns = [f"{column}_p{round(q * 100)}" for column, q in times.columns]
    parts = [
        groups.size().rename("n_samples"),
        tokens.mean().add_suffix("_mean"),
        tokens.median().add_suffix("_median"),
        tokens.quantile(0.9).add_suffix("_p90"),
        times,
    ]
    summary = pd.concat(parts, axis=1)
    return summary[["n_samples", *token_order, *time_order]].reset_index()


def throughput(scores: pd.DataFrame, wall_time_s: float) -> Throughput:
    """Requests and tokens per second of wall time for the rows given.

    Every row counts as a request (a failed one took time too); tokens are those reported, and
    the token rates are NaN when some answer came without usage.
    The caller chooses the rows and the wall time that belong together (one run, or one
    model when models ran one after another).
    """
    if wall_time_s <= 0:
        raise ValueError(f"wall_time_s must be positive, got {wall_time_s}")
    require_columns(scores, ["prompt_tokens", "completion_tokens"], "throughput")
    answered = graded_mask(scores) if "status" in scores.columns else pd.Series(True, index=scores.index)
    # An answer that came without usage (a server that sends none): a rate would undercount.
    unknown = bool(scores.loc[answered, ["prompt_tokens", "completion_tokens"]].isna().any().any())
    completion = float("nan") if unknown else float(scores["completion_tokens"].sum())
    total = completion + float(scores["prompt_tokens"].sum())
    return Throughput(
        requests=len(scores),
        wall_time_s=wall_time_s,
        requests_per_s=len(scores) / wall_time_s,
        completion_tokens_per_s=completion / wall_time_s,
        total_tokens_per_s=total / wall_time_s,
    )
