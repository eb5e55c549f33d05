"""The OpenAI chat-completions wire format: reading requests, writing bodies and SSE chunks.

Requests are checked as strictly as the real endpoints do, so a harness bug (a wrong field, a
bad value) shows up as the same 400 it would get in production.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

_ROLES = {"system", "developer", "user", "assistant", "tool"}
_EFFORTS = {"minimal", "low", "medium", "high"}


class RequestError(Exception):
    """A request the endpoint refuses; carries the HTTP status and the OpenAI-style error."""

    def __init__(self, status: int, message: str, code: str, param: str | None = None,
                 kind: str = "invalid_request_error") -> None:
        super().__init__(message)
        self.status = status
        self.body = error_body(message, kind, code, param)


def error_body(message: str, kind: str, code: str, param: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def canonical_json(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass(frozen=True)
class ChatRequest:
    model: str
    messages: list[dict[str, Any]]
    prompt: str
    """Text of the last user message: where the question is looked up."""
    prompt_tokens: int
    prompt_words: tuple[str, ...]
    """Every message's words in order, the role first: what the prompt cache matches prefixes of."""
    max_tokens: int | None
    temperature: float | None
    top_p: float | None
    seed: int | None
    stream: bool
    include_usage: bool
    thinking: bool
    show_reasoning: bool
    """False with OpenRouter's reasoning.exclude: the model thinks, the reply omits it."""
    route_order: tuple[str, ...] = ()
    allow_fallbacks: bool = True
    quantizations: tuple[str, ...] = ()
    """OpenRouter's `provider` preferences (openrouter.ai/docs/features/provider-routing): which hosts may answer."""
    cached_tokens: int | None = None
    """Set by the server once its prompt cache has been read: the prompt tokens it found there."""

    def answer_seed(self, provider_profile: str | None = None) -> bytes:
        """What fixes the sampled answer: the fields that change the distribution or the draw, and
        the provider profile the simulator plays, if any: two hosts sample the same request
        independently (their answers agree only as far as item difficulty makes them), while
        the plain simulator keeps the draws it always had."""
        fields = {
            "model": self.model, "messages": self.messages, "seed": self.seed,
            "temperature": self.temperature, "top_p": self.top_p, "max_tokens": self.max_tokens,
        }
        if provider_profile is not None:
            fields["provider_profile"] = provider_profile
        return hashlib.sha256(canonical_json(fields)).digest()


def _bad(message: str, param: str) -> RequestError:
    return RequestError(400, message, "invalid_request", param)


def _number(body: dict[str, Any], name: str, low: float, high: float) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise _bad(f"'{name}' must be a number in [{low}, {high}], got {value!r}", name)
    return float(value)


def _flag(value: Any, param: str) -> bool:
    if not isinstance(value, bool):
        raise _bad(f"'{param}' must be true or false, got {value!r}", param)
    return value


def _text_of(content: Any, param: str) -> str:
    if content is None or isinstance(content, str):
        return content or ""
    if isinstance(content, list):
        parts = []
        for part in content:
            if not isinstance(part, dict) or not isinstance(part.get("type"), str):
                raise _bad(f"'{param}' parts must be objects with a 'type'", param)
            if part["type"] == "text":
                if not isinstance(part.get("text"), str):
                    raise _bad(f"'{param}' text parts need a string 'text'", param)
                parts.append(part["text"])
        return "\n".join(parts)
    raise _bad(f"'{param}' must be a string or a list of content parts", param)


