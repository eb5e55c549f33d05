"""The plan: models x tasks x items x samples, each a request with a stable key.

The key is a hash of the canonical request (where it goes, the model id, the body that is sent,
the sample index and the run's seed), so the same request always maps to the same stored answer
and a rerun or a resumed run never pays twice. Bodies are rendered on demand, not held, so that a
plan of 100,000 requests costs little memory.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from harness.config import ModelConfig
from harness.providers import Provider, Sampling
from harness.store import canonical_json
from harness.tasks import Item, Prompt, Task

# Fields that change how an answer is delivered, not what it is: they are left out of the key.
_DELIVERY_FIELDS = ("stream",)


@dataclass(frozen=True, slots=True)
class Job:
    """One request of the plan (slots: a plan holds one per request, 100,000 in a large run)."""

    key: str
    model: str
    model_id: str
    task: str
    item_index: int
    sample: int


@dataclass
class Plan:
    provider: Provider
    sampling: Sampling
    seed: int
    tasks: dict[str, Task]
    samples: dict[str, int]
    model_ids: dict[str, str]
    jobs: list[Job]
    skipped: dict[str, str] = field(default_factory=dict)  # task -> why it could not be loaded (offline demo)
    server: dict[str, Any] | None = None  # what the server's /models said, when it was read first
    notes: list[str] = field(default_factory=list)  # changes made to fit the server, said and recorded

    def longest_prompt_bytes(self) -> int:
        """UTF-8 length of the longest prompt of the plan (its messages' text)."""
        first = next(iter(self.model_ids), None)
        return max((len("".join(m["content"] for m in self.prompt(j).messages).encode()) for j in self.jobs
                    if j.sample == 0 and j.model == first), default=0)

    def item(self, job: Job) -> Item:
        return self.tasks[job.task].items[job.item_index]

    def prompt(self, job: Job) -> Prompt:
        return self.tasks[job.task].prompt(self.item(job), job.sample, self.seed, job.item_index)

    def body(self, job: Job) -> dict[str, Any]:
        return self.provider.body(job.model_id, self.prompt(job).messages, self.sampling, request_seed(self.seed, job.sample))

    def by_model(self) -> dict[str, list[Job]]:
        grouped: dict[str, list[Job]] = {model: [] for model in self.model_ids}
        for job in self.jobs:
            grouped[job.model].append(job)
        return grouped


def request_seed(run_seed: int, sample: int) -> int:
    """Distinct per (run seed, sample) without collisions between seed s+1 and sample +1."""
    return int.from_bytes(hashlib.sha256(f"{run_seed}:{sample}".encode()).digest()[:4], "big") >> 1


def request_key(provider: Provider, body: dict[str, Any], sample: int, seed: int) -> str:
    sent = {k: v for k, v in body.items() if k not in _DELIVERY_FIELDS}
    material = {"provider": provider.identity, "body": sent, "sample": sample, "seed": seed}
    return hashlib.sha256(canonical_json(material).encode()).hexdigest()


def build_plan(
    provider: Provider,
    models: list[str],
    model_configs: dict[str, ModelConfig],
    tasks: dict[str, Task],
    samples: dict[str, int],
    sampling: Sampling,
    seed: int,
) -> Plan:
    model_ids = {variant: provider.model_id(variant, model_configs) for variant in models}
    plan = Plan(provider, sampling, seed, tasks, samples, model_ids, jobs=[])
    plan.jobs = list(_jobs(plan))
    return plan


def _jobs(plan: Plan) -> Iterator[Job]:
    for task_id, task in plan.tasks.items():
        for sample in range(plan.samples[task_id]):
            for index in range(len(task.items)):
                for model, model_id in plan.model_ids.items():
                    draft = Job("", model, model_id, task_id, index, sample)
                    yield Job(request_key(plan.provider, plan.body(draft), sample, plan.seed), model, model_id, task_id, index, sample)
