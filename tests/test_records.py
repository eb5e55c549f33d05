"""The run records: a folder written before records were versioned still loads, and reading and
writing it again keeps every field (regrade and the gate tests rewrite folders in place)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness import records
from harness.records import SCHEMA_VERSION, CheckResult, read_manifest, read_sample_rows, write_manifest, write_samples

# manifest.json and a samples.jsonl line as glm-eval wrote them before `schema_version` (trimmed: the
# fields every reader uses, and some no record names)
UNVERSIONED_MANIFEST = {
    "run_id": "20261201-101500-zai", "simulated": False, "command": ["glm-eval", "run", "--provider", "zai"],
    "spec": {"provider": "zai", "price_as": None, "protocol": "strict"},
    "provider": {"name": "zai", "preset": "zai", "host": None, "route": None, "base_url": "https://api.z.ai/api/paas/v4",
                 "api_key_env": "ZAI_API_KEY", "thinking": "zai"},
    "models": {"glm-4.5": "glm-4.5"}, "samples_per_item": {"math500": 3},
    "sampling": {"temperature": 0.6, "top_p": 0.95, "max_tokens": 81920, "thinking": True}, "seed": 0,
    "tasks": {"math500": {"hub_id": "HuggingFaceH4/MATH-500", "config": None, "split": "test", "revision": None, "source": "mirror",
                          "file": "/data/MATH-500/test.jsonl", "rows": 500, "rows_used": 500, "fingerprint": "f" * 64,
                          "prompt_sha256": "a" * 64, "prompt_source": "simple-evals", "grader": "math", "protocol": "strict",
                          "answer_reader": "rules"}},
    "versions": {"python": "3.11.9"}, "git_commit": "0" * 40, "store": "results/store.sqlite",
    "started": "2026-12-01T10:15:00+00:00", "ended": "2026-12-01T10:35:00+00:00", "wall_s": 1200.5,
    "totals": {"requests_planned": 1, "samples": 1, "ok": 1, "prompt_tokens": None}, "attempts": {"glm-4.5": {"sent": 1}},
    "server": None, "notes": [], "stopped_models": {}, "stopped_by": None, "skipped_tasks": {},
    "host": {"platform": "linux", "cpus": 2}, "pricing": {"preset": "zai"}, "a_field_of_a_newer_minor": [1, 2],
}
UNVERSIONED_SAMPLE = {
    "model": "glm-4.5", "model_id": "glm-4.5", "provider": "zai", "task": "math500", "item_id": "test/algebra/1.json", "sample": 0,
    "key": "ab" * 32, "status": "ok", "correct": True, "extracted": "4", "normalized": "4", "reason": "equal", "gold": "4",
    "finish_reason": "stop", "response": "so \\boxed{4}", "reasoning_chars": 120, "prompt_tokens": 80, "completion_tokens": 900,
    "reasoning_tokens": 700, "latency_s": 12.5, "ttft_s": 0.8, "attempts": 1, "served_model": "glm-4.5", "served_by": None,
    "cached_tokens": 0, "cache_write_tokens": None, "reported_cost": None, "via": "interactive", "error": None,
    "choice_order": None, "subject": "Algebra", "level": 2, "judge": None,
}


def _unversioned_run(folder: Path) -> Path:
    folder.mkdir()
    (folder / records.MANIFEST).write_text(json.dumps(UNVERSIONED_MANIFEST, indent=2), encoding="utf-8")
    (folder / records.SAMPLES).write_text(json.dumps(UNVERSIONED_SAMPLE) + "\n", encoding="utf-8")
    return folder


def test_a_run_written_before_versions_reads_as_records(tmp_path: Path):
    run = _unversioned_run(tmp_path / "old")
    manifest = read_manifest(run)
    assert manifest.schema_version == 0 and manifest.provider.name == "zai" and manifest.tasks["math500"].grader == "math"
    assert manifest.pricing is not None and manifest.pricing.preset == "zai" and manifest.price_as is None
    assert manifest.probe is None and manifest.judge is None  # fields a run without them never wrote
    [row] = read_sample_rows(run)
    assert row.check == CheckResult(correct=True, extracted="4", normalized="4", reason="equal")
    assert row.model_extra == {"subject": "Algebra", "level": 2}


def test_rewriting_a_run_keeps_every_field_and_adds_the_version(tmp_path: Path):
    run = _unversioned_run(tmp_path / "old")
    write_manifest(run, read_manifest(run))
    write_samples(run, read_sample_rows(run))
    written = json.loads((run / records.MANIFEST).read_text(encoding="utf-8"))
    assert written == {"schema_version": SCHEMA_VERSION, **UNVERSIONED_MANIFEST}
    assert json.loads((run / records.SAMPLES).read_text(encoding="utf-8")) == UNVERSIONED_SAMPLE


def test_a_manifest_from_a_newer_glm_eval_is_refused(tmp_path: Path):
    run = _unversioned_run(tmp_path / "new")
    (run / records.MANIFEST).write_text(json.dumps({**UNVERSIONED_MANIFEST, "schema_version": SCHEMA_VERSION + 1}), encoding="utf-8")
    with pytest.raises(ValueError, match="upgrade glm-eval"):
        read_manifest(run)
