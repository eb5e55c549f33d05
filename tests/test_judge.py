"""The judge model: GPQA's zai-judge protocol and the math fallback, through the simulated endpoint."""

import json
from pathlib import Path

from harness.cli import main
from harness.graders import Verdict, grade
from harness.judge import EQUIVALENCE, LETTER, apply


def rows(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "samples.jsonl").read_text().splitlines()]


def test_zai_judge_protocol_reads_letters_with_the_judge_and_caches_it(mirror: Path, tmp_path: Path, capsys):
    args = ["run", "--provider", "simulated", "--models", "glm-4.5", "--tasks", "gpqa_diamond:zai-judge", "--limit", "20",
            "--samples", "2", "--judge", "simulated:glm-4.5-air", "--no-report", "--data-dir", str(mirror), "--store", str(tmp_path / "s.sqlite")]
    assert main([*args, "--out", str(tmp_path / "a")]) == 0
    samples = rows(tmp_path / "a")
    assert len(samples) == 40 and {s["task"] for s in samples} == {"gpqa_diamond:zai-judge"}
    for s in samples:
        assert s["judge"]["model"] == "simulated:glm-4.5-air" and s["reason"].startswith("judge: ")
        assert s["correct"] == (s["extracted"] == s["gold"])
        assert s["extracted"] == grade("mcq", s["response"], s["gold"]).extracted  # the simulated judge reads as the rules do
    prompt_start = "Answer the following multiple choice question"
    assert all(prompt_start not in (s["response"] or "") for s in samples)
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert manifest["tasks"]["gpqa_diamond:zai-judge"]["protocol"] == "zai-judge"
    assert manifest["judge"]["model"] == "simulated:glm-4.5-air"
    capsys.readouterr()
    assert main([*args, "--out", str(tmp_path / "b")]) == 0
    assert "40 questions; 40 already stored, 0 to send" in capsys.readouterr().out
    assert rows(tmp_path / "b") == samples


def test_a_task_read_by_a_judge_needs_one(mirror: Path, tmp_path: Path, capsys):
    code = main(["run", "--provider", "simulated", "--models", "glm-4.5", "--tasks", "gpqa_diamond:zai-judge",
                 "--data-dir", str(mirror), "--out", str(tmp_path / "r"), "--store", str(tmp_path / "s")])
    assert code == 2 and "--judge PROVIDER:MODEL" in capsys.readouterr().err
    code = main(["run", "--provider", "simulated", "--models", "glm-4.5", "--tasks", "gpqa_diamond:blind",
                 "--data-dir", str(mirror), "--out", str(tmp_path / "r"), "--store", str(tmp_path / "s")])
    assert code == 2 and "no protocol 'blind'; its protocols: instructed, zai-judge" in capsys.readouterr().err


def test_judge_verdicts_explain_themselves():
    wrong = Verdict(False, "0.50", "0.50", "\\frac{1}{2}", "mismatch")
    assert apply(EQUIVALENCE, wrong, wrong.gold, "EQUIVALENT").correct is True
    assert apply(EQUIVALENCE, wrong, wrong.gold, "EQUIVALENT").reason == "judge: equivalent"
    assert apply(EQUIVALENCE, wrong, wrong.gold, "They are DIFFERENT.").reason == "judge: not equivalent"
    assert apply(EQUIVALENCE, wrong, wrong.gold, "no idea") == wrong, "an unreadable judge changes nothing"
    assert apply(EQUIVALENCE, wrong, wrong.gold, None) == wrong
    read = apply(LETTER, Verdict(False, None, None, "C", "no answer found"), "C", "C")
    assert (read.correct, read.extracted, read.reason) == (True, "C", "judge: match")
    assert apply(LETTER, read, "C", "NONE").reason == "judge: no answer found"
    assert apply(LETTER, read, "C", None).correct is False
