"""The simulator's Files and Batches endpoints: an OpenAI-style batch API, answered by its own engine.

The shapes follow OpenAI's Batch API (platform.openai.com/docs/api-reference/batch), which BigModel
documents for its own (docs.bigmodel.cn/api-reference/批处理-api/创建批处理任务: `input_file_id`,
`endpoint` "/v4/chat/completions", `completion_window`, `request_counts`, `output_file_id`,
`error_file_id`): a JSONL file is uploaded to /files with purpose "batch", one line per request
{"custom_id", "method": "POST", "url": endpoint, "body"}; /batches makes a batch of it, which goes
validating -> in_progress -> finalizing -> completed; an output file holds one line per answered
request {"id", "custom_id", "response": {"status_code", "request_id", "body"}, "error"} and an error
file the requests that failed. A batch not done when its window closes is "expired": what was
answered is in the output file, the rest in the error file with code "batch_expired", as OpenAI's
documentation of expiry says.

Each request of a batch is sent to the simulator's own chat-completions endpoint, unstreamed, so
a batch answer is the interactive answer to the same request, word for word; the faults that
concern only batches (a share of lines failing, a window that closes early, a slow start) are in
`Faults` with the others.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import aiohttp
from aiohttp import web

from .draws import uniform_of
from .protocol import error_body

if TYPE_CHECKING:
    from .server import Simulator

# The chat endpoint a batch line names, by the prefix the batch was created under: OpenAI's
# /v1/chat/completions, BigModel's /v4/chat/completions (its API lives under /api/paas/v4).
ENDPOINTS = {"/v1": "/v1/chat/completions", "/api/paas/v4": "/v4/chat/completions"}
TERMINAL = ("completed", "expired", "failed", "cancelled")


@dataclass
class _File:
    id: str
    purpose: str
    filename: str
    data: bytes
    created_at: int

    def card(self) -> dict[str, Any]:
        return {"id": self.id, "object": "file", "bytes": len(self.data), "created_at": self.created_at,
                "filename": self.filename, "purpose": self.purpose}


@dataclass
class _Batch:
    id: str
    prefix: str
    input_file_id: str
    endpoint: str
    completion_window: str
    metadata: dict[str, Any] | None
    created_at: int
    status: str = "validating"
    total: int = 0
    completed: int = 0
    failed: int = 0
    output_file_id: str | None = None
    error_file_id: str | None = None
    errors: dict[str, Any] | None = None
    times: dict[str, int | None] = field(default_factory=dict)
    task: asyncio.Task[None] | None = None

    def card(self) -> dict[str, Any]:
        stamps = ("in_progress_at", "expires_at", "finalizing_at", "completed_at", "failed_at", "expired_at",
                  "cancelling_at", "cancelled_at")
        return {
            "id": self.id, "object": "batch", "endpoint": self.endpoint, "errors": self.errors,
            "input_file_id": self.input_file_id, "completion_window": self.completion_window, "status": self.status,
            "output_file_id": self.output_file_id, "error_file_id": self.error_file_id, "created_at": self.created_at,
            **{name: self.times.get(name) for name in stamps},
            "request_counts": {"total": self.total, "completed": self.completed, "failed": self.failed},
            "metadata": self.metadata,
        }


class Batches:
    """Files and batches of one server process (a restarted simulator has none, as a new account would)."""

    def __init__(self, sim: Simulator) -> None:
        self.sim = sim
        self.files: dict[str, _File] = {}
        self.batches: dict[str, _Batch] = {}
        self._session: aiohttp.ClientSession | None = None

    async def close(self, _app: web.Application) -> None:
        for batch in self.batches.values():
            if batch.task is not None:
                batch.task.cancel()
        if self._session is not None:
            await self._session.close()

    def add_routes(self, app: web.Application, prefix: str) -> None:
        app.router.add_post(f"{prefix}/files", self.upload)
        app.router.add_get(f"{prefix}/files/{{file_id}}", self.file_card)
        app.router.add_get(f"{prefix}/files/{{file_id}}/content", self.content)
        app.router.add_post(f"{prefix}/batches", self.create)
        app.router.add_get(f"{prefix}/batches/{{batch_id}}", self.get)
        app.router.add_post(f"{prefix}/batches/{{batch_id}}/cancel", self.cancel)

    # -- files -----------------------------------------------------------------------------------

    async def upload(self, request: web.Request) -> web.Response:
        if self.sim._key_of(request) is None:
            return self.sim._unauthorized()
        try:
            form = await request.post()
        except ValueError:
            form = None
        upload, purpose = (form.get("file"), form.get("purpose")) if form is not None else (None, None)
        if not isinstance(upload, web.FileField) or purpose != "batch":
            return _error(400, "Upload a multipart form with a 'file' part and purpose 'batch'.", "invalid_file")
        data = upload.file.read()
        file = _File(f"file-{uuid.uuid4().hex[:24]}", "batch", upload.filename or "batch.jsonl", data, int(time.time()))
        self.files[file.id] = file
        return _json(200, file.card())

    async def file_card(self, request: web.Request) -> web.Response:
        if self.sim._key_of(request) is None:
            return self.sim._unauthorized()
        file = self.files.get(request.match_info["file_id"])
        return _json(200, file.card()) if file else _error(404, "No such file.", "file_not_found")

    async def content(self, request: web.Request) -> web.Response:
        if self.sim._key_of(request) is None:
            return self.sim._unauthorized()
        file = self.files.get(request.match_info["file_id"])
        if file is None:
            return _error(404, "No such file.", "file_not_found")
        return web.Response(body=file.data, content_type="application/octet-stream")

    # -- batches ---------------------------------------------------------------------------------

    async def create(self, request: web.Request) -> web.Response:
        key = self.sim._key_of(request)
        if key is None:
            return self.sim._unauthorized()
        try:
            body = json.loads(await request.read())
        except ValueError:
            return _error(400, "The request body is not valid JSON.", "invalid_json")
        prefix = "/api/paas/v4" if request.path.startswith("/api/paas/v4") else "/v1"
        endpoint = ENDPOINTS[prefix]
        if not isinstance(body, dict) or body.get("input_file_id") not in self.files:
            return _error(400, "input_file_id must name a file uploaded with purpose 'batch'.", "invalid_input_file", "input_file_id")
        if body.get("endpoint") != endpoint:
            return _error(400, f"endpoint must be {endpoint!r}.", "invalid_endpoint", "endpoint")
        if body.get("completion_window") != "24h":
            return _error(400, "completion_window must be '24h'.", "invalid_completion_window", "completion_window")
        batch = _Batch(f"batch_{uuid.uuid4().hex[:24]}", prefix, body["input_file_id"], endpoint, "24h",
                       body.get("metadata"), int(time.time()))
        batch.times["expires_at"] = batch.created_at + 24 * 3600
        self.batches[batch.id] = batch
        origin = f"http://{request.host}"
        batch.task = asyncio.create_task(self._process(batch, origin, key))
        return _json(200, batch.card())

    async def get(self, request: web.Request) -> web.Response:
        if self.sim._key_of(request) is None:
            return self.sim._unauthorized()
        batch = self.batches.get(request.match_info["batch_id"])
        return _json(200, batch.card()) if batch else _error(404, "No such batch.", "batch_not_found")

    async def cancel(self, request: web.Request) -> web.Response:
        if self.sim._key_of(request) is None:
            return self.sim._unauthorized()
        batch = self.batches.get(request.match_info["batch_id"])
        if batch is None:
            return _error(404, "No such batch.", "batch_not_found")
        if batch.status not in TERMINAL and batch.task is not None:
            batch.status = "cancelling"
            batch.times["cancelling_at"] = int(time.time())
            batch.task.cancel()
        return _json(200, batch.card())

    # -- processing ------------------------------------------------------------------------------

    async def _process(self, batch: _Batch, origin: str, key: str) -> None:
        faults = self.sim.faults
        lines = self.files[batch.input_file_id].data.decode("utf-8", errors="replace").splitlines()
        requests: list[tuple[str, dict[str, Any]]] = []
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                custom_id, body = entry["custom_id"], entry["body"]
                if entry.get("url") != batch.endpoint or not isinstance(body, dict) or not isinstance(custom_id, str):
                    raise ValueError
            except (ValueError, KeyError, TypeError):
                batch.status, batch.times["failed_at"] = "failed", int(time.time())
                batch.errors = {"object": "list", "data": [{
                    "code": "invalid_request", "line": number, "param": None,
                    "message": f"line {number} is not {{\"custom_id\", \"method\": \"POST\", \"url\": {batch.endpoint!r}, \"body\"}}"}]}
                return
            requests.append((custom_id, body))
        batch.total = len(requests)
        await asyncio.sleep(faults.batch_start_s)
        batch.status, batch.times["in_progress_at"] = "in_progress", int(time.time())
        done: dict[str, dict[str, Any]] = {}
        room = asyncio.Semaphore(faults.batch_concurrency)
        if self._session is None:
            self._session = aiohttp.ClientSession()

        async def answer(custom_id: str, body: dict[str, Any]) -> None:
            async with room:
                done[custom_id] = await self._answer(batch, origin, key, custom_id, body, faults.batch_failed)
                if done[custom_id]["response"] is not None and done[custom_id]["response"]["status_code"] == 200:
                    batch.completed += 1
                else:
                    batch.failed += 1

        work = [asyncio.create_task(answer(c, b)) for c, b in requests]
        expired = cancelled = False
        try:
            pending, window = set(work), faults.batch_expire_after or len(work)
            while pending and len(work) - len(pending) < window:
                _, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            expired = bool(pending)
        except asyncio.CancelledError:
            cancelled = True
        for task in work:
            task.cancel()
        batch.status, batch.times["finalizing_at"] = "finalizing", int(time.time())
        output: list[str] = []
        errors: list[str] = []
        for custom_id, _ in requests:
            result = done.get(custom_id)
            if result is None:
                code, message = (("batch_cancelled", "The batch was cancelled before this request ran.") if cancelled else
                                 ("batch_expired", "This request could not be executed before the completion window expired."))
                result = {"id": f"batch_req_{uuid.uuid4().hex[:24]}", "custom_id": custom_id, "response": None,
                          "error": {"code": code, "message": message}}
                batch.failed += 1
            ok = result["response"] is not None and result["response"]["status_code"] == 200
            (output if ok else errors).append(json.dumps(result))
        for name, rows in (("output_file_id", output), ("error_file_id", errors)):
            if rows:
                file = _File(f"file-{uuid.uuid4().hex[:24]}", "batch_output", f"{batch.id}_{name}.jsonl",
                             ("\n".join(rows) + "\n").encode(), int(time.time()))
                self.files[file.id] = file
                setattr(batch, name, file.id)
        now = int(time.time())
        if cancelled:
            batch.status, batch.times["cancelled_at"] = "cancelled", now
        elif expired:
            batch.status, batch.times["expired_at"] = "expired", now
        else:
            batch.status, batch.times["completed_at"] = "completed", now

    async def _answer(self, batch: _Batch, origin: str, key: str, custom_id: str, body: dict[str, Any],
                      fail_rate: float) -> dict[str, Any]:
        """One output line: the simulator's own answer to the request, or a failure drawn for it."""
        line: dict[str, Any] = {"id": f"batch_req_{uuid.uuid4().hex[:24]}", "custom_id": custom_id, "error": None}
        if uniform_of(f"batch\0{batch.id}\0{custom_id}".encode()) < fail_rate:
            line["response"] = {"status_code": 500, "request_id": uuid.uuid4().hex,
                                "body": error_body("The server had an error processing this request.", "server_error", "internal_error")}
            return line
        assert self._session is not None
        sent = {k: v for k, v in body.items() if k not in ("stream", "stream_options")}
        async with self._session.post(f"{origin}{batch.prefix}/chat/completions", json=sent,
                                      headers={"Authorization": f"Bearer {key}"}) as response:
            text = await response.text()
            status = response.status
        try:
            answer: Any = json.loads(text)
        except ValueError:
            answer = {"error": {"message": text[:200], "type": "server_error", "code": status}}
        line["response"] = {"status_code": status, "request_id": uuid.uuid4().hex, "body": answer}
        return line


def _json(status: int, body: dict[str, Any]) -> web.Response:
    return web.Response(status=status, text=json.dumps(body), content_type="application/json")


def _error(status: int, message: str, code: str, param: str | None = None) -> web.Response:
    return _json(status, error_body(message, "invalid_request_error", code, param))
