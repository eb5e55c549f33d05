"""The report's gap breakdown: glm-eval's strict score against the score of Z.ai's kit's protocol
(`glm-eval run --protocol strict,zai-kit`), and how many points each of the kit's rules adds.

Shown when a report holds, for some variant on one provider, a strict run and a zai-kit run of the
same task. Each zai-kit sample carries its verdict after every rule in turn (harness/zaikit.py), so
the breakdown is a telescoping sum, item by item: the kit's requests graded strictly against the
strict run (what the missing top_p, and for GPQA the bare prompt, do), then each rule against the
one before. The parts add up to the gap exactly; each part's interval is Student's t over items.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness import zaikit
from harness.audit.analysis import paired_interval, provider_of
from harness.canvas import GRID
from harness.formats import DASH, interval, pct, signed_pts, task_name
from harness.palette import styles
from harness.report.charts import Chart, _figure, _panels, _save, panel_size
from harness.report.figures import Figures
from harness.report.tables import Table, title
from harness.runs import Run
from harness.stats.items import GRADED

SECTION = "Protocols"
KIT = "zai-kit"
REQUESTS = "requests"
PART_NAMES = {
    REQUESTS: "the kit's requests",
    zaikit.BOXED: "\\boxed{} only",
    zaikit.CUT_OFF: "cut-off graded",
    zaikit.JUDGE_FALLBACK: "judge fallback",
    zaikit.CHECKER_LETTER: "checker's letter",
    zaikit.RANDOM_LETTER: "random letter",
}
PART_COLUMNS = ["variant", "task", "part", "rule", "contribution", "ci_low", "ci_high", "samples_up", "samples_down", "n_items"]
GAP_COLUMNS = ["variant", "task", "strict_label", "kit_label", "n_items", "strict", "kit", "gap", "sum_of_parts", "published"]


def protocol_of(run: Run) -> str:
    return str(run.manifest.spec.get("protocol") or "strict")


def protocol_pairs(figures: Figures) -> list[tuple[str, str, str]]:
    """(variant, strict label, zai-kit label) for every variant a report ran both ways on one provider."""
    runs = figures.runs
    found: dict[tuple[str, str], dict[str, str]] = {}
    for label in runs.labels:
        run = runs.run_of[label]
        found.setdefault((runs.variant_of[label], provider_of(run)), {}).setdefault(protocol_of(run), label)
    return [(variant, modes["strict"], modes[KIT]) for (variant, _), modes in found.items() if "strict" in modes and KIT in modes]


def _requests_rule(task: str) -> str:
    bare = "; the bare question and options, no instruction (gpqa_eval.py 31-44)" if task.startswith("gpqa") else ""
    return f"no top_p sent, the server's default applies (zai_sampler.py 49-70){bare}; graded by glm-eval's rules"


def gap_breakdown(figures: Figures) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(gaps, parts, items): one row per variant and task; one per part of its gap; one per item
    with its strict score and its score after each rule (the file a user reads a figure's origin from)."""
    scores = figures.runs.scores
    gaps, parts, items = [], [], []
    for variant, strict_label, kit_label in protocol_pairs(figures):
        kit_run = figures.runs.run_of[kit_label]
        for kit_task, info in kit_run.manifest.tasks.items():
            if info.answer_reader != KIT:
                continue
            task = kit_task.partition(":")[0]
            strict = scores[(scores["model"] == strict_label) & (scores["task"] == task) & scores["status"].isin(GRADED)]
            kit = scores[(scores["model"] == kit_label) & (scores["task"] == kit_task) & scores["status"].isin(GRADED)]
            if strict.empty or kit.empty or "zai_kit" not in kit:
                continue
            kit = kit[kit["zai_kit"].map(lambda v: isinstance(v, dict))]
            steps = zaikit.steps_for(str(info.grader))
            verdicts = pd.DataFrame(list(kit["zai_kit"]), index=kit.index)[list(steps)].astype(float)
            verdicts["item_id"] = kit["item_id"].astype(str)
            by_item = verdicts.groupby("item_id").mean()
            base = strict.assign(item_id=strict["item_id"].astype(str), correct=strict["correct"].fillna(False).astype(float))
            by_item.insert(0, "strict_run", base.groupby("item_id")["correct"].mean())
            by_item = by_item.dropna()
            if len(by_item) == 0:
                continue
            columns = ["strict_run", *steps]
            names = [REQUESTS, *steps[1:]]
            sum_of_parts = 0.0
            for name, before, after in zip(names, columns, columns[1:]):
                delta = by_item[after] - by_item[before]
                sum_of_parts += float(delta.mean())
                sem = float(delta.std(ddof=1) / np.sqrt(len(delta))) if len(delta) > 1 else np.nan
                low, high = paired_interval(float(delta.mean()), sem, len(delta))
                changed = verdicts[after] - verdicts[before] if name != REQUESTS else pd.Series(dtype=float)
                parts.append({
                    "variant": variant, "task": task, "part": name, "rule": _requests_rule(task) if name == REQUESTS else zaikit.RULES[name],
                    "contribution": float(delta.mean()), "ci_low": low, "ci_high": high,
                    "samples_up": int((changed > 0).sum()) if name != REQUESTS else None,
                    "samples_down": int((changed < 0).sum()) if name != REQUESTS else None, "n_items": len(delta),
                })
            published = figures.reference.scores_for(variant).get(task)
            gap = float(by_item[steps[-1]].mean() - by_item["strict_run"].mean())
            gaps.append({
                "variant": variant, "task": task, "strict_label": strict_label, "kit_label": kit_label, "n_items": len(by_item),
                "strict": float(by_item["strict_run"].mean()), "kit": float(by_item[steps[-1]].mean()), "gap": gap,
                "sum_of_parts": sum_of_parts,
                "published": published.percent / 100 if published is not None else np.nan,
            })
            long = by_item.reset_index().melt(id_vars="item_id", var_name="step", value_name="accuracy")
            items.append(long.assign(variant=variant, task=task)[["variant", "task", "item_id", "step", "accuracy"]])
    return (
        pd.DataFrame(gaps, columns=GAP_COLUMNS),
        pd.DataFrame(parts, columns=PART_COLUMNS),
        pd.concat(items, ignore_index=True) if items else pd.DataFrame(columns=["variant", "task", "item_id", "step", "accuracy"]),
    )