def _thinking(body: dict[str, Any]) -> tuple[bool, bool]:
    """(thinking on, reasoning shown) from any of the three dialects; on unless one turns it off."""
    switches: list[bool] = []
    show = True
    zai = body.get("thinking")
    if zai is not None:
        if not isinstance(zai, dict) or zai.get("type") not in ("enabled", "disabled"):
            raise _bad("'thinking' must be {\"type\": \"enabled\"} or {\"type\": \"disabled\"}", "thinking")
        switches.append(zai["type"] == "enabled")
    vllm = body.get("chat_template_kwargs")
    if vllm is not None:
        if not isinstance(vllm, dict):
            raise _bad("'chat_template_kwargs' must be an object", "chat_template_kwargs")
        if "enable_thinking" in vllm:
            switches.append(_flag(vllm["enable_thinking"], "chat_template_kwargs.enable_thinking"))
    router = body.get("reasoning")
    if router is not None:
        if not isinstance(router, dict):
            raise _bad("'reasoning' must be an object", "reasoning")
        if "enabled" in router:
            switches.append(_flag(router["enabled"], "reasoning.enabled"))
        if "effort" in router:
            if router["effort"] not in _EFFORTS:
                raise _bad(f"'reasoning.effort' must be one of {sorted(_EFFORTS)}", "reasoning.effort")
            switches.append(True)
        if "exclude" in router:
            show = not _flag(router["exclude"], "reasoning.exclude")
    return all(switches), show


def _max_tokens(body: dict[str, Any]) -> int | None:
    for name in ("max_tokens", "max_completion_tokens"):
        value = body.get(name)
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise _bad(f"'{name}' must be a positive integer, got {value!r}", name)
        return value
    return None


def parse_chat_request(body: Any) -> ChatRequest:
    """Check a decoded request body and extract what the simulator needs; raises RequestError."""
    if not isinstance(body, dict):
        raise _bad("the request body must be a JSON object", "body")
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise _bad("'model' is required and must be a string", "model")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _bad("'messages' must be a non-empty list", "messages")
    texts: list[tuple[str, str]] = []
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or message.get("role") not in _ROLES:
            raise _bad(f"messages[{i}] needs a 'role', one of {sorted(_ROLES)}", f"messages[{i}]")
        texts.append((message["role"], _text_of(message.get("content"), f"messages[{i}].content")))
    user_texts = [text for role, text in texts if role == "user"]
    n = body.get("n")
    if n not in (None, 1):
        raise _bad("the simulator answers one choice per request ('n' must be 1)", "n")
    seed = body.get("seed")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise _bad(f"'seed' must be an integer, got {seed!r}", "seed")
    stream = _flag(body.get("stream") or False, "stream")
    options = body.get("stream_options") or {}
    if not isinstance(options, dict):
        raise _bad("'stream_options' must be an object", "stream_options")
    thinking, show = _thinking(body)
    order, fallbacks, quantizations = _route(body.get("provider"))
    return ChatRequest(
        model=model,
        messages=messages,
        prompt=user_texts[-1] if user_texts else "",
        prompt_tokens=sum(len(text.split()) for _, text in texts),
        prompt_words=tuple(word for role, text in texts for word in (f"<{role}>", *text.split())),
        max_tokens=_max_tokens(body),
        temperature=_number(body, "temperature", 0.0, 2.0),
        top_p=_number(body, "top_p", 0.0, 1.0),
        seed=seed,
        stream=stream,
        include_usage=_flag(options.get("include_usage") or False, "stream_options.include_usage"),
        thinking=thinking,
        show_reasoning=show,
        route_order=order,
        allow_fallbacks=fallbacks,
        quantizations=quantizations,
    )


def _route(preferences: Any) -> tuple[tuple[str, ...], bool, tuple[str, ...]]:
    """OpenRouter's `provider` object: order and quantizations are lists of names, allow_fallbacks a boolean."""
    if preferences is None:
        return (), True, ()
    if not isinstance(preferences, dict):
        raise _bad("'provider' must be an object of routing preferences", "provider")
    lists = []
    for name in ("order", "quantizations"):
        value = preferences.get(name) or []
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise _bad(f"'provider.{name}' must be a list of strings", f"provider.{name}")
        lists.append(tuple(value))
    return lists[0], _flag(preferences.get("allow_fallbacks", True), "provider.allow_fallbacks"), lists[1]


