"""The verdict every grader returns, and the fixed vocabulary of its reasons.

Reasons are a closed set of short strings (plus ``error: <detail>``) so that reports can count
them and ``regrade`` can compare two runs verdict by verdict.
"""

from __future__ import annotations

from dataclasses import dataclass

MATCH = "match"
MISMATCH = "mismatch"
NO_ANSWER = "no answer found"
# A response that names several candidates (letters mentioned, not chosen) where none is clearly
# the one it commits to: counted apart and never scored correct, rather than guessed.
AMBIGUOUS = "ambiguous"
TRUNCATED = "truncated: finish_reason=length"
TIMEOUT = "parse timeout"
WORKER_CRASHED = "error: worker crashed"


def error_reason(detail: str) -> str:
    """An ``error: ...`` reason kept to one short line, so a report table stays readable."""
    detail = " ".join(detail.split())
    return "error: " + (detail[:117] + "..." if len(detail) > 120 else detail)


@dataclass(frozen=True, slots=True)
class Verdict:
    """One graded response: whether it is right, and enough to see why.

    ``normalized`` is the key for majority voting: two answers the grader considers the same
    written the same way (``\\dfrac12`` and ``0.5``, ``x=3`` and ``3``) map to one string.
    """

    correct: bool
    extracted: str | None
    normalized: str | None
    gold: str
    reason: str
