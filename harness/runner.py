"""Sending the plan's missing requests, concurrently, and committing each answer as it arrives.

One `ChatClient` (an aiohttp session) per provider; per model, a fixed set of workers (the concurrency limit)
pulls from that model's queue, so memory does not grow with the size of the run. A client-side
requests-per-minute pace, retries with exponential backoff and jitter (honouring Retry-After) on
429/5xx/timeouts/dropped streams/in-band failures, and no retry on 400/401/403/404, which stop that
model (a refused key, an exhausted balance or an address that is not the API stop the run) with the
reason; an item the provider's content filter refuses is recorded as such and the model goes on. The
runner knows nothing of grading.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from harness.budget import Budget
from harness.client import ChatClient, Completion, Fatal, Filtered, Retryable
from harness.pace import Pace
from harness.plan import Job
from harness.store import FAILED, FILTERED, OK, StoredResponse, StoreWriter, canonical_json


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 6
    base_delay_s: float = 1.0
    max_delay_s: float = 60.0
    max_total_s: float = 1800.0  # a request stops retrying after this long, whatever the count

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return min(retry_after, self.max_delay_s * 5)
        backoff = min(self.max_delay_s, self.base_delay_s * 2 ** (attempt - 1))
        return backoff * (0.5 + random.random())  # full jitter around the backoff


@dataclass
class Outcome:
    sent: int = 0
    stored_ok: int = 0
    failed: int = 0
    filtered: int = 0
    fatal: dict[str, str] = field(default_factory=dict)  # model -> why it was stopped
    attempts: Counter[str] = field(default_factory=Counter)  # model -> requests sent, retries included
    errors: dict[str, Counter[str]] = field(default_factory=dict)  # model -> failed attempts by kind (http_429, http_5xx, other)
    stopped_by: str | None = None  # why nothing more was sent to any model

    def tally(self, status: str) -> None:
        """Count one recorded outcome."""
        self.sent += 1
        if status == FILTERED:
            self.filtered += 1
        elif status == FAILED:
            self.failed += 1
        else:
            self.stored_ok += 1


class Runner:
    def __init__(
        self,
        client: ChatClient,
        store: StoreWriter,
        provider_identity: str,
        concurrency: int,
        pace: Pace,
        policy: RetryPolicy,
        on_done: Callable[[str, bool, int], None],
        budget: Budget | None = None,
        on_stored: Callable[[Job, StoredResponse], None] | None = None,
    ) -> None:
        self.client = client
        self.store = store
        self.provider = provider_identity
        self.concurrency = concurrency
        self.pace = pace
        self.policy = policy
        self.on_done = on_done
        self.budget = budget
        self.on_stored = on_stored
        self.outcome = Outcome()
        self._stop_all = asyncio.Event()
        self._last_answer = time.monotonic()

    async def run(self, work: dict[str, list[Job]], body_for: Callable[[Job], dict[str, Any]]) -> Outcome:
        """`work` maps a model to its jobs still missing from the store; `body_for` renders a job's
        request body when it is sent (bodies are not held: a plan may have 100,000 of them)."""
        await asyncio.gather(*(self._model(model, jobs, body_for) for model, jobs in work.items() if jobs))
        return self.outcome

    async def _model(self, model: str, jobs: list[Job], body_for: Callable[[Job], dict[str, Any]]) -> None:
        queue: deque[Job] = deque(jobs)
        stopped = asyncio.Event()
        workers = [asyncio.create_task(self._worker(model, queue, body_for, stopped)) for _ in range(min(self.concurrency, len(jobs)))]
        try:
            await asyncio.gather(*workers)
        finally:
            for w in workers:
                w.cancel()

    async def _worker(self, model: str, queue: deque[Job], body_for: Callable[[Job], dict[str, Any]], stopped: asyncio.Event) -> None:
        while queue and not (stopped.is_set() or self._stop_all.is_set()):
            job = queue.popleft()
            body = body_for(job)
            reserved = 0.0
            if self.budget is not None:
                held = await self.budget.reserve(model, sum(len(m["content"]) for m in body["messages"]))
                if held is None:  # the budget is reached: nothing new is sent, anywhere
                    self.outcome.stopped_by = "--max-cost reached"
                    self._stop_all.set()
                    return
                reserved = held
            try:
                completion, attempts = await self._send(model, body)
            except Fatal as exc:
                if self.budget is not None:
                    await self.budget.release(reserved)
                if exc.whole_run:
                    if self.outcome.stopped_by is None:
                        self.outcome.stopped_by = str(exc)
                    self._stop_all.set()
                elif not stopped.is_set():
                    self.outcome.fatal[model] = str(exc)
                stopped.set()
                return
            except Filtered as exc:
                if self.budget is not None:
                    await self.budget.release(reserved)
                await self._record(job, body, 1, None, str(exc), filtered=True)
                self.on_done(model, False, 0)
                continue
            except _GaveUp as exc:
                if self.budget is not None:
                    await self.budget.release(reserved)
                await self._record(job, body, exc.attempts, None, exc.reason)
                self.on_done(model, False, 0)
                continue
            if self.budget is not None:
                await self.budget.settle(
                    model, reserved, completion.prompt_tokens, completion.completion_tokens, completion.cached_tokens,
                    completion.cache_write_tokens, completion.reported_cost,
                )
            await self._record(job, body, attempts, completion)
            self.on_done(model, True, completion.completion_tokens or 0)

    async def _send(self, model: str, body: dict[str, Any]) -> tuple[Completion, int]:
        first = time.monotonic()
        attempt = 0
        while True:
            attempt += 1
            started = await self.pace.wait()
            self.outcome.attempts[model] += 1
            try:
                completion = await self.client.complete(body)
            except (Fatal, Filtered) as exc:
                self._count(model, getattr(exc, "status", None))
                raise
            except Retryable as exc:
                self._count(model, exc.status)
                if exc.rate_limited:
                    self.pace.refused(exc.retry_after, started)
                wait = self.policy.delay(attempt, exc.retry_after)
                out_of_time = time.monotonic() - first + wait > self.policy.max_total_s
                if attempt >= self.policy.max_attempts or out_of_time:
                    if exc.connection and self._last_answer < first:
                        # Nothing has answered since this request began: the server is down, and
                        # every other request would spend its retries the same way. Stop; a rerun
                        # resumes from the store.
                        self.outcome.stopped_by = f"the server stopped answering ({exc}); rerun to resume"
                        self._stop_all.set()
                    raise _GaveUp(f"{exc} (gave up after {attempt} attempts)", attempt) from None
                await asyncio.sleep(wait)
                continue
            self._last_answer = time.monotonic()
            self.pace.answered()
            return completion, attempt

    def _count(self, model: str, status: int | None) -> None:
        """Failed attempts by kind: a provider's rate-limit and server-error rates are part of what it is."""
        kind = "http_429" if status == 429 else "http_5xx" if status is not None and status >= 500 else "other"
        self.outcome.errors.setdefault(model, Counter())[kind] += 1

    async def _record(
        self, job: Job, body: dict[str, Any], attempts: int, c: Completion | None, error: str | None = None, filtered: bool = False
    ) -> None:
        """Commit an answer (or the failure or refusal that stands in for one) before anything else happens."""
        response = response_row(job, self.provider, body, attempts, c, error, filtered)
        self.outcome.tally(response.status)
        try:
            await self.store.put(response)
        except sqlite3.Error as exc:  # a full disk, most often: stop buying answers that cannot be kept
            self.outcome.stopped_by = f"the store cannot be written ({exc}); free some space and rerun to resume"
            self._stop_all.set()
            return
        if self.on_stored is not None:
            self.on_stored(job, response)


