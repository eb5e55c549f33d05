"""What a check says: one row of display strings per model x task, shown the same way in the
markdown summary (for CI job pages and $GITHUB_STEP_SUMMARY), the terminal and the JUnit file."""

from __future__ import annotations

import math
import os
from collections import Counter
from pathlib import Path

from rich.console import Console
from rich.table import Table

from harness.formats import p_value, pct, signed_pts, task_name
from harness.gate.check import CellCheck, Check
from harness.runs import SIMULATED, SIMULATED_NOTE

COLUMNS = ("variant", "task", "baseline %", "current %", "Δ points", "interval", "p", "verdict")
NUMERIC = {"baseline %", "current %", "Δ points", "interval", "p"}


def level_name(check: Check) -> str:
    return f"{100 * check.level:.4g}%"


def header(check: Check, column: str) -> str:
    return f"{level_name(check)} interval" if column == "interval" else column


def row(check: Check, cell: CellCheck) -> dict[str, str]:
    """Display strings. p is Bonferroni-adjusted (times the number of cells, capped at 1), so it
    reads against alpha itself: a cell regressed exactly when its p is below alpha."""
    return {
        "variant": cell.model,
        "task": task_name(cell.task),
        "baseline %": f"{pct(cell.baseline)} ({cell.n_items}×{cell.k_baseline})",
        "current %": f"{pct(cell.current)} ({cell.n_items}×{cell.k_current})",
        "Δ points": signed_pts(cell.delta),
        "interval": f"[{signed_pts(cell.low)}, {signed_pts(cell.high)}]",
        "p": p_value(min(1.0, cell.p_value * len(check.cells))),
        "verdict": cell.verdict,
    }


def headline(check: Check) -> str:
    if check.regressions:
        named = ", ".join(f"{c.model} on {task_name(c.task)} ({signed_pts(c.delta)} points)" for c in check.regressions)
        return f"REGRESSED: {named}"
    counts = Counter(c.verdict for c in check.cells)
    tally = ", ".join(f"{counts[v]} {v}" for v in ("ok", "improved", "inconclusive") if counts[v])
    if check.undecided:
        # Not "passed": a drop beyond the tolerance was neither shown nor ruled out in these cells.
        named = ", ".join(f"{c.model} on {task_name(c.task)} (rules out only drops beyond {-100 * c.low:.1f} points)"
                          if not math.isnan(c.low) else f"{c.model} on {task_name(c.task)}" for c in check.undecided)
        return f"NOT DECIDED: no regression shown, but a drop beyond {tolerance(check)} is not ruled out for {named} ({tally})"
    return f"passed: a drop beyond {tolerance(check)} is ruled out in every cell ({tally})"


def tolerance(check: Check) -> str:
    return f"{check.tolerance_pts:g} point{'' if check.tolerance_pts == 1 else 's'}"


def explanation(check: Check) -> str:
    """What the figures mean, in the words the verdicts are defined by (check.py)."""
    t = f"{check.tolerance_pts:g}"
    t_points = tolerance(check)
    return (
        f"Δ is current minus baseline accuracy, paired item by item; its interval is {level_name(check)} two-sided, so each end "
        f"is a one-sided bound at {check.alpha_per_cell:.3g} (alpha {check.alpha:g} split over {len(check.cells)} cells, so that "
        f"noise alone fails at most {100 * check.alpha:g}% of checks). p tests \"no drop larger than {t_points}\", adjusted for the "
        f"{len(check.cells)} cells: a cell regressed when p < {check.alpha:g}. "
        f"**regressed**: the whole interval lies below -{t}: fails the check. "
        f"**inconclusive**: the interval reaches below -{t} but not wholly: too few items or samples to rule such a drop in or out "
        f"(does not fail; more items or samples per item settle it). "
        f"**ok**: the interval's low end is at or above -{t}. **improved**: the interval lies above 0."
    )


def append_step_summary(markdown: str) -> Path | None:
    """Add a check's markdown to the CI job's page ($GITHUB_STEP_SUMMARY), when there is one."""
    step_summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if not step_summary:
        return None
    with open(step_summary, "a", encoding="utf-8") as out:
        out.write(markdown + "\n")
    return Path(step_summary)


def check_markdown(check: Check) -> str:
    run, base = check.run, check.baseline
    lines = [f"## glm-eval check: {headline(check)}", ""]
    if check.simulated:
        lines += [f"> **{SIMULATED}**: {SIMULATED_NOTE}.", ""]
    lines += [
        f"Run `{run.name}` (commit {_commit(run.manifest.git_commit)}, started {run.manifest.started or '?'}) against "
        f"baseline `{check.baseline_path}` (run `{base.source.run_id}`, commit {_commit(base.source.git_commit)}, "
        f"started {base.source.started or '?'}); tolerance {tolerance(check)}, alpha {check.alpha:g}.",
        "",
        "| " + " | ".join(header(check, c) for c in COLUMNS) + " |",
        "|" + "|".join("---:" if c in NUMERIC else "---" for c in COLUMNS) + "|",
    ]
    for cell in check.cells:
        shown = row(check, cell)
        shown["verdict"] = f"**{cell.verdict}**" if cell.verdict == "regressed" else cell.verdict
        lines.append("| " + " | ".join(shown[c] for c in COLUMNS) + " |")
    lines += ["", "<details><summary>How to read this</summary>", "", explanation(check), "", "</details>", ""]
    notes = [*_cell_notes(check), *check.changes]
    if check.unchecked:
        notes.append(f"not in the baseline, so not checked: {', '.join(check.unchecked)}")
    if notes:
        lines += ["Notes:", *(f"- {note}" for note in notes), ""]
    return "\n".join(lines)


def print_check(check: Check, console: Console, written: list[Path]) -> None:
    mark = f" [{SIMULATED}: not a measurement of the real models]" if check.simulated else ""
    table = Table(title=f"check {check.run.name} against {check.baseline_path}{mark}")
    for column in COLUMNS:
        table.add_column(header(check, column), justify="right" if column in NUMERIC else "left")
    colours = {"regressed": "bold red", "inconclusive": "yellow", "ok": "green", "improved": "green"}
    for cell in check.cells:
        shown = row(check, cell)
        shown["verdict"] = f"[{colours[cell.verdict]}]{cell.verdict}[/]"
        table.add_row(*(shown[c] for c in COLUMNS))
    console.print(table)
    for note in [*_cell_notes(check), *check.changes]:
        console.print(f"note: {note}")
    if check.unchecked:
        console.print(f"not in the baseline, so not checked: {', '.join(check.unchecked)}")
    console.print(f"written: {', '.join(map(str, written))}")
    console.print(f"check: {headline(check)}")


def _cell_notes(check: Check) -> list[str]:
    notes = []
    for c in check.cells:
        where = f"{c.model} x {task_name(c.task)}"
        if c.verdict == "inconclusive" and not math.isnan(c.low):
            notes.append(f"{where}: inconclusive: the data rule out only drops larger than {-100 * c.low:.1f} points")
        if c.n_failed:
            notes.append(f"{where}: {c.n_failed} failed requests are left out ({c.n_unpaired} items had no answer at all)")
    return notes


def _commit(commit: str | None) -> str:
    return commit[:10] + ("+dirty" if commit.endswith("+dirty") else "") if commit else "unknown"
