"""The third phase: verdicts. The rules grade each answer as it is stored (in worker processes,
while the rest is still being sent); then a judge model reads what the tasks give it to read, and
the zai-kit tasks are graded as Z.ai's kit grades them."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Any

from harness import phases, zaikit
from harness.errors import ProviderError
from harness.evaluate.events import JudgeAsked, Listener
from harness.evaluate.prepare import missing_error
from harness.evaluate.send import Address, Endpoints, Sender, Target
from harness.graders import GradeCase, GradingPool, Verdict
from harness.judge import Judge, JudgeJob, equivalence_job, letter_job
from harness.judge import apply as judge_apply
from harness.kitgrading import grade_kit
from harness.plan import Job, Plan
from harness.runspec import RunSpec
from harness.store import OK, Store, StoredResponse

GRADE_BATCH = 2000  # samples read from the store at a time: memory stays bounded on a run of any size


class Grading:
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
        if self.pool.broken is not None:
            raise ProviderError(
                f"grading failed: {self.pool.broken}. The answers are all in the store {store.path}. A script that runs glm-eval "
                f"must start it under `if __name__ == \"__main__\":` (the grading workers are new processes that import it); "
                f"then run the same command again, which grades the stored answers and sends nothing"
            )
        return self.verdicts


@phases.timed("judge")
def judge(plan: Plan, judge: Judge, verdicts: dict[str, Verdict], sender: Sender, address: Address, fallback: bool) -> dict[str, dict[str, Any]]:
    """Ask the judge what the tasks need of it; returns, per sample key, what it was asked and said."""
    store = sender.store
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
            elif fallback and task.spec.answer_reader == "rules" and task.spec.grader == "math" and verdict.reason == "mismatch" and verdict.extracted:
                questions.append(equivalence_job(judge, job, plan.item(job).question, verdict.gold, verdict.extracted))
    if not questions:
        return {}
    answers = _replies(plan, judge, questions, sender, lambda: address)
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


def grade_as_kit(
    plan: Plan, judge: Judge, verdicts: dict[str, Verdict], sender: Sender, address: Address, pool: GradingPool,
) -> dict[str, zaikit.KitVerdict]:
    """The zai-kit tasks graded by the kit's rules, its checker model asked what it would ask."""

    def send(missing: list[JudgeJob]) -> None:
        if sender.spec.cache_only and missing:
            missing_error(plan, [q.source for q in missing], sender.store.path, what="checker answers")
        sender.listener(JudgeAsked(judge.label, len(missing), len(missing), kit=True))
        _ask(judge, missing, address, sender)

    kit = grade_kit(plan, judge, verdicts, sender.store, pool, send)
    for key, graded in kit.items():
        before = verdicts[key]
        verdicts[key] = replace(before, correct=graded.correct, extracted=graded.extracted, reason=f"zai-kit: {graded.decided_by}")
    return kit


def judge_answers(
    spec: RunSpec, plan: Plan, judge: Judge, questions: list[JudgeJob], store: Store, run_dir: Path, listener: Listener
) -> dict[str, str]:
    """The judge's reply to each question (by the question's key) after a run, as `regrade
    --second-opinion judge` asks them: only those the store lacks are sent, so none is paid twice."""
    with contextlib.ExitStack() as stack:
        endpoints = Endpoints(plan, spec, run_dir, stack)  # a server is started or reached only when something is missing
        answers = _replies(plan, judge, questions, Sender(store, spec, listener), lambda: endpoints.address(judge.provider, judge.api_key))
    return {key: answer or "" for key, answer in answers.items()}


def _replies(plan: Plan, judge: Judge, questions: list[JudgeJob], sender: Sender, address: Callable[[], Address]) -> dict[str, str | None]:
    """The judge's stored reply to each question (by the question's key), asking for those the store
    lacks: a reply already paid for is never asked again."""
    store = sender.store
    stored = store.usable_keys(q.job.key for q in questions)
    missing = [q for q in questions if q.job.key not in stored]
    if sender.spec.cache_only and missing:
        missing_error(plan, [q.source for q in missing], store.path, what="judge answers")
    sender.listener(JudgeAsked(judge.label, len(questions), len(missing), kit=False))
    if missing:
        _ask(judge, missing, address(), sender)
    return {r.key: r.content for r in store.get_many([q.job.key for q in questions]) if r.status == OK}


def _ask(judge: Judge, questions: list[JudgeJob], address: Address, sender: Sender) -> None:
    if not questions:
        return
    bodies = {q.job.key: q.body for q in questions}
    target = Target(judge.provider, address, concurrency=judge.provider.config.concurrency)
    outcome = sender.send(target, {judge.label: [q.job for q in questions]}, lambda job: bodies[job.key])
    for why in set(outcome.fatal.values()):
        raise ProviderError(f"judge {judge.label} stopped: {why}")
