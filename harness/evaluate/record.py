"""The last phase: the run folder. samples.jsonl (one row per model x task x item x sample, in
plan order) and manifest.json, as harness.records defines them, and what the run lacks, said."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness import phases, results, zaikit
from harness.budget import Budget
from harness.client import TRUNCATED
from harness.cost import load_prices, run_preset
from harness.evaluate.grade import GRADE_BATCH
from harness.evaluate.prepare import store_path
from harness.graders import Verdict
from harness.judge import SAMPLING, Judge
from harness.kitgrading import CHECKER_SAMPLING
from harness.plan import Job, Plan
from harness.records import Manifest, PricingRecord, SampleRow, write_manifest, write_samples
from harness.regrade import check_of
from harness.runner import Outcome
from harness.runspec import RunSpec
from harness.simmark import SIMULATOR_HEADER
from harness.stats.items import GRADED
from harness.store import FAILED, FILTERED, OK, Store, StoredResponse


@dataclass(frozen=True)
class Verdicts:
    """What grading decided, per sample key: the verdict, and what a judge or the kit's checker said."""

    verdicts: dict[str, Verdict]
    judged: dict[str, dict[str, Any]]
    kit: dict[str, zaikit.KitVerdict]


@dataclass(frozen=True)
class Ending:
    """How the run went, beyond its samples: for the manifest."""

    argv: list[str]
    started: datetime
    wall_s: float
    outcome: Outcome
    simulated_server: bool
    probed: dict[str, Any] | None
    budget: Budget | None
    judge: Judge | None


def write_run(spec: RunSpec, plan: Plan, store: Store, run_dir: Path, graded: Verdicts, ending: Ending) -> dict[str, Any]:
    """samples.jsonl, then manifest.json; returns the totals."""
    totals = _write_samples(plan, store, run_dir, ending.outcome, graded)
    manifest = _manifest(spec, plan, ending, totals, run_dir)
    if ending.simulated_server and not plan.provider.simulated:
        manifest.simulated = True
        manifest.simulated_because = f"the server says it is glm-eval's simulator ({SIMULATOR_HEADER})"
    manifest.pricing = PricingRecord(preset=run_preset(load_prices(), manifest))
    if ending.probed is not None:
        manifest.probe = ending.probed
    if ending.budget is not None:
        manifest.budget = ending.budget.summary()
    if ending.judge is not None:
        manifest.judge = {"model": ending.judge.label, "model_id": ending.judge.model_id, "fallback": spec.judge_fallback,
                          "sampling": json.loads(SAMPLING.model_dump_json())}
        if graded.kit:
            manifest.judge["kit_sampling"] = json.loads(CHECKER_SAMPLING.model_dump_json())
    write_manifest(run_dir, manifest)
    return totals


def problems(outcome: Outcome, totals: dict[str, Any], budget: Budget | None) -> Iterator[str]:
    """What the run lacks and why, in the order a user should read it."""
    if budget is not None and budget.stopped:
        yield (f"budget reached: stopped sending at {budget.spent:.4f} {budget.currency} spent of --max-cost {budget.limit} "
               f"(priced as {budget.priced_as}); {totals['failed']} samples not answered; rerun with a higher --max-cost to go on")
    stopped: dict[str, list[str]] = {}
    for model, why in outcome.fatal.items():
        stopped.setdefault(why, []).append(model)
    for why, names in stopped.items():  # a refused key stops every model: say it once
        yield f"error: {', '.join(names)} stopped: {why}"
    if outcome.stopped_by and not (budget is not None and budget.stopped):
        yield f"error: stopped sending: {outcome.stopped_by}"
    if totals["failed"]:
        yield (f"{totals['failed']} of {totals['samples']} samples have no answer (see 'error' in samples.jsonl); "
               f"the run is incomplete: run the same command again to retry them")
    if totals["filtered"]:
        yield (f"{totals['filtered']} of {totals['samples']} samples were refused by the provider's content filter "
               f"(status 'filtered' in samples.jsonl); they are left out of accuracy, kept in the store and not sent again "
               f"(--resend-filtered tries them once more)")
    for name in ("prompt_tokens", "completion_tokens"):
        if totals[name] is None:
            yield f"note: the server sent no usage with some answers: the run's {name.replace('_', ' ')} are unknown"
            break


@phases.timed("write_samples")
def _write_samples(plan: Plan, store: Store, run_dir: Path, outcome: Outcome, graded: Verdicts) -> dict[str, Any]:
    """samples.jsonl in plan order, a batch at a time (bounded memory), written whole or not at all."""
    totals: dict[str, Any] = {
        "samples": 0, "ok": 0, "truncated": 0, "filtered": 0, "failed": 0, "correct": 0,
        "prompt_tokens": 0, "completion_tokens": 0, "reasoning_tokens": 0, "cached_tokens": 0, "judge_changed": 0,
    }
    unknown: set[str] = set()  # token counts some answer lacks: the sum is not the run's

    def rows() -> Iterator[SampleRow]:
        for start in range(0, len(plan.jobs), GRADE_BATCH):
            batch = plan.jobs[start : start + GRADE_BATCH]
            stored = {r.key: r for r in store.get_many([job.key for job in batch])}
            for job in batch:
                sample = _sample_row(plan, job, stored.get(job.key), outcome, graded)
                for name in ("prompt_tokens", "completion_tokens"):
                    if getattr(sample, name) is None and sample.status in GRADED:
                        unknown.add(name)
                    totals[name] += getattr(sample, name) or 0
                totals["reasoning_tokens"] += sample.reasoning_tokens or 0
                totals["cached_tokens"] += sample.cached_tokens or 0
                totals["samples"] += 1
                totals[sample.status] += 1
                totals["correct"] += sample.correct
                totals["judge_changed"] += bool(sample.judge and sample.judge["changed"])
                yield sample

    write_samples(run_dir, rows())
    for name in unknown:  # usage was absent from some answers (a server that sends none): unknown, never 0
        totals[name] = None
    return totals


