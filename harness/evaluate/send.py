"""The second phase: the requests still missing from the store, sent to a provider (or a simulator
started for the run), every answer committed to the store as it arrives."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from harness import phases
from harness.batch import BatchAPI, BatchRunner
from harness.budget import Budget
from harness.client import ChatClient
from harness.errors import UserError
from harness.evaluate.events import Answered, BatchNote, Listener, SendEnded, SendStarted
from harness.pace import Pace
from harness.plan import Job, Plan
from harness.preflight import says_simulated
from harness.providers import Provider
from harness.runner import Outcome, RetryPolicy, Runner
from harness.runspec import RunSpec
from harness.simproc import DEFAULT_SIM_KEY, answer_key, simulator
from harness.store import Store, StoredResponse, StoreWriter

Address = tuple[str, str | None]  # base URL, API key


class Endpoints:
    """Each provider's address, a simulator started at most once for the run (closed with `stack`),
    and whether any server the run used says it is the simulator (a judge on it too): the preflight
    has read the run provider's /models already when there was one; the others are asked here."""

    def __init__(self, plan: Plan, spec: RunSpec, run_dir: Path, stack: contextlib.ExitStack) -> None:
        self.plan, self.spec, self.run_dir, self.stack = plan, spec, run_dir, stack
        self.opened: dict[str, Address] = {}
        self.simulated_server = bool((plan.server or {}).get("simulated"))

    def address(self, provider: Provider, api_key: str | None) -> Address:
        if provider.identity not in self.opened:
            self.opened[provider.identity] = address = self.stack.enter_context(self._open(provider, api_key))
            read_already = provider is self.plan.provider and self.plan.server is not None
            if provider.simulated or (not read_already and says_simulated(*address)):
                self.simulated_server = True
        return self.opened[provider.identity]

    @contextlib.contextmanager
    def _open(self, provider: Provider, api_key: str | None) -> Iterator[Address]:
        """The address to send to: the provider's, or a simulator started for this run."""
        if provider.simulated and (provider is not self.plan.provider or self.spec.base_url is None):
            key = api_key or DEFAULT_SIM_KEY
            with simulator(answer_key(self.plan.tasks.values()), None, self.spec.sim_time_scale, key,
                           log=self.run_dir / "simulator.log.jsonl", provider_profile=provider.host) as url:
                yield url, key
            return
        if provider.simulated and api_key is None:
            api_key = DEFAULT_SIM_KEY
        reachable(provider.config.base_url)
        yield provider.config.base_url, api_key


def reachable(base_url: str, timeout_s: float = 10.0) -> None:
    """Refuse at once, with the address, when nothing listens there (rather than spending every
    request's retries on a server that is down)."""
    url = urlparse(base_url)
    if url.scheme not in ("http", "https") or not url.hostname:
        raise UserError(f"--base-url {base_url!r} is not an http(s) URL; give e.g. http://127.0.0.1:8000/v1")
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        socket.create_connection((url.hostname, port), timeout=timeout_s).close()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise UserError(f"cannot reach {base_url} ({reason}); check the address, the network, and that the server is running") from None


def by_model(plan: Plan, jobs: list[Job]) -> dict[str, list[Job]]:
    """The work to send: each model's jobs (the runner keeps a queue per model)."""
    work: dict[str, list[Job]] = {model: [] for model in plan.model_ids}
    for job in jobs:
        work[job.model].append(job)
    return work


@dataclass(frozen=True)
class Target:
    """Where a batch of work goes: a provider at an address, with how many requests per model at once."""

    provider: Provider
    address: Address
    concurrency: int | None = None  # None: --concurrency, else the provider's


@dataclass(frozen=True)
class Sender:
    """Sends for one run: its store, its settings, and the listener its progress goes to."""

    store: Store
    spec: RunSpec
    listener: Listener

    @phases.timed("send")
    def send(
        self, target: Target, work: dict[str, list[Job]], body_for: Callable[[Job], dict[str, Any]], budget: Budget | None = None,
        on_stored: Callable[[Job, StoredResponse], None] | None = None,
    ) -> Outcome:
        """Send `work` (model -> jobs still missing from the store) to one provider."""
        spec, provider, store = self.spec, target.provider, self.store
        base_url, api_key = target.address
        concurrency = target.concurrency or spec.concurrency or provider.config.concurrency
        rpm = spec.rpm if spec.rpm is not None else provider.config.rpm
        listener = self.listener

        def answered(model: str, ok: bool, tokens: int) -> None:
            listener(Answered(model, ok, tokens))

        def noted(model: str, text: str) -> None:
            listener(BatchNote(model, text))

        async def batched(writer: StoreWriter) -> Outcome:
            assert provider.config.batch_endpoint is not None
            poll = spec.batch_poll_s or (0.5 if provider.simulated else 30.0)
            async with BatchAPI(base_url, api_key, provider.config.api_key_env, spec.timeout_s) as api:
                with _watched(work, listener):
                    runner = BatchRunner(api, store, writer, provider.identity, provider.config.batch_endpoint, answered, noted,
                                         budget, on_stored, poll_s=poll, max_attempts=spec.max_attempts)
                    return await runner.run(work, body_for)

        async def main(writer: StoreWriter) -> Outcome:
            if spec.batch:
                return await batched(writer)
            async with ChatClient(
                base_url, api_key, concurrency * len(work), spec.timeout_s, provider.config.api_key_env, provider.config.stream_usage
            ) as client:
                with _watched(work, listener):
                    runner = Runner(
                        client, writer, provider.identity, concurrency, Pace(rpm),
                        RetryPolicy(max_attempts=spec.max_attempts, base_delay_s=spec.backoff_s), answered, budget, on_stored,
                    )
                    return await runner.run(work, body_for)

        with StoreWriter(store.path) as writer:  # on any exit, answers received are committed first
            return asyncio.run(main(writer))


@contextlib.contextmanager
def _watched(work: dict[str, list[Job]], listener: Listener) -> Iterator[None]:
    """SendStarted, then SendEnded however sending ends (a live view must be closed on an error too)."""
    listener(SendStarted({model: len(jobs) for model, jobs in work.items()}))
    try:
        yield
    finally:
        listener(SendEnded())
