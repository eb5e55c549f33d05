"""What the terminal shows: the plan before a run, and the scores table after it.

Built only from the run's manifest and scores frame (as every report is), so the table printed at
the end of a run and the one a later `report` writes cannot disagree.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from rich.console import Console
from rich.table import Table

from harness import results, stats
from harness.cost import PriceBook, PriceError, cost_summary, estimate_run_cost, load_prices
from harness.plan import Plan
from harness.store import Store

SIMULATED = "SIMULATED"
CHARS_PER_TOKEN = 4  # a planning average for English and LaTeX prompts


def print_plan(plan: Plan, store_path: Path, console: Console, book: PriceBook, preset: str | None) -> None:
    """The dry run: what would be sent, what the store already holds, and a token and cost
    estimate from the prompts' lengths and each task's typical answer length."""
    stored: set[str] = set()
    if store_path.exists():
        with Store(store_path) as store:
            stored = store.usable_keys(job.key for job in plan.jobs)
    table = Table(title=f"Plan ({plan.provider.name}{', ' + SIMULATED if plan.provider.simulated else ''}): nothing sent")
    numeric = ("items", "samples", "requests", "stored", "to send", "est. prompt tok", "est. output tok", "est. cost")
    for column in ("model", "model id", "task", *numeric):
        table.add_column(column, justify="right" if column in numeric else "left")
    counts: dict[tuple[str, str], list[int]] = {}
    for job in plan.jobs:
        entry = counts.setdefault((job.model, job.task), [0, 0, 0])
        entry[0] += 1
        entry[1] += job.key in stored
        if job.key not in stored:
            entry[2] += sum(len(m["content"]) for m in plan.prompt(job).messages) // CHARS_PER_TOKEN
    total = 0.0
    unknown: set[str] = set()
    currency = book.presets[preset].currency if preset else ""
    for (model, task), (requests, have, prompt_tokens) in counts.items():
        output_tokens = (requests - have) * plan.tasks[task].spec.typical_output_tokens
        cost = _estimate(book, preset, model, prompt_tokens, output_tokens)
        if cost != cost:
            unknown.add(model)
        else:
            total += cost
        table.add_row(
            model, plan.model_ids[model], task, str(len(plan.tasks[task].items)), str(plan.samples[task]), str(requests), str(have),
            str(requests - have), f"{prompt_tokens:,}", f"{output_tokens:,}",
            "unpriced" if preset is None else ("unknown" if cost != cost else f"{cost:.2f} {currency}"),
        )
    console.print(table)
    console.print(f"sampling: {plan.sampling.model_dump()}  seed: {plan.seed}")
    if preset is None:
        console.print(f"cost: provider {plan.provider.name} has no prices in configs/prices.yaml; --price-as PRESET prices the plan")
    else:
        console.print(
            f"estimated cost: {total:.2f} {currency}, priced as {preset} (configs/prices.yaml; prices change: keep them current). "
            f"Output tokens are each task's typical_output_tokens, a planning guess; --max-cost caps the real spend."
        )
        if unknown:
            console.print(f"not counted: {', '.join(sorted(unknown))} (no price in preset {preset}; fill it in configs/prices.yaml)")


def _estimate(book: PriceBook, preset: str | None, model: str, prompt_tokens: int, output_tokens: int) -> float:
    if preset is None:
        return 0.0
    try:
        price = book.price_for(preset, model)
    except PriceError:
        return float("nan")
    return estimate_run_cost(1, prompt_tokens, output_tokens, price)


def accuracy_table(scores: pd.DataFrame) -> pd.DataFrame:
    """Rows are variants, columns tasks, cells "accuracy ± CI half-width (items x k)" in points."""
    summary = stats.summarize(scores)
    cells = summary.assign(
        cell=[
            f"{100 * r.accuracy:.1f} ± {100 * (r.ci_high - r.ci_low) / 2:.1f} ({r.n_items}x{r.k})"
            for r in summary.itertuples()
        ]
    )
    return cells.pivot(index="model", columns="task", values="cell").reindex(scores["model"].unique())


def print_run(run_dir: Path, console: Console) -> None:
    manifest = results.read_manifest(run_dir)
    scores = results.read_samples(run_dir)
    simulated = manifest.get("simulated", False)
    mark = f" [{SIMULATED} endpoint: not a measurement of the real models]" if simulated else ""
    table = Table(title=f"Accuracy %, ± 95% CI half-width (items x samples){mark}")
    acc = accuracy_table(scores)
    table.add_column("model")
    for task in acc.columns:
        table.add_column(str(task), justify="right")
    usage = stats.usage_summary(scores).groupby("model")[["completion_tokens_mean", "latency_s_p50"]].mean()
    table.add_column("output tok/sample", justify="right")
    table.add_column("latency p50 s", justify="right")
    preset = manifest.get("pricing", {}).get("preset")
    costs = cost_summary(scores, load_prices(), preset).groupby("model")["cost"].sum(min_count=1) if preset else None
    if costs is not None:
        table.add_column(f"cost (priced as {preset})", justify="right")
    for model, row in acc.iterrows():
        u = usage.loc[model] if model in usage.index else None
        cells = [
            str(model),
            *(str(v) if isinstance(v, str) else "-" for v in row),
            f"{u.completion_tokens_mean:.0f}" if u is not None else "-",
            f"{u.latency_s_p50:.2f}" if u is not None else "-",
        ]
        if costs is not None:
            cost = costs.get(model, float("nan"))
            cells.append("unknown" if cost != cost else f"{cost:.2f}")
        table.add_row(*cells)
    console.print(table)
    totals = manifest["totals"]
    console.print(
        f"{totals['samples']} samples: {totals['ok']} ok, {totals['truncated']} truncated, {totals['failed']} failed; "
        f"{totals['requests_sent']} requests sent this time in {manifest['wall_s']:.1f}s"
    )
    console.print(f"results: {run_dir}/samples.jsonl, {run_dir}/manifest.json")
