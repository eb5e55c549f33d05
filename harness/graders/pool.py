"""Grading in worker processes, with a time limit per case.

Math parsing can hang for good on hostile input (``\\boxed{9^{9^{9^{9^{9}}}}}`` spends forever
inside one big-integer power, where no signal gets through), and math-verify's own timeout uses
SIGALRM, which only works in a main thread. So cases run in worker processes: a worker that
overruns a case's time limit is killed and replaced, the case becomes
``Verdict(reason="parse timeout")``, and the rest of its batch goes to the next free worker. A
worker that dies becomes ``error: worker crashed`` for the case it was on. Nothing raises out of
the pool for a bad response.

The time limit counts the worker's CPU time, not the clock: the workers run at a low priority, and
a busy machine can hold one off the CPU for seconds, which must not turn a case into a timeout
(``regrade`` has to reach the same verdicts on an idle machine). A case that has not finished in
ten times its limit of wall time is a timeout all the same, so a stopped worker cannot hang the
pool. Where /proc is missing the limit is wall time.

Cases travel to workers in chunks, and every result comes back on its own, which keeps the
per-case cost low and still tells the pool exactly which case a stuck worker was on. One
dispatcher thread owns the workers; synchronous callers wait on its futures and asyncio callers
await them, so the event loop never blocks. :meth:`GradingPool.submit` is the cheap path for a
run that grades each answer as it is stored: it queues the case and wakes the dispatcher only
when a worker is waiting for work (busy workers pick the queue up when they report back).

Each case is queued for the worker its gold answer hashes to, and a worker out of its own cases
takes the oldest of another's: samples of one item then mostly meet the same worker, whose caches
(the gold's parse, verdicts of repeated answers: :func:`harness.graders.math.judge`) they share.

Workers run at a lower CPU priority (``niceness``, 10 by default) than the process that starts
them, so that grading while a run is still sending takes only the CPU the event loop leaves: on
one core shared by a busy loop and two busy graders, the loop got 33% of it with the graders at
its own priority and 82% with them at niceness 10 (``bench/bench_grading.py``, the "pipelined"
rows under ``taskset -c 1``).

The mcq, integer and exact graders only run linear-time regexes over the response, so by
default they grade in the calling process: ``bench/bench_grading.py`` measures that as several
times faster than sending them to the workers (``in_process=()`` does that, when a hard time
limit matters more).
"""

from __future__ import annotations

import asyncio
import math
import multiprocessing
import os
import select
import selectors
import signal
import socket
import threading
import time
from collections import deque
from collections.abc import Collection, Iterable
from concurrent.futures import Future
from dataclasses import KW_ONLY, dataclass, field
from multiprocessing.connection import Connection
from types import TracebackType

from harness.graders.grade import check_grader, grade
from harness.graders.verdict import TIMEOUT, WORKER_CRASHED, Verdict, error_reason

IN_PROCESS: frozenset[str] = frozenset({"mcq", "integer", "exact"})
WORKER_NICENESS = 10
Context = multiprocessing.context.ForkServerContext | multiprocessing.context.SpawnContext
_MAX_CHUNK = 32
_WALL_FACTOR = 10  # a case gets at most this many times its CPU time limit in wall time
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


RULES = "rules"
MATH_VERIFY = "math-verify"


@dataclass(frozen=True)
class GradeCase:
    """One response to grade: by glm-eval's rules (`grader`), or, for a second opinion, by plain
    math-verify reading it as `grader`'s answers (`method` MATH_VERIFY: harness.graders.plain)."""

    grader: str
    response: str
    gold: str
    finish_reason: str | None = None
    _: KW_ONLY
    method: str = RULES
    reasoning_open: bool = False


def _grade_case(case: GradeCase) -> Verdict:
    if case.method == MATH_VERIFY:
        from harness.graders.plain import grade_plain  # math-verify and sympy: only where they run

        return grade_plain(case.grader, case.response, case.gold, case.finish_reason)
    return grade(
        case.grader, case.response, case.gold, finish_reason=case.finish_reason, reasoning_open=case.reasoning_open
    )


