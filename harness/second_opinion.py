"""`glm-eval regrade RUN --second-opinion`: every graded sample of a run graded a second way, and
every disagreement listed, so a user sees how much a score depends on how it was graded.

The second method is plain math-verify (:mod:`harness.graders.plain`) or a judge model reading the
whole response (:mod:`harness.judge`). Neither touches the run's verdicts: the result is a file of
its own, `RUN/second_opinion.csv`, one row per graded sample with both verdicts and what each read,
which the report turns into a disagreement rate per variant and task.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from rich.console import Console

from harness import evaluate
from harness.config import load_models, validate
from harness.errors import UserError
from harness.graders import GradeCase, GradingPool, Verdict
from harness.graders.plain import PLAIN_GRADERS
from harness.graders.pool import MATH_VERIFY
from harness.graders.verdict import TRUNCATED
from harness.judge import JudgeJob, letter_job, reading_job, resolve_judge
from harness.judge import apply as judge_apply
from harness.records import SECOND_OPINION_COLUMNS, SampleRow
from harness.regrade import RunSamples, graded_samples
from harness.runspec import RunSpec
from harness.runview import RunView
from harness.store import Store, StoreLock

JUDGE = "judge"
METHODS = (MATH_VERIFY, JUDGE)
JUDGE_GRADERS = ("math", "integer", "mcq")  # the judge reads letters (mcq) and final answers (math, integer)


@dataclass(frozen=True)
class Opinion:
    method: str  # "math-verify", or "judge PROVIDER:MODEL"
    samples: pd.DataFrame  # records.SECOND_OPINION_COLUMNS, one row per graded sample of a task the method can read
    without: dict[str, str]  # task -> why the method cannot grade it
    unanswered: int = 0  # samples left out because the judge's request failed (a rerun asks again)


def second_opinion(run_dir: Path, method: str, console: Console, judge: str | None = None, data_dir: Path | None = None) -> Opinion:
    """Grade the run's answered samples by `method`; the run's own files are left as they are."""
    if method not in METHODS:
        raise UserError(f"--second-opinion {method}: use one of {', '.join(METHODS)}")
    if method == JUDGE and not judge:
        raise UserError("--second-opinion judge needs a judge model: give one with --judge PROVIDER:MODEL (e.g. zai:glm-4.5)")
    if method != JUDGE and (judge or data_dir):
        raise UserError(f"--judge and --data-dir go with --second-opinion judge, not {method}")
    run = graded_samples(run_dir)
    readable = PLAIN_GRADERS if method == MATH_VERIFY else JUDGE_GRADERS
    without = {
        task: f"its grader ({grader}) has no {method} reading: {method} reads {', '.join(readable)} answers"
        for task, grader in run.graders.items()
        if grader not in readable and any(run.rows[i].task == task for i in run.graded)
    }
    rows = [run.rows[i] for i in run.graded if run.rows[i].task not in without]
    if method == MATH_VERIFY:
        with GradingPool() as pool:
            verdicts = pool.grade_many(
                GradeCase(run.graders[r.task], r.response or "", r.gold or "", r.finish_reason, method=MATH_VERIFY) for r in rows
            )
        return Opinion(MATH_VERIFY, _frame(MATH_VERIFY, rows, verdicts), without)
    assert judge is not None
    label, judged = _judged(run_dir, run, rows, judge, data_dir, console)
    answered = [(row, verdict) for row, verdict in zip(rows, judged) if verdict is not None]
    frame = _frame(label, [row for row, _ in answered], [verdict for _, verdict in answered])
    return Opinion(label, frame, without, unanswered=len(rows) - len(answered))


def _frame(method: str, rows: list[SampleRow], verdicts: list[Verdict]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "method": method, "model": r.model, "task": r.task, "item_id": r.item_id, "sample": r.sample,
                "status": r.status, "glm_eval_correct": r.correct, "glm_eval_extracted": r.extracted,
                "glm_eval_reason": r.reason, "second_correct": v.correct, "second_extracted": v.extracted,
                "second_reason": v.reason, "agree": r.correct == v.correct,
            }
            for r, v in zip(rows, verdicts)
        ],
        columns=SECOND_OPINION_COLUMNS,
    )


def _judged(
    run_dir: Path, run: RunSamples, rows: list[SampleRow], judge_spec: str, data_dir: Path | None, console: Console
) -> tuple[str, list[Verdict | None]]:
    """The judge's verdict on each row, None where its request failed (not a wrong answer). The
    prompts are rebuilt from the run's manifest (the same items, so the same request keys), and
    the judge's answers go through the run's store: a second audit of the same run sends nothing."""
    fields = {**run.manifest.spec, "cache_only": False}
    if data_dir is not None:
        fields["data_dir"] = data_dir
    spec = validate(fields, RunSpec, f"{run_dir}/manifest.json (spec)")
    plan, _ = evaluate.prepare(spec, need_key=False)
    judge = resolve_judge(judge_spec, plan.provider, load_models())
    jobs = {job.key: job for job in plan.jobs}
    questions: dict[str, JudgeJob] = {}
    for row in rows:
        job = jobs.get(row.key or "")
        if job is None:
            raise UserError(
                f"{run_dir}: sample {row.model} {row.task} item {row.item_id} #{row.sample} is not in the plan its manifest "
                f"rebuilds (the task's data changed?); give --data-dir the data the run read"
            )
        if row.finish_reason == "length":
            continue  # a truncated answer is wrong whoever reads it
        response = row.response or ""
        if run.graders[row.task] == "mcq":
            questions[job.key] = letter_job(judge, job, plan.prompt(job).messages[-1]["content"], response)
        else:
            questions[job.key] = reading_job(judge, job, plan.item(job).question, str(row.gold), response)
    store_path = Path(spec.store or run.manifest.store or evaluate.store_path(spec))
    with StoreLock(store_path, ["glm-eval", *sys.argv[1:]]), Store(store_path) as store:
        answers = evaluate.judge_answers(spec, plan, judge, list(questions.values()), store, run_dir, RunView(console))
    verdicts: list[Verdict | None] = []
    for row in rows:
        truncated = Verdict(False, None, None, str(row.gold), TRUNCATED)
        q = questions.get(row.key or "")
        if q is None:
            verdicts.append(truncated)
        elif q.job.key not in answers:
            verdicts.append(None)
        else:
            verdicts.append(judge_apply(q.kind, truncated, truncated.gold, answers[q.job.key]))
    return f"{JUDGE} {judge.label}", verdicts
