"""One chat-completions request over HTTP, streamed or not, and what came back.

The client only speaks the protocol: it turns a response into a `Completion` (answer and reasoning
kept apart, usage, timings) or raises `Retryable` / `Fatal`, so that the runner decides what to do
with failures and nothing here knows about grading.
"""

from __future__ import annotations

import json
import re
import time
import urllib.request
from collections.abc import AsyncIterator
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urlsplit

import aiohttp

CONNECT_TIMEOUT_S = 15.0
_JSON = {"Content-Type": "application/json"}
_THINK = re.compile(r"^\s*<think>(.*?)</think>\s*", re.DOTALL)


@dataclass
class Completion:
    content: str
    reasoning: str
    finish_reason: str | None
    prompt_tokens: int | None
    completion_tokens: int | None
    reasoning_tokens: int | None
    ttft_s: float | None
    latency_s: float | None  # None for a batch's answers, which have no latency of their own
    reasoning_field: str | None = None  # where the reasoning came: reasoning_content, reasoning, or <think> tags
    served_model: str | None = None  # the response's `model`: the id the server says it served
    served_by: str | None = None  # the upstream host an aggregator routed to (OpenRouter's top-level `provider`)
    cached_tokens: int | None = None  # prompt tokens read from the provider's cache (a part of prompt_tokens)
    cache_write_tokens: int | None = None  # prompt tokens written to it (OpenRouter), also a part of prompt_tokens
    reported_cost: float | None = None  # what the provider says the request cost (OpenRouter's usage.cost, USD)

    @property
    def filtered(self) -> bool:
        return self.finish_reason in FILTERED


# What a finish_reason says about the answer. An answer ends with "stop"/"length"/"tool_calls", or
# any reason not listed below (vLLM's "model_context_window_exceeded" is an answer cut by the context).
# A provider's content filter ends it with "sensitive" (Z.ai, BigModel: docs.z.ai/api-reference/llm/chat-completion)
# or "content_filter" (OpenAI, OpenRouter: openrouter.ai/docs/api-reference/overview#finish-reason).
# The rest are in-band failures: the server gave up part-way, so the text is not the model's answer:
# "error" (OpenRouter's normalized reason; vLLM when the engine fails a request), "abort" (vLLM, SGLang
# when a request is aborted), "network_error" (Z.ai: docs.z.ai/api-reference/llm/chat-completion).
FAILED_IN_BAND = frozenset({"error", "abort", "network_error"})
TRUNCATED = frozenset({"length", "model_context_window_exceeded"})
FILTERED = frozenset({"sensitive", "content_filter"})


class Retryable(Exception):
    """A failure that may pass: 429, 5xx, timeouts, dropped connections, a stream cut short, an
    in-band failure (finish_reason "error"/"abort"/"network_error", an error chunk)."""

    def __init__(
        self, message: str, retry_after: float | None = None, connection: bool = False, rate_limited: bool = False, status: int | None = None
    ) -> None:
        super().__init__(message)
        self.retry_after = retry_after
        self.connection = connection  # the server could not be reached or hung up: it may be down
        self.rate_limited = rate_limited
        self.status = status  # the HTTP status, when the server answered with an error status


