"""Multiple-choice answers (GPQA): the letter the response finally commits to.

Models state their choice in many ways: ``ANSWER: C``, ``**Answer:** (C)``, ``The answer is C.``,
``\\boxed{C}``, ``\\boxed{\\text{C}}``, ``Answer: $\\boxed{C}$``, "I'll go with C", a closing line of
just ``C`` or ``(C)``. Every such statement in the response is found and the last one wins, so a
response that weighs several options is graded on its conclusion. A statement naming two letters
("A or C") commits to neither and is skipped. With no statement the answer is wrong: a letter is
never guessed from the discussion.

Letters run from A to D, or up to the gold letter for sets with more options; only capital
letters count, since a lone "a" is usually the article.
"""

from __future__ import annotations

import re
import string
from functools import lru_cache

from harness.graders.extract import boxed_answers
from harness.graders.verdict import MATCH, MISMATCH, NO_ANSWER, Verdict, error_reason

_GOLD = re.compile(r"[\s(*$]*([A-Z])[\s).*$]*")
_UNWRAP = re.compile(r"^\\(?:text|textbf|mathbf|mathrm|textsf|mbox)\s*\{(.*)\}$", re.DOTALL)


def _word(word: str, after: tuple[str, ...] = ()) -> str:
    """``word`` at a word boundary (and, if given, right after one of the ``after`` phrases).

    The checks are lookbehinds placed after the literal, not a leading ``\\b``: a pattern that
    starts with a literal lets the regex engine jump from one occurrence to the next, which is
    about fifteen times faster on a long response than trying the pattern at every position.
    """
    boundary = rf"(?<![a-z0-9_]{word})"
    if not after:
        return word + boundary
    return word + "(?:" + "|".join(f"(?<={re.escape(phrase)} {word})" for phrase in after) + ")"


@lru_cache(maxsize=32)
def _statements(last_letter: str) -> tuple[re.Pattern[str], ...]:
    """Patterns for a stated choice, matched against the response with A-Z lowered (see
    :func:`stated_letter`); group ``letter`` holds the letter.

    Each run of optional decoration is one starred class of distinct tokens, so no pattern
    backtracks more than linearly (these graders run without a time limit).
    """
    letter = rf"(?P<letter>[a-{last_letter.lower()}])(?![a-z0-9'’-])"
    opener = r"(?:[\s*_$(\[]|\\[(\[]|\\text(?:bf)?\{)*"
    choice = rf"{opener}(?:(?:option|choice|letter)\s+[(\[]?)?{letter}"
    verb = r" (?:is|would be|should be|must be):?"
    adjectives = ("correct", "final", "best", "right")
    first_person = ("i", "i will", "i'll", "i’ll", "i would")
    chosen = r"\)?[*_]* is (?:the )?(?:correct|right|best)\b"
    return tuple(
        re.compile(pattern)
        for pattern in (
            # ANSWER: C / **Answer:** (C) / Final answer: option C / Answer - C
            rf"{_word('answer')}[*_]*(?:[:：=]| - ){choice}",
            # the (correct|final) answer is C / my answer would be (D)
            rf"{_word('answer')}{verb}{choice}",
            # the correct option is (B) / the best choice is D
            rf"{_word('option', adjectives)}{verb}{choice}",
            rf"{_word('choice', adjectives)}{verb}{choice}",
            # I'll go with C / going with option D / I choose (B)
            rf"{_word('go')}(?:ing)? with {choice}",
            rf"{_word('choose', first_person)} {choice}",
            # option B is correct / (C) is the correct answer
            rf"{_word('option')} {letter}{chosen}",
            rf"{_word('choice')} {letter}{chosen}",
            rf"\({letter}{chosen}",
        )
    )


_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def _closing_letter(text: str, last_letter: str) -> tuple[int, str] | None:
    """A closing line of just the letter: ``C``, ``(C)``, ``**C**``, ``$C$``, ``C.``."""
    stripped = text.rstrip()
    start = stripped.rfind("\n") + 1
    match = re.fullmatch(rf"[\s*_$(\[]*([A-{last_letter}])[\s*_$)\].]*", stripped[start:])
    return (start + match.start(1), match.group(1)) if match else None


_HEDGE = re.compile(r"[*_)\]]*(?: ?(?:or|and|/|,) ?)[(\[]?[A-Z]\b")


def _boxed_letters(text: str, last_letter: str) -> list[tuple[int, str]]:
    found = []
    for start, _, content in boxed_answers(text):
        while (match := _UNWRAP.fullmatch(content)) is not None:
            content = match.group(1).strip()
        letter = re.fullmatch(rf"[\s(]*([A-{last_letter}])(?:[\s).:]+.*)?", content, re.DOTALL)
        if letter:
            found.append((start, letter.group(1)))
    return found


def stated_letter(response: str, last_letter: str = "D") -> str | None:
    """The letter of the last unambiguous choice stated in ``response``, or None."""
    found = _boxed_letters(response, last_letter)
    closing = _closing_letter(response, last_letter)
    if closing:
        found.append(closing)
    # Keywords match in any case, the letter only as a capital: matching on a copy with A-Z
    # lowered keeps every position the same, so the letter is read back from the response.
    lowered = response.translate(_ASCII_LOWER)
    for pattern in _statements(last_letter):
        for match in pattern.finditer(lowered):
            at = match.start("letter")
            if response[at].isupper() and not _HEDGE.match(response, at + 1):
                found.append((at, response[at]))
    return max(found)[1] if found else None


def grade_choice(response: str, gold: str) -> Verdict:
    gold_match = _GOLD.fullmatch(gold)
    if gold_match is None:
        return Verdict(False, None, None, gold, error_reason(f"gold {gold!r} is not a single letter A-Z"))
    expected = gold_match.group(1)
    letter = stated_letter(response, max("D", expected))
    if letter is None:
        return Verdict(False, None, None, gold, NO_ANSWER)
    correct = letter == expected
    return Verdict(correct, letter, letter, gold, MATCH if correct else MISMATCH)
