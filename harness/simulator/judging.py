"""The simulated judge: what a judge model answers to glm-eval's judge prompts (harness/judge.py)
and to Z.ai's kit's checker prompts (harness/zaikit.py), in the form each asks for.

A stand-in with perfect reading: it takes the letter the response states (by the harness's own
multiple-choice rules) and calls two answers equivalent exactly when the candidate is one of the
spellings the simulator itself writes for that gold. A host's `checker_leniency` (configs/simulator.yaml)
plants the one error a checker's verdict makes that a rule grader would not: calling a near miss
equal, for that share of the kit's unequal pairs, chosen by the prompt's hash.
"""

from __future__ import annotations

import hashlib

from harness.graders import grade
from harness.judge import EQUIVALENCE_HEADER, LETTER_HEADER, READING_HEADER
from harness.zaikit import CHOICE_HEADER, EQUALITY_HEADER

from .forms import integer_equivalents, math_equivalents


def judge_reply(prompt: str, leniency: float = 0.0) -> str | None:
    """The judge's answer, or None when the prompt is not a judge prompt."""
    if prompt.startswith(LETTER_HEADER):
        response = prompt.split("\n\nResponse:\n", 1)[-1]
        return grade("mcq", response, "A").extracted or "NONE"
    if prompt.startswith(EQUIVALENCE_HEADER):
        equal = _equal(_field(prompt, "Reference answer: "), _field(prompt, "Candidate answer: "))
        return "EQUIVALENT" if equal else "DIFFERENT"
    if prompt.startswith(READING_HEADER):
        reference = prompt.split("\n\nReference answer: ", 1)[-1].split("\n", 1)[0].strip()  # before the response, which may say anything
        answer = grade("math", prompt.split("\n\nResponse:\n", 1)[-1], reference).extracted
        if answer is None:
            return "ANSWER: NONE\nVERDICT: DIFFERENT"
        return f"ANSWER: {answer}\nVERDICT: {'EQUIVALENT' if _equal(reference, answer) else 'DIFFERENT'}"
    if prompt.lstrip().startswith(CHOICE_HEADER):
        answer = prompt.split("## Answer: \n", 1)[-1].split("\n\nPut the selected choice", 1)[0]
        return f"<CHOICE>: {grade('mcq', answer, 'A').extracted or 'None'}"
    if prompt.strip().startswith(EQUALITY_HEADER):
        task = prompt.rsplit("YOUR TASK", 1)[-1]
        equal = _equal(_field(task, "Expression 1: "), _field(task, "Expression 2: "))
        return "Yes" if equal or _drawn(prompt) < leniency else "No"
    return None


def _equal(reference: str, candidate: str) -> bool:
    spellings = {_squash(f) for f in math_equivalents(reference) + integer_equivalents(reference)}
    return _squash(candidate) in spellings


def _drawn(prompt: str) -> float:
    return int.from_bytes(hashlib.sha256(prompt.encode()).digest()[:8], "big") / 2**64


def _field(prompt: str, label: str) -> str:
    return prompt.rsplit(label, 1)[-1].split("\n", 1)[0].strip()


def _squash(text: str) -> str:
    return "".join(text.split())
