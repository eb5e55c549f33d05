"""How the simulated model writes its final answer.

Real models do not always copy the reference answer's LaTeX: they write `\\dfrac` for `\\frac`, `0.5`
for one half, `x=3`, `025` on AIME. A grader that only accepts the reference spelling would look
fine against a naive simulator and fail on real output, so the simulator varies the spelling, but
only through rewrites that keep the value (when unsure, it repeats the reference verbatim). Wrong
answers are near misses (off by a little, another fraction, another letter) so that a grader which
accepts anything close is caught too.
"""

from __future__ import annotations

import re
from decimal import Decimal
from fractions import Fraction

from .draws import Draws
from .key import Kind

_SIMPLE_FRAC = re.compile(r"^(-?)\\[dt]?frac(?:\{(\d+)\}\{(\d+)\}|(\d)(\d))$")
_INTEGER = re.compile(r"^-?\d+$")
_DECIMAL = re.compile(r"^(-?)(\d*)\.(\d+)$")
_VARIABLE_EQ = re.compile(r"^[a-z]\s*=\s*(-?\d+)$")
_PERCENT = re.compile(r"^(\d+(?:\.\d+)?)\s*\\%$")
_DEGREES = re.compile(r"^(.+?)\s*\^\s*(?:\\circ|\{\\circ\})$")
_TEXT = re.compile(r"^\\text\{([A-Za-z][A-Za-z ]*)\}$")
_THOUSANDS = re.compile(r"^\d{1,3}(?:,\\!\d{3})+$")
_BARE_SQRT = re.compile(r"\\sqrt(\d)")
_SIZED_BRACKET = re.compile(r"\\(?:left|right)\s*(?=[()\[\]|])")
_DIGIT = re.compile(r"\d")
_NONZERO_DIGIT = re.compile(r"[1-9]")

MATH_ENDINGS = (
    "Therefore, the final answer is $\\boxed{%s}$.",
    "The final answer is $\\boxed{%s}$.",
    "So the answer is $\\boxed{%s}$.",
    "**Final Answer**\n\\[\n\\boxed{%s}\n\\]",
    "Thus, the answer is \\(\\boxed{%s}\\).",
)
MCQ_ENDINGS = (
    "ANSWER: %s",
    "**Answer:** (%s)",
    "The answer is %s.",
    "The final answer is $\\boxed{%s}$.",
    "Answer: %s",
)
# No digit, no lone letter A-D, no 'answer': nothing a lenient extractor could take.
NO_ANSWER_ENDINGS = (
    "I could not settle on a final value with confidence, so I will stop here.",
    "The remaining cases need more work than I can finish now.",
    "Several of the options look defensible and the analysis does not single one out.",
)
LETTERS = "ABCD"
VERBATIM_SHARE = 0.6
"""Models mostly copy the expected form; the rest of the time they pick another spelling."""


def _exact_decimal(fraction: Fraction) -> str | None:
    """The decimal spelling of a fraction when it terminates within six places, else None."""
    denominator = fraction.denominator
    for prime in (2, 5):
        while denominator % prime == 0:
            denominator //= prime
    if denominator != 1:
        return None
    text = format(Decimal(fraction.numerator) / Decimal(fraction.denominator), "f")
    return text if len(text.split(".")[-1]) <= 6 else None


def math_equivalents(gold: str) -> list[str]:
    """Spellings of the same value as `gold`, the verbatim gold first."""
    gold = gold.strip()
    forms = [gold]
    if "\\frac" in gold:
        forms.append(gold.replace("\\frac", "\\dfrac"))
    if match := _SIMPLE_FRAC.match(gold):
        sign = match.group(1)
        num, den = (int(match.group(2) or match.group(4)), int(match.group(3) or match.group(5)))
        if den:
            forms += [f"{sign}\\frac{{{num}}}{{{den}}}", f"{sign}{num}/{den}"]
            if num < 10 and den < 10:
                forms.append(f"{sign}\\tfrac{num}{den}")
            decimal = _exact_decimal(Fraction(num, den))
            if decimal is not None:
                forms.append(sign + decimal)
    elif _INTEGER.match(gold):
        forms.append(f"x={gold}")
    elif match := _DECIMAL.match(gold):
        sign, whole, frac = match.groups()
        value = Fraction(int(whole or "0") * 10 ** len(frac) + int(frac), 10 ** len(frac))
        if value.denominator > 1:
            forms.append(f"{sign}\\frac{{{value.numerator}}}{{{value.denominator}}}")
        if not whole:
            forms.append(f"{sign}0.{frac}")
    elif match := _VARIABLE_EQ.match(gold):
        forms.append(match.group(1))
    elif match := _PERCENT.match(gold):
        forms.append(match.group(1))
    elif match := _DEGREES.match(gold):
        forms += [match.group(1), f"{match.group(1)}^{{\\circ}}"]
    elif match := _TEXT.match(gold):
        forms.append(match.group(1))
    elif _THOUSANDS.match(gold):
        forms.append(gold.replace(",\\!", ""))
    if _BARE_SQRT.search(gold):
        forms.append(_BARE_SQRT.sub(r"\\sqrt{\1}", gold))
    if _SIZED_BRACKET.search(gold):
        forms.append(_SIZED_BRACKET.sub("", gold))
    return list(dict.fromkeys(forms))