def _sample_row(plan: Plan, job: Job, row: StoredResponse | None, outcome: Outcome, graded: Verdicts) -> SampleRow:
    item = plan.item(job)
    prompt = plan.prompt(job)
    error: str | None
    if row is not None and row.status == FILTERED:
        status = "filtered"
        error = row.error or f"the provider's content filter ended the answer (finish_reason {row.finish_reason!r})"
    elif row is None or row.status != OK:
        status = "failed"
        error = row.error if row is not None else f"not sent: {outcome.fatal.get(job.model) or outcome.stopped_by or 'the run stopped before it'}"
    else:
        status = "truncated" if row.finish_reason in TRUNCATED else "ok"
        error = None
    fields: dict[str, Any] = {
        "model": job.model,
        "model_id": job.model_id,
        "provider": plan.provider.name,
        "task": job.task,
        "item_id": item.id,
        "sample": job.sample,
        "key": job.key,
        "status": status,
        **check_of(graded.verdicts.get(job.key)).model_dump(),
        "gold": prompt.gold,
        "finish_reason": row.finish_reason if row is not None else None,
        "response": row.content if row is not None else None,
        "reasoning_chars": len(row.reasoning or "") if row is not None else 0,
        "prompt_tokens": row.prompt_tokens if row is not None else None,
        "completion_tokens": row.completion_tokens if row is not None else None,
        "reasoning_tokens": row.reasoning_tokens if row is not None else None,
        "latency_s": row.latency_s if row is not None else None,
        "ttft_s": row.ttft_s if row is not None else None,
        "attempts": row.attempts if row is not None else 0,
        "served_model": row.served_model if row is not None else None,
        "served_by": row.served_by if row is not None else None,
        "cached_tokens": row.cached_tokens if row is not None else None,
        "cache_write_tokens": row.cache_write_tokens if row is not None else None,
        "reported_cost": row.reported_cost if row is not None else None,
        "via": (row.via or "interactive") if row is not None and row.status != FAILED else None,
        "error": error,
        "choice_order": list(prompt.choice_order) if prompt.choice_order else None,
        "judge": graded.judged.get(job.key),
    }
    kit = graded.kit.get(job.key)
    if kit is not None:
        fields["zai_kit"] = kit.steps
        fields["checker_reply"] = None if kit.checker_reply is None else kit.checker_reply.strip()[:200]
    return SampleRow(**{name: value for name, value in item.extra.items() if name not in fields}, **fields)


def _manifest(spec: RunSpec, plan: Plan, ending: Ending, totals: dict[str, Any], run_dir: Path) -> Manifest:
    provider, outcome = plan.provider, ending.outcome
    return Manifest.model_validate({
        "run_id": run_dir.name,
        "simulated": provider.simulated,
        "command": ["glm-eval", *ending.argv],
        "spec": json.loads(spec.model_dump_json()),
        "provider": {
            "name": provider.name,
            "preset": provider.preset,
            "host": provider.host,
            "route": provider.route,
            "base_url": "started for this run on 127.0.0.1" if provider.simulated and spec.base_url is None else provider.config.base_url,
            "api_key_env": provider.config.api_key_env,
            "thinking": provider.config.thinking,
        },
        "models": plan.model_ids,
        "samples_per_item": plan.samples,
        "sampling": json.loads(plan.sampling.model_dump_json()),
        "seed": plan.seed,
        "tasks": {task_id: task.provenance for task_id, task in plan.tasks.items()},
        "versions": results.package_versions(),
        "git_commit": results.git_commit(),
        "store": str(store_path(spec)),
        "started": ending.started.isoformat(),
        "ended": datetime.now(UTC).isoformat(),
        "wall_s": round(ending.wall_s, 3),
        "totals": {
            "requests_planned": len(plan.jobs),
            "requests_sent": outcome.sent,
            "requests_failed": outcome.failed,
            "requests_filtered": outcome.filtered,
            **totals,
        },
        # per model, this run's attempts (retries included) and the failed ones by kind: a provider's
        # rate-limit and server-error rates (none when every answer came from the store)
        "attempts": {model: {"sent": outcome.attempts[model], **outcome.errors.get(model, {})} for model in plan.model_ids if outcome.attempts[model]},
        "server": plan.server,
        "notes": plan.notes,
        "stopped_models": outcome.fatal,
        "stopped_by": outcome.stopped_by,
        "skipped_tasks": plan.skipped,
        "host": {"platform": sys.platform, "cpus": os.cpu_count()},
    })