def _points(part: Any) -> str:
    """A rule that turned no sample adds exactly nothing: "0", not a zero-width interval that reads
    like a measurement."""
    if part.samples_up == 0 and part.samples_down == 0:
        return "0"
    return f"{signed_pts(part.contribution)} {interval(part.ci_low, part.ci_high)}"


def gap_tables(figures: Figures, breakdown: tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame] | None = None) -> list[Table]:
    gaps, parts, _ = breakdown if breakdown is not None else gap_breakdown(figures)
    if gaps.empty:
        return []
    summary: dict[str, list[str]] = {"variant": [], "task": [], "strict %": [], "zai-kit %": [], "published %": [], "gap": []}
    names = [name for name in PART_NAMES if name in set(parts["part"])]
    for name in names:
        summary[PART_NAMES[name]] = []
    summary["sum of parts"] = []
    for g in gaps.itertuples():
        mine = parts[(parts["variant"] == g.variant) & (parts["task"] == g.task)].set_index("part")
        summary["variant"].append(g.variant)
        summary["task"].append(task_name(g.task))
        summary["strict %"].append(pct(g.strict))
        summary["zai-kit %"].append(pct(g.kit))
        summary["published %"].append(pct(g.published))
        summary["gap"].append(signed_pts(round(g.gap, 9)))  # (rounded alike: equal up to float error, they must read alike)
        for name in names:
            summary[PART_NAMES[name]].append(signed_pts(mine.loc[name, "contribution"]) if name in mine.index else DASH)
        summary["sum of parts"].append(signed_pts(round(g.sum_of_parts, 9)))
    detail = pd.DataFrame({
        "variant": parts["variant"],
        "task": parts["task"].map(task_name),
        "part": parts["part"].map(PART_NAMES),
        "points [95% CI]": [_points(part) for part in parts.itertuples()],
        "samples it turned right / wrong": [DASH if pd.isna(u) else f"{int(u)} / {int(d)}" for u, d in zip(parts["samples_up"], parts["samples_down"])],
        "the kit's rule": parts["rule"],
    })
    notes = (
        "Strict is glm-eval's own protocol; zai-kit sends and grades as Z.ai's glm-simple-evals does (harness/zaikit.py cites "
        "each rule to the kit's file and line). The parts are a telescoping sum item by item: the kit's requests graded by "
        "glm-eval's rules against the strict run, then each of the kit's rules added in turn to the one before, so they add "
        "up to the gap (the last column). The published figure was measured with the kit (configs/reference.yaml).",
    )
    detail_notes = (
        "The first part compares two sets of answers (the kit's requests and glm-eval's), so its interval is sampling noise as "
        "much as protocol; every later part regrades the same answers, and 'samples it turned right / wrong' counts what each "
        "rule changed. Every item's score after each rule is in protocol_gap_items.csv.",
    )
    return [
        Table("protocol_gap", SECTION, title(figures, "Strict against zai-kit: where the gap comes from, points"), pd.DataFrame(summary), notes),
        Table("protocol_parts", SECTION, title(figures, "Each rule of the kit: points it adds"), detail, detail_notes),
    ]


