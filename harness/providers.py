"""Resolving where a run sends its requests, and shaping each request body for that provider.

The presets live in configs/providers.yaml; `--base-url` turns any OpenAI-compatible server into a
provider without editing a file. The API key is read from the environment at the last moment and
lives only in the HTTP client's headers: it is never part of a request body, a key, a log or a file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, Field

from harness.config import ModelConfig, ProviderConfig, load_providers
from harness.errors import UserError

GENERIC = "openai-compatible"


class Sampling(BaseModel):
    """Sampling parameters; the defaults are the published GLM-4.5 protocol (zai-org/glm-simple-evals)."""

    temperature: float = Field(default=0.6, ge=0.0, le=2.0)
    top_p: float = Field(default=0.95, gt=0.0, le=1.0)
    max_tokens: int = Field(default=81920, ge=1, le=1_000_000)
    thinking: bool = True
    stream: bool = True


@dataclass(frozen=True)
class Provider:
    name: str  # preset name, or GENERIC for a bare --base-url
    config: ProviderConfig

    @property
    def simulated(self) -> bool:
        return self.config.simulated

    @property
    def identity(self) -> str:
        """What a request key records as "where it went": the preset, or the server's address."""
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
        model_id = config.ids.get(self.name)
        if model_id is None:
            offered = [name for name, m in models.items() if self.name in m.ids]
            raise UserError(f"provider {self.name} does not offer {variant}; it offers: {', '.join(offered)}")
        return model_id

    def body(self, model_id: str, messages: list[dict[str, str]], sampling: Sampling, seed: int | None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": model_id,
            "messages": messages,
            "max_tokens": sampling.max_tokens,
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
            "stream": sampling.stream,
        }
        style = self.config.thinking
        if style == "zai":
            body["thinking"] = {"type": "enabled" if sampling.thinking else "disabled"}
        elif style == "vllm":
            body["chat_template_kwargs"] = {"enable_thinking": sampling.thinking}
        elif style == "openrouter":
            body["reasoning"] = {"enabled": sampling.thinking}
        if self.config.send_seed and seed is not None:
            body["seed"] = seed
        return body


def resolve_provider(
    name: str | None, base_url: str | None = None, api_key_env: str | None = None
) -> Provider:
    """A preset (optionally pointed elsewhere), or a generic server when only --base-url is given."""
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
        )
        return Provider(GENERIC, config)
    presets = load_providers()
    preset = presets.get(name)
    if preset is None:
        raise UserError(f"unknown provider '{name}'; known: {', '.join(presets)} (configs/providers.yaml), or use --base-url")
    changes: dict[str, Any] = {}
    if base_url:
        changes["base_url"] = base_url
    if api_key_env:
        changes["api_key_env"] = api_key_env
    return Provider(name, preset.model_copy(update=changes))
