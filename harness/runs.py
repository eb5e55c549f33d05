"""The runs a report or a check is made of, merged into one scores frame.

Reports read only a run's two files (manifest.json, samples.jsonl). When several runs are merged,
the `model` column is rewritten to a label that is unique across runs ("glm-4.5 (run-b)" when
glm-4.5 appears in two runs), so every statistic grouped by model keeps the runs apart; `Runs`
maps each label back to its variant and run, because prices and published figures are per
variant and the SIMULATED mark is per run.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import pandas as pd

from harness import family, results
from harness.errors import UserError
from harness.records import Manifest, read_manifest
from harness.stats.items import STATUSES

SIMULATED = "SIMULATED"
SIMULATED_NOTE = "scores from glm-eval's simulated endpoint (a test double), not measurements of the real models"
# Tasks are shown in this order, variants in the family's own (configs/models.yaml); others
# follow in the order the runs name them.
TASK_ORDER = ("math500", "aime24", "aime25", "gpqa_diamond")


@dataclass(frozen=True, eq=False)
class Run:
    """One run folder: its manifest and its scores frame, as written by `glm-eval run`."""

    path: Path
    name: str
    manifest: Manifest
    scores: pd.DataFrame

    @property
    def simulated(self) -> bool:
        return self.manifest.simulated


def load_run(path: Path) -> Run:
    """Read a run folder, or say which file is missing and what makes one."""
    path = Path(path)
    for file in (results.MANIFEST, results.SAMPLES):
        if not (path / file).is_file():
            raise UserError(f"{path} is not a run folder: {file} is missing (a run folder is what `glm-eval run --out DIR` writes)")
    try:
        manifest = read_manifest(path)
        scores = results.read_samples(path)
    except (ValueError, json.JSONDecodeError) as error:
        raise UserError(f"{path}: cannot read the run ({error})") from None
    if scores.empty:
        raise UserError(f"{path}/{results.SAMPLES} has no samples")
    unknown = sorted(set(scores["status"].dropna().astype(str)) - STATUSES)
    if unknown or scores["status"].isna().any():
        found = ", ".join(unknown) or "missing values"
        raise UserError(
            f"{path}/{results.SAMPLES}: status {found} is not one of {', '.join(sorted(STATUSES))}; the file was edited "
            f"or written by another version of glm-eval: rerun with --cache-only to write it again from the store"
        )
    return Run(path, manifest.run_id or path.name, manifest, scores)


@dataclass(frozen=True, eq=False)
class Runs:
    """Several runs, merged. `scores` is the frame every table and chart is computed from."""

    runs: tuple[Run, ...]
    scores: pd.DataFrame
    labels: tuple[str, ...]
    tasks: tuple[str, ...]
    variant_of: dict[str, str]
    run_of: dict[str, Run]

    @property
    def simulated(self) -> bool:
        return any(run.simulated for run in self.runs)

    @property
    def simulated_labels(self) -> tuple[str, ...]:
        return tuple(label for label in self.labels if self.run_of[label].simulated)

    def simulated_mark(self) -> str:
        """The words every table, chart and page carries when any score is simulated."""
        if not self.simulated:
            return ""
        if all(run.simulated for run in self.runs):
            return f"{SIMULATED}: {SIMULATED_NOTE}"
        names = ", ".join(run.name for run in self.runs if run.simulated)
        return f"{SIMULATED} (runs {names}): {SIMULATED_NOTE}"

    def label(self, run: Run, variant: str) -> str:
        return next(label for label, r in self.run_of.items() if r is run and self.variant_of[label] == variant)


def load_runs(paths: Sequence[Path]) -> Runs:
    """Load and merge run folders; runs with the same id are told apart by position ("run#2")."""
    if not paths:
        raise UserError("name at least one run folder")
    runs = [load_run(Path(p)) for p in paths]
    names = [run.name for run in runs]
    return merge([replace(run, name=f"{run.name}#{i + 1}") if names.count(run.name) > 1 else run for i, run in enumerate(runs)])


def merge(runs: Sequence[Run]) -> Runs:
    """One frame for all runs, with `model` relabelled so that no two runs share a label."""
    seen: dict[str, int] = {}
    for run in runs:
        for variant in run.scores["model"].unique():
            seen[variant] = seen.get(variant, 0) + 1
    frames, variant_of, run_of = [], {}, {}
    for run in runs:
        label_of = {v: v if seen[v] == 1 else f"{v} ({run.name})" for v in run.scores["model"].unique()}
        for variant, label in label_of.items():
            variant_of[label], run_of[label] = variant, run
        frames.append(run.scores.assign(model=run.scores["model"].map(label_of)))
    scores = pd.concat(frames, ignore_index=True)
    variants, run_index = list(seen), {run.name: i for i, run in enumerate(runs)}
    labels = sorted(variant_of, key=lambda label: (_rank(variant_of[label], family.variants(), variants), run_index[run_of[label].name]))
    appearance = list(dict.fromkeys(scores["task"]))
    bases = list(dict.fromkeys(task.partition(":")[0] for task in appearance))
    # a task under another protocol (math500:zai-kit) right after the task itself
    tasks = sorted(appearance, key=lambda task: (_rank(task.partition(":")[0], TASK_ORDER, bases), task.partition(":")[2]))
    return Runs(tuple(runs), scores, tuple(labels), tuple(tasks), variant_of, run_of)


def _rank(name: str, preferred: Sequence[str], others: Sequence[str]) -> tuple[int, int]:
    """Sort key: names in the preferred order first, the rest in the order they came."""
    return (0, preferred.index(name)) if name in preferred else (1, list(others).index(name))
