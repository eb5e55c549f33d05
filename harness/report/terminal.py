"""What the terminal shows: the report's tables through rich, and the summary printed at the end
of `glm-eval run`, built from the same figures as the report so the two cannot disagree."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.markup import escape
from rich.table import Table as RichTable

from harness.report.figures import Figures
from harness.report.tables import (
    Table,
    accuracy_table,
    cost_totals_table,
    display_label,
    figure_columns,
    pct,
    per_task_table,
    task_name,
)


def rich_table(table: Table) -> RichTable:
    """A report table for the terminal; the title keeps its SIMULATED mark, notes go in the caption.

    Where the table is wider than the terminal, the figure columns give up width first: a label
    ("glm-4.5-air", "GPQA-Diamond") broken over two lines is harder to read than a narrow header."""
    out = RichTable(title=table.title, caption="\n".join(table.notes) or None, caption_justify="left", title_justify="left")
    right = figure_columns(table.frame)
    labels = [c for c in table.frame.columns if c not in right][:2]  # what a row is about: the variant, the task
    for column in table.frame.columns:
        out.add_column(str(column), justify="right" if column in right else "left", overflow="fold", no_wrap=column in labels)
    for row in table.frame.itertuples(index=False):
        out.add_row(*(str(v) for v in row))
    return out


def ambiguous_lines(figures: Figures) -> list[str]:
    """Where a grader would not choose between the answers a response names: counted wrong rather
    than guessed, so a score can be low for the grader's caution; the terminal says where."""
    shares = figures.summary.set_index(["model", "task"])["ambiguous_share"]
    return [
        f"{display_label(figures, label)} {task_name(task)}: {pct(shares[label, task])}% of answers (counted wrong; "
        f"reason 'ambiguous' in samples.jsonl)"
        for label in figures.labels
        for task in figures.tasks
        if (label, task) in shares.index and shares[label, task] > 0
    ]


def print_summary(figures: Figures, console: Console, report: Path | None = None) -> None:
    """Accuracy per variant and task, cost per variant, tokens and latency per variant and task,
    then where the report is (pass the folder or the report.html write_report made)."""
    if figures.runs.simulated:
        console.print(f"[bold white on red] {escape(figures.runs.simulated_mark())} [/]")
    console.print(rich_table(accuracy_table(figures)))
    if figures.costs.available:
        console.print(rich_table(cost_totals_table(figures)))
    console.print(rich_table(per_task_table(figures)))
    from harness.report.budget import budget_lines  # noqa: PLC0415  (budget imports the charts, which import this module's peers)

    for line in budget_lines(figures):
        console.print(f"token budget: {line}")
    for line in ambiguous_lines(figures):
        console.print(f"ambiguous: {line}")
    if report is not None:
        page = report / "report.html" if report.is_dir() else report
        console.print(f"report: {page}")
