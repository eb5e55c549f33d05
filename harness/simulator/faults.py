"""Injected faults and the per-key rate limit.

A fault is drawn per attempt from a hash of (request body, attempt number): a run is reproducible,
yet a retried request gets a fresh draw and can succeed, as with a real flaky provider.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, model_validator

from .draws import uniform_of

Rate = Annotated[float, Field(ge=0, le=1)]
FaultName = Literal[
    "http_429", "http_429_no_retry_after", "http_500", "http_502", "http_503",
    "drop", "slow", "malformed_json", "empty_choices", "content_filter",
    "sensitive", "finish_error", "finish_abort", "finish_network_error", "stream_error_chunk", "no_finish_reason",
    "zai_1113", "zai_1211", "zai_1301", "zai_1302", "zai_1303", "zai_1305", "cometapi_invalid_500",
]
RATE_FIELDS: tuple[FaultName, ...] = get_args(FaultName)


class Faults(BaseModel):
    """Share of attempts (0..1) that meet each fault; at most one fault per attempt, so the
    shares add up to at most 1. Delays here are real seconds, not scaled by time_scale, because
    they exist to test the client's real timeouts and back-off."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    http_429: Rate = Field(0.0, description="429 with a Retry-After header")
    http_429_no_retry_after: Rate = 0.0
    http_500: Rate = 0.0
    http_502: Rate = Field(0.0, description="an HTML page, as a gateway sends")
    http_503: Rate = 0.0
    drop: Rate = Field(0.0, description="stream cut half-way; a non-streamed "
                       "request's connection closed before any response")
    slow: Rate = Field(0.0, description="answer delayed by slow_s before its headers")
    malformed_json: Rate = Field(0.0, description="a 200 whose JSON (a stream: its first event) is cut short")
    empty_choices: Rate = Field(0.0, description="a 200 with `choices: []` (a stream: one such chunk)")
    content_filter: Rate = Field(0.0, description="output cut half-way, "
                                 "finish_reason content_filter")
    # The provider formats each fault below stands for are cited where server.py renders them.
    sensitive: Rate = Field(0.0, description="output cut half-way, finish_reason sensitive (Z.ai, BigModel)")
    finish_error: Rate = Field(0.0, description="output cut half-way, finish_reason error (OpenRouter, vLLM)")
    finish_abort: Rate = Field(0.0, description="output cut half-way, finish_reason abort (vLLM, SGLang)")
    finish_network_error: Rate = Field(0.0, description="output cut half-way, finish_reason network_error (Z.ai)")
    stream_error_chunk: Rate = Field(0.0, description="a stream that sends an {\"error\": ...} chunk half-way, "
                                     "then [DONE] (a non-streamed request: HTTP 500)")
    no_finish_reason: Rate = Field(0.0, description="a stream that ends with [DONE] and never a finish_reason")
    zai_1113: Rate = Field(0.0, description="HTTP 429, code 1113: insufficient balance")
    zai_1211: Rate = Field(0.0, description="HTTP 400, code 1211: the model does not exist")
    zai_1301: Rate = Field(0.0, description="HTTP 400, code 1301: unsafe or sensitive content")
    zai_1302: Rate = Field(0.0, description="HTTP 429, code 1302: rate limit")
    zai_1303: Rate = Field(0.0, description="HTTP 429, code 1303: concurrency limit")
    zai_1305: Rate = Field(0.0, description="HTTP 429, code 1305: the model is overloaded")
    cometapi_invalid_500: Rate = Field(0.0, description="HTTP 500 whose body says the request is invalid (CometAPI)")
    retry_after_s: int = Field(1, ge=0, description="Retry-After of the http_429 fault")
    slow_s: float = Field(30.0, ge=0)
    rpm_limit: int | None = Field(None, gt=0, description="requests per minute per API key")
    rpm_burst: int | None = Field(None, gt=0, description="bucket size; default one second's worth")
    # Batches (harness/simulator/batches.py): what makes a batch API slow, partly failing or late.
    batch_failed: Rate = Field(0.0, description="share of a batch's requests that fail (HTTP 500 in the error file)")
    batch_start_s: float = Field(0.2, ge=0, description="seconds a batch spends validating before it runs")
    batch_concurrency: int = Field(16, gt=0, description="requests of one batch answered at a time")
    batch_expire_after: int | None = Field(None, gt=0, description="the completion window closes once this many of a "
                                           "batch's requests are answered: the rest expire (code batch_expired). Counted, "
                                           "not timed, so what expires does not depend on the machine's speed")

    @model_validator(mode="after")
    def _at_most_one(self) -> Faults:
        total = sum(getattr(self, name) for name in RATE_FIELDS)
        if total > 1.0 + 1e-9:
            raise ValueError(f"fault rates add up to {total:g}; at most one fault is drawn per "
                             "attempt, so they must add up to at most 1")
        return self

    def draw(self, body_sha256: str, attempt: int) -> FaultName | None:
        point = uniform_of(f"fault\0{body_sha256}\0{attempt}".encode())
        for name in RATE_FIELDS:
            point -= getattr(self, name)
            if point < 0:
                return name
        return None


class RateLimiter:
    """Token bucket per API key, in real time. Providers quantise their per-minute limits (a
    limit of 600/min is enforced as 10/s), so the default bucket holds one second's worth."""

    def __init__(self) -> None:
        self._buckets: dict[str, tuple[float, float]] = {}

    def take(self, key: str, rpm: int, burst: int | None, now: float) -> float:
        """0 when the request may pass (a token is spent), else seconds until a token is free."""
        rate = rpm / 60.0
        capacity = float(burst if burst is not None else max(1, math.ceil(rate)))
        tokens, last = self._buckets.get(key, (capacity, now))
        tokens = min(capacity, tokens + (now - last) * rate)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            return 0.0
        self._buckets[key] = (tokens, now)
        return (1.0 - tokens) / rate
