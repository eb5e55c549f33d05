"""Configuration files (YAML) and their validation.

Every file is checked with pydantic before anything is sent, and a mistake is reported as one line
that names the file, the field and what is allowed there: a typo in a suite must cost nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal, TypeVar

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from harness.errors import UserError
from harness.paths import CONFIGS

M = TypeVar("M", bound=BaseModel)


class Strict(BaseModel):
    """Unknown fields are errors: a misspelt option must not be silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


ThinkingStyle = Literal["zai", "vllm", "openrouter", "none"]


class ProviderConfig(Strict):
    description: str = ""
    base_url: str
    api_key_env: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    api_key_optional: bool = False
    thinking: ThinkingStyle = "none"
    concurrency: int = Field(default=16, ge=1, le=4096)
    rpm: int = Field(default=0, ge=0, description="requests per minute; 0 means no client-side limit")
    send_seed: bool = False
    stream_usage: bool = Field(default=True, description='send stream_options {"include_usage": true} on streamed requests')
    preflight: bool = Field(default=False, description="read the server's /models before a run: the ids it serves, their context limit")
    routing: bool = Field(default=False, description="an aggregator that routes to upstream hosts and takes OpenRouter's `provider` field")
    simulated: bool = False
    batch_endpoint: str | None = Field(
        default=None, description="the `endpoint` a batch names on this provider's OpenAI-style batch API (Files + Batches); none: no batch API"
    )


class ProvidersFile(Strict):
    providers: dict[str, ProviderConfig]


class ModelConfig(Strict):
    description: str = ""
    colour: str | None = Field(default=None, pattern=r"^#[0-9A-Fa-f]{6}$", description="the variant's colour in every chart")
    ids: dict[str, str]


class ModelsFile(Strict):
    models: dict[str, ModelConfig]


def read_yaml(path: Path) -> Any:
    """Parse a YAML file, turning every failure into a `UserError` that names the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except OSError as exc:
        raise UserError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise UserError(f"{path}:{where}: malformed YAML ({problem}); fix the syntax there") from None


def validate(data: Any, model: type[M], source: str) -> M:
    """Validate `data` against `model`; errors name the source, the field path and what is allowed."""
    try:
        return model.model_validate(data if data is not None else {})
    except ValidationError as exc:
        raise UserError(describe_validation_error(exc, model, source)) from None


def load(path: Path, model: type[M]) -> M:
    return validate(read_yaml(path), model, str(path))


def describe_validation_error(exc: ValidationError, model: type[BaseModel], source: str) -> str:
    """One line: `<source>: <field.path>: <what is wrong>`, naming what is allowed where it can."""
    # A typo shows up as an unknown field plus a missing one: the unknown one says more.
    first = sorted(exc.errors(), key=lambda e: e["type"] != "extra_forbidden")[0]
    loc = first["loc"]
    field = ".".join(str(part) for part in loc) or "(top level)"
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    if first["type"] == "extra_forbidden":
        allowed = ", ".join(_fields_at(model, loc[:-1]))
        return f"{source}: {field}: unknown field {str(loc[-1])!r}; allowed: {allowed}{more}"
    if first["type"] == "missing":
        return f"{source}: {field}: missing (required){more}"
    return f"{source}: {field}: {first['msg']} (got {first.get('input')!r}){more}"


def _fields_at(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str]:
    """The field names allowed at `loc`, walking nested models and dict values."""
    current: Any = model
    for part in loc:
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            if field is None:
                return []
            current = field.annotation
        else:
            args = getattr(current, "__args__", ())
            current = args[-1] if args else None
    while not (isinstance(current, type) and issubclass(current, BaseModel)):
        args = getattr(current, "__args__", ())
        models = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
        if not args:
            return []
        current = models[0] if models else args[-1]
    return list(current.model_fields)


def load_providers(configs: Path = CONFIGS) -> dict[str, ProviderConfig]:
    return load(configs / "providers.yaml", ProvidersFile).providers


def load_models(configs: Path = CONFIGS) -> dict[str, ModelConfig]:
    return load(configs / "models.yaml", ModelsFile).models
