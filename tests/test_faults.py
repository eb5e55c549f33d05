"""Reliability: provider faults, process faults and bad input, against the simulated endpoint.

Every test checks the two promises that matter to someone paying for requests: no answer that
was stored is lost, and no request that was stored is sent again.
"""

from __future__ import annotations

import hashlib
import json
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from harness.cli import main
from harness.simproc import simulator

REPO = Path(__file__).resolve().parent.parent
SECRET = "sk-glm-eval-CANARY-7f3a9c1e5b"


def log_rows(log: Path) -> list[dict]:
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()] if log.exists() else []


def stored(store: Path) -> dict[str, str]:
    """body sha256 -> status, as the simulator's log names requests."""
    with sqlite3.connect(store) as db:
        return {hashlib.sha256(r[0].encode()).hexdigest(): r[1] for r in db.execute("SELECT request, status FROM responses")}


def samples(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "samples.jsonl").read_text().splitlines()]


def set_faults(url: str, **faults: object) -> None:
    httpx.post(url.removesuffix("/v1") + "/_sim/faults", json=faults, timeout=10).raise_for_status()


@pytest.fixture()
def sim(mirror: Path, tmp_path: Path):
    log = tmp_path / "sim.jsonl"
    with simulator(["math500"], mirror, 0.001, "sim-key", log=log) as url:
        yield url, log


def run_args(url: str, tmp_path: Path, mirror: Path, *extra: str, name: str = "r", limit: int = 12) -> list[str]:
    return ["run", "--provider", "simulated", "--base-url", url, "--models", "glm-4.5", "--tasks", "math500",
            "--limit", str(limit), "--samples", "1", "--data-dir", str(mirror), "--store", str(tmp_path / "s.sqlite"),
            "--out", str(tmp_path / name), "--backoff", "0.05", "--no-report", *extra]


@pytest.mark.parametrize(
    "faults",
    [
        {"http_429": 0.4, "retry_after_s": 1},
        {"http_429_no_retry_after": 0.4},
        {"http_500": 0.1, "http_502": 0.1, "http_503": 0.1},
        {"drop": 0.4},
        {"malformed_json": 0.15, "empty_choices": 0.15},
    ],
    ids=["429-retry-after", "429-bare", "5xx-burst", "stream-cut", "malformed-empty"],
)
def test_transient_faults_are_retried_until_every_answer_is_complete(sim, mirror: Path, tmp_path: Path, faults: dict):
    url, log = sim
    set_faults(url, **faults)
    assert main(run_args(url, tmp_path, mirror, "--max-attempts", "12")) == 0
    rows = samples(tmp_path / "r")
    assert all(r["status"] == "ok" and r["finish_reason"] == "stop" for r in rows), "a faulty attempt is never kept"
    assert any(r["attempts"] > 1 for r in rows), "the faults were met and retried"
    sent = log_rows(log)
    assert sum(1 for r in sent if r["status"] == 200 and r["fault"] is None) == len(rows)
    assert sum(r["attempts"] for r in rows) == len(sent), "each sample records its attempts"


def test_a_cut_stream_is_never_graded_as_an_answer(sim, mirror: Path, tmp_path: Path):
    url, log = sim
    set_faults(url, drop=1.0)
    assert main(run_args(url, tmp_path, mirror, "--max-attempts", "2", limit=4)) == 1
    rows = samples(tmp_path / "r")
    assert all(r["status"] == "failed" and r["response"] is None and r["correct"] is False for r in rows)
    assert all("cut" in r["error"] and r["attempts"] == 2 for r in rows)
    set_faults(url)
    assert main(run_args(url, tmp_path, mirror, name="again", limit=4)) == 0, "a rerun picks the failed ones up"
    assert all(r["status"] == "ok" for r in samples(tmp_path / "again"))


def test_content_filter_is_its_own_status_kept_and_not_sent_again(sim, mirror: Path, tmp_path: Path):
    url, log = sim
    set_faults(url, content_filter=1.0)
    assert main(run_args(url, tmp_path, mirror, limit=4)) == 1, "a run with refused items is incomplete"
    rows = samples(tmp_path / "r")
    assert all(r["status"] == "filtered" and r["finish_reason"] == "content_filter" and r["attempts"] == 1 for r in rows)
    assert all(r["correct"] is None or r["correct"] is False for r in rows)
    assert len(log_rows(log)) == 4
    set_faults(url)
    main(run_args(url, tmp_path, mirror, limit=4))
    assert len(log_rows(log)) == 4, "a refused item is kept in the store, not bought again"


