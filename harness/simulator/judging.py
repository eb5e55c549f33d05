"""The simulated judge: what a judge model answers to glm-eval's judge prompts (harness/judge.py).

A stand-in with perfect reading: it takes the letter the response states (by the harness's own
multiple-choice rules) and calls two answers equivalent exactly when the candidate is one of the
spellings the simulator itself writes for that gold. Tests of the judge path need a judge that
answers; they do not need a fallible one.
"""

from __future__ import annotations

from harness.graders import grade
from harness.judge import EQUIVALENCE_HEADER, LETTER_HEADER

from .forms import integer_equivalents, math_equivalents


def judge_reply(prompt: str) -> str | None:
    """The judge's answer, or None when the prompt is not a judge prompt."""
    if prompt.startswith(LETTER_HEADER):
        response = prompt.split("\n\nResponse:\n", 1)[-1]
        return grade("mcq", response, "A").extracted or "NONE"
    if prompt.startswith(EQUIVALENCE_HEADER):
        reference = _field(prompt, "Reference answer: ")
        candidate = _field(prompt, "Candidate answer: ")
        spellings = {_squash(f) for f in math_equivalents(reference) + integer_equivalents(reference)}
        return "EQUIVALENT" if _squash(candidate) in spellings else "DIFFERENT"
    return None


def _field(prompt: str, label: str) -> str:
    return prompt.rsplit(label, 1)[-1].split("\n", 1)[0].strip()


def _squash(text: str) -> str:
    return "".join(text.split())
