"""A run's folder: manifest.json (what ran, on what, with what) and samples.jsonl (one line per
model x task x item x sample). Reports, checks and regrading read only these two files."""

from __future__ import annotations

import json
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd

from harness.errors import UserError
from harness.paths import HOME, RESULTS

MANIFEST = "manifest.json"
SAMPLES = "samples.jsonl"
PACKAGES = ("glm-eval", "httpx", "aiohttp", "datasets", "pandas", "matplotlib", "pydantic", "math-verify", "rich")


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


def write_manifest(run_dir: Path, manifest: dict[str, Any]) -> None:
    path = run_dir / MANIFEST
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(manifest, indent=2, default=str) + "\n", encoding="utf-8")
    tmp.replace(path)


def read_manifest(run_dir: Path) -> dict[str, Any]:
    return json.loads((run_dir / MANIFEST).read_text(encoding="utf-8"))


def latest_run_with(task: str, root: Path = RESULTS) -> Path:
    """The newest run folder under `root` whose manifest lists `task`."""
    runs = sorted((m.parent for m in root.glob(f"*/{MANIFEST}")), key=lambda d: (d / MANIFEST).stat().st_mtime, reverse=True)
    for run in runs:
        if task in read_manifest(run).get("tasks", {}):
            return run
    raise UserError(f"no run under {root}/ has task {task}; run it first (with --samples 2 or more) or give --run RUN")


def read_samples(run_dir: Path) -> pd.DataFrame:
    """The scores frame: one row per model x task x item x sample."""
    frame = pd.read_json(run_dir / SAMPLES, lines=True, dtype={"item_id": str, "normalized": str, "extracted": str})
    return frame
