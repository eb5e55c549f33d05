"""Sending a run's missing requests through a provider's batch API (Files + Batches), at its batch price.

The OpenAI shape, which BigModel documents for its own (docs.bigmodel.cn/cn/guide/tools/batch and
its API reference: upload a JSONL file with purpose "batch" to /files, create a batch of it at
/batches with `endpoint` and `completion_window` "24h", poll /batches/{id}, download the output and
error files from /files/{id}/content). Each line's custom_id is the request's key, so answers land
in the store under the same keys an interactive run uses: the two mix and resume. A batch is
recorded in the store the moment the provider accepts it, so a run killed while it waits does not
pay again: the rerun waits for the same batch and downloads its answers. What a batch could not
answer (failed lines, an expired window) is stored as failed, and a rerun sends only those.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sqlite3
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import aiohttp

from harness.budget import Budget
from harness.client import Completion, Fatal, Filtered, Retryable, _check_status, _from_message
from harness.plan import Job
from harness.runner import Outcome, response_row
from harness.store import BATCH, OK, Store, StoreWriter, SubmittedBatch

# OpenAI's and BigModel's limits on one batch file ("单个 Batch 文件中包含最多 50,000 个请求且不超过
# 100M": docs.bigmodel.cn/cn/faq/batch-api-issues); a little under the size, for the multipart framing.
MAX_REQUESTS = 50_000
MAX_BYTES = 95 * 1024 * 1024
TERMINAL = ("completed", "expired", "failed", "cancelled")
CONNECT_TIMEOUT_S = 30.0


class BatchAPI:
    """The Files and Batches endpoints under one base URL."""

    def __init__(self, base_url: str, api_key: str | None, key_env: str, timeout_s: float) -> None:
        self.base_url = base_url.rstrip("/")
        self.key_env = key_env
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._timeout = aiohttp.ClientTimeout(total=None, sock_connect=CONNECT_TIMEOUT_S, sock_read=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> BatchAPI:
        self._session = aiohttp.ClientSession(headers=self._headers, timeout=self._timeout)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()

    async def upload(self, data: bytes, name: str) -> str:
        form = aiohttp.FormData()
        form.add_field("purpose", "batch")
        form.add_field("file", data, filename=name, content_type="application/jsonl")
        card = await self._call("POST", "/files", data=form)
        return str(card["id"])

    async def create(self, file_id: str, endpoint: str, metadata: dict[str, str]) -> dict[str, Any]:
        body = {"input_file_id": file_id, "endpoint": endpoint, "completion_window": "24h", "metadata": metadata}
        return await self._call("POST", "/batches", json=body)

    async def status(self, batch_id: str) -> dict[str, Any] | None:
        """The batch's card, or None when the provider no longer knows it."""
        try:
            return await self._call("GET", f"/batches/{batch_id}")
        except Fatal as exc:
            if exc.status == 404:
                return None
            raise

    async def content(self, file_id: str) -> bytes:
        return await self._call("GET", f"/files/{file_id}/content", raw=True)

    async def _call(self, method: str, path: str, raw: bool = False, **kwargs: Any) -> Any:
        assert self._session is not None, "use the API as an async context manager"
        url = self.base_url + path
        try:
            async with self._session.request(method, url, **kwargs) as response:
                if response.status == 404 and method == "POST":
                    raise Fatal(f"HTTP 404 at {url}: this server has no batch API there; run without --batch", 404, whole_run=True)
                await _check_status(response, self.key_env)
                data = await response.read()
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise Retryable(f"{method} {path}: {type(exc).__name__}: {exc}", connection=True) from None
        if raw:
            return data
        try:
            return json.loads(data)
        except ValueError:
            raise Retryable(f"{method} {path}: malformed JSON in the response") from None


@dataclasses.dataclass
class _Tracked:
    id: str
    model: str
    jobs: dict[str, Job]  # custom_id (the request key) -> job, for the keys this run still needs
    reserved: dict[str, float]
    state: str = "validating"


