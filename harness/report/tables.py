"""The report's tables, as frames of display strings that markdown, HTML, CSV and the terminal
all render the same way.

Accuracy cells read "96.7 [91.2, 100.0] (30×2)": accuracy in percent, its 95% interval, and the
items and samples per item behind it. The interval is written out rather than as "± half-width"
because it is clipped to [0, 100] and so is lopsided near the ends, where GLM-4.5's MATH-500
scores sit.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import pandas as pd

from harness import cost
from harness.formats import DASH, accuracy_cell, interval, missing, money, pct, seconds, signed_pts, task_name, tokens
from harness.report.figures import Breakdown, Figures
from harness.runs import SIMULATED, Run

BREAKDOWN_NAMES = {"subject": "subject", "level": "difficulty level", "domain": "domain"}


@dataclass(frozen=True)
class Table:
    """A titled table of strings. Renderers right-align the columns that hold figures (`figure_columns`)."""

    name: str
    section: str
    title: str
    frame: pd.DataFrame
    notes: tuple[str, ...] = ()


_FIGURE = re.compile(r"^([-+−<\[]?\d|–$|unknown$|unpriced$)")


def figure_columns(frame: pd.DataFrame) -> set[str]:
    """Columns whose every cell is a figure (or a placeholder for one), to be right-aligned."""
    return {c for c in frame.columns if len(frame) and frame[c].astype(str).str.match(_FIGURE).all()}


def _accuracy_of(row: pd.Series) -> str:
    return accuracy_cell(row["accuracy"], row["ci_low"], row["ci_high"], int(row["n_items"]), int(row["k"]))


def group_value(value: object) -> str:
    """Breakdown groups as people write them: level 3, not 3.0 (the merged frame turns ints to floats)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def display_label(figures: Figures, label: str) -> str:
    """A variant's row name; when simulated and real runs are mixed, the simulated rows say so."""
    runs = figures.runs
    if runs.simulated and label in runs.simulated_labels and len(runs.simulated_labels) < len(runs.labels):
        return f"{label} [{SIMULATED}]"
    return label


def title(figures: Figures, text: str) -> str:
    return f"{text} ({SIMULATED})" if figures.runs.simulated else text


def in_report_order(figures: Figures, frame: pd.DataFrame, labels: pd.Series) -> pd.DataFrame:
    """Rows by variant in the report's order (flagship first), tasks in the report's order within."""
    label_rank = {label: i for i, label in enumerate(figures.labels)}
    task_rank = {task_name(t): i for i, t in enumerate(figures.tasks)}
    key = [label_rank.get(label, len(label_rank)) for label in labels]
    order = sorted(range(len(frame)), key=lambda i: (key[i], task_rank.get(frame["task"].iloc[i], 0) if "task" in frame else 0))
    return frame.iloc[order].reset_index(drop=True)


def all_tables(figures: Figures) -> list[Table]:
    """Every table, in reading order: the decision first, the detail after."""
    tables = [accuracy_table(figures), detail_table(figures), reference_table(figures), cost_totals_table(figures),
              per_task_table(figures)]
    tables += [breakdown_table(figures, b) for b in figures.breakdowns]
    tables.append(runs_table(figures))
    return tables


def accuracy_table(figures: Figures) -> Table:
    s = figures.summary
    frame = pd.DataFrame({"variant": [display_label(figures, label) for label in figures.labels]})
    for task in figures.tasks:
        cells = {r["model"]: _accuracy_of(r) for _, r in s[s["task"] == task].iterrows()}
        frame[task_name(task)] = [cells.get(label, DASH) for label in figures.labels]
    return Table(
        "accuracy", "Accuracy", title(figures, "Accuracy, % [95% CI] (items × samples per item)"), frame,
        (
            "Accuracy is avg@k: the mean over each item's samples, then over items. The interval is a normal "
            "interval over items (samples of one item are not independent), clipped to [0, 100]. Failed requests "
            "and items the provider's content filter refused are left out; truncated answers count as wrong.",
        ),
    )


def reference_table(figures: Figures) -> Table:
    ref, rows = figures.reference, figures.reference_rows
    used = list(dict.fromkeys(rows["source"])) if not rows.empty else list(dict.fromkeys(m.source for m in ref.models.values()))
    notes: tuple[str, ...] = tuple(f"Published figures: {ref.sources[name].cite()}; measured under {ref.sources[name].protocol}." for name in used)
    name = title(figures, "Measured vs published figures, each variant beside its own")
    if rows.empty:
        frame = pd.DataFrame({"note": [f"no variant with published figures ({', '.join(ref.models)}) ran a task they have figures for"]})
        return Table("reference", "Published figures", name, frame, notes)
    frame = pd.DataFrame({
        "variant": [display_label(figures, m) for m in rows["model"]],
        "benchmark": [f"{task_name(t)} (published as {b})" for t, b in zip(rows["task"], rows["benchmark"])],
        "published %": [pct(v) for v in rows["published"]],
        "measured %": [pct(v) for v in rows["accuracy"]],
        "95% CI": [interval(lo, hi) for lo, hi in zip(rows["ci_low"], rows["ci_high"])],
        "items × k": [_items(r) for _, r in rows.iterrows()],
        "measured − published, pts": [signed_pts(v) for v in rows["difference"]],
        "published inside CI": [_inside(v) for v in rows["inside"]],
    })
    if rows["inside"].isna().any():
        notes += ("† Every item scored the same, so the interval over items has no width and cannot place the "
                  "published figure; run more items or samples.",)
    return Table("reference", "Published figures", name, frame, notes)


