"""`glm-eval check AUDIT`: fail the build when a provider is worse than the reference by more than
the tolerance, with the same paired one-sided test and the same split of alpha over the cells as
a check against a baseline (harness.gate.check): noise alone fails at most alpha of the checks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness import stats
from harness.audit.analysis import provider_of
from harness.audit.run import read_audit
from harness.errors import UserError
from harness.formats import difference_cell, pct
from harness.gate.check import CellCheck, Pair, exit_for, judge_all, per_cell
from harness.runs import load_runs


@dataclass(frozen=True)
class ProviderCheck:
    folder: Path
    reference: str
    tolerance_pts: float
    alpha: float
    cells: tuple[CellCheck, ...]  # model reads "VARIANT @ PROVIDER"
    simulated: bool

    @property
    def level(self) -> float:
        return 1 - 2 * per_cell(self.alpha, len(self.cells))

    def exit_code(self, require_conclusive: bool = False) -> int:
        """As a check against a baseline: 1 when a provider is worse, 3 (with `require_conclusive`)
        when none is but some cell cannot rule it out."""
        return exit_for(self.cells, require_conclusive)


def check_audit(folder: Path, tolerance_pts: float, alpha: float) -> ProviderCheck:
    runs = load_runs(read_audit(folder))
    items = stats.per_item(runs.scores)
    reference_run = runs.runs[0]
    pairs = []
    for run in runs.runs[1:]:
        for variant in run.scores["model"].unique():
            if variant not in set(reference_run.scores["model"]):
                continue
            base_label, label = runs.label(reference_run, variant), runs.label(run, variant)
            for task in runs.tasks:
                base = items[(items["model"] == base_label) & (items["task"] == task)]
                current = items[(items["model"] == label) & (items["task"] == task)]
                if base.empty or current.empty:
                    continue
                if not (current["n_samples"] > 0).any():
                    raise UserError(f"{run.path}: every request of {variant} x {task} failed; rerun `glm-eval audit` to fill them from the store")
                pairs.append(Pair(f"{variant} @ {provider_of(run)}", task, base, current, int(current["n_failed"].sum())))
    if not pairs:
        raise UserError(f"{folder}: no variant and task was answered by the reference and another provider")
    return ProviderCheck(folder, provider_of(reference_run), tolerance_pts, alpha, tuple(judge_all(pairs, tolerance_pts, alpha)), runs.simulated)


def check_markdown(check: ProviderCheck) -> str:
    mark = " (SIMULATED)" if check.simulated else ""
    lines = [
        f"## Providers against {check.reference}{mark}", "",
        f"Each provider's accuracy minus {check.reference}'s on the same items; a provider fails when it is worse by more than "
        f"{check.tolerance_pts:g} points at level {check.alpha:g} over all {len(check.cells)} cells ({100 * check.level:.1f}% intervals).", "",
        "| variant @ provider | task | reference | provider | Δ [interval] | verdict |", "| --- | --- | ---: | ---: | ---: | --- |",
    ]
    for c in check.cells:
        lines.append(f"| {c.model} | {c.task} | {pct(c.baseline)} | {pct(c.current)} | {difference_cell(c.delta, c.low, c.high)} | {c.verdict} |")
    failed = [c for c in check.cells if c.verdict == "regressed"]
    open_cells = [c for c in check.cells if c.verdict == "inconclusive"]
    verdict = "FAILED" if failed else "NOT DECIDED" if open_cells else "passed"
    lines += ["", f"**{verdict}**: " + (
        ", ".join(f"{c.model} on {c.task}" for c in failed) + f" worse than {check.reference} by more than {check.tolerance_pts:g} points"
        if failed else f"no provider is shown worse than {check.reference} by more than {check.tolerance_pts:g} points")]
    if open_cells:
        lines += ["", f"Not ruled out either ({len(open_cells)} inconclusive): " + ", ".join(
            f"{c.model} on {c.task} (could be {-100 * c.low:.1f} points worse)" for c in open_cells) + "; more samples or items settle them."]
    return "\n".join(lines) + "\n"
