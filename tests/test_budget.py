"""The token budget and thinking on vs off: what a lower max_tokens would have scored, from one
run's token counts, and what thinking buys per variant."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness import stats
from harness.cli import main
from harness.runs import load_run
from harness.stats.caps import cap_curve, caps_for, sentence, sufficient_caps


def _scores(rows: list[tuple[str, int, bool, int | None, str]]) -> pd.DataFrame:
    return pd.DataFrame(
        [{"model": "m", "task": "t", "item_id": item, "sample": sample, "correct": correct, "completion_tokens": used, "status": status,
          "normalized": None} for item, sample, correct, used, status in rows]
    )


def test_an_answer_counts_only_at_caps_it_fits_under():
    scores = _scores([
        ("a", 0, True, 1000, "ok"), ("a", 1, True, 5000, "ok"),
        ("b", 0, False, 9000, "ok"), ("b", 1, True, 3000, "ok"),
        ("c", 0, False, 8192, "truncated"), ("c", 1, True, 700, "ok"),
        ("d", 0, False, None, "failed"), ("d", 1, True, 2000, "ok"),
    ])
    curve = cap_curve(scores, 8192).set_index("cap")
    assert list(curve.index) == [1024, 2048, 4096, 6144, 8192]
    # per item at 4096: a 1/2, b 1/2, c 1/2 (the truncated one never counts), d 1/1 (the failed one is no sample)
    assert curve.loc[4096, "accuracy"] == pytest.approx((0.5 + 0.5 + 0.5 + 1.0) / 4)
    assert curve.loc[1024, "accuracy"] == pytest.approx((0.5 + 0 + 0.5 + 0) / 4)
    assert curve.loc[8192, "accuracy"] == pytest.approx(stats.summarize(scores).iloc[0]["accuracy"]), "at its own cap: the run's score"
    assert curve.loc[4096, "truncated_share"] == pytest.approx(3 / 7)  # 5000, 9000 and the truncated 8192
    assert curve.loc[1024, "output_tokens"] == pytest.approx(np.mean([1000, 1024, 1024, 1024, 1024, 700, 1024]))


def test_a_group_with_an_unknown_token_count_has_no_curve():
    scores = _scores([("a", 0, True, 1000, "ok"), ("b", 0, True, None, "ok")])
    assert cap_curve(scores, 4096).empty


def test_the_smallest_sufficient_cap_and_its_sentence():
    scores = _scores([(str(i), 0, True, 3000 if i < 90 else 40000, "ok") for i in range(100)])
    curve = cap_curve(scores, 81920, row_cost=lambda rows: rows["completion_tokens"] * 1e-6)
    enough = sufficient_caps(curve).iloc[0]
    assert enough["cap"] == 49152 and enough["gain_pts"] == 0.0, "10 answers need 40,000 tokens: the first cap that fits them all"
    scores.loc[scores["item_id"] == "99", "completion_tokens"] = 70000
    enough = sufficient_caps(cap_curve(scores, 81920, row_cost=lambda rows: rows["completion_tokens"] * 1e-6)).iloc[0]
    assert enough["cap"] == 49152 and enough["gain_pts"] == pytest.approx(1.0), "one item of 100 is within a point"
    assert enough["ratio_of"] == "cost" and enough["ratio"] > 1
    line = sentence(enough, "AIME 2024")
    assert line.startswith("m reaches its AIME 2024 score by 48k tokens; 81,920 costs ") and line.endswith("x for +1.0 points")
    assert caps_for(20000)[-2:] == [16384, 20000]


def _run(tmp_path: Path, mirror: Path, name: str, *extra: str) -> int:
    return main(["run", "--provider", "simulated", "--models", "glm-4.5-air", "--tasks", "aime24", "--samples", "6",
                 "--data-dir", str(mirror), "--out", str(tmp_path / name), "--store", str(tmp_path / "store.sqlite"), *extra])


def test_the_curve_tells_what_a_run_at_a_lower_cap_scores(tmp_path: Path, mirror: Path, capsys):
    assert _run(tmp_path, mirror, "full") == 0
    out = capsys.readouterr().out
    assert "token budget: glm-4.5-air reaches its AIME 2024 score by" in out
    report = tmp_path / "full" / "report"
    assert "## Token budget" in (report / "summary.md").read_text()
    assert (report / "charts" / "token_budget.png").stat().st_size > 20_000
    curve = cap_curve(load_run(tmp_path / "full").scores, 81920).set_index("cap")
    assert 0.1 < curve.loc[16384, "truncated_share"] < 0.6, "the simulated lengths have a tail that 16k cuts"
    assert _run(tmp_path, mirror, "at16k", "--max-tokens", "16384", "--no-report") == 0
    separate = stats.summarize(load_run(tmp_path / "at16k").scores).iloc[0]
    assert curve.loc[16384, "ci_low"] <= separate["accuracy"] <= curve.loc[16384, "ci_high"]
    assert separate["truncated_share"] == pytest.approx(curve.loc[16384, "truncated_share"], abs=0.1)


def test_thinking_on_and_off_in_one_run_are_keyed_apart_and_paired(tmp_path: Path, mirror: Path, capsys):
    args = ["run", "--provider", "simulated", "--models", "glm-4.5-air", "--tasks", "math500", "--limit", "40", "--samples", "2",
            "--thinking", "on,off", "--data-dir", str(mirror), "--out", str(tmp_path / "both"), "--store", str(tmp_path / "store.sqlite")]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "Thinking on against thinking off (SIMULATED)" in out
    with sqlite3.connect(tmp_path / "store.sqlite") as db:
        assert db.execute("SELECT count(*) FROM responses").fetchone()[0] == 2 * 40 * 2, "both modes stored, keyed apart"
    on, off = (json.loads((tmp_path / "both" / f"thinking-{m}" / "manifest.json").read_text()) for m in ("on", "off"))
    assert on["sampling"]["thinking"] is True and off["sampling"]["thinking"] is False
    summary = (tmp_path / "both" / "report" / "summary.md").read_text()
    row = next(line for line in summary.splitlines() if line.startswith("| glm-4.5-air | MATH-500 |") and "/" in line)
    assert float(row.split("|")[4]) > float(row.split("|")[3]), "the simulator's thinking-off accuracy is lower, and the table says so"
    assert (tmp_path / "both" / "report" / "charts" / "thinking.png").stat().st_size > 20_000
    assert main(args) == 0
    assert json.loads((tmp_path / "both" / "thinking-off" / "manifest.json").read_text())["totals"]["requests_sent"] == 0


def test_both_thinking_modes_are_run_s_alone(capsys):
    assert main(["audit", "--providers", "simulated@faithful,simulated@fp8", "--models", "glm-4.5-air", "--tasks", "math500",
                 "--thinking", "on,off"]) == 2
    assert "both modes in one go is `glm-eval run`'s" in capsys.readouterr().err
