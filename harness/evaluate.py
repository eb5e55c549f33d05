"""One evaluation, end to end: plan -> runner -> store -> grader -> samples and manifest.

Every check that can refuse a run (provider, models, key, tasks, results folder) happens before
the first request; every answer is committed to the store before it is graded; grading reads only
the store, so a run killed at any point resumes by sending just what is missing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from dataclasses import dataclass, replace
from functools import partial
from datetime import datetime, timezone
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from rich.console import Console

from harness import phases, results, zaikit
from harness.budget import Budget
from harness.client import TRUNCATED, ChatClient
from harness.cost import PriceBook, load_prices
from harness.errors import ProviderError, UserError
from harness.graders import GradeCase, GradingPool, Verdict
from harness.judge import SAMPLING, Judge, JudgeJob, equivalence_job, letter_job, resolve_judge
from harness.kitgrading import CHECKER_SAMPLING, grade_kit, kit_jobs
from harness.judge import apply as judge_apply
from harness.paths import RESULTS
from harness.plan import Job, Plan, build_plan
from harness.preflight import check_ids, fit_max_tokens, read_models, says_simulated
from harness.probe import as_manifest, print_probe, probe
from harness.batch import BatchAPI, BatchRunner
from harness.progress import ProgressView
from harness.regrade import verdict_fields
from harness.config import load_models, load_providers
from harness.providers import Provider, resolve_provider
from harness.pace import Pace
from harness.runner import Outcome, RetryPolicy, Runner
from harness.runspec import RunSpec
from harness.simproc import DEFAULT_SIM_KEY, answer_key, simulator
from harness.simmark import SIMULATOR_HEADER
from harness.stats.items import GRADED
from harness.store import FAILED, FILTERED, OK, Store, StoredResponse, StoreLock, StoreWriter
from harness.tasks import Task, data_dir_from_env, load_task

GRADE_BATCH = 2000


@dataclass
class RunResult:
    run_dir: Path
    outcome: Outcome
    exit_code: int


def prepare(
    spec: RunSpec, allow_builtin_sample: bool = False, check_server: bool = False, need_key: bool = True
) -> tuple[Plan, str | None]:
    """Everything that can refuse a run, done before anything is sent. Returns the plan and the key.
    `check_server` reads the server's /models first where the provider asks for it (local and
    generic servers): the ids it serves, and max_tokens fitted to the context it publishes.
    `need_key` is False for a plan that sends nothing (--dry-run)."""
    provider = resolve_provider(spec.provider, spec.base_url, spec.api_key_env, spec.route)
    check_batch(spec, provider)
    configs = load_models()
    for variant in spec.models:
        provider.model_id(variant, configs)  # an unknown model fails here, before any data is read
    api_key = provider.api_key() if need_key and not spec.cache_only else None  # a replay or a dry run sends nothing
    data_dir = data_dir_from_env(spec.data_dir)
    tasks: dict[str, Task] = {}
    skipped: dict[str, str] = {}
    for name in spec.task_names:
        try:
            task = load_task(name, data_dir, spec.limit, spec.items, allow_builtin_sample)
        except UserError as exc:
            if not allow_builtin_sample:
                raise
            skipped[name] = str(exc)  # the offline demo goes on with what it can load
            continue
        tasks[task.id] = task
    if not tasks:
        raise UserError(f"no task could be loaded: {'; '.join(skipped.values())}")
    samples = {task_id: spec.samples_for(task_id, task.spec.samples) for task_id, task in tasks.items()}
    plan = build_plan(provider, spec.models, configs, tasks, samples, spec.sampling, spec.seed)
    if check_server and provider.config.preflight and not spec.cache_only:
        server = read_models(provider.config.base_url, api_key, provider.config.api_key_env)
        check_ids(server, plan.model_ids)
        max_tokens, note = fit_max_tokens(server, list(plan.model_ids.values()), spec.sampling.max_tokens, plan.longest_prompt_bytes())
        if note is not None:
            plan = build_plan(provider, spec.models, configs, tasks, samples, spec.sampling.model_copy(update={"max_tokens": max_tokens}), spec.seed)
            plan.notes.append(note)
        plan.server = server.summary()
    plan.skipped = skipped
    return plan, api_key


def pricing(spec: RunSpec, provider: Provider) -> tuple[PriceBook, str | None]:
    """The price list and the preset that prices this run (`--price-as`, else the provider's own)."""
    book = load_prices()
    preset = spec.price_as or book.preset_for(provider.preset)
    if preset is not None and preset not in book.presets:
        raise UserError(f"--price-as {preset}: no such preset in configs/prices.yaml; presets: {', '.join(book.presets)}")
    return book, preset


def make_budget(spec: RunSpec, plan: Plan) -> Budget | None:
    if spec.max_cost is None:
        return None
    book, preset = pricing(spec, plan.provider)
    if preset is None:
        raise UserError(
            f"--max-cost needs prices for provider {plan.provider.name}, and configs/prices.yaml has none; "
            f"add a preset there or price the run with --price-as PRESET ({', '.join(book.presets)})"
        )
    prices = {model: book.price_for(preset, model) for model in plan.model_ids}
    # a batch is billed at the preset's batch factor; with none known, at the full price (never understated)
    factor = (book.batch_factor(preset) or 1.0) if spec.batch else 1.0
    return Budget(spec.max_cost, prices, spec.max_tokens, book.presets[preset].currency, preset, factor=factor)


def check_batch(spec: RunSpec, provider: Provider) -> None:
    """--batch needs a provider with a batch API glm-eval knows how to use: say which do, before anything is sent."""
    if spec.batch and provider.config.batch_endpoint is None:
        having = [name for name, config in load_providers().items() if config.batch_endpoint]
        raise UserError(
            f"--batch: provider {provider.name} has no batch API glm-eval can use (configs/providers.yaml, batch_endpoint); "
            f"these have one: {', '.join(having)}, and any OpenAI-compatible server given with --base-url alone"
        )


def run_dir_for(spec: RunSpec) -> Path:
    if spec.out is not None:
        return spec.out
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return RESULTS / f"{stamp}-{spec.provider or 'server'}"


def store_path(spec: RunSpec) -> Path:
    return spec.store or RESULTS / "store.sqlite"


def execute(spec: RunSpec, argv: list[str], console: Console, allow_builtin_sample: bool = False) -> RunResult:
    plan, api_key = prepare(spec, allow_builtin_sample, check_server=True)
    for note in plan.notes:
        console.print(f"[yellow]note[/yellow]: {note}")
    for task_id, task in plan.tasks.items():
        if task.provenance.get("note"):
            console.print(f"[yellow]note[/yellow]: {task_id}: {task.provenance['note']}")
    for name, why in plan.skipped.items():
        console.print(f"[yellow]note[/yellow]: {name} left out: {why}")
    budget = make_budget(spec, plan)
    judge = _judge_for(spec, plan)
    run_dir = run_dir_for(spec)
    _writable(run_dir)
    started = datetime.now(timezone.utc)
    with StoreLock(store_path(spec), ["glm-eval", *argv]), Store(store_path(spec)) as store, contextlib.ExitStack() as endpoints:
        stored = store.usable_keys((job.key for job in plan.jobs), spec.resend_filtered)
        missing = [job for job in plan.jobs if job.key not in stored]
        console.print(
            f"{len(plan.jobs)} requests planned; {len(stored)} already stored, {len(missing)} to send "
            f"({plan.provider.name}{', SIMULATED' if plan.provider.simulated else ''}) -> {run_dir}"
        )
        if spec.cache_only and missing:
            _missing_error(plan, missing, store.path)
        opened: dict[str, tuple[str, str | None]] = {}
        # Whether any server this run used says it is the simulator (a judge on it too): the preflight
        # has read the run provider's /models already when there was one; the others are asked here.
        simulated_server = bool((plan.server or {}).get("simulated"))

        def endpoint(provider: Provider, key: str | None) -> tuple[str, str | None]:
            """Each provider's address, a simulator started at most once for the run."""
            nonlocal simulated_server
            if provider.identity not in opened:
                opened[provider.identity] = address = endpoints.enter_context(_endpoint(provider, plan, spec, key, run_dir))
                read_already = provider is plan.provider and plan.server is not None
                if provider.simulated or (not read_already and says_simulated(*address)):
                    simulated_server = True
            return opened[provider.identity]

        probed: dict[str, Any] | None = None
        if spec.probe and not spec.cache_only:
            address = endpoint(plan.provider, api_key)
            found = probe(plan.provider, address[0], address[1], plan.model_ids)
            print_probe(found, plan.provider.name + (" (SIMULATED)" if plan.provider.simulated else ""), console)
            probed = as_manifest(found)
        wall_start = time.monotonic()
        outcome = Outcome()
        pool = endpoints.enter_context(GradingPool())
        grading = _Grading(plan, pool)
        if missing:
            work: dict[str, list[Job]] = {model: [] for model in plan.model_ids}
            for job in missing:
                work[job.model].append(job)
            del missing
            outcome = _send(plan.provider, endpoint(plan.provider, api_key), work, plan.body, store, spec, console, budget, on_stored=grading.submit)
        wall_s = time.monotonic() - wall_start
        verdicts = grading.finish(store)
        if pool.broken is not None:
            raise ProviderError(
                f"grading failed: {pool.broken}. The answers are all in the store {store.path}. A script that runs glm-eval "
                f"must start it under `if __name__ == \"__main__\":` (the grading workers are new processes that import it); "
                f"then run the same command again, which grades the stored answers and sends nothing"
            )
        judged: dict[str, dict[str, Any]] = {}
        kit: dict[str, zaikit.KitVerdict] = {}
        if judge is not None:
            address = endpoint(judge.provider, judge.api_key)
            judged = _judge(plan, judge, verdicts, store, address, spec, console)
            if kit_jobs(plan):
                kit = _grade_kit(plan, judge, verdicts, store, address, spec, console, pool)
        try:
            totals = _write_samples(plan, store, run_dir, outcome, verdicts, judged, kit)
            manifest = _manifest(spec, plan, argv, started, wall_s, outcome, totals, run_dir)
            manifest["pricing"] = {"preset": pricing(spec, plan.provider)[1]}
            if simulated_server and not plan.provider.simulated:
                manifest["simulated"] = True
                manifest["simulated_because"] = f"the server says it is glm-eval's simulator ({SIMULATOR_HEADER})"
            if probed is not None:
                manifest["probe"] = probed
            if budget is not None:
                manifest["budget"] = budget.summary()
            if judge is not None:
                manifest["judge"] = {"model": judge.label, "model_id": judge.model_id, "fallback": spec.judge_fallback, "sampling": json.loads(SAMPLING.model_dump_json())}
                if kit:
                    manifest["judge"]["kit_sampling"] = json.loads(CHECKER_SAMPLING.model_dump_json())
            results.write_manifest(run_dir, manifest)
        except OSError as exc:
            stopped_by = f" (sending stopped: {outcome.stopped_by})" if outcome.stopped_by else ""
            raise UserError(
                f"cannot write the run's results to {run_dir} ({exc.strerror or exc}){stopped_by}; free some space: every answer "
                f"received so far is in the store {store.path}, and running the same command again resumes"
            ) from None
    if budget is not None and budget.stopped:
        print(
            f"glm-eval: budget reached: stopped sending at {budget.spent:.4f} {budget.currency} spent of --max-cost {budget.limit} "
            f"(priced as {budget.priced_as}); {totals['failed']} samples not answered; rerun with a higher --max-cost to go on",
            file=sys.stderr,
        )
    stopped: dict[str, list[str]] = {}
    for model, why in outcome.fatal.items():
        stopped.setdefault(why, []).append(model)
    for why, names in stopped.items():  # a refused key stops every model: say it once
        print(f"glm-eval: error: {', '.join(names)} stopped: {why}", file=sys.stderr)
    if outcome.stopped_by and not (budget is not None and budget.stopped):
        print(f"glm-eval: error: stopped sending: {outcome.stopped_by}", file=sys.stderr)
    if totals["failed"]:
        print(
            f"glm-eval: {totals['failed']} of {totals['samples']} samples have no answer (see 'error' in samples.jsonl); "
            f"the run is incomplete: run the same command again to retry them",
            file=sys.stderr,
        )
    if totals["filtered"]:
        print(
            f"glm-eval: {totals['filtered']} of {totals['samples']} samples were refused by the provider's content filter "
            f"(status 'filtered' in samples.jsonl); they are left out of accuracy, kept in the store and not sent again "
            f"(--resend-filtered tries them once more)",
            file=sys.stderr,
        )
    for name in ("prompt_tokens", "completion_tokens"):
        if totals[name] is None:
            print(f"glm-eval: note: the server sent no usage with some answers: the run's {name.replace('_', ' ')} are unknown", file=sys.stderr)
            break
    incomplete = outcome.fatal or outcome.stopped_by or totals["failed"] or totals["filtered"]
    return RunResult(run_dir, outcome, 1 if incomplete else 0)


def _missing_error(plan: Plan, missing: list[Job], store: Path, what: str = "responses") -> None:
    job = missing[0]
    raise UserError(
        f"--cache-only: {len(missing)} {what} are not in the store {store}, first: model {job.model}, task {job.task}, "
        f"item {plan.item(job).id}, sample {job.sample} (key {job.key[:16]}); run without --cache-only to fetch them"
    )


def _judge_for(spec: RunSpec, plan: Plan) -> Judge | None:
    """The judge, checked before anything is sent; an error when a task needs one and none is given."""
    readers = [task_id for task_id, task in plan.tasks.items() if task.spec.answer_reader != "rules"]
    if spec.judge is None:
        if readers and plan.tasks[readers[0]].spec.answer_reader == "zai-kit":
            raise UserError(
                f"task {readers[0]} is graded as Z.ai's kit grades it, with a checker model: give one with --judge PROVIDER:MODEL "
                f"(the kit's was Meta-Llama-3.1-70B-Instruct, e.g. --judge local:Meta-Llama-3.1-70B-Instruct; or zai:glm-4.5)"
            )
        if readers:
            raise UserError(f"task {readers[0]} has a judge model read its answers: give one with --judge PROVIDER:MODEL (e.g. zai:glm-4.5)")
        if spec.judge_fallback:
            raise UserError("--judge-fallback needs a judge model: give one with --judge PROVIDER:MODEL")
        return None
    return resolve_judge(spec.judge, plan.provider, load_models(), need_key=not spec.cache_only)


def _writable(run_dir: Path) -> None:
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        probe = run_dir / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise UserError(f"cannot write to the results folder {run_dir} ({exc.strerror}); choose another with --out") from None


@contextlib.contextmanager
def _endpoint(provider: Provider, plan: Plan, spec: RunSpec, api_key: str | None, run_dir: Path) -> Iterator[tuple[str, str | None]]:
    """The address to send to: the provider's, or a simulator started for this run."""
    if provider.simulated and (provider is not plan.provider or spec.base_url is None):
        key = api_key or DEFAULT_SIM_KEY
        with simulator(answer_key(plan.tasks.values()), None, spec.sim_time_scale, key, log=run_dir / "simulator.log.jsonl",
                       provider_profile=provider.host) as url:
            yield url, key
        return
    if provider.simulated and api_key is None:
        api_key = DEFAULT_SIM_KEY
    _reachable(provider.config.base_url)
    yield provider.config.base_url, api_key


def _reachable(base_url: str, timeout_s: float = 10.0) -> None:
    """Refuse at once, with the address, when nothing listens there (rather than spending every
    request's retries on a server that is down)."""
    url = urlparse(base_url)
    if url.scheme not in ("http", "https") or not url.hostname:
        raise UserError(f"--base-url {base_url!r} is not an http(s) URL; give e.g. http://127.0.0.1:8000/v1")
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        socket.create_connection((url.hostname, port), timeout=timeout_s).close()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise UserError(f"cannot reach {base_url} ({reason}); check the address, the network, and that the server is running") from None


@phases.timed("send")
def _send(
    provider: Provider,
    address: tuple[str, str | None],
    work: dict[str, list[Job]],
    body_for: Callable[[Job], dict[str, Any]],
    store: Store,
    spec: RunSpec,
    console: Console,
    budget: Budget | None = None,
    concurrency: int | None = None,
    on_stored: Callable[[Job, StoredResponse], None] | None = None,
) -> Outcome:
    """Send `work` (model -> jobs still missing from the store) to one provider."""
    base_url, api_key = address
    concurrency = concurrency or spec.concurrency or provider.config.concurrency
    rpm = spec.rpm if spec.rpm is not None else provider.config.rpm
    totals = {model: len(jobs) for model, jobs in work.items()}

    async def batched(writer: StoreWriter) -> Outcome:
        assert provider.config.batch_endpoint is not None
        poll = spec.batch_poll_s or (0.5 if provider.simulated else 30.0)
        async with BatchAPI(base_url, api_key, provider.config.api_key_env, spec.timeout_s) as api:
            with ProgressView(totals, console) as view:
                runner = BatchRunner(api, store, writer, provider.identity, provider.config.batch_endpoint, view.update, view.note,
                                     budget, on_stored, poll_s=poll, max_attempts=spec.max_attempts)
                return await runner.run(work, body_for)

    async def main(writer: StoreWriter) -> Outcome:
        if spec.batch:
            return await batched(writer)
        async with ChatClient(
            base_url, api_key, concurrency * len(work), spec.timeout_s, provider.config.api_key_env, provider.config.stream_usage
        ) as client:
            with ProgressView(totals, console) as view:
                runner = Runner(
                    client, writer, provider.identity, concurrency, Pace(rpm),
                    RetryPolicy(max_attempts=spec.max_attempts, base_delay_s=spec.backoff_s), view.update, budget, on_stored,
                )
                return await runner.run(work, body_for)

    with StoreWriter(store.path) as writer:  # on any exit, answers received are committed first
        return asyncio.run(main(writer))


class _Grading:
    """Rule-based verdicts, started as each answer is stored, so that grading runs in the worker
    processes while the rest is still being sent (on two cores it would otherwise add minutes to
    a large run); answers stored by earlier runs are graded at the end, a batch at a time."""

    def __init__(self, plan: Plan, pool: GradingPool) -> None:
        self.plan = plan
        self.pool = pool
        self.verdicts: dict[str, Verdict] = {}
        self._pending: dict[str, Future[Verdict]] = {}
        self._strings: dict[str, str] = {}
        if any(task.spec.grader not in pool.in_process for task in plan.tasks.values()):
            pool.start()

    def _case(self, job: Job, row: StoredResponse) -> GradeCase:
        return GradeCase(self.plan.tasks[job.task].spec.grader, row.content or "", self.plan.prompt(job).gold, row.finish_reason)

    def submit(self, job: Job, row: StoredResponse) -> None:
        if row.status != OK:
            return
        future = self.pool.submit(self._case(job, row))
        # pending only until its verdict is in (a Future holds a lock and a condition: ~1 KB
        # each); a future already done (mcq, integer, exact) settles at once, here
        self._pending[job.key] = future
        future.add_done_callback(partial(self._settle, job.key))

    def _settle(self, key: str, future: Future[Verdict]) -> None:
        verdict = future.result()
        # one string object per distinct gold and reason, not a copy per verdict (they arrive
        # unpickled): the verdicts of a 100,000-sample run are held until samples.jsonl is written
        self.verdicts[key] = replace(verdict, gold=self._shared(verdict.gold), reason=self._shared(verdict.reason))
        self._pending.pop(key, None)

    def _shared(self, text: str) -> str:
        return self._strings.setdefault(text, text)

    @phases.timed("grade")
    def finish(self, store: Store) -> dict[str, Verdict]:
        """Every stored answer's verdict: those still being graded, then those not yet started."""
        for future in list(self._pending.values()):
            future.result()
        jobs = self.plan.jobs
        for start in range(0, len(jobs), GRADE_BATCH):
            batch = [job for job in jobs[start : start + GRADE_BATCH] if job.key not in self.verdicts]
            rows = {r.key: r for r in store.get_many([job.key for job in batch]) if r.status == OK}
            usable = [job for job in batch if job.key in rows]
            self.verdicts.update(zip((job.key for job in usable), self.pool.grade_many(self._case(job, rows[job.key]) for job in usable)))
        return self.verdicts


@phases.timed("judge")
def _judge(
    plan: Plan, judge: Judge, verdicts: dict[str, Verdict], store: Store, address: tuple[str, str | None], spec: RunSpec, console: Console
) -> dict[str, dict[str, Any]]:
    """Ask the judge what the tasks need of it; returns, per sample key, what it was asked and said."""
    questions: list[JudgeJob] = []
    for start in range(0, len(plan.jobs), GRADE_BATCH):
        batch = [job for job in plan.jobs[start : start + GRADE_BATCH] if job.key in verdicts]
        rows = {r.key: r for r in store.get_many([job.key for job in batch])}
        for job in batch:
            row, verdict, task = rows[job.key], verdicts[job.key], plan.tasks[job.task]
            if row.finish_reason == "length":
                continue  # a truncated answer is wrong whoever reads it
            if task.spec.answer_reader == "judge":
                questions.append(letter_job(judge, job, plan.prompt(job).messages[-1]["content"], row.content or ""))
            elif spec.judge_fallback and task.spec.answer_reader == "rules" and task.spec.grader == "math" and verdict.reason == "mismatch" and verdict.extracted:
                questions.append(equivalence_job(judge, job, plan.item(job).question, verdict.gold, verdict.extracted))
    stored = store.usable_keys(q.job.key for q in questions)
    missing = [q for q in questions if q.job.key not in stored]
    if spec.cache_only and missing:
        _missing_error(plan, [q.source for q in missing], store.path, what="judge answers")
    if not questions:
        return {}
    console.print(f"judge {judge.label}: {len(questions)} questions; {len(questions) - len(missing)} already stored, {len(missing)} to send")
    _ask_judge(judge, missing, address, store, spec, console)
    answers = {r.key: r.content for r in store.get_many([q.job.key for q in questions]) if r.status == OK}
    judged: dict[str, dict[str, Any]] = {}
    for q in questions:
        answer = answers.get(q.job.key)
        before = verdicts[q.source.key]
        after = judge_apply(q.kind, before, before.gold, answer)
        verdicts[q.source.key] = after
        judged[q.source.key] = {
            "model": judge.label,
            "kind": q.kind,
            "answer": None if answer is None else answer.strip()[:200],
            "changed": after.correct != before.correct,
        }
    return judged


def _ask_judge(judge: Judge, questions: list[JudgeJob], address: tuple[str, str | None], store: Store, spec: RunSpec, console: Console) -> None:
    if not questions:
        return
    bodies = {q.job.key: q.body for q in questions}
    outcome = _send(
        judge.provider, address, {judge.label: [q.job for q in questions]}, lambda job: bodies[job.key], store, spec, console,
        concurrency=judge.provider.config.concurrency,
    )
    for why in set(outcome.fatal.values()):
        raise ProviderError(f"judge {judge.label} stopped: {why}")


def _grade_kit(
    plan: Plan, judge: Judge, verdicts: dict[str, Verdict], store: Store, address: tuple[str, str | None], spec: RunSpec,
    console: Console, pool: GradingPool,
) -> dict[str, zaikit.KitVerdict]:
    """The zai-kit tasks graded by the kit's rules, its checker model asked what it would ask."""

    def send(missing: list[JudgeJob]) -> None:
        if spec.cache_only and missing:
            _missing_error(plan, [q.source for q in missing], store.path, what="checker answers")
        console.print(f"checker {judge.label} (zai-kit): {len(missing)} questions to send")
        _ask_judge(judge, missing, address, store, spec, console)

    kit = grade_kit(plan, judge, verdicts, store, pool, send)
    for key, graded in kit.items():
        before = verdicts[key]
        verdicts[key] = replace(before, correct=graded.correct, extracted=graded.extracted, reason=f"zai-kit: {graded.decided_by}")
    return kit


@phases.timed("write_samples")
def _write_samples(
    plan: Plan, store: Store, run_dir: Path, outcome: Outcome, verdicts: dict[str, Verdict], judged: dict[str, dict[str, Any]],
    kit: dict[str, zaikit.KitVerdict],
) -> dict[str, Any]:
    """samples.jsonl in plan order, a batch at a time (bounded memory), written whole or not at all."""
    totals: dict[str, Any] = {
        "samples": 0, "ok": 0, "truncated": 0, "filtered": 0, "failed": 0, "correct": 0,
        "prompt_tokens": 0, "completion_tokens": 0, "reasoning_tokens": 0, "cached_tokens": 0, "judge_changed": 0,
    }
    unknown: set[str] = set()  # token counts some answer lacks: the sum is not the run's
    tmp = run_dir / (results.SAMPLES + ".tmp")
    with tmp.open("w", encoding="utf-8") as out:
        for start in range(0, len(plan.jobs), GRADE_BATCH):
            batch = plan.jobs[start : start + GRADE_BATCH]
            rows = {r.key: r for r in store.get_many([job.key for job in batch])}
            for job in batch:
                sample = _sample_row(plan, job, rows.get(job.key), verdicts.get(job.key), outcome)
                sample["judge"] = judged.get(job.key)
                if job.key in kit:
                    sample["zai_kit"] = kit[job.key].steps
                    sample["checker_reply"] = None if kit[job.key].checker_reply is None else kit[job.key].checker_reply.strip()[:200]
                for name in ("prompt_tokens", "completion_tokens"):
                    if sample[name] is None and sample["status"] in GRADED:
                        unknown.add(name)
                    totals[name] += sample[name] or 0
                totals["reasoning_tokens"] += sample["reasoning_tokens"] or 0
                totals["cached_tokens"] += sample["cached_tokens"] or 0
                totals["samples"] += 1
                totals[sample["status"]] += 1
                totals["correct"] += bool(sample["correct"])
                totals["judge_changed"] += bool(sample["judge"] and sample["judge"]["changed"])
                out.write(json.dumps(sample, ensure_ascii=False) + "\n")
    tmp.replace(run_dir / results.SAMPLES)
    for name in unknown:  # usage was absent from some answers (a server that sends none): unknown, never 0
        totals[name] = None
    return totals


def _sample_row(plan: Plan, job: Job, row: StoredResponse | None, verdict: Verdict | None, outcome: Outcome) -> dict[str, Any]:
    item = plan.item(job)
    prompt = plan.prompt(job)
    if row is not None and row.status == FILTERED:
        status = "filtered"
        error = row.error or f"the provider's content filter ended the answer (finish_reason {row.finish_reason!r})"
    elif row is None or row.status != OK:
        status = "failed"
        error = row.error if row is not None else f"not sent: {outcome.fatal.get(job.model) or outcome.stopped_by or 'the run stopped before it'}"
    else:
        status = "truncated" if row.finish_reason in TRUNCATED else "ok"
        error = None
    sample: dict[str, Any] = {
        "model": job.model,
        "model_id": job.model_id,
        "provider": plan.provider.name,
        "task": job.task,
        "item_id": item.id,
        "sample": job.sample,
        "key": job.key,
        "status": status,
        **verdict_fields(verdict),
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
    }
    for name, value in item.extra.items():
        sample.setdefault(name, value)
    return sample


def _manifest(
    spec: RunSpec, plan: Plan, argv: list[str], started: datetime, wall_s: float, outcome: Outcome, totals: dict[str, Any], run_dir: Path
) -> dict[str, Any]:
    provider = plan.provider
    return {
        "run_id": run_dir.name,
        "simulated": provider.simulated,
        "command": ["glm-eval", *argv],
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
        "started": started.isoformat(),
        "ended": datetime.now(timezone.utc).isoformat(),
        "wall_s": round(wall_s, 3),
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
    }
