"""One entry point for every grader: ``grade(grader, response, gold, finish_reason=..., reasoning_open=...)``.

It is pure and synchronous so that worker processes, ``regrade`` and tests all run exactly the
same code. What every grader shares lives here: reasoning is removed before anything is read,
a response cut off by ``max_tokens`` is never counted correct, and no exception escapes (a
grader failure is a verdict with an ``error:`` reason, so one odd response cannot stop a run).

It sets no time limit of its own: math parsing can hang, so batch callers go through
:class:`~harness.graders.pool.GradingPool`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from harness.graders.choice import grade_choice
from harness.graders.integer import grade_integer
from harness.graders.reasoning import strip_reasoning
from harness.graders.text import grade_exact, grade_regex
from harness.graders.verdict import TRUNCATED, Verdict, error_reason


def _grade_math(response: str, gold: str) -> Verdict:
    """The math grader, imported on first use: it brings sympy and math-verify (about 45 MB and
    a second of CPU), which a run's main process never needs, since math is graded in the
    workers (whose forkserver imports it once, :mod:`harness.graders.warm`)."""
    from harness.graders.math import grade_math

    return grade_math(response, gold)


_GRADERS: dict[str, Callable[[str, str], Verdict]] = {
    "math": _grade_math,
    "integer": grade_integer,
    "mcq": grade_choice,
    "exact": grade_exact,
    "regex": grade_regex,
}
GRADERS: tuple[str, ...] = tuple(_GRADERS)


def check_grader(grader: str) -> None:
    """Raise ValueError naming the valid graders; called before work is queued, not per case."""
    if grader not in _GRADERS:
        raise ValueError(f"unknown grader {grader!r}: use one of {', '.join(GRADERS)}")


def grade(
    grader: str, response: str, gold: str, *, finish_reason: str | None = None, reasoning_open: bool = False
) -> Verdict:
    """Grade one response against its gold answer.

    ``reasoning_open`` says the response starts inside a reasoning block that the chat template
    opened in the prompt: only what follows its closing marker is an answer. Responses of a run
    never need it, since the client keeps their reasoning apart from the content.
    """
    check_grader(grader)
    gold = str(gold)  # some sets store integer answers as JSON numbers
    try:
        verdict = _GRADERS[grader](strip_reasoning(response or "", opened=reasoning_open), gold)
    except RecursionError:
        verdict = Verdict(False, None, None, gold, error_reason("answer nested too deeply to parse"))
    except Exception as exc:  # noqa: BLE001 - sympy and the LaTeX parser raise many types
        verdict = Verdict(False, None, None, gold, error_reason(f"{type(exc).__name__}: {exc}"))
    if finish_reason == "length":
        verdict = replace(verdict, correct=False, reason=TRUNCATED)
    return verdict
