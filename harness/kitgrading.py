"""The `zai-kit` protocol's grading pass over a run's stored answers (the rules are harness/zaikit.py).

It runs after glm-eval's own grading, whose verdicts are the breakdown's first step, and reads only
the store: the rule grader's second looks go through the same worker pool, and the checker model's
questions through the same runner and store as every request, so a rerun or a regrade asks nothing
twice.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from harness import zaikit
from harness.client import TRUNCATED
from harness.graders import GradeCase, GradingPool, Verdict
from harness.judge import Judge, JudgeJob, ask
from harness.plan import Job, Plan
from harness.providers import Sampling
from harness.store import OK, Store

CHECKER_SAMPLING = Sampling(temperature=0.0, top_p=None, max_tokens=1024, thinking=False, stream=False)
"""The kit's checker: temperature 0, 1,024 tokens (evaluate.py 151-157), whole responses with no top_p
(samplers/openai_sampler.py 34-45)."""
EQUALITY = "kit-equality"
CHOICE = "kit-choice"
BATCH = 2000


def kit_jobs(plan: Plan) -> list[Job]:
    return [job for job in plan.jobs if plan.tasks[job.task].spec.answer_reader == "zai-kit"]


@dataclass
class _Case:
    job: Job
    grader: str
    gold: str
    text: str  # what the kit's sampler returns for this response
    boxed_answer: str | None  # math: the last box of an answer not cut off
    boxed_text: str | None  # math: the last box of `text`


def grade_kit(
    plan: Plan,
    judge: Judge,
    verdicts: dict[str, Verdict],
    store: Store,
    pool: GradingPool,
    send: Callable[[list[JudgeJob]], None],
) -> dict[str, zaikit.KitVerdict]:
    """Every answered sample of the run's zai-kit tasks, graded after each of the kit's rules in turn.
    `send` gets the checker's questions the store does not hold yet."""
    cases: list[_Case] = []
    jobs = [job for job in kit_jobs(plan) if job.key in verdicts]
    for start in range(0, len(jobs), BATCH):
        batch = jobs[start : start + BATCH]
        rows = {r.key: r for r in store.get_many([job.key for job in batch]) if r.status == OK}
        for job in batch:
            row, grader = rows[job.key], plan.tasks[job.task].spec.grader
            text = zaikit.kit_text(row.content, row.reasoning)
            cut = row.finish_reason in TRUNCATED
            boxed_answer = None if cut or grader == "mcq" else zaikit.last_boxed(row.content or "")
            boxed_text = None if grader == "mcq" else zaikit.last_boxed(text)
            cases.append(_Case(job, grader, plan.prompt(job).gold, text, boxed_answer, boxed_text))
    rules = _rule_verdicts(cases, pool)
    questions: dict[str, JudgeJob] = {}
    for case in cases:
        if case.grader == "mcq":
            text = zaikit.choice_prompt(plan.prompt(case.job).messages[-1]["content"], case.text)
            questions[case.job.key] = ask(judge, case.job, CHOICE, text, CHECKER_SAMPLING)
        elif case.boxed_text is not None and not rules[(case.job.key, zaikit.CUT_OFF)]:
            questions[case.job.key] = ask(judge, case.job, EQUALITY, zaikit.equality_prompt(case.gold, case.boxed_text), CHECKER_SAMPLING)
    stored = store.usable_keys(q.job.key for q in questions.values())
    send([q for q in questions.values() if q.job.key not in stored])
    replies = {r.key: r.content or "" for r in store.get_many([q.job.key for q in questions.values()]) if r.status == OK}
    graded: dict[str, zaikit.KitVerdict] = {}
    for case in cases:
        key = case.job.key
        question = questions.get(key)
        reply = replies.get(question.job.key) if question is not None else None
        strict = verdicts[key].correct
        if case.grader == "mcq":
            graded[key] = zaikit.choice_verdict(strict, rules[(key, zaikit.CUT_OFF)], case.gold, reply, key)
        else:
            graded[key] = zaikit.math_verdict(strict, rules[(key, zaikit.BOXED)], rules[(key, zaikit.CUT_OFF)], case.boxed_text, reply)
    return graded


def _rule_verdicts(cases: list[_Case], pool: GradingPool) -> dict[tuple[str, str], bool]:
    """glm-eval's rule grader on what the kit reads: a box's inside (math) or the kit's whole text
    (GPQA), with no finish_reason, since the kit grades a cut-off response as if it were whole."""
    wanted: list[tuple[tuple[str, str], GradeCase]] = []
    for case in cases:
        key = case.job.key
        if case.grader == "mcq":
            wanted.append(((key, zaikit.CUT_OFF), GradeCase("mcq", case.text, case.gold)))
            continue
        for step, boxed in ((zaikit.BOXED, case.boxed_answer), (zaikit.CUT_OFF, case.boxed_text)):
            if boxed is not None:
                wanted.append(((key, step), GradeCase(case.grader, f"\\boxed{{{boxed}}}", case.gold)))
    found: dict[tuple[str, str], bool] = {}
    for start in range(0, len(wanted), BATCH):
        chunk = wanted[start : start + BATCH]
        found.update(zip((name for name, _ in chunk), (v.correct for v in pool.grade_many(g for _, g in chunk))))
    return {(case.job.key, step): found.get((case.job.key, step), False) for case in cases for step in (zaikit.BOXED, zaikit.CUT_OFF)}
