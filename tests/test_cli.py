"""The small commands: grade a file made elsewhere, and the listings."""

import json
from pathlib import Path

from harness.cli import main


def test_grade_writes_verdicts_in_order_and_exits_0(tmp_path: Path, capsys):
    rows = [
        {"id": 1, "response": "So the answer is $\\boxed{\\dfrac{1}{2}}$.", "gold": "\\frac12"},
        {"id": 2, "response": "Thus $\\boxed{0.6}$.", "gold": "\\frac{1}{2}"},
        {"id": 3, "response": "I am not sure.", "gold": "7"},
    ]
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "out.jsonl"
    assert main(["grade", str(src), "--grader", "math", "--out", str(out)]) == 0
    assert "graded 3 lines with the math grader: 1 correct (33.3%)" in capsys.readouterr().out
    graded = [json.loads(line) for line in out.read_text().splitlines()]
    assert [g["id"] for g in graded] == [1, 2, 3]
    assert [g["correct"] for g in graded] == [True, False, False]
    assert graded[2]["reason"] == "no answer found" and graded[0]["extracted"]


def test_grade_says_when_it_read_the_responses_as_starting_inside_their_reasoning(tmp_path: Path, capsys):
    src = tmp_path / "in.jsonl"
    src.write_text("\n".join(json.dumps(r) for r in [
        {"response": "weighing the options</think>ANSWER: C", "gold": "C"},
        {"response": "so it must be C... unless the second step", "gold": "C"},
    ]) + "\n")
    assert main(["grade", str(src), "--grader", "mcq"]) == 0
    out = capsys.readouterr().out
    assert "graded 2 lines with the mcq grader: 1 correct (50.0%)" in out and "--no-reasoning-open" in out
    assert main(["grade", str(src), "--grader", "mcq", "--no-reasoning-open"]) == 0
    assert "--no-reasoning-open" not in capsys.readouterr().out


def test_grade_refuses_bad_input_with_exit_2(tmp_path: Path, capsys):
    src = tmp_path / "in.jsonl"
    src.write_text('{"response": "C"}\n')
    assert main(["grade", str(src), "--grader", "mcq"]) == 2
    assert "line 1" in capsys.readouterr().err
    assert main(["grade", str(tmp_path / "missing.jsonl"), "--grader", "mcq"]) == 2


def test_listings_show_what_is_configured(capsys):
    for command, expected in (("models", "glm-4.5-airx"), ("tasks", "gpqa_diamond"), ("providers", "https://api.z.ai/api/paas/v4")):
        assert main([command]) == 0
        assert expected in capsys.readouterr().out
