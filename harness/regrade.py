"""`glm-eval regrade RUN`: grade a run's stored responses again with the current graders.

It reads only the run folder (each sample keeps its response, gold and finish_reason), so it
needs no network and no store, and a grader change can be judged on old runs for free.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from harness.errors import UserError
from harness.graders import GradeCase, GradingPool, Verdict
from harness.records import MANIFEST, SAMPLES, CheckResult, Manifest, SampleRow, read_manifest, read_sample_rows, write_samples
from harness.stats.items import GRADED


def check_of(verdict: Verdict | None) -> CheckResult:
    """The sample fields a verdict fills; a sample with no response has none to fill."""
    if verdict is None:
        return CheckResult(correct=False, reason="request failed")
    return CheckResult(correct=bool(verdict.correct), extracted=verdict.extracted, normalized=verdict.normalized, reason=verdict.reason)


@dataclass(frozen=True)
class Change:
    model: str
    task: str
    item_id: str
    sample: int
    old: CheckResult
    new: CheckResult


@dataclass(frozen=True)
class RunSamples:
    """A run folder's sample rows as written, the positions of those graded (answered: ok or
    truncated), and each task's grader: what regrading and a second opinion both start from."""

    manifest: Manifest
    rows: list[SampleRow]
    graded: list[int]
    graders: dict[str, str]


def graded_samples(run_dir: Path) -> RunSamples:
    """Read a run folder for grading again; one that is not a run's, or records no graders, is
    refused saying what to give instead."""
    manifest_path = run_dir / MANIFEST
    if not manifest_path.exists():
        raise UserError(f"{run_dir} is not a run folder (no {MANIFEST}); give the folder a run wrote")
    if not (run_dir / SAMPLES).is_file():
        raise UserError(f"{run_dir} has no {SAMPLES}: nothing to regrade; give the folder `glm-eval run --out DIR` wrote")
    manifest = read_manifest(run_dir)
    if not manifest.tasks:
        raise UserError(f"{manifest_path} records no tasks, so their graders are unknown; give the folder a run wrote")
    graders = {task: info.grader for task, info in manifest.tasks.items() if info.grader}
    rows = list(read_sample_rows(run_dir))
    graded = [i for i, row in enumerate(rows) if row.status in GRADED]
    unknown = sorted({rows[i].task for i in graded if rows[i].task not in graders})
    if unknown:
        raise UserError(f"{manifest_path}: no grader recorded for task(s) {', '.join(unknown)}; rerun the task to record one")
    return RunSamples(manifest, rows, graded, graders)


def regrade(run_dir: Path) -> tuple[int, list[Change]]:
    """Grade every graded sample of the run again, rewrite samples.jsonl, return what changed."""
    run = graded_samples(run_dir)
    rows, graders = run.rows, run.graders
    # A judge's or the kit's checker's verdicts are not the rules' to redo: `run --cache-only` asks again.
    by_rules = {task for task, info in run.manifest.tasks.items() if info.answer_reader == "rules"}
    graded = [i for i in run.graded if rows[i].task in by_rules and not rows[i].judge]
    with GradingPool() as pool:
        verdicts = pool.grade_many(GradeCase(graders[rows[i].task], rows[i].response or "", rows[i].gold or "", rows[i].finish_reason) for i in graded)
    changes: list[Change] = []
    for i, verdict in zip(graded, verdicts):
        row, new = rows[i], check_of(verdict)
        if row.check != new:
            changes.append(Change(row.model, row.task, row.item_id, row.sample, row.check, new))
            rows[i] = row.with_check(new)
    write_samples(run_dir, rows)
    return len(graded), changes