def detail_table(figures: Figures) -> Table:
    s = figures.summary
    frame = pd.DataFrame({
        "variant": [display_label(figures, m) for m in s["model"]],
        "task": [task_name(t) for t in s["task"]],
        "accuracy %": [pct(v) for v in s["accuracy"]],
        "95% CI": [interval(lo, hi) for lo, hi in zip(s["ci_low"], s["ci_high"])],
        "bootstrap 95% CI": [interval(lo, hi) for lo, hi in zip(s["boot_low"], s["boot_high"])],
        "pass@k %": [pct(v) for v in s["pass_at_k"]],
        "maj@k %": [pct(v) for v in s["maj_at_k"]],
        "truncated %": [pct(v) for v in s["truncated_share"]],
        "ambiguous %": [pct(v) for v in s["ambiguous_share"]],
        "filtered %": [pct(v) for v in s["filtered_share"]],
        "failed %": [pct(v) for v in s["failed_share"]],
        "items": s["n_items"].astype(str),
        "k": s["k"].astype(str),
        "graded samples": s["n_samples"].astype(str),
    })
    frame = in_report_order(figures, frame, s["model"])
    return Table(
        "detail", "Accuracy", title(figures, "Accuracy in detail, % (per variant and task)"), frame,
        (
            "pass@k: unbiased estimator from the k samples; maj@k: majority vote over normalised answers. "
            "Truncated, ambiguous (the answer could not be told apart from options the response only mentions: "
            "counted wrong, never guessed), filtered (refused by the provider's content filter) and failed are shares "
            "of all requests, filtered and failed left out of accuracy; the bootstrap resamples items.",
        ),
    )


def per_task_table(figures: Figures) -> Table:
    """Tokens, latency and cost per answer for each variant and task: what a choice between
    variants of similar accuracy turns on. The full set of quantiles is in figures.csv."""
    u = figures.usage
    costs = figures.costs.by_task.set_index(["model", "task"])
    frame = pd.DataFrame({
        "variant": [display_label(figures, m) for m in u["model"]],
        "task": [task_name(t) for t in u["task"]],
        "output tokens, mean": [tokens(v) for v in u["completion_tokens_mean"]],
        "reasoning tokens, mean": [tokens(v) for v in u["reasoning_tokens_mean"]],
        "latency p50 s": [seconds(v) for v in u["latency_s_p50"]],
        "latency p90 s": [seconds(v) for v in u["latency_s_p90"]],
        "first token p50 s": [seconds(v) for v in u["ttft_s_p50"]],
    })
    notes = ["Output tokens include reasoning tokens. Latency is the whole request, first token the time to the first "
             "streamed token; failed requests are left out."]
    if figures.costs.available:
        rows = [costs.loc[key] if key in costs.index else None for key in zip(u["model"], u["task"])]
        mark = [" †" if m in figures.costs.unverified else "" for m in u["model"]]
        frame["cost per 1,000 answers"] = [_cost_of(r, "cost_per_request", 1000) + d for r, d in zip(rows, mark)]
        frame["cost per correct answer"] = [_cost_of(r, "cost_per_correct") + d for r, d in zip(rows, mark)]
        notes.append("Cost priced as in the table above" + ("; † the price is unverified (see the price file)." if any(mark) else "."))
    frame = in_report_order(figures, frame, u["model"])
    return Table("per_task", "Cost, tokens and latency", title(figures, "Tokens, latency and cost per answer"), frame, tuple(notes))