def response_row(
    job: Job, provider: str, body: dict[str, Any], attempts: int, c: Completion | None, error: str | None = None,
    filtered: bool = False, via: str | None = None,
) -> StoredResponse:
    """The store's row for one request's outcome: an answer, a content-filter refusal, or the failure standing in for one."""
    status = FILTERED if filtered or (c is not None and c.filtered) else FAILED if c is None else OK
    return StoredResponse(
        key=job.key,
        provider=provider,
        model_id=job.model_id,
        request=canonical_json(body),
        status=status,
        content=c.content if c else None,
        reasoning=c.reasoning if c else None,
        finish_reason=c.finish_reason if c else None,
        prompt_tokens=c.prompt_tokens if c else None,
        completion_tokens=c.completion_tokens if c else None,
        reasoning_tokens=c.reasoning_tokens if c else None,
        latency_s=c.latency_s if c else None,
        ttft_s=c.ttft_s if c else None,
        attempts=attempts,
        error=error,
        created_at=time.time(),
        served_model=c.served_model if c else None,
        served_by=c.served_by if c else None,
        cached_tokens=c.cached_tokens if c else None,
        cache_write_tokens=c.cache_write_tokens if c else None,
        reported_cost=c.reported_cost if c else None,
        via=via,
    )


class _GaveUp(Exception):
    def __init__(self, reason: str, attempts: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.attempts = attempts
