"""Grading in worker processes, with a time limit per case.

Math parsing can hang for good on hostile input (``\\boxed{9^{9^{9^{9^{9}}}}}`` spends forever
inside one big-integer power, where no signal gets through), and math-verify's own timeout uses
SIGALRM, which only works in a main thread. So cases run in worker processes: a worker that
overruns a case's time limit is killed and replaced, the case becomes
``Verdict(reason="parse timeout")``, and the rest of its batch goes to the next free worker. A
worker that dies becomes ``error: worker crashed`` for the case it was on. Nothing raises out of
the pool for a bad response.

Cases travel to workers in chunks, and every result comes back on its own, which keeps the
per-case cost low and still tells the pool exactly which case a stuck worker was on. One
dispatcher thread owns the workers; synchronous callers wait on its futures and asyncio callers
await them, so the event loop never blocks.

The mcq, integer and exact graders only run linear-time regexes over the response, so by
default they grade in the calling process: ``bench/bench_grading.py`` measures that as several
times faster than sending them to the workers (``in_process=()`` does that, when a hard time
limit matters more).
"""

from __future__ import annotations

import asyncio
import multiprocessing
import multiprocessing.connection
import signal
import socket
import threading
import time
from collections import deque
from collections.abc import Collection, Iterable
from concurrent.futures import Future
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from types import TracebackType

from harness.graders.grade import check_grader, grade
from harness.graders.verdict import TIMEOUT, WORKER_CRASHED, Verdict, error_reason

IN_PROCESS: frozenset[str] = frozenset({"mcq", "integer", "exact"})
_MAX_CHUNK = 32


@dataclass(frozen=True)
class GradeCase:
    grader: str
    response: str
    gold: str
    finish_reason: str | None = None


def _grade_case(case: GradeCase) -> Verdict:
    return grade(case.grader, case.response, case.gold, finish_reason=case.finish_reason)


def _worker_main(conn: Connection) -> None:
    """Grade each case of each chunk received, sending one verdict per case; ``None`` means stop."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    conn.send("ready")
    while (chunk := conn.recv()) is not None:
        for case in chunk:
            conn.send(_grade_case(case))


@dataclass
class _Job:
    case: GradeCase
    future: Future[Verdict] = field(default_factory=Future)

    def finish(self, verdict: Verdict) -> None:
        if not self.future.done():
            self.future.set_result(verdict)

    def fail(self, reason: str) -> None:
        self.finish(Verdict(False, None, None, self.case.gold, reason))


class _Worker:
    def __init__(self, context: multiprocessing.context.BaseContext) -> None:
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_worker_main, args=(child,), daemon=True, name="glm-eval-grader")
        self.process.start()
        child.close()
        self.ready = False
        self.jobs: deque[_Job] = deque()
        self.deadline: float | None = None

    def stop(self, *, kill: bool) -> None:
        try:
            if kill:
                self.process.kill()
            else:
                self.conn.send(None)
        except OSError:
            pass
        self.process.join(timeout=2)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.conn.close()


def _context() -> multiprocessing.context.BaseContext:
    """forkserver where available: safe to start from a threaded parent, and, with the graders
    preloaded in the server, a replacement worker starts in about 10 ms instead of a second."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["harness.graders.pool"])
        return context
    return multiprocessing.get_context("spawn")


