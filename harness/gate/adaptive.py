"""`glm-eval run ... --until-decided --baseline B`: the check, run in rounds, sending only what the
undecided cells still need.

Each model x task of the baseline is a cell. Round r sends that cell the first n_r of the
baseline's items (a --limit subset: a larger limit holds a smaller one, so every earlier answer
comes from the store) and judges it at the level the alpha-spending rule gives look r
(harness.gate.sequential); a decided cell (regressed, ok, improved) is sent nothing more. Every
round is an ordinary run folder, under OUT/rounds/<model>-<task>/look<r>.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from harness import evaluate, stats
from harness.errors import UserError
from harness.formats import difference_cell, pct, task_name
from harness.gate.baseline import Baseline, read_baseline
from harness.gate.check import CellCheck, Pair, exit_for, judge, per_cell
from harness.gate.sequential import DECIDED, looks
from harness.gate.settings import differences
from harness.runs import load_run
from harness.runspec import RunSpec
from harness.runview import RunView


@dataclass(frozen=True)
class RoundCell:
    check: CellCheck
    look: int
    looks: int
    requests: int  # requests of this cell's plan at the look that decided it (sent now or earlier)
    full_requests: int  # what a fixed check at the baseline's size plans for the cell


@dataclass(frozen=True)
class AdaptiveCheck:
    baseline_path: Path
    baseline: Baseline
    tolerance_pts: float
    alpha: float
    cells: tuple[RoundCell, ...]
    exit_runs: int  # 1 when some round's run was incomplete

    def exit_code(self, require_conclusive: bool = False) -> int:
        """As `check`'s; 1 also when some round's run was incomplete."""
        return exit_for([c.check for c in self.cells], require_conclusive) or self.exit_runs


def run_until_decided(
    spec: RunSpec, baseline_path: Path, out: Path, n_rounds: int, tolerance_pts: float, alpha: float, argv: list[str], console: Console
) -> AdaptiveCheck:
    baseline = read_baseline(baseline_path)
    cells = [c for c in baseline.cells if c.model in spec.models and c.task in spec.tasks]
    if not cells:
        raise UserError(f"{baseline_path} has no cell of --models {','.join(spec.models)} x --tasks {','.join(spec.tasks)}")
    if spec.items is not None:
        raise UserError("--until-decided sends the baseline's items in rounds of --limit; leave out --items")
    share = per_cell(alpha, len(cells))
    done: dict[tuple[str, str], RoundCell] = {}
    codes = []
    for look in range(n_rounds):
        for cell in cells:
            if (cell.model, cell.task) in done:
                continue
            steps = looks(len(cell.item_ids), n_rounds, share)
            if look >= len(steps):
                continue
            n_items, level = steps[look]
            k = baseline.tasks[cell.task].samples_per_item if spec.samples is None else spec.samples_for(cell.task, 1)
            folder = out / "rounds" / f"{cell.model}-{cell.task}" / f"look{look + 1}"
            one = spec.model_copy(update={"models": [cell.model], "tasks": [cell.task], "limit": n_items, "out": folder,
                                          "samples": {cell.task: k}})
            console.rule(f"{cell.model} x {task_name(cell.task)}: look {look + 1} of {len(steps)}, {n_items} items")
            codes.append(evaluate.execute(one, argv, RunView(console)).exit_code)
            run = load_run(folder)
            refused = differences(baseline, run, round_of=(cell.model, cell.task)).refusals
            if refused:
                raise UserError(f"{folder} cannot be checked against {baseline_path}: {'; '.join(refused)}")
            current = stats.per_item(run.scores)
            base = cell.items()
            base = base[base["item_id"].isin(set(current["item_id"].astype(str)))]
            found = judge(Pair(cell.model, cell.task, base, current, int(current["n_failed"].sum())), tolerance_pts, level)
            if found.verdict in DECIDED or look == len(steps) - 1:
                done[(cell.model, cell.task)] = RoundCell(found, look + 1, len(steps), n_items * k, len(cell.item_ids) * k)
    ordered = tuple(done[(c.model, c.task)] for c in cells)
    return AdaptiveCheck(baseline_path, baseline, tolerance_pts, alpha, ordered, max(codes, default=0))


def adaptive_markdown(check: AdaptiveCheck) -> str:
    used, full = sum(c.requests for c in check.cells), sum(c.full_requests for c in check.cells)
    regressed = [c for c in check.cells if c.check.verdict == "regressed"]
    open_cells = [c for c in check.cells if c.check.verdict == "inconclusive"]
    head = ("REGRESSED: " + ", ".join(f"{c.check.model} on {task_name(c.check.task)}" for c in regressed) if regressed
            else "NOT DECIDED: " + ", ".join(f"{c.check.model} on {task_name(c.check.task)}" for c in open_cells) if open_cells
            else f"passed: a drop beyond {check.tolerance_pts:g} points is ruled out in every cell")
    lines = [
        f"## glm-eval check, in rounds: {head}", "",
        f"Against `{check.baseline_path}`; tolerance {check.tolerance_pts:g} points, alpha {check.alpha:g} over {len(check.cells)} cells, "
        f"spent over the looks (O'Brien-Fleming type). {used:,} of the {full:,} requests a fixed check plans ({used / full:.0%}).", "",
        "| variant | task | look | items | baseline % | current % | Δ [interval at the look's level] | verdict |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for c in check.cells:
        x = c.check
        lines.append(f"| {x.model} | {task_name(x.task)} | {c.look} of {c.looks} | {x.n_items} | {pct(x.baseline)} | "
                     f"{pct(x.current)} | {difference_cell(x.delta, x.low, x.high)} | {x.verdict} |")
    return "\n".join(lines) + "\n"
