"""`glm-eval` exactly as the console script runs it, plus a record of its phases, for benchmarks.

    python bench/harness_probe.py run --provider simulated ...      # same arguments as glm-eval

Nothing in the harness changes: the probe watches the run's phases through the harness's public
hook (`harness.phases`: send, grade (what is left of grading after sending), judge, write_samples,
finish (the report files and the summary table at the end)) to note the wall time, this process's
CPU and its RSS when each starts and ends. Environment:

- GLM_BENCH_PHASES=path: write {"import": ..., "send": ..., "grade": ..., "lag": ...} there as JSON;
- GLM_BENCH_LAG=1: an asyncio task in every event loop of the run (an event-loop policy, asyncio's
  own hook) sleeps 5 ms at a time and records how late each wake-up is while sending;
- GLM_BENCH_TRACEMALLOC=N: trace allocations; record the N largest allocation sites (by line)
  still held at the end of sending and at the end of grading, and the traced peak.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import resource
import sys
import time
from collections.abc import Iterator

# Grading workers (multiprocessing forkserver) run this file again as __mp_main__, as they run the
# glm-eval console script: so nothing but the standard library is imported at module level here,
# or the workers would pay for imports that the real console script does not make them pay for.
T0 = time.perf_counter()
CPU0 = time.process_time()
PHASES: dict[str, object] = {}
LAGS: list[float] = []
LATE: list[tuple[float, float]] = []  # (seconds since the loop started, lag) of every wake-up over 50 ms
SENDING: list[bool] = []  # the phases under way, innermost last: True for sending


def _mark() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _top(n: int) -> list[dict[str, object]]:
    import tracemalloc

    snapshot = tracemalloc.take_snapshot().filter_traces(
        [tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, "<frozen importlib._bootstrap>")])
    stats = snapshot.statistics("lineno")
    return [{"where": f"{s.traceback[0].filename.replace(os.getcwd() + '/', '')}:{s.traceback[0].lineno}",
             "mb": round(s.size / 2**20, 2), "blocks": s.count} for s in stats[:n]]


@contextlib.contextmanager
def _record(name: str) -> Iterator[None]:
    """A harness.phases watcher: notes one phase's wall time, CPU and memory."""
    wall, cpu = _mark()
    SENDING.append(name == "send")
    try:
        yield
    finally:
        SENDING.pop()
        end_wall, end_cpu = _mark()
        record: dict[str, object] = {
            "start_s": wall - T0, "wall_s": end_wall - wall, "cpu_s": end_cpu - cpu, "rss_mb_after": _rss_mb(),
            "maxrss_mb_after": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
        top = int(os.environ.get("GLM_BENCH_TRACEMALLOC") or 0)
        if top:
            import tracemalloc

            record["tracemalloc_top"] = _top(top)
            record["tracemalloc_current_peak_mb"] = [round(v / 2**20, 1) for v in tracemalloc.get_traced_memory()]
        if name in PHASES:  # called again (the judge's own sending): keep the first, count the rest
            first = PHASES[name]
            first["calls"] = first.get("calls", 1) + 1  # type: ignore[union-attr]
            first["wall_s"] += record["wall_s"]  # type: ignore[index,operator]
            first["cpu_s"] += record["cpu_s"]  # type: ignore[index,operator]
        else:
            PHASES[name] = record


async def _watch_lag() -> None:
    loop = asyncio.get_running_loop()
    began = loop.time()
    while True:
        due = loop.time() + 0.005
        await asyncio.sleep(0.005)
        if not (SENDING and SENDING[-1]):
            continue
        lag = loop.time() - due
        LAGS.append(lag)
        if lag > 0.05 and len(LATE) < 200:
            LATE.append((round(due - began, 3), round(lag, 3)))


class _LagPolicy(asyncio.DefaultEventLoopPolicy):
    """Every new event loop starts the lag watcher (asyncio.run cancels it with the loop's other tasks)."""

    def new_event_loop(self) -> asyncio.AbstractEventLoop:
        loop = super().new_event_loop()
        loop.call_soon(lambda: loop.create_task(_watch_lag()))
        return loop


def main() -> int:
    if os.environ.get("GLM_BENCH_TRACEMALLOC"):
        import tracemalloc

        tracemalloc.start(1)
    from harness import cli, phases

    PHASES["import"] = {"wall_s": time.perf_counter() - T0, "cpu_s": time.process_time() - CPU0}
    if os.environ.get("GLM_BENCH_LAG"):
        asyncio.set_event_loop_policy(_LagPolicy())
    try:
        with phases.watching(_record):
            return cli.main(sys.argv[1:])
    finally:
        PHASES["total"] = {"wall_s": time.perf_counter() - T0, "cpu_s": time.process_time() - CPU0,
                           "maxrss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
        if LAGS:
            ordered = sorted(LAGS)
            PHASES["lag"] = {"samples": len(ordered), "max_ms": ordered[-1] * 1000,
                             "p99_ms": ordered[int(0.99 * (len(ordered) - 1))] * 1000,
                             "p50_ms": ordered[len(ordered) // 2] * 1000,
                             "over_100ms": sum(v > 0.1 for v in ordered),
                             "late_wakeups_over_50ms": LATE[:50]}
        path = os.environ.get("GLM_BENCH_PHASES")
        if path:
            with open(path, "w", encoding="utf-8") as out:
                json.dump(PHASES, out)


if __name__ == "__main__":
    sys.exit(main())