class BatchRunner:
    """Sends `work` as batches (one model per batch, as BigModel requires), waits, and stores every answer."""

    def __init__(
        self,
        api: BatchAPI,
        store: Store,
        writer: StoreWriter,
        provider_identity: str,
        endpoint: str,
        on_done: Callable[[str, bool, int], None],
        on_state: Callable[[str, str], None],
        budget: Budget | None = None,
        on_stored: Callable[[Job, Any], None] | None = None,
        poll_s: float = 30.0,
        max_requests: int = MAX_REQUESTS,
        max_attempts: int = 6,
    ) -> None:
        self.api = api
        self.store = store
        self.writer = writer
        self.provider = provider_identity
        self.endpoint = endpoint
        self.on_done = on_done
        self.on_state = on_state
        self.budget = budget
        self.on_stored = on_stored
        self.poll_s = poll_s
        self.max_requests = max_requests
        self.max_attempts = max_attempts
        self.outcome = Outcome()

    async def run(self, work: dict[str, list[Job]], body_for: Callable[[Job], dict[str, Any]]) -> Outcome:
        self.body_for = body_for
        wanted = {job.key: job for jobs in work.values() for job in jobs}
        tracked = self._resume(wanted)
        try:
            for model, jobs in work.items():
                todo = [job for job in jobs if job.key in wanted]
                for chunk in self._chunks(todo):
                    batch = await self._submit(model, chunk)
                    if batch is not None:
                        tracked.append(batch)
                    if self.outcome.stopped_by:
                        break
                if self.outcome.stopped_by:
                    break
            await self._wait(tracked)
        except Fatal as exc:
            self.outcome.stopped_by = str(exc)
            if tracked:
                self.outcome.stopped_by += f"; {len(tracked)} batch(es) already submitted are in the store: a rerun collects them"
        return self.outcome

    def _resume(self, wanted: dict[str, Job]) -> list[_Tracked]:
        """Batches an earlier run submitted for keys this run still needs: wait for those rather than pay again."""
        tracked = []
        for old in self.store.open_batches(self.provider, self.api.base_url):
            jobs = {key: wanted.pop(key) for key in old.keys if key in wanted}
            if jobs:
                model = next(iter(jobs.values())).model
                tracked.append(_Tracked(old.id, model, jobs, self._reserve_all(model, jobs), old.status))
                self.on_state(model, f"{old.id}: submitted by an earlier run, {len(jobs)} requests; waiting for it")
        return tracked

    def _reserve_all(self, model: str, jobs: dict[str, Job]) -> dict[str, float]:
        """The worst case of each request, set aside now: a submitted batch will be billed whatever this run does."""
        if self.budget is None:
            return {}
        held = {}
        for key, job in jobs.items():
            body = self.body_for(job)
            worst = self.budget.worst_case(model, sum(len(m["content"]) for m in body["messages"]))
            self.budget.reserved += worst
            held[key] = worst
        return held

    def _chunks(self, jobs: list[Job]) -> list[list[Job]]:
        return [jobs[i : i + self.max_requests] for i in range(0, len(jobs), self.max_requests)]

    async def _submit(self, model: str, jobs: list[Job]) -> _Tracked | None:
        lines: list[bytes] = []
        reserved: dict[str, float] = {}
        size = 0
        kept: list[Job] = []
        for job in jobs:
            body = _unstreamed(self.body_for(job))
            if self.budget is not None:
                worst = self.budget.worst_case(model, sum(len(m["content"]) for m in body["messages"]))
                if self.budget.spent + self.budget.reserved + worst > self.budget.limit:
                    self.budget.stopped = True
                    self.outcome.stopped_by = "--max-cost reached"
                    break
                self.budget.reserved += worst
                reserved[job.key] = worst
            line = json.dumps({"custom_id": job.key, "method": "POST", "url": self.endpoint, "body": body}).encode() + b"\n"
            if size + len(line) > MAX_BYTES:
                break  # the rest go in the next batch of this run's rerun; in practice 50,000 lines come first
            lines.append(line)
            size += len(line)
            kept.append(job)
        if not kept:
            return None
        file_id = await self._retrying(partial(self.api.upload, b"".join(lines), f"glm-eval-{model}.jsonl"))
        card = await self._retrying(partial(self.api.create, file_id, self.endpoint, {"client": "glm-eval", "model": model}))
        batch = _Tracked(str(card["id"]), model, {job.key: job for job in kept}, reserved, str(card.get("status")))
        self.store.add_batch(SubmittedBatch(batch.id, self.provider, self.api.base_url, kept[0].model_id, tuple(batch.jobs),
                                            batch.state, time.time()))
        self.on_state(model, f"{batch.id}: submitted, {len(kept)} requests")
        return batch

    async def _wait(self, tracked: list[_Tracked]) -> None:
        while tracked:
            for batch in list(tracked):
                card = await self._retrying(partial(self.api.status, batch.id))
                if card is None:
                    tracked.remove(batch)
                    self._release(batch, batch.jobs)
                    self.store.batch_done(batch.id, "gone")
                    self.on_state(batch.model, f"{batch.id}: the provider no longer knows this batch; its "
                                               f"{len(batch.jobs)} requests are sent again by a rerun")
                    continue
                state = str(card.get("status"))
                counts = card.get("request_counts") or {}
                if state != batch.state or state == "in_progress":
                    self.on_state(batch.model, f"{batch.id}: {state}, {counts.get('completed', 0)} of "
                                               f"{counts.get('total', len(batch.jobs))} answered, {counts.get('failed', 0)} failed")
                batch.state = state
                if state in TERMINAL:
                    tracked.remove(batch)
                    await self._collect(batch, card)
            if tracked:
                await asyncio.sleep(self.poll_s)

    async def _collect(self, batch: _Tracked, card: dict[str, Any]) -> None:
        """Store every line of the output and error files; a key in neither is failed (sent again by a rerun)."""
        seen: set[str] = set()
        for name in ("output_file_id", "error_file_id"):
            if card.get(name):
                data = await self._retrying(partial(self.api.content, str(card[name])))
                for text in data.decode("utf-8", errors="replace").splitlines():
                    if not text.strip():
                        continue
                    line = json.loads(text)
                    job = batch.jobs.get(str(line.get("custom_id")))
                    if job is None or job.key in seen:
                        continue
                    seen.add(job.key)
                    await self._record(batch, job, *_outcome(line))
        why = _why_missing(card)
        for key, job in batch.jobs.items():
            if key not in seen:
                await self._record(batch, job, None, why, False)
        self.store.batch_done(batch.id, batch.state)

    async def _record(self, batch: _Tracked, job: Job, c: Completion | None, error: str | None, filtered: bool) -> None:
        row = response_row(job, self.provider, _unstreamed(self.body_for(job)), 1, c, error, filtered, via=BATCH)
        held = batch.reserved.pop(job.key, 0.0)
        if self.budget is not None:
            if c is None:
                await self.budget.release(held)
            else:
                await self.budget.settle(job.model, held, c.prompt_tokens, c.completion_tokens, c.cached_tokens,
                                         c.cache_write_tokens, c.reported_cost)
        self.outcome.tally(row.status)
        self.outcome.attempts[job.model] += 1
        try:
            await self.writer.put(row)
        except sqlite3.Error as exc:
            raise Fatal(f"the store cannot be written ({exc}); free some space and rerun to collect the batch", 0, whole_run=True) from None
        if self.on_stored is not None:
            self.on_stored(job, row)
        self.on_done(job.model, row.status == OK, (c.completion_tokens or 0) if c else 0)

    def _release(self, batch: _Tracked, jobs: dict[str, Job]) -> None:
        if self.budget is not None:
            self.budget.reserved -= sum(batch.reserved.pop(key, 0.0) for key in jobs)

    async def _retrying(self, call: Callable[[], Any]) -> Any:
        """A call to the batch API, tried again on a dropped connection or a 5xx (each poll is free)."""
        for attempt in range(1, self.max_attempts + 1):
            try:
                return await call()
            except Retryable as exc:
                if attempt == self.max_attempts:
                    raise Fatal(f"the batch API did not answer ({exc}); rerun to resume", 0, whole_run=True) from None
                await asyncio.sleep(min(60.0, 2.0 ** attempt))
        raise AssertionError("unreachable")


