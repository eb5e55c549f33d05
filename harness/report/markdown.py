"""summary.md: the report as markdown, readable in a terminal, a pull request or a wiki."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from harness.formats import task_name
from harness.report.charts import Chart
from harness.report.figures import Figures
from harness.report.tables import Table, figure_columns

SECTIONS = ("Accuracy", "Providers", "Published figures", "Grading", "Protocols", "Cost, tokens and latency", "Token budget", "Thinking", "Breakdowns", "Runs")


def table_markdown(table: Table, heading: str = "###") -> str:
    """A pipe table: names left-aligned, figures right-aligned, notes in italics below."""
    frame = table.frame
    header = "| " + " | ".join(_cell(c) for c in frame.columns) + " |"
    right = figure_columns(frame)
    rule = "| " + " | ".join("---:" if c in right else "---" for c in frame.columns) + " |"
    rows = ["| " + " | ".join(_cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    lines = [f"{heading} {table.title}", "", header, rule, *rows]
    if table.notes:
        lines += ["", "\n\n".join(f"_{note}_" for note in table.notes)]
    return "\n".join(lines) + "\n"


def summary_markdown(figures: Figures, tables: Sequence[Table], charts: Sequence[Chart], folder: Path) -> str:
    runs = figures.runs
    lines = [f"# glm-eval report: {', '.join(run.name for run in runs.runs)}", ""]
    if runs.simulated:
        lines += [f"> **{runs.simulated_mark()}.**", ""]
    lines += [
        f"Variants: {', '.join(figures.labels)}. Tasks: {', '.join(task_name(t) for t in figures.tasks)}.",
        "",
        "Files: `summary.csv` (the accuracy table with cost per variant), `figures.csv` (every figure behind the "
        "tables, as fractions, one row per variant x task and breakdown group), `budget.csv` (accuracy at every "
        "lower max_tokens), `second_opinion.csv` (after `glm-eval regrade RUN --second-opinion`: how often a second "
        "grading method disagrees, per variant and task), `report.html` (this report with its charts, one file), `charts/`.",
        "",
    ]
    for section in SECTIONS:
        mine = [t for t in tables if t.section == section]
        pictures = [c for c in charts if c.section == section]
        if not mine and not pictures:
            continue
        lines += [f"## {section}", ""]
        lines += [table_markdown(t) for t in mine]
        for chart in pictures:
            lines += [f"![{chart.title}]({chart.path.relative_to(folder).as_posix()})", "", f"_{chart.caption}_", ""]
    return "\n".join(lines).rstrip() + "\n"


def _cell(value: object) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")
