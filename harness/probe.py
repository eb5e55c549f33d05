"""`glm-eval probe`: a few cheap requests per variant that say what a provider really does.

Providers differ in what they honour and what they send back: whether thinking can be switched
off, which field carries the reasoning, whether usage comes in a stream, whether reasoning tokens
are counted. Each difference moves a score or a cost for reasons that are not the model's, so a
run should know them before it spends anything; a run with `--probe` records them in its manifest.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass
from typing import Any

from harness.client import ChatClient, Completion, Fatal, Filtered, Retryable
from harness.errors import UserError
from harness.preflight import read_models
from harness.providers import Provider, Sampling

QUESTION = "What is 7 + 5? Reply with only the number."
PROBE_TOKENS = 512  # room for a short thought: thinking models reason even on 7 + 5
TIMEOUT_S = 120.0


@dataclass
class Attempt:
    """One probe request: what came back, or why nothing did."""

    ok: bool
    error: str | None = None
    reasoning_chars: int = 0
    reasoning_field: str | None = None
    usage: bool = False
    reasoning_tokens: int | None = None
    completion_tokens: int | None = None
    finish_reason: str | None = None
    ttft_s: float | None = None
    latency_s: float | None = None
    served_model: str | None = None

    @classmethod
    def of(cls, c: Completion) -> Attempt:
        return cls(
            ok=True, reasoning_chars=len(c.reasoning), reasoning_field=c.reasoning_field,
            usage=c.completion_tokens is not None, reasoning_tokens=c.reasoning_tokens,
            completion_tokens=c.completion_tokens, finish_reason=c.finish_reason, ttft_s=c.ttft_s, latency_s=c.latency_s,
            served_model=c.served_model,
        )


@dataclass
class VariantProbe:
    variant: str
    model_id: str
    thinking_on: Attempt  # streamed, as a run sends
    thinking_off: Attempt  # streamed
    whole: Attempt  # not streamed, thinking on
    context: int | None
    listed: bool | None  # the id is in the server's /models (None: the server publishes no list)

    def findings(self) -> dict[str, str]:
        """The table's cells, in words a person checks against what they expected."""
        on, off, whole = self.thinking_on, self.thinking_off, self.whole
        first_error = next((a.error for a in (on, off, whole) if a.error), None)
        if first_error and not (on.ok or off.ok or whole.ok):
            return {"answers": f"no: {first_error}"}
        served = on.served_model or whole.served_model
        return {
            "answers": "yes" if on.ok and off.ok and whole.ok else f"partly: {first_error}",
            "sampling accepted": _said(True, on.ok, "yes", "NO"),
            "model served": "-" if served is None else served if served == self.model_id else f"{served} (asked {self.model_id})",
            "listed in /models": {True: "yes", False: "NO", None: "no list"}[self.listed],
            "thinking on": _said(on.ok, on.reasoning_chars > 0, "reasoning", "no reasoning"),
            "thinking off": _said(off.ok, off.reasoning_chars == 0, "no reasoning", "reasoning anyway"),
            "reasoning field": on.reasoning_field or whole.reasoning_field or "-",
            "usage, streamed": _said(on.ok, on.usage, "yes", "NO"),
            "usage, whole": _said(whole.ok, whole.usage, "yes", "NO"),
            "reasoning tokens": _said(on.ok or whole.ok, (on.reasoning_tokens or whole.reasoning_tokens) is not None, "counted", "not counted"),
            "context": f"{self.context:,}" if self.context else "not published",
            "first token s": f"{on.ttft_s:.2f}" if on.ttft_s is not None else "-",
        }


def _said(asked: bool, holds: bool, yes: str, no: str) -> str:
    return "-" if not asked else (yes if holds else no)


def probe(provider: Provider, base_url: str, api_key: str | None, model_ids: dict[str, str]) -> list[VariantProbe]:
    """Three requests per variant (streamed with thinking on and off, one whole answer), one at a
    time so that a rate limit cannot pass for a finding."""
    try:
        server = read_models(base_url, api_key, provider.config.api_key_env)
    except UserError:
        if provider.config.preflight:
            raise  # a local server must publish its list: the address is wrong, and this says how
        server = None  # hosted providers need not publish /models; the chat requests still tell

    async def main() -> list[VariantProbe]:
        async with ChatClient(base_url, api_key, 2, TIMEOUT_S, provider.config.api_key_env, provider.config.stream_usage) as client:
            found = []
            for variant, model_id in model_ids.items():
                on = await _ask(client, provider, model_id, thinking=True, stream=True)
                off = await _ask(client, provider, model_id, thinking=False, stream=True)
                whole = await _ask(client, provider, model_id, thinking=True, stream=False)
                listed = (model_id in server.ids) if server is not None and server.ids else None
                context = server.max_model_len.get(model_id) if server is not None else None
                found.append(VariantProbe(variant, model_id, on, off, whole, context, listed))
            return found

    return asyncio.run(main())


async def _ask(client: ChatClient, provider: Provider, model_id: str, thinking: bool, stream: bool) -> Attempt:
    sampling = Sampling(max_tokens=PROBE_TOKENS, thinking=thinking, stream=stream)
    body = provider.body(model_id, [{"role": "user", "content": QUESTION}], sampling, seed=0)
    try:
        return Attempt.of(await client.complete(body))
    except (Retryable, Fatal, Filtered) as exc:
        return Attempt(ok=False, error=str(exc))


def as_manifest(found: list[VariantProbe]) -> dict[str, Any]:
    return {p.variant: {**asdict(p), "findings": p.findings()} for p in found}


def print_probe(found: list[VariantProbe], where: str, console: Any) -> None:
    from rich.table import Table  # noqa: PLC0415

    rows = [p.findings() for p in found]
    columns = list(dict.fromkeys(name for row in rows for name in row))
    table = Table(title=f"What {where} does", title_justify="left")
    table.add_column("variant")
    table.add_column("model id")
    for name in columns:
        table.add_column(name, overflow="fold")
    for p, row in zip(found, rows):
        table.add_row(p.variant, p.model_id, *(row.get(name, "") for name in columns))
    console.print(table)