def _check(case: GradeCase) -> None:
    """Raise ValueError, before work is queued, for a case no method can grade."""
    if case.method == RULES:
        check_grader(case.grader)
        return
    from harness.graders.plain import PLAIN_GRADERS

    if case.method != MATH_VERIFY or case.grader not in PLAIN_GRADERS:
        raise ValueError(f"no {case.method} reading of {case.grader!r} answers: it reads {', '.join(PLAIN_GRADERS)}")


def _in_process(case: GradeCase, graders: frozenset[str]) -> bool:
    """Only the rules' regex graders are cheap enough for the calling process; math-verify parses."""
    return case.method == RULES and case.grader in graders


def _worker_main(conn: Connection, niceness: int) -> None:
    """Grade each case of each chunk received; ``None`` means stop.

    Every message is ``(verdict, CPU seconds used so far)``, the first one ``(None, ...)`` for
    "ready": the CPU time marks where the next case starts, for the time limit.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle
    os.nice(niceness)  # relative to the forkserver, i.e. to the process that started the pool
    conn.send((None, time.process_time()))
    while (chunk := conn.recv()) is not None:
        for case in chunk:
            verdict = _grade_case(case)
            conn.send((verdict, time.process_time()))


def _cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process, or infinity where /proc cannot tell."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS
    except (OSError, IndexError, ValueError):
        return math.inf


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
    def __init__(self, context: Context, index: int, niceness: int) -> None:
        self.index = index  # which queue holds this worker's own cases
        self.conn, child = context.Pipe()
        self.process = context.Process(
            target=_worker_main, args=(child, niceness), daemon=True, name="glm-eval-grader"
        )
        self.process.start()
        child.close()
        # Connection.poll builds a selector per call (10 us, against 1 us for this), once per case
        self._poll = select.poll()
        self._poll.register(self.conn, select.POLLIN)
        self.ready = False
        self.jobs: deque[_Job] = deque()
        self.cpu_mark = 0.0  # its CPU time when its current case started
        self.started: float | None = None  # wall time its current case started
        self.deadline: float | None = None  # when to look at its current case's time again

    def has_message(self) -> bool:
        """Whether a message (or the end of the pipe) is waiting to be received."""
        return bool(self._poll.poll(0))

    def start_case(self, now: float, timeout_s: float) -> None:
        self.started, self.deadline = (now, now + timeout_s) if self.jobs else (None, None)

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


def _context() -> Context:
    """forkserver where available: safe to start from a threaded parent, and, with the graders
    loaded and warmed up in the server (:mod:`harness.graders.warm`), a worker starts in about
    10 ms instead of a second, and grades its first cases at full speed."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["harness.graders.warm"])
        return context
    return multiprocessing.get_context("spawn")