def test_a_response_slower_than_the_timeout_fails_in_bounded_time(sim, mirror: Path, tmp_path: Path):
    url, log = sim
    set_faults(url, slow=1.0, slow_s=5)
    started = time.monotonic()
    assert main(run_args(url, tmp_path, mirror, "--timeout", "0.5", "--max-attempts", "2", limit=3)) == 1
    # The rows below prove the timeout cut each attempt; the wall-clock bound only catches a hang
    # (generous: the machine may be shared), far below what waiting out every 5 s answer costs.
    assert time.monotonic() - started < 60, "retries are bounded in count and time"
    rows = samples(tmp_path / "r")
    assert all(r["status"] == "failed" and "timeout" in r["error"] and r["attempts"] == 2 for r in rows)


def test_server_going_down_mid_run_stops_cleanly_and_a_rerun_resumes(mirror: Path, tmp_path: Path):
    log = tmp_path / "sim.jsonl"
    store = tmp_path / "s.sqlite"
    with simulator(["math500"], mirror, 0.02, "sim-key", log=log) as url:
        proc = subprocess.Popen(
            [sys.executable, "-m", "harness", *run_args(url, tmp_path, mirror, "--max-attempts", "3", "--concurrency", "4", limit=60)],
            cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        while len(log_rows(log)) < 15 and proc.poll() is None:
            time.sleep(0.05)
    # the simulator is gone now, half-way through the run
    assert proc.wait(timeout=120) == 1
    err = proc.stderr.read()
    assert "Traceback" not in err
    before = stored(store)
    assert 0 < sum(status == "ok" for status in before.values()) < 60
    with simulator(["math500"], mirror, 0.001, "sim-key", log=log) as url:
        sent_before = len(log_rows(log))
        assert main(run_args(url, tmp_path, mirror, name="resumed", limit=60)) == 0
    resent = {r["body_sha256"] for r in log_rows(log)[sent_before:]}
    assert not resent & {h for h, status in before.items() if status == "ok"}, "a stored answer was bought again"
    assert all(r["status"] == "ok" for r in samples(tmp_path / "resumed"))


def test_adaptive_pace_settles_under_an_unknown_rate_limit(sim, mirror: Path, tmp_path: Path):
    url, log = sim
    set_faults(url, rpm_limit=240, rpm_burst=4)  # 4 requests a second
    assert main(run_args(url, tmp_path, mirror, "--concurrency", "16", limit=48)) == 0
    wall = json.loads((tmp_path / "r" / "manifest.json").read_text())["wall_s"]  # the sending, not the report
    sent = log_rows(log)
    settled = [r for r in sent if r["time"] > sent[0]["time"] + 3]  # the first storm is unavoidable at 16 in flight
    refused = sum(r["status"] == 429 for r in settled)
    assert refused / len(settled) < 0.05, f"{refused} of {len(settled)} requests met a 429 once settled: the pace did not adapt"
    # within 10% of the limit is checked on a virtual clock (tests/test_pace.py); here, on a machine that
    # may be shared, the bound is generous: a pace that stalled would fall far below it
    assert 48 / wall > 0.5 * 4, f"{48 / wall:.2f} answers/s under a limit of 4/s: the pace slowed too much"


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_interrupted_runs_keep_every_answer_and_resume_without_resending(mirror: Path, tmp_path: Path, sig: int):
    log = tmp_path / "sim.jsonl"
    store = tmp_path / "s.sqlite"
    with simulator(["math500"], mirror, 0.03, "sim-key", log=log) as url:
        args = run_args(url, tmp_path, mirror, "--concurrency", "8", limit=80)
        proc = subprocess.Popen([sys.executable, "-m", "harness", *args], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        target = random.Random(sig).randint(10, 50)
        while len(log_rows(log)) < target and proc.poll() is None:
            time.sleep(0.02)
        assert proc.poll() is None, f"the run ended before it could be interrupted: {proc.stderr.read()}"
        proc.send_signal(sig)
        assert proc.wait(timeout=60) == 130
        assert "resume" in proc.stderr.read()
        with sqlite3.connect(store) as db:
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        before = {h for h, status in stored(store).items() if status == "ok"}
        sent_before = len(log_rows(log))
        assert main(run_args(url, tmp_path, mirror, "--concurrency", "8", name="resumed", limit=80)) == 0
    assert before <= {h for h, status in stored(store).items() if status == "ok"}, "an answer was lost"
    assert not before & {r["body_sha256"] for r in log_rows(log)[sent_before:]}, "a stored answer was bought again"
    assert len(samples(tmp_path / "resumed")) == 80


def test_a_second_run_on_the_same_store_stops_and_names_the_first(mirror: Path, tmp_path: Path, capsys):
    with simulator(["math500"], mirror, 0.05, "sim-key") as url:
        first = subprocess.Popen([sys.executable, "-m", "harness", *run_args(url, tmp_path, mirror, "--concurrency", "2", limit=40)],
                                 cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        lock = tmp_path / "s.sqlite.lock"
        while not (lock.exists() and lock.read_text()) and first.poll() is None:
            time.sleep(0.05)
        assert main(run_args(url, tmp_path, mirror, name="second")) == 2
        first.send_signal(signal.SIGINT)
        first.wait(timeout=60)
    err = capsys.readouterr().err
    assert f"in use by pid {first.pid}" in err and "--store" in err


def test_the_api_key_is_written_nowhere(mirror: Path, tmp_path: Path, monkeypatch, capfd):
    log = tmp_path / "sim.jsonl"
    with simulator(["math500"], mirror, 0.001, SECRET, log=log) as url:
        monkeypatch.setenv("GLM_EVAL_SIM_KEY", SECRET)
        set_faults(url, http_500=0.3)
        assert main(run_args(url, tmp_path, mirror, "--max-attempts", "6")) == 0
        monkeypatch.setenv("GLM_EVAL_SIM_KEY", SECRET + "-wrong")
        assert main(run_args(url, tmp_path, mirror, name="refused", limit=20)) == 1
    printed = capfd.readouterr()
    assert "HTTP 401" in printed.err
    for text in (printed.out, printed.err):
        assert SECRET not in text
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert any(p.name == "samples.jsonl" for p in written) and any(p.suffix == ".sqlite" for p in written)
    for path in written:
        assert SECRET.encode() not in path.read_bytes(), f"the key was written to {path}"


BAD_INPUT = [
    (["--samples", "0"], "samples"),
    (["--top-p", "0"], "top_p"),
    (["--max-tokens", "-5"], "max_tokens"),
    (["--models", "glm-4.5,gml-4.5-air"], "unknown model 'gml-4.5-air'"),
    (["--tasks", "math500,aime2024"], "unknown task 'aime2024'"),
    (["--provider", "zia"], "unknown provider 'zia'"),
    (["--out", "/dev/null/run"], "cannot write to the results folder"),
]


@pytest.mark.parametrize("extra,message", BAD_INPUT, ids=[m for _, m in BAD_INPUT])
def test_bad_input_is_refused_before_anything_is_sent(mirror: Path, tmp_path: Path, capsys, extra, message):
    argv = ["run", "--provider", "simulated", "--models", "glm-4.5", "--tasks", "math500", "--data-dir", str(mirror),
            "--store", str(tmp_path / "s.sqlite"), "--out", str(tmp_path / "r")]
    for flag, value in zip(extra[::2], extra[1::2]):
        if flag in argv:
            argv[argv.index(flag) + 1] = value
        else:
            argv += [flag, value]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_malformed_suite_and_gated_dataset_without_token(tmp_path: Path, capsys, monkeypatch):
    suite = tmp_path / "suite.yaml"
    suite.write_text("provider: simulated\nmodels: [glm-4.5\n")
    assert main(["run", str(suite)]) == 2
    assert "malformed YAML" in capsys.readouterr().err
    monkeypatch.delenv("HF_TOKEN", raising=False)
    monkeypatch.delenv("GLM_EVAL_DATA_DIR", raising=False)
    assert main(["run", "--provider", "simulated", "--models", "glm-4.5", "--tasks", "gpqa_diamond", "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "gated" in err and "HF_TOKEN" in err and "--data-dir" in err


def test_debug_shows_the_traceback(tmp_path: Path):
    with pytest.raises(Exception, match="unknown task"):
        main(["--debug", "run", "--provider", "simulated", "--models", "glm-4.5", "--tasks", "nope", "--out", str(tmp_path / "r")])


def test_a_full_disk_stops_the_run_and_keeps_what_is_stored(mirror: Path, tmp_path: Path):
    import resource

    log = tmp_path / "sim.jsonl"
    store = tmp_path / "s.sqlite"
    limit_bytes = 400_000  # room for a few dozen answers, then every write fails as on a full disk

    def small_disk() -> None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit then fails with EFBIG
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit_bytes, limit_bytes))

    with simulator(["math500"], mirror, 0.001, "sim-key", log=log) as url:
        args = run_args(url, tmp_path, mirror, "--concurrency", "4", limit=200)
        proc = subprocess.run([sys.executable, "-m", "harness", *args], cwd=REPO, capture_output=True, text=True,
                              preexec_fn=small_disk, timeout=300)
        assert proc.returncode in (1, 2), proc.stderr  # 1: stopped and reported; 2: even the results could not be written
        assert "Traceback" not in proc.stderr and "free some space" in proc.stderr
        with sqlite3.connect(store) as db:
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        kept = {h for h, status in stored(store).items() if status == "ok"}
        assert 0 < len(kept) < 200
        sent_before = len(log_rows(log))
        assert main(run_args(url, tmp_path, mirror, "--concurrency", "4", name="resumed", limit=200)) == 0
    assert not kept & {r["body_sha256"] for r in log_rows(log)[sent_before:]}, "a stored answer was bought again"
    assert len(samples(tmp_path / "resumed")) == 200
