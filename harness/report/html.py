"""report.html: one self-contained page (charts embedded as base64 PNG, styles inline) that opens
from a file, offline, and can be mailed or attached to a ticket as it is."""

from __future__ import annotations

import base64
import datetime
from collections.abc import Sequence
from html import escape

from harness.formats import task_name
from harness.report.charts import Chart
from harness.report.figures import Figures
from harness.report.markdown import SECTIONS
from harness.report.tables import Table, figure_columns
from harness.runs import SIMULATED

# Charts are drawn at 150 dpi and shown at 100 px per inch, so their text matches the page's.
SCREEN_SCALE = 1.5
STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1a1a1a; margin: 0; }
main { max-width: 1320px; margin: 0 auto; padding: 0 24px 48px; }
h1 { font-size: 1.6rem; margin: 24px 0 4px; }
h2 { font-size: 1.25rem; margin-top: 36px; border-bottom: 1px solid #ccc; padding-bottom: 4px; }
.meta { color: #444; margin: 4px 0 16px; }
.banner { background: #D55E00; color: #fff; padding: 14px 24px; font-size: 1.1rem; }
.banner strong { font-size: 1.4rem; letter-spacing: 0.08em; margin-right: 12px; }
table { border-collapse: collapse; margin: 8px 0 4px; font-size: 0.88rem; }
caption { text-align: left; font-weight: 600; padding: 6px 0; font-size: 0.98rem; }
caption .sim { color: #D55E00; font-weight: 700; }
th, td { border: 1px solid #d0d0d0; padding: 4px 8px; vertical-align: top; }
th { background: #f2f2f2; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td:nth-child(-n+2) { white-space: nowrap; }
tbody tr:nth-child(even) { background: #fafafa; }
.blocks { display: flex; flex-wrap: wrap; gap: 8px 32px; align-items: flex-start; }
.block { flex: 0 1 auto; max-width: 100%; overflow-x: auto; }
.note { color: #444; font-size: 0.82rem; margin: 2px 0; max-width: 640px; }
figure { margin: 20px 0; }
figure img { max-width: 100%; height: auto; border: 1px solid #e0e0e0; }
figcaption { color: #444; font-size: 0.85rem; max-width: 1100px; }
nav a { margin-right: 14px; }
"""


def report_html(figures: Figures, tables: Sequence[Table], charts: Sequence[Chart]) -> str:
    runs = figures.runs
    names = ", ".join(run.name for run in runs.runs)
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{'[' + SIMULATED + '] ' if runs.simulated else ''}glm-eval report: {escape(names)}</title>",
        f"<style>{STYLE}</style></head><body>",
    ]
    if runs.simulated:
        mark = runs.simulated_mark().split(":", 1)
        parts.append(f'<div class="banner" role="alert"><strong>{escape(mark[0])}</strong>{escape(mark[1])}</div>')
    sections = [s for s in SECTIONS if any(t.section == s for t in tables) or any(c.section == s for c in charts)]
    parts += [
        "<main>",
        f"<h1>glm-eval report: {escape(names)}</h1>",
        f'<p class="meta">Variants: {escape(", ".join(figures.labels))}. Tasks: '
        f'{escape(", ".join(task_name(t) for t in figures.tasks))}. Written '
        f'{datetime.datetime.now(datetime.UTC):%Y-%m-%d %H:%M} UTC.</p>',
        "<nav>" + "".join(f'<a href="#{_anchor(s)}">{escape(s)}</a>' for s in sections) + "</nav>",
    ]
    for section in sections:
        parts.append(f'<h2 id="{_anchor(section)}">{escape(section)}</h2>')
        parts.append('<div class="blocks">' + "".join(table_html(t) for t in tables if t.section == section) + "</div>")
        parts += [_figure(c) for c in charts if c.section == section]
    parts.append("</main></body></html>")
    return "\n".join(parts) + "\n"


def table_html(table: Table) -> str:
    title = escape(table.title).replace(f"({SIMULATED})", f'<span class="sim">({SIMULATED})</span>')
    head = "".join(f"<th>{escape(str(c))}</th>" for c in table.frame.columns)
    right = [c in figure_columns(table.frame) for c in table.frame.columns]
    body = "".join(
        "<tr>" + "".join(f'<td{" class=num" if r else ""}>{escape(str(v))}</td>' for r, v in zip(right, row)) + "</tr>"
        for row in table.frame.itertuples(index=False)
    )
    notes = "".join(f'<p class="note">{escape(n)}</p>' for n in table.notes)
    return (f'<div class="block"><table id="{table.name}"><caption>{title}</caption><thead><tr>{head}</tr></thead>'
            f"<tbody>{body}</tbody></table>{notes}</div>")


def _figure(chart: Chart) -> str:
    data = base64.b64encode(chart.path.read_bytes()).decode("ascii")
    width, height = chart.pixels
    return (f'<figure id="chart-{chart.name}"><img src="data:image/png;base64,{data}" alt="{escape(chart.title)}" '
            f'width="{width}" height="{height}" style="width: {round(width / SCREEN_SCALE)}px">'
            f"<figcaption>{escape(chart.caption)}</figcaption></figure>")


def _anchor(text: str) -> str:
    return "".join(ch if ch.isalnum() else "-" for ch in text.lower())
