"""The answer key, and how a prompt is matched to the item it asks about.

The simulator must not depend on the harness's prompt templates (they change, users add their
own), so it recognises an item by the distinctive lines of its question, wherever the template
puts them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Kind = Literal["math", "integer", "mcq"]

MIN_LINE_CHARS = 15
"""Shorter lines ('Solution:', '$x$') are too common to identify a question."""

_OPTION = re.compile(r"^\s*(?:\(([A-J])\)|([A-J])[.):])\s+(\S.*)$")


@dataclass(frozen=True)
class KeyItem:
    """One item the simulator knows. For mcq, `gold` is the correct choice's text, since the
    harness shuffles the choices per sample and the letter is only known from the prompt."""

    task: str
    question: str
    gold: str
    kind: Kind


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if line.strip()]


def _identifying_lines(question: str) -> list[str]:
    lines = _lines(question)
    long_lines = [line for line in lines if len(line) >= MIN_LINE_CHARS]
    # A question made only of short lines ("Compute $7!$.") can still be found by those lines.
    return long_lines or lines


class AnswerKey:
    """Maps the lines of a prompt to the key item they come from."""

    def __init__(self, items: Sequence[KeyItem]) -> None:
        self.items: tuple[KeyItem, ...] = tuple(items)
        owners: dict[str, set[int]] = {}
        for index, item in enumerate(self.items):
            for line in _identifying_lines(item.question):
                owners.setdefault(line, set()).add(index)
        # A line shared by two questions identifies neither.
        self._by_line = {line: next(iter(ids)) for line, ids in owners.items() if len(ids) == 1}
        self.by_task: dict[str, list[int]] = {}
        for index, item in enumerate(self.items):
            self.by_task.setdefault(item.task, []).append(index)

    def lookup(self, prompt: str) -> int | None:
        """Index of the item the prompt is about: the first of its lines found in the key."""
        for line in _lines(prompt):
            index = self._by_line.get(line)
            if index is not None:
                return index
        return None


def parse_options(prompt: str) -> dict[str, str]:
    """Letter -> choice text of the last block of options (`A) x`, `(A) x`, `A. x`) in a prompt.

    A new 'A' starts a new block, so lettered lists inside the question itself do not mix with
    the choices that follow it. A choice's text continues on following lines until the next
    choice or a blank line.
    """
    options: dict[str, list[str]] = {}
    current: str | None = None
    for raw in prompt.splitlines():
        match = _OPTION.match(raw)
        if match:
            letter = match.group(1) or match.group(2)
            if letter == "A":
                options = {}
            current = letter
            options[current] = [match.group(3).strip()]
        elif current is not None and raw.strip():
            options[current].append(raw.strip())
        else:
            current = None
    return {letter: "\n".join(parts) for letter, parts in options.items()}


def _normal(text: str) -> str:
    return " ".join(text.split()).casefold()


def gold_letter(options: dict[str, str], gold: str) -> str | None:
    """The letter whose choice text is the gold text: the whole block, or else its first line
    (a template may put an instruction right under the last choice, without a blank line)."""
    target = _normal(gold)
    for letter, text in options.items():
        if _normal(text) == target:
            return letter
    for letter, text in options.items():
        if _normal(text.split("\n", 1)[0]) == target:
            return letter
    return None
