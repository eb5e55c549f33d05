"""Running an evaluation from Python: the command line's `glm-eval run`, as a function that returns data.

    from harness import api
    results = api.run(provider="simulated", models=["glm-4.5", "glm-4.5-air"], tasks=["math500"], limit=20, samples=1)
    results.summary[["model", "task", "accuracy", "ci_low", "ci_high"]]

The settings are `glm-eval run`'s flags by their long names (`max_tokens`, `data_dir`, ...), or a
suite file with flags over it, exactly as on the command line; the command line calls this. What
comes back is the run's folder, its exit code and the tables a report is drawn from. A script that
calls it must do so under `if __name__ == "__main__":` (the grading workers import the script).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from rich.console import Console

from harness import evaluate, phases
from harness.config import validate
from harness.records import Manifest, read_manifest
from harness.runspec import RunSpec, load_suite
from harness.runview import RunView


@dataclass(frozen=True)
class Results:
    run_dir: Path
    exit_code: int  # as `glm-eval run` exits: 0 complete, 1 incomplete (see the README)
    manifest: Manifest
    samples: pd.DataFrame  # one row per model x task x item x sample (samples.jsonl)
    summary: pd.DataFrame  # per model x task: accuracy, its intervals, pass@k, maj@k, shares (stats.summarize)
    usage: pd.DataFrame  # per model x task: tokens and latency (stats.usage_summary)
    report: Path | None  # the report folder, when one was written

    @property
    def complete(self) -> bool:
        return self.exit_code == 0


def run(suite: Path | str | None = None, *, report: bool = True, console: Console | None = None, **settings: Any) -> Results:
    """Run an evaluation; `settings` are `glm-eval run`'s flags, by their long names."""
    fields: dict[str, Any] = load_suite(Path(suite)) if suite is not None else {}
    for name, value in settings.items():
        if name not in RunSpec.model_fields:
            raise TypeError(f"run() got an unknown setting {name!r}; the settings are: {', '.join(RunSpec.model_fields)}")
        if value is not None:
            fields[name] = [v.strip() for v in value.split(",")] if name in ("models", "tasks", "items") and isinstance(value, str) else value
    spec = validate(fields, RunSpec, str(suite) if suite is not None else "run() settings")
    argv = [*([str(suite)] if suite is not None else []), *(f"--{k.replace('_', '-')}={v}" for k, v in settings.items() if v is not None)]
    return run_spec(spec, argv, console or Console(quiet=True), report)


def run_spec(spec: RunSpec, argv: list[str], console: Console, report: bool = True, allow_builtin_sample: bool = False) -> Results:
    """The run behind `glm-eval run` and `glm-eval demo`: send, grade, write the run folder and, when
    `report`, the report; print the summary on `console`."""
    from harness.report import default_folder, print_summary, write_figures  # noqa: PLC0415  (the report stack loads matplotlib: only when a run is made)
    from harness.report.figures import collect
    from harness.runs import load_runs

    result = evaluate.execute(spec, argv, RunView(console), allow_builtin_sample)
    with phases.phase("finish"):
        figures = collect(load_runs([result.run_dir]))
        files = write_figures(figures, default_folder(figures.runs)) if report else []
        folder = files[0].parent if files else None
        print_summary(figures, console, folder)
    console.print(f"samples: {result.run_dir / 'samples.jsonl'}  manifest: {result.run_dir / 'manifest.json'}")
    return Results(
        run_dir=result.run_dir,
        exit_code=result.exit_code,
        manifest=read_manifest(result.run_dir),
        samples=figures.runs.scores,
        summary=figures.summary,
        usage=figures.usage,
        report=folder,
    )
