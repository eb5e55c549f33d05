"""How figures and task names are written wherever a person reads them: report tables, the check's
summary and JUnit file, comparisons and charts.

One place, so that a score reads "96.7" and a p-value "<0.001" in a report and in CI alike. A figure
that is missing reads as a dash ("unknown" for tokens and money: a dash or a 0 would pass for one).
"""

from __future__ import annotations

import pandas as pd

DASH = "–"
TASK_NAMES = {
    "math_sample": "MATH-style sample (built in)", "math500": "MATH-500", "aime24": "AIME 2024", "aime25": "AIME 2025", "gpqa_diamond": "GPQA-Diamond",
}


def task_name(task: str) -> str:
    """A task's display name; a task posed under another protocol (`gpqa_diamond:zai-kit`) says so."""
    base, _, protocol = task.partition(":")
    return f"{TASK_NAMES.get(base, base)} ({protocol})" if protocol else TASK_NAMES.get(task, task)


def pct(value: float, digits: int = 1) -> str:
    return DASH if missing(value) else f"{100 * value:.{digits}f}"


def interval(low: float, high: float) -> str:
    return DASH if missing(low) or missing(high) else f"[{100 * low:.1f}, {100 * high:.1f}]"


def signed_pts(value: float) -> str:
    return DASH if missing(value) else f"{100 * value:+.1f}"


def accuracy_cell(accuracy: float, low: float, high: float, n_items: int, k: int) -> str:
    """"96.7 [91.2, 100.0] (30×2)": the score, its interval, and the items and samples behind it."""
    return f"{pct(accuracy)} {interval(low, high)} ({n_items}×{k})"


def difference_cell(delta: float, low: float, high: float) -> str:
    """"-1.2 [-3.0, 0.6]": a difference in points and its interval."""
    return f"{signed_pts(delta)} {interval(low, high)}"


def pts_interval(low: float, high: float) -> str:
    """A difference's interval in points, signed: "[-2.1, +0.4]"."""
    return DASH if missing(low) or missing(high) else f"[{100 * low:+.1f}, {100 * high:+.1f}]"


def p_value(value: float) -> str:
    if missing(value):
        return DASH
    return "<0.001" if value < 0.001 else f"{value:.3f}"


def money(value: float, currency: str | None) -> str:
    """Enough digits to tell cheap variants apart (a MATH-500 answer costs fractions of a cent)."""
    if missing(value):
        return "unknown"
    unit = f" {currency}" if currency else ""
    if value == 0:
        return f"0{unit}"
    if abs(value) >= 100:
        return f"{value:,.0f}{unit}"
    if abs(value) >= 1:
        return f"{value:.2f}{unit}"
    return f"{value:.3g}{unit}"


def tokens(value: float) -> str:
    return "unknown" if missing(value) else f"{value:,.0f}"


def seconds(value: float) -> str:
    return DASH if missing(value) else (f"{value:.1f}" if value >= 10 else f"{value:.2f}")


def missing(value: object) -> bool:
    return value is None or bool(pd.isna(value))
