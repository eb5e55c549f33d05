"""Grading throughput: cases per second through GradingPool on this machine's cores.

Rows (every case is unique, so no cache flatters a row):

- math, typical: answers in MATH-500's mix of shapes (62% integers, 11% fractions, 5% tuples or
  intervals, ...), one in ten wrong, each after ~1.5 KB of reasoning text;
- math, parse-heavy: every answer is a LaTeX expression that needs the parser and sympy
  (polynomials, matrices, radical sets), and most are wrong, so no comparison stops early;
- math, 1% hostile: the typical mix with one response in a hundred built to hang the parser,
  each of which costs the pool its full time limit and a replacement worker;
- mcq, typical: GPQA-shaped responses (~2 KB) ending in the forms models use, graded in the
  calling process (the pool's default for mcq, integer and exact), and the same cases sent
  through the workers (``in_process=()``), which is the measurement behind that default;
- mcq, worst: 40 KB responses that weigh the options throughout, with hedged or bare endings;
- pool round trip: a trivial regex case sent to a worker and back, i.e. the pool's own
  per-case overhead.

    .venv/bin/python bench/bench_grading.py             # prints a table, appends bench/results.jsonl
    .venv/bin/python bench/bench_grading.py --n 500 --workers 2 --timeout 5
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from harness.graders import GradeCase, GradingPool  # noqa: E402

RESULTS = ROOT / "bench" / "results.jsonl"

REASONING = (
    "Let me set up the problem carefully. We are told that the sequence satisfies $a_{n+1} = 2a_n + 1$ "
    "with $a_1 = 3$, so the first few terms are 3, 7, 15 and 31. Guessing $a_n = 2^{n+1} - 1$ and checking "
    "it against the recurrence, $2(2^{n+1} - 1) + 1 = 2^{n+2} - 1$, which matches. Now for the second part "
    "we need the sum $S = \\sum_{k=1}^{n} a_k = 2^{n+2} - 4 - n$. Substituting $n = 5$ gives $128 - 4 - 5 = 119$. "
    "Wait, the question asks for something slightly different: the number of terms below 1000, which is 8. "
    "Let me double-check the edge case $n = 0$ separately, since the recurrence only starts at $n = 1$. "
) * 3


# Shares of answer shapes among MATH-500's 500 gold answers (integers 62%, fractions 11%, ...).
_TYPICAL_SHARES = {"integer": 62, "fraction": 11, "expression": 6, "tuple or interval": 5, "other": 5,
                   "radical": 4, "degrees": 3, "text": 2, "decimal": 2}
_TYPICAL_SLOTS = [shape for shape, share in _TYPICAL_SHARES.items() for _ in range(share)]


def _shape(shape: str, i: int, a: int, b: int) -> tuple[str, str]:
    return {
        "integer": (str(i), str(i)),
        "fraction": (rf"\dfrac{{{a}}}{{{b}}}", rf"\frac{{{a}}}{{{b}}}"),
        "expression": (rf"{a}x^2 - {b}x", rf"{a}x^{{2}}-{b}x"),
        "tuple or interval": (rf"\left({a}, -{b}\right)", f"({a},-{b})") if i % 2 else (rf"({a}, {b}]", rf"({a},{b}]"),
        "other": (rf"{a} \pm \sqrt{{{b}}}", rf"{a}\pm\sqrt{{{b}}}"),
        "radical": (rf"{a}\sqrt{{{b}}}", rf"{a} \sqrt{{{b}}}"),
        "degrees": (rf"{a}^\circ", rf"{a}^\circ"),
        "text": (rf"\text{{Person{a}}}", rf"\text{{Person{a}}}"),
        "decimal": (f"{a}.{b}", f"{a}.{b}"),
    }[shape]


def _math_typical(i: int) -> tuple[str, str]:
    """(answer as the model writes it, gold as MATH writes it); every tenth answer is wrong."""
    shape = _TYPICAL_SLOTS[(i * 37) % len(_TYPICAL_SLOTS)]
    a, b = i % 97 + 2, i % 89 + 101
    answer, gold = _shape(shape, i, a, b)
    if i % 10 == 9:
        answer, _ = _shape(shape, i + 1, a + 1, b)
    return answer, gold


def _math_heavy(i: int) -> tuple[str, str]:
    a, b = i % 13 + 2, i % 11 + 3
    shapes = [
        (rf"(x+{a})^3 - {b}x", rf"x^3 + {3 * a}x^2 + {3 * a * a - b}x + {a ** 3 + 1}"),
        (rf"\begin{{pmatrix}} \frac{{{a}}}{{{b}}} & {a} \\ -{b} & \sqrt{{{a}}} \end{{pmatrix}}",
         rf"\begin{{pmatrix}} \frac{{{a}}}{{{b}}} & {a} \\ -{b} & \sqrt{{{a + 1}}} \end{{pmatrix}}"),
        (rf"\left\{{{a} \pm \sqrt{{{b}}}, -\frac{{{b}}}{{{a}}}\right\}}",
         rf"\{{{a}\pm\sqrt{{{b}}},-\frac{{{a}}}{{{b}}}\}}"),
        (rf"\frac{{\sqrt{{{a}}} + \sqrt{{{b}}}}}{{\sqrt{{{a}}} - \sqrt{{{b}}}}}",
         rf"\frac{{{a + b} + 2\sqrt{{{a * b}}}}}{{{a - b}}}"),
    ]
    return shapes[i % len(shapes)]


MCQ_TAIL = (
    "Option A would require the reaction to be run under kinetic control, which the conditions rule out. "
    "Option B matches the observed splitting pattern only if the coupling constant were larger. "
    "Option C fits the mass spectrum and the two NMR signals, and option D is excluded by the IR band. "
) * 6
MCQ_ENDINGS = [
    "ANSWER: {}", "**Answer:** ({})", "The answer is {}.", "\\boxed{{{}}}", "Answer: $\\boxed{{\\text{{{}}}}}$", "{}",
    "The correct answer is ({}) since it fits every observation.",
]
MCQ_WORST = (
    "Could the answer be A or B? Option A is correct only if the solvent is protic, (B) is plausible, "
    "and answer: possibly C, although the answer is not D unless the temperature is raised. "
) * 220


def _mcq_typical(i: int) -> tuple[str, str]:
    letter = "ABCD"[i % 4]
    return MCQ_TAIL + "\n\n" + MCQ_ENDINGS[i % len(MCQ_ENDINGS)].format(letter), letter


def _mcq_worst(i: int) -> tuple[str, str]:
    letter = "ABCD"[i % 4]
    return MCQ_WORST + ("\n\n" + letter if i % 2 else "\n\nSo it is either " + letter + " or A."), letter


def _math_cases(n: int, make: Callable[[int], tuple[str, str]], offset: int) -> list[GradeCase]:
    cases = []
    for i in range(offset, offset + n):
        answer, gold = make(i)
        cases.append(GradeCase("math", f"{REASONING}\n\nTherefore, the answer is $\\boxed{{{answer}}}$.", gold))
    return cases


def _timed(pool: GradingPool, cases: list[GradeCase]) -> dict:
    start = time.perf_counter()
    verdicts = pool.grade_many(cases)
    seconds = time.perf_counter() - start
    reasons: dict[str, int] = {}
    for verdict in verdicts:
        reasons[verdict.reason] = reasons.get(verdict.reason, 0) + 1
    return {"cases": len(cases), "seconds": round(seconds, 3), "cases_per_s": round(len(cases) / seconds, 1),
            "ms_per_case": round(1000 * seconds / len(cases), 3), "reasons": reasons}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="cases per math row (mcq rows use 10x)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=5.0, help="per-case time limit in seconds")
    args = parser.parse_args()

    hostile = r"\boxed{9^{9^{9^{9^{9}}}}}"
    with (
        GradingPool(workers=args.workers, timeout_s=args.timeout) as pool,
        GradingPool(workers=args.workers, timeout_s=args.timeout, in_process=()) as all_in_workers,
    ):
        pool.grade_many(_math_cases(200, _math_typical, offset=10**6))  # start and warm the workers
        all_in_workers.grade_many([GradeCase("mcq", "ANSWER: A", "A")])
        typical_hostile = _math_cases(args.n, _math_typical, offset=2 * args.n)
        for i in range(50, len(typical_hostile), 100):
            typical_hostile[i] = GradeCase("math", REASONING + hostile, "5")
        mcq_typical = [GradeCase("mcq", *_mcq_typical(i)) for i in range(10 * args.n)]
        rows = {
            "math, typical": _timed(pool, _math_cases(args.n, _math_typical, offset=0)),
            "math, parse-heavy": _timed(pool, _math_cases(args.n, _math_heavy, offset=0)),
            "math, 1% hostile": _timed(pool, typical_hostile),
            "mcq, typical (in-process)": _timed(pool, mcq_typical),
            "mcq, typical via workers": _timed(all_in_workers, mcq_typical),
            "mcq, worst (40 KB, hedged)": _timed(pool, [GradeCase("mcq", *_mcq_worst(i)) for i in range(args.n)]),
            "pool round trip (trivial regex)": _timed(
                pool, [GradeCase("regex", f"Answer: {i}", r"\d+") for i in range(10 * args.n)]
            ),
        }

    print(f"grading throughput, {args.workers} workers, {os.cpu_count()} cpus, time limit {args.timeout:g}s")
    print(f"{'row':34} {'cases':>6} {'seconds':>8} {'cases/s':>9} {'ms/case':>8}  reasons")
    for name, row in rows.items():
        reasons = ", ".join(f"{k}: {v}" for k, v in sorted(row["reasons"].items()))
        figures = f"{row['cases']:6} {row['seconds']:8.2f} {row['cases_per_s']:9.1f} {row['ms_per_case']:8.3f}"
        print(f"{name:34} {figures}  {reasons}")
    record = {
        "bench": "grading",
        "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()},
        "params": {"n": args.n, "workers": args.workers, "timeout_s": args.timeout},
        "rows": [{"row": name, **row} for name, row in rows.items()],
    }
    with RESULTS.open("a", encoding="utf-8") as sink:
        sink.write(json.dumps(record) + "\n")


if __name__ == "__main__":  # the pool's workers import this module again; they must not run it
    main()
