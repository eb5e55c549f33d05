"""`glm-eval run` end to end: real HTTP to the simulated endpoint in its own process, the store,
grading, samples and manifest; resuming after SIGKILL without paying twice."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

from harness.cli import main
from harness.simproc import simulator

REPO = Path(__file__).resolve().parent.parent


def body_hashes(log: Path) -> list[str]:
    if not log.exists():
        return []
    return [json.loads(line)["body_sha256"] for line in log.read_text().splitlines() if line.strip()]


def stored_hashes(store: Path) -> set[str]:
    with sqlite3.connect(store) as db:
        rows = db.execute("SELECT request FROM responses WHERE status = 'ok'").fetchall()
    return {hashlib.sha256(r[0].encode()).hexdigest() for r in rows}


def samples(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "samples.jsonl").read_text().splitlines()]


def test_run_writes_samples_manifest_and_resumes_from_store(mirror: Path, tmp_path: Path, capsys):
    args = ["run", "--provider", "simulated", "--models", "glm-4.5,glm-4.5-air", "--tasks", "math500", "--limit", "20",
            "--samples", "2", "--data-dir", str(mirror), "--store", str(tmp_path / "store.sqlite")]
    assert main([*args, "--out", str(tmp_path / "first")]) == 0
    out = capsys.readouterr().out
    assert "SIMULATED" in out and "glm-4.5-air" in out
    rows = samples(tmp_path / "first")
    assert len(rows) == 2 * 20 * 2
    assert {r["status"] for r in rows} <= {"ok", "truncated"}
    accuracy = sum(r["correct"] for r in rows if r["model"] == "glm-4.5") / 40
    assert accuracy > 0.8, "the simulated glm-4.5 profile answers MATH-500 mostly right"
    assert all(r["reasoning_chars"] > 0 for r in rows), "thinking is on by default"
    manifest = json.loads((tmp_path / "first" / "manifest.json").read_text())
    assert manifest["simulated"] is True and manifest["totals"]["requests_sent"] == 80
    assert manifest["pricing"] == {"preset": "cometapi"}  # as its report and the history price it (cost.preset_of)
    assert manifest["tasks"]["math500"]["rows_used"] == 20 and len(manifest["tasks"]["math500"]["fingerprint"]) == 64
    assert manifest["sampling"]["temperature"] == 0.6 and manifest["models"]["glm-4.5"] == "glm-4.5"

    assert main([*args, "--out", str(tmp_path / "second")]) == 0
    again = json.loads((tmp_path / "second" / "manifest.json").read_text())
    assert again["totals"]["requests_sent"] == 0, "a rerun answers from the store"
    assert samples(tmp_path / "second") == rows


def test_dry_run_sends_nothing(mirror: Path, tmp_path: Path, capsys):
    code = main(["run", "--provider", "simulated", "--models", "glm-4.5", "--tasks", "math500", "--limit", "5",
                 "--data-dir", str(mirror), "--store", str(tmp_path / "s.sqlite"), "--out", str(tmp_path / "r"), "--dry-run"])
    assert code == 0
    out = capsys.readouterr().out
    assert "nothing sent" in out and "15" in out  # 5 items x 3 samples (MATH-500's published default)
    assert not (tmp_path / "r").exists()


def test_invalid_key_is_one_clear_error_without_retries(mirror: Path, tmp_path: Path, monkeypatch, capsys):
    log = tmp_path / "sim.jsonl"
    with simulator(["math500"], mirror, 0.001, "the-right-key", log=log) as url:
        monkeypatch.setenv("GLM_EVAL_SIM_KEY", "a-wrong-key")
        code = main(["run", "--provider", "simulated", "--base-url", url, "--models", "glm-4.5,glm-4.5-air",
                     "--tasks", "math500", "--limit", "10", "--samples", "1", "--concurrency", "1", "--data-dir", str(mirror),
                     "--no-report", "--store", str(tmp_path / "s.sqlite"), "--out", str(tmp_path / "r")])
    assert code == 1
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.startswith("glm-eval: error")]
    assert len(lines) == 1 and "HTTP 401" in lines[0] and "GLM_EVAL_SIM_KEY" in lines[0], err
    sent = body_hashes(log)
    assert 1 <= len(sent) <= 2, "one request per model at most: a 401 stops the provider, with no retry"
    assert max(Counter(sent).values()) == 1


def _cli(*args: str, env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "harness", *args], cwd=REPO, env={**os.environ, **(env or {})},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _count_rows(store: Path) -> int:
    if not store.exists():  # connecting would create an empty file, which the run rightly refuses as a store
        return 0
    try:
        with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as db:
            return db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]
    except sqlite3.Error:
        return 0


def test_sigkill_half_way_then_resume_pays_nothing_twice(mirror: Path, tmp_path: Path):
    log = tmp_path / "sim.jsonl"
    with simulator(["math500"], mirror, 0.004, "sim-key", log=log) as url:
        common = ["run", "--provider", "simulated", "--base-url", url, "--models", "glm-4.5,glm-4.5-flash",
                  "--tasks", "math500", "--limit", "60", "--samples", "2", "--concurrency", "16", "--data-dir", str(mirror), "--no-report"]
        store = tmp_path / "killed.sqlite"
        proc = _cli(*common, "--store", str(store), "--out", str(tmp_path / "killed"))
        deadline = time.monotonic() + 120
        while _count_rows(store) < 80 and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.05)
        assert proc.poll() is None, f"the run ended before it could be killed: {proc.stderr.read()}"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        before = stored_hashes(store)
        assert 0 < len(before) < 240, "killed half-way"
        sent_before = len(body_hashes(log))

        resumed = _cli(*common, "--store", str(store), "--out", str(tmp_path / "resumed"))
        assert resumed.wait(timeout=300) == 0, resumed.stderr.read()
        after_kill = body_hashes(log)[sent_before:]
        assert before.isdisjoint(after_kill), "a stored request was sent again"
        assert len(after_kill) == 240 - len(before)
        assert max(Counter(body_hashes(log)).values()) <= 2  # at most the requests in flight at the kill, once more

        clean = _cli(*common, "--store", str(tmp_path / "clean.sqlite"), "--out", str(tmp_path / "clean"))
        assert clean.wait(timeout=300) == 0, clean.stderr.read()

    def verdicts(run: str) -> list[tuple]:
        return [(r["key"], r["response"], r["correct"], r["extracted"]) for r in samples(tmp_path / run)]

    assert verdicts("resumed") == verdicts("clean")
    with sqlite3.connect(store) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


@pytest.mark.parametrize(
    "args,message",
    [
        (["--models", "glm-5"], "unknown model 'glm-5'"),
        (["--tasks", "math5000"], "unknown task 'math5000'"),
        (["--provider", "zia"], "unknown provider 'zia'"),
        (["--temperature", "7"], "temperature: "),
    ],
)
def test_bad_input_exits_2_with_one_line_before_sending(tmp_path: Path, capsys, args, message):
    base = {"--provider": "simulated", "--models": "glm-4.5", "--tasks": "math500"}
    for flag, value in zip(args[::2], args[1::2]):
        base[flag] = value
    argv = ["run", *[x for pair in base.items() for x in pair], "--out", str(tmp_path / "r"), "--store", str(tmp_path / "s")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert not (tmp_path / "s").exists()


def test_missing_api_key_is_refused_before_sending(tmp_path: Path, capsys, monkeypatch):
    monkeypatch.delenv("ZAI_API_KEY", raising=False)
    assert main(["run", "--provider", "zai", "--models", "glm-4.5", "--tasks", "math500", "--out", str(tmp_path / "r")]) == 2
    assert "export ZAI_API_KEY" in capsys.readouterr().err


def test_max_cost_is_never_passed_and_says_so(mirror: Path, tmp_path: Path, capsys):
    from harness.cost import load_prices, run_cost
    from harness.results import read_samples

    limit = 0.30
    code = main(["run", "--provider", "simulated", "--models", "glm-4.5,glm-4.5-x", "--tasks", "math500", "--limit", "60",
                 "--samples", "2", "--max-tokens", "8000", "--max-cost", str(limit), "--price-as", "cometapi", "--no-report",
                 "--data-dir", str(mirror), "--store", str(tmp_path / "s.sqlite"), "--out", str(tmp_path / "r")])
    assert code == 1, "a run stopped by its budget is incomplete"
    assert "budget reached" in capsys.readouterr().err
    manifest = json.loads((tmp_path / "r" / "manifest.json").read_text())
    assert manifest["budget"]["stopped"] is True and manifest["budget"]["spent"] <= limit
    scores = read_samples(tmp_path / "r")
    spent = run_cost(scores, load_prices(), preset="cometapi").cost
    assert 0.5 * limit < spent <= limit, "the budget is used, and never passed"
    assert (scores["error"].dropna().str.contains("--max-cost reached")).any()


def test_regrade_reproduces_a_runs_verdicts(mirror: Path, tmp_path: Path, capsys):
    run = tmp_path / "r"
    assert main(["run", "--provider", "simulated", "--models", "glm-4.5-flash", "--tasks", "math500,aime24", "--limit", "15",
                 "--samples", "2", "--data-dir", str(mirror), "--no-report", "--store", str(tmp_path / "s.sqlite"), "--out", str(run)]) == 0
    before = (run / "samples.jsonl").read_text()
    assert main(["regrade", str(run)]) == 0
    assert "0 verdicts changed" in capsys.readouterr().out
    assert (run / "samples.jsonl").read_text() == before


def test_plan_advises_samples_per_item_and_prices_them(mirror: Path, tmp_path: Path, capsys):
    run = tmp_path / "r"
    assert main(["run", "--provider", "simulated", "--models", "glm-4.5,glm-4.5-flash", "--tasks", "aime24", "--samples", "3",
                 "--limit", "12", "--data-dir", str(mirror), "--no-report", "--store", str(tmp_path / "s.sqlite"), "--out", str(run)]) == 0
    capsys.readouterr()
    assert main(["plan", "--task", "aime24", "--detect", "15", "--run", str(run), "--price-as", "cometapi"]) == 0
    out = capsys.readouterr().out
    assert "12 items x 3 samples" in out and "samples per item" in out and "USD (priced as cometapi" in out
    assert main(["plan", "--task", "gpqa_diamond", "--detect", "3", "--run", str(run)]) == 2


def test_cache_only_replays_without_a_key_and_names_what_is_missing(mirror: Path, tmp_path: Path, monkeypatch, capsys):
    args = ["run", "--provider", "zai", "--models", "glm-4.5", "--tasks", "math500", "--limit", "4", "--samples", "1",
            "--data-dir", str(mirror), "--no-report", "--store", str(tmp_path / "s.sqlite"), "--cache-only"]
    monkeypatch.delenv("ZAI_API_KEY", raising=False)
    assert main([*args, "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "--cache-only: 4 responses are not in the store" in err and "model glm-4.5, task math500, item" in err
    # fill the store from the simulator under the zai provider's name, then replay as zai with no key at all
    with simulator(["math500"], mirror, 0.001, "k") as url:
        monkeypatch.setenv("ZAI_API_KEY", "k")
        fill = [a for a in args if a != "--cache-only"]
        assert main([*fill, "--base-url", url.replace("/v1", "/api/paas/v4"), "--out", str(tmp_path / "live")]) == 0
    monkeypatch.delenv("ZAI_API_KEY")
    assert main([*args, "--out", str(tmp_path / "replay")]) == 0
    assert samples(tmp_path / "replay") == samples(tmp_path / "live")
