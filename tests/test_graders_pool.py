"""GradingPool: time limits, crashed workers, order, and asyncio callers."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import threading
import time

import pytest

from harness.graders import GradeCase, GradingPool, grade

HANGS = GradeCase("math", r"So the answer is $\boxed{9^{9^{9^{9^{9}}}}}$.", "5")  # one endless big-int power


@pytest.fixture(scope="module")
def pool():
    with GradingPool(workers=2, timeout_s=2.0) as pool:
        pool.grade_many([GradeCase("math", r"\boxed{1}", "1")])  # start the workers outside the timings
        yield pool


def test_a_hanging_response_times_out_and_the_next_case_still_grades():
    with GradingPool(workers=1, timeout_s=1.0) as pool:
        pool.grade_many([GradeCase("math", r"\boxed{1}", "1")])
        start = time.monotonic()
        [hung] = pool.grade_many([HANGS])
        elapsed = time.monotonic() - start
        [after] = pool.grade_many([GradeCase("math", r"\boxed{\frac{1}{2}}", "0.5")])  # on the replacement worker
    assert (hung.correct, hung.reason) == (False, "parse timeout")
    assert elapsed < 1.0 + 1.0, f"took {elapsed:.1f}s for a 1s limit"
    assert (after.correct, after.reason) == (True, "match")


def test_the_time_limit_is_per_case_not_per_batch(pool):
    cases = [GradeCase("math", rf"\boxed{{\frac{{{n}}}{{7}}}}", rf"\frac{{{n}}}{{7}}") for n in range(1, 200)]
    verdicts = pool.grade_many(cases)  # far longer than 2 s in total on one worker, never per case
    assert all(v.reason == "match" for v in verdicts)


def test_results_keep_the_input_order_across_graders(pool):
    cases = []
    for n in range(60):
        cases.append(GradeCase("math", rf"\boxed{{{n}}}", str(n)))
        cases.append(GradeCase("mcq", "ANSWER: " + "ABCD"[n % 4], "ABCD"[(n + n // 4) % 4]))
        cases.append(GradeCase("integer", rf"\boxed{{{n:03d}}}", str(n + n % 2)))
        cases.append(GradeCase("regex", f"Answer: item-{n}", rf"item-{n}"))
    cases.insert(50, HANGS)
    verdicts = pool.grade_many(cases)
    assert [v.gold for v in verdicts] == [c.gold for c in cases]
    for case, verdict in zip(cases, verdicts):
        if case is not HANGS:
            assert verdict == grade(case.grader, case.response, case.gold)


def _grading_workers() -> set[int]:
    return {p.pid for p in multiprocessing.active_children() if p.name == "glm-eval-grader"}


def test_a_crashed_worker_becomes_a_verdict_and_the_pool_goes_on():
    others = _grading_workers()
    with GradingPool(workers=1, timeout_s=30.0) as pool:
        pool.grade_many([GradeCase("math", r"\boxed{1}", "1")])
        workers = _grading_workers() - others
        assert len(workers) == 1
        result: list = []
        cases = [HANGS, GradeCase("math", r"\boxed{2}", "2")]
        thread = threading.Thread(target=lambda: result.extend(pool.grade_many(cases)))
        thread.start()
        time.sleep(1.0)  # the worker is now stuck on HANGS
        for pid in workers:
            os.kill(pid, signal.SIGKILL)
        thread.join(timeout=20)
    crashed, after = result
    assert (crashed.correct, crashed.reason) == (False, "error: worker crashed")
    assert after.reason == "match"


def test_async_grading_never_blocks_the_event_loop(pool):
    async def main() -> tuple[list, float]:
        gaps: list[float] = []

        async def ticker() -> None:
            last = time.monotonic()
            while True:
                await asyncio.sleep(0.01)
                now = time.monotonic()
                gaps.append(now - last)
                last = now

        ticking = asyncio.create_task(ticker())
        verdicts = await asyncio.gather(
            pool.grade(HANGS), *(pool.grade(GradeCase("math", rf"\boxed{{{n}}}", str(n))) for n in range(20))
        )
        ticking.cancel()
        return verdicts, max(gaps)

    verdicts, longest_gap = asyncio.run(main())
    assert verdicts[0].reason == "parse timeout"
    assert all(v.reason == "match" for v in verdicts[1:])
    assert longest_gap < 0.25, f"the loop stalled for {longest_gap:.2f}s"


def test_async_context_manager_closes_the_pool():
    async def main() -> GradingPool:
        async with GradingPool(workers=1) as pool:
            assert (await pool.grade(GradeCase("mcq", "ANSWER: B", "B"))).correct
            assert (await pool.grade(GradeCase("math", r"\boxed{3}", "3"))).correct
        return pool

    closed = asyncio.run(main())
    with pytest.raises(RuntimeError, match="closed"):
        closed.grade_many([GradeCase("math", r"\boxed{3}", "3")])


def test_cheap_graders_run_in_process_through_the_same_api():
    before = _grading_workers()
    with GradingPool() as pool:
        cases = [GradeCase("mcq", "ANSWER: A", "A"), GradeCase("integer", r"\boxed{7}", "7"),
                 GradeCase("exact", "Answer: Paris", "paris")]
        assert [v.correct for v in pool.grade_many(cases)] == [True, True, True]
        assert _grading_workers() == before  # no worker process was needed for them


def test_cheap_graders_are_safe_through_the_workers_too():
    cases = [GradeCase("mcq", "ANSWER: " + "ABCD"[n % 4], "ABCD"[n % 3]) for n in range(40)]
    cases.append(GradeCase("regex", "Answer: " + "a" * 30 + "!", "(a+)+$"))  # a catastrophic backtracker
    cases.append(GradeCase("integer", r"\boxed{007}", "7"))
    with GradingPool(workers=2, timeout_s=1.0, in_process=()) as pool:
        verdicts = pool.grade_many(cases)
    assert verdicts[:40] == [grade(c.grader, c.response, c.gold) for c in cases[:40]]
    assert verdicts[40].reason == "parse timeout"
    assert verdicts[41].correct


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="workers"):
        GradingPool(workers=0)
    with pytest.raises(ValueError, match="timeout_s"):
        GradingPool(timeout_s=0)
    with GradingPool() as pool, pytest.raises(ValueError, match="unknown grader"):
        pool.grade_many([GradeCase("algebra", "x", "y")])
