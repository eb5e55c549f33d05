"""`glm-eval` exactly as the console script runs it, plus a record of its phases, for benchmarks.

    python bench/harness_probe.py run --provider simulated ...      # same arguments as glm-eval

Nothing in the harness changes: the probe wraps the phases of `harness.evaluate.execute`
(`Sender.send`: runner, client, store, and grading started as answers arrive;
`Grading.finish`, the grading left after sending; `write_run`, the run folder; `judge`) and `harness.cli._finish` (report files and the summary table at the end), to
note the wall time, this process's CPU and its RSS when each starts and ends. Environment:

- GLM_BENCH_PHASES=path: write {"import": ..., "send": ..., "grade": ..., "lag": ...} there as JSON;
- GLM_BENCH_LAG=1: an asyncio task in the run's event loop sleeps 5 ms at a time and records how
  late each wake-up is (event-loop lag while sending);
- GLM_BENCH_TRACEMALLOC=N: trace allocations; record the N largest allocation sites (by line)
  still held at the end of sending and at the end of grading, and the traced peak.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import sys
import time

# Grading workers (multiprocessing forkserver) run this file again as __mp_main__, as they run the
# glm-eval console script: so nothing but the standard library is imported at module level here,
# or the workers would pay for imports that the real console script does not make them pay for.
T0 = time.perf_counter()
CPU0 = time.process_time()
PHASES: dict[str, object] = {}
LAGS: list[float] = []
LATE: list[tuple[float, float]] = []  # (seconds since the loop started, lag) of every wake-up over 50 ms


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


def _phase(name: str, func):  # type: ignore[no-untyped-def]
    def wrapped(*args, **kwargs):  # type: ignore[no-untyped-def]
        wall, cpu = _mark()
        try:
            return func(*args, **kwargs)
        finally:
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
    return wrapped


# The phases of harness.evaluate.execute: (module, attribute, phase name); a class attribute is a method.
PHASE_FUNCTIONS = (("send", "Sender.send", "send"), ("grade", "Grading.finish", "grade"), ("run", "judge", "judge"),
                   ("run", "write_run", "write_samples"))


_real_run = asyncio.run


def _run_with_lag(main, **kwargs):  # type: ignore[no-untyped-def]
    async def watched():  # type: ignore[no-untyped-def]
        async def watch() -> None:
            loop = asyncio.get_running_loop()
            began = loop.time()
            while True:
                due = loop.time() + 0.005
                await asyncio.sleep(0.005)
                lag = loop.time() - due
                LAGS.append(lag)
                if lag > 0.05 and len(LATE) < 200:
                    LATE.append((round(due - began, 3), round(lag, 3)))

        task = asyncio.create_task(watch())
        try:
            return await main
        finally:
            task.cancel()

    return _real_run(watched(), **kwargs)


def main() -> int:
    if os.environ.get("GLM_BENCH_TRACEMALLOC"):
        import tracemalloc

        tracemalloc.start(1)
    import importlib

    from harness import cli
    from harness.evaluate import send

    PHASES["import"] = {"wall_s": time.perf_counter() - T0, "cpu_s": time.process_time() - CPU0}
    for module_name, attribute, name in PHASE_FUNCTIONS:  # Grading.finish: what is left of grading after sending
        owner = importlib.import_module(f"harness.evaluate.{module_name}")
        *path, function = attribute.split(".")
        for part in path:
            owner = getattr(owner, part)
        setattr(owner, function, _phase(name, getattr(owner, function)))
    if hasattr(cli, "_finish"):  # the end of a run: report files and the summary table (reads samples.jsonl)
        cli._finish = _phase("finish", cli._finish)  # type: ignore[attr-defined]
    if os.environ.get("GLM_BENCH_LAG"):
        send.asyncio.run = _run_with_lag  # type: ignore[attr-defined]  # the harness's one asyncio.run
    try:
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
