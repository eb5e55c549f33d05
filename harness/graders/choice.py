"""Multiple-choice answers (GPQA): the letter the response commits to, told apart from letters it
only mentions.

Responses name letters for many reasons: to weigh each option ("B is incorrect", "Option D is
correct" in an option-by-option analysis of an "all correct except" question), as part of a
compound label ("A = (S)-2-methylbutanal"), or to choose one. Only a choice is graded; when the
response names letters without choosing one, the verdict is ``ambiguous`` (never correct), not
a guess. What counts, strongest first:

1. a stated choice: ``ANSWER: C``, ``**Answer:** (C)``, ``The answer is C.``, ``the incorrect
   statement is B``, ``...is:\\n\\nB. text`` (unless a list of options follows), ``\\boxed{C}``,
   "I'll go with C", ``(C) is the correct answer``, a closing line of just ``C`` or ``(C)``.
   The last one decides; one naming two letters ("A or C") commits to neither (no answer), one
   whose letter labels a compound ("A = ...") is ambiguous.
2. a letter in passing that still reads as a choice: "..., which is option D", "... (Option A)"
   in a sentence about the answer, a closing sentence or a "Therefore ..." sentence ending in
   ``(D).``. They decide only when they agree with each other and with any later stated choice.
3. with neither, one letter called correct ("(B) is correct") when no other letter is discussed.

A response that says none of the options fits has no answer; letters discussed without any of
the above make it ambiguous. Letters run from A to D, or up to the gold letter for sets with more
options; only capital letters count, since a lone "a" is usually the article.

Every pattern here is matched in linear time (these graders run without a time limit).
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from functools import lru_cache

from harness.graders.extract import boxed_answers
from harness.graders.verdict import AMBIGUOUS, MATCH, MISMATCH, NO_ANSWER, Verdict, error_reason

_GOLD = re.compile(r"[\s(*$]*([A-Z])[\s).*$]*")
_UNWRAP = re.compile(r"^\\(?:text|textbf|mathbf|mathrm|textsf|mbox)\s*\{(.*)\}$", re.DOTALL)
_HEDGE = re.compile(r"[*_)\]]*(?: ?(?:or|and|/|,|&) ?)[(\[]?[A-Z]\b")
_COMPOUND = re.compile(r"[*_)\]]*\s*=")  # "A = (S)-..." labels a compound, it does not choose option A
# "B is incorrect": after a letter, a judgement of that option rather than a choice of it.
_JUDGED = re.compile(
    r"[)\]*_]*\s+(?:is|are|was|would be|seems|appears)(?:\s+(?:also|not|still|clearly|definitely|indeed))?"
    r"\s+(?:(?P<correct>correct|right|true|valid|accurate)|incorrect|wrong|false|invalid|inaccurate)\b"
)
_HEDGED, _LABEL = "hedged", "label"  # kinds of stated choice that choose no letter


@dataclass(frozen=True)
class Reading:
    """What a response chose: a letter, or none (``ambiguous`` when letters were named without a choice)."""

    letter: str | None
    ambiguous: bool = False


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
def _patterns(last_letter: str) -> tuple[tuple[re.Pattern[str], ...], ...]:
    """(stated choices, choices in passing, letters discussed), matched against the response with
    A-Z lowered (see :func:`read_choice`); group ``letter`` holds the letter.

    Each run of optional decoration is one starred class of distinct tokens, so no pattern
    backtracks more than linearly.
    """
    letter = rf"(?P<letter>[a-{last_letter.lower()}])(?![a-z0-9'’-])"
    opener = r"(?:[\s*_$(\[}]|\\[(\[]|\\text(?:bf)?\{)*"
    choice = rf"{opener}(?:(?:option|choice|letter)\s+[(\[]?)?{letter}"
    verb = r" (?:is|would be|should be|must be):?"
    adjectives = ("correct", "final", "best", "right")
    judged = ("correct", "incorrect", "false", "true", "accurate", "inaccurate", "wrong", "right", "best", "valid")
    first_person = ("i", "i will", "i'll", "i’ll", "i would")
    stated = (
        # ANSWER: C / **Answer:** (C) / Final answer: option C / Answer - C
        rf"{_word('answer')}[*_]*(?:[:：=]| - ){choice}",
        # the (correct|final) answer is C / my answer would be (D) / the answer is:\n\nB. text
        rf"{_word('answer')}{verb}{choice}",
        # the correct option is (B) / the best choice is D / the incorrect statement is B
        rf"{_word('option', adjectives)}{verb}{choice}",
        rf"{_word('choice', adjectives)}{verb}{choice}",
        rf"{_word('statement', judged)}{verb}{choice}",
        # I'll go with C / going with option D / I choose (B)
        rf"{_word('go')}(?:ing)? with {choice}",
        rf"{_word('choose', first_person)} {choice}",
        # (C) is the correct answer / option B is the answer
        rf"(?:{_word('option')} |{_word('choice')} |\(){letter}\)?[*_]* is (?:the )?(?:(?:correct|right|best) )?answer\b",
    )
    passing = (
        # ..., which is option D / which corresponds to choice B
        rf"{_word('which')} (?:is|corresponds to|matches|gives|would be) (?:option|choice) \(?{letter}",
        # the answer is the third compound (Option A)
        rf"{_word('answer')}[^.\n]{{0,150}}\((?:option|choice) {letter}\)",
    )
    discussed = (
        rf"(?:{_word('option')}|{_word('choice')}|{_word('statement')})\s+\(?{letter}",
        rf"\({letter}\)",
        rf"(?m:^)[ \t*_#-]*\(?{letter}[).:]",
    )
    # the correct sequence of reagents is:\n\nB) 1. NaNH2 ... (unless a list of options follows)
    shown = (rf"{_word('is')}:[ \t]*\n[\s*_]*\(?{letter}[).]",)
    compile_all = lambda patterns: tuple(re.compile(p) for p in patterns)  # noqa: E731
    return compile_all(stated), compile_all(passing), compile_all(discussed), compile_all(shown)


_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)
# A sentence ending in a parenthesised letter: "..., the most likely cause is (A)."
_LETTER_CLOSING_SENTENCE = re.compile(r"\((?:[Oo]ption |[Cc]hoice )?([A-Z])\)(?=\.(?:\s|$)|[ \t]*(?:\n|$))")
_CONCLUDING = re.compile(r"(?i)\s*(?:[*_]+\s*)?(?:therefore|thus|so|hence|overall|in conclusion)\b")
_SENTENCE_CHARS = 400
# Another option's line right after the one shown: the options are being listed, not chosen.
_OPTION_LINE = re.compile(r"\n[ \t*_#-]*\(?[A-Z][).]")
_LIST_CHARS = 300
_DECLINED = re.compile(
    r"(?i)\b(?:none of the (?:options|choices|given|provided|answer)|"
    r"(?:answer|it) is not (?:listed|in the|among|provided|one of)|not (?:listed|provided|given) (?:in|among) the (?:options|choices))"
)


def _closing_letter(text: str, last_letter: str) -> tuple[int, str] | None:
    """A closing line of just the letter: ``C``, ``(C)``, ``**C**``, ``$C$``, ``C.``."""
    stripped = text.rstrip()
    start = stripped.rfind("\n") + 1
    match = re.fullmatch(rf"[\s*_$(\[]*([A-{last_letter}])[\s*_$)\].]*", stripped[start:])
    return (start + match.start(1), match.group(1)) if match else None


def _boxed_letters(text: str, last_letter: str) -> list[tuple[int, str]]:
    found = []
    for start, _, content in boxed_answers(text):
        while (match := _UNWRAP.fullmatch(content)) is not None:
            content = match.group(1).strip()
        letter = re.fullmatch(rf"[\s(]*([A-{last_letter}])((?:[\s).:]+.*)?)", content, re.DOTALL)
        if letter:
            hedged = _HEDGE.match(letter.group(2)) is not None
            found.append((start, _HEDGED if hedged else letter.group(1)))
    return found


def _closing_sentence_letters(text: str, last_letter: str) -> list[tuple[int, str]]:
    """Letters ending the response's last sentence, or a "Therefore ..." sentence: ``... is (D).``"""
    found = []
    end_of_text = len(text.rstrip())
    for match in _LETTER_CLOSING_SENTENCE.finditer(text):
        if match.group(1) > last_letter:
            continue
        window_start = max(0, match.start() - _SENTENCE_CHARS)
        ends = (text.rfind(mark, window_start, match.start()) for mark in (". ", "! ", "? ", "\n"))
        sentence_start = max(window_start, max(ends) + 1)
        if not text[match.end() : end_of_text].strip(" .") or _CONCLUDING.match(text, sentence_start):
            found.append((match.start(1), match.group(1)))
    return found


