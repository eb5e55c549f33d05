"""Task specs (tasks/*.yaml) and the items they yield.

A task is data: where the rows live, which fields hold the question and the answer, the prompt and
the grader. Loading goes through `datasets`, from the hub or from a mirror folder laid out
`<hub-id>/<file>` for machines without network. The rows used are fingerprinted so that two runs
over different data can never be compared as if they were the same.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlparse

from pydantic import Field, field_validator, model_validator

from harness.config import Strict, load
from harness.errors import UserError
from harness.graders import GRADERS
from harness.paths import TASKS
from harness.records import TaskRecord

LETTERS = "ABCD"
SUBSET_SALT = "glm-eval-subset"
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
BUILTIN_SAMPLE = Path(__file__).parent / "data" / "sample_math.jsonl"
SAMPLE_TASK = "math_sample"
"""The built-in sample's own task id: it is not MATH-500, so it is never named or compared as such."""


class DatasetSource(Strict):
    hub_id: str | None = None
    config: str | None = None
    split: str = "test"
    revision: str | None = None
    mirror_file: str | None = Field(default=None, description="file name inside <data-dir>/<hub_id>/")
    path: str | None = Field(default=None, description="a local JSONL/CSV/Parquet file (relative to the spec)")
    gated: bool = False

    @model_validator(mode="after")
    def _one_source(self) -> DatasetSource:
        if (self.hub_id is None) == (self.path is None):
            raise ValueError("give exactly one of 'hub_id' (a hub dataset) or 'path' (a local file)")
        return self


class FieldMap(Strict):
    id: str | None = Field(default=None, description="column holding a stable item id; row number if absent")
    question: str
    answer: str
    distractors: list[str] | None = Field(default=None, description="columns of the wrong choices (multiple choice)")
    keep: dict[str, str] = Field(default_factory=dict, description="output name: column, kept for breakdowns")


class PromptSpec(Strict):
    template: str
    source: str = Field(description="where the prompt comes from (a citation)")

    @model_validator(mode="after")
    def _has_question(self) -> PromptSpec:
        if "{question}" not in self.template:
            raise ValueError("the template must contain {question}")
        return self


AnswerReader = Literal["rules", "judge", "zai-kit"]
"""Who reads an answer: the grader's rules, a judge model (--judge), or Z.ai's kit's rules with its
checker model (harness/zaikit.py)."""


class ProtocolSpec(Strict):
    """Another way to pose the same items (GPQA's `zai-judge`, every task's `zai-kit`): its own prompt
    (the task's own when absent), and who reads the answer."""

    prompt: PromptSpec | None = None
    answer_reader: AnswerReader = "rules"


class TaskSpec(Strict):
    id: str
    description: str = ""
    dataset: DatasetSource
    fields: FieldMap
    prompt: PromptSpec
    grader: str
    samples: int = Field(default=1, ge=1)
    shuffle_choices: bool = True
    typical_output_tokens: int = Field(default=2000, ge=1, description="a planning figure for --dry-run cost estimates")
    protocol: str = Field(default="default", description="the name of the protocol the prompt above belongs to")
    answer_reader: AnswerReader = Field(default="rules", description="'judge': a judge model reads the answer (--judge)")
    protocols: dict[str, ProtocolSpec] = Field(default_factory=dict, description="other protocols, chosen as TASK:PROTOCOL")

    @field_validator("grader")
    @classmethod
    def _known_grader(cls, value: str) -> str:
        if value not in GRADERS:
            raise ValueError(f"unknown grader {value!r}; allowed: {', '.join(GRADERS)}")
        return value

    @model_validator(mode="after")
    def _choices_need_letters(self) -> TaskSpec:
        if self.fields.distractors is not None and len(self.fields.distractors) != len(LETTERS) - 1:
            raise ValueError(f"fields.distractors must name {len(LETTERS) - 1} columns (choices are A-D)")
        return self


@dataclass(frozen=True)
class Item:
    id: str
    question: str
    answer: str
    distractors: tuple[str, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Prompt:
    """What one (item, sample) asks and what counts as right."""

    messages: list[dict[str, str]]
    gold: str
    choice_order: tuple[int, ...] | None = None  # original choice index shown as A, B, C, D (0 = correct)


@dataclass
class Task:
    spec: TaskSpec
    items: list[Item]
    provenance: TaskRecord

    @property
    def id(self) -> str:
        return self.spec.id

    def prompt(self, item: Item, sample: int, seed: int, index: int) -> Prompt:
        values: dict[str, str] = {name: str(value) for name, value in item.extra.items()}
        values["question"] = item.question
        gold = item.answer
        order: tuple[int, ...] | None = None
        if item.distractors:
            order = choice_order(self.id, item.id, index, sample, seed, self.spec.shuffle_choices)
            texts = (item.answer, *item.distractors)
            for letter, original in zip(LETTERS, order):
                values[letter] = texts[original]
            gold = LETTERS[order.index(0)]
        text = render(self.spec.prompt.template, values)
        return Prompt(messages=[{"role": "user", "content": text}], gold=gold, choice_order=order)


def render(template: str, values: dict[str, str]) -> str:
    """Fill `{name}` placeholders; other braces (LaTeX's `\\boxed{}`) stay as written."""
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), template)


