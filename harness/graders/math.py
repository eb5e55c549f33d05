"""Math answers (MATH-500 and free-form sets): equivalence through math-verify.

math-verify decides most cases. Around it sit only the measured corrections:

- stricter: clock times, base subscripts that disagree, decimals (a decimal stands for an exact
  gold only when it is right to six decimal places *and* six significant digits; a decimal gold
  must be matched exactly, not after rounding to six places);
- more lenient: the rewrites in :mod:`harness.graders.latex`, inequalities for intervals
  (``3 < x \\le 4`` for ``(3, 4]``, ``x<2`` or ``x>3`` for a union), tuples for column vectors,
  and percent written or not (``25\\%`` for ``25``, but never ``25`` for ``0.25``).

math-verify's own time limits use SIGALRM, which works only in a process's main thread; they are
switched off here and :class:`~harness.graders.pool.GradingPool` enforces the limit instead.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any

import sympy
from math_verify import LatexExtractionConfig, parse, verify
from sympy.core.relational import Relational

from harness.graders.extract import final_answer
from harness.graders.latex import (
    ClockTime,
    NumberList,
    NumberLiteral,
    clock_time,
    number_list,
    number_literal,
    prepare,
    split_base,
)
from harness.graders.verdict import MATCH, MISMATCH, NO_ANSWER, Verdict


class _NoTimeoutWarning(logging.Filter):
    """math-verify warns on every process start that its timeout is off; the pool owns timeouts."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith("Timeout is disabled")


for _name in ("math_verify.parser", "math_verify.grader"):
    logging.getLogger(_name).addFilter(_NoTimeoutWarning())

# The answer is already cut out of the response, so math-verify only has to read it: the box
# wrapper makes it take the whole text, and no anchor-free search may pick a number out of it.
_READ_ONLY = (LatexExtractionConfig(try_extract_without_anchor=False, boxed_match_priority=0),)
_ASSIGNMENT = re.compile(r"^\s*([a-zA-Z](?:_\{?\w+\}?)?)\s*=\s*(?!.*=)(.+)$", re.DOTALL)
_MIN_DIGITS = 6


@dataclass(frozen=True)
class MathAnswer:
    """One answer (gold or model) read once; its sympy form is computed only when needed."""

    latex: str
    variable: str | None  # "x" in "x = 3"
    base: int | None
    time: ClockTime | None
    number: NumberLiteral | None
    numbers: NumberList | None

    @cached_property
    def parsed(self) -> tuple[object, ...]:
        return tuple(
            parse("\\boxed{" + self.latex + "}", extraction_config=_READ_ONLY, parsing_timeout=None)
        )

    @property
    def expr(self) -> sympy.Basic | sympy.MatrixBase | None:
        first = self.parsed[0] if self.parsed else None
        return first if isinstance(first, (sympy.Basic, sympy.MatrixBase)) else None


@lru_cache(maxsize=4096)
def read(latex: str) -> MathAnswer:
    """Read an answer; cached, so a gold shared by many samples is parsed once per process."""
    prepared = prepare(latex)
    time = clock_time(prepared)
    variable = None
    assignment = _ASSIGNMENT.match(prepared)
    if assignment and number_literal(assignment.group(2)):
        variable, prepared = assignment.group(1), assignment.group(2)
    digits, base = split_base(prepared)
    return MathAnswer(digits, variable, base, time, number_literal(digits), number_list(digits))


def equivalent(gold: MathAnswer, pred: MathAnswer) -> bool:
    """Whether ``pred`` states the same answer as ``gold`` (not symmetric: gold decides the form)."""
    if gold.time or pred.time:
        return bool(gold.time and pred.time and gold.time.same_as(pred.time))
    if gold.base and pred.base and gold.base != pred.base:
        return False
    if gold.variable and pred.variable and gold.variable != pred.variable:
        return False
    if gold.number and pred.number:
        return _same_number(gold.number, pred.number)
    if gold.numbers and pred.numbers and (gold.numbers.opening, gold.numbers.closing) == (
        pred.numbers.opening,
        pred.numbers.closing,
    ):
        return gold.numbers.items == pred.numbers.items
    decided = _decimal_against_exact(gold, pred)
    if decided is not None:
        return decided
    if not gold.parsed or not pred.parsed:
        return False
    if verify(list(gold.parsed), list(pred.parsed), timeout_seconds=None):
        return True
    return _rescued(gold.expr, pred.expr)


