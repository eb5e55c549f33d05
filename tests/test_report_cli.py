"""Reports from a real `glm-eval run` against the simulated endpoint (real HTTP, grading and
manifest): the report, the end-of-run summary and a comparison read its two files as written."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from rich.console import Console

from harness import results, stats
from harness.cli import main
from harness.report import write_report
from harness.report.comparison import compare
from harness.report.figures import collect
from harness.report.terminal import print_summary
from harness.runs import load_runs


@pytest.fixture(scope="module")
def run(mirror: Path, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "run"
    args = ["run", "--provider", "simulated", "--models", "glm-4.5,glm-4.5-air", "--tasks", "math500,aime24,gpqa_diamond",
            "--samples", "2", "--limit", "8", "--data-dir", str(mirror), "--out", str(out),
            "--store", str(out.parent / "store.sqlite")]
    assert main(args) == 0
    return out


def test_report_of_a_simulated_cli_run(run: Path):
    written = {p.name: p for p in write_report([run])}
    assert {"summary.md", "summary.csv", "figures.csv", "report.html", "accuracy.png", "math500_subjects.png"} <= set(written)
    table = pd.read_csv(written["summary.csv"]).set_index("variant")
    summary = stats.summarize(results.read_samples(run)).set_index(["model", "task"])
    for (model, task), row in summary.iterrows():
        column = {"math500": "MATH-500", "aime24": "AIME 2024", "gpqa_diamond": "GPQA-Diamond"}[task]
        assert table.loc[model, column].startswith(f"{100 * row.accuracy:.1f} [{100 * row.ci_low:.1f}, {100 * row.ci_high:.1f}]")
    md = written["summary.md"].read_text()
    assert "priced as cometapi" in md and "(SIMULATED)" in md and "GPQA-Diamond by domain" in md


def test_summary_and_comparison_of_a_cli_run(run: Path):
    console = Console(record=True, width=200)
    print_summary(collect(load_runs([run])), console, run / "report")
    assert "SIMULATED" in console.export_text()
    result = compare(run, None, "glm-4.5", "glm-4.5-air")
    assert set(result.rows["task"]) == {"math500", "aime24", "gpqa_diamond"} and (result.rows["n_items"] == 8).all()
