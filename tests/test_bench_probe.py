"""bench/harness_probe.py records every phase of a run: the benchmarks' figures come from it, and
a phase it no longer sees would vanish from their tables without an error."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_the_probe_records_each_phase_of_a_simulated_run(tmp_path: Path, mirror: Path) -> None:
    record = tmp_path / "phases.json"
    env = {**os.environ, "GLM_BENCH_PHASES": str(record), "GLM_BENCH_LAG": "1"}
    cmd = [sys.executable, str(REPO / "bench" / "harness_probe.py"), "run", "--provider", "simulated", "--models", "glm-4.5",
           "--tasks", "math500", "--data-dir", str(mirror), "--limit", "3", "--samples", "1", "--out", str(tmp_path / "run"),
           "--store", str(tmp_path / "store.sqlite"), "--no-report"]
    done = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    phases = json.loads(record.read_text())
    assert {"import", "send", "grade", "write_samples", "finish", "total", "lag"} <= set(phases)
    assert phases["lag"]["samples"] > 0
