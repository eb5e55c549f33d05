"""The report's thinking section: each variant with thinking on against itself with thinking off.

Shown when a report holds, for some variant, a run with thinking on and one with it off on the
same provider (what `glm-eval run --thinking on,off` writes). The difference is paired by item,
as every comparison here; beside it, what thinking costs (tokens, money, time per correct answer)
and what it buys per reasoning token.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib import ticker
from matplotlib.lines import Line2D

from harness import stats
from harness.audit.analysis import paired_interval, provider_of
from harness.canvas import GRID
from harness.formats import DASH, interval, money, pct, seconds, signed_pts, task_name, tokens
from harness.palette import styles
from harness.report.charts import Chart, _figure, _log_axis, _panels, _save, panel_size
from harness.report.figures import Figures
from harness.report.tables import Table, title
from harness.runs import Run
from harness.stats.items import GRADED

SECTION = "Thinking"


def thinking_of(run: Run) -> bool | None:
    value = run.manifest.sampling.get("thinking")
    return value if isinstance(value, bool) else None


def thinking_pairs(figures: Figures) -> list[tuple[str, str, str]]:
    """(variant, label with thinking on, label with thinking off) for every variant a report ran
    both ways on one provider."""
    runs = figures.runs
    found: dict[tuple[str, str], dict[bool, str]] = {}
    for label in runs.labels:
        run = runs.run_of[label]
        mode = thinking_of(run)
        if mode is not None:
            found.setdefault((runs.variant_of[label], provider_of(run)), {}).setdefault(mode, label)
    return [(variant, modes[True], modes[False]) for (variant, _), modes in found.items() if len(modes) == 2]


def thinking_rows(figures: Figures) -> pd.DataFrame:
    scores, costs = figures.runs.scores, figures.costs.by_task
    rows = []
    for variant, on_label, off_label in thinking_pairs(figures):
        for task in figures.tasks:
            on = scores[(scores["model"] == on_label) & (scores["task"] == task)]
            off = scores[(scores["model"] == off_label) & (scores["task"] == task)]
            if on.empty or off.empty:
                continue
            try:
                paired = stats.compare(off, on, n_resamples=200, n_permutations=2000)
            except ValueError:
                continue
            low, high = paired_interval(paired.delta, paired.sem, paired.n_items)
            row: dict[str, Any] = {
                "variant": variant, "task": task, "on": on_label, "off": off_label, "n_items": paired.n_items,
                "accuracy_on": paired.accuracy_b, "accuracy_off": paired.accuracy_a, "delta": paired.delta,
                "ci_low": low, "ci_high": high, "p_value": paired.p_value,
            }
            for mode, rows_ in (("on", on), ("off", off)):
                answered = rows_[rows_["status"].isin(GRADED)]
                completion = pd.to_numeric(answered["completion_tokens"], errors="coerce")
                n_correct = int(answered["correct"].fillna(False).astype(bool).sum())
                known = completion.notna().all() and len(completion)
                row[f"tokens_per_correct_{mode}"] = float(completion.sum()) / n_correct if known and n_correct else np.nan
                row[f"output_tokens_{mode}"] = float(completion.mean()) if known else np.nan
                row[f"latency_{mode}"] = float(pd.to_numeric(answered["latency_s"], errors="coerce").median())
                label = on_label if mode == "on" else off_label
                cost = costs[(costs["model"] == label) & (costs["task"] == task)]
                row[f"cost_per_correct_{mode}"] = float(pd.to_numeric(cost["cost_per_correct"]).iloc[0]) if not cost.empty else np.nan
                row["currency"] = cost["currency"].iloc[0] if not cost.empty else None
            answered_on = on[on["status"].isin(GRADED)]
            reasoning = pd.to_numeric(answered_on["reasoning_tokens"], errors="coerce")
            completion_on = pd.to_numeric(answered_on["completion_tokens"], errors="coerce")
            known_reasoning = reasoning.notna().all() and len(reasoning) and reasoning.mean() > 0
            row["reasoning_tokens"] = float(reasoning.mean()) if known_reasoning else np.nan
            # What a thousand tokens of thought buy, in points, and how much of the output is thought.
            row["points_per_1k_reasoning"] = 100 * paired.delta / (reasoning.mean() / 1000) if known_reasoning else np.nan
            row["reasoning_share"] = float(reasoning.sum() / completion_on.sum()) if known_reasoning and completion_on.notna().all() else np.nan
            rows.append(row)
    return pd.DataFrame(rows)


def thinking_tables(figures: Figures, rows: pd.DataFrame) -> list[Table]:
    if rows.empty:
        return []
    frame = pd.DataFrame({
        "variant": rows["variant"],
        "task": rows["task"].map(task_name),
        "thinking off %": rows["accuracy_off"].map(pct),
        "thinking on %": rows["accuracy_on"].map(pct),
        "on − off [95% CI]": [f"{signed_pts(d)} {interval(lo, hi)}" for d, lo, hi in zip(rows["delta"], rows["ci_low"], rows["ci_high"])],
        "p": [DASH if not np.isfinite(p) else f"{p:.3f}" for p in rows["p_value"]],
        "tokens per correct, off / on": [f"{tokens(a)} / {tokens(b)}" for a, b in zip(rows["tokens_per_correct_off"], rows["tokens_per_correct_on"])],
        "cost per correct, off / on": [
            f"{money(a, c)} / {money(b, c)}" for a, b, c in zip(rows["cost_per_correct_off"], rows["cost_per_correct_on"], rows["currency"])
        ],
        "latency p50 s, off / on": [f"{seconds(a)} / {seconds(b)}" for a, b in zip(rows["latency_off"], rows["latency_on"])],
        "points per 1k reasoning tokens": [DASH if not np.isfinite(v) else f"{v:+.2f}" for v in rows["points_per_1k_reasoning"]],
        "reasoning share of output": rows["reasoning_share"].map(lambda v: DASH if not np.isfinite(v) else f"{100 * v:.0f}%"),
    })
    notes = ("The same items with thinking on and off, paired item by item (Student's t over items). Tokens per correct "
             "answer are all output tokens (reasoning included) over the correct answers; 'points per 1k reasoning tokens' "
             "is the accuracy thinking adds over the mean reasoning it spends, the thinking's efficiency.",)
    return [Table("thinking", SECTION, title(figures, "Thinking on against thinking off"), frame, notes)]


def thinking_chart(figures: Figures, rows: pd.DataFrame, folder: Path) -> Chart | None:
    """Per task, each variant's thinking-off point joined by an arrow to its thinking-on point:
    up is what thinking buys, right is what it costs in output tokens."""
    if rows.empty:
        return None
    tasks = tuple(t for t in figures.tasks if t in set(rows["task"]))
    chart_title = "What thinking buys: accuracy against output tokens per answer, thinking off → on"
    fig, style = _figure(figures, panel_size(len(tasks)), chart_title), styles(figures.runs)
    for ax, task in _panels(fig, tasks):
        mine = rows[rows["task"] == task]
        xs: list[float] = []
        for r in mine.itertuples():
            s = style[r.on]
            if not (np.isfinite(r.output_tokens_off) and np.isfinite(r.output_tokens_on)):
                continue
            start, end = (r.output_tokens_off, 100 * r.accuracy_off), (r.output_tokens_on, 100 * r.accuracy_on)
            ax.annotate("", xy=end, xytext=start, arrowprops={"arrowstyle": "-|>", "color": s.colour, "lw": 1.6}, zorder=2)
            ax.plot(*start, marker=s.marker, markerfacecolor="white", markeredgecolor=s.colour, markersize=8, markeredgewidth=1.6, zorder=3)
            ax.plot(*end, marker=s.marker, color=s.colour, markeredgecolor="black", markeredgewidth=0.6, markersize=8, zorder=3)
            xs += [r.output_tokens_off, r.output_tokens_on]
        if xs:
            _log_axis(ax, xs)
            ax.xaxis.set_major_formatter(ticker.FuncFormatter(lambda v, _: f"{v:,.0f}" if v < 10_000 else f"{v / 1000:g}k"))
        ax.set_title(task_name(task), fontsize=11)
        ax.set_xlabel("Output tokens per answer (log scale)")
        ax.set_ylabel("Accuracy (%)")
        ax.margins(x=0.15, y=0.15)
        ax.grid(**GRID)
        ax.set_axisbelow(True)
    extra = [Line2D([], [], marker="o", markerfacecolor="white", markeredgecolor="#444444", linestyle="none", label="thinking off"),
             Line2D([], [], marker="o", color="#444444", linestyle="none", label="thinking on")]
    shown = rows.drop_duplicates("variant")
    handles = [Line2D([], [], marker=style[r.on].marker, color=style[r.on].colour, markeredgecolor="black", markeredgewidth=0.6,
                      linestyle="none", label=r.variant) for r in shown.itertuples()]
    fig.legend(handles=[*handles, *extra], loc="outside right center", title="Variant", fontsize=9, title_fontsize=9.5, frameon=False)
    caption = ("Hollow: thinking off; filled: thinking on; the arrow is what switching thinking on does to a variant's accuracy "
               "(up) and to the output tokens it bills per answer (right). The table gives the paired difference and its interval.")
    return _save(fig, folder, "thinking", SECTION, chart_title, caption)
