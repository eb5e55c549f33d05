"""What one run is: from command-line flags or a suite file (configs/suites/*.yaml).

Both forms validate into the same `RunSpec`, so a suite file is just the command line written down;
flags given next to a suite file override its fields.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, Self

from pydantic import Field, field_validator, model_validator

from harness.config import Strict, load
from harness.errors import UserError
from harness.providers import MAX_TOKENS, TEMPERATURE, TOP_P, MaxTokens, Route, Sampling, Temperature, TopP


class RunSpec(Strict):
    provider: str | None = None
    base_url: str | None = None
    api_key_env: str | None = None
    models: list[str] = Field(min_length=1)
    tasks: list[str] = Field(min_length=1)
    samples: int | dict[str, int] | None = Field(default=None, description="per item; a task's own default when absent")
    limit: int | None = Field(default=None, ge=1)
    items: list[str] | None = None
    seed: int = Field(default=0, ge=0)
    concurrency: int | None = Field(default=None, ge=1, le=4096)
    rpm: int | None = Field(default=None, ge=0)
    temperature: Temperature = TEMPERATURE
    top_p: TopP = TOP_P
    max_tokens: MaxTokens = MAX_TOKENS
    thinking: bool = True
    stream: bool = True
    route_order: list[str] | None = Field(default=None, description="an aggregator's upstream hosts to try, in order (OpenRouter)")
    allow_fallbacks: bool = Field(default=True, description="False: only the hosts of route_order answer (OpenRouter)")
    quantizations: list[str] | None = Field(default=None, description="only hosts serving these quantizations (OpenRouter), e.g. fp8,bf16")
    timeout_s: float = Field(default=900.0, gt=0)
    max_attempts: int = Field(default=6, ge=1, le=50)
    backoff_s: float = Field(default=1.0, gt=0, le=600, description="first wait before a retry; it doubles each try, with jitter")
    data_dir: Path | None = None
    out: Path | None = None
    store: Path | None = None
    max_cost: float | None = Field(default=None, gt=0, description="stop sending once the spend (worst case in flight) would pass this")
    price_as: str | None = Field(default=None, description="a preset of configs/prices.yaml to price the run with")
    cache_only: bool = Field(default=False, description="replay: use only stored responses, send nothing")
    resend_filtered: bool = Field(default=False, description="send again the items a content filter refused")
    probe: bool = Field(default=False, description="probe the provider first (glm-eval probe) and record it in the manifest")
    judge: str | None = Field(default=None, description="PROVIDER:MODEL (or MODEL on the run's provider) that reads answers")
    judge_fallback: bool = Field(default=False, description="ask the judge when the math rules say 'different'")
    protocol: Literal["strict", "zai-kit"] = Field(
        default="strict",
        description="'zai-kit': send and grade as Z.ai's glm-simple-evals does (harness/zaikit.py); 'strict': glm-eval's own rules",
    )
    sim_time_scale: float = Field(default=0.01, gt=0, description="simulated provider only: 1.0 is real time")
    batch: bool = Field(default=False, description="send through the provider's batch API (Files + Batches), at its batch price")
    batch_poll_s: float | None = Field(default=None, gt=0, description="seconds between looks at a submitted batch (default 30; simulated 0.5)")

    @field_validator("models", "tasks", "items", "route_order", "quantizations", mode="before")
    @classmethod
    def _split_commas(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("samples")
    @classmethod
    def _positive_samples(cls, value: int | dict[str, int] | None) -> int | dict[str, int] | None:
        counts = value.values() if isinstance(value, dict) else [value] if value is not None else []
        if any(c < 1 for c in counts):
            raise ValueError("samples must be at least 1")
        return value

    @model_validator(mode="after")
    def _somewhere_to_send(self) -> Self:
        if self.provider is None and self.base_url is None:
            raise ValueError("give a provider (--provider NAME) or a server address (--base-url URL)")
        return self

    @model_validator(mode="after")
    def _kit_sends_no_top_p(self) -> Self:
        if self.protocol == "zai-kit" and "top_p" in self.model_fields_set:
            raise ValueError("--protocol zai-kit sends no top_p, as Z.ai's kit does on its streaming path; drop --top-p (or use --protocol strict)")
        return self

    @property
    def sampling(self) -> Sampling:
        return Sampling(
            temperature=self.temperature,
            top_p=None if self.protocol == "zai-kit" else self.top_p,
            max_tokens=self.max_tokens,
            thinking=self.thinking,
            stream=self.stream,
        )

    @property
    def route(self) -> Route:
        return Route(order=self.route_order, allow_fallbacks=self.allow_fallbacks, quantizations=self.quantizations)

    @property
    def task_names(self) -> list[str]:
        """The tasks as loaded: under the kit's protocol, each task's `zai-kit` protocol (TASK:zai-kit),
        so its scores are never pooled with a strict run's."""
        if self.protocol == "strict":
            return self.tasks
        names = []
        for name in self.tasks:
            base, _, chosen = name.partition(":")
            if chosen and chosen != "zai-kit":
                raise UserError(f"--protocol zai-kit poses every task as the kit does: name {base}, not {name}")
            names.append(f"{base}:zai-kit")
        return names

    def samples_for(self, task: str, default: int) -> int:
        if isinstance(self.samples, dict):
            return self.samples.get(task, self.samples.get(task.partition(":")[0], default))
        return self.samples or default


def load_suite(path: Path) -> dict[str, Any]:
    """A suite file's fields, validated on their own so that errors name the file."""
    raw = load(path, _SuiteFile)
    return raw.model_dump(exclude_unset=True)


class _SuiteFile(RunSpec):
    """A suite may leave out what the command line will add."""

    models: list[str] = Field(default_factory=list)
    tasks: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _somewhere_to_send(self) -> Self:
        return self
