"""The report's token-budget section: the accuracy each variant would have had at every max_tokens
up to the run's own, computed from the answers' token counts (harness.stats.caps), and the
smallest cap that keeps the score within a point."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from matplotlib import ticker

from harness.canvas import GRID
from harness.formats import DASH, interval, pct, task_name
from harness.palette import styles
from harness.report.charts import Chart, _figure, _legend, _panels, _save, panel_size
from harness.report.figures import Figures
from harness.report.tables import Table, display_label, in_report_order, title
from harness.stats.caps import WITHIN_PTS, sentence

SECTION = "Token budget"
SHOWN_CAPS = (4096, 8192, 16384, 32768)


def budget_lines(figures: Figures) -> list[str]:
    """One sentence per variant and task, for the terminal and the page."""
    if figures.sufficient is None or figures.sufficient.empty:
        return []
    labels, tasks = list(figures.labels), list(figures.tasks)
    rows = sorted(figures.sufficient.to_dict("records"), key=lambda r: (labels.index(r["model"]), tasks.index(r["task"])))
    return [sentence(pd.Series(row), task_name(row["task"])) for row in rows]


def budget_tables(figures: Figures) -> list[Table]:
    curve, enough = figures.caps, figures.sufficient
    if curve is None or curve.empty or enough is None:
        return []
    rows = []
    for _, r in enough.iterrows():
        mine = curve[(curve["model"] == r["model"]) & (curve["task"] == r["task"])].set_index("cap")
        row = {"variant": display_label(figures, r["model"]), "task": task_name(r["task"])}
        for cap in SHOWN_CAPS:
            if cap in mine.index and cap < r["full_cap"]:
                at = mine.loc[cap]
                row[f"at {cap // 1024}k"] = f"{pct(at['accuracy'])} ({pct(at['truncated_share'], 0)}% cut)"
            else:
                row[f"at {cap // 1024}k"] = DASH
        full = mine.loc[r["full_cap"]]
        row["at the run's cap"] = f"{pct(full['accuracy'])} {interval(full['ci_low'], full['ci_high'])} at {r['full_cap']:,}"
        row[f"smallest cap within {WITHIN_PTS:g} pt"] = f"{r['cap']:,}"
        row["the run's cap buys"] = DASH if r["cap"] == r["full_cap"] else f"{r['gain_pts']:+.1f} pts for {r['ratio']:.2f}x the {r['ratio_of']}"
        rows.append(row)
    frame = in_report_order(figures, pd.DataFrame(rows), enough["model"])
    notes = (
        "From one run, without sending again: an answer that used N tokens (reasoning included) would have been cut, "
        "and wrong, at any cap below N. '% cut' is the share of answers a cap truncates. Answers without a token "
        "count (a server that sent no usage) leave their variant out.",
        *budget_lines(figures),
    )
    return [Table("budget", SECTION, title(figures, "Accuracy, % at lower max_tokens"), frame, notes)]


def budget_chart(figures: Figures, folder: Path) -> Chart | None:
    """Accuracy against the cap, per task, one line per variant with its interval as a band."""
    curve = figures.caps
    if curve is None or curve.empty:
        return None
    tasks = tuple(t for t in figures.tasks if t in set(curve["task"]))
    chart_title = "Accuracy if max_tokens had been lower, from the answers' token counts"
    fig, style = _figure(figures, panel_size(len(tasks)), chart_title), styles(figures.runs)
    enough = figures.sufficient if figures.sufficient is not None else pd.DataFrame(columns=["model", "task", "cap"])
    for ax, task in _panels(fig, tasks):
        for label in figures.labels:
            mine = curve[(curve["model"] == label) & (curve["task"] == task)].sort_values("cap")
            if mine.empty:
                continue
            s = style[label]
            ax.fill_between(mine["cap"], 100 * mine["ci_low"], 100 * mine["ci_high"], color=s.colour, alpha=0.15, linewidth=0)
            ax.plot(mine["cap"], 100 * mine["accuracy"], marker=s.marker, color=s.colour, markersize=4, linewidth=1.6)
            found = enough[(enough["model"] == label) & (enough["task"] == task)]
            if not found.empty:
                cap = int(found["cap"].iloc[0])
                y = 100 * float(mine.loc[mine["cap"] == cap, "accuracy"].iloc[0])
                ax.plot([cap], [y], marker="*", color=s.colour, markeredgecolor="black", markersize=13, zorder=4, linestyle="none")
        ax.set_xscale("log", base=2)
        ax.xaxis.set_major_locator(ticker.FixedLocator([c for c in (1024, 4096, 16384, 65536) if c <= curve["cap"].max()]))
        ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v / 1024:g}k"))
        ax.xaxis.set_minor_formatter(ticker.NullFormatter())
        ax.set_title(task_name(task), fontsize=11)
        ax.set_xlabel("max_tokens (log scale)")
        ax.set_ylabel("Accuracy (%)")
        ax.set_ylim(0, 101)
        ax.grid(**GRID)
        ax.set_axisbelow(True)
    _legend(fig, figures, style)
    caption = (f"Each line is a variant's accuracy had the run's max_tokens been the value on the x axis (answers longer than "
               f"it are cut, and wrong), with its 95% interval over items as a band; the star marks the smallest cap within "
               f"{WITHIN_PTS:g} point of the score at the run's own cap.")
    return _save(fig, folder, "token_budget", SECTION, chart_title, caption)
