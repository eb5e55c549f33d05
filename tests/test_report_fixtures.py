"""Synthetic run folders for the report tests: a manifest.json and samples.jsonl shaped like the
ones `glm-eval run` writes, built in a temporary folder so the tests never depend on a real run.

Item difficulty is shared by every variant (as on a real benchmark, the same items are hard for
all), so paired comparisons and the subject heatmap have structure worth drawing.
"""

from __future__ import annotations

import json
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from harness import results, stats
from harness.records import read_manifest

SUBJECTS = ["Algebra", "Intermediate Algebra", "Prealgebra", "Number Theory", "Precalculus", "Geometry", "Counting & Probability"]
DOMAINS = ["Chemistry", "Physics", "Biology"]
ACCURACY = {
    "glm-4.5": {"math500": 0.95, "aime24": 0.80, "gpqa_diamond": 0.75},
    "glm-4.5-air": {"math500": 0.92, "aime24": 0.70, "gpqa_diamond": 0.68},
    "glm-4.5-flash": {"math500": 0.85, "aime24": 0.45, "gpqa_diamond": 0.55},
}
OUTPUT_TOKENS = {"math500": 2500, "aime24": 11000, "gpqa_diamond": 5000}
TOKENS_PER_S = {"glm-4.5": 60, "glm-4.5-air": 80, "glm-4.5-flash": 120}


def make_run(
    root: Path,
    run_id: str = "run-a",
    models: tuple[str, ...] = ("glm-4.5", "glm-4.5-air", "glm-4.5-flash"),
    tasks: tuple[str, ...] = ("math500", "aime24", "gpqa_diamond"),
    k: int = 2,
    n_items: int = 30,
    simulated: bool = True,
    provider: str = "simulated",
    seed: int = 0,
    shift: float = 0.0,
) -> Path:
    """Write a run folder and return it; `shift` moves every variant's accuracy (logit scale),
    so two runs can differ on purpose."""
    rng = np.random.default_rng(seed)
    run_dir = root / run_id
    run_dir.mkdir(parents=True)
    rows = []
    for task in tasks:
        difficulty = np.random.default_rng(zlib.crc32(task.encode())).normal(0, 1.5, n_items)
        for model in models:
            base = np.log(ACCURACY[model][task] / (1 - ACCURACY[model][task])) + shift
            for i in range(n_items):
                p = 1 / (1 + np.exp(-(base - difficulty[i])))
                for s in range(k):
                    rows.append(_row(rng, model, provider, task, i, s, p))
    with (run_dir / results.SAMPLES).open("w", encoding="utf-8") as out:
        for row in rows:
            out.write(json.dumps(row) + "\n")
    totals = {status: sum(r["status"] == status for r in rows) for status in ("ok", "truncated", "failed")}
    # as glm-eval wrote a manifest before records were versioned: every run folder of that time must still load
    (run_dir / results.MANIFEST).write_text(json.dumps({
        "run_id": run_id,
        "simulated": simulated,
        "command": ["glm-eval", "run", "--provider", provider],
        "provider": {"name": provider, "base_url": "http://127.0.0.1:1/v1"},
        "models": {m: m for m in models},
        "samples_per_item": {t: k for t in tasks},
        "sampling": {"temperature": 0.6, "top_p": 0.95, "max_tokens": 81920, "thinking": True},
        "seed": seed,
        "tasks": {
            t: {"hub_id": f"example/{t}", "rows": 500, "rows_used": n_items, "fingerprint": "f" * 64,
                "prompt_sha256": "a" * 64, "prompt_source": "test"}
            for t in tasks
        },
        "versions": {"python": "3.11"},
        "git_commit": "0" * 40,
        "started": "2025-08-01T10:00:00+00:00",
        "ended": "2025-08-01T10:20:00+00:00",
        "wall_s": 1200.0,
        "totals": {"samples": len(rows), **totals},
    }, indent=2))
    return run_dir


def _row(rng: np.random.Generator, model: str, provider: str, task: str, i: int, s: int, p: float) -> dict:
    status = rng.choice(["ok", "truncated", "failed"], p=[0.95, 0.03, 0.02])
    correct = bool(status == "ok" and rng.random() < p)
    gold = str(i % 7 + 1) if task != "gpqa_diamond" else "ABCD"[i % 4]
    answer = gold if correct else (None if status == "truncated" else f"{gold}x")
    completion = None if status == "failed" else int(rng.lognormal(np.log(OUTPUT_TOKENS[task]), 0.4))
    row = {
        "model": model, "model_id": model, "provider": provider, "task": task,
        "item_id": f"{task}/{i:03d}", "sample": s, "key": f"{model}-{task}-{i}-{s}",
        "status": str(status), "correct": correct, "extracted": answer, "normalized": answer, "gold": gold,
        "reason": "synthetic", "finish_reason": {"ok": "stop", "truncated": "length", "failed": None}[str(status)],
        "response": None if status == "failed" else f"... \\boxed{{{answer}}}",
        "reasoning_chars": 0 if completion is None else completion * 3,
        "prompt_tokens": None if completion is None else int(120 + 40 * rng.random()),
        "completion_tokens": completion,
        "reasoning_tokens": None if completion is None else int(completion * 0.85),
        "latency_s": None if completion is None else 0.8 + completion / TOKENS_PER_S[model] * rng.uniform(0.8, 1.2),
        "ttft_s": None if completion is None else rng.uniform(0.3, 1.5),
        "attempts": 1, "error": "HTTP 503" if status == "failed" else None,
        "choice_order": [2, 0, 1, 3] if task == "gpqa_diamond" else None,
    }
    if task == "math500":
        row |= {"subject": SUBJECTS[i % len(SUBJECTS)], "level": i % 5 + 1}
    if task == "gpqa_diamond":
        row |= {"domain": DOMAINS[i % len(DOMAINS)], "subdomain": "Some subdomain"}
    return row


def test_synthetic_run_reads_as_a_scores_frame(tmp_path: Path):
    run = make_run(tmp_path)
    scores = results.read_samples(run)
    assert len(scores) == 3 * 3 * 30 * 2
    assert set(scores["status"]) <= {"ok", "truncated", "failed"}
    assert scores.loc[scores["task"] == "math500", "subject"].notna().all()
    assert read_manifest(run).simulated is True


def test_samples_read_in_batches_as_typed_columns_without_the_answers(tmp_path: Path, monkeypatch):
    """A JSON run (ttft_s null on every line) of MATH-500 then GPQA (domain first seen late):
    batches of 7 lines give the frame one batch gives, with the dtypes the report relies on."""
    run = make_run(tmp_path, tasks=("math500", "gpqa_diamond"))
    path = run / results.SAMPLES
    path.write_text("".join(json.dumps(json.loads(line) | {"ttft_s": None}) + "\n" for line in path.read_text().splitlines()))
    whole = results.read_samples(run)
    monkeypatch.setattr(results, "BATCH", 7)
    pd.testing.assert_frame_equal(results.read_samples(run), whole)
    assert not {"response", "key"} & set(whole.columns)
    assert all(isinstance(whole[c].dtype, pd.CategoricalDtype) for c in ("model", "task", "status", "provider", "subject", "domain"))
    assert whole["item_id"].map(type).eq(str).all() and whole["ttft_s"].dtype == float and whole["ttft_s"].isna().all()
    assert whole.loc[whole["task"] == "gpqa_diamond", "choice_order"].map(len).eq(4).all()
    one = stats.summarize(whole[whole["model"] == "glm-4.5"], by=("subject",))
    assert set(one["model"]) == {"glm-4.5"} and set(one["task"]) == {"math500"}, "no empty groups from unused categories"
