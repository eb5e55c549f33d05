"""One evaluation, end to end: plan -> runner -> store -> grader -> samples and manifest, in four
phases: prepare (every check that can refuse a run, before the first request), send (every answer
committed to the store before it is graded), grade (rules while sending; then a judge, the kit)
and record (the run folder). Grading reads only the store, so a run killed at any point resumes
by sending just what is missing. The phases print nothing: they report to a listener
(harness.evaluate.events), which the command line renders (harness.runview)."""

from harness.evaluate.grade import judge_answers
from harness.evaluate.prepare import prepare, pricing, run_dir_for, store_path
from harness.evaluate.run import RunResult, execute

__all__ = ["RunResult", "execute", "judge_answers", "prepare", "pricing", "run_dir_for", "store_path"]
