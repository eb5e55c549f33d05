"""How far two ways of grading the same samples agree: the figure behind `regrade --second-opinion`
and the report's Grading section, computed like every other score (avg@k over items)."""

from __future__ import annotations

import pandas as pd

from harness.stats.items import GROUP_KEYS, per_item

RATE_COLUMNS = [
    *GROUP_KEYS, "method", "n_samples", "disagreements", "disagreement_rate", "right_only_by_glm_eval", "right_only_by_second",
    "accuracy", "accuracy_second", "accuracy_move",
]


def disagreement_rates(samples: pd.DataFrame) -> pd.DataFrame:
    """Per model and task: how often the two methods disagree, which way, and the accuracy (avg@k,
    as every report figure) under each, so "how far would the score move" is one column.
    `samples` has the columns of records.SECOND_OPINION_COLUMNS."""
    if samples.empty:
        return pd.DataFrame(columns=RATE_COLUMNS)
    frame = samples.assign(normalized=None)
    first = per_item(frame.assign(correct=frame["glm_eval_correct"].astype(bool)))
    second = per_item(frame.assign(correct=frame["second_correct"].astype(bool)))
    accuracy = first.groupby(GROUP_KEYS, sort=False)["accuracy"].mean().rename("accuracy")
    accuracy_second = second.groupby(GROUP_KEYS, sort=False)["accuracy"].mean().rename("accuracy_second")
    mine = frame.assign(
        _disagree=~frame["agree"].astype(bool),
        _first=frame["glm_eval_correct"].astype(bool) & ~frame["second_correct"].astype(bool),
        _second=~frame["glm_eval_correct"].astype(bool) & frame["second_correct"].astype(bool),
    )
    counts = mine.groupby(GROUP_KEYS, sort=False).agg(
        method=("method", "first"), n_samples=("sample", "size"), disagreements=("_disagree", "sum"),
        right_only_by_glm_eval=("_first", "sum"), right_only_by_second=("_second", "sum"),
    )
    rates = counts.join(accuracy).join(accuracy_second).reset_index()
    rates["disagreement_rate"] = rates["disagreements"] / rates["n_samples"]
    rates["accuracy_move"] = rates["accuracy_second"] - rates["accuracy"]
    return rates[RATE_COLUMNS]