def read_choice(response: str, last_letter: str = "D") -> Reading:
    """The letter ``response`` commits to, or why there is none (see the module's rules)."""
    stated_patterns, passing_patterns, discussed_patterns, shown_patterns = _patterns(last_letter)
    # Keywords match in any case, the letter only as a capital: matching on a copy with A-Z
    # lowered keeps every position the same, so the letter is read back from the response.
    lowered = response.translate(_ASCII_LOWER)
    stated = _boxed_letters(response, last_letter)
    closing = _closing_letter(response, last_letter)
    if closing:
        stated.append(closing)
    judged: dict[str, bool] = {}  # letter -> called correct (True) or only judged otherwise
    for pattern in stated_patterns:
        for match in pattern.finditer(lowered):
            at = match.start("letter")
            if not response[at].isupper():
                continue
            if (verdict := _JUDGED.match(response, at + 1)) is not None:
                judged[response[at]] = judged.get(response[at], False) or bool(verdict.group("correct"))
            elif _HEDGE.match(response, at + 1):
                stated.append((at, _HEDGED))
            elif _COMPOUND.match(response, at + 1):
                stated.append((at, _LABEL))
            else:
                stated.append((at, response[at]))
    for match in shown_patterns[0].finditer(lowered):
        at = match.start("letter")
        if response[at].isupper() and not _OPTION_LINE.search(response, match.end(), match.end() + _LIST_CHARS):
            stated.append((at, response[at]))
    passing = _closing_sentence_letters(response, last_letter)
    for pattern in passing_patterns:
        passing.extend((m.start("letter"), response[m.start("letter")]) for m in pattern.finditer(lowered)
                       if response[m.start("letter")].isupper())
    if stated:
        at, choice = max(stated)
        if choice == _HEDGED:
            return Reading(None)
        later = {letter for position, letter in passing if position > at and letter != choice}
        return Reading(None, ambiguous=True) if choice == _LABEL or later else Reading(choice)
    if passing:
        letters = {letter for _, letter in passing}
        return Reading(letters.pop()) if len(letters) == 1 else Reading(None, ambiguous=True)
    if _DECLINED.search(response):
        return Reading(None)
    discussed = {response[m.start("letter")] for pattern in discussed_patterns for m in pattern.finditer(lowered)
                 if response[m.start("letter")].isupper()}
    for match in re.finditer(rf"(?<![A-Za-z0-9])[A-{last_letter}](?=[)\]*_]*\s+(?:is|are|was|would be|seems|appears)\b)", response):
        if (verdict := _JUDGED.match(response, match.end())) is not None:
            judged[match.group()] = judged.get(match.group(), False) or bool(verdict.group("correct"))
    discussed |= judged.keys()
    called_correct = [letter for letter, correct in judged.items() if correct]
    if len(discussed) == 1 and called_correct:
        return Reading(called_correct[0])
    return Reading(None, ambiguous=bool(discussed))


def grade_choice(response: str, gold: str) -> Verdict:
    gold_match = _GOLD.fullmatch(gold)
    if gold_match is None:
        return Verdict(False, None, None, gold, error_reason(f"gold {gold!r} is not a single letter A-Z"))
    expected = gold_match.group(1)
    reading = read_choice(response, max("D", expected))
    if reading.letter is None:
        return Verdict(False, None, None, gold, AMBIGUOUS if reading.ambiguous else NO_ANSWER)
    correct = reading.letter == expected
    return Verdict(correct, reading.letter, reading.letter, gold, MATCH if correct else MISMATCH)
