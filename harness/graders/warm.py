"""Loaded by the grading pool's forkserver only: the graders, warmed up before any worker forks.

math-verify and sympy build much on first use (the LaTeX parser, lazily imported sympy modules,
sympy's caches): 0.5-0.7 s of CPU, which each worker would otherwise pay on its first cases, and
each replacement of a worker killed at its time limit again. Grading a few answers here pays it
once; every worker forked from the server inherits the result. The answers are chosen to pass
through the parser, math-verify's comparison and simplification, and the interval and set
readings; grade() never raises, so a failure here cannot stop the server.
"""

from harness.graders import pool  # noqa: F401 - what the workers run
from harness.graders.grade import grade


def _warm_up() -> None:
    for response, gold in (
        (r"\boxed{\dfrac{3}{4}}", r"\frac34"),
        (r"\boxed{x^2 - 2x}", "(x+1)^2"),
        (r"\boxed{(1, 2]}", r"\{1,2\}"),
    ):
        grade("math", response, gold)


_warm_up()
