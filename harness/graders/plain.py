"""math-verify as it comes: the second opinion of `glm-eval regrade RUN --second-opinion math-verify`.

glm-eval's own graders cut the final answer out of a response and correct math-verify where it
was measured to be wrong. This module does neither: it hands the whole answer (reasoning removed,
as every reader of a response must) and the gold to ``math_verify.parse`` with its default
extraction, and asks ``math_verify.verify``. Where the two disagree, the score depends on how it
was graded, which is what a user auditing a run needs to see.

The gold is given in math-verify's documented form, inside ``$...$``: read bare, 108 of MATH-500's
500 golds do not verify against themselves boxed (``3\\sqrt{13}``, ``6 - 5i``, ``\\pi``); inside
dollars all 500 do.

Multiple-choice answers are read with math-verify's own letter extraction (``StringExtractionConfig``,
A to D). Exact-match and regex tasks have no math-verify reading at all (``PLAIN_GRADERS`` says
which graders have one).

Time limits are the grading pool's, as for the math grader: math-verify's own use SIGALRM, which
works only in a main thread.
"""

from __future__ import annotations

from math_verify import StringExtractionConfig, parse, verify

from harness.graders.reasoning import strip_reasoning
from harness.graders.verdict import MATCH, MISMATCH, NO_ANSWER, TRUNCATED, Verdict, error_reason

_LETTERS = (StringExtractionConfig(),)
# The glm-eval grader each task names -> how math-verify reads its answers (None: its default).
PLAIN_GRADERS: dict[str, tuple[StringExtractionConfig, ...] | None] = {"math": None, "integer": None, "mcq": _LETTERS}


def grade_plain(grader: str, response: str, gold: str, finish_reason: str | None = None) -> Verdict:
    """One response read by plain math-verify; a cut-off answer is wrong here as in every verdict."""
    gold = str(gold)
    config = PLAIN_GRADERS[grader]
    options = {"parsing_timeout": None} if config is None else {"extraction_config": config, "parsing_timeout": None}
    try:
        gold_read = parse(f"${gold}$" if config is None else gold, **options)
        answer = parse(strip_reasoning(response or ""), **options)
        correct = bool(gold_read and answer and verify(gold_read, answer, timeout_seconds=None))
    except Exception as exc:  # noqa: BLE001 - sympy raises many types; one odd answer must not stop an audit
        return Verdict(False, None, None, gold, error_reason(f"{type(exc).__name__}: {exc}"))
    extracted = str(answer[-1]) if answer else None
    if finish_reason == "length":
        return Verdict(False, extracted, None, gold, TRUNCATED)
    reason = MATCH if correct else (MISMATCH if answer else NO_ANSWER)
    return Verdict(correct, extracted, None, gold, reason)