def usage_body(prompt: int, reasoning: int, content: int, with_details: bool, cached: int | None = None,
               cost: float | None = None) -> dict[str, Any]:
    """Usage as OpenAI and Z.ai report it: completion_tokens includes the reasoning tokens, and
    prompt_tokens the cached ones, counted again in prompt_tokens_details.cached_tokens
    (docs.z.ai/guides/capabilities/cache: "usage.prompt_tokens_details.cached_tokens"). With
    `cost`, as OpenRouter reports it: usage.cost in credits (USD) and prompt_tokens_details with
    cached_tokens and cache_write_tokens (openrouter.ai/docs/use-cases/usage-accounting)."""
    usage: dict[str, Any] = {
        "prompt_tokens": prompt,
        "completion_tokens": reasoning + content,
        "total_tokens": prompt + reasoning + content,
    }
    if with_details:
        usage["completion_tokens_details"] = {"reasoning_tokens": reasoning}
        if cached is not None:
            usage["prompt_tokens_details"] = {"cached_tokens": cached}
    if cost is not None:
        usage["cost"] = round(cost, 10)
        usage["prompt_tokens_details"] = {"cached_tokens": cached or 0, "cache_write_tokens": 0}
    return usage


def _head(response_id: str, kind: str, created: int, model: str, served_by: str | None) -> dict[str, Any]:
    """The fields every body and chunk starts with. An aggregator names the upstream host that
    answered in a top-level "provider" string, in the JSON body and in every stream chunk, as
    OpenRouter does (github.com/langchain-ai/langchain issue 39298, and PR 39301, which reads it
    from whole responses and from stream chunks)."""
    head: dict[str, Any] = {"id": response_id, "object": kind, "created": created, "model": model}
    if served_by is not None:
        head["provider"] = served_by
    return head


def completion_body(response_id: str, created: int, model: str, content: str, reasoning: str | None,
                    finish_reason: str, usage: dict[str, Any] | None, served_by: str | None = None) -> dict[str, Any]:
    """A whole answer; with no `usage` object when `usage` is None (a host that sends none)."""
    message: dict[str, Any] = {"role": "assistant", "content": content}
    if reasoning is not None:
        message["reasoning_content"] = reasoning
    body: dict[str, Any] = {
        **_head(response_id, "chat.completion", created, model, served_by),
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
    }
    if usage is not None:
        body["usage"] = usage
    return body


class ChunkEncoder:
    """SSE events of one streamed completion. The constant head of every chunk is serialised
    once, so a delta costs one json.dumps of its text: thousands of streams stay cheap."""

    DONE = b"data: [DONE]\n\n"

    def __init__(self, response_id: str, created: int, model: str, served_by: str | None = None) -> None:
        head = _head(response_id, "chat.completion.chunk", created, model, served_by)
        self._head = "data: " + json.dumps(head)[:-1]
        self._role_sent = False

    def delta(self, field: str, text: str) -> bytes:
        role = ""
        if not self._role_sent:
            role, self._role_sent = '"role":"assistant",', True
        return (f'{self._head},"choices":[{{"index":0,"delta":{{{role}"{field}":{json.dumps(text)}}},'
                f'"finish_reason":null}}]}}\n\n').encode()

    def finish(self, finish_reason: str, usage: dict[str, Any] | None) -> bytes:
        """The closing chunk; with the usage, as Z.ai's last chunk does, or without (vLLM)."""
        tail = f',"usage":{json.dumps(usage)}' if usage is not None else ""
        return (f'{self._head},"choices":[{{"index":0,"delta":{{}},'
                f'"finish_reason":{json.dumps(finish_reason)}}}]{tail}}}\n\n').encode()

    @staticmethod
    def error(error: dict[str, Any]) -> bytes:
        """An error event sent inside a 200 stream (the stream's [DONE] follows it)."""
        return f"data: {json.dumps({'error': error})}\n\n".encode()

    def usage_only(self, usage: dict[str, Any]) -> bytes:
        """OpenAI's extra chunk for stream_options.include_usage: no choices, only usage."""
        return f'{self._head},"choices":[],"usage":{json.dumps(usage)}}}\n\n'.encode()

    def empty_choices(self) -> bytes:
        return f'{self._head},"choices":[]}}\n\n'.encode()
