"""A run's folder as the reports read it: samples.jsonl as the scores frame, and the facts a
manifest records about the machine (harness.records holds the manifest and sample rows)."""

from __future__ import annotations

import json
import platform
import subprocess
from collections.abc import Iterator, Sequence
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd
from pandas.api.types import infer_dtype

from harness.errors import UserError
from harness.paths import HOME, RESULTS
from harness.records import MANIFEST, SAMPLES, read_manifest

# Fields no report, statistic or check reads, left out of the scores frame: the answer text and
# the request key are most of a line's bytes.
UNREAD = ("response", "key")
# Fields with a few distinct values each, held as categoricals (a small code a row, not a string).
LABELS = frozenset({"model", "model_id", "provider", "task", "status", "reason", "finish_reason", "subject", "domain", "subdomain"})
# Identifiers and answers: strings even where they look like numbers.
TEXT = frozenset({"item_id", "normalized", "extracted"})
# Lines parsed before they become typed columns.
BATCH = 10_000
PACKAGES = ("glm-eval", "aiohttp", "datasets", "pandas", "matplotlib", "pydantic", "math-verify", "rich")


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = "not installed"
    return versions


def git_commit() -> str | None:
    """The harness checkout's commit (with "+dirty" when it has local changes), for the record."""
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=HOME, capture_output=True, text=True, timeout=5)
        if commit.returncode != 0:
            return None
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=HOME, capture_output=True, text=True, timeout=5)
        return commit.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return None


def latest_run_with(task: str, root: Path = RESULTS) -> Path:
    """The newest run folder under `root` whose manifest lists `task`."""
    runs = sorted((m.parent for m in root.glob(f"*/{MANIFEST}")), key=lambda d: (d / MANIFEST).stat().st_mtime, reverse=True)
    for run in runs:
        if task in read_manifest(run).tasks:
            return run
    raise UserError(f"no run under {root}/ has task {task}; run it first (with --samples 2 or more) or give --run RUN")


def read_samples(run_dir: Path) -> pd.DataFrame:
    """The scores frame: one row per model x task x item x sample, without the UNREAD columns.

    Memory follows the scores, not the answers' text: pd.read_json(lines=True) held the whole file
    and every parsed line at once (a 800 MB peak for 100,000 samples of short answers). Here lines
    are parsed one at a time and become typed columns every BATCH lines. LABELS columns are
    categoricals, TEXT columns strings; the others take the dtype pandas infers over the whole
    file (integers with a null become floats; a field null on every line is NaN, as read_json
    read it). A field a line lacks (subject on a GPQA line) is null there.
    """
    batches = list(_batches(run_dir / SAMPLES))
    if not batches:
        return pd.DataFrame()
    frame = pd.concat(batches, ignore_index=True).infer_objects()
    del batches  # before the conversions below
    for name in frame.columns:
        column = frame[name]
        if column.dtype == object and column.isna().all():  # ttft_s of a JSON run, say
            frame[name] = column.astype(float)
        elif name in LABELS and not isinstance(column.dtype, pd.CategoricalDtype):  # batches with other labels
            frame[name] = _typed(name, column)
    return frame


def _batches(path: Path) -> Iterator[pd.DataFrame]:
    """samples.jsonl as frames of BATCH lines: only one batch of parsed values is alive at a time,
    and within it a repeated string (the model, the task, an item id) is one shared object."""
    columns: dict[str, list[Any]] = {}
    shared: dict[str, str] = {}
    count = 0
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                raise ValueError(f"{path.name} line {number}: {error}") from None
            if not isinstance(row, dict):
                raise ValueError(f"{path.name} line {number}: not a JSON object")
            for name in UNREAD:
                row.pop(name, None)
            for name in columns.keys() - row.keys():
                columns[name].append(None)
            for name, value in row.items():
                if name not in columns:
                    columns[name] = [None] * count
                columns[name].append(shared.setdefault(value, value) if isinstance(value, str) else value)
            count += 1
            if count == BATCH:
                yield pd.DataFrame({name: _typed(name, values) for name, values in columns.items()})
                columns, shared, count = {name: [] for name in columns}, {}, 0
    if count:
        yield pd.DataFrame({name: _typed(name, values) for name, values in columns.items()})


def _typed(name: str, values: Sequence[Any]) -> Any:
    """A column's values in its dtype: categorical for LABELS (when every value is a string), str for TEXT."""
    if name in TEXT:
        return pd.Series(values, dtype=str)
    if name in LABELS and infer_dtype(values, skipna=True) == "string":
        return pd.Categorical(values)
    return values
