"""Grading throughput and CPU: cases per second and CPU seconds per 1,000 cases through GradingPool.

Rows:

- math, typical: answers in MATH-500's mix of shapes (62% integers, 11% fractions, 5% tuples or
  intervals, ...), one in ten wrong, each after ~1.5 KB of reasoning text; every case unique;
- math, typical, 4 samples: the same mix as a 4-sample run sends it (sample after sample, every
  item in each; the plan's order): each item's samples have their own reasoning text, three of
  four state the item's usual answer and one another answer, so answers repeat as they do in
  pass@k runs;
- math, parse-heavy (worst): every answer a LaTeX expression that needs the parser and sympy
  (polynomials, matrices, radical sets), most of them wrong, every case unique;
- math, 1% hostile: the typical mix with one response in a hundred built to hang the parser,
  each of which costs the pool its full time limit and a replacement worker;
- integer, AIME-shaped: ~1.5 KB responses ending in the forms models use for a 0-999 answer,
  graded in the calling process (the pool's default for mcq, integer and exact);
- mcq, typical: GPQA-shaped responses (~2 KB), in the calling process, and the same cases sent
  through the workers (``in_process=()``), which is the measurement behind that default;
- mcq, worst: 40 KB responses that weigh the options throughout, with hedged or bare endings;
- pool round trip: a trivial regex case sent to a worker and back, i.e. the pool's own
  per-case overhead; once through ``grade_many`` and once through ``submit`` in a burst, with the
  caller's own CPU per ``submit`` call;
- pipelined, niceness N: parse-heavy cases handed one by one to ``GradingPool.submit`` from an
  asyncio loop that meanwhile stands in for a run's sending loop (it burns CPU in 1 ms slices,
  ``--loop-load`` of a core: 1 is a loop saturated by sending, which leaves the dispatcher thread
  the GIL only through forced switches) and runs a 5 ms ticker; reported: how late the ticker
  wakes (max, 99th percentile, wake-ups over 100 ms) and the share of a core the loop thread got.
  The CPU figures of these rows leave out the loop thread (the stand-in load, and the submit
  calls). Other work on the machine competes too; under ``taskset -c 1`` the loop and the workers
  share one core, which shows the workers' priority alone.

CPU is the whole process tree's (this process, the forkserver and the workers, replaced ones
included), read from /proc before and after each row; "main" is this process alone, and
"dispatcher" the pool's dispatcher thread within it, which shares the GIL with an event loop.

    .venv/bin/python bench/bench_grading.py             # prints a table, appends bench/results.jsonl
    .venv/bin/python bench/bench_grading.py --n 500 --workers 2 --timeout 5 --niceness 10,0
    taskset -c 1 .venv/bin/python bench/bench_grading.py --n 200 --pipelined 80   # one core shared
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import resource
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

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


def _boxed(answer: str, reasoning: str = REASONING) -> str:
    return f"{reasoning}\n\nTherefore, the answer is $\\boxed{{{answer}}}$."


def _math_cases(n: int, make: Callable[[int], tuple[str, str]], offset: int) -> list[GradeCase]:
    cases = []
    for i in range(offset, offset + n):
        answer, gold = make(i)
        cases.append(GradeCase("math", _boxed(answer), gold))
    return cases


def _math_samples(n: int, offset: int, samples: int = 4) -> list[GradeCase]:
    """n cases: n // samples items, sample after sample; the last sample of each item answers otherwise."""
    cases = []
    for sample in range(samples):
        for i in range(offset, offset + n // samples):
            answer, gold = _math_typical(i)
            if sample == samples - 1:
                answer, _ = _math_typical(i + 1)
            cases.append(GradeCase("math", _boxed(answer, f"Sample {sample}, item {i}. {REASONING}"), gold))
    return cases


INTEGER_ENDINGS = [
    "\\boxed{{{}}}", "The final answer is $\\boxed{{{:03d}}}$.", "**Answer:** {}", "So $n = {}$.\n\n$$\\boxed{{{}}}$$",
]


def _integer_typical(i: int) -> tuple[str, str]:
    value = (i * 37) % 1000
    stated = value if i % 10 != 9 else value + 1
    ending = INTEGER_ENDINGS[i % len(INTEGER_ENDINGS)].format(stated, stated)
    return f"{REASONING}\n\n{ending}", f"{value:03d}"


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


# -- CPU from /proc --------------------------------------------------------------------------

_TICK = os.sysconf("SC_CLK_TCK")


def _tree_cpu(pid: int) -> float:
    """CPU seconds of ``pid`` and its descendants, living or reaped (utime, stime, cutime, cstime)."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()  # fields after the name: utime is [11]
        total = sum(int(x) for x in fields[11:15]) / _TICK
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children", encoding="ascii") as handle:
                total += sum(_tree_cpu(int(child)) for child in handle.read().split())
    except (FileNotFoundError, ProcessLookupError):
        return 0.0  # it exited meanwhile: its CPU now counts in its parent's cutime
    return total


def _thread_cpu(thread: threading.Thread | None) -> float:
    """A thread's CPU seconds to the nanosecond (/proc counts in 10 ms ticks, too coarse for it)."""
    if thread is None or thread.ident is None or not thread.is_alive():
        return 0.0
    return time.clock_gettime(time.pthread_getcpuclockid(thread.ident))


class _CPU:
    """CPU seconds spent between construction and :meth:`stop`: tree, this process, the dispatcher."""

    def __init__(self, pool: GradingPool) -> None:
        self.pool = pool
        self.start = self._now()

    def _now(self) -> tuple[float, float, float]:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return _tree_cpu(os.getpid()), usage.ru_utime + usage.ru_stime, _thread_cpu(self.pool._thread)

    def stop(self, cases: int, leave_out_s: float = 0.0) -> dict[str, float]:
        """Per 1,000 cases; ``leave_out_s`` of this process's CPU is not the pool's."""
        end = self._now()
        tree, main, dispatcher = (1000 * (b - a - leave) / cases
                                  for a, b, leave in zip(self.start, end, (leave_out_s, leave_out_s, 0.0)))
        return {"cpu_s_per_1000": round(tree, 3), "main_cpu_s_per_1000": round(main, 3),
                "dispatcher_cpu_s_per_1000": round(dispatcher, 3)}


def _summary(cases: int, seconds: float, reasons_of: list[str]) -> dict[str, Any]:
    reasons: dict[str, int] = {}
    for reason in reasons_of:
        reasons[reason] = reasons.get(reason, 0) + 1
    return {"cases": cases, "seconds": round(seconds, 3), "cases_per_s": round(cases / seconds, 1),
            "ms_per_case": round(1000 * seconds / cases, 3), "reasons": reasons}


def _timed(pool: GradingPool, cases: list[GradeCase]) -> dict[str, Any]:
    cpu = _CPU(pool)
    start = time.perf_counter()
    verdicts = pool.grade_many(cases)
    seconds = time.perf_counter() - start
    return {**_summary(len(cases), seconds, [v.reason for v in verdicts]), **cpu.stop(len(cases))}


def _submitted(pool: GradingPool, cases: list[GradeCase]) -> dict[str, Any]:
    """All cases through ``submit`` in a burst, then every verdict awaited."""
    cpu = _CPU(pool)
    start, caller = time.perf_counter(), time.thread_time()
    futures = [pool.submit(case) for case in cases]
    caller = time.thread_time() - caller
    verdicts = [future.result() for future in futures]
    seconds = time.perf_counter() - start
    return {**_summary(len(cases), seconds, [v.reason for v in verdicts]), **cpu.stop(len(cases)),
            "submit_us_per_case": round(1e6 * caller / len(cases), 1)}


# -- pipelined: submit() from a busy event loop ------------------------------------------------

_TICK_S = 0.005


async def _pipelined(pool: GradingPool, cases: list[GradeCase], load: float) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    lags: list[float] = []
    finished = asyncio.Event()
    reasons: list[str] = []

    def settle(reason: str) -> None:
        reasons.append(reason)
        if len(reasons) == len(cases):
            finished.set()

    async def ticker() -> None:
        while True:
            start = time.perf_counter()
            await asyncio.sleep(_TICK_S)
            lags.append(time.perf_counter() - start - _TICK_S)

    async def sending() -> None:
        """Stands in for a sending loop that wants ``load`` of a core: CPU in 1 ms slices, with
        the loop free (waiting on I/O, as it were) in between."""
        while True:
            end = time.perf_counter() + 0.001
            while time.perf_counter() < end:
                pass
            await asyncio.sleep(0.001 * (1 / load - 1))

    tasks = [asyncio.create_task(ticker()), asyncio.create_task(sending())]
    await asyncio.sleep(0.05)
    cpu = _CPU(pool)
    loop_cpu, start = time.thread_time(), time.perf_counter()
    for case in cases:
        pool.submit(case).add_done_callback(lambda f: loop.call_soon_threadsafe(settle, f.result().reason))
        await asyncio.sleep(0)  # answers arrive one by one
    await finished.wait()
    seconds = time.perf_counter() - start
    loop_cpu = time.thread_time() - loop_cpu
    for task in tasks:
        task.cancel()
    lags.sort()
    return {**_summary(len(cases), seconds, reasons), **cpu.stop(len(cases), leave_out_s=loop_cpu),
            "loop_core_share": round(loop_cpu / seconds, 3),
            "lag_max_ms": round(1000 * lags[-1], 1),
            "lag_p99_ms": round(1000 * lags[int(0.99 * (len(lags) - 1))], 1),
            "lags_over_100ms": sum(lag > 0.1 for lag in lags)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1000, help="cases per math row (half for the worst-case rows, 10x for mcq)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--timeout", type=float, default=5.0, help="per-case time limit in seconds")
    parser.add_argument("--niceness", default="10,0", help="worker niceness of each pipelined row")
    parser.add_argument("--pipelined", type=int, default=100, help="parse-heavy cases per pipelined row")
    parser.add_argument("--loop-load", type=float, default=1.0, help="share of a core the stand-in loop wants (0-1]")
    args = parser.parse_args()
    if not 0 < args.loop_load <= 1:
        parser.error("--loop-load must be in (0, 1]")

    hostile = r"\boxed{9^{9^{9^{9^{9}}}}}"
    rows: dict[str, dict[str, Any]] = {}
    with (
        GradingPool(workers=args.workers, timeout_s=args.timeout) as pool,
        GradingPool(workers=args.workers, timeout_s=args.timeout, in_process=()) as all_in_workers,
    ):
        pool.grade_many(_math_cases(200, _math_typical, offset=10**6))  # start and warm the workers
        all_in_workers.grade_many([GradeCase("mcq", "ANSWER: A", "A")])
        half = args.n // 2
        typical_hostile = _math_cases(half, _math_typical, offset=2 * args.n)
        for i in range(50, len(typical_hostile), 100):
            typical_hostile[i] = GradeCase("math", REASONING + hostile, "5")
        mcq_typical = [GradeCase("mcq", *_mcq_typical(i)) for i in range(10 * args.n)]
        rows["math, typical"] = _timed(pool, _math_cases(args.n, _math_typical, offset=0))
        rows["math, typical, 4 samples"] = _timed(pool, _math_samples(args.n, offset=3 * args.n))
        rows["math, parse-heavy (worst)"] = _timed(pool, _math_cases(half, _math_heavy, offset=0))
        rows["math, 1% hostile"] = _timed(pool, typical_hostile)
        rows["integer, AIME-shaped (in-process)"] = _timed(
            pool, [GradeCase("integer", *_integer_typical(i)) for i in range(10 * args.n)]
        )
        rows["mcq, typical (in-process)"] = _timed(pool, mcq_typical)
        rows["mcq, typical via workers"] = _timed(all_in_workers, mcq_typical)
        rows["mcq, worst (40 KB, hedged)"] = _timed(pool, [GradeCase("mcq", *_mcq_worst(i)) for i in range(args.n)])
        trivial = [GradeCase("regex", f"Answer: {i}", r"\d+") for i in range(10 * args.n)]
        rows["pool round trip (trivial regex)"] = _timed(pool, trivial)
        rows["same, through submit()"] = _submitted(pool, trivial)
    for niceness in (int(x) for x in args.niceness.split(",")):
        with GradingPool(workers=args.workers, timeout_s=args.timeout, niceness=niceness) as pipelined:
            pipelined.grade_many(_math_cases(20, _math_typical, offset=10**6))  # start the workers
            cases = _math_cases(args.pipelined, _math_heavy, offset=10**5 * (niceness + 1))
            rows[f"pipelined, niceness {niceness}"] = asyncio.run(_pipelined(pipelined, cases, args.loop_load))

    print(f"grading, {args.workers} workers, {os.cpu_count()} cpus, time limit {args.timeout:g}s; "
          "CPU s per 1,000 cases: tree (main process, dispatcher thread)")
    print(f"{'row':34} {'cases':>6} {'seconds':>8} {'cases/s':>9} {'CPU s/1000':>20}  reasons")
    for name, row in rows.items():
        cpu = f"{row['cpu_s_per_1000']:.2f} ({row['main_cpu_s_per_1000']:.2f}, {row['dispatcher_cpu_s_per_1000']:.2f})"
        reasons = ", ".join(f"{k}: {v}" for k, v in sorted(row["reasons"].items()))
        print(f"{name:34} {row['cases']:6} {row['seconds']:8.2f} {row['cases_per_s']:9.1f} {cpu:>20}  {reasons}")
        if "submit_us_per_case" in row:
            print(f"{'':34} the caller: {row['submit_us_per_case']:.1f} us of CPU per submit()")
        if "loop_core_share" in row:
            print(f"{'':34} event loop: {row['loop_core_share']:.0%} of a core, ticker late by max "
                  f"{row['lag_max_ms']:.0f} ms, p99 {row['lag_p99_ms']:.0f} ms, {row['lags_over_100ms']} wake-ups > 100 ms")
    record = {
        "bench": "grading",
        "time": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform(),
                    "load": os.getloadavg()},
        "params": {"n": args.n, "workers": args.workers, "timeout_s": args.timeout, "niceness": args.niceness,
                   "pipelined": args.pipelined, "loop_load": args.loop_load},
        "rows": [{"row": name, **row} for name, row in rows.items()],
    }
    with RESULTS.open("a", encoding="utf-8") as sink:
        sink.write(json.dumps(record) + "\n")


if __name__ == "__main__":  # the pool's workers import this module again; they must not run it
    main()