def choice_order(task: str, item_id: str, index: int, sample: int, seed: int, shuffle: bool) -> tuple[int, ...]:
    """The permutation of choices shown for one (item, sample).

    The correct choice's letter cycles with the item's position and the sample, so it is spread
    evenly over A-D across a set; the wrong choices are shuffled by a hash of (seed, task, item,
    sample), so any sample can be reproduced from what the manifest records.
    """
    if not shuffle:
        return tuple(range(len(LETTERS)))
    rng = random.Random(_digest(f"{seed}:{task}:{item_id}:{sample}"))
    wrong = [1, 2, 3]
    rng.shuffle(wrong)
    slot = (index + sample + seed) % len(LETTERS)
    wrong.insert(slot, 0)
    return tuple(wrong)


def _digest(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def task_spec_path(name: str) -> Path:
    path = Path(name)
    if path.suffix in (".yaml", ".yml"):
        return path
    builtin = TASKS / f"{name}.yaml"
    if not builtin.exists():
        raise UserError(f"unknown task '{name}'; known: {', '.join(builtin_tasks())} (or give a path to a task .yaml)")
    return builtin


def builtin_tasks() -> list[str]:
    return sorted(p.stem for p in TASKS.glob("*.yaml"))


def load_spec(name: str) -> tuple[TaskSpec, Path]:
    """A task spec by id or path; `TASK:PROTOCOL` picks one of its other protocols, and the
    task's id in the results then names it (`gpqa_diamond:zai-judge`), so that scores from
    different protocols are never pooled."""
    base, _, protocol = name.partition(":")
    path = task_spec_path(base)
    spec = load(path, TaskSpec)
    if not protocol or protocol == spec.protocol:
        return spec, path
    chosen = spec.protocols.get(protocol)
    if chosen is None:
        known = ", ".join([spec.protocol, *spec.protocols])
        fix = " (add `protocols: {zai-kit: {answer_reader: zai-kit}}` to its task file to pose it as the kit does)" if protocol == "zai-kit" else ""
        raise UserError(f"task {spec.id} has no protocol {protocol!r}; its protocols: {known}{fix}")
    update = {
        "id": f"{spec.id}:{protocol}", "prompt": chosen.prompt or spec.prompt, "answer_reader": chosen.answer_reader, "protocol": protocol, "protocols": {},
    }
    return spec.model_copy(update=update), path


def data_dir_from_env(given: Path | None) -> Path | None:
    """The mirror folder: --data-dir, else GLM_EVAL_DATA_DIR, else None (the hub). A folder the
    user named that does not exist is an error, never a silent fall back to the hub or the sample."""
    if given is not None:
        source, path = "--data-dir", given
    elif os.environ.get("GLM_EVAL_DATA_DIR"):
        source, path = "GLM_EVAL_DATA_DIR", Path(os.environ["GLM_EVAL_DATA_DIR"])
    else:
        return None
    if not path.is_dir():
        raise UserError(f"{source} {path}: no such folder; give the mirror folder laid out <hub-id>/<file> (e.g. ../shared/data)")
    return path


def load_task(
    name: str,
    data_dir: Path | None = None,
    limit: int | None = None,
    item_ids: list[str] | None = None,
    allow_builtin_sample: bool = False,
) -> Task:
    """Load a task's items (all, a seeded subset of `limit`, or the ids given)."""
    spec, spec_path = load_spec(name)
    try:
        rows, provenance = _load_rows(spec, spec_path, data_dir)
    except UserError:
        if not (allow_builtin_sample and spec.id == "math500"):
            raise
        spec = spec.model_copy(update={"id": SAMPLE_TASK, "description": "20 MATH-style problems that ship with glm-eval"})
        rows, provenance = _read_file(BUILTIN_SAMPLE), {
            "source": "built-in sample",
            "instead_of": "math500",
            "note": "20 MATH-style problems written for glm-eval (not MATH-500): neither the hub nor a mirror was reachable",
            "file": str(BUILTIN_SAMPLE.name),
        }
    items = [_item(spec, spec_path, row, n) for n, row in enumerate(rows)]
    rows_in_set = len(items)
    items = select(items, limit, item_ids, spec.id)
    record = TaskRecord(
        **provenance, rows=rows_in_set, rows_used=len(items), fingerprint=fingerprint(items),
        prompt_sha256=hashlib.sha256(spec.prompt.template.encode()).hexdigest(), prompt_source=spec.prompt.source,
        grader=spec.grader, protocol=spec.protocol, answer_reader=spec.answer_reader,
    )
    return Task(spec=spec, items=items, provenance=record)


def select(items: list[Item], limit: int | None, item_ids: list[str] | None, task: str) -> list[Item]:
    """A fixed subset: `limit` takes the same items every time (a salted hash of the id orders
    them), so CI runs compare like with like, and a larger limit contains a smaller one."""
    if item_ids:
        known = {item.id for item in items}
        missing = [i for i in item_ids if i not in known]
        if len(missing) == len(item_ids):
            raise UserError(f"task {task}: none of the --items ids exist (first: {missing[0]!r})")
        wanted = set(item_ids)
        items = [item for item in items if item.id in wanted]
    if limit is not None and limit < len(items):
        chosen = set(sorted((it.id for it in items), key=lambda i: hashlib.sha256(f"{SUBSET_SALT}:{i}".encode()).digest())[:limit])
        items = [item for item in items if item.id in chosen]
    return items


def fingerprint(items: list[Item]) -> str:
    h = hashlib.sha256()
    for item in items:
        h.update(json.dumps([item.id, item.question, item.answer, list(item.distractors)], ensure_ascii=False).encode())
    return h.hexdigest()


def _item(spec: TaskSpec, spec_path: Path, row: dict[str, Any], n: int) -> Item:
    fields = spec.fields
    wanted = [fields.question, fields.answer, *(fields.distractors or []), *fields.keep.values()]
    if fields.id:
        wanted.append(fields.id)
    missing = [name for name in wanted if name not in row]
    if missing:
        raise UserError(
            f"{spec_path}: the dataset has no column {missing[0]!r} (mapped in 'fields'); "
            f"its columns are: {', '.join(map(str, row))}"
        )
    return Item(
        id=str(row[fields.id]) if fields.id else str(n),
        question=str(row[fields.question]).strip(),
        answer=str(row[fields.answer]).strip(),
        distractors=tuple(str(row[c]).strip() for c in fields.distractors or []),
        extra={name: row[column] for name, column in fields.keep.items()},
    )


def _load_rows(spec: TaskSpec, spec_path: Path, data_dir: Path | None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    src = spec.dataset
    if src.path is not None:
        path = (spec_path.parent / src.path).resolve()
        if not path.exists():
            raise UserError(f"{spec_path}: dataset.path {src.path!r} does not exist ({path}); fix the path")
        return _read_file(path), {"source": "file", "file": str(path)}
    assert src.hub_id is not None
    provenance: dict[str, Any] = {"hub_id": src.hub_id, "config": src.config, "split": src.split, "revision": src.revision}
    if data_dir is not None:
        mirror = data_dir / src.hub_id / (src.mirror_file or f"{src.split}.jsonl")
        if not mirror.exists():
            raise UserError(
                f"task {spec.id}: {mirror} not found in the data mirror {data_dir} "
                f"(laid out <hub-id>/<file>); fix --data-dir / GLM_EVAL_DATA_DIR or unset it to use the hub"
            )
        provenance.update(source="mirror", file=str(mirror))
        return _read_file(mirror), provenance
    if src.gated and not os.environ.get("HF_TOKEN"):
        raise UserError(
            f"task {spec.id}: {src.hub_id} is gated on the hub: accept its terms on its hub page and set HF_TOKEN, "
            f"or point --data-dir at a local copy laid out <hub-id>/<file>"
        )
    provenance["source"] = "hub"
    return _load_hub(spec), provenance


def _hub_reachable(timeout_s: float = 5.0) -> bool:
    """A quick look before `datasets` spends half a minute retrying an unreachable hub."""
    url = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    try:
        with socket.create_connection((url.hostname or "huggingface.co", url.port or 443), timeout=timeout_s):
            return True
    except OSError:
        return False


def _load_hub(spec: TaskSpec) -> list[dict[str, Any]]:
    import datasets

    src = spec.dataset
    if os.environ.get("HF_HUB_OFFLINE") != "1" and not _hub_reachable():
        raise UserError(
            f"task {spec.id}: the hub is not reachable from here, so {src.hub_id} cannot be downloaded; "
            f"point --data-dir (or GLM_EVAL_DATA_DIR) at a mirror laid out <hub-id>/<file>"
        )
    try:
        ds = datasets.load_dataset(src.hub_id, src.config, split=src.split, revision=src.revision)
    except Exception as exc:  # datasets raises many types for "offline", "gated", "not found"
        raise UserError(
            f"task {spec.id}: cannot load {src.hub_id} from the hub ({type(exc).__name__}: {str(exc).splitlines()[0][:160]}); "
            f"without network, point --data-dir (or GLM_EVAL_DATA_DIR) at a mirror laid out <hub-id>/<file>"
        ) from None
    return list(ds)


def _read_file(path: Path) -> list[dict[str, Any]]:
    """Read a local JSONL/CSV/Parquet file through `datasets`, as a hub dataset would be read."""
    import datasets

    builder = {".jsonl": "json", ".json": "json", ".csv": "csv", ".parquet": "parquet"}.get(path.suffix)
    if builder is None:
        raise UserError(f"{path}: unsupported file type {path.suffix!r}; use .jsonl, .json, .csv or .parquet")
    datasets.disable_progress_bars()
    datasets.logging.set_verbosity_error()
    try:
        ds = datasets.load_dataset(builder, data_files=str(path), split="train")
    except Exception as exc:
        raise UserError(f"{path}: cannot read as {builder} ({type(exc).__name__}: {str(exc).splitlines()[0][:160]})") from None
    return list(ds)
