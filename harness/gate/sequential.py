"""The sequential gate: look at a cell after each round of items, stop as soon as it is decided.

A check at a fixed size spends every request on every cell, although most cells of an unchanged
model are settled long before. Looking after each round and stopping there would, looked at
naively, raise the false-alarm rate with every look; an alpha-spending rule keeps it: the cell's
share of alpha is spent over the looks by Lan and DeMets' O'Brien-Fleming-type function
a(t) = 2 - 2 Phi(z_{1-a/2} / sqrt(t)) of the fraction t of the cell's items seen, and each look
tests at the increment a(t_r) - a(t_{r-1}). The increments add up to the cell's alpha, so by the
union bound the looks together fail an unchanged cell at most that often (the looks are positively
correlated, so less). Early looks spend little: a cell stops early only when the evidence is plain.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from harness.stats.intervals import normal_cdf, z_quantile

DECIDED = ("regressed", "ok", "improved")


def spending(alpha: float, fractions: Sequence[float]) -> list[float]:
    """The level each look tests at: increments of the O'Brien-Fleming-type spending function."""
    z = z_quantile(1 - alpha / 2)
    spent = [0.0] + [float(2 - 2 * normal_cdf(z / math.sqrt(t))) for t in fractions]
    spent[-1] = alpha  # the last look spends what is left: a(1) is alpha, up to rounding
    return [max(b - a, 0.0) for a, b in zip(spent, spent[1:])]


def rounds(n_items: int, n_rounds: int) -> list[int]:
    """Items seen after each round: equal steps, the last one every item."""
    return sorted({max(2, math.ceil(n_items * r / n_rounds)) for r in range(1, n_rounds + 1)})


def looks(n_items: int, n_rounds: int, alpha: float) -> list[tuple[int, float]]:
    """(items seen, level tested at) for each look at a cell of n items; `alpha` is the cell's share."""
    seen = rounds(n_items, n_rounds)
    return list(zip(seen, spending(alpha, [n / n_items for n in seen])))