class Fatal(Exception):
    """A refusal that retrying cannot change: the message says what to fix. `whole_run` when no
    other model can fare better either (the key is refused, the account is out of balance, the
    address is not the API)."""

    def __init__(self, message: str, status: int, whole_run: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.whole_run = whole_run or status == 401


class Filtered(Exception):
    """The provider refused this item for its content (Z.ai/BigModel HTTP 400, code 1301): not a
    wrong answer and not a transport failure, and the model's other items go on."""


@dataclass(frozen=True)
class _Code:
    action: str  # "retry" | "filtered" | "model" (stop that model) | "run" (stop the run)
    hint: str


# Z.ai's business error codes, sent as {"error": {"code": "1113", "message": ...}} beside the HTTP
# status (docs.z.ai/api-reference/api-code; BigModel uses the same table: docs.bigmodel.cn/cn/faq/api-code).
PROVIDER_CODES = {
    "1113": _Code("run", "the account's balance is exhausted or it has no resource package; recharge the account, then rerun to resume"),
    "1211": _Code("model", "the model does not exist on this provider; check --models (see `glm-eval models`)"),
    "1220": _Code("model", "the API key may not use this model; check the account's access"),
    "1301": _Code("filtered", "the provider flagged the content as unsafe or sensitive"),
    "1302": _Code("retry", "the account's rate limit (code 1302); lower --rpm"),
    "1303": _Code("retry", "the account's concurrency limit (code 1303); lower --concurrency"),
    "1305": _Code("retry", "the model is overloaded at the provider (code 1305); retry later"),
}

FATAL_HINTS = {
    400: "the provider rejected the request; check the sampling parameters and --max-tokens",
    401: "the API key was refused; check the key in {env}",
    403: "the API key may not use this model or endpoint; check the account's access",
    404: "the model id or endpoint does not exist there; check --models and --base-url",
    422: "the provider rejected the request's parameters",
}

# What a 4xx message says, when the provider gives no code: the hint that fits it.
_MESSAGE_HINTS = (
    # OpenRouter, when the routing preferences leave no upstream host ("No endpoints found that can handle
    # the requested parameters", "No allowed providers are available for the selected model")
    (re.compile(r"no (allowed )?(providers|endpoints)", re.I),
     "the routing preferences leave no upstream host for this model; check the host after '@', --route-order, --quantizations "
     "and --no-fallbacks"),
    (re.compile(r"model.*(does not exist|not found|not exist|unknown|invalid)|no such model|(unknown|invalid) model", re.I),
     "the model id does not exist there; check --models (see `glm-eval models`) or the server's /models list"),
    (re.compile(r"max_tokens|max_completion_tokens|maximum context length|max_model_len|context length|too many tokens", re.I),
     "the request does not fit the model's context; lower --max-tokens"),
    (re.compile(r"temperature|top_p", re.I), "check --temperature and --top-p"),
)


class ChatClient:
    """One provider's address and connection pool; `complete` sends one request.

    aiohttp rather than httpx: bench/README.md measured httpx's connection pool (httpcore scans
    every connection on each request start and end) at 4.8-39 s of CPU per 1,000 requests and
    wall/ideal 8.7-43 at 256-1024 concurrent requests, against 0.9-1.9 s and 1.04-1.5 for aiohttp.
    """

    def __init__(
        self, base_url: str, api_key: str | None, max_connections: int, timeout_s: float, key_env: str, stream_usage: bool = True
    ) -> None:
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.key_env = key_env
        self.stream_usage = stream_usage
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._max_connections = max_connections
        self._timeout = aiohttp.ClientTimeout(total=None, sock_connect=CONNECT_TIMEOUT_S, sock_read=timeout_s)
        self._proxy = _env_proxy(self.url)
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> ChatClient:
        self._session = aiohttp.ClientSession(
            headers=self._headers,
            timeout=self._timeout,
            connector=aiohttp.TCPConnector(limit=self._max_connections, limit_per_host=0),
        )
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._session is not None:
            await self._session.close()

    async def complete(self, body: dict[str, Any]) -> Completion:
        """Send one request; the caller owns retries."""
        assert self._session is not None, "use the client as an async context manager"
        started = time.perf_counter()
        if body.get("stream") and self.stream_usage:
            # vLLM, SGLang and OpenAI send usage in a stream only when asked; it is how the answer is
            # carried, not what is asked of the model, so it stays out of the stored request and its key.
            body = {**body, "stream_options": {"include_usage": True}}
        try:
            async with self._session.post(self.url, data=json.dumps(body), headers=_JSON, proxy=self._proxy) as response:
                await _check_status(response, self.key_env)
                if body.get("stream"):
                    return await _streamed(response, started)
                raw = await response.read()
                try:
                    data = json.loads(raw)
                except ValueError:
                    raise Retryable(f"malformed JSON in the response (HTTP {response.status})") from None
                return _from_message(data, started)
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            raise Retryable(f"cannot connect ({type(exc).__name__}: {exc})", connection=True) from None
        except (TimeoutError, aiohttp.SocketTimeoutError) as exc:
            raise Retryable(f"timeout: no data for {self._timeout.sock_read} s ({type(exc).__name__})") from None
        except aiohttp.ClientError as exc:  # the server answered, then hung up part-way
            raise Retryable(f"the connection was cut before the response finished ({type(exc).__name__}: {exc})") from None


def _env_proxy(url: str) -> str | None:
    """The proxy that HTTPS_PROXY / HTTP_PROXY / NO_PROXY give for `url`, as other HTTP tools read
    them; looked up once (aiohttp's trust_env looks it up on a thread for every request)."""
    parts = urlsplit(url)
    if parts.hostname is None or urllib.request.proxy_bypass(parts.hostname):
        return None
    return urllib.request.getproxies().get(parts.scheme)


async def _check_status(response: aiohttp.ClientResponse, key_env: str) -> None:
    status = response.status
    if status < 400 and not _is_html(response):
        return
    text = await _body_text(response)
    if _is_html(response) or text.lstrip().startswith("<"):
        if status >= 500:  # a gateway's error page (502/503/504 from a proxy in front): transient
            raise Retryable(f"HTTP {status} (an HTML error page from a gateway)", retry_after=_retry_after(response.headers.get("retry-after")), status=status)
        raise _wrong_address(status, f"{response.url} answered with a web page, not the chat-completions API")
    if status in (404, 405) and not _api_error(text):
        # Not the API's error but the web framework's ({"detail": "Not Found"} from vLLM's FastAPI for
        # an unknown path): the address, not the model, is wrong.
        raise _wrong_address(status, f"{response.url} is not a chat-completions endpoint")
    message, code, kind = _error_fields(text)
    detail = f" ({message[:200]})" if message else ""
    known = PROVIDER_CODES.get(code or "")
    if known is not None:
        detail = f" code {code}{detail}"
        if known.action == "retry":
            raise Retryable(
                f"HTTP {status}{detail}: {known.hint}", retry_after=_retry_after(response.headers.get("retry-after")), rate_limited=status == 429, status=status
            )
        if known.action == "filtered":
            raise Filtered(f"HTTP {status}{detail}: {known.hint}")
        raise Fatal(f"HTTP {status}{detail}: {known.hint}", status, whole_run=known.action == "run")
    if status >= 500 and kind == "invalid_request_error":
        # CometAPI relays an upstream's validation error as HTTP 500 with this type
        # (api.cometapi.com/doc, "Error codes"): the same request fails the same way every time.
        raise Fatal(f"HTTP {status}{detail}: the provider says the request is invalid; check the model id and sampling parameters", status)
    if status == 429 or status >= 500 or status == 408:
        raise Retryable(f"HTTP {status}{detail}", retry_after=_retry_after(response.headers.get("retry-after")), rate_limited=status == 429, status=status)
    hint = next((h for pattern, h in _MESSAGE_HINTS if status in (400, 404, 422) and pattern.search(message or "")), None)
    if hint is None:
        hint = FATAL_HINTS.get(status, "the provider refused the request").format(env=key_env)
    raise Fatal(f"HTTP {status}{detail}: {hint}", status)


def _wrong_address(status: int, what: str) -> Fatal:
    return Fatal(
        f"HTTP {status}: {what}; the base URL is probably missing its path (such as /v1, or /api/paas/v4 for "
        f"Z.ai and BigModel); check --base-url",
        status,
        whole_run=True,
    )


def _is_html(response: aiohttp.ClientResponse) -> bool:
    return response.content_type == "text/html"


async def _body_text(response: aiohttp.ClientResponse) -> str:
    try:
        return (await response.read()).decode(errors="replace")
    except (TimeoutError, aiohttp.ClientError):
        return ""


def _api_error(text: str) -> bool:
    """Whether a body is an API's error: OpenAI's {"error": ...}, or vLLM's older {"object": "error", ...}."""
    try:
        data = json.loads(text)
    except ValueError:
        return False
    return isinstance(data, dict) and ("error" in data or data.get("object") == "error" or "message" in data)


def _error_fields(text: str) -> tuple[str, str | None, str | None]:
    """The message, provider code and type of an error body; OpenAI's shape {"error": {...}} and
    the bare {"message": ...} some servers send. The code is text: Z.ai sends "1113", others ints."""
    try:
        data = json.loads(text)
    except ValueError:
        return text.strip(), None, None
    error = data.get("error", data) if isinstance(data, dict) else None
    if not isinstance(error, dict):
        return (str(error) if error else text.strip()), None, None
    code = error.get("code")
    return str(error.get("message") or "").strip(), (str(code) if code is not None else None), error.get("type")


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _from_message(data: Any, started: float) -> Completion:
    _raise_in_band(data)
    choice = _first_choice(data)
    message = choice.get("message") or {}
    _check_finish(choice.get("finish_reason"))
    content, reasoning = split_reasoning(message.get("content") or "", _reasoning_of(message))
    prompt, completion, reasoning_tokens = _usage(data.get("usage"))
    return Completion(
        **billing(data.get("usage")),
        served_model=_text(data.get("model")),
        served_by=_text(data.get("provider")),
        reasoning_field=_field_of(message, reasoning),
        content=content,
        reasoning=reasoning,
        finish_reason=choice.get("finish_reason"),
        prompt_tokens=prompt,
        completion_tokens=completion,
        reasoning_tokens=reasoning_tokens,
        ttft_s=None,
        latency_s=time.perf_counter() - started,
    )


async def _streamed(response: aiohttp.ClientResponse, started: float) -> Completion:
    content: list[str] = []
    reasoning: list[str] = []
    finish_reason: str | None = None
    usage: Any = None
    ttft: float | None = None
    field: str | None = None
    served: Any = {}
    done = False
    async for payload in _sse_data(response):
        if payload == b"[DONE]":
            done = True
            break
        try:
            chunk = json.loads(payload)
        except ValueError:
            raise Retryable("malformed JSON in the stream") from None
        _raise_in_band(chunk)
        if not served:
            served = chunk
        if chunk.get("usage"):
            usage = chunk["usage"]
        for choice in chunk.get("choices") or ():
            delta = choice.get("delta") or {}
            piece = delta.get("content")
            thought = _reasoning_of(delta)
            if piece:
                content.append(piece)
            if thought:
                reasoning.append(thought)
                field = field or _field_of(delta, thought)
            if ttft is None and (piece or thought):
                ttft = time.perf_counter() - started
            if choice.get("finish_reason"):
                finish_reason = choice["finish_reason"]
    if finish_reason is None:
        # Whether or not [DONE] came, an answer that never says why it ended is not known to be whole.
        raise Retryable("the stream was cut before it finished" if not done else "the stream ended without a finish reason")
    _check_finish(finish_reason)
    text, thoughts = split_reasoning("".join(content), "".join(reasoning))
    prompt, completion, reasoning_tokens = _usage(usage)
    return Completion(
        **billing(usage),
        served_model=_text(served.get("model")),
        served_by=_text(served.get("provider")),
        reasoning_field=field or ("<think> tags" if thoughts else None),
        content=text,
        reasoning=thoughts,
        finish_reason=finish_reason,
        prompt_tokens=prompt,
        completion_tokens=completion,
        reasoning_tokens=reasoning_tokens,
        ttft_s=ttft,
        latency_s=time.perf_counter() - started,
    )


async def _sse_data(response: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
    """The payload of each `data:` line, split from whatever chunks arrive: one await per network
    read rather than per line (reasoning streams are tens of thousands of events a second)."""
    pending = b""
    async for chunk in response.content.iter_any():
        lines = (pending + chunk).split(b"\n")
        pending = lines.pop()
        for line in lines:
            if line.startswith(b"data:"):
                yield line[5:].strip()
    if pending.startswith(b"data:"):
        yield pending[5:].strip()


def _raise_in_band(data: Any) -> None:
    """An error sent inside a 200 (a stream's error chunk, as vLLM, SGLang and OpenRouter send once
    the status is already out: openrouter.ai/docs/api-reference/streaming#stream-cancellation)."""
    error = data.get("error") if isinstance(data, dict) else None
    if error:
        message = error.get("message") if isinstance(error, dict) else str(error)
        raise Retryable(f"the server reported an error part-way ({str(message)[:200]})")


def _check_finish(reason: str | None) -> None:
    if reason in FAILED_IN_BAND:
        raise Retryable(f"the server ended the answer with finish_reason {reason!r} (an in-band failure, not the model's answer)")


def _first_choice(data: Any) -> dict[str, Any]:
    choices = data.get("choices") if isinstance(data, dict) else None
    if not choices:
        raise Retryable("the response had no choices")
    return choices[0]


def _reasoning_of(part: dict[str, Any]) -> str:
    return part.get("reasoning_content") or part.get("reasoning") or ""


def _field_of(part: dict[str, Any], reasoning: str) -> str | None:
    for name in ("reasoning_content", "reasoning"):
        if part.get(name):
            return name
    return "<think> tags" if reasoning else None


def split_reasoning(content: str, reasoning: str) -> tuple[str, str]:
    """Move a leading `<think>...</think>` out of the answer; an unclosed one is all reasoning
    (thinking ran out of tokens), so an answer is never graded from the model's thoughts."""
    match = _THINK.match(content)
    if match:
        return content[match.end() :], reasoning + match.group(1)
    stripped = content.lstrip()
    if stripped.startswith("<think>"):
        return "", reasoning + stripped[len("<think>") :]
    return content, reasoning


def _text(value: Any) -> str | None:
    """A response's self-description (`model`, OpenRouter's `provider`: the upstream host, in the body
    and in every chunk of a stream), kept only when it is a string."""
    return value if isinstance(value, str) and value else None


def billing(usage: Any) -> dict[str, Any]:
    """What the usage says about the bill beyond the token counts: cached prompt tokens
    (usage.prompt_tokens_details.cached_tokens, as OpenAI and Z.ai send them:
    docs.z.ai/guides/capabilities/cache), cache writes and the request's cost (OpenRouter's
    prompt_tokens_details.cache_write_tokens and usage.cost: openrouter.ai/docs/use-cases/usage-accounting)."""
    if not isinstance(usage, dict):
        return {}
    details = usage.get("prompt_tokens_details") or {}
    found: dict[str, Any] = {}
    if isinstance(details, dict):
        for name in ("cached_tokens", "cache_write_tokens"):
            value = details.get(name)
            if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                found[name] = value
    cost = usage.get("cost")
    if isinstance(cost, (int, float)) and not isinstance(cost, bool) and cost >= 0:
        found["reported_cost"] = float(cost)
    return found


def _usage(usage: Any) -> tuple[int | None, int | None, int | None]:
    if not isinstance(usage, dict):
        return None, None, None
    details = usage.get("completion_tokens_details") or {}
    return usage.get("prompt_tokens"), usage.get("completion_tokens"), details.get("reasoning_tokens")
