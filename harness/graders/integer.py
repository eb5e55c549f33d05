"""Integer answers (AIME: 0-999), compared as integers.

``025``, ``\\boxed{25}``, ``25.0``, ``n = 25`` and ``25 \\text{ ways}`` are all 25. Anything that
is not an integer literal (``25.5``, ``\\frac{50}{2}``, ``5^2``) is wrong: AIME asks for the
integer itself, and reading expressions here would only add ways to be wrong.
"""

from __future__ import annotations

import re

from harness.graders.extract import final_answer
from harness.graders.verdict import MATCH, MISMATCH, NO_ANSWER, Verdict, error_reason

_WRAPPER = re.compile(r"^\\(?:text|textbf|mathbf|mathrm|boxed)\s*\{(.*)\}$", re.DOTALL)
_SPACING = re.compile(r"\\[,;:! ]|~|\$|\{,\}")
_INTEGER = re.compile(
    r"(?:[a-zA-Z]\w*\s*=\s*)?"  # "n = 25"
    r"(?P<sign>[-+−])?(?P<digits>\d{1,3}(?:,\d{3})+|\d+)(?:\.0*)?"
    r"(?:\s*\\(?:text|mbox|mathrm)\{[^{}]*\}|\s+[a-zA-Z]+)?\.?"  # a trailing unit word
)


def integer_value(answer: str) -> int | None:
    """The integer an answer states, or None when it is not written as an integer."""
    text = answer.strip()
    while (match := _WRAPPER.fullmatch(text)) is not None:
        text = match.group(1).strip()
    text = _SPACING.sub("", text).strip()
    match = _INTEGER.fullmatch(text)
    if match is None:
        return None
    value = int(match.group("digits").replace(",", ""))
    return -value if match.group("sign") in ("-", "−") else value


def grade_integer(response: str, gold: str) -> Verdict:
    expected = integer_value(gold)
    if expected is None:
        return Verdict(False, None, None, gold, error_reason(f"gold {gold!r} is not an integer"))
    answer = final_answer(response)
    if answer is None:
        return Verdict(False, None, None, gold, NO_ANSWER)
    value = integer_value(answer)
    normalized = str(value) if value is not None else " ".join(answer.split())
    correct = value == expected
    return Verdict(correct, answer, normalized, gold, MATCH if correct else MISMATCH)
