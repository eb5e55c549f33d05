"""`glm-eval check`: a run against a baseline, per model x task, with a verdict and an exit code.

For each model x task, d is the mean over items of (current - baseline) per-item accuracy, paired
by item id, with its standard error over items (harness.stats). With m model x task cells, each
is judged at level a = alpha / m, and [L, U] is d's two-sided 1 - 2a interval, so each end is a
one-sided bound at level a. With t the tolerance:

  regressed     U < -t: the one-sided test rejects "the drop is no larger than the tolerance" at
                level a (harness.stats.regression_test). Fails the check: exit code 1.
  improved      L > 0: the run is better than the baseline, at level a.
  ok            -t <= L <= 0: a drop larger than the tolerance is ruled out, at level a.
  inconclusive  L < -t <= U: a drop beyond the tolerance is neither shown nor ruled out: too few
                items or samples per item to tell. It does not fail the check (failing on "cannot
                tell" would fail most small suites on noise), but the summary names it and -L,
                the smallest drop these data can rule out; more items or samples settle it.

Why alpha / m: the check fails when any cell regresses, so with every cell tested at alpha, noise
alone would fail up to m x alpha of the checks of an unchanged model. Splitting alpha evenly over
the cells (Bonferroni) keeps the chance that noise fails a check at or below alpha whatever the
suite's size, for some power per cell.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np
import pandas as pd

from harness import stats
from harness.errors import UserError
from harness.formats import task_name
from harness.gate.baseline import Baseline, read_baseline
from harness.gate.settings import differences
from harness.runs import Run, load_run
from harness.stats.intervals import difference_interval, z_quantile

Verdict = Literal["regressed", "inconclusive", "ok", "improved"]
EXIT_OK, EXIT_REGRESSED, EXIT_UNDECIDED = 0, 1, 3


@dataclass(frozen=True)
class CellCheck:
    """One model x task. Accuracies and the delta are fractions; [low, high] is the 1 - 2a
    interval of the delta; p_value is the drop test's (H0: no drop beyond the tolerance)."""

    model: str
    task: str
    n_items: int
    k_baseline: int
    k_current: int
    baseline: float
    current: float
    delta: float
    low: float
    high: float
    p_value: float
    verdict: Verdict
    n_unpaired: int  # baseline items with no graded sample in the run (all its requests failed)
    n_failed: int  # failed requests of the run in this cell, left out of every figure


class Pair(NamedTuple):
    """One cell to judge: the baseline's per-item counts and the run's (per-item or scores frame)."""

    model: str
    task: str
    base: pd.DataFrame
    current: pd.DataFrame
    n_failed: int = 0


@dataclass(frozen=True, eq=False)
class Check:
    run: Run
    baseline_path: Path
    baseline: Baseline
    tolerance_pts: float
    alpha: float
    cells: tuple[CellCheck, ...]
    changes: tuple[str, ...]  # settings that differ but may (see settings.py)
    unchecked: tuple[str, ...]  # model x task cells of the run that the baseline lacks

    @property
    def alpha_per_cell(self) -> float:
        return per_cell(self.alpha, len(self.cells))

    @property
    def level(self) -> float:
        """The two-sided level of every interval shown."""
        return 1 - 2 * self.alpha_per_cell

    @property
    def simulated(self) -> bool:
        return self.run.simulated or self.baseline.simulated

    @property
    def regressions(self) -> tuple[CellCheck, ...]:
        return tuple(c for c in self.cells if c.verdict == "regressed")

    @property
    def undecided(self) -> tuple[CellCheck, ...]:
        """Cells where a drop beyond the tolerance is neither shown nor ruled out."""
        return tuple(c for c in self.cells if c.verdict == "inconclusive")

    def exit_code(self, require_conclusive: bool = False) -> int:
        return exit_for(self.cells, require_conclusive)


def exit_for(cells: Sequence[CellCheck], require_conclusive: bool = False) -> int:
    """1 on a regression; 3 when nothing regressed but some cell could not tell and the caller
    asked for every cell to be decided (`--require-conclusive`); else 0."""
    if any(c.verdict == "regressed" for c in cells):
        return EXIT_REGRESSED
    undecided = any(c.verdict == "inconclusive" for c in cells)
    return EXIT_UNDECIDED if require_conclusive and undecided else EXIT_OK


