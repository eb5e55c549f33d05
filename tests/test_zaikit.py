"""The zai-kit protocol: Z.ai's glm-simple-evals' rules one by one, and the gap breakdown between
glm-eval's strict score and the kit's, which must add up, item by item, for every task."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pandas as pd
import pytest

from harness import zaikit
from harness.cli import main
from harness.evaluate import prepare
from harness.report.figures import collect
from harness.report.protocols import REQUESTS, gap_breakdown, gap_tables
from harness.runs import load_runs
from harness.runspec import RunSpec


def test_the_kit_grades_the_reasoning_minus_its_tail_when_there_is_no_content():
    reasoning = "so the answer should be \\boxed{7}. " + "x" * 600
    assert zaikit.kit_text("The answer is \\boxed{3}.", reasoning) == "The answer is \\boxed{3}."
    assert zaikit.kit_text("", reasoning) == "so the answer should be \\boxed{7}. " + "x" * 88
    assert zaikit.last_boxed(zaikit.kit_text(None, reasoning)) == "7"
    assert zaikit.kit_text("", "short") == "" and zaikit.kit_text(None, None) == ""


def test_only_a_closed_boxed_brace_is_read():
    assert zaikit.last_boxed("first \\boxed{1}, then \\boxed{\\frac{1}{2}}") == "\\frac{1}{2}"
    assert zaikit.last_boxed("\\boxed{3") is None, "never closed"
    assert zaikit.last_boxed("\\fbox{3}") is None, "found, but remove_boxed takes only the \\boxed{ spelling"
    assert zaikit.last_boxed("\\boxed 5 is {x}") is None
    assert zaikit.last_boxed("no box here") is None


def test_the_checkers_replies_are_read_as_the_kit_reads_them():
    assert zaikit.says_equal("Yes") and zaikit.says_equal("No. (Though yes, they look alike.)"), "any 'yes' counts"
    assert not zaikit.says_equal("No")
    assert zaikit.read_choice("<CHOICE>: B") == "B" and zaikit.read_choice("B) the second") == "B"
    assert zaikit.read_choice("<CHOICE>: None") == "N" and not zaikit.is_letter("N")
    assert zaikit.is_letter(zaikit.read_choice("")), "the kit's `in \"ABCD\"` lets an empty reply through: scored 0, no random letter"
    assert zaikit.random_letter("key-1") == zaikit.random_letter("key-1") in zaikit.LETTERS


def test_the_checker_sees_the_last_five_lines_of_the_last_1024_characters():
    text = "\n".join(f"line {i}" for i in range(400)) + "\nso I pick \\boxed{C}"
    shown = zaikit.choice_answer(text)
    assert shown == "C", "a box in the last lines is all the checker is shown"
    plain = zaikit.choice_answer("A is wrong\n" + "filler\n" * 10 + "ANSWER: D")
    assert plain.splitlines() == ["filler"] * 4 + ["ANSWER: D"]
    assert zaikit.choice_prompt("Q?\n\nA) x", "ANSWER: D").lstrip().startswith(zaikit.CHOICE_HEADER)


def test_each_rule_is_a_step_and_the_last_is_the_score():
    math = zaikit.math_verdict(strict=False, boxed=False, cut_off=False, extracted="5", reply="Yes")
    assert list(math.steps) == list(zaikit.MATH_STEPS) and math.correct and math.decided_by == zaikit.JUDGE_FALLBACK
    cut = zaikit.math_verdict(strict=False, boxed=False, cut_off=True, extracted="4", reply=None)
    assert cut.correct and cut.decided_by == zaikit.CUT_OFF
    gold = zaikit.random_letter("k")
    drawn = zaikit.choice_verdict(strict=False, cut_off=False, gold=gold, reply="<CHOICE>: None", key="k")
    assert drawn.steps[zaikit.CHECKER_LETTER] is False and drawn.correct, "the random letter is the sample's own draw"
    empty = zaikit.choice_verdict(strict=False, cut_off=False, gold="A", reply="", key="k")
    assert not empty.correct


def test_the_kit_sends_no_top_p_and_poses_gpqa_bare(mirror: Path):
    fields = {"provider": "simulated", "models": ["glm-4.5-air"], "tasks": ["math500", "gpqa_diamond"], "limit": 2, "data_dir": mirror}
    strict, _ = prepare(RunSpec(**fields), need_key=False)
    kit, _ = prepare(RunSpec(**fields, protocol="zai-kit", judge="simulated:glm-4.5"), need_key=False)
    assert set(kit.tasks) == {"math500:zai-kit", "gpqa_diamond:zai-kit"}
    strict_body, kit_body = strict.body(strict.jobs[0]), kit.body(kit.jobs[0])
    assert strict_body["top_p"] == 0.95 and "top_p" not in kit_body
    assert {k: v for k, v in strict_body.items() if k != "top_p"} == kit_body, "otherwise the same request"
    gpqa = next(job for job in kit.jobs if job.task.startswith("gpqa"))
    assert kit.prompt(gpqa).messages[-1]["content"].startswith(kit.item(gpqa).question), "the bare question, no instruction"
    with pytest.raises(ValueError, match="sends no top_p"):
        RunSpec(**fields, protocol="zai-kit", top_p=0.9)


def test_the_kit_needs_a_checker_model(mirror: Path, capsys):
    assert main(["run", "--provider", "simulated", "--models", "glm-4.5-air", "--tasks", "math500", "--limit", "2",
                 "--protocol", "zai-kit", "--data-dir", str(mirror)]) == 2
    assert "with a checker model: give one with --judge" in capsys.readouterr().err


def _run(tmp_path: Path, mirror: Path, protocol: str) -> list[str]:
    return ["run", "--provider", "simulated", "--models", "glm-4.5-air", "--tasks", "math500,aime24,gpqa_diamond", "--limit", "30",
            "--samples", "3", "--protocol", protocol, "--judge", "simulated@lenient-checker:glm-4.5", "--max-tokens", "12000",
            "--data-dir", str(mirror), "--out", str(tmp_path / "gap"), "--store", str(tmp_path / "store.sqlite")]


def test_the_gap_breakdown_adds_up_for_every_task(tmp_path: Path, mirror: Path, capsys):
    """Truncations planted (a 12,000-token cap cuts AIME's reasoning), a lenient checker planted:
    each rule's part is found, and the parts add up to the gap, item by item."""
    assert main(_run(tmp_path, mirror, "strict,zai-kit")) == 0
    out = capsys.readouterr().out
    assert "strict against zai-kit: where the gap comes from" in out
    runs = load_runs([tmp_path / "gap" / "protocol-strict", tmp_path / "gap" / "protocol-zai-kit"])
    gaps, parts, items = gap_breakdown(collect(runs))
    assert set(gaps["task"]) == {"math500", "aime24", "gpqa_diamond"}
    for g in gaps.itertuples():
        mine = parts[parts["task"] == g.task]
        assert mine["contribution"].sum() == pytest.approx(g.gap, abs=1e-12), g.task
        assert g.kit - g.strict == pytest.approx(g.gap, abs=1e-12)
        assert list(mine["part"])[0] == REQUESTS
    by = parts.set_index(["task", "part"])
    assert by.loc[("aime24", zaikit.CUT_OFF), "samples_up"] > 0, "cut-off reasoning that states the answer is graded right"
    assert by.loc[("aime24", zaikit.CUT_OFF), "samples_down"] == 0, "grading more text cannot lose a box glm-eval's rules found"
    assert by.xs(zaikit.JUDGE_FALLBACK, level="part")["samples_up"].sum() > 0, "the lenient checker calls near misses equal"
    assert (by.loc[("gpqa_diamond", zaikit.RANDOM_LETTER), "samples_down"]) == 0
    kit_rows = runs.run_of["glm-4.5-air (protocol-zai-kit)"].scores
    named_none = kit_rows["checker_reply"].dropna().map(lambda r: not zaikit.is_letter(zaikit.read_choice(r))).sum()
    assert named_none > 0, "cut-off GPQA answers the checker can read no letter from: the kit draws one"
    detail = gap_tables(collect(runs))[1].frame
    unchanged = (parts["samples_up"] == 0) & (parts["samples_down"] == 0)
    assert unchanged.any() and (detail.loc[unchanged.values, "points [95% CI]"] == "0").all(), "a rule that turned nothing adds 0"
    assert not detail.loc[~unchanged.values, "points [95% CI]"].eq("0").any()
    per_item = items.pivot_table(index=["task", "item_id"], columns="step", values="accuracy")
    assert per_item["strict_run"].notna().all() and len(per_item) == 90
    report = tmp_path / "gap" / "report"
    assert "## Protocols" in (report / "summary.md").read_text()
    assert (report / "charts" / "protocol_gap.png").stat().st_size > 20_000
    assert set(pd.read_csv(report / "protocol_gap_items.csv")["step"]) >= {"strict_run", *zaikit.MATH_STEPS, *zaikit.CHOICE_STEPS}


def test_a_kit_run_is_reused_and_its_checker_asked_once(tmp_path: Path, mirror: Path, capsys):
    args = _run(tmp_path, mirror, "zai-kit")
    args[args.index("--limit") + 1] = "10"
    assert main(args + ["--no-report"]) == 0
    first = json.loads((tmp_path / "gap" / "manifest.json").read_text())
    assert first["spec"]["protocol"] == "zai-kit" and first["judge"]["kit_sampling"]["max_tokens"] == 1024
    with sqlite3.connect(tmp_path / "store.sqlite") as db:
        stored = db.execute("SELECT count(*) FROM responses").fetchone()[0]
        sent = [json.loads(r) for (r,) in db.execute("SELECT request FROM responses")]
    assert all("top_p" not in body for body in sent), "neither the kit's requests nor its checker's send top_p"
    capsys.readouterr()
    assert main(args + ["--no-report"]) == 0
    again = json.loads((tmp_path / "gap" / "manifest.json").read_text())
    assert again["totals"]["requests_sent"] == 0 and "checker simulated@lenient-checker:glm-4.5 (zai-kit): 0 questions" in capsys.readouterr().out
    with sqlite3.connect(tmp_path / "store.sqlite") as db:
        assert db.execute("SELECT count(*) FROM responses").fetchone()[0] == stored
    samples = [json.loads(line) for line in (tmp_path / "gap" / "samples.jsonl").read_text().splitlines()]
    assert all(s["reason"].startswith("zai-kit: ") and set(s["zai_kit"]) for s in samples)
