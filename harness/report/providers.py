"""The report's provider section: the same variant through several providers, against the first.

Shown when a report's runs send one variant to two or more providers (what `glm-eval audit`
writes); the first run's provider is the reference every other is paired with, item by item.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from harness.audit.analysis import Audit
from harness.canvas import GRID, titled_figure
from harness.formats import DASH, interval, money, pct, seconds, signed_pts, task_name, tokens
from harness.palette import MARKERS, OKABE_ITO
from harness.report.charts import PANEL_COLUMNS, Chart, _panels, _save
from harness.report.tables import Table

SECTION = "Providers"
VERDICT_COLOURS = {
    "worse": OKABE_ITO["vermillion"],
    "better": OKABE_ITO["blue"],
    "indistinguishable": OKABE_ITO["bluish green"],
    "other": "#8c8c8c",
}


def provider_tables(found: Audit, simulated: bool) -> list[Table]:
    mark = " (SIMULATED)" if simulated else ""
    rows = found.rows
    accuracy = pd.DataFrame({
        "variant": rows["variant"],
        "task": rows["task"].map(task_name),
        "provider": rows["provider"],
        "accuracy": [f"{pct(r.accuracy)} ({r.n_items}×{r.k})" for r in rows.itertuples()],
        f"Δ vs {found.reference} [95% CI]": [
            "reference" if r.provider == found.reference else f"{signed_pts(r.delta)} {interval(r.ci_low, r.ci_high)}" for r in rows.itertuples()
        ],
        "p": [DASH if not np.isfinite(r.p_value) else f"{r.p_value:.3f}" for r in rows.itertuples()],
        "verdict": rows["verdict"],
        "detects": [DASH if not np.isfinite(r.detectable) else f"{100 * r.detectable:.1f} pts" for r in rows.itertuples()],
    })
    tables = [Table(
        "provider_accuracy", SECTION, f"Accuracy by provider, paired with {found.reference} item by item{mark}", accuracy,
        (f"Δ is the provider's accuracy minus {found.reference}'s on the items both answered, in points, with its 95% interval; "
         f"'detects' is the difference these items and samples find with 80% power. A verdict of 'indistinguishable' needs the "
         f"whole interval inside ±{found.equivalence_pts:g} points; 'too few items to tell' means neither a difference nor its "
         f"absence was shown: add samples or items.",),
    )]
    behaviour = pd.DataFrame({
        "variant": rows["variant"],
        "task": rows["task"].map(task_name),
        "provider": rows["provider"],
        "truncated %": rows["truncated_share"].map(pct),
        "ambiguous %": rows["ambiguous_share"].map(pct),
        "filtered %": rows["filtered_share"].map(pct),
        "failed %": rows["failed_share"].map(pct),
        "answer tokens": rows["answer_tokens"].map(tokens),
        "reasoning tokens": rows["reasoning_tokens"].map(tokens),
        "first token s (p50)": rows["ttft_p50"].map(seconds),
        "latency s p50 / p95": [f"{seconds(a)} / {seconds(b)}" for a, b in zip(rows["latency_p50"], rows["latency_p95"])],
        "output tok/s": rows["tokens_per_s"].map(lambda v: DASH if not np.isfinite(v) else f"{v:,.0f}"),
        "cost / correct": [money(c, cur) for c, cur in zip(rows["cost_per_correct"], rows["currency"])],
        "served by": rows["served_by"].replace("", DASH),
    })
    tables.append(Table(
        "provider_behaviour", SECTION, f"What each provider did besides answering{mark}", behaviour,
        ("Tokens are means per answer: the visible answer, and the reasoning before it; 'unknown' where the provider sent no "
         "usage. Output speed is per answer (reasoning included), after its first token.",),
    ))
    if not found.requests.empty:
        r = found.requests
        tables.append(Table("provider_requests", SECTION, f"Requests, rate limits and server errors{mark}", pd.DataFrame({
            "variant": r["variant"], "provider": r["provider"], "attempts": r["attempts"].map(str),
            "429 %": r["rate_429"].map(pct), "5xx %": r["rate_5xx"].map(pct), "other errors %": r["rate_other"].map(pct),
        }), ("Attempts this audit sent, retries included (answers already in the store were not sent again).",)))
    if not found.conformance.empty:
        flags = found.flags()
        tables.append(Table(
            "provider_conformance", SECTION, f"What each provider honours (glm-eval probe){mark}", found.conformance.fillna(DASH),
            ("Flagged: " + "; ".join(flags) + "." if flags else "Nothing flagged: every provider honoured the switches and sent usage.",
             "'thinking off: reasoning anyway' is a host that ignores the thinking switch; 'usage: NO', one that sends no token "
             "counts (its cost cannot be known); 'model served' is the id the server says answered."),
        ))
    h = found.hosts
    h = h[h.groupby(["provider", "variant", "task"])["served_by"].transform("nunique") > 1] if not h.empty else h
    if not h.empty:  # a provider that routed one variant to several hosts
        tables.append(Table("provider_hosts", SECTION, f"Accuracy by the upstream host that served each answer{mark}", pd.DataFrame({
            "provider": h["provider"], "variant": h["variant"], "task": h["task"].map(task_name), "served by": h["served_by"],
            "answers": h["n_samples"].map(str),
            "accuracy": [f"{pct(a)} {interval(lo, hi)}" for a, lo, hi in zip(h["accuracy"], h["ci_low"], h["ci_high"])],
        }), ("Samples, not items, are the unit here (an item's samples may go to different hosts): the interval is narrower "
             "than it should be; pin a host (--provider openrouter@HOST) for a paired comparison.",)))
    return tables


def provider_charts(found: Audit, simulated: bool, folder: Path) -> list[Chart]:
    return [differences_chart(found, simulated, folder), accuracy_latency_chart(found, simulated, folder)]


def differences_chart(found: Audit, simulated: bool, folder: Path) -> Chart:
    """A forest plot: the paired difference with its interval per provider and variant, beside the
    band where a difference counts as none, so a reader sees at once which provider is worse."""
    rows = found.others()
    tasks = tuple(dict.fromkeys(rows["task"])) or tuple(dict.fromkeys(found.rows["task"]))
    labels = list(dict.fromkeys(f"{r.provider}\n{r.variant}" for r in rows.itertuples()))
    columns = min(len(tasks), PANEL_COLUMNS)
    size = (max(4.0 * columns + 4.2, 11.0), 1.8 + 0.5 * max(len(labels), 2) * int(np.ceil(len(tasks) / PANEL_COLUMNS)))
    title = f"Accuracy difference from {found.reference}, paired by item, with 95% intervals"
    fig = titled_figure(size, title, simulated)
    band = found.equivalence_pts
    for i, (ax, task) in enumerate(_panels(fig, tasks)):
        mine = rows[rows["task"] == task]
        ax.axvspan(-band, band, color="#eeeeee", zorder=0)
        ax.axvline(0, color="black", linewidth=1.0, zorder=1)
        for r in mine.itertuples():
            y = labels.index(f"{r.provider}\n{r.variant}")
            colour = VERDICT_COLOURS[_kind(r.verdict)]
            if np.isfinite(r.ci_low) and np.isfinite(r.ci_high):
                ax.hlines(y, 100 * r.ci_low, 100 * r.ci_high, color=colour, linewidth=2.2, zorder=2)
            ax.plot(100 * r.delta, y, "o", color=colour, markeredgecolor="black", markeredgewidth=0.6, markersize=7, zorder=3)
            ax.annotate(f"{100 * r.delta:+.1f}", (100 * r.delta, y), xytext=(0, 7), textcoords="offset points", ha="center", fontsize=8)
        ax.set_yticks(range(len(labels)), labels if i % PANEL_COLUMNS == 0 else [""] * len(labels), fontsize=8.5)
        ax.set_ylim(len(labels) - 0.5, -0.5)
        ax.set_title(task_name(task), fontsize=11)
        ax.set_xlabel(f"Δ accuracy vs {found.reference} (points)")
        ax.grid(axis="x", **GRID)
        ax.set_axisbelow(True)
    handles = [Patch(color=VERDICT_COLOURS[k], label=text) for k, text in (
        ("worse", "worse (interval below 0)"), ("better", "better (interval above 0)"),
        ("indistinguishable", f"indistinguishable (inside ±{band:g})"), ("other", "too few items to tell"))]
    handles.append(Patch(color="#eeeeee", label=f"±{band:g} points"))
    fig.legend(handles=handles, loc="outside right center", title="Verdict", fontsize=9, title_fontsize=9.5, frameon=False)
    caption = (f"Each line is one provider and variant: its accuracy minus {found.reference}'s on the same items (dot) and the "
               f"95% interval of that difference (line). The grey band is ±{band:g} points, the size of difference the audit "
               f"calls none once the whole interval sits inside it.")
    return _save(fig, folder, "provider_differences", SECTION, title, caption)


def accuracy_latency_chart(found: Audit, simulated: bool, folder: Path) -> Chart:
    """Accuracy against median latency per provider: a slower host that is no more accurate shows
    to the right of the others at the same height."""
    rows = found.rows
    tasks = tuple(dict.fromkeys(rows["task"]))
    columns = min(len(tasks), PANEL_COLUMNS)
    fig = titled_figure((max(4.2 * columns + 2.8, 11.0), 4.0 * int(np.ceil(len(tasks) / PANEL_COLUMNS)) + 1.4),
                        "Accuracy against median latency, per provider", simulated)
    palette = list(OKABE_ITO.values())
    style = {p: (palette[i % len(palette)], MARKERS[i % len(MARKERS)]) for i, p in enumerate(found.providers)}
    for ax, task in _panels(fig, tasks):
        for r in rows[rows["task"] == task].itertuples():
            if not np.isfinite(r.latency_p50):
                continue
            colour, marker = style[r.provider]
            acc = 100 * r.accuracy
            ax.errorbar([r.latency_p50], [acc], yerr=[[acc - 100 * r.accuracy_low], [100 * r.accuracy_high - acc]], fmt=marker,
                        color=colour, markeredgecolor="black", markeredgewidth=0.6, markersize=8, ecolor=colour, elinewidth=1.6,
                        capsize=3.5, zorder=3)
            if rows["variant"].nunique() > 1:  # one variant: the legend says it all
                ax.annotate(r.variant, (r.latency_p50, acc), xytext=(6, -3), textcoords="offset points", fontsize=7.5, color="#333333")
        ax.set_title(task_name(task), fontsize=11)
        ax.set_xlabel("Median latency per answer (s)")
        ax.set_ylabel("Accuracy (%)")
        ax.margins(x=0.2, y=0.2)
        ax.set_xlim(left=0)  # from zero: two hosts 1% apart in speed must not look far apart
        ax.grid(**GRID)
        ax.set_axisbelow(True)
    handles = [Line2D([], [], marker=m, color=c, markeredgecolor="black", markeredgewidth=0.6, markersize=8, linestyle="none",
                      label=p + (" (reference)" if p == found.reference else "")) for p, (c, m) in style.items()]
    fig.legend(handles=handles, loc="outside right center", title="Provider", fontsize=9, title_fontsize=9.5, frameon=False)
    caption = ("One point per provider and variant: accuracy (avg@k, whiskers its 95% interval over items) against the median time "
               "to a whole answer. Up and to the left is better; the paired differences say which accuracy gaps are real."
               + (" Simulated times are the simulator's, scaled by --sim-time-scale." if simulated else ""))
    return _save(fig, folder, "provider_accuracy_latency", SECTION, "Accuracy against median latency, per provider", caption)


def _kind(verdict: str) -> str:
    for kind in ("worse", "better", "indistinguishable"):
        if verdict.startswith(kind):
            return kind
    return "other"
