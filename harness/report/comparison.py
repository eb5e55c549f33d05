"""`glm-eval compare`: two runs, or two variants of one run, paired item by item on each task.

The statistics are harness.stats.compare's (paired differences over items, a 95% interval, a
p-value); this module chooses what to pair, says when the two sides were not measured alike
(other items, prompts, sampling or provider), and renders the result for the terminal and as
markdown.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from rich.console import Console

from harness import stats
from harness.errors import UserError
from harness.formats import DASH, p_value, pct, pts_interval, signed_pts, task_name
from harness.report.markdown import table_markdown
from harness.report.tables import Table
from harness.report.terminal import rich_table
from harness.runs import SIMULATED, SIMULATED_NOTE, Run, load_run

ROW_COLUMNS = [
    "task", "a", "b", "n_items", "k_a", "k_b", "accuracy_a", "accuracy_b", "delta", "ci_low", "ci_high",
    "p_value", "p_method", "significant", "verdict", "n_gained", "n_lost", "n_only_a", "n_only_b",
]
FLIP_COLUMNS = ["task", "a", "b", "item_id", "accuracy_a", "accuracy_b", "change"]


@dataclass(frozen=True)
class Side:
    run: Run
    variant: str

    @property
    def scores(self) -> pd.DataFrame:
        return self.run.scores[self.run.scores["model"] == self.variant]


@dataclass(frozen=True, eq=False)
class Comparison:
    """`rows`: one per (task, pair of sides), figures as fractions, delta = b - a. `flips`: the
    items whose majority verdict changed between a and b. `notes`: what differs between the
    sides besides the model, which a reader must weigh before believing a delta."""

    a: str
    b: str
    rows: pd.DataFrame
    flips: pd.DataFrame
    notes: tuple[str, ...]
    simulated: bool


def compare(run_a: Path, run_b: Path | None = None, model_a: str | None = None, model_b: str | None = None) -> Comparison:
    """Compare run_b against run_a (every variant both ran, or model_a vs model_b), or, without
    run_b, model_b against model_a within run_a (the only two variants when there are two)."""
    first = load_run(Path(run_a))
    second = load_run(Path(run_b)) if run_b is not None else None
    if second is not None and second.path.resolve() == first.path.resolve():
        second = None
    pairs = _pairs(first, second, model_a, model_b)
    rows, flips, notes = [], [], []
    for side_a, side_b in pairs:
        a, b = side_a.variant, side_b.variant
        tasks_a, tasks_b = set(side_a.scores["task"]), set(side_b.scores["task"])
        for task in [t for t in dict.fromkeys(side_a.scores["task"]) if t in tasks_b]:
            frame_a = side_a.scores[side_a.scores["task"] == task]
            frame_b = side_b.scores[side_b.scores["task"] == task]
            try:
                result = stats.compare(frame_a, frame_b)
            except ValueError as error:
                notes.append(f"{task_name(task)}, {b} vs {a}: not compared ({error}).")
                continue
            rows.append(_row(task, a, b, result))
            flips.append(result.flips.assign(task=task, a=a, b=b))
        if tasks_a ^ tasks_b:
            notes.append(f"Only one side ran {', '.join(sorted(map(task_name, tasks_a ^ tasks_b)))} ({a} vs {b}): not compared.")
    if second is not None:
        notes += _differences(first, second)
    rows_frame = pd.DataFrame(rows, columns=ROW_COLUMNS)
    notes += _unpaired(rows_frame)
    flips_frame = pd.concat(flips, ignore_index=True)[FLIP_COLUMNS] if flips else pd.DataFrame(columns=FLIP_COLUMNS)
    simulated = first.simulated or (second is not None and second.simulated)
    name_a = f"run {first.name}" if second is not None else f"{pairs[0][0].variant} (run {first.name})"
    name_b = f"run {second.name}" if second is not None else pairs[0][1].variant
    return Comparison(name_a, name_b, rows_frame, flips_frame, tuple(notes), simulated)


def comparison_tables(comparison: Comparison) -> list[Table]:
    """The deltas, then one table of flipped items per task and pair."""
    c, r = comparison, comparison.rows
    frame = pd.DataFrame({"task": [task_name(t) for t in r["task"]]})
    if (r["a"] == r["b"]).all():
        frame["variant"] = r["a"]
    else:
        frame["A"], frame["B"] = r["a"], r["b"]
    frame = frame.assign(**{
        "items": r["n_items"].astype(str),
        "k A/B": [f"{ka}/{kb}" for ka, kb in zip(r["k_a"], r["k_b"])],
        "A %": [pct(v) for v in r["accuracy_a"]],
        "B %": [pct(v) for v in r["accuracy_b"]],
        "B − A, pts": [signed_pts(v) for v in r["delta"]],
        "95% CI, pts": [pts_interval(lo, hi) for lo, hi in zip(r["ci_low"], r["ci_high"])],
        "p": [p_value(v) for v in r["p_value"]],
        "verdict": r["verdict"],
        "flipped": [f"+{gained} −{lost}" for gained, lost in zip(r["n_gained"], r["n_lost"])],
    })
    notes = [f"{SIMULATED}: {SIMULATED_NOTE}."] if c.simulated else []
    notes += [
        "Paired over the items both sides graded; the interval is over items, and a difference is called "
        "significant only when its interval excludes zero. p: " + ", ".join(sorted(set(r["p_method"])))
        + ". Flipped: items whose majority verdict (more than half the samples right) B gained (+) or lost (−).",
        *c.notes,
    ]
    tables = [Table("comparison", "Comparison", _title(c, f"Paired comparison, B = {c.b} vs A = {c.a}"), frame, tuple(notes))]
    for (task, a, b), items in c.flips.groupby(["task", "a", "b"], sort=False):
        flipped = pd.DataFrame({
            "item": items["item_id"].astype(str),
            "A % right": [pct(v, 0) for v in items["accuracy_a"]],
            "B % right": [pct(v, 0) for v in items["accuracy_b"]],
            "change": items["change"],
        })
        pair = a if a == b else f"{b} vs {a}"
        tables.append(Table(f"flips_{task}", "Comparison", _title(c, f"{task_name(task)}, {pair}: items that flipped"), flipped))
    return tables


def comparison_markdown(comparison: Comparison) -> str:
    tables = comparison_tables(comparison)
    lines = [f"# glm-eval compare: {comparison.b} vs {comparison.a}", ""]
    if comparison.simulated:
        lines += [f"> **{SIMULATED}: {SIMULATED_NOTE}.**", ""]
    lines += [table_markdown(tables[0], "##")]
    if len(tables) > 1:
        lines += ["## Items that flipped", ""] + [table_markdown(t) for t in tables[1:]]
    return "\n".join(lines).rstrip() + "\n"


def print_comparison(comparison: Comparison, console: Console, max_flips: int = 8) -> None:
    """The deltas, then the flipped items in one compact table (up to `max_flips` ids per cell;
    the markdown lists them all)."""
    c = comparison
    console.print(rich_table(comparison_tables(c)[0]))
    if c.flips.empty:
        return
    rows = []
    for (task, a, b), items in c.flips.groupby(["task", "a", "b"], sort=False):
        rows.append({
            "task": task_name(task), "variant": a if a == b else f"{b} vs {a}",
            "gained by B": _ids(items.loc[items["change"] == "gained", "item_id"], max_flips),
            "lost by B": _ids(items.loc[items["change"] == "lost", "item_id"], max_flips),
        })
    console.print(rich_table(Table("flips", "Comparison", _title(c, "Items that flipped"), pd.DataFrame(rows))))


def _title(comparison: Comparison, text: str) -> str:
    return f"{text} ({SIMULATED})" if comparison.simulated else text


def _ids(ids: pd.Series, limit: int) -> str:
    shown = ", ".join(map(str, ids.head(limit)))
    return shown + (f" (+{len(ids) - limit} more)" if len(ids) > limit else "") if len(ids) else DASH


def _pairs(first: Run, second: Run | None, model_a: str | None, model_b: str | None) -> list[tuple[Side, Side]]:
    variants_a = list(dict.fromkeys(first.scores["model"]))
    if second is None:
        if model_a is None and model_b is None and len(variants_a) == 2:
            model_a, model_b = variants_a
        if model_a is None or model_b is None:
            raise UserError(f"{first.path} holds {', '.join(variants_a)}: name the two to compare (model A and model B)")
        for model in (model_a, model_b):
            _require(first, model, variants_a)
        return [(Side(first, model_a), Side(first, model_b))]
    variants_b = list(dict.fromkeys(second.scores["model"]))
    if model_a is None and model_b is None:
        common = [v for v in variants_a if v in variants_b]
        if not common:
            raise UserError(f"no variant is in both runs ({first.name}: {', '.join(variants_a)}; "
                            f"{second.name}: {', '.join(variants_b)}): name model A and model B")
        return [(Side(first, v), Side(second, v)) for v in common]
    model_a, model_b = model_a or model_b, model_b or model_a
    assert model_a is not None and model_b is not None  # one was named: both None returned above
    _require(first, model_a, variants_a)
    _require(second, model_b, variants_b)
    return [(Side(first, model_a), Side(second, model_b))]


def _require(run: Run, model: str, variants: list[str]) -> None:
    if model not in variants:
        raise UserError(f"{run.path} has no variant {model!r}; it holds {', '.join(variants)}")


def _row(task: str, a: str, b: str, result: stats.PairedComparison) -> dict:
    if result.significant:
        verdict = "B higher" if result.delta > 0 else "B lower"
    else:
        verdict = "no significant difference"
    changes = result.flips["change"]
    return {
        "task": task, "a": a, "b": b, "n_items": result.n_items, "k_a": result.k_a, "k_b": result.k_b,
        "accuracy_a": result.accuracy_a, "accuracy_b": result.accuracy_b, "delta": result.delta,
        "ci_low": result.ci_low, "ci_high": result.ci_high, "p_value": result.p_value, "p_method": result.p_method,
        "significant": result.significant, "verdict": verdict,
        "n_gained": int((changes == "gained").sum()), "n_lost": int((changes == "lost").sum()),
        "n_only_a": result.n_only_a, "n_only_b": result.n_only_b,
    }


def _differences(first: Run, second: Run) -> list[str]:
    """What else changed between two runs: each is a reason a delta may not be the model's."""
    ma, mb = first.manifest, second.manifest
    notes = []
    provider_a, provider_b = ma.provider.name, mb.provider.name
    if provider_a != provider_b:
        notes.append(f"Providers differ: A via {provider_a}, B via {provider_b}.")
    if first.simulated != second.simulated:
        notes.append(f"Only {'A' if first.simulated else 'B'} is {SIMULATED}: this compares a test double with a measurement.")
    if ma.sampling != mb.sampling:
        notes.append(f"Sampling differs: A {ma.sampling}, B {mb.sampling}.")
    for task in sorted(set(ma.tasks) & set(mb.tasks)):
        ta, tb = ma.tasks[task], mb.tasks[task]
        if ta.prompt_sha256 != tb.prompt_sha256:
            notes.append(f"{task_name(task)}: the prompts differ, so the delta includes the prompt change.")
        if ta.fingerprint != tb.fingerprint:
            notes.append(f"{task_name(task)}: the data differ (fingerprint); only items with the same id are paired.")
    return notes


def _unpaired(rows: pd.DataFrame) -> list[str]:
    return [
        f"{task_name(r.task)}, {r.b} vs {r.a}: {r.n_only_a} items only in A and {r.n_only_b} only in B are left out."
        for r in rows.itertuples() if r.n_only_a or r.n_only_b
    ]


