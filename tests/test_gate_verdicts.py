"""The gate's verdicts on hand-made per-item counts, its false-alarm rate over many draws with no
change, and the baseline file: complete runs only, read back as written."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_report_fixtures import make_run

from harness import stats
from harness.errors import UserError
from harness.gate.baseline import make_baseline, read_baseline, write_baseline
from harness.gate.check import Pair, judge, judge_all
from harness.runs import load_run


def items(correct: list[int], samples: int = 1) -> pd.DataFrame:
    return pd.DataFrame({"item_id": [f"q{i}" for i in range(len(correct))], "n_samples": samples, "n_correct": correct})


def verdict(base: list[int], current: list[int], tolerance_pts: float = 1.0, alpha: float = 0.025) -> str:
    return judge(Pair("m", "t", items(base), items(current)), tolerance_pts, alpha).verdict


def test_verdicts_on_hand_made_counts():
    right = [1] * 100
    twenty_lost = [0] * 20 + [1] * 80
    assert verdict(right, twenty_lost) == "regressed"  # -20 points, interval about [-28, -12]
    assert verdict(twenty_lost, right) == "improved"
    # no change, every item right both times: no spread, but 100 items cannot rule out a 1-point drop
    assert verdict(right, right) == "inconclusive"
    assert verdict([1] * 2000, [1] * 2000) == "ok", "2,000 items all right twice do rule it out"
    assert verdict(right, right, tolerance_pts=5) == "ok"
    # 1000 items, 2 lost and 2 gained: the interval is about +-0.4 points, inside the tolerance
    base = [0, 0] + [1] * 996 + [1, 1]
    assert verdict(base, [1, 1] + [1] * 996 + [0, 0]) == "ok"
    # 10 items, one lost: -10 points, but the interval [-30, +10] cannot tell
    assert verdict([1] * 10, [0] + [1] * 9) == "inconclusive"
    # one item has no standard error: never a regression, however large the drop
    assert verdict([1], [0]) == "inconclusive"


def test_a_regression_is_exactly_an_interval_below_minus_the_tolerance():
    rng = np.random.default_rng(7)
    for _ in range(30):
        n = int(rng.integers(5, 80))
        base = items(rng.binomial(3, 0.8, n).tolist(), 3)
        current = items(rng.binomial(3, rng.uniform(0.5, 0.95), n).tolist(), 3)
        cell = judge(Pair("m", "t", base, current), 2.0, 0.05)
        assert (cell.verdict == "regressed") == (cell.high < -0.02)
        assert (cell.verdict == "improved") == (cell.low > 0)
        assert (cell.verdict == "ok") == (-0.02 <= cell.low <= 0 and cell.high >= -0.02)


def test_alpha_is_split_over_the_cells():
    """A drop shown at 0.05 on its own but not at 0.05 / 3 regresses alone, not beside two cells."""
    right, lost = [1] * 40, [0] * 4 + [1] * 36  # -10 points over 40 items: one-sided p about 0.03
    alone = judge_all([Pair("m", "a", items(right), items(lost))], 1.0, 0.05)
    assert [c.verdict for c in alone] == ["regressed"]
    grouped = judge_all([Pair("m", t, items(right), items(lost if t == "a" else right)) for t in "abc"], 1.0, 0.05)
    assert grouped[0].verdict == "inconclusive" and grouped[0].low < alone[0].low


def test_noise_fails_at_most_alpha_of_the_checks():
    """Cells shaped like the smoke suite (item difficulty shared by both runs, as in the simulator)
    and no change between baseline and run: the share of checks that any cell fails, with the
    gate's test at the gate's level (alpha split over the cells), over many draws at once.
    bench/gate_false_alarms.py measures the same through `glm-eval run` and `check`."""
    rng = np.random.default_rng(2026)
    cells = [(50, 2, 0.98), (50, 4, 0.79), (30, 2, 0.91)]  # items, samples per item, accuracy
    reps, alpha = 20_000, 0.05
    regressed = np.zeros(reps, dtype=bool)
    for n, k, accuracy in cells:
        p = 1 / (1 + np.exp(-(np.log(accuracy / (1 - accuracy)) + 1.5 * rng.normal(size=n))))
        diffs = (rng.binomial(k, p, (reps, n)) - rng.binomial(k, p, (reps, n))) / k
        regressed |= stats.one_sided_drop_test(diffs, 1.0, alpha / len(cells)).p_value < alpha / len(cells)
    assert regressed.mean() <= alpha, f"{regressed.mean():.4f} of unchanged checks failed"


def test_baseline_refuses_a_run_with_failed_requests(tmp_path: Path):
    run = load_run(make_run(tmp_path))  # the synthetic run has about 2% failed requests
    with pytest.raises(UserError, match="requests failed .* run the same `glm-eval run` command again"):
        make_baseline(run)


def complete_run(tmp_path: Path) -> Path:
    folder = make_run(tmp_path, models=("glm-4.5-air", "glm-4.5"), tasks=("gpqa_diamond", "math500"))
    lines = [json.loads(line) for line in (folder / "samples.jsonl").read_text().splitlines()]
    for line in lines:
        if line["status"] == "failed":
            line["status"], line["correct"] = "ok", False
    (folder / "samples.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    manifest = json.loads((folder / "manifest.json").read_text())
    for record in manifest["tasks"].values():
        record["grader"] = "math"
    (folder / "manifest.json").write_text(json.dumps(manifest))
    return folder


def test_baseline_round_trip_in_the_family_order(tmp_path: Path):
    baseline = make_baseline(load_run(complete_run(tmp_path)))
    path = tmp_path / "baselines" / "b.json"
    write_baseline(baseline, path)
    assert read_baseline(path) == baseline
    assert [(c.model, c.task) for c in baseline.cells] == [
        ("glm-4.5", "math500"), ("glm-4.5", "gpqa_diamond"), ("glm-4.5-air", "math500"), ("glm-4.5-air", "gpqa_diamond"),
    ]
    text = path.read_text()
    assert len(text.splitlines()) < 100, "the per-item lists stay on one line each"
    cell = baseline.cells[0]
    assert cell.accuracy == pytest.approx(np.mean(np.array(cell.n_correct) / np.array(cell.n_samples)), abs=1e-6)


def test_a_baseline_of_another_format_or_inconsistent_counts_is_refused(tmp_path: Path):
    baseline = make_baseline(load_run(complete_run(tmp_path)))
    path = tmp_path / "b.json"
    data = baseline.model_dump()
    path.write_text(json.dumps({**data, "format": 2}))
    with pytest.raises(UserError, match="format 2"):
        read_baseline(path)
    data["cells"][0]["n_correct"] = data["cells"][0]["n_correct"][:-1]
    path.write_text(json.dumps(data))
    with pytest.raises(UserError, match="differ in length"):
        read_baseline(path)


def test_alpha_spending_spends_the_cells_alpha_over_the_looks():
    from harness.gate.sequential import rounds, spending

    levels = spending(0.01, [0.25, 0.5, 0.75, 1.0])
    assert sum(levels) == pytest.approx(0.01) and levels == sorted(levels), "little early, most at the last look"
    assert levels[0] < 1e-4
    assert rounds(30, 4) == [8, 15, 23, 30] and rounds(3, 4) == [2, 3]
