"""glm-eval end to end against a real vLLM server (CPU build, a tiny random-weight model).

The simulator is only as faithful as what was checked against a real server; these tests are that
check, for the formats a local vLLM actually sends: reasoning in `reasoning` (with a parser) or
not at all (without), usage in a stream only when asked, the context limit in /models, a 400 for a
max_tokens above it, and a server killed mid-run. The model's answers are noise and graded wrong;
what is asserted is everything around them.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from conftest import MAX_MODEL_LEN, REPO, SERVED, glm_eval, kill, vllm_server

from harness.simproc import simulator

pytestmark = pytest.mark.vllm  # not part of `make test`: `make test-vllm` runs these


def run_args(url: str, tmp: Path, mirror: Path, *extra: str, limit: int = 4, out: str = "r") -> list[str]:
    return ["run", "--provider", "local", "--base-url", url, "--models", "glm-4.5-air", "--tasks", "math500",
            "--limit", str(limit), "--samples", "1", "--data-dir", str(mirror), "--store", str(tmp / "s.sqlite"),
            "--out", str(tmp / out), "--no-report", *extra]


def samples(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "samples.jsonl").read_text().splitlines()]


def manifest(run: Path) -> dict:
    return json.loads((run / "manifest.json").read_text())


def test_a_default_run_fits_the_context_streams_usage_and_keeps_reasoning_apart(vllm: str, mirror: Path, tmp_path: Path):
    done = glm_eval(*run_args(vllm, tmp_path, mirror))
    assert done.returncode == 0, done.stderr
    assert "max_tokens capped from 81920" in done.stdout, "the published 81,920 does not fit a 4,096 context"
    m = manifest(tmp_path / "r")
    assert m["server"]["max_model_len"] == {SERVED: MAX_MODEL_LEN} and m["sampling"]["max_tokens"] < MAX_MODEL_LEN
    rows = samples(tmp_path / "r")
    assert all(r["status"] in ("ok", "truncated") for r in rows)
    assert all(r["completion_tokens"] and r["prompt_tokens"] for r in rows), "usage asked for on the stream, and recorded"
    assert all(r["reasoning_tokens"] is not None for r in rows)
    assert any(r["reasoning_chars"] > 0 for r in rows), "the reasoning parser's `reasoning` field is read as reasoning"
    assert m["totals"]["completion_tokens"] == sum(r["completion_tokens"] for r in rows)
    assert {r["served_model"] for r in rows} == {SERVED}, "vLLM names the model it served in every stream chunk"
    assert {r["served_by"] for r in rows} == {None}, "a server that routes nowhere sends no upstream host"


def test_thinking_off_and_whole_responses(vllm: str, mirror: Path, tmp_path: Path):
    done = glm_eval(*run_args(vllm, tmp_path, mirror, "--thinking", "off", "--no-stream", "--max-tokens", "256"))
    assert done.returncode == 0, done.stderr
    assert "capped" not in done.stdout
    rows = samples(tmp_path / "r")
    assert all(r["reasoning_chars"] == 0 and r["reasoning_tokens"] == 0 for r in rows), "enable_thinking false is honoured"
    assert all(r["completion_tokens"] for r in rows)


def test_the_simulator_refuses_a_too_large_max_tokens_as_vllm_does(vllm: str, mirror: Path):
    """The fast tests lean on the simulator's copy of this 400; here it is held against the original."""
    body = {"messages": [{"role": "user", "content": "hi"}], "max_tokens": 81920}
    real = _post(vllm, {**body, "model": SERVED})
    with simulator(["math500"], mirror, 0.001, "sim-key", options=["--max-model-len", str(MAX_MODEL_LEN)]) as url:
        simulated = _post(url, {**body, "model": "glm-4.5"}, key="sim-key")
    assert real == simulated
    assert real[0] == 400 and real[1]["error"]["param"] == "max_tokens"


