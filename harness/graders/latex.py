"""Targeted rewrites of answer LaTeX before math-verify reads it, and the few answer shapes it misreads.

math-verify normalises LaTeX well (``\\dfrac``, ``\\text{}`` units, ``\\left(``, degrees,
``10{,}000``); only the gaps measured on the labelled set are filled here:

- thousands grouped with thin or plain spaces (``10\\,000`` reads as ``10*0``);
- scientific notation with ``e`` (``1.5e-3`` reads as ``1.5*E - 3``);
- Unicode symbols models write (``90°``, ``×``, ``π``, ``√``, ``−``);
- base subscripts math-verify cannot read (``(1011)_2``, ``1011_{\\text{two}}``);
- clock times (``4:30 p.m.`` reads as the fraction 4/30, so ``2:15`` "equals" it);
- plain decimal literals, which it compares after rounding to 6 decimal places
  (``0.000067`` "equals" ``.0000672``);
- tuples and intervals of plain numbers (``(6,31,-1)``, ``(3,4]``), which it reads correctly but
  slowly: its parser spends 50-200 ms deciding between tuple and interval, against well under
  1 ms for comparing the numbers in order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction

_UNICODE = {
    "−": "-",
    "–": "-",
    "×": "\\times ",
    "·": "\\cdot ",
    "÷": "\\div ",
    "π": "\\pi ",
    "√": "\\sqrt",
    "∞": "\\infty ",
    "≤": "\\le ",
    "≥": "\\ge ",
    "≠": "\\ne ",
    "±": "\\pm ",
    "°": "^\\circ",
    "\\degree": "^\\circ",
    "\u00a0": " ",
    "\u202f": " ",
}
_UNICODE_RE = re.compile("|".join(re.escape(k) for k in sorted(_UNICODE, key=len, reverse=True)))

_SCIENTIFIC = re.compile(r"(?<![\w\\.])(\d+(?:\.\d+)?)\s*[eE]\s*([+-]?\d+)(?![\w.])")
# 1-3 digits, then groups of exactly three digits joined by a LaTeX or plain space.
_GROUP_SEP = r"(?:\\[,;:! ]|~|\{,\}|,\\!|\s)+"
_GROUPED_NUMBER = re.compile(rf"(?<![\d.])\d{{1,3}}(?:{_GROUP_SEP}\d{{3}})+(?![\d])")
_GROUP_SEP_RE = re.compile(_GROUP_SEP)

_BASE_WORDS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
               "ten": 10, "twelve": 12, "sixteen": 16}
_BASE = re.compile(
    r"\(?\b([0-9A-Fa-f]+)\)?_\{?\s*\(?\s*(?:\\(?:text|mathrm)\{\s*)?(\d+|[a-z]+)\s*\}?\s*\)?\s*\}?"
)

_TIME = re.compile(
    r"^(\d{1,2}):(\d{2})(?::\d{2})?\s*(?:(a|p)\.?\s*m\.?)?$",
    re.IGNORECASE,
)
_LATEX_NOISE = re.compile(r"\\(?:text|mathrm|mbox|textnormal)\s*\{([^{}]*)\}|\\[,;:! ]|~|\$")

# Trailing units: "\\text{ cm}^2", "square inches"; never words that are mathematics ("2 pi").
_WORD = r"(?!(?:pi|sqrt|infty|and|or)\b)[a-zA-Z]{2,}"
_UNIT_WORDS = rf"(?:\s*(?:\\(?:text|mbox|mathrm)\{{[^{{}}]*\}}|{_WORD}(?:\s+{_WORD})*)(?:\^\{{?\d\}}?)?)"
_NUMBER = re.compile(
    r"^(?P<currency>\\\$|\$)?\s*(?P<sign>[-+])?\s*(?P<digits>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d*)?|\.\d+)"
    r"\s*(?P<percent>\\%|%)?\s*(?:\^\s*\{?\s*\\circ\s*\}?)?"
    rf"{_UNIT_WORDS}?$"
)


def prepare(latex: str) -> str:
    """The answer with the rewrites above applied (base subscripts are left to :func:`split_base`)."""
    latex = _UNICODE_RE.sub(lambda m: _UNICODE[m.group()], latex)
    latex = _SCIENTIFIC.sub(r"\1 \\times 10^{\2}", latex)
    latex = _GROUPED_NUMBER.sub(lambda m: _GROUP_SEP_RE.sub("", m.group()), latex)
    return latex.strip()


def split_base(latex: str) -> tuple[str, int | None]:
    """(answer without a base subscript, the base) for answers like ``1011_2``; the digits are kept
    as written, which is how both math-verify and human graders compare such answers."""
    match = _BASE.fullmatch(latex.strip())
    if match is None or not any(c.isdigit() for c in match.group(1)):
        return latex, None
    base_text = match.group(2).lower()
    base = int(base_text) if base_text.isdigit() else _BASE_WORDS.get(base_text)
    if base is None or not 2 <= base <= 36:
        return latex, None
    return match.group(1), base


@dataclass(frozen=True)
class ClockTime:
    hour: int
    minute: int
    meridiem: str | None  # "a", "p", or None when the answer did not say

    def same_as(self, other: ClockTime) -> bool:
        """Equal on a 24-hour clock where both say enough to place them, else on a 12-hour dial."""
        mine, theirs = self._as_24h(), other._as_24h()
        if mine is not None and theirs is not None:
            return mine == theirs
        return (self.hour % 12, self.minute) == (other.hour % 12, other.minute)

    def _as_24h(self) -> tuple[int, int] | None:
        if self.meridiem:
            return (self.hour % 12 + (12 if self.meridiem == "p" else 0), self.minute)
        if self.hour == 0 or self.hour > 12:
            return (self.hour, self.minute)
        return None

    def __str__(self) -> str:
        suffix = {"a": " am", "p": " pm"}.get(self.meridiem or "", "")
        return f"{self.hour}:{self.minute:02d}{suffix}"


def clock_time(latex: str) -> ClockTime | None:
    """The answer as a clock time (``4:30 \\text{ p.m.}``, ``16:30``), or None."""
    plain = _LATEX_NOISE.sub(lambda m: m.group(1) or " ", latex).strip()
    match = _TIME.fullmatch(" ".join(plain.split()))
    if match is None or int(match.group(1)) > 24 or int(match.group(2)) > 59:
        return None
    meridiem = match.group(3).lower() if match.group(3) else None
    return ClockTime(int(match.group(1)), int(match.group(2)), meridiem)


@dataclass(frozen=True)
class NumberLiteral:
    """A plain written number: ``-12``, ``0.25``, ``25\\%``, ``\\$18.90``, ``90^\\circ``, ``5 \\text{ cm}``."""

    value: Fraction
    percent: bool
    decimal_places: int | None  # None for an integer literal
    significant_digits: int

    def key(self) -> str:
        return str(self.value)


def number_literal(latex: str) -> NumberLiteral | None:
    """The answer as a plain number literal (units, currency and degree marks aside), or None."""
    match = _NUMBER.fullmatch(latex.strip())
    if match is None:
        return None
    digits = match.group("digits").replace(",", "")
    value = Fraction(digits if not digits.endswith(".") else digits[:-1])
    if match.group("sign") == "-":
        value = -value
    places = len(digits.partition(".")[2]) if "." in digits else None
    significant = len(digits.replace(".", "").lstrip("0")) or 1
    return NumberLiteral(value, bool(match.group("percent")), places, significant)


_BRACKETED = re.compile(r"(?:\\left\s*)?([(\[])(.*?)(?:\\right\s*)?([)\]])", re.DOTALL)
_PLAIN_ITEM = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?")


@dataclass(frozen=True)
class NumberList:
    """``(6, 31, -1)`` or ``(3, 4]``: brackets and plain numbers only (no thousands commas, no
    leading zeros, which could read as another list)."""

    opening: str
    items: tuple[Fraction, ...]
    closing: str

    def key(self) -> str:
        return self.opening + ", ".join(str(item) for item in self.items) + self.closing


def number_list(latex: str) -> NumberList | None:
    match = _BRACKETED.fullmatch(latex.strip())
    if match is None:
        return None
    items = [item.strip() for item in match.group(2).split(",")]
    if len(items) < 2 or not all(_PLAIN_ITEM.fullmatch(item) for item in items):
        return None
    return NumberList(match.group(1), tuple(Fraction(item) for item in items), match.group(3))
