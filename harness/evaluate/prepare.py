"""The first phase: everything that can refuse a run (provider, models, key, tasks, judge, budget,
results folder), done before the first request."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from harness.budget import Budget
from harness.config import load_models, load_providers
from harness.cost import PriceBook, load_prices, preset_of
from harness.errors import UserError
from harness.judge import Judge, resolve_judge
from harness.paths import RESULTS
from harness.plan import Job, Plan, build_plan
from harness.preflight import check_ids, fit_max_tokens, read_models
from harness.providers import Provider, resolve_provider
from harness.runspec import RunSpec
from harness.tasks import Task, data_dir_from_env, load_task


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


def notes(plan: Plan) -> Iterator[str]:
    """What a user should know about the plan before its results: max_tokens fitted, data notes, tasks left out."""
    yield from plan.notes
    for task_id, task in plan.tasks.items():
        if task.provenance.note:
            yield f"{task_id}: {task.provenance.note}"
    for name, why in plan.skipped.items():
        yield f"{name} left out: {why}"


def pricing(spec: RunSpec, provider: Provider) -> tuple[PriceBook, str | None]:
    """The price list and the preset that prices this run (cost.preset_of)."""
    book = load_prices()
    preset = preset_of(book, provider.preset, provider.simulated, spec.price_as)
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


def judge_for(spec: RunSpec, plan: Plan) -> Judge | None:
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


def run_dir_for(spec: RunSpec) -> Path:
    if spec.out is not None:
        return spec.out
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return RESULTS / f"{stamp}-{spec.provider or 'server'}"


def store_path(spec: RunSpec) -> Path:
    return spec.store or RESULTS / "store.sqlite"


def writable(run_dir: Path) -> None:
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        probe = run_dir / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise UserError(f"cannot write to the results folder {run_dir} ({exc.strerror}); choose another with --out") from None


def missing_error(plan: Plan, missing: list[Job], store: Path, what: str = "responses") -> None:
    """--cache-only and something is not in the store: name the first of them."""
    job = missing[0]
    raise UserError(
        f"--cache-only: {len(missing)} {what} are not in the store {store}, first: model {job.model}, task {job.task}, "
        f"item {plan.item(job).id}, sample {job.sample} (key {job.key[:16]}); run without --cache-only to fetch them"
    )
