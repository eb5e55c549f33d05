"""The records a run writes and every later stage reads: the manifest, a sample row and the check
result in it. One module holds their shape so that a field is named once, not in a `.get()` chain
in each reader.

A run folder is versioned by its manifest's `schema_version` (samples.jsonl is of the same
version). A manifest older runs wrote has none (version 0) and reads as the current version: each field added since has a default, and a field a record does not
name is kept as written, so reading and writing a run folder again changes nothing in it. A file
from a newer glm-eval is refused with what to do, rather than half read.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field, model_validator

from harness.errors import UserError

SCHEMA_VERSION = 1  # 0: the files written before records were versioned (same fields, no version)
MANIFEST = "manifest.json"
SAMPLES = "samples.jsonl"


class Record(BaseModel):
    """Fields a record does not name are kept (a newer minor field, a task's own provenance)."""

    model_config = ConfigDict(extra="allow")


class TaskRecord(Record):
    """Where a task's items came from and how they were asked and graded (tasks.load_task)."""

    source: str | None = None
    rows: int | None = None
    rows_used: int | None = None
    fingerprint: str | None = None
    prompt_sha256: str | None = None
    prompt_source: str | None = None
    grader: str | None = None
    protocol: str | None = None
    answer_reader: str = "rules"
    note: str | None = None  # something a user must know about the data (e.g. the built-in sample)
    instead_of: str | None = None  # the task the built-in sample stands in for


class ProviderRecord(Record):
    name: str | None = None
    preset: str | None = None
    host: str | None = None
    route: dict[str, Any] | None = None
    base_url: str | None = None
    api_key_env: str | None = None
    thinking: str | None = None


class PricingRecord(Record):
    preset: str | None = None  # the preset of configs/prices.yaml that priced the run (cost.preset_of)


class Manifest(Record):
    """manifest.json: what ran, on what, with what, and how it ended."""

    schema_version: int = 0
    run_id: str | None = None
    simulated: bool = False
    simulated_because: str | None = None
    command: list[str] = Field(default_factory=list)
    spec: dict[str, Any] = Field(default_factory=dict)  # the RunSpec as given (its fields change between versions)
    provider: ProviderRecord = Field(default_factory=ProviderRecord)
    models: dict[str, str] = Field(default_factory=dict)  # variant -> the provider's model id
    samples_per_item: dict[str, int] = Field(default_factory=dict)
    sampling: dict[str, Any] = Field(default_factory=dict)
    seed: int | None = None
    tasks: dict[str, TaskRecord] = Field(default_factory=dict)
    versions: dict[str, str] = Field(default_factory=dict)
    git_commit: str | None = None
    store: str | None = None
    started: str | None = None
    ended: str | None = None
    wall_s: float | None = None
    totals: dict[str, Any] = Field(default_factory=dict)
    attempts: dict[str, dict[str, int]] = Field(default_factory=dict)  # per model: sent, and failures by kind
    server: dict[str, Any] | None = None
    notes: list[str] = Field(default_factory=list)
    stopped_models: dict[str, str] = Field(default_factory=dict)
    stopped_by: str | None = None
    skipped_tasks: dict[str, str] = Field(default_factory=dict)
    host: dict[str, Any] = Field(default_factory=dict)
    pricing: PricingRecord | None = None
    probe: dict[str, Any] | None = None
    budget: dict[str, Any] | None = None
    judge: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _known_version(self) -> Manifest:
        if self.schema_version > SCHEMA_VERSION:
            raise ValueError(f"schema_version {self.schema_version} is newer than this glm-eval reads ({SCHEMA_VERSION}): upgrade glm-eval")
        return self

    @property
    def price_as(self) -> str | None:
        """The preset the run was told to be priced with (`glm-eval run --price-as`), if any."""
        return self.spec.get("price_as")


class CheckResult(BaseModel):
    """What grading decided about one sample: the fields of its row a grader (or judge) fills."""

    model_config = ConfigDict(frozen=True)

    correct: bool = False
    extracted: str | None = None
    normalized: str | None = None
    reason: str | None = None


class SampleRow(Record):
    """One line of samples.jsonl: one model x task x item x sample. Fields the item carries of its
    own (subject, level, domain) are extra fields of the row."""

    model: str
    model_id: str | None = None
    provider: str | None = None
    task: str
    item_id: str
    sample: int
    key: str | None = None
    status: str
    correct: bool = False
    extracted: str | None = None
    normalized: str | None = None
    reason: str | None = None
    gold: str | None = None
    finish_reason: str | None = None
    response: str | None = None
    reasoning_chars: int = 0
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    reasoning_tokens: int | None = None
    latency_s: float | None = None
    ttft_s: float | None = None
    attempts: int = 0
    served_model: str | None = None
    served_by: str | None = None
    cached_tokens: int | None = None
    cache_write_tokens: int | None = None
    reported_cost: float | None = None
    via: str | None = None  # "interactive" or "batch"; None when nothing was answered
    error: str | None = None
    choice_order: list[int] | None = None
    judge: dict[str, Any] | None = None  # what the judge was asked and said, when one read this sample
    zai_kit: dict[str, Any] | None = None  # the kit's grading steps (zai-kit tasks only)
    checker_reply: str | None = None

    @property
    def check(self) -> CheckResult:
        return CheckResult(correct=self.correct, extracted=self.extracted, normalized=self.normalized, reason=self.reason)

    def with_check(self, check: CheckResult) -> SampleRow:
        return self.model_copy(update=check.model_dump())


def write_manifest(run_dir: Path, manifest: Manifest) -> None:
    """manifest.json, replaced whole (a reader never sees half of one), at this SCHEMA_VERSION."""
    path = run_dir / MANIFEST
    tmp = path.with_suffix(".tmp")
    data: dict[str, Any] = {"schema_version": SCHEMA_VERSION}
    data.update(manifest.model_dump(mode="json", exclude_unset=True))
    data["schema_version"] = SCHEMA_VERSION
    tmp.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
    tmp.replace(path)


def read_manifest(run_dir: Path) -> Manifest:
    """A run's manifest, of this version or an older one; a ValueError names what is wrong."""
    return Manifest.model_validate_json((run_dir / MANIFEST).read_text(encoding="utf-8"))


def write_samples(run_dir: Path, rows: Iterable[SampleRow]) -> None:
    """samples.jsonl, written whole or not at all: a row at a time (bounded memory), then renamed."""
    tmp = run_dir / (SAMPLES + ".tmp")
    with tmp.open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row.model_dump(exclude_unset=True), ensure_ascii=False) + "\n")
    tmp.replace(run_dir / SAMPLES)


