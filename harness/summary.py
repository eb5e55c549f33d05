"""What `--dry-run` shows: the plan, what the store already holds, and what it would cost.
(After a run, the summary comes from harness.report, so it matches the written report.)"""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.table import Table

from harness.cost import STALE_AFTER_DAYS, PriceBook, PriceError, estimate_run_cost
from harness.plan import Plan
from harness.store import Store

SIMULATED = "SIMULATED"
CHARS_PER_TOKEN = 4  # a planning average for English and LaTeX prompts


def print_plan(plan: Plan, store_path: Path, console: Console, book: PriceBook, preset: str | None, batch: bool = False) -> None:
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
        if batch:
            factor = book.batch_factor(preset)
            if factor is None:
                console.print(f"--batch: preset {preset} gives no batch price, so the batch answers' cost will be unknown")
            else:
                console.print(f"--batch: at the preset's batch price ({factor:g}x every rate): {total * factor:.2f} {currency}, "
                              f"{total * (1 - factor):.2f} {currency} less")
        stale = book.stale_rows((preset, model) for model in plan.model_ids)
        if stale:
            console.print(f"prices read more than {STALE_AFTER_DAYS} days ago, which may no longer be the bill: {'; '.join(stale)}")


def _estimate(book: PriceBook, preset: str | None, model: str, prompt_tokens: int, output_tokens: int) -> float:
    if preset is None:
        return 0.0
    try:
        price = book.price_for(preset, model)
    except PriceError:
        return float("nan")
    return estimate_run_cost(1, prompt_tokens, output_tokens, price)
