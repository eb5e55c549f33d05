"""The HTTP server: an OpenAI-compatible chat-completions endpoint on aiohttp.

Routes: POST /v1/chat/completions and /api/paas/v4/chat/completions (Z.ai's path), GET
/v1/models and /api/paas/v4/models, and the test controls GET/POST /_sim/faults, GET /_sim/stats
(without a key: the server listens on loopback and exists for tests).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import math
import os
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any

from aiohttp import web
from pydantic import ValidationError

from harness.simmark import SIMULATOR_HEADER

from .answers import Plan, Responder, fixed_plan
from .batches import Batches
from .cache import PromptCache
from .faults import FaultName, Faults, RateLimiter
from .key import AnswerKey, KeyItem
from .options import SimOptions
from .profiles import ProviderProfile, load_profiles
from .protocol import ChatRequest, ChunkEncoder, RequestError, canonical_json, completion_body, error_body, parse_chat_request, usage_body

MIN_EVENT_INTERVAL_S = 0.050
"""SSE events of one stream are at least this far apart (real time); faster tokens are merged."""
SHUTDOWN_TIMEOUT_S = 1.0
"""Open streams get this long to finish when the server stops; a test double must stop promptly."""
BAD_GATEWAY_HTML = ("<html><head><title>502 Bad Gateway</title></head><body><center>"
                    "<h1>502 Bad Gateway</h1></center></body></html>")
_SERVER_ERRORS: dict[str, tuple[int, str, str]] = {
    "http_500": (500, "The server had an error while processing your request.", "internal_error"),
    "http_503": (503, "The engine is currently overloaded, please try again later.",
                 "service_unavailable"),
}
# Z.ai's business errors: the HTTP status beside {"error": {"code": "<code>", "message": ...}}, the
# code a string (docs.z.ai/api-reference/api-code; BigModel: docs.bigmodel.cn/cn/faq/api-code).
_ZAI_ERRORS: dict[str, tuple[int, str, str]] = {
    "zai_1113": (429, "1113", "Insufficient balance or no resource package. Please recharge."),
    "zai_1211": (400, "1211", "Unknown Model, please check the model code."),
    "zai_1301": (400, "1301", "System detected potentially unsafe or sensitive content in input or generation. "
                              "Please avoid using prompts that may generate sensitive content."),
    "zai_1302": (429, "1302", "Rate limit reached for requests"),
    "zai_1303": (429, "1303", "High concurrency usage of this API, please reduce concurrency or contact customer "
                              "service to increase limits"),
    "zai_1305": (429, "1305", "The service may be temporarily overloaded, please try again later"),
}
# Answers that end early with the finish_reason the provider sends: "sensitive" (Z.ai, BigModel:
# docs.z.ai/api-reference/llm/chat-completion, finish_reason), "network_error" (the same page),
# "error" (OpenRouter's normalized finish reasons: openrouter.ai/docs/api-reference/overview),
# "abort" (vLLM's FinishReason.ABORT: docs.vllm.ai, vllm/v1/engine/__init__.py; SGLang likewise).
_CUT_SHORT: dict[str, str] = {
    "content_filter": "content_filter",
    "sensitive": "sensitive",
    "finish_error": "error",
    "finish_abort": "abort",
    "finish_network_error": "network_error",
}


def _json_response(status: int, body: dict[str, Any], headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, text=json.dumps(body), content_type="application/json",
                        headers=headers)


class Simulator:
    """State of one server: profiles, answer key, faults, counters and the request log."""

    def __init__(self, options: SimOptions, answer_key: Sequence[KeyItem]) -> None:
        self.options = options
        self.profiles = load_profiles(options.profiles_path)
        self.host = self.profiles.provider(options.provider_profile)  # an unknown name fails here
        key = AnswerKey(answer_key)
        # An aggregator's profile serves each request from one of its routes, as OpenRouter routes one
        # model id to several upstream hosts; any other profile is its own single route.
        names: Sequence[str | None] = self.host.routes or [options.provider_profile]
        self.routes: dict[str | None, tuple[ProviderProfile, Responder]] = {
            name: (self.profiles.provider(name), Responder(self.profiles, key, name)) for name in names}
        self.faults = options.faults
        self.cache = PromptCache()
        self.limiter = RateLimiter()
        self.attempts: Counter[str] = Counter()
        self.by_status: Counter[str] = Counter()
        self.by_model: Counter[str] = Counter()
        self.by_fault: Counter[str] = Counter()
        self.unknown_prompts = 0
        self.in_flight = 0
        self.max_in_flight = 0
        self._log_fd: int | None = None

    # -- lifecycle -------------------------------------------------------------------------------

    async def open_log(self, _app: web.Application) -> None:
        if self.options.request_log is not None:
            self.options.request_log.parent.mkdir(parents=True, exist_ok=True)
            self._log_fd = os.open(self.options.request_log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    async def close_log(self, _app: web.Application) -> None:
        if self._log_fd is not None:
            os.close(self._log_fd)
            self._log_fd = None

    def _record(self, entry: dict[str, Any]) -> None:
        """Count the request and append its log line now, unbuffered: the line must be there
        while the answer is still pending, and survive the server being killed."""
        self.by_status[str(entry["status"])] += 1
        self.by_model[entry.get("model") or "-"] += 1
        if entry.get("fault"):
            self.by_fault[entry["fault"]] += 1
        if self._log_fd is not None:
            os.write(self._log_fd, (json.dumps(entry) + "\n").encode())

    # -- routes ----------------------------------------------------------------------------------

    def _key_of(self, request: web.Request) -> str | None:
        """The bearer key when it is accepted, else None."""
        scheme, _, key = request.headers.get("Authorization", "").partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not key:
            return None
        if self.options.api_key is not None and key != self.options.api_key:
            return None
        return key

    @staticmethod
    def _unauthorized() -> web.Response:
        return _json_response(401, error_body(
            "Incorrect or missing API key: send 'Authorization: Bearer <key>' with the simulator's key.",
            "invalid_request_error", "invalid_api_key"))

    async def models(self, request: web.Request) -> web.Response:
        if self._key_of(request) is None:
            return self._unauthorized()
        data = [{"id": name, "object": "model", "created": 0, "owned_by": "glm-eval-simulator"}
                for name in self.profiles.variants]
        if self.options.max_model_len is not None:
            for entry in data:  # where vLLM publishes its context limit (GET /v1/models)
                entry["max_model_len"] = self.options.max_model_len
        body: dict[str, Any] = {"object": "list", "data": data, "glm_eval_simulator": True}
        if self.options.provider_profile is not None:
            body["glm_eval_provider_profile"] = self.options.provider_profile
        return _json_response(200, body)

    async def get_faults(self, _request: web.Request) -> web.Response:
        return _json_response(200, self.faults.model_dump())

    async def set_faults(self, request: web.Request) -> web.Response:
        """Replace the faults with the posted ones (fields left out are off)."""
        try:
            faults = Faults.model_validate(json.loads(await request.read() or b"{}"))
        except (ValueError, ValidationError) as exc:
            return _json_response(400, error_body(str(exc), "invalid_request_error", "invalid_faults"))
        self.faults = faults
        self.limiter = RateLimiter()
        return _json_response(200, faults.model_dump())

    async def stats(self, _request: web.Request) -> web.Response:
        return _json_response(200, {
            "requests": sum(self.by_status.values()),
            "by_status": dict(self.by_status),
            "by_model": dict(self.by_model),
            "by_fault": dict(self.by_fault),
            "unknown_prompts": self.unknown_prompts,
            "in_flight": self.in_flight,
            "max_in_flight": self.max_in_flight,
            "cpu_s": time.process_time(),
        })

    async def chat(self, request: web.Request) -> web.StreamResponse:
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            raw = await request.read()
            entry: dict[str, Any] = {"time": time.time(), "path": request.path}
            if self.options.provider_profile is not None:
                entry["provider_profile"] = self.options.provider_profile
            decided = self._decide(request, raw, entry)
            self._record(entry)
            if isinstance(decided, web.Response):
                return decided
            chat, plan, fault, host = decided
            response_id = f"chatcmpl-{entry['body_sha256'][:24]}-{entry['attempt']}"
            if chat.stream:
                return await self._stream(request, chat, plan, fault, response_id, host)
            return await self._respond(request, chat, plan, fault, response_id, host)
        finally:
            self.in_flight -= 1

    # -- deciding --------------------------------------------------------------------------------

    def _decide(self, request: web.Request, raw: bytes, entry: dict[str, Any]
                ) -> web.Response | tuple[ChatRequest, Plan, FaultName | None, ProviderProfile]:
        """Everything about the answer, settled before any waiting; fills the log entry."""
        try:
            body = json.loads(raw)
            entry["body_sha256"] = canonical_sha = _sha256(canonical_json(body))
        except ValueError:
            body, canonical_sha = None, _sha256(raw)
            entry["body_sha256"] = canonical_sha
        if isinstance(body, dict):
            model = body.get("model")
            entry.update(model=model if isinstance(model, str) else None, stream=bool(body.get("stream")),
                         seed=body.get("seed"))

        def refuse(response: web.Response, fault: str | None = None) -> web.Response:
            entry.update(status=response.status, fault=fault)
            return response

        key = self._key_of(request)
        if key is None:
            return refuse(self._unauthorized())
        if body is None:
            return refuse(_json_response(400, error_body(
                "The request body is not valid JSON.", "invalid_request_error", "invalid_json")))
        try:
            chat = parse_chat_request(body)
        except RequestError as exc:
            return refuse(_json_response(exc.status, exc.body))
        routed = self._route(chat, canonical_sha)
        if routed is None:
            # OpenRouter's answer when the provider preferences leave no host (openrouter.ai/docs/features/provider-routing).
            return refuse(_json_response(404, {"error": {"code": 404, "message": "No allowed providers are available for the selected model."}}))
        host, responder = routed
        if host.served_by is not None:
            entry["served_by"] = host.served_by
        if host.thinking == "ignored":
            chat = replace(chat, thinking=True)  # the host's chat template thinks whatever was asked
        if chat.model not in self.profiles.variants:
            known = ", ".join(self.profiles.variants)
            return refuse(_json_response(404, error_body(
                f"The model '{chat.model}' does not exist; this server has: {known}.",
                "invalid_request_error", "model_not_found", "model")))

        faults = self.faults
        if faults.rpm_limit is not None:
            wait = self.limiter.take(key, faults.rpm_limit, faults.rpm_burst, time.monotonic())
            if wait > 0:
                return refuse(self._rate_limited(max(1, math.ceil(wait))), "rpm_limit")
        self.attempts[canonical_sha] += 1
        attempt = entry["attempt"] = self.attempts[canonical_sha]
        fault = faults.draw(canonical_sha, attempt)
        if fault == "http_429":
            return refuse(self._rate_limited(faults.retry_after_s), fault)
        if fault == "http_429_no_retry_after":
            return refuse(self._rate_limited(None), fault)
        if fault == "http_502":
            return refuse(web.Response(status=502, text=BAD_GATEWAY_HTML, content_type="text/html"), fault)
        if fault in _SERVER_ERRORS:
            status, message, code = _SERVER_ERRORS[fault]
            return refuse(_json_response(status, error_body(message, "server_error", code)), fault)
        if fault in _ZAI_ERRORS:
            status, code, message = _ZAI_ERRORS[fault]
            return refuse(_json_response(status, {"error": {"code": code, "message": message}}), fault)
        if fault == "cometapi_invalid_500":
            # CometAPI relays an upstream's validation error with HTTP 500 and an OpenAI-shaped body
            # (api.cometapi.com/doc, error codes: "500 ... invalid request"), so retrying cannot pass.
            return refuse(_json_response(500, error_body(
                "Invalid request: the upstream rejected the request parameters (request id sim)",
                "invalid_request_error", "invalid_request")), fault)
        if fault == "stream_error_chunk" and not chat.stream:
            return refuse(_json_response(500, error_body("The engine failed part-way.", "server_error", "internal_error")), fault)
        limit = self.options.max_model_len
        if limit is not None and chat.max_tokens is not None and chat.max_tokens > limit:
            # vLLM 0.32's refusal, word for word (seen against a real server: tests/vllm); a prompt that
            # leaves less room than max_tokens is not refused there, the answer ends at the context.
            return refuse(_json_response(400, {"error": {
                "message": f"max_tokens={chat.max_tokens} cannot be greater than max_model_len={limit}. Please request "
                           f"fewer output tokens. (parameter=max_tokens, value={chat.max_tokens})",
                "type": "BadRequestError", "param": "max_tokens", "code": 400}}), "max_model_len")

        if self.options.fixed_latency is not None:
            plan = fixed_plan(chat, self.options.fixed_latency)
        else:
            plan = responder.plan(chat, self.options.time_scale)
            if plan.item is None:
                self.unknown_prompts += 1
        if fault in _CUT_SHORT:
            plan = plan.cut((len(plan.reasoning) + len(plan.content)) // 2, _CUT_SHORT[fault])
        # the cache is read (and written) as the request is accepted, as a provider's would be; each
        # host keeps one per model (a cached prefix is the model's own computed state)
        cached = self.cache.read(chat.prompt_words, scope=(host.served_by, chat.model)) if self.options.prompt_cache else None
        entry["cached_tokens"] = None if cached is None else min(cached, chat.prompt_tokens)
        chat = replace(chat, cached_tokens=entry["cached_tokens"])
        entry.update(status=200, fault=fault, task=plan.task, item=plan.item, correct=plan.correct,
                     finish_reason=plan.finish_reason, unknown_prompt=plan.item is None
                     and self.options.fixed_latency is None)
        return chat, plan, fault, host

    def _route(self, chat: ChatRequest, canonical_sha: str) -> tuple[ProviderProfile, Responder] | None:
        """The host that serves this request. On an aggregator: the first host of the request's
        `provider.order` that its `quantizations` allow, else (fallbacks allowed) one of the allowed
        hosts drawn from the request, so that the same request goes to the same host; None when the
        preferences leave none."""
        if not self.host.routes:
            return next(iter(self.routes.values()))
        allowed = [name for name, (host, _) in self.routes.items()
                   if not chat.quantizations or host.quantization in chat.quantizations]
        preferred = [name for name in chat.route_order if name in allowed]
        if preferred:
            return self.routes[preferred[0]]
        if not allowed or (chat.route_order and not chat.allow_fallbacks):
            return None
        return self.routes[allowed[int(canonical_sha[:8], 16) % len(allowed)]]

    @staticmethod
    def _rate_limited(retry_after: int | None) -> web.Response:
        headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
        return _json_response(429, error_body("Rate limit reached for requests; slow down.",
                                              "rate_limit_error", "rate_limit_exceeded"), headers)

    # -- answering -------------------------------------------------------------------------------

    def _usage(self, chat: ChatRequest, plan: Plan, host: ProviderProfile) -> dict[str, Any] | None:
        """The usage object, or None from a host that sends none (even when the stream asks for it)."""
        if host.usage == "dropped":
            return None
        completion = len(plan.reasoning) + len(plan.content)
        bill = host.bills or self.host.bills
        cost = None
        if self.host.reports_cost and bill is not None:
            cost = bill.cost(chat.prompt_tokens, min(chat.cached_tokens or 0, chat.prompt_tokens), completion)
        return usage_body(chat.prompt_tokens, len(plan.reasoning), len(plan.content),
                          with_details=self.options.reasoning_format == "field", cached=chat.cached_tokens, cost=cost)

    async def _respond(self, request: web.Request, chat: ChatRequest, plan: Plan,
                       fault: FaultName | None, response_id: str, host: ProviderProfile) -> web.StreamResponse:
        if fault == "drop":
            await asyncio.sleep(plan.total_s / 2)
            return _drop(request)
        await asyncio.sleep(plan.total_s + (self.faults.slow_s if fault == "slow" else 0.0))
        reasoning = "".join(plan.reasoning) if chat.thinking and plan.show_reasoning else None
        content = "".join(plan.content)
        if reasoning is not None and self.options.reasoning_format == "think_tags":
            closing = "</think>\n\n" if plan.content else ""  # no closing tag when cut mid-thought
            content, reasoning = f"<think>{reasoning}{closing}{content}", None
        body = completion_body(response_id, int(time.time()), chat.model, content, reasoning,
                               plan.finish_reason, self._usage(chat, plan, host), host.served_by)
        if fault == "empty_choices":
            body["choices"] = []
        text = json.dumps(body)
        if fault == "malformed_json":
            text = text[: len(text) // 2]
        return web.Response(text=text, content_type="application/json")

    def _events(self, plan: Plan, encoder: ChunkEncoder) -> Iterator[tuple[float, bytes]]:
        """(due time after the request arrived, SSE event) for every delta of the answer."""
        interval = plan.token_interval_s
        size = self.options.chunk_tokens
        if interval > 0:
            size = max(size, math.ceil(MIN_EVENT_INTERVAL_S / interval))
        else:
            size = max(size, len(plan.reasoning), len(plan.content))
        tags = self.options.reasoning_format == "think_tags"
        shown = bool(plan.reasoning) and plan.show_reasoning
        sent = 0
        for part, pieces in (("reasoning", plan.reasoning), ("content", plan.content)):
            for start in range(0, len(pieces), size):
                chunk = pieces[start : start + size]
                sent += len(chunk)
                if part == "reasoning" and not shown:
                    continue  # hidden reasoning takes time but is not sent
                text = "".join(chunk)
                if tags and start == 0:
                    text = ("<think>" if part == "reasoning" else "</think>\n\n" if shown else "") + text
                field = "content" if tags or part == "content" else "reasoning_content"
                yield plan.ttft_s + (sent - 1) * interval, encoder.delta(field, text)

    async def _stream(self, request: web.Request, chat: ChatRequest, plan: Plan,
                      fault: FaultName | None, response_id: str, host: ProviderProfile) -> web.StreamResponse:
        loop = asyncio.get_running_loop()
        started = loop.time()
        encoder = ChunkEncoder(response_id, int(time.time()), chat.model, host.served_by)
        if fault == "empty_choices":
            events = [(plan.ttft_s, encoder.empty_choices())]
        else:
            events = list(self._events(plan, encoder))
        if fault == "malformed_json" and events:
            due, data = events[0]
            events[0] = (due, data[: len(data) // 2] + b"\n\n")
        if fault in ("drop", "stream_error_chunk"):
            events = events[: len(events) // 2]
        closing = b""
        usage = self._usage(chat, plan, host)
        if fault == "stream_error_chunk":
            # Once the 200 is out, vLLM and SGLang report a failure as a `data: {"error": ...}` event and
            # then [DONE] (vllm/entrypoints/openai/serving_chat.py); OpenRouter likewise sends an error
            # chunk (openrouter.ai/docs/api-reference/streaming, "errors during streaming").
            closing = encoder.error({"message": "The engine failed part-way through the request.",
                                     "type": "InternalServerError", "param": None, "code": 500})
        elif fault == "no_finish_reason":
            closing = encoder.usage_only(usage) if chat.include_usage and usage is not None else b""
        elif fault not in ("drop", "empty_choices"):
            # Z.ai sends usage in the closing chunk of every stream (docs.z.ai/api-reference/llm/chat-completion);
            # vLLM and SGLang only when asked, in a last chunk with no choices
            # (docs.vllm.ai/en/latest/serving/openai_compatible_server.html, stream_options).
            every = self.options.stream_usage == "always"
            closing = encoder.finish(plan.finish_reason, usage if every else None)
            if chat.include_usage and usage is not None:
                closing += encoder.usage_only(usage)
        shift = self.faults.slow_s if fault == "slow" else 0.0  # a slow answer moves every event later
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"})
        try:
            await asyncio.sleep(plan.ttft_s + shift)
            await response.prepare(request)
            sent = 0
            while sent < len(events):
                wait = events[sent][0] + shift - (loop.time() - started)
                if wait > 0:
                    await asyncio.sleep(wait)
                # Events already due (the loop fell behind under load) go out in one write.
                now = loop.time() - started - shift
                upto = sent + 1
                while upto < len(events) and events[upto][0] <= now:
                    upto += 1
                await response.write(b"".join(data for _, data in events[sent:upto]))
                sent = upto
            if fault == "drop":
                return _drop(request)
            await response.write(closing + ChunkEncoder.DONE)
            await response.write_eof()
        except ConnectionError:
            pass  # the client went away; nothing left to send it
        return response


def _drop(request: web.Request) -> web.Response:
    """Cut the connection as a crashed upstream would: no final chunk, no [DONE]. aiohttp
    discards the returned response, as the transport is gone."""
    if request.transport is not None:
        request.transport.abort()
    return web.Response(status=200)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@web.middleware
async def _mark(request: web.Request, handler: Any) -> web.StreamResponse:
    """Label every response as the simulator's (its scores are not measurements), and answer an
    unknown path with a web page, as the web server in front of a hosted API does: the client
    must tell "wrong base URL" apart from an API error."""
    try:
        response = await handler(request)
    except web.HTTPNotFound:
        response = web.Response(status=404, content_type="text/html",
                                text="<html><head><title>404 Not Found</title></head><body><h1>Not Found</h1></body></html>")
    if not response.prepared:
        response.headers[SIMULATOR_HEADER] = "1"
    return response


async def _mark_stream(request: web.Request, response: web.StreamResponse) -> None:
    response.headers[SIMULATOR_HEADER] = "1"


def make_app(options: SimOptions, answer_key: Sequence[KeyItem]) -> web.Application:
    """The simulator as an aiohttp application (profiles are loaded, and checked, here)."""
    sim = Simulator(options, answer_key)
    app = web.Application(client_max_size=64 * 1024 * 1024, middlewares=[_mark])
    app.on_response_prepare.append(_mark_stream)
    app.on_startup.append(sim.open_log)
    app.on_cleanup.append(sim.close_log)
    batches = Batches(sim)
    app.on_cleanup.append(batches.close)
    for prefix in ("/v1", "/api/paas/v4"):
        app.router.add_post(f"{prefix}/chat/completions", sim.chat)
        app.router.add_get(f"{prefix}/models", sim.models)
        batches.add_routes(app, prefix)
    app.router.add_get("/_sim/faults", sim.get_faults)
    app.router.add_post("/_sim/faults", sim.set_faults)
    app.router.add_get("/_sim/stats", sim.stats)
    return app


async def start_server(options: SimOptions, answer_key: Sequence[KeyItem], host: str = "127.0.0.1",
                       port: int = 0) -> tuple[web.AppRunner, int]:
    """Start listening in the running event loop; returns the runner (to clean up) and the port."""
    runner = web.AppRunner(make_app(options, answer_key), access_log=None,
                           shutdown_timeout=SHUTDOWN_TIMEOUT_S)
    await runner.setup()
    # A large backlog: a thousand clients connecting at once must not wait for SYN retries.
    site = web.TCPSite(runner, host, port, backlog=4096)
    await site.start()
    return runner, runner.addresses[0][1]
