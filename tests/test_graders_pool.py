"""GradingPool: time limits, crashed workers, order, and asyncio callers."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import threading
import time

import pytest

from harness.graders import GradeCase, GradingPool, Verdict, grade

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
    # 1 s of the worker's CPU; a low-priority worker on a busy machine takes longer to use it. The
    # case never ends by itself: any bound catches a missing timeout, so a generous one.
    assert elapsed < 60, f"took {elapsed:.1f}s for a 1s limit"
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
    # grading that blocked the loop would stall it for the hanging case's whole time limit (2 s)
    assert longest_gap < 1.0, f"the loop stalled for {longest_gap:.2f}s"


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


def _new_workers(others: set[int], count: int) -> list[int]:
    workers = sorted(_grading_workers() - others)
    assert len(workers) == count
    return workers


def test_submit_returns_futures_that_resolve_to_the_verdicts_of_grade():
    cases = [GradeCase("math", rf"\boxed{{\frac{{{n}}}{{4}}}}", rf"\frac{{{n}}}{{4}}") for n in range(1, 30)]
    cases += [GradeCase("mcq", "ANSWER: B", "B"), GradeCase("regex", "Answer: 42", r"4\d"), HANGS]
    with GradingPool(workers=2, timeout_s=1.0) as pool:
        futures = [pool.submit(case) for case in cases]
        assert futures[-3].done()  # mcq: graded on the spot
        verdicts = [future.result(timeout=60) for future in futures]

        async def from_a_loop() -> Verdict:
            return await asyncio.wrap_future(pool.submit(GradeCase("math", r"\boxed{0.5}", r"\frac12")))

        assert asyncio.run(from_a_loop()).reason == "match"
    assert verdicts[:-1] == [grade(c.grader, c.response, c.gold) for c in cases[:-1]]
    assert verdicts[-1].reason == "parse timeout"
    for case in (cases[0], cases[-3]):  # pooled or in-process alike
        with pytest.raises(RuntimeError, match="closed"):
            pool.submit(case)
    with pytest.raises(ValueError, match="unknown grader"):
        GradingPool().submit(GradeCase("algebra", "x", "y"))


def test_a_burst_of_submissions_wakes_the_dispatcher_only_when_it_idles():
    with GradingPool(workers=2) as pool:
        pool.grade_many([GradeCase("math", r"\boxed{1}", "1")])  # the dispatcher now waits, workers idle
        wakes = 0
        wake = pool._wake

        def counted() -> None:
            nonlocal wakes
            wakes += 1
            wake()

        pool._wake = counted  # type: ignore[method-assign]
        cases = [GradeCase("math", rf"\boxed{{{n}}}", str(n % 7)) for n in range(300)]
        futures = [pool.submit(case) for case in cases]
        verdicts = [future.result(timeout=60) for future in futures]
    assert [v.correct for v in verdicts] == [n % 7 == n for n in range(300)]
    assert 1 <= wakes <= 10, f"{wakes} wake-ups for 300 submissions"


def test_workers_run_at_a_lower_cpu_priority():
    mine = os.getpriority(os.PRIO_PROCESS, 0)
    for niceness, expected in ((None, min(19, mine + 10)), (3, min(19, mine + 3))):
        others = _grading_workers()
        with GradingPool(workers=1, **({} if niceness is None else {"niceness": niceness})) as pool:
            pool.grade_many([GradeCase("math", r"\boxed{1}", "1")])
            [worker] = _new_workers(others, 1)
            assert os.getpriority(os.PRIO_PROCESS, worker) == expected
    with pytest.raises(ValueError, match="niceness"):
        GradingPool(niceness=-1)


def _backtracking_case(cpu_s: float) -> GradeCase:
    """A regex case that takes about ``cpu_s`` seconds of CPU to grade (and then grades normally)."""
    for length in range(14, 40):
        case = GradeCase("regex", "Answer: " + "a" * length + "!", "(a+)+$")
        start = time.thread_time()
        grade(case.grader, case.response, case.gold)
        if time.thread_time() - start >= cpu_s:
            return case
    raise AssertionError("no case slow enough")


def test_the_time_limit_counts_cpu_time_not_time_off_the_cpu():
    slow = _backtracking_case(0.15)  # far under the 1 s limit, however long the worker waits
    others = _grading_workers()
    with GradingPool(workers=1, timeout_s=1.0) as pool:
        pool.grade_many([GradeCase("math", r"\boxed{1}", "1")])
        [worker] = _new_workers(others, 1)
        os.kill(worker, signal.SIGSTOP)  # a busy machine keeping the low-priority worker waiting
        try:
            future = pool.submit(slow)
            time.sleep(1.6)
        finally:
            os.kill(worker, signal.SIGCONT)
        verdict = future.result(timeout=30)
    assert verdict.reason == "mismatch"  # graded, not "parse timeout"


def test_a_worker_held_off_the_cpu_for_ten_times_the_limit_is_a_timeout_all_the_same():
    others = _grading_workers()
    with GradingPool(workers=1, timeout_s=0.2) as pool:
        pool.grade_many([GradeCase("math", r"\boxed{1}", "1")])
        [worker] = _new_workers(others, 1)
        os.kill(worker, signal.SIGSTOP)  # never continued: the pool kills it
        start = time.monotonic()
        stuck = pool.submit(GradeCase("math", r"\boxed{2}", "2")).result(timeout=30)
        elapsed = time.monotonic() - start
        after = pool.submit(GradeCase("math", r"\boxed{3}", "3")).result(timeout=30)
    assert stuck.reason == "parse timeout"
    assert 10 * 0.2 <= elapsed < 10 * 0.2 + 20.0  # never before ten times the limit; after it, soon (the machine may be busy)
    assert after.reason == "match"