def integer_equivalents(gold: str) -> list[str]:
    """AIME answers: models write `25` and `025` for the same gold."""
    gold = gold.strip()
    if not _INTEGER.match(gold):
        return math_equivalents(gold)
    value = int(gold)
    forms = [gold, str(value)]
    if 0 <= value < 1000:
        forms.append(f"{value:03d}")
    return list(dict.fromkeys(forms))


def _integer_near_miss(value: int, draws: Draws, bounded: bool) -> str:
    offsets = (1, -1, 2, -2, 3, -3, 10, -10, value)  # the last doubles the value
    candidates = [value + off for off in offsets if off]
    if bounded or value >= 0:
        candidates = [c for c in candidates if c >= 0 and (not bounded or c <= 999)]
    candidates = [c for c in candidates if c != value] or [value + 1]
    return str(draws.choice("near-miss", candidates))


def math_near_miss(gold: str, draws: Draws, bounded: bool = False) -> str:
    """A plausible wrong answer: a small change of the gold's value. `bounded` keeps AIME's 0..999."""
    gold = gold.strip()
    if _INTEGER.match(gold):
        return _integer_near_miss(int(gold), draws, bounded)
    if match := _SIMPLE_FRAC.match(gold):
        sign = match.group(1)
        num, den = (int(match.group(2) or match.group(4)), int(match.group(3) or match.group(5)))
        options = [f"{sign}\\frac{{{num + 1}}}{{{den}}}"]
        if num and num != den:
            options.append(f"{sign}\\frac{{{den}}}{{{num}}}")
        return draws.choice("near-miss", options)
    # Otherwise change the leading significant digit (a change in the last place of a long
    # decimal can fall inside a grader's numeric tolerance).
    match = (_DECIMAL.match(gold) and _NONZERO_DIGIT.search(gold)) or _DIGIT.search(gold)
    if match:
        digit = int(match.group())
        changed = str(digit + 1 if digit < 9 else digit - 1)
        return gold[: match.start()] + changed + gold[match.end() :]
    if _TEXT.match(gold):
        return "\\text{none of these}"
    return f"-\\left({gold}\\right)"


def answer_in_box(gold: str, kind: Kind, correct: bool, draws: Draws) -> str:
    """What goes inside \\boxed{} for a math or integer item."""
    if not correct:
        return math_near_miss(gold, draws, bounded=kind == "integer")
    forms = integer_equivalents(gold) if kind == "integer" else math_equivalents(gold)
    if len(forms) == 1 or draws.uniform("verbatim") < VERBATIM_SHARE:
        return forms[0]
    return draws.choice("form", forms[1:])


def other_letter(letter: str, letters: str, draws: Draws) -> str:
    others = [c for c in letters if c != letter] or [c for c in LETTERS if c != letter]
    return draws.choice("near-miss", others)


def tentative(kind: Kind, final: str) -> str:
    """The answer as a model states it while still thinking ("so the answer should be..."): real
    reasoning does (the box in it is what a grader of cut-off reasoning reads)."""
    return f"So the answer should be ({final})." if kind == "mcq" else f"So the answer should be \\boxed{{{final}}}."


def ending(kind: Kind, final: str | None, draws: Draws) -> str:
    """The closing statement: the final answer in one of the usual phrasings, last in the text."""
    if final is None:
        return draws.choice("ending", NO_ANSWER_ENDINGS)
    templates = MCQ_ENDINGS if kind == "mcq" else MATH_ENDINGS
    return draws.choice("ending", templates) % final