def _same_number(gold: NumberLiteral, pred: NumberLiteral) -> bool:
    if gold.percent == pred.percent:
        return gold.value == pred.value
    percent, plain = (gold, pred) if gold.percent else (pred, gold)
    return plain.value in (percent.value, percent.value / 100)


def _decimal_against_exact(gold: MathAnswer, pred: MathAnswer) -> bool | None:
    """Decide a decimal literal against an exact number, or None to leave it to math-verify.

    math-verify rounds both sides to 6 decimal places, which makes ``0.000067`` equal
    ``.0000672`` and ``0`` equal ``0.0000004``.
    """
    literal, other = (pred, gold) if pred.number else (gold, pred)
    if literal.number is None or literal.number.percent or literal.number.decimal_places is None:
        return None
    value = _numeric_value(other.expr)
    if value is None:
        return None
    written = sympy.Rational(literal.number.value.numerator, literal.number.value.denominator)
    if value.is_Rational and value == written:
        return True
    places = literal.number.decimal_places
    if literal is gold or places < _MIN_DIGITS or literal.number.significant_digits < _MIN_DIGITS:
        return False  # a decimal gold is matched exactly; a short decimal is a different answer
    # Within one unit of the last written digit: rounded or cut off, 0.333333 for 1/3 counts.
    # A gold that is itself a short decimal (1/8) can never be approximated this way.
    error = abs(sympy.N(value - written, 30))
    return bool(error < sympy.Rational(1, 10**places))


def _numeric_value(expr: object) -> sympy.Expr | None:
    """The exact value of a constant scalar expression, or None for anything else."""
    if not isinstance(expr, sympy.Expr) or isinstance(expr, (sympy.Tuple, sympy.Set)):
        return None
    if any(isinstance(arg, sympy.UnevaluatedExpr) for arg in sympy.preorder_traversal(expr)):
        return None  # a percent (x * 1/100 kept unevaluated): leave it to math-verify
    value = expr.doit()
    if not isinstance(value, sympy.Expr) or value.free_symbols or not value.is_number:
        return None
    if value.is_Float:
        return sympy.Rational(str(value))
    return value


def _rescued(gold: object, pred: object) -> bool:
    """The equivalences math-verify misses: vectors as tuples, inequalities joined by "or"."""
    gold_items, pred_items = _vector_items(gold), _vector_items(pred)
    if gold_items is not None and pred_items is not None and _shape(gold) != _shape(pred):
        return len(gold_items) == len(pred_items) and all(
            verify(g, p, timeout_seconds=None) for g, p in zip(gold_items, pred_items)
        )
    if isinstance(gold, (sympy.Interval, sympy.Union)):
        inequalities = _inequalities(pred)
        if inequalities:
            union = sympy.Union(*(sympy.And(*group).as_set() for group in inequalities))
            return bool(verify(gold, union, timeout_seconds=None))
    return False


def _inequalities(expr: object) -> list[list[Relational]] | None:
    """``3 < x \\le 4`` as [[3 < x, x <= 4]], ``x<2`` or ``x>3`` as [[x < 2], [x > 3]]: inequalities
    in one variable, each inner list joined by "and", the lists by "or". Equations are left out:
    ``x^2-3x+2=0`` restates a problem, it does not answer "find the set of solutions"."""
    alternatives = list(expr.args) if isinstance(expr, sympy.FiniteSet) else [expr]
    groups = [list(a.args) if isinstance(a, sympy.And) else [a] for a in alternatives]
    relations: list[Any] = [r for group in groups for r in group]
    if not relations or not all(isinstance(r, Relational) and not isinstance(r, sympy.Eq) for r in relations):
        return None
    if len(set().union(*(r.free_symbols for r in relations))) != 1:
        return None
    return groups


def _shape(expr: object) -> tuple[int, int] | None:
    return expr.shape if isinstance(expr, sympy.MatrixBase) else None


