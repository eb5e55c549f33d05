"""A baseline: what `glm-eval check` compares a later run with, item by item.

It keeps, per model x task, the per-item counts a paired comparison needs (item ids, correct
answers and graded samples per item) and the settings of the run it came from, so that a later
run on other items or under another protocol can be refused instead of compared (settings.py says
which settings must match). It is JSON so it can be committed and reviewed: a new baseline shows
in a pull request as changed figures.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import pandas as pd
from pydantic import Field, ValidationError, model_validator

from harness import stats
from harness.config import Strict, describe_validation_error
from harness.errors import UserError
from harness.gate.order import task_rank, variant_rank
from harness.records import Manifest
from harness.runs import Run

FORMAT = 1
SAMPLING_KEYS = ("temperature", "top_p", "max_tokens", "thinking")
"""The sampling settings that change what is measured; `stream` only changes how it is delivered."""


class TaskRecord(Strict):
    """What the baseline's run used for one task."""

    fingerprint: str
    rows_used: int
    grader: str | None
    prompt_sha256: str | None
    samples_per_item: int


class Cell(Strict):
    """One model x task: per-item counts, in three parallel lists so the file stays readable."""

    model: str
    model_id: str
    task: str
    accuracy: float = Field(description="for people reading the file; `check` recomputes it from the counts")
    item_ids: list[str]
    n_correct: list[int]
    n_samples: list[int]

    @model_validator(mode="after")
    def _parallel(self) -> Cell:
        if not len(self.item_ids) == len(self.n_correct) == len(self.n_samples):
            raise ValueError(f"{self.model} x {self.task}: item_ids, n_correct and n_samples differ in length")
        if any(not 0 <= c <= n for c, n in zip(self.n_correct, self.n_samples)):
            raise ValueError(f"{self.model} x {self.task}: every n_correct must lie between 0 and its n_samples")
        return self

    def items(self) -> pd.DataFrame:
        """The per-item frame `harness.stats.compare` and `regression_test` take."""
        return pd.DataFrame({"item_id": self.item_ids, "n_samples": self.n_samples, "n_correct": self.n_correct})


class Source(Strict):
    run_id: str
    git_commit: str | None
    started: str | None
    command: list[str]


class Baseline(Strict):
    format: Literal[1]
    created: str
    source: Source
    simulated: bool
    provider: str
    sampling: dict[str, Any]
    judge: dict[str, Any] | None = Field(default=None, description="the judge model that read answers, as the manifest records it")
    tasks: dict[str, TaskRecord]
    cells: list[Cell] = Field(min_length=1)


def make_baseline(run: Run) -> Baseline:
    """The baseline of a complete run. A run with failed requests is refused: a baseline is
    compared with for months, and an item missing from it is an item no later check can pair."""
    manifest, scores = run.manifest, run.scores
    failed = scores[scores["status"] == "failed"]
    if len(failed):
        where = ", ".join(f"{m} x {t}: {n}" for (m, t), n in failed.groupby(["model", "task"], observed=True).size().items())
        raise UserError(
            f"{run.path}: {len(failed)} requests failed ({where}); run the same `glm-eval run` command again to "
            f"fill them from the store (nothing is paid twice), then make the baseline"
        )
    items = stats.per_item(scores)
    model_ids = manifest.models
    cells = [
        Cell(
            model=str(model),
            model_id=str(model_ids.get(model, model)),
            task=str(task),
            accuracy=round(float(group["accuracy"].mean()), 6),
            item_ids=group["item_id"].astype(str).tolist(),
            n_correct=group["n_correct"].astype(int).tolist(),
            n_samples=group["n_samples"].astype(int).tolist(),
        )
        for (model, task), group in items.groupby(["model", "task"], observed=True, sort=True)
    ]
    cells.sort(key=lambda c: (variant_rank(c.model), task_rank(c.task)))
    samples = manifest.samples_per_item
    tasks = {
        task: TaskRecord(
            fingerprint=record.fingerprint,
            rows_used=record.rows_used,
            grader=record.grader,
            prompt_sha256=record.prompt_sha256,
            samples_per_item=int(samples.get(task, items.loc[items["task"] == task, "k"].max())),
        )
        for task, record in manifest.tasks.items()
    }
    return Baseline(
        format=FORMAT,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
        source=Source(
            run_id=run.name,
            git_commit=manifest.git_commit,
            started=manifest.started,
            command=manifest.command,
        ),
        simulated=run.simulated,
        provider=str(manifest.provider.name),
        sampling=sampling_of(manifest),
        judge=manifest.judge,
        tasks=tasks,
        cells=cells,
    )


def sampling_of(manifest: Manifest) -> dict[str, Any]:
    return {key: manifest.sampling.get(key) for key in SAMPLING_KEYS}


def write_baseline(baseline: Baseline, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(_json(baseline.model_dump()) + "\n", encoding="utf-8")


def _json(value: Any, depth: int = 0) -> str:
    """Indented JSON with every list of plain values on one line: a cell's hundreds of item
    counts stay three lines, so a changed baseline reads as a short diff."""
    pad, inner = " " * depth, " " * (depth + 1)
    if isinstance(value, dict) and value:
        return "{\n" + ",\n".join(f"{inner}{json.dumps(k)}: {_json(v, depth + 1)}" for k, v in value.items()) + f"\n{pad}}}"
    if isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value):
        return "[\n" + ",\n".join(inner + _json(v, depth + 1) for v in value) + f"\n{pad}]"
    return json.dumps(value, ensure_ascii=False)


def read_baseline(path: Path) -> Baseline:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path}: no such baseline; make one with `glm-eval baseline RUN --out {path}`") from None
    except (OSError, json.JSONDecodeError) as exc:
        raise UserError(f"{path}: cannot read the baseline ({exc})") from None
    if isinstance(data, dict) and data.get("format") != FORMAT:
        raise UserError(f"{path}: baseline format {data.get('format')!r}, this glm-eval reads format {FORMAT}; make it again with `glm-eval baseline`")
    try:
        return Baseline.model_validate(data)
    except ValidationError as exc:
        raise UserError(describe_validation_error(exc, Baseline, str(path))) from None
