"""Reading a server's /models before a run: whether the address is the API, which ids it serves,
and the context limit it publishes.

A local vLLM or SGLang is started by whoever runs it, with its own model names and context length
(`--max-model-len`); a request that does not fit is refused with a 400, so a run with the published
protocol's 81,920 new tokens would fail every request against a server started with 4,096. Reading
the server's own description first turns that into one clear message, or a cap, before anything
is sent. Hosted providers (Z.ai, BigModel) publish no context limit there and are not asked.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from harness.errors import UserError
from harness.simmark import SIMULATOR_HEADER

TIMEOUT_S = 15.0
TEMPLATE_MARGIN = 64
"""Tokens a chat template adds around the messages (role markers, the generation prompt)."""


@dataclass(frozen=True)
class ServerModels:
    """What GET {base_url}/models said."""

    url: str
    ids: list[str]
    max_model_len: dict[str, int] = field(default_factory=dict)  # id -> limit, where published
    simulated: bool = False  # the server says it is glm-eval's simulator

    def summary(self) -> dict[str, Any]:
        return {"url": self.url, "ids": self.ids, "max_model_len": self.max_model_len, "simulated": self.simulated}


def _models_request(base_url: str, api_key: str | None) -> urllib.request.Request:
    return urllib.request.Request(base_url.rstrip("/") + "/models", headers={"Authorization": f"Bearer {api_key}"} if api_key else {})


def read_models(base_url: str, api_key: str | None, key_env: str) -> ServerModels:
    """GET /models, refusing an address that is not an OpenAI-compatible API with what to fix."""
    request = _models_request(base_url, api_key)
    url = request.full_url
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_S) as response:
            raw, kind, simulated = response.read(), response.headers.get_content_type(), response.headers.get(SIMULATOR_HEADER)
    except urllib.error.HTTPError as exc:
        if exc.code in (401, 403):
            raise UserError(f"{url} refused the API key (HTTP {exc.code}); check the key in {key_env}") from None
        if exc.code == 404:
            raise UserError(
                f"{url} does not exist (HTTP 404): the base URL is probably missing its path; "
                f"give the address that ends before /chat/completions, such as http://127.0.0.1:8000/v1"
            ) from None
        raise UserError(f"{url} answered HTTP {exc.code}; check --base-url and that the server is healthy") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise UserError(f"cannot reach {base_url} ({reason}); check the address, the network, and that the server is running") from None
    if kind == "text/html" or raw.lstrip().startswith(b"<"):
        raise UserError(
            f"{url} answered with a web page, not the API: the base URL is probably missing its path "
            f"(such as /v1); check --base-url"
        )
    try:
        data = json.loads(raw)
        entries = data["data"]
        ids = [str(entry["id"]) for entry in entries]
    except (ValueError, KeyError, TypeError):
        raise UserError(f"{url} did not answer with a model list (OpenAI's {{\"data\": [{{\"id\": ...}}]}}); check --base-url") from None
    limits = {str(e["id"]): int(e["max_model_len"]) for e in entries if isinstance(e.get("max_model_len"), int)}
    return ServerModels(url, ids, limits, bool(simulated) or data.get("glm_eval_simulator") is True)


def check_ids(server: ServerModels, model_ids: dict[str, str]) -> None:
    """Every model the run asks for is one the server serves (vLLM serves one, under the name
    given with --served-model-name)."""
    missing = {variant: model_id for variant, model_id in model_ids.items() if model_id not in server.ids}
    if missing and server.ids:
        asked = ", ".join(sorted(set(missing.values())))
        raise UserError(f"the server at {server.url} does not serve {asked}; it serves: {', '.join(server.ids)}; pass --models with one of those")


def fit_max_tokens(server: ServerModels, model_ids: list[str], max_tokens: int, prompt_bytes: int) -> tuple[int, str | None]:
    """The max_tokens that fits every model's published context, and why it changed.

    The longest prompt's UTF-8 length bounds its tokens from above (a token is at least a byte in
    the tokenizers these servers use), so the cap never lets a request through that the server
    would refuse for its length."""
    limits = [server.max_model_len[m] for m in model_ids if m in server.max_model_len]
    if not limits:
        return max_tokens, None
    limit = min(limits)
    room = limit - prompt_bytes - TEMPLATE_MARGIN
    if max_tokens <= room:
        return max_tokens, None
    if room < 1:
        raise UserError(
            f"the server's context is {limit} tokens (max_model_len at {server.url}) and the longest prompt may take "
            f"{prompt_bytes + TEMPLATE_MARGIN}; restart the server with a larger --max-model-len"
        )
    return room, (
        f"max_tokens capped from {max_tokens} to {room} to fit the server's max_model_len {limit} with the longest prompt; "
        f"answers longer than that are truncated (pass --max-tokens to choose another value, or restart the server "
        f"with a larger --max-model-len)"
    )


def says_simulated(base_url: str, api_key: str | None) -> bool:
    """Whether the server at `base_url` says it is glm-eval's simulator (its header, or its
    /models): a run reached with --base-url is marked SIMULATED from what the server says, not
    from the name it was given. Any failure is "no": a real provider need not answer /models."""
    try:
        with urllib.request.urlopen(_models_request(base_url, api_key), timeout=TIMEOUT_S) as response:
            if response.headers.get(SIMULATOR_HEADER):
                return True
            return json.loads(response.read()).get("glm_eval_simulator") is True
    except urllib.error.HTTPError as exc:
        return bool(exc.headers.get(SIMULATOR_HEADER))
    except (OSError, ValueError, AttributeError):
        return False