class GradingPool:
    """Worker processes with a per-case time limit; a hung worker is killed and replaced, and the
    case gets ``Verdict(reason="parse timeout", correct=False)``."""

    def __init__(
        self, workers: int = 2, timeout_s: float = 5.0, *, in_process: Collection[str] = IN_PROCESS
    ) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be positive, got {timeout_s}")
        self.workers = workers
        self.timeout_s = timeout_s
        self.in_process = frozenset(in_process)
        self._queue: deque[_Job] = deque()
        self._lock = threading.Lock()
        self._wake_recv, self._wake_send = socket.socketpair()
        self._wake_send.setblocking(False)
        self._thread: threading.Thread | None = None
        self._closed = False
        self._broken: str | None = None

    # -- public API -------------------------------------------------------------------------

    def grade_many(self, cases: Iterable[GradeCase]) -> list[Verdict]:
        """Grade every case; results in the order of ``cases``."""
        cases = list(cases)
        for case in cases:
            check_grader(case.grader)
        results: list[Verdict | None] = [None] * len(cases)
        pooled = [i for i, case in enumerate(cases) if case.grader not in self.in_process]
        futures = self._submit([cases[i] for i in pooled])
        for i, case in enumerate(cases):
            if case.grader in self.in_process:
                results[i] = _grade_case(case)
        for i, future in zip(pooled, futures):
            results[i] = future.result()
        return results  # type: ignore[return-value]  # every slot is filled above

    async def grade(self, case: GradeCase) -> Verdict:
        """Grade one case without blocking the event loop."""
        check_grader(case.grader)
        if case.grader in self.in_process:
            return _grade_case(case)
        return await asyncio.wrap_future(self._submit([case])[0])

    def close(self) -> None:
        """Stop the workers; cases still waiting get ``error: grading pool closed``."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._wake()
        if self._thread is not None:
            self._thread.join()
        else:
            self._fail_queue(error_reason("grading pool closed"))
        self._wake_recv.close()
        self._wake_send.close()

    def __enter__(self) -> GradingPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    async def __aenter__(self) -> GradingPool:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await asyncio.to_thread(self.close)

    # -- submission -------------------------------------------------------------------------

    def _submit(self, cases: list[GradeCase]) -> list[Future[Verdict]]:
        jobs = [_Job(case) for case in cases]
        if not jobs:
            return []
        with self._lock:
            if self._closed:
                raise RuntimeError("the grading pool is closed")
            if self._broken is not None:
                for job in jobs:
                    job.fail(self._broken)
                return [job.future for job in jobs]
            self._queue.extend(jobs)
            if self._thread is None:
                self._thread = threading.Thread(target=self._dispatch, name="glm-eval-grading", daemon=True)
                self._thread.start()
        self._wake()
        return [job.future for job in jobs]

    def _wake(self) -> None:
        try:
            self._wake_send.send(b"x")
        except (BlockingIOError, OSError):
            pass  # the buffer is full of wake-ups already, or the pool is closing

    def _take_chunk(self) -> list[_Job]:
        with self._lock:
            size = max(1, min(_MAX_CHUNK, len(self._queue) // (2 * self.workers)))
            return [self._queue.popleft() for _ in range(min(size, len(self._queue)))]

    def _fail_queue(self, reason: str) -> None:
        with self._lock:
            jobs, self._queue = list(self._queue), deque()
        for job in jobs:
            job.fail(reason)

    # -- the dispatcher thread --------------------------------------------------------------

    def _dispatch(self) -> None:
        workers: list[_Worker] = []
        try:
            context = _context()
            workers = [_Worker(context) for _ in range(self.workers)]
            self._serve(workers, context)
        except Exception as exc:  # noqa: BLE001 - no error may leave a caller waiting forever
            self._broken = error_reason(f"grading pool failed: {type(exc).__name__}: {exc}")
        finally:
            reason = self._broken or error_reason("grading pool closed")
            for worker in workers:
                for job in worker.jobs:
                    job.fail(reason)
                worker.stop(kill=bool(worker.jobs) or not worker.ready)
            self._fail_queue(reason)

    def _serve(self, workers: list[_Worker], context: multiprocessing.context.BaseContext) -> None:
        while not self._closed and self._broken is None:
            for i, worker in enumerate(workers):
                workers[i] = self._feed(worker, context)
            deadlines = [w.deadline for w in workers if w.deadline is not None]
            wait_s = max(0.0, min(deadlines) - time.monotonic()) if deadlines else None
            ready = multiprocessing.connection.wait([w.conn for w in workers] + [self._wake_recv], wait_s)
            if self._wake_recv in ready:
                self._wake_recv.recv(4096)
            for i, worker in enumerate(workers):
                if worker.conn in ready:
                    workers[i] = self._receive(worker, context)
            now = time.monotonic()
            for i, worker in enumerate(workers):
                if worker.deadline is not None and worker.deadline <= now:
                    workers[i] = self._replace(worker, context, TIMEOUT)

    def _feed(self, worker: _Worker, context: multiprocessing.context.BaseContext) -> _Worker:
        if not worker.ready or worker.jobs or not self._queue:
            return worker
        chunk = self._take_chunk()
        worker.jobs.extend(chunk)
        try:
            worker.conn.send([job.case for job in chunk])
        except OSError:  # it died while idle: nothing of this chunk ran, so none of it failed
            return self._replace(worker, context, None)
        worker.deadline = time.monotonic() + self.timeout_s
        return worker

    def _receive(self, worker: _Worker, context: multiprocessing.context.BaseContext) -> _Worker:
        try:
            while worker.conn.poll():
                message = worker.conn.recv()
                if message == "ready":
                    worker.ready = True
                    continue
                worker.jobs.popleft().finish(message)
                worker.deadline = time.monotonic() + self.timeout_s if worker.jobs else None
        except (EOFError, OSError):
            if not worker.ready:  # it could not even start: a replacement would fail the same way
                self._broken = error_reason("a grading worker failed to start")
                return worker
            return self._replace(worker, context, WORKER_CRASHED)
        return worker

    def _replace(
        self, worker: _Worker, context: multiprocessing.context.BaseContext, reason: str | None
    ) -> _Worker:
        """Kill ``worker``; its current case gets ``reason``, the rest of its chunk is queued again."""
        if worker.jobs and reason is not None:
            worker.jobs.popleft().fail(reason)
        with self._lock:
            self._queue.extendleft(reversed(worker.jobs))
        worker.jobs.clear()
        worker.stop(kill=True)
        return _Worker(context)
