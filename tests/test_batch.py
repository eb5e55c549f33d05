"""`glm-eval run --batch`: a provider's batch API (Files + Batches), end to end against the simulator.

The promises: a batch answer is the interactive answer (same keys, same stored text, same verdict);
what a batch could not answer (failed lines, an expired window) is all a rerun sends; a run killed
while its batch is pending collects that batch on the rerun instead of paying again; and --max-cost
counts a submitted batch's worst case before it is submitted.
"""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from harness.batch import _outcome
from harness.cli import main
from harness.simproc import simulator

REPO = Path(__file__).resolve().parent.parent
KEY = {"Authorization": "Bearer sim-key"}


def samples(run: Path) -> dict[str, dict]:
    return {row["key"]: row for row in map(json.loads, (run / "samples.jsonl").read_text().splitlines())}


def chat_log(log: Path) -> list[dict]:
    """The simulator's log lines of chat requests (a batch's requests are answered by its own chat endpoint)."""
    rows = [json.loads(line) for line in log.read_text().splitlines() if line.strip()] if log.exists() else []
    return [r for r in rows if r.get("path", "").endswith("/chat/completions")]


def batches(store: Path) -> list[tuple]:
    with sqlite3.connect(store) as db:
        return db.execute("SELECT id, status, json_array_length(keys), collected_at IS NOT NULL FROM batches ORDER BY submitted_at").fetchall()


def set_faults(url: str, **faults: object) -> None:
    httpx.post(url.removesuffix("/v1") + "/_sim/faults", json=faults, timeout=10).raise_for_status()


def run_args(url: str | None, tmp_path: Path, mirror: Path, *extra: str, name: str = "r", limit: int = 8, store: str = "s.sqlite") -> list[str]:
    where = ["--provider", "simulated"] + (["--base-url", url] if url else [])
    return [
        "run", *where, "--models", "glm-4.5", "--tasks", "math500", "--limit", str(limit), "--samples", "2",
        "--data-dir", str(mirror), "--store", str(tmp_path / store), "--out", str(tmp_path / name), "--no-report",
        "--batch-poll", "0.1", *extra,
    ]


@pytest.fixture()
def sim(mirror: Path, tmp_path: Path):
    log = tmp_path / "sim.jsonl"
    with simulator(["math500"], mirror, 0.001, "sim-key", log=log) as url:
        yield url, log


def test_a_batch_run_stores_what_an_interactive_run_stores(mirror: Path, tmp_path: Path):
    assert main(run_args(None, tmp_path, mirror, "--batch", name="batch", store="b.sqlite")) == 0
    assert main(run_args(None, tmp_path, mirror, name="live", store="i.sqlite")) == 0
    batch, live = samples(tmp_path / "batch"), samples(tmp_path / "live")
    assert batch.keys() == live.keys() and len(batch) == 16
    for key, row in batch.items():
        other = live[key]
        assert row["via"] == "batch" and other["via"] == "interactive"
        for name in ("response", "reasoning", "extracted", "correct", "status", "prompt_tokens", "completion_tokens", "reasoning_tokens"):
            assert row.get(name) == other.get(name), f"{name} differs for {key[:12]}"
    [(_, status, n, collected)] = batches(tmp_path / "b.sqlite")
    assert (status, n, collected) == ("completed", 16, True)
    # the two mix: a batch run on the interactive run's store sends only what that store lacks
    assert main(run_args(None, tmp_path, mirror, "--batch", name="more", store="i.sqlite", limit=12)) == 0
    more = samples(tmp_path / "more")
    [(_, _, n, _)] = batches(tmp_path / "i.sqlite")
    assert n == len(more.keys() - live.keys()) > 0
    assert {k: more[k]["response"] for k in live} == {k: live[k]["response"] for k in live}


def test_failed_and_expired_lines_are_all_a_rerun_sends(sim, mirror: Path, tmp_path: Path):
    url, log = sim
    set_faults(url, batch_failed=0.3)
    assert main(run_args(url, tmp_path, mirror, "--batch", limit=10)) == 1, "failed lines leave the run incomplete"
    first = samples(tmp_path / "r")
    failed = {k for k, r in first.items() if r["status"] == "failed"}
    assert 0 < len(failed) < 20 and all("batch: HTTP 500" in first[k]["error"] for k in failed)
    answered = {r["body_sha256"] for r in chat_log(log)}
    # a window that closes after the first answer: the rest expire
    set_faults(url, batch_expire_after=1, batch_concurrency=1, batch_start_s=0)
    sent = len(chat_log(log))
    assert main(run_args(url, tmp_path, mirror, "--batch", limit=10, name="r2")) == 1
    second = samples(tmp_path / "r2")
    expired = {k for k, r in second.items() if r["status"] == "failed"}
    assert expired and expired < failed, "one request at a time, the window closed after the first: it is answered, the rest expire"
    assert all("code batch_expired" in second[k]["error"] for k in expired)
    assert {r["body_sha256"] for r in chat_log(log)[sent:]}.isdisjoint(answered), "an answered request was sent again"
    set_faults(url)
    sent = len(chat_log(log))
    assert main(run_args(url, tmp_path, mirror, "--batch", limit=10, name="r3")) == 0
    assert len(chat_log(log)) - sent == len(expired), "only the missing requests went in the rerun's batch"
    assert all(r["status"] == "ok" for r in samples(tmp_path / "r3").values())