class GradingPool:
    """Worker processes with a per-case time limit (``timeout_s`` of the worker's CPU time); a
    hung worker is killed and replaced, and the case gets ``Verdict(reason="parse timeout",
    correct=False)``. ``niceness`` is how far below the caller's the workers' CPU priority is."""

    def __init__(
        self,
        workers: int = 2,
        timeout_s: float = 5.0,
        *,
        in_process: Collection[str] = IN_PROCESS,
        niceness: int = WORKER_NICENESS,
    ) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        if timeout_s <= 0:
            raise ValueError(f"timeout_s must be positive, got {timeout_s}")
        if niceness < 0:
            raise ValueError(f"niceness must be 0 or more (workers never outrank the caller), got {niceness}")
        self.workers = workers
        self.timeout_s = timeout_s
        self.in_process = frozenset(in_process)
        self.niceness = niceness
        self._queues: list[deque[_Job]] = [deque() for _ in range(workers)]
        self._queued = 0  # jobs in all queues together
        self._idle = False  # the dispatcher waits while a worker has nothing to do: a new job must wake it
        self._lock = threading.Lock()
        self._wake_recv, self._wake_send = socket.socketpair()
        self._wake_send.setblocking(False)
        # one selector for the pool's life: multiprocessing.connection.wait builds and fills a new
        # one on every call, 16 us against 3 us, and the dispatcher waits once or twice per case
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._wake_recv, selectors.EVENT_READ)
        self._thread: threading.Thread | None = None
        self._closed = False
        self._broken: str | None = None

    # -- public API -------------------------------------------------------------------------

    def submit(self, case: GradeCase) -> Future[Verdict]:
        """Start grading one case; the future holds its verdict.

        Made to be called from an event loop for every answer as it is stored: mcq, integer and
        exact cases are graded on the spot (tens of microseconds for a few KB of response) and
        come back done; any other case is queued at the cost of one lock and, only when a worker
        is idle, one byte to wake the dispatcher. The future's done-callbacks run in the
        dispatcher thread: keep them short, and hand anything for the event loop over with
        ``loop.call_soon_threadsafe`` (or ``asyncio.wrap_future``).
        Raises ValueError for an unknown grader and RuntimeError once the pool is closed.
        """
        _check(case)
        if self._closed:
            raise RuntimeError("the grading pool is closed")
        if _in_process(case, self.in_process):
            future: Future[Verdict] = Future()
            future.set_result(_grade_case(case))
            return future
        return self._submit([case])[0]

    def start(self) -> None:
        """Start the workers now rather than at the first case: a run calls this before sending,
        so that starting the forkserver and the workers is not paid while the first answers
        arrive (it stalled the event loop for up to 0.9 s there)."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the grading pool is closed")
            self._start_dispatcher()

    def grade_many(self, cases: Iterable[GradeCase]) -> list[Verdict]:
        """Grade every case; results in the order of ``cases``."""
        cases = list(cases)
        for case in cases:
            _check(case)
        results: list[Verdict | None] = [None] * len(cases)
        pooled = [i for i, case in enumerate(cases) if not _in_process(case, self.in_process)]
        futures = self._submit([cases[i] for i in pooled])
        for i, case in enumerate(cases):
            if _in_process(case, self.in_process):
                results[i] = _grade_case(case)
        for i, future in zip(pooled, futures):
            results[i] = future.result()
        return results  # type: ignore[return-value]  # every slot is filled above

    @property
    def broken(self) -> str | None:
        """Why the pool cannot grade at all (its workers could not start), else None: every
        verdict it gave is then an error, not a grade, and the run must not pass for one."""
        return self._broken

    async def grade(self, case: GradeCase) -> Verdict:
        """Grade one case without blocking the event loop."""
        return await asyncio.wrap_future(self.submit(case))

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
        self._selector.close()
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
            for job in jobs:
                self._queues[self._home(job)].append(job)
            self._queued += len(jobs)
            self._start_dispatcher()
            wake, self._idle = self._idle, False
        if wake:
            self._wake()
        return [job.future for job in jobs]

    def _start_dispatcher(self) -> None:
        """Called with the lock held."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._dispatch, name="glm-eval-grading", daemon=True)
            self._thread.start()

    def _home(self, job: _Job) -> int:
        """The queue of the worker that grades this gold's cases when it can."""
        return hash(job.case.gold) % self.workers

    def _wake(self) -> None:
        try:
            self._wake_send.send(b"x")
        except (BlockingIOError, OSError):
            pass  # the buffer is full of wake-ups already, or the pool is closing

    def _take_chunk(self, index: int) -> list[_Job]:
        """The next jobs of queue ``index``, else the oldest of the longest other queue."""
        with self._lock:
            queue = self._queues[index] or max(self._queues, key=len)
            size = max(1, min(_MAX_CHUNK, self._queued // (2 * self.workers)))
            chunk = [queue.popleft() for _ in range(min(size, len(queue)))]
            self._queued -= len(chunk)
            return chunk

    def _fail_queue(self, reason: str) -> None:
        with self._lock:
            jobs = [job for queue in self._queues for job in queue]
            for queue in self._queues:
                queue.clear()
            self._queued = 0
        for job in jobs:
            job.fail(reason)

    # -- the dispatcher thread --------------------------------------------------------------

    def _dispatch(self) -> None:
        workers: list[_Worker] = []
        try:
            context = _context()
            workers = [self._start(context, i) for i in range(self.workers)]
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

    def _serve(self, workers: list[_Worker], context: Context) -> None:
        while not self._closed and self._broken is None:
            for i, worker in enumerate(workers):
                workers[i] = self._feed(worker, context)
            with self._lock:  # submissions read _idle under this lock: none can slip in unseen
                free = any(w.ready and not w.jobs for w in workers)
                if free and self._queued:
                    continue  # queued after the feeding above
                self._idle = free
            deadlines = [w.deadline for w in workers if w.deadline is not None]
            wait_s = max(0.0, min(deadlines) - time.monotonic()) if deadlines else None
            ready = {key.fileobj for key, _ in self._selector.select(wait_s)}
            if self._wake_recv in ready:
                self._wake_recv.recv(4096)
            for i, worker in enumerate(workers):
                if worker.conn in ready:
                    workers[i] = self._receive(worker, context)
            now = time.monotonic()
            for i, worker in enumerate(workers):
                if worker.deadline is not None and worker.deadline <= now and self._overran(worker, now):
                    workers[i] = self._replace(worker, context, TIMEOUT)

    def _overran(self, worker: _Worker, now: float) -> bool:
        """Whether the worker's current case is past its time limit; if not, when to look again
        (the soonest it could be: the rest of its CPU time at full speed)."""
        assert worker.started is not None and worker.process.pid is not None  # a deadline is only set with a case started
        used = _cpu_seconds(worker.process.pid) - worker.cpu_mark
        backstop = worker.started + _WALL_FACTOR * self.timeout_s
        if used >= self.timeout_s or now >= backstop:
            return True
        worker.deadline = min(now + self.timeout_s - used, backstop)
        return False

    def _feed(self, worker: _Worker, context: Context) -> _Worker:
        if not worker.ready or worker.jobs or not self._queued:
            return worker
        chunk = self._take_chunk(worker.index)
        worker.jobs.extend(chunk)
        try:
            worker.conn.send([job.case for job in chunk])
        except OSError:  # it died while idle: nothing of this chunk ran, so none of it failed
            return self._replace(worker, context, None)
        worker.start_case(time.monotonic(), self.timeout_s)
        return worker

    def _receive(self, worker: _Worker, context: Context) -> _Worker:
        """Take every message waiting from ``worker`` (the selector saw at least one)."""
        try:
            while True:
                verdict, worker.cpu_mark = worker.conn.recv()
                if verdict is None:
                    worker.ready = True
                else:
                    worker.jobs.popleft().finish(verdict)
                    worker.start_case(time.monotonic(), self.timeout_s)
                if not worker.has_message():
                    return worker
        except (EOFError, OSError):
            if not worker.ready:  # it could not even start: a replacement would fail the same way
                self._broken = error_reason("a grading worker failed to start")
                return worker
            return self._replace(worker, context, WORKER_CRASHED)

    def _replace(
        self, worker: _Worker, context: Context, reason: str | None
    ) -> _Worker:
        """Kill ``worker``; its current case gets ``reason``, the rest of its chunk is queued again."""
        if worker.jobs and reason is not None:
            worker.jobs.popleft().fail(reason)
        with self._lock:
            self._queues[worker.index].extendleft(reversed(worker.jobs))
            self._queued += len(worker.jobs)
        worker.jobs.clear()
        self._selector.unregister(worker.conn)
        worker.stop(kill=True)
        return self._start(context, worker.index)

    def _start(self, context: Context, index: int) -> _Worker:
        worker = _Worker(context, index, self.niceness)
        self._selector.register(worker.conn, selectors.EVENT_READ)
        return worker
