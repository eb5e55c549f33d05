"""Settings of one simulator instance."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from harness.paths import CONFIGS

from .faults import Faults

DEFAULT_PROFILES = CONFIGS / "simulator.yaml"


@dataclass(frozen=True)
class FixedLatency:
    """Benchmark mode: the answer key and the profiles' timing are ignored. Every answer has
    `tokens` tokens (reasoning first when thinking is on) and its first token comes after exactly
    `latency_ms` of real time; then the tokens come at `stream_tokens_per_s`, or all at once when
    it is None. A non-streamed answer is sent when its last token is ready: after exactly
    latency_ms when there is no rate. This makes the ideal run time computable."""

    latency_ms: float
    tokens: int
    stream_tokens_per_s: float | None = None


@dataclass(frozen=True)
class SimOptions:
    profiles_path: Path = DEFAULT_PROFILES
    api_key: str | None = "sim-key"
    """The only bearer key accepted; None accepts any non-empty key (each with its own rate limit)."""
    time_scale: float = 1.0
    """Multiplies every simulated delay: 1.0 is realistic, 0.001 for tests and the demo."""
    reasoning_format: Literal["field", "think_tags"] = "field"
    """'field': reasoning_content; 'think_tags': <think>...</think> at the head of content (vLLM
    without a reasoning parser; usage then has no reasoning-token breakdown, as there)."""
    chunk_tokens: int = 8
    """Tokens per SSE event; more when tokens come faster than one event per 50 ms (a sped-up
    simulation would otherwise spend its CPU, and the client's, on events)."""
    request_log: Path | None = None
    faults: Faults = field(default_factory=Faults)
    stream_usage: Literal["always", "when_asked"] = "always"
    """'always': usage in the closing chunk of every stream (Z.ai, BigModel); 'when_asked': only
    with stream_options.include_usage, in a last chunk with no choices (vLLM, SGLang, OpenAI)."""
    max_model_len: int | None = None
    """A context limit as vLLM's --max-model-len: published in /v1/models, and a request whose
    prompt and max_tokens exceed it is refused with vLLM's 400."""
    fixed_latency: FixedLatency | None = None
    prompt_cache: bool = True
    """Read and write the prompt cache (harness/simulator/cache.py) and report the hits as
    usage.prompt_tokens_details.cached_tokens; False reports none (a host that does not cache)."""
    provider_profile: str | None = None
    """Play one host serving the models: a name from `providers` in the profiles file (its accuracy
    shift, thinking switch, usage, speed, and a top-level "provider" naming it), checked when the
    server starts. None is the plain simulator, with the draws it always had."""

    def __post_init__(self) -> None:
        # Accept plain strings for the paths, as a caller building options from the CLI has them.
        object.__setattr__(self, "profiles_path", Path(self.profiles_path))
        if self.request_log is not None:
            object.__setattr__(self, "request_log", Path(self.request_log))
        if self.time_scale < 0:
            raise ValueError(f"time_scale must be >= 0, got {self.time_scale}")
        if self.chunk_tokens < 1:
            raise ValueError(f"chunk_tokens must be >= 1, got {self.chunk_tokens}")
        if self.reasoning_format not in ("field", "think_tags"):
            raise ValueError(f"reasoning_format must be 'field' or 'think_tags', "
                             f"got {self.reasoning_format!r}")