def _unstreamed(body: dict[str, Any]) -> dict[str, Any]:
    """A batch answer is a whole JSON body: no stream (the request key leaves `stream` out, so keys match)."""
    return {k: v for k, v in body.items() if k not in ("stream", "stream_options")}


def _outcome(line: dict[str, Any]) -> tuple[Completion | None, str | None, bool]:
    """(completion, error, filtered) of one output or error line."""
    response = line.get("response") or {}
    error = line.get("error")
    status = response.get("status_code")
    if error or status != 200:
        detail = error or (response.get("body") or {}).get("error") or {}
        message = detail.get("message") if isinstance(detail, dict) else str(detail)
        code = detail.get("code") if isinstance(detail, dict) else None
        return None, f"batch: HTTP {status or '-'} code {code}: {message}", False
    try:
        completion = _from_message(response.get("body"), time.perf_counter())
    except Filtered as exc:
        return None, str(exc), True
    except (Retryable, Fatal) as exc:
        return None, f"batch: {exc}", False
    # a batch's answers have no latency of their own: the batch's wall time is the run's
    return dataclasses.replace(completion, latency_s=None, ttft_s=None), None, False


def _why_missing(card: dict[str, Any]) -> str:
    state = card.get("status")
    if state == "failed":
        errors = (card.get("errors") or {}).get("data") or [{}]
        return f"batch failed: {errors[0].get('message', 'no reason given')}"
    return f"batch {state}: the provider returned no line for this request"
