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
from typing import Literal, NamedTuple

import pandas as pd

from harness import stats
from harness.stats.intervals import difference_interval
from harness.errors import UserError
from harness.gate.baseline import Baseline, read_baseline
from harness.gate.settings import differences
from harness.report.runs import Run, load_run
from harness.report.tables import task_name

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
        """1 on a regression; 3 when nothing regressed but some cell could not tell and the caller
        asked for every cell to be decided (`--require-conclusive`); else 0."""
        if self.regressions:
            return EXIT_REGRESSED
        return EXIT_UNDECIDED if require_conclusive and self.undecided else EXIT_OK


def judge(pair: Pair, tolerance_pts: float, alpha: float) -> CellCheck:
    """The verdict for one cell at level `alpha` (already split over the cells: see judge_all)."""
    drop = stats.regression_test(pair.base, pair.current, tolerance_pts, alpha)
    paired = stats.compare(pair.base, pair.current, level=1 - 2 * alpha)
    tolerance = tolerance_pts / 100
    low, high, p_value, regressed = paired.ci_low, paired.ci_high, drop.p_value, drop.regressed
    if paired.sem == 0 and paired.n_items > 1:
        # Every item moved alike (both runs all right, most often): no spread, and a normal interval
        # of zero width would say "ok" on no evidence. Newcombe's interval says what n items can rule out.
        low, high = difference_interval(paired.accuracy_a, paired.accuracy_b, paired.n_items, level=1 - 2 * alpha)
        p_value, regressed = float("nan"), high < -tolerance
    verdict: Verdict
    if regressed:
        verdict = "regressed"
    elif low > 0:
        verdict = "improved"
    elif low >= -tolerance:
        verdict = "ok"
    else:
        verdict = "inconclusive"  # also when there is no interval (a single paired item)
    return CellCheck(
        model=pair.model, task=pair.task, n_items=paired.n_items, k_baseline=paired.k_a, k_current=paired.k_b,
        baseline=paired.accuracy_a, current=paired.accuracy_b, delta=paired.delta,
        low=low, high=high, p_value=p_value, verdict=verdict,
        n_unpaired=paired.n_only_a, n_failed=pair.n_failed,
    )


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