def judge(pair: Pair, tolerance_pts: float, alpha: float) -> CellCheck:
    """The verdict for one cell at level `alpha` (already split over the cells: see judge_all)."""
    drop = stats.regression_test(pair.base, pair.current, tolerance_pts, alpha)
    paired = stats.compare(pair.base, pair.current, level=1 - 2 * alpha)
    low, high = cell_bounds(paired.delta, paired.sem, paired.n_items, paired.accuracy_a, paired.accuracy_b, alpha)
    verdict = str(verdict_of(low, high, tolerance_pts))
    return CellCheck(
        model=pair.model, task=pair.task, n_items=paired.n_items, k_baseline=paired.k_a, k_current=paired.k_b,
        baseline=paired.accuracy_a, current=paired.accuracy_b, delta=paired.delta,
        low=float(low), high=float(high), p_value=drop.p_value if paired.sem > 0 else float("nan"),
        verdict=verdict,  # type: ignore[arg-type]
        n_unpaired=paired.n_only_a, n_failed=pair.n_failed,
    )


def cell_bounds(delta: Any, sem: Any, n_items: int, acc_a: Any, acc_b: Any, alpha: float) -> tuple[Any, Any]:
    """The 1 - 2 alpha interval of the paired difference (each end a one-sided bound at alpha):
    normal over items, clipped to [-1, 1]; vectorised over replications for bench/gate_rates.py.
    Where every item moved alike (both runs all right, most often) the spread is zero and a
    normal interval of zero width would say "ok" on no evidence: Newcombe's interval says what
    n items can rule out."""
    delta, sem = np.asarray(delta, dtype=float), np.asarray(sem, dtype=float)
    z = z_quantile(1 - alpha)
    low, high = np.clip(delta - z * sem, -1, 1), np.clip(delta + z * sem, -1, 1)
    if n_items > 1 and np.any(sem == 0):
        a, b = np.broadcast_to(acc_a, delta.shape), np.broadcast_to(acc_b, delta.shape)
        low, high = np.array(low, dtype=float, ndmin=1), np.array(high, dtype=float, ndmin=1)
        for i in np.flatnonzero(np.ravel(sem == 0)):
            low.flat[i], high.flat[i] = difference_interval(float(np.ravel(a)[i]), float(np.ravel(b)[i]), n_items, level=1 - 2 * alpha)
        low, high = low.reshape(delta.shape), high.reshape(delta.shape)
    return low, high


def verdict_of(low: Any, high: Any, tolerance_pts: float) -> Any:
    """regressed: the whole interval below -t; improved: above 0; ok: its low end at or above -t;
    else inconclusive (also with no interval: a single paired item). Vectorised."""
    t = tolerance_pts / 100
    low, high = np.asarray(low, dtype=float), np.asarray(high, dtype=float)
    found = np.select([high < -t, low > 0, low >= -t], ["regressed", "improved", "ok"], "inconclusive")
    return found if found.ndim else found.item()


def per_cell(alpha: float, n_cells: int) -> float:
    """Bonferroni: the check fails when any cell regresses, so each cell gets an equal share."""
    return alpha / n_cells


def judge_all(cells: Sequence[Pair], tolerance_pts: float, alpha: float) -> list[CellCheck]:
    """Every cell at its share of alpha, so that noise fails at most alpha of the checks."""
    return [judge(pair, tolerance_pts, per_cell(alpha, len(cells))) for pair in cells]


def check_run(run_dir: Path, baseline_path: Path, tolerance_pts: float = 1.0, alpha: float = 0.05) -> Check:
    """Judge every model x task of the baseline; a run the baseline cannot be compared with is
    refused (UserError) with every reason at once."""
    if not tolerance_pts >= 0:
        raise UserError(f"--tolerance {tolerance_pts}: give the points a score may drop, 0 or more")
    if not 0 < alpha < 0.5:
        raise UserError(f"--alpha {alpha}: give the false-alarm rate as a fraction between 0 and 0.5, e.g. 0.05")
    baseline = read_baseline(baseline_path)
    run = load_run(run_dir)
    found = differences(baseline, run)
    if found.refusals:
        raise UserError(
            f"{run_dir} cannot be checked against {baseline_path}: {'; '.join(found.refusals)}. "
            f"Check a run made with the baseline's settings, or make a new baseline (glm-eval baseline RUN --out {baseline_path})"
        )
    items = stats.per_item(run.scores)
    pairs = []
    for cell in baseline.cells:
        current = items[(items["model"] == cell.model) & (items["task"] == cell.task)]
        if not (current["n_samples"] > 0).any():
            raise UserError(
                f"{run_dir}: every request of {cell.model} x {task_name(cell.task)} failed, so there is nothing to check; "
                f"run the same `glm-eval run` command again to fill them from the store"
            )
        pairs.append(Pair(cell.model, cell.task, cell.items(), current, int(current["n_failed"].sum())))
    cells = judge_all(pairs, tolerance_pts, alpha)
    checked = {(c.model, c.task) for c in baseline.cells}
    unchecked = sorted(f"{m} x {task_name(t)}" for m, t in items[["model", "task"]].drop_duplicates().itertuples(index=False) if (m, t) not in checked)
    return Check(run, baseline_path, baseline, tolerance_pts, alpha, tuple(cells), found.changes, tuple(unchecked))