def _post(url: str, body: dict, key: str | None = None) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {key}"} if key else {})}
    request = urllib.request.Request(url + "/chat/completions", data=json.dumps(body).encode(), headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_wrong_model_and_wrong_path_are_refused_before_sending(vllm: str, mirror: Path, tmp_path: Path):
    wrong_model = glm_eval("run", "--base-url", vllm, "--models", "glm-4.5", "--tasks", "math500", "--limit", "2",
                           "--data-dir", str(mirror), "--out", str(tmp_path / "a"), "--store", str(tmp_path / "s.sqlite"))
    assert wrong_model.returncode == 2 and f"it serves: {SERVED}" in wrong_model.stderr
    no_path = glm_eval("run", "--base-url", vllm.removesuffix("/v1"), "--models", SERVED, "--tasks", "math500", "--limit", "2",
                       "--data-dir", str(mirror), "--out", str(tmp_path / "b"), "--store", str(tmp_path / "s.sqlite"))
    assert no_path.returncode == 2 and "missing its path" in no_path.stderr


def test_probe_reports_vllm_as_it_is(vllm: str, tmp_path: Path):
    out = tmp_path / "probe.json"
    done = glm_eval("probe", "--provider", "local", "--base-url", vllm, "--models", "glm-4.5-air", "--json", str(out))
    assert done.returncode == 0, done.stderr + done.stdout
    found = json.loads(out.read_text())["glm-4.5-air"]["findings"]
    assert found["answers"] == "yes" and found["listed in /models"] == "yes" and found["context"] == "4,096"
    assert found["reasoning field"] == "reasoning" and found["thinking off"] == "no reasoning"
    assert found["usage, streamed"] == "yes" and found["usage, whole"] == "yes" and found["reasoning tokens"] == "counted"
    assert found["sampling accepted"] == "yes" and found["model served"] == SERVED


def test_without_a_reasoning_parser_probe_says_so(tiny_model: Path, tmp_path: Path):
    with vllm_server(tiny_model, tmp_path / "server.log") as (url, _):
        out = tmp_path / "probe.json"
        done = glm_eval("probe", "--provider", "local", "--base-url", url, "--models", "glm-4.5-air", "--json", str(out))
    assert done.returncode == 0, done.stderr
    found = json.loads(out.read_text())["glm-4.5-air"]["findings"]
    assert found["thinking on"] == "no reasoning" and found["reasoning field"] == "-"


def test_the_server_killed_mid_run_stops_cleanly_and_a_rerun_resumes(tiny_model: Path, mirror: Path, tmp_path: Path):
    store = tmp_path / "s.sqlite"
    args = run_args("URL", tmp_path, mirror, "--max-tokens", "1500", "--concurrency", "2", "--max-attempts", "3",
                    "--backoff", "0.2", limit=16)
    with vllm_server(tiny_model, tmp_path / "server.log", "--reasoning-parser", "qwen3") as (url, server):
        args[args.index("URL")] = url
        run = subprocess.Popen([sys.executable, "-m", "harness", *args], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 300
        while _stored(store) < 3 and time.monotonic() < deadline and run.poll() is None:
            time.sleep(0.2)
        kill(server)
        out, err = run.communicate(timeout=600)
    kept = _stored(store)
    assert 3 <= kept < 16, f"the server was killed part-way ({kept} answers stored)"
    assert run.returncode == 1 and ("rerun to resume" in err or "run the same command again" in err), err
    with vllm_server(tiny_model, tmp_path / "server.log", "--reasoning-parser", "qwen3") as (url, _):
        args[args.index("--base-url") + 1] = url
        args[args.index("--out") + 1] = str(tmp_path / "again")
        again = glm_eval(*args)
    assert again.returncode == 0, again.stderr
    assert f"{kept} already stored, {16 - kept} to send" in again.stdout
    assert all(r["status"] in ("ok", "truncated") for r in samples(tmp_path / "again"))


def _stored(store: Path) -> int:
    if not store.exists():
        return 0
    with sqlite3.connect(store) as db:
        return db.execute("SELECT COUNT(*) FROM responses WHERE status = 'ok'").fetchone()[0]