def _vector_items(expr: object) -> list[object] | None:
    """Elements of a row or column vector, an ordered tuple, or an open pair read as an interval."""
    if isinstance(expr, sympy.MatrixBase) and 1 in expr.shape:
        return list(expr)
    if isinstance(expr, sympy.Tuple):
        return list(expr.args)
    if isinstance(expr, sympy.Interval) and expr.left_open and expr.right_open:
        return [expr.start, expr.end]
    return None


def canonical(answer: MathAnswer) -> str:
    """One string per answer value as far as cheaply possible, for majority voting."""
    if answer.time:
        return str(answer.time)
    if answer.number:
        return str(answer.number.value)
    if answer.numbers:
        return answer.numbers.key()
    expr = answer.expr
    if expr is None:
        return " ".join(answer.latex.split())
    try:
        return _key(expr)
    except Exception:  # sympy raises many types on odd input; the text is a fine key then
        return " ".join(answer.latex.split())


def _key(expr: object) -> str:
    if isinstance(expr, sympy.Eq) and isinstance(expr.lhs, sympy.Symbol):
        return _key(expr.rhs)
    if isinstance(expr, sympy.FiniteSet):
        return "{" + ", ".join(sorted(_key(a) for a in expr.args)) + "}"
    if isinstance(expr, sympy.MatrixBase):
        if 1 in expr.shape:
            return "(" + ", ".join(_key(a) for a in expr) + ")"
        rows = (", ".join(_key(a) for a in expr.row(i)) for i in range(expr.rows))
        return "[" + "; ".join(rows) + "]"
    if isinstance(expr, sympy.Tuple):
        return "(" + ", ".join(_key(a) for a in expr.args) + ")"
    if isinstance(expr, sympy.Interval):
        left = "(" if expr.left_open else "["
        right = ")" if expr.right_open else "]"
        return f"{left}{_key(expr.start)}, {_key(expr.end)}{right}"
    if isinstance(expr, sympy.Union):
        return " U ".join(sorted(_key(a) for a in expr.args))
    if isinstance(expr, sympy.Symbol):
        return expr.name.lower()
    if isinstance(expr, sympy.Mul) and any(isinstance(a, sympy.UnevaluatedExpr) for a in expr.args):
        return _key(next(a for a in expr.args if not isinstance(a, sympy.UnevaluatedExpr)))
    if isinstance(expr, sympy.Expr):
        value = expr.doit()
        if value.is_Float:
            return str(sympy.Rational(str(value)))
        if value.is_Rational or not value.is_number:
            return str(sympy.expand(value))
        return str(sympy.N(value, 12))
    return str(expr)


def grade_math(response: str, gold: str) -> Verdict:
    answer = final_answer(response)
    if answer is None:
        return Verdict(False, None, None, gold, NO_ANSWER)
    correct, normalized = judge(gold, answer)
    return Verdict(correct, answer, normalized, gold, MATCH if correct else MISMATCH)


@lru_cache(maxsize=8192)
def judge(gold: str, answer: str) -> tuple[bool, str]:
    """(correct, normalized) for an answer already cut out of its response.

    Everything else in a math verdict is the answer and gold strings themselves (a truncated
    response is marked by :func:`harness.graders.grade.grade`, after this), so the pair is the
    whole key: samples of one item repeat answers (4 to 32 samples in a pass@k run), and a repeat
    skips math-verify's comparison and the normalized form (a wrong answer's comparison goes
    through sympy's simplify: ~10 ms; each string's parse is kept by :func:`read` already). A
    worker keeps at most 8,192 pairs (about 5 MB).

    An answer that reads exactly as the gold once :func:`read` has rewritten it (``3π`` for
    ``3\\pi``) is judged as the gold itself, and its own parse is skipped: :func:`equivalent` and
    :func:`canonical` look only at what :func:`read` returns, so equal readings give equal results.
    """
    gold_answer, pred = read(gold), read(answer)
    if pred == gold_answer and answer != gold:
        return judge(gold, gold)
    correct = equivalent(gold_answer, pred)
    return correct, canonical(pred)
