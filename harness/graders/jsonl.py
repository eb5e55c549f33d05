"""``glm-eval grade FILE.jsonl``: grade responses produced elsewhere, through the same pool runs use.

Input: one JSON object per line with ``response`` (the model's answer text, a string) and
``gold`` (the gold answer; for ``mcq`` the correct letter; a number is read as its text). An
optional ``finish_reason`` is honoured (``"length"`` marks the response truncated). Every other
field is kept. Blank lines are skipped.

Responses written by a chat template that opened the reasoning block in the prompt start inside
it and carry only its closing marker, or none when they were cut off mid-reasoning; graded whole,
such a cut-off response would be credited with a value it only considered. ``reasoning_open``
says so for the file; left unset, a file in which some responses close a block and none opens one
is taken as such (the same template wrote every line), and the result says it was.

The gold field must be called ``gold``: ``answer`` is not accepted as an alias, because in files
of model outputs ``answer`` as often holds the model's own answer, and grading a response
against itself would report it correct.

The whole file is checked before anything is graded, so bad input fails in a second, not after
the grading.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, NamedTuple

from harness.graders.grade import check_grader
from harness.graders.pool import GradeCase, GradingPool
from harness.graders.reasoning import template_opens_reasoning
from harness.graders.verdict import AMBIGUOUS

_LETTER = re.compile(r"\(?[A-Za-z]\)?")


def _problem(record: object, grader: str) -> str | None:
    """What is wrong with one parsed line, phrased with its fix; None when it is fine."""
    if not isinstance(record, dict):
        return f"expected a JSON object with 'response' and 'gold', got {type(record).__name__}"
    if "response" not in record:
        return "has no 'response' field; give the model's answer text in 'response'"
    if not isinstance(record["response"], str):
        return "has a 'response' that is not a string; give the model's answer text in 'response'"
    gold = record.get("gold")
    if gold is None:
        hint = " (the file calls it 'answer': rename the field to 'gold')" if "answer" in record else ""
        return f"has no 'gold' field; put the gold answer in 'gold'{hint}"
    if isinstance(gold, bool) or not isinstance(gold, (str, int, float)):
        return "has a 'gold' that is not a string or number; put the gold answer in 'gold'"
    if grader == "mcq" and not (isinstance(gold, str) and _LETTER.fullmatch(gold.strip())):
        return f"for --grader mcq, 'gold' must be the correct letter (e.g. \"C\"), got {gold!r}"
    if not isinstance(record.get("finish_reason") or "", str):
        return "'finish_reason' must be a string such as \"stop\" or \"length\""
    return None


def _read_records(path: Path, grader: str) -> list[dict[str, Any]]:
    records = []
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(
                    f"{path}, line {number}: not valid JSON ({exc.msg}); write one JSON object per line"
                ) from None
            problem = _problem(record, grader)
            if problem is not None:
                raise ValueError(f"{path}, line {number}: {problem}")
            records.append(record)
    return records


class GradedFile(NamedTuple):
    graded: int
    correct: int
    ambiguous: int  # never correct: the response names letters but commits to none of them
    reasoning_open: bool  # every response was read as starting inside a reasoning block


def grade_file(path: Path, grader: str, out: Path | None, *, reasoning_open: bool | None = None) -> GradedFile:
    """Grade every line of ``path``; write them with ``correct``, ``extracted`` and ``reason`` added
    to ``out`` in input order. Raises ValueError on bad input."""
    check_grader(grader)
    records = _read_records(Path(path), grader)
    if reasoning_open is None:
        reasoning_open = template_opens_reasoning(r["response"] for r in records)
    cases = [
        GradeCase(grader, r["response"], str(r["gold"]), r.get("finish_reason"), reasoning_open=reasoning_open) for r in records
    ]
    with GradingPool() as pool:
        verdicts = pool.grade_many(cases)
    if out is not None:
        with Path(out).open("w", encoding="utf-8") as sink:
            for record, verdict in zip(records, verdicts):
                added = {"correct": verdict.correct, "extracted": verdict.extracted, "reason": verdict.reason}
                sink.write(json.dumps({**record, **added}, ensure_ascii=False) + "\n")
    ambiguous = sum(verdict.reason == AMBIGUOUS for verdict in verdicts)
    return GradedFile(len(verdicts), sum(verdict.correct for verdict in verdicts), ambiguous, reasoning_open)
