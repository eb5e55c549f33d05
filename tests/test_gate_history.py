"""`glm-eval history`: every run under a folder in one table (figures from harness.stats and
harness.cost), written as CSV, and one trend chart per task."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from PIL import Image
from test_gate import gate
from test_report_fixtures import make_run

from harness import records, results, stats
from harness.gate.history import COLUMNS, gather
from harness.gate.trend import SIZE

MODELS = ("glm-4.5", "glm-4.5-air")
TASKS = ("math500", "gpqa_diamond")


def dated_run(root: Path, name: str, day: int, simulated: bool = True, n_items: int = 30) -> Path:
    run = make_run(root, name, models=MODELS, tasks=TASKS, seed=day, simulated=simulated,
                   provider="simulated" if simulated else "zai", n_items=n_items)
    manifest = records.read_manifest(run)
    manifest.started = f"2025-09-{day:02d}T08:30:00+00:00"
    manifest.git_commit = f"{day:02d}" + "ab" * 19
    if n_items != 30:
        for record in manifest.tasks.values():
            record.fingerprint = "e" * 64
    records.write_manifest(run, manifest)
    return run


@pytest.fixture()
def root(tmp_path: Path) -> Path:
    """Four runs written out of date order, one on other items, one real; a folder that is not a run."""
    dated_run(tmp_path, "late", 20, simulated=False)
    dated_run(tmp_path / "nested", "early", 2)
    dated_run(tmp_path, "middle", 9, n_items=40)
    dated_run(tmp_path, "later", 14)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / results.MANIFEST).write_text("{}")
    return tmp_path


def test_history_is_one_row_per_run_model_and_task_oldest_first(root: Path):
    found = gather(root)
    table = found.table
    assert list(table.columns) == COLUMNS
    assert len(table) == 4 * len(MODELS) * len(TASKS)
    assert list(dict.fromkeys(table["run_id"])) == ["nested/early", "middle", "later", "late"]
    assert list(table["task"].unique()) == ["math500", "gpqa_diamond"] and list(table["model"].unique()) == list(MODELS)
    assert len(found.skipped) == 1 and "broken" in found.skipped[0]
    late = table[table["run_id"] == "late"]
    assert not late["simulated"].any() and (late["provider"] == "zai").all()
    assert (late["cost"] > 0).all() and (late["currency"] == "USD").all()
    simulated = table[table["simulated"]]
    assert (simulated["priced_as"] == "cometapi").all(), "a simulated run's tokens are priced as its report prices them"
    summary = stats.summarize(results.read_samples(root / "late")).set_index(["model", "task"])
    for row in late.itertuples():
        expected = summary.loc[(row.model, row.task)]
        assert (row.accuracy, row.ci_low, row.ci_high, row.n_items) == pytest.approx(
            (expected["accuracy"], expected["ci_low"], expected["ci_high"], expected["n_items"]))
    assert set(table.loc[table["run_id"] == "middle", "fingerprint"]) == {"e" * 12}


def test_history_command_writes_csv_and_a_chart_per_task(root: Path, tmp_path: Path, capsys):
    out = tmp_path / "report" / "trend.csv"
    assert gate("history", root, "--out", out) == 0
    printed = capsys.readouterr().out
    assert "skipped:" in printed and "SIMULATED" in printed
    table = pd.read_csv(out)
    assert len(table) == 16 and list(table.columns) == COLUMNS
    for task in TASKS:
        with Image.open(out.parent / f"trend-{task}.png") as png:
            assert png.size == (round(SIZE[0] * 150), round(SIZE[1] * 150))
            assert round(png.info["dpi"][0]) == 150
            assert "SIMULATED" in png.info["Title"], "mixed runs: the title says which markers are simulated"


def test_history_defaults_to_root_and_refuses_an_empty_folder(root: Path, tmp_path: Path, capsys):
    assert gate("history", root) == 0
    assert (root / "history.csv").exists() and (root / "history-math500.png").exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    assert gate("history", empty) == 2
    assert gate("history", tmp_path / "missing") == 2
    assert "no run folders under" in capsys.readouterr().err


def test_a_simulated_runs_history_row_costs_what_its_report_says(tmp_path: Path):
    """One pricing rule (cost.preset_of): the history priced a simulated run as unpriced while its
    own report priced it as cometapi."""
    from harness.report.costs import price_runs
    from harness.runs import load_runs

    run = dated_run(tmp_path, "sim", 3)
    history = gather(tmp_path).table
    report = price_runs(load_runs([run])).by_task
    assert set(history["priced_as"]) == {"cometapi"} and set(report["priced_as"]) == {"cometapi"}
    costs = {(str(r.model), str(r.task)): r.cost for r in history.itertuples()}
    assert costs == pytest.approx({(str(r.model), str(r.task)): float(r.cost) for r in report.itertuples()})
