"""The per-item table: one row per (model, task, item), the unit every error bar is built on.

Samples of one item share that item's difficulty, so they are not independent draws; treating
them as such would shrink every interval by up to sqrt(k). Everything downstream therefore
first collapses samples to items here and then treats items as the independent units.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from harness.graders.verdict import AMBIGUOUS

GROUP_KEYS = ["model", "task"]
ITEM_KEYS = [*GROUP_KEYS, "item_id"]
STATUSES = frozenset({"ok", "truncated", "filtered", "failed"})
GRADED = ("ok", "truncated")
BREAKDOWN_COLUMNS = ("subject", "level", "domain")

_SCORE_COLUMNS = [*ITEM_KEYS, "sample", "status", "correct", "normalized"]


def require_columns(frame: pd.DataFrame, columns: Iterable[str], what: str) -> None:
    """Fail early with the names that are missing rather than deep inside a groupby."""
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise ValueError(f"{what} needs columns {missing}; the frame has {list(frame.columns)}")


def available_breakdowns(scores: pd.DataFrame) -> list[str]:
    """Breakdown columns that exist and hold at least one value, in a stable order."""
    return [c for c in BREAKDOWN_COLUMNS if c in scores.columns and scores[c].notna().any()]


def graded_mask(scores: pd.DataFrame) -> pd.Series:
    """Rows that produced an answer; failed requests, and items the provider's content filter
    refused, say nothing about the model's ability."""
    unknown = set(scores["status"].dropna().unique()) - STATUSES
    if unknown or scores["status"].isna().any():
        found = sorted(map(str, unknown)) or "missing values"
        raise ValueError(f"status must be one of {sorted(STATUSES)}; found {found}")
    return scores["status"].isin(GRADED)


def per_item(scores: pd.DataFrame) -> pd.DataFrame:
    """Collapse a scores frame to one row per (model, task, item_id).

    Columns: model, task, item_id, k (rows of the item, any status), n_samples (graded rows:
    ok or truncated), n_correct, n_truncated, n_ambiguous (graded, with the grader's reason
    "ambiguous": a frame without reasons has none), n_filtered, n_failed, accuracy (n_correct / n_samples, NaN
    when every sample failed), maj_correct (1.0/0.0, NaN when every sample failed), and the
    breakdown columns present in `scores` (their first non-null value per item).

    Failed and filtered rows count in k and n_failed / n_filtered only: an API error or a
    provider's refusal is not a wrong answer.
    """
    require_columns(scores, _SCORE_COLUMNS, "per_item")
    breakdowns = {c: (c, "first") for c in BREAKDOWN_COLUMNS if c in scores.columns}
    graded = graded_mask(scores)
    # Only the columns used here: the rows are copied below (the votes), and a run's frame is wide.
    frame = scores[[*_SCORE_COLUMNS, *breakdowns]].assign(
        _graded=graded,
        _correct=scores["correct"].eq(True) & graded,
        _truncated=scores["status"].eq("truncated"),
        _ambiguous=graded & scores["reason"].eq(AMBIGUOUS) if "reason" in scores.columns else False,
        _filtered=scores["status"].eq("filtered"),
        _failed=scores["status"].eq("failed"),
    )
    items = frame.groupby(ITEM_KEYS, observed=True, sort=True).agg(
        k=("sample", "size"),
        n_samples=("_graded", "sum"),
        n_correct=("_correct", "sum"),
        n_truncated=("_truncated", "sum"),
        n_ambiguous=("_ambiguous", "sum"),
        n_filtered=("_filtered", "sum"),
        n_failed=("_failed", "sum"),
        **breakdowns,
    )
    items["accuracy"] = items["n_correct"] / items["n_samples"].where(items["n_samples"] > 0)
    items["maj_correct"] = _majority_correct(frame).reindex(items.index).fillna(0.0)
    items.loc[items["n_samples"] == 0, "maj_correct"] = float("nan")
    return items.reset_index()


def _majority_correct(frame: pd.DataFrame) -> pd.Series:
    """Whether each item's majority answer is right, indexed by ITEM_KEYS.

    Votes are graded samples with a non-null `normalized` answer, so a missing answer never
    wins. Ties go to the answer whose first vote has the lowest sample index, which makes the
    result independent of row order. An answer is right when any sample giving it was graded
    right: equal normalised answers are the same answer, and a truncated sample that happened
    to carry it must not make it wrong.
    """
    votes = frame.loc[frame["_graded"] & frame["normalized"].notna()]
    tally = (
        votes.groupby([*ITEM_KEYS, "normalized"], observed=True, sort=False)
        .agg(votes=("sample", "size"), first=("sample", "min"), correct=("_correct", "any"))
        .reset_index()
        .sort_values(["votes", "first"], ascending=[False, True], kind="mergesort")
        .drop_duplicates(ITEM_KEYS)
    )
    return tally.set_index(ITEM_KEYS)["correct"].astype(float)