def cost_totals_table(figures: Figures) -> Table:
    t = figures.costs.totals
    if not figures.costs.available:
        frame = pd.DataFrame({"note": [f"Cost unavailable. {figures.costs.notes[-1]}"]})
        return Table("cost_totals", "Cost, tokens and latency", title(figures, "Cost per variant"), frame)
    frame = pd.DataFrame({
        "variant": [display_label(figures, m) for m in t["model"]],
        "priced as": t["priced_as"],
        "cost, all tasks": [_cost(v, cur, p) + (" †" if m in figures.costs.unverified else "")
                            for m, v, cur, p in zip(t["model"], t["cost"], t["currency"], t["priced_as"])],
        "correct answers": t["n_correct"].astype(str),
        "per correct answer": [_cost(v, cur, p) for v, cur, p in zip(t["cost_per_correct"], t["currency"], t["priced_as"])],
    })
    notes = list(figures.costs.notes)
    if (t["cached_share"].fillna(0) > 0).any():
        # the provider's prompt cache bills repeated prompt prefixes lower: without it the same run costs this
        frame["prompt tokens from cache, %"] = [pct(v) for v in t["cached_share"]]
        frame["cost if nothing were cached"] = [_cost(v, cur, p) for v, cur, p in zip(t["cost_uncached"], t["currency"], t["priced_as"])]
        notes.append("Cached prompt tokens (usage.prompt_tokens_details.cached_tokens) are priced at the price file's cached-input "
                     "rate (the full input rate where the file gives none); the last column prices every prompt token at the full input rate.")
    if (t["n_reported"] > 0).any():
        frame["answers the provider priced"] = t["n_reported"].astype(str)
        frame["provider's figure vs price table"] = [_gap(r, c, cur) for r, c, cur in zip(t["reported_cost"], t["table_cost_of_reported"], t["currency"])]
        notes.append("Where the provider reports each request's cost (OpenRouter's usage.cost), that is the cost; the price "
                     "table's figure for the same answers is shown beside it.")
    frame = in_report_order(figures, frame, t["model"])
    if figures.costs.unverified:
        notes.append("† The price is unverified: read its cost as a guess.")
    return Table("cost_totals", "Cost, tokens and latency", title(figures, "Cost per variant, all its tasks"), frame, tuple(notes))


def breakdown_table(figures: Figures, breakdown: Breakdown) -> Table:
    s = breakdown.summary
    groups = sorted(s[breakdown.column].unique(), key=lambda v: (isinstance(v, str), v))
    labels = [label for label in figures.labels if label in set(s["model"])]
    name = BREAKDOWN_NAMES.get(breakdown.column, breakdown.column)
    frame = pd.DataFrame({name: [group_value(g) for g in groups]})
    for label in labels:
        mine = s[s["model"] == label].set_index(breakdown.column)
        frame[display_label(figures, label)] = [_accuracy_of(mine.loc[g]) if g in mine.index else DASH for g in groups]
    return Table(
        f"breakdown_{breakdown.task}_{breakdown.column}", "Breakdowns",
        title(figures, f"{task_name(breakdown.task)} by {name}: accuracy, % [95% CI] (items × k)"), frame,
        ("Few items per group make wide intervals: read the interval before the figure.",),
    )


def runs_table(figures: Figures) -> Table:
    rows = []
    for run in figures.runs.runs:
        m, rate = run.manifest, figures.throughput[run.name]
        rows.append({
            "run": run.name,
            "provider": _provider(run),
            "variants": ", ".join(f"{v} = {i}" if v != i else v for v, i in m.models.items()),
            "samples per item": ", ".join(f"{task_name(t)} {k}" for t, k in m.samples_per_item.items()),
            "items": ", ".join(f"{task_name(t)} {_known(p.rows_used)}/{_known(p.rows)}" for t, p in m.tasks.items()),
            "sampling": ", ".join(f"{k} {v}" for k, v in m.sampling.items()),
            "started": str(m.started or DASH)[:19].replace("T", " "),
            "wall time s": seconds(math.nan if m.wall_s is None else m.wall_s),
            "requests/s": f"{rate.requests_per_s:.2f}" if rate else DASH,
            "output tokens/s": f"{rate.completion_tokens_per_s:,.0f}" if rate else DASH,
            "commit": str(m.git_commit or DASH)[:12],
        })
    frame = pd.DataFrame(rows)
    return Table("runs", "Runs", title(figures, "Runs in this report"), frame,
                 ("Rates are over the run's wall time, including answers taken from the store.",))


def _known(count: int | None) -> str:
    return "?" if count is None else str(count)


def _inside(inside: bool | None) -> str:
    if inside is None or pd.isna(inside):
        return "cannot tell†"
    return "yes" if inside else "NO"


def _provider(run: Run) -> str:
    name = run.manifest.provider.name or DASH
    return f"{name} ({SIMULATED})" if run.simulated and SIMULATED.lower() not in name.lower() else name


def _cost(value: float, currency: str | None, priced_as: str) -> str:
    return "unpriced" if priced_as == cost.UNPRICED else money(value, currency)


def _gap(reported: float, table: float, currency: str | None) -> str:
    """The provider's own total beside the price table's for the same answers, and how far apart."""
    if missing(table) or not table:
        return f"{money(reported, currency)} (no table price)"
    return f"{money(reported, currency)} vs {money(table, currency)} ({(reported - table) / table:+.0%})"


def _cost_of(row: pd.Series | None, column: str, scale: float = 1.0) -> str:
    return "unknown" if row is None else _cost(scale * row[column], row["currency"], row["priced_as"])


def _items(row: pd.Series) -> str:
    of = f" of {int(row['items_in_set'])}" if pd.notna(row["items_in_set"]) else ""
    return f"{int(row['n_items'])}{of} × {int(row['k'])}"