def test_a_run_killed_while_its_batch_is_pending_collects_it_instead_of_paying_again(sim, mirror: Path, tmp_path: Path):
    url, log = sim
    set_faults(url, batch_start_s=3.0)
    store = tmp_path / "s.sqlite"
    proc = subprocess.Popen([sys.executable, "-m", "harness", *run_args(url, tmp_path, mirror, "--batch", limit=10)], cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not (store.exists() and _has_batch(store)) and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, f"the run ended before it could be interrupted: {proc.stderr.read()}"
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 130
    [(batch_id, _, n, collected)] = batches(store)
    assert n == 20 and not collected
    assert main(run_args(url, tmp_path, mirror, "--batch", limit=10, name="resumed")) == 0
    assert [b[0] for b in batches(store)] == [batch_id], "the rerun submitted no batch of its own"
    bodies = [r["body_sha256"] for r in chat_log(log)]
    assert len(bodies) == len(set(bodies)) == 20, "every request was answered once"
    assert all(r["status"] == "ok" and r["via"] == "batch" for r in samples(tmp_path / "resumed").values())


def _has_batch(store: Path) -> bool:
    try:
        return bool(batches(store))
    except sqlite3.OperationalError:  # the table is not there yet
        return False


def test_max_cost_counts_a_batchs_worst_case_before_submitting(sim, mirror: Path, tmp_path: Path, capsys):
    url, _ = sim
    # priced as zai at its batch factor 0.5, one request's worst case (81,920 output tokens at 2.20 USD/M) is about 0.09 USD
    assert main(run_args(url, tmp_path, mirror, "--batch", "--price-as", "zai", "--max-cost", "0.5", limit=10)) == 1
    [(_, _, n, _)] = batches(tmp_path / "s.sqlite")
    assert n == 5, "as many requests as their worst case allows"
    assert "budget reached" in capsys.readouterr().err
    rows = samples(tmp_path / "r").values()
    assert sum(r["status"] == "ok" for r in rows) == 5


def test_batch_is_refused_where_the_provider_has_none(tmp_path: Path, capsys, monkeypatch):
    monkeypatch.setenv("ZAI_API_KEY", "not-used")
    assert main(["run", "--provider", "zai", "--models", "glm-4.5", "--tasks", "math500", "--batch", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "--batch: provider zai has no batch API" in err and "bigmodel" in err


def test_the_simulators_batch_api_has_openais_shapes(sim):
    url, _ = sim
    good = {"model": "glm-4.5", "messages": [{"role": "user", "content": "What is 1+1? Put the answer in \\boxed{}."}], "max_tokens": 50}
    lines = [{"custom_id": "a", "method": "POST", "url": "/v1/chat/completions", "body": good},
             {"custom_id": "b", "method": "POST", "url": "/v1/chat/completions", "body": {**good, "model": "no-such-model"}}]
    data = "".join(json.dumps(line) + "\n" for line in lines).encode()
    with httpx.Client(base_url=url, headers=KEY, timeout=30) as http:
        file = http.post("/files", files={"file": ("in.jsonl", data)}, data={"purpose": "batch"}).json()
        assert file["object"] == "file" and file["bytes"] == len(data)
        wrong = http.post("/batches", json={"input_file_id": file["id"], "endpoint": "/v4/chat/completions", "completion_window": "24h"})
        assert wrong.status_code == 400 and wrong.json()["error"]["param"] == "endpoint"
        batch = http.post("/batches", json={"input_file_id": file["id"], "endpoint": "/v1/chat/completions", "completion_window": "24h"}).json()
        assert batch["status"] == "validating" and batch["request_counts"]["total"] == 0
        while batch["status"] not in ("completed", "failed", "expired"):
            time.sleep(0.05)
            batch = http.get(f"/batches/{batch['id']}").json()
        assert batch["status"] == "completed" and batch["request_counts"] == {"total": 2, "completed": 1, "failed": 1}
        [out] = http.get(f"/files/{batch['output_file_id']}/content").text.splitlines()
        [err] = http.get(f"/files/{batch['error_file_id']}/content").text.splitlines()
        assert http.get("/batches/batch_nope").status_code == 404
    out, err = json.loads(out), json.loads(err)
    assert out["custom_id"] == "a" and out["response"]["status_code"] == 200 and out["error"] is None
    choice = out["response"]["body"]["choices"][0]
    assert choice["finish_reason"] == "length" and choice["message"]["reasoning_content"], "50 tokens end inside the reasoning"
    assert out["response"]["body"]["usage"]["completion_tokens"] == 50
    assert err["custom_id"] == "b" and err["response"]["status_code"] == 404
    completion, error, filtered = _outcome(out)
    assert completion is not None and completion.latency_s is None and error is None and not filtered
    assert _outcome(err)[1].startswith("batch: HTTP 404 code model_not_found")
    expired = {"custom_id": "c", "response": None, "error": {"code": "batch_expired", "message": "not run in time"}}
    assert _outcome(expired) == (None, "batch: HTTP - code batch_expired: not run in time", False)
