"""`glm-eval regrade RUN`: grade a run's stored responses again with the current graders.

It reads only the run folder (each sample keeps its response, gold and finish_reason), so it
needs no network and no store, and a grader change can be judged on old runs for free.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness import results
from harness.errors import UserError
from harness.graders import GradeCase, GradingPool, Verdict
from harness.stats.items import GRADED


def verdict_fields(verdict: Verdict | None) -> dict[str, Any]:
    """The sample fields a verdict fills; a sample with no response has none to fill."""
    if verdict is None:
        return {"correct": False, "extracted": None, "normalized": None, "reason": "request failed"}
    return {"correct": bool(verdict.correct), "extracted": verdict.extracted, "normalized": verdict.normalized, "reason": verdict.reason}


@dataclass(frozen=True)
class Change:
    model: str
    task: str
    item_id: str
    sample: int
    old: dict[str, Any]
    new: dict[str, Any]


def regrade(run_dir: Path) -> tuple[int, list[Change]]:
    """Grade every graded sample of the run again, rewrite samples.jsonl, return what changed."""
    manifest_path = run_dir / results.MANIFEST
    if not manifest_path.exists():
        raise UserError(f"{run_dir} is not a run folder (no {results.MANIFEST}); give the folder a run wrote")
    if not (run_dir / results.SAMPLES).is_file():
        raise UserError(f"{run_dir} has no {results.SAMPLES}: nothing to regrade; give the folder `glm-eval run --out DIR` wrote")
    manifest = results.read_manifest(run_dir)
    if not isinstance(manifest.get("tasks"), dict):
        raise UserError(f"{manifest_path} records no tasks, so their graders are unknown; give the folder a run wrote")
    graders = {task: info.get("grader") for task, info in manifest["tasks"].items()}
    # A judge's or the kit's checker's verdicts are not the rules' to redo: `run --cache-only` asks again.
    by_rules = {task for task, info in manifest["tasks"].items() if info.get("answer_reader", "rules") == "rules"}
    rows = [json.loads(line) for line in (run_dir / results.SAMPLES).read_text(encoding="utf-8").splitlines() if line.strip()]
    graded = [row for row in rows if row["status"] in GRADED and row["task"] in by_rules and not row.get("judge")]
    unknown = sorted({row["task"] for row in graded if not graders.get(row["task"])})
    if unknown:
        raise UserError(f"{manifest_path}: no grader recorded for task(s) {', '.join(unknown)}; rerun the task to record one")
    with GradingPool() as pool:
        verdicts = pool.grade_many(GradeCase(graders[r["task"]], r["response"] or "", r["gold"], r["finish_reason"]) for r in graded)
    changes: list[Change] = []
    for row, verdict in zip(graded, verdicts):
        new = verdict_fields(verdict)
        old = {name: row.get(name) for name in new}
        if old != new:
            changes.append(Change(row["model"], row["task"], row["item_id"], row["sample"], old, new))
            row.update(new)
    tmp = run_dir / (results.SAMPLES + ".tmp")
    tmp.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    tmp.replace(run_dir / results.SAMPLES)
    return len(graded), changes
