"""`glm-eval report`: every table, chart and page of a report, written from run folders."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from harness import cost
from harness.report.budget import budget_chart, budget_tables
from harness.report.charts import write_charts
from harness.report.exports import figures_frame, summary_frame
from harness.report.figures import Figures, collect
from harness.report.html import report_html
from harness.report.markdown import summary_markdown
from harness.report.protocols import gap_breakdown, gap_chart, gap_tables
from harness.report.providers import provider_charts, provider_tables
from harness.report.reference import DEFAULT_REFERENCE
from harness.report.second_opinion import second_opinion_rates, second_opinion_tables
from harness.report.tables import all_tables
from harness.report.thinking import thinking_chart, thinking_rows, thinking_tables
from harness.runs import Runs, load_runs

REPORT_DIR = "report"


def write_report(
    run_dirs: Sequence[Path],
    out: Path | None = None,
    prices: Path = cost.DEFAULT_PRICES,
    reference: Path = DEFAULT_REFERENCE,
    price_as: str | None = None,
) -> list[Path]:
    """Write summary.md, summary.csv, figures.csv, report.html and charts/*.png; return their paths.

    Several runs are merged into one report (a variant present in two runs appears once per run).
    `price_as` prices every run with one preset of the price file (see costs.price_runs).
    Files already in the folder are overwritten, so a report can be rewritten after regrading.
    """
    figures = collect(load_runs([Path(p) for p in run_dirs]), prices, reference, price_as)
    return write_figures(figures, Path(out) if out is not None else default_folder(figures.runs))


def write_figures(figures: Figures, folder: Path) -> list[Path]:
    """write_report from figures already collected, so that the end of a run, which also prints
    them, reads its samples and computes its statistics once."""
    folder.mkdir(parents=True, exist_ok=True)
    tables = all_tables(figures)
    charts = write_charts(figures, folder / "charts")
    tables[-1:-1] = budget_tables(figures)  # before the runs table
    thinking = thinking_rows(figures)
    tables[-1:-1] = thinking_tables(figures, thinking)
    gaps, parts, gap_items = breakdown = gap_breakdown(figures)
    tables[-1:-1] = gap_tables(figures, breakdown)
    second = second_opinion_rates(figures)
    tables[-1:-1] = second_opinion_tables(figures, second)
    charts_dir = folder / "charts"
    for chart in (budget_chart(figures, charts_dir), thinking_chart(figures, thinking, charts_dir), gap_chart(figures, gaps, parts, charts_dir)):
        if chart is not None:
            charts.append(chart)
    if figures.providers is not None:
        tables[1:1] = provider_tables(figures.providers, figures.runs.simulated)
        charts += provider_charts(figures.providers, figures.runs.simulated, folder / "charts")
    written = [
        _write(folder / "summary.md", summary_markdown(figures, tables, charts, folder)),
        _write(folder / "summary.csv", summary_frame(figures).to_csv(index=False)),
        _write(folder / "figures.csv", figures_frame(figures).to_csv(index=False)),
        _write(folder / "report.html", report_html(figures, tables, charts)),
    ]
    if figures.caps is not None and not figures.caps.empty:  # the token-budget curve, every cap, as fractions
        written.append(_write(folder / "budget.csv", figures.caps.to_csv(index=False)))
    if not gaps.empty:  # the gap breakdown, as fractions: per variant and task, per part, and per item after each rule
        written.append(_write(folder / "protocol_gap.csv", parts.merge(gaps, on=["variant", "task"], suffixes=("", "_task")).to_csv(index=False)))
        written.append(_write(folder / "protocol_gap_items.csv", gap_items.to_csv(index=False)))
    if not second.empty:  # the second opinion's disagreement per variant and task, as fractions
        written.append(_write(folder / "second_opinion.csv", second.to_csv(index=False)))
    if figures.providers is not None:  # the audit's figures per variant, task and provider, as fractions
        written.append(_write(folder / "providers.csv", figures.providers.rows.to_csv(index=False)))
    return written + [chart.path for chart in charts]


def default_folder(runs: Runs) -> Path:
    """RUN/report for one run; for several, a folder beside the first so no run's own report is overwritten."""
    first = runs.runs[0].path
    if len(runs.runs) == 1:
        return first / REPORT_DIR
    return first.parent / f"{REPORT_DIR}-{'+'.join(run.name for run in runs.runs)}"


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path
