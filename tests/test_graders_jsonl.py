"""grade_file(): the code behind ``glm-eval grade FILE.jsonl``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.graders.jsonl import grade_file


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_every_line_comes_back_in_order_with_its_verdict(tmp_path):
    records = [
        {"id": "a", "response": r"So $\boxed{\dfrac{1}{2}}$.", "gold": "0.5", "model": "glm-4.5"},
        {"id": "b", "response": r"\boxed{(1, 2)}", "gold": "(2, 1)"},
        {"id": "c", "response": "no idea", "gold": r"\frac13", "finish_reason": None},
        {"id": "d", "response": r"\boxed{3}", "gold": 3, "finish_reason": "length"},
    ]
    lines = [json.dumps(r) for r in records]
    source = _write(tmp_path / "in.jsonl", lines[:2] + [""] + lines[2:])  # a blank line is skipped
    out = tmp_path / "out.jsonl"

    assert grade_file(source, "math", out) == (4, 1, 0, False)

    written = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [w["id"] for w in written] == ["a", "b", "c", "d"]
    assert written[0] == {**records[0], "correct": True, "extracted": r"\dfrac{1}{2}", "reason": "match"}
    assert [w["reason"] for w in written[1:]] == ["mismatch", "no answer found", "truncated: finish_reason=length"]
    assert written[3]["gold"] == 3  # other fields are kept as they were


def test_without_out_it_only_counts(tmp_path):
    source = _write(tmp_path / "in.jsonl", [json.dumps({"response": "ANSWER: B", "gold": "B"}),
                                            json.dumps({"response": "ANSWER: C", "gold": "B"})])
    assert grade_file(source, "mcq", None) == (2, 1, 0, False)
    assert list(tmp_path.iterdir()) == [source]


@pytest.mark.parametrize("line, message", [
    ('{"response": "x", "gold": "1"', r"line 2: not valid JSON .*one JSON object per line"),
    ('["x", "1"]', r"line 2: expected a JSON object with 'response' and 'gold'"),
    ('{"gold": "1"}', r"line 2: has no 'response' field"),
    ('{"response": null, "gold": "1"}', r"line 2: has a 'response' that is not a string"),
    ('{"response": "x"}', r"line 2: has no 'gold' field; put the gold answer in 'gold'$"),
    ('{"response": "x", "answer": "1"}', r"line 2: has no 'gold' field.*rename the field to 'gold'"),
    ('{"response": "x", "gold": "1", "finish_reason": 3}', r"line 2: 'finish_reason' must be a string"),
])
def test_bad_input_names_the_line_and_the_fix(tmp_path, line, message):
    source = _write(tmp_path / "in.jsonl", ['{"response": "\\\\boxed{1}", "gold": "1"}', line])
    with pytest.raises(ValueError, match=message):
        grade_file(source, "math", tmp_path / "out.jsonl")
    assert not (tmp_path / "out.jsonl").exists()  # nothing is graded or written from a bad file


def test_mcq_gold_must_be_a_letter(tmp_path):
    source = _write(tmp_path / "in.jsonl", [json.dumps({"response": "ANSWER: B", "gold": "benzene"})])
    with pytest.raises(ValueError, match=r"line 1: for --grader mcq, 'gold' must be the correct letter"):
        grade_file(source, "mcq", None)


def test_unknown_grader_is_refused(tmp_path):
    source = _write(tmp_path / "in.jsonl", [json.dumps({"response": "x", "gold": "1"})])
    with pytest.raises(ValueError, match="unknown grader 'algebra'"):
        grade_file(source, "algebra", None)


CUT_OFF = r"Okay, the product telescopes, so the answer is \boxed{3}. But wait, let me recheck the first factor"


@pytest.mark.parametrize("reasoning_open, expected", [
    (None, (3, 1, 0, True)),  # a line closes a block it never opened: every line starts inside one
    (True, (3, 1, 0, True)),
    (False, (3, 2, 0, False)),  # graded whole, the cut-off line's mid-reasoning box counts
])
def test_reasoning_open_is_detected_from_the_file_or_given(tmp_path, reasoning_open, expected):
    source = _write(tmp_path / "in.jsonl", [
        json.dumps({"response": "Checking the cases</think>\n\nThe answer is $\\boxed{3}$.", "gold": "3"}),
        json.dumps({"response": CUT_OFF, "gold": "3"}),
        json.dumps({"response": "reasoning</think>\n\nThe answer is $\\boxed{4}$.", "gold": "3"}),
    ])
    assert grade_file(source, "math", None, reasoning_open=reasoning_open) == expected


def test_a_file_without_closing_markers_is_graded_whole_unless_told(tmp_path):
    source = _write(tmp_path / "in.jsonl", [json.dumps({"response": CUT_OFF, "gold": "3"})])
    assert grade_file(source, "math", None) == (1, 1, 0, False)
    assert grade_file(source, "math", None, reasoning_open=True) == (1, 0, 0, True)


def test_ambiguous_choices_are_counted(tmp_path):
    source = _write(tmp_path / "in.jsonl", [
        json.dumps({"response": "Option A is correct. Option B is incorrect. Option C is correct.", "gold": "B"}),
        json.dumps({"response": "ANSWER: B", "gold": "B"}),
    ])
    assert grade_file(source, "mcq", None) == (2, 1, 1, False)
