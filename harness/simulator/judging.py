"""The simulated judge: what a judge model answers to glm-eval's judge prompts (harness/judgeprompts.py)
and to Z.ai's kit's checker prompts (harness/zaikit.py), in the form each asks for.

A stand-in with perfect reading of what the simulator itself writes, by its own small rules rather
than glm-eval's graders (a test double that graded with the code under test could not catch that
code's mistakes): the letter is the last one stated in one of the simulator's answer phrasings, and
two answers are equivalent exactly when the candidate is one of the spellings the simulator writes
for that gold. A host's `checker_leniency` (configs/simulator.yaml) plants the one error a checker's
verdict makes that a rule grader would not: calling a near miss equal, for that share of the kit's
unequal pairs, chosen by the prompt's hash.
"""

from __future__ import annotations

import hashlib
import re

from harness.judgeprompts import EQUIVALENCE_HEADER, LETTER_HEADER, READING_HEADER
from harness.zaikit import CHOICE_HEADER, EQUALITY_HEADER

from .forms import integer_equivalents, math_equivalents

# A letter as the simulator's answers state one (forms.MCQ_ENDINGS, forms.tentative): "ANSWER: B",
# "**Answer:** (B)", "The answer is B.", "the answer should be (B)", "$\boxed{B}$".
_STATED_LETTER = re.compile(r"(?:(?i:answer)(?: is| should be)?:?(?:\*\*)?\s*\(?|\\boxed\{)([A-D])(?![A-Za-z])")


def judge_reply(prompt: str, leniency: float = 0.0) -> str | None:
    """The judge's answer, or None when the prompt is not a judge prompt."""
    if prompt.startswith(LETTER_HEADER):
        return stated_letter(prompt.split("\n\nResponse:\n", 1)[-1]) or "NONE"
    if prompt.startswith(EQUIVALENCE_HEADER):
        equal = _equal(_field(prompt, "Reference answer: "), _field(prompt, "Candidate answer: "))
        return "EQUIVALENT" if equal else "DIFFERENT"
    if prompt.startswith(READING_HEADER):
        reference = prompt.split("\n\nReference answer: ", 1)[-1].split("\n", 1)[0].strip()  # before the response, which may say anything
        answer = last_boxed(prompt.split("\n\nResponse:\n", 1)[-1])
        if answer is None:
            return "ANSWER: NONE\nVERDICT: DIFFERENT"
        return f"ANSWER: {answer}\nVERDICT: {'EQUIVALENT' if _equal(reference, answer) else 'DIFFERENT'}"
    if prompt.lstrip().startswith(CHOICE_HEADER):
        answer = prompt.split("## Answer: \n", 1)[-1].split("\n\nPut the selected choice", 1)[0]
        return f"<CHOICE>: {stated_letter(answer) or 'None'}"
    if prompt.strip().startswith(EQUALITY_HEADER):
        task = prompt.rsplit("YOUR TASK", 1)[-1]
        equal = _equal(_field(task, "Expression 1: "), _field(task, "Expression 2: "))
        return "Yes" if equal or _drawn(prompt) < leniency else "No"
    return None


def stated_letter(response: str) -> str | None:
    """The last letter the response states as its answer; None when it states none."""
    found = _STATED_LETTER.findall(response)
    return found[-1] if found else None


def last_boxed(response: str) -> str | None:
    """What the response's last ``\\boxed{}`` holds (the simulator boxes every math answer it
    commits to); None when it boxes nothing or the box never closes."""
    start = response.rfind("\\boxed{")
    if start < 0:
        return None
    depth, begin = 0, start + len("\\boxed{")
    for at in range(begin, len(response)):
        if response[at] == "{":
            depth += 1
        elif response[at] == "}":
            if depth == 0:
                return response[begin:at]
            depth -= 1
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
