"""Per-variant behaviour of the simulated endpoint, read from configs/simulator.yaml.

The profiles are what the simulator pretends a model does (accuracy, speed, length), and, for
provider profiles, how one host serving the models differs from another; they are validated
strictly so that a typo in the YAML is reported instead of silently changing a run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from harness.errors import UserError

DEFAULT_TASK = "default"


class ProfileError(UserError, ValueError):
    """A profiles file that cannot be used; the message names the file and the field."""


def _needs_default(value: dict[str, Any]) -> dict[str, Any]:
    if DEFAULT_TASK not in value:
        raise ValueError(f"needs a '{DEFAULT_TASK}' entry, used for tasks not listed")
    return value


class VariantProfile(BaseModel):
    """How one model variant behaves. Task-keyed maps fall back to their 'default' entry."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    accuracy: dict[str, float] = Field(description="share of items answered correctly, 0..1")
    ttft_s: float = Field(gt=0, description="time to first token, seconds")
    tokens_per_s: float = Field(gt=0)
    reasoning_tokens: dict[str, int] = Field(description="mean reasoning length per task")
    answer_tokens: int = Field(gt=0, description="mean length of the visible answer")
    no_answer_rate: float = Field(ge=0, le=0.5, description="share of answers with no final answer")
    no_thinking_factor: float = Field(gt=0, le=1, description="accuracy multiplier, thinking off")
    reasoning_sigma: float = Field(default=0.4, gt=0, le=2, description="spread of the thinking's length (lognormal sigma)")
    wrong_reasoning_factor: float = Field(default=1.0, ge=1, le=10, description="a wrong answer thinks this many times longer")
    reasoning_answer_rate: float = Field(
        default=0.0, ge=0, le=1, description="share of thinking that states its answer part-way, where a grader of cut-off reasoning finds it"
    )

    @field_validator("accuracy")
    @classmethod
    def _accuracy_range(cls, value: dict[str, float]) -> dict[str, float]:
        for task, acc in value.items():
            if not 0.0 <= acc <= 1.0:
                raise ValueError(f"accuracy for '{task}' is {acc}; give a fraction in 0..1")
        return _needs_default(value)

    @field_validator("reasoning_tokens")
    @classmethod
    def _reasoning_positive(cls, value: dict[str, int]) -> dict[str, int]:
        for task, n in value.items():
            if n <= 0:
                raise ValueError(f"reasoning_tokens for '{task}' is {n}; must be > 0")
        return _needs_default(value)

    def accuracy_for(self, task: str) -> float:
        return self.accuracy.get(task, self.accuracy[DEFAULT_TASK])

    def reasoning_tokens_for(self, task: str) -> int:
        return self.reasoning_tokens.get(task, self.reasoning_tokens[DEFAULT_TASK])


class HostBill(BaseModel):
    """What a simulated host charges, USD per million tokens: the cost an aggregator reports."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input_per_mtok: float = Field(ge=0)
    cached_input_per_mtok: float = Field(ge=0)
    output_per_mtok: float = Field(ge=0)

    def cost(self, prompt: int, cached: int, completion: int) -> float:
        return ((prompt - cached) * self.input_per_mtok + cached * self.cached_input_per_mtok + completion * self.output_per_mtok) / 1e6


class ProviderProfile(BaseModel):
    """How one host serving the GLM models differs from the model's own behaviour: hosts run other
    quantizations, chat templates and hardware, and an audit must be able to tell them apart.
    The defaults differ in nothing: the plain simulator is this profile with no name."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    description: str
    served_by: str | None = Field(default=None, description="the host's name, sent as a top-level 'provider'")
    accuracy_shift: float = Field(default=0.0, ge=-100, le=100, description="accuracy points, every variant and task")
    thinking: Literal["honoured", "ignored"] = "honoured"
    usage: Literal["sent", "dropped"] = "sent"
    speed: float = Field(default=1.0, gt=0, description="tokens per second x speed, time to first token / speed")
    quantization: str | None = Field(default=None, description="a label (fp8, int4, bf16); what a request's provider.quantizations selects")
    routes: list[str] = Field(default_factory=list, description="an aggregator: each request is served by one of these profiles")
    checker_leniency: float = Field(
        default=0.0, ge=0, le=1, description="as a judge: the share of unequal math answers it calls equal (a lenient checker model)"
    )
    bills: HostBill | None = Field(default=None, description="what the host charges; an aggregator that reports costs reports this")
    reports_cost: bool = Field(default=False, description="an aggregator that sends each request's cost as usage.cost (OpenRouter)")


PLAIN_PROVIDER = ProviderProfile(description="the plain simulator: no provider profile")


class Profiles(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    item_sigma: float = Field(ge=0, le=5, description="spread of item difficulty on the logit scale")
    variants: dict[str, VariantProfile] = Field(min_length=1)
    providers: dict[str, ProviderProfile] = Field(default_factory=dict)
    """Optional, so that a profiles file written for the variants alone still loads."""

    @model_validator(mode="after")
    def _routes_exist(self) -> Profiles:
        for name, profile in self.providers.items():
            for route in profile.routes:
                target = self.providers.get(route)
                if target is None or target.routes:
                    raise ValueError(f"providers.{name}.routes: '{route}' is not a host profile of this file (an aggregator routes to hosts)")
        return self

    def provider(self, name: str | None) -> ProviderProfile:
        """The named provider profile, or PLAIN_PROVIDER for None; an unknown name is refused with the
        known ones, before the server listens."""
        if name is None:
            return PLAIN_PROVIDER
        found = self.providers.get(name)
        if found is None:
            known = ", ".join(self.providers) or "none"
            raise ProfileError(f"unknown provider profile '{name}'; known: {known} (the 'providers' of the profiles file)")
        return found


def _allowed_fields(model: type[BaseModel], loc: tuple[int | str, ...]) -> list[str]:
    """Field names allowed where an unknown field was found, so the error can list them."""
    current = model
    for part in loc[:-1]:
        info = current.model_fields.get(str(part))
        if info is None:
            continue  # a mapping key (variant id), the next part is inside its value
        annotation = info.annotation
        args = getattr(annotation, "__args__", ())
        nested = [a for a in (annotation, *args) if isinstance(a, type) and issubclass(a, BaseModel)]
        if nested:
            current = nested[0]
    return sorted(current.model_fields)


def _describe(path: Path, error: ValidationError) -> str:
    lines = []
    for item in error.errors():
        loc = ".".join(str(p) for p in item["loc"]) or "(top level)"
        if item["type"] == "extra_forbidden":
            allowed = ", ".join(_allowed_fields(Profiles, item["loc"]))
            lines.append(f"{path}: {loc}: unknown field; allowed: {allowed}")
        else:
            lines.append(f"{path}: {loc}: {item['msg']}")
    return "\n".join(lines)


def load_profiles(path: Path) -> Profiles:
    """Read and validate a profiles file; any problem raises ProfileError naming file and field."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ProfileError(f"{path}: cannot read the profiles file ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        raise ProfileError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ProfileError(f"{path}: expected a mapping with 'item_sigma' and 'variants'")
    try:
        return Profiles.model_validate(raw)
    except ValidationError as exc:
        raise ProfileError(_describe(path, exc)) from exc