def gap_chart(figures: Figures, gaps: pd.DataFrame, parts: pd.DataFrame, folder: Path) -> Chart | None:
    """A waterfall per task: from the strict score, each of the kit's rules as a step up or down,
    to the kit's score, a published figure dashed beside it."""
    if gaps.empty:
        return None
    tasks = tuple(t for t in figures.tasks if t in set(gaps["task"]))
    chart_title = "From glm-eval's strict score to Z.ai's kit's: what each rule of the kit adds"
    fig, style = _figure(figures, panel_size(len(tasks)), chart_title), styles(figures.runs)
    for ax, task in _panels(fig, tasks):
        rows = gaps[gaps["task"] == task]
        width = 0.8 / max(len(rows), 1)
        labels: list[str] = []
        for n, g in enumerate(rows.itertuples()):
            mine = parts[(parts["variant"] == g.variant) & (parts["task"] == task)]
            colour = style[g.kit_label].colour
            labels = ["strict", *[PART_NAMES[p] for p in mine["part"]], "zai-kit"]
            level = 100 * g.strict
            offset = (n - (len(rows) - 1) / 2) * width
            ax.bar(0 + offset, level, width, color=colour, alpha=0.9, label=g.variant)
            for i, step in enumerate(mine.itertuples(), start=1):
                change = 100 * step.contribution
                # a rule that takes points is hatched: colour tells the variants apart, so direction needs its own mark
                ax.bar(i + offset, change, width, bottom=level, color=colour, alpha=0.45, edgecolor=colour,
                       hatch="////" if change < 0 else None)
                level += change
            ax.bar(len(labels) - 1 + offset, 100 * g.kit, width, color=colour, alpha=0.9)
            if np.isfinite(g.published):
                ax.hlines(100 * g.published, -0.5, len(labels) - 0.5, colors=colour, linestyles="dashed", linewidth=1.2)
        low = min(100 * min(rows["strict"].min(), rows["kit"].min()), 100 * np.nanmin(rows["published"].to_numpy(dtype=float), initial=100))
        high = max(100 * max(rows["strict"].max(), rows["kit"].max()), 100 * np.nanmax(rows["published"].to_numpy(dtype=float), initial=0))
        span = max(high - low, 2.0)
        ax.set_ylim(max(0.0, low - span), min(100.0, high + span / 2))
        ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right", fontsize=8.5)
        ax.set_title(task_name(task), fontsize=11)
        ax.set_ylabel("Accuracy (%)")
        ax.grid(axis="y", **GRID)
        ax.set_axisbelow(True)
    handles, names = fig.axes[0].get_legend_handles_labels()
    fig.legend(handles, names, loc="outside right center", title="Variant", fontsize=9, title_fontsize=9.5, frameon=False)
    caption = ("Solid bars: the strict score and the zai-kit score; pale bars: what each of the kit's rules adds (up) or takes "
               "(down, hatched), in the order the breakdown applies them; dashed: the published figure, measured with the kit. The axis "
               "is cut to the scores' range.")
    return _save(fig, folder, "protocol_gap", SECTION, chart_title, caption)
