"""Resolving where a run sends its requests, and shaping each request body for that provider.

The presets live in configs/providers.yaml; `--base-url` turns any OpenAI-compatible server into a
provider without editing a file. The API key is read from the environment at the last moment and
lives only in the HTTP client's headers: it is never part of a request body, a key, a log or a file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import BaseModel, Field

from harness.config import ModelConfig, ProviderConfig, load_providers
from harness.errors import UserError

GENERIC = "openai-compatible"


# The published GLM-4.5 protocol (zai-org/glm-simple-evals): the defaults of every run, its
# suite file and its --help, and what the server accepts.
TEMPERATURE, TOP_P, MAX_TOKENS = 0.6, 0.95, 81920
Temperature = Annotated[float, Field(ge=0.0, le=2.0)]
TopP = Annotated[float, Field(gt=0.0, le=1.0)]
MaxTokens = Annotated[int, Field(ge=1, le=1_000_000)]


class Sampling(BaseModel):
    """Sampling parameters; the defaults are the published GLM-4.5 protocol."""

    temperature: Temperature = TEMPERATURE
    top_p: TopP | None = Field(default=TOP_P, description="None: not sent, the server's default applies (Z.ai's kit)")
    max_tokens: MaxTokens = MAX_TOKENS
    thinking: bool = True
    stream: bool = True


class Route(BaseModel):
    """Which upstream hosts an aggregator may send a request to (openrouter.ai/docs/features/provider-routing)."""

    order: list[str] | None = None
    allow_fallbacks: bool = True
    quantizations: list[str] | None = None

    @property
    def empty(self) -> bool:
        return self.order is None and self.allow_fallbacks and self.quantizations is None

    def body(self) -> dict[str, Any]:
        """OpenRouter's `provider` request field: only what was asked, so an unrouted request is unchanged."""
        fields: dict[str, Any] = {}
        if self.order:
            fields["order"] = self.order
        if not self.allow_fallbacks:
            fields["allow_fallbacks"] = False
        if self.quantizations:
            fields["quantizations"] = self.quantizations
        return fields


@dataclass(frozen=True)
class Provider:
    name: str  # as the user named it: a preset, PRESET@HOST, or GENERIC for a bare --base-url
    config: ProviderConfig
    preset: str = ""  # the preset of configs/providers.yaml (model ids, prices); the name when empty
    host: str | None = None  # PRESET@HOST: the upstream host pinned on an aggregator, or the simulator's provider profile
    route: dict[str, Any] | None = None  # OpenRouter's `provider` request field (order, allow_fallbacks, quantizations)

    def __post_init__(self) -> None:
        if not self.preset:
            object.__setattr__(self, "preset", self.name)

    @property
    def simulated(self) -> bool:
        return self.config.simulated

    @property
    def identity(self) -> str:
        """What a request key records as "where it went": the name (a host pinned by PRESET@HOST is a
        different place), or the server's address."""
        return self.name if self.name != GENERIC else self.config.base_url.rstrip("/")

    def api_key(self) -> str | None:
        key = os.environ.get(self.config.api_key_env)
        if key:
            return key
        if self.config.api_key_optional:
            return None
        raise UserError(
            f"provider {self.name}: the environment variable {self.config.api_key_env} is not set; "
            f"export {self.config.api_key_env}=<your API key> (keys are read from the environment only)"
        )

    def model_id(self, variant: str, models: dict[str, ModelConfig]) -> str:
        """The id this provider knows `variant` by; a generic server gets the name as given."""
        if self.name == GENERIC:
            return variant
        config = models.get(variant)
        if config is None:
            raise UserError(f"unknown model '{variant}'; known: {', '.join(models)} (configs/models.yaml)")
        model_id = config.ids.get(self.preset)
        if model_id is None:
            offered = [name for name, m in models.items() if self.preset in m.ids]
            raise UserError(f"provider {self.name} does not offer {variant}; it offers: {', '.join(offered)}")
        return model_id

    def body(self, model_id: str, messages: list[dict[str, str]], sampling: Sampling, seed: int | None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": model_id,
            "messages": messages,
            "max_tokens": sampling.max_tokens,
            "temperature": sampling.temperature,
            "stream": sampling.stream,
        }
        if sampling.top_p is not None:
            body["top_p"] = sampling.top_p
        style = self.config.thinking
        if style == "zai":
            body["thinking"] = {"type": "enabled" if sampling.thinking else "disabled"}
        elif style == "vllm":
            body["chat_template_kwargs"] = {"enable_thinking": sampling.thinking}
        elif style == "openrouter":
            body["reasoning"] = {"enabled": sampling.thinking}
        if self.config.send_seed and seed is not None:
            body["seed"] = seed
        if self.route:
            # Which upstream hosts may answer (openrouter.ai/docs/features/provider-routing): part of the
            # request, and of its key, since another host is another answer.
            body["provider"] = self.route
        return body


def resolve_provider(
    name: str | None, base_url: str | None = None, api_key_env: str | None = None, route: Route | None = None
) -> Provider:
    """A preset (optionally pointed elsewhere), or a generic server when only --base-url is given.

    `PRESET@HOST` pins one upstream host on an aggregator that routes (OpenRouter: order [HOST], no
    fallbacks), or, on the simulated preset, picks one of the simulator's provider profiles
    (configs/simulator.yaml, `providers`): a host that differs the way real ones do."""
    if name is None:
        if base_url is None:
            raise UserError("say where to send requests: --provider NAME (see `glm-eval providers`) or --base-url URL")
        config = ProviderConfig(
            description="an OpenAI-compatible server given on the command line",
            base_url=base_url,
            api_key_env=api_key_env or "OPENAI_API_KEY",
            api_key_optional=api_key_env is None,
            thinking="none",
            preflight=True,
            batch_endpoint="/v1/chat/completions",  # OpenAI's name for it, used by every OpenAI-compatible batch API
        )
        return Provider(GENERIC, config)
    presets = load_providers()
    preset_name, _, host = name.partition("@")
    preset = presets.get(preset_name)
    if preset is None:
        raise UserError(f"unknown provider '{preset_name}'; known: {', '.join(presets)} (configs/providers.yaml), or use --base-url")
    if "@" in name and not host:
        raise UserError(f"--provider {name!r}: name the host after '@' (e.g. openrouter@deepinfra)")
    changes: dict[str, Any] = {}
    if base_url:
        changes["base_url"] = base_url
    if api_key_env:
        changes["api_key_env"] = api_key_env
    route = route or Route()
    if host and not preset.simulated:
        route = Route(order=[host], allow_fallbacks=False, quantizations=route.quantizations)
    if (host or not route.empty) and not preset.simulated and not preset.routing:
        what = f"'@{host}'" if host else "--route-order, --no-fallbacks and --quantizations"
        raise UserError(f"provider {preset_name} routes to no other hosts: {what} apply to an aggregator that does (openrouter)")
    return Provider(name, preset.model_copy(update=changes), preset_name, host or None, None if route.empty else route.body())