def read_sample_rows(run_dir: Path) -> Iterator[SampleRow]:
    """samples.jsonl as records, for the stages that rewrite it (regrade); reports read the
    scores frame (results.read_samples), which holds a run of any size in columns."""
    path = run_dir / SAMPLES
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if line.strip():
                try:
                    yield SampleRow.model_validate_json(line)
                except ValueError as error:
                    raise UserError(f"{path} line {number}: not a sample row ({error})") from None


SECOND_OPINION = "second_opinion.csv"
# One row per graded sample that `regrade --second-opinion` read: glm-eval's verdict beside the second method's.
SECOND_OPINION_COLUMNS = [
    "method", "model", "task", "item_id", "sample", "status",
    "glm_eval_correct", "glm_eval_extracted", "glm_eval_reason",
    "second_correct", "second_extracted", "second_reason", "agree",
]


def write_second_opinion(run_dir: Path, samples: pd.DataFrame) -> Path:
    """second_opinion.csv, replaced whole: it holds the latest second opinion of the run."""
    path = run_dir / SECOND_OPINION
    tmp = path.with_suffix(".tmp")
    samples[SECOND_OPINION_COLUMNS].to_csv(tmp, index=False)
    tmp.replace(path)
    return path


def read_second_opinion(run_dir: Path) -> pd.DataFrame | None:
    """A run's second opinion, or None when `regrade --second-opinion` was never run on it."""
    path = Path(run_dir) / SECOND_OPINION
    if not path.is_file():
        return None
    return pd.read_csv(path, dtype={"item_id": str, "glm_eval_extracted": str, "second_extracted": str})
