"""`glm-eval regrade RUN --second-opinion`: a grader audit of a run against the simulated endpoint,
with answers planted that glm-eval's rules and the second method read differently."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from harness.cli import main
from harness.graders import grade
from harness.report import write_report

# Responses glm-eval's rules read right that plain math-verify does not: an interval written as an
# inequality (a leniency of the math grader), and a letter in markdown bold.
PLANTED = {
    "math500": (r"So the solution set is \boxed{3 < x \le 4}", "(3, 4]", "math"),
    "gpqa_diamond": ("Weighing the options once more.\n\n**Answer:** (B)", "B", "mcq"),
}


@pytest.fixture(scope="module")
def simulated_run(mirror: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("second-opinion")
    args = ["run", "--provider", "simulated", "--models", "glm-4.5", "--tasks", "math500,gpqa_diamond", "--limit", "6",
            "--samples", "1", "--data-dir", str(mirror), "--no-report", "--store", str(root / "s.sqlite"), "--out", str(root / "run")]
    assert main(args) == 0
    return root / "run"


@pytest.fixture
def run(simulated_run: Path, tmp_path: Path) -> Path:
    """A copy of the run with one answer per task planted (its glm-eval verdict as the rules give it)."""
    copy = tmp_path / "run"
    shutil.copytree(simulated_run, copy, ignore=shutil.ignore_patterns("report", "second_opinion.csv"))
    rows = samples(copy)
    for task, (response, gold, grader) in PLANTED.items():
        row = next(r for r in rows if r["task"] == task and r["status"] == "ok")
        verdict = grade(grader, response, gold)
        row.update(response=response, gold=gold, correct=verdict.correct, extracted=verdict.extracted, reason=verdict.reason)
    (copy / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return copy


def samples(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "samples.jsonl").read_text().splitlines()]


def planted(opinion: pd.DataFrame, run: Path) -> pd.DataFrame:
    ids = {(r["task"], str(r["item_id"])) for r in samples(run) if (r["response"], r["gold"]) in {(p[0], p[1]) for p in PLANTED.values()}}
    return opinion[[(t, i) in ids for t, i in zip(opinion["task"], opinion["item_id"])]].set_index("task")


def test_math_verify_second_opinion_lists_planted_disagreements_and_leaves_verdicts(run: Path, capsys):
    before = (run / "samples.jsonl").read_text()
    assert main(["regrade", str(run), "--second-opinion"]) == 0
    out = capsys.readouterr().out
    assert (run / "samples.jsonl").read_text() == before, "a second opinion never changes the run's verdicts"
    opinion = pd.read_csv(run / "second_opinion.csv", dtype={"item_id": str})
    assert len(opinion) == 12 and set(opinion["method"]) == {"math-verify"}
    found = planted(opinion, run)
    assert found.loc["math500", ["glm_eval_correct", "second_correct", "agree"]].tolist() == [True, False, False]
    assert found.loc["gpqa_diamond", ["glm_eval_correct", "second_correct", "second_reason"]].tolist() == [True, False, "no answer found"]
    assert found.loc["math500", "second_extracted"] == r"3 < x \le 4" and found.loc["gpqa_diamond", "glm_eval_extracted"] == "B"
    disagreements = int((~opinion["agree"]).sum())
    assert "Disagreements: glm-eval against math-verify" in out and "**Answer:** (B)" not in out
    assert f"second opinion by math-verify: 12 graded samples, {disagreements} disagreements" in out
    for task in ("MATH-500", "GPQA-Diamond"):
        mine = opinion[opinion["task"] == {"MATH-500": "math500", "GPQA-Diamond": "gpqa_diamond"}[task]]
        rate = 100 * (~mine["agree"]).mean()
        assert f"{rate:.1f}" in next(line for line in out.splitlines() if task in line and "glm-4.5" in line)


def test_the_report_shows_the_disagreement_rate_and_the_method(run: Path, capsys):
    assert main(["regrade", str(run), "--second-opinion", "math-verify"]) == 0
    opinion = pd.read_csv(run / "second_opinion.csv")
    written = {p.name: p for p in write_report([run])}
    rates = pd.read_csv(written["second_opinion.csv"]).set_index("task")
    math = opinion[opinion["task"] == "math500"]
    assert rates.loc["math500", "disagreement_rate"] == pytest.approx((~math["agree"]).mean())
    assert rates.loc["math500", "accuracy"] == pytest.approx(math["glm_eval_correct"].mean())
    assert rates.loc["math500", "accuracy_move"] == pytest.approx(math["second_correct"].mean() - math["glm_eval_correct"].mean())
    md = written["summary.md"].read_text()
    assert "## Grading" in md and "Second opinion (math-verify): disagreement with glm-eval's grading (SIMULATED)" in md
    grading = md.split("## Grading", 1)[1].split("\n## ", 1)[0]
    gpqa = next(line for line in grading.splitlines() if line.startswith("| glm-4.5 | GPQA-Diamond |"))
    assert f"| {100 * rates.loc['gpqa_diamond', 'disagreement_rate']:.1f} |" in gpqa
    assert 'id="second_opinion"' in written["report.html"].read_text()


def test_judge_second_opinion_asks_through_the_store_once(run: Path, capsys):
    rows = samples(run)
    wrong = next(r for r in rows if r["task"] == "math500" and r["correct"] and (r["response"], r["gold"]) != PLANTED["math500"][:2])
    wrong["correct"] = False  # a verdict the judge will not share: the audit must list it
    (run / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    args = ["regrade", str(run), "--second-opinion", "judge", "--judge", "simulated:glm-4.5"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "judge simulated:glm-4.5: 12 questions; 0 already stored, 12 to send" in out
    opinion = pd.read_csv(run / "second_opinion.csv", dtype={"item_id": str})
    assert set(opinion["method"]) == {"judge simulated:glm-4.5"}
    flipped = opinion[(opinion["task"] == "math500") & (opinion["item_id"] == str(wrong["item_id"]))].iloc[0]
    assert (flipped["glm_eval_correct"], flipped["second_correct"], flipped["second_reason"]) == (False, True, "judge: equivalent")
    assert main(args) == 0
    assert "12 questions; 12 already stored, 0 to send" in capsys.readouterr().out, "the judge's answers are never paid twice"


def test_bad_folders_and_flags_are_refused_with_the_fix(run: Path, tmp_path: Path, capsys):
    assert main(["regrade", str(tmp_path / "nowhere"), "--second-opinion"]) == 2
    assert "is not a run folder (no manifest.json)" in capsys.readouterr().err
    assert main(["regrade", str(run), "--second-opinion", "judge"]) == 2
    assert "--second-opinion judge needs a judge model: give one with --judge PROVIDER:MODEL" in capsys.readouterr().err
    assert main(["regrade", str(run), "--judge", "simulated:glm-4.5"]) == 2
    assert "--judge and --data-dir go with --second-opinion judge" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main(["regrade", str(run), "--second-opinion", "llm"])
    assert exit_.value.code == 2
    assert not (run / "second_opinion.csv").exists()


def test_ambiguous_answers_are_counted_as_their_own_share(run: Path, capsys):
    """A grader that will not guess between a letter mentioned and a letter chosen says "ambiguous":
    counted wrong, and shown beside truncated per variant and task wherever shares are."""
    from rich.console import Console

    from harness.report.figures import collect
    from harness.report.terminal import print_summary
    from harness.runs import load_runs

    rows = samples(run)
    row = next(r for r in rows if r["task"] == "gpqa_diamond" and r["correct"])
    row.update(response="It is (A) or (C); (C) fits better, though (A) cannot be ruled out.", correct=False, extracted=None,
               normalized=None, reason="ambiguous")
    (run / "samples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    written = {p.name: p for p in write_report([run])}
    figures = pd.read_csv(written["figures.csv"])
    overall = figures[figures["breakdown"].isna()].set_index("task")
    assert overall.loc["gpqa_diamond", "ambiguous_share"] == pytest.approx(1 / 6) and overall.loc["math500", "ambiguous_share"] == 0
    summary = pd.read_csv(written["summary.csv"]).set_index("variant")
    assert summary.loc["glm-4.5", "GPQA-Diamond, ambiguous %"] == pytest.approx(16.7)
    md = written["summary.md"].read_text()
    assert "| truncated % | ambiguous % | filtered % |" in md
    assert "ambiguous %" in written["report.html"].read_text()
    console = Console(width=200, record=True)
    print_summary(collect(load_runs([run])), console)
    assert "ambiguous: glm-4.5 GPQA-Diamond: 16.7% of answers (counted wrong" in console.export_text()


def test_plain_math_verify_grades_in_the_pool_and_refuses_what_it_cannot_read():
    from harness.graders import GradeCase, GradingPool
    from harness.graders.pool import MATH_VERIFY

    with GradingPool(workers=1) as pool:
        first_box, bold, cut = pool.grade_many([
            GradeCase("math", r"First \boxed{3}, then correcting: \boxed{4}", "4", "stop", method=MATH_VERIFY),
            GradeCase("mcq", "**Answer:** (B)", "B", "stop", method=MATH_VERIFY),
            GradeCase("integer", r"\boxed{42}", "42", "length", method=MATH_VERIFY),
        ])
        assert (first_box.correct, first_box.extracted) == (False, "3,4"), "math-verify reads every box, glm-eval the last"
        assert (bold.correct, bold.reason) == (False, "no answer found")
        assert (cut.correct, cut.extracted, cut.reason) == (False, "42", "truncated: finish_reason=length")
        with pytest.raises(ValueError, match="no math-verify reading of 'exact' answers"):
            pool.grade_many([GradeCase("exact", "yes", "yes", None, method=MATH_VERIFY)])
