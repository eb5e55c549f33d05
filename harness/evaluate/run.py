"""One evaluation, its phases in order: prepare -> send (grading each answer as it is stored) ->
grade (judge, kit) -> record."""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from harness.errors import UserError
from harness.evaluate.events import Listener, Note, Planned, Probed, Problem
from harness.evaluate.grade import Grading, grade_as_kit, judge
from harness.evaluate.prepare import judge_for, make_budget, missing_error, notes, prepare, run_dir_for, store_path, writable
from harness.evaluate.record import Ending, Verdicts, problems, write_run
from harness.evaluate.send import Endpoints, Sender, Target, by_model
from harness.graders import GradingPool
from harness.kitgrading import kit_jobs
from harness.probe import as_manifest, probe
from harness.runner import Outcome
from harness.runspec import RunSpec
from harness.store import Store, StoreLock
from harness.zaikit import KitVerdict


@dataclass
class RunResult:
    run_dir: Path
    outcome: Outcome
    exit_code: int


def execute(spec: RunSpec, argv: list[str], listener: Listener, allow_builtin_sample: bool = False) -> RunResult:
    """Run `spec` to its run folder; what happens on the way goes to `listener` (harness.runview
    shows it on a terminal). Exit code 1 when the run is incomplete."""
    plan, api_key = prepare(spec, allow_builtin_sample, check_server=True)
    for note in notes(plan):
        listener(Note(note))
    budget = make_budget(spec, plan)
    judge_model = judge_for(spec, plan)
    run_dir = run_dir_for(spec)
    writable(run_dir)
    started = datetime.now(UTC)
    with StoreLock(store_path(spec), ["glm-eval", *argv]), Store(store_path(spec)) as store, contextlib.ExitStack() as stack:
        stored = store.usable_keys((job.key for job in plan.jobs), spec.resend_filtered)
        missing = [job for job in plan.jobs if job.key not in stored]
        listener(Planned(len(plan.jobs), len(stored), len(missing), plan.provider.name, plan.provider.simulated, run_dir))
        if spec.cache_only and missing:
            missing_error(plan, missing, store.path)
        endpoints = Endpoints(plan, spec, run_dir, stack)
        sender = Sender(store, spec, listener)
        probed: dict[str, Any] | None = None
        if spec.probe and not spec.cache_only:
            address = endpoints.address(plan.provider, api_key)
            found = probe(plan.provider, address[0], address[1], plan.model_ids)
            listener(Probed(found, plan.provider.name + (" (SIMULATED)" if plan.provider.simulated else "")))
            probed = as_manifest(found)
        wall_start = time.monotonic()
        outcome = Outcome()
        pool = stack.enter_context(GradingPool())
        grading = Grading(plan, pool)
        if missing:
            work = by_model(plan, missing)
            del missing
            target = Target(plan.provider, endpoints.address(plan.provider, api_key))
            outcome = sender.send(target, work, plan.body, budget, on_stored=grading.submit)
        wall_s = time.monotonic() - wall_start
        verdicts = grading.finish(store)
        judged: dict[str, dict[str, Any]] = {}
        kit: dict[str, KitVerdict] = {}
        if judge_model is not None:  # both change `verdicts` where they decide
            address = endpoints.address(judge_model.provider, judge_model.api_key)
            judged = judge(plan, judge_model, verdicts, sender, address, spec.judge_fallback)
            if kit_jobs(plan):
                kit = grade_as_kit(plan, judge_model, verdicts, sender, address, pool)
        ending = Ending(argv, started, wall_s, outcome, endpoints.simulated_server, probed, budget, judge_model)
        try:
            totals = write_run(spec, plan, store, run_dir, Verdicts(verdicts, judged, kit), ending)
        except OSError as exc:
            stopped_by = f" (sending stopped: {outcome.stopped_by})" if outcome.stopped_by else ""
            raise UserError(
                f"cannot write the run's results to {run_dir} ({exc.strerror or exc}){stopped_by}; free some space: every answer "
                f"received so far is in the store {store.path}, and running the same command again resumes"
            ) from None
    for text in problems(outcome, totals, budget):
        listener(Problem(text))
    incomplete = outcome.fatal or outcome.stopped_by or totals["failed"] or totals["filtered"]
    return RunResult(run_dir, outcome, 1 if incomplete else 0)
