"""Free-text answers for user-defined tasks: exact string match, or a gold regular expression.

The answer compared is the response's final answer (last box, else the last final-answer
phrase such as ``Answer: Paris``), or the whole response when it states none.

- ``exact``: equal after trimming, collapsing whitespace, ignoring case, dropping one trailing
  period and a ``\\text{}`` wrapper.
- ``regex``: the gold is a Python regular expression that must match the whole answer
  (``re.fullmatch`` on the trimmed answer, case-sensitive unless the pattern says ``(?i)``).
  Regexes come from users and may backtrack for ages; they run in the grading pool like math.
"""

from __future__ import annotations

import re
from functools import lru_cache

from harness.graders.extract import last_boxed, phrase_answer
from harness.graders.verdict import MATCH, MISMATCH, NO_ANSWER, Verdict, error_reason

_TEXT_WRAPPER = re.compile(r"^\\(?:text|textbf|mathrm|mbox)\s*\{(.*)\}$", re.DOTALL)


def stated_text(response: str) -> str:
    return last_boxed(response) or phrase_answer(response) or response.strip()


def normalize_text(text: str) -> str:
    text = text.strip()
    while (match := _TEXT_WRAPPER.fullmatch(text)) is not None:
        text = match.group(1).strip()
    text = " ".join(text.split()).casefold()
    return text[:-1].rstrip() if text.endswith(".") else text


def grade_exact(response: str, gold: str) -> Verdict:
    answer = stated_text(response)
    if not answer:
        return Verdict(False, None, None, gold, NO_ANSWER)
    normalized = normalize_text(answer)
    correct = normalized == normalize_text(gold)
    return Verdict(correct, answer, normalized, gold, MATCH if correct else MISMATCH)


@lru_cache(maxsize=1024)
def _compiled(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


def grade_regex(response: str, gold: str) -> Verdict:
    try:
        pattern = _compiled(gold)
    except re.error as exc:
        return Verdict(False, None, None, gold, error_reason(f"gold is not a valid regex: {exc}"))
    answer = stated_text(response)
    if not answer:
        return Verdict(False, None, None, gold, NO_ANSWER)
    correct = pattern.fullmatch(answer.strip()) is not None
    return Verdict(correct, answer, answer.strip(), gold, MATCH if correct else MISMATCH)
