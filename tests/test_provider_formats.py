"""What real providers send beyond a clean answer, end to end against the simulated endpoint:
in-band failures, content filters, Z.ai's business error codes, usage only when asked, a server's
context limit and a wrong address. Each case is one of issue 13's, and each failed on the harness
before the outcomes had one classification.

The promise checked throughout: a score moves only for the model's reasons. A failure is never
graded, a refusal is counted apart, an error that cannot pass is not paid for six times, and a
rerun sends exactly what has no usable answer.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from test_faults import log_rows, run_args, samples, set_faults

from harness.cli import main
from harness.config import load_providers
from harness.simproc import simulator


@pytest.fixture()
def sim(mirror: Path, tmp_path: Path):
    log = tmp_path / "sim.jsonl"
    with simulator(["math500"], mirror, 0.001, "sim-key", log=log) as url:
        yield url, log


def manifest(run: Path) -> dict:
    return json.loads((run / "manifest.json").read_text())


@pytest.mark.parametrize(
    "fault, reason",
    [
        ("finish_error", "finish_reason 'error'"),
        ("finish_abort", "finish_reason 'abort'"),
        ("finish_network_error", "finish_reason 'network_error'"),
        ("stream_error_chunk", "reported an error part-way"),
        ("no_finish_reason", "without a finish reason"),
    ],
)
def test_in_band_failures_are_retried_never_graded_and_a_rerun_sends_only_them(sim, mirror: Path, tmp_path: Path, fault: str, reason: str):
    url, log = sim
    set_faults(url, **{fault: 0.5})
    assert main(run_args(url, tmp_path, mirror, "--max-attempts", "1", limit=12)) == 1
    rows = samples(tmp_path / "r")
    failed = [r for r in rows if r["status"] == "failed"]
    assert failed and len(failed) < len(rows), "about half the items met the fault"
    assert all(reason in r["error"] and r["correct"] is False and r["response"] is None for r in failed)
    assert all(r["status"] == "ok" for r in rows if r not in failed)
    sent = len(log_rows(log))
    set_faults(url)
    assert main(run_args(url, tmp_path, mirror, name="again", limit=12)) == 0
    assert len(log_rows(log)) - sent == len(failed), "the rerun sends the failed ones and nothing else"
    assert all(r["status"] == "ok" for r in samples(tmp_path / "again"))


def test_an_in_band_failure_is_retried_until_it_passes(sim, mirror: Path, tmp_path: Path):
    url, log = sim
    set_faults(url, finish_error=0.3, stream_error_chunk=0.2)
    assert main(run_args(url, tmp_path, mirror, "--max-attempts", "12")) == 0
    rows = samples(tmp_path / "r")
    assert all(r["status"] == "ok" and r["finish_reason"] == "stop" for r in rows)
    assert any(r["attempts"] > 1 for r in rows)


@pytest.mark.parametrize("fault", ["sensitive", "zai_1301"])
def test_content_flagged_is_its_own_status_and_the_model_goes_on(sim, mirror: Path, tmp_path: Path, capsys, fault: str):
    url, log = sim
    set_faults(url, **{fault: 0.4})
    assert main(run_args(url, tmp_path, mirror, "--concurrency", "2", limit=12)) == 1
    rows = samples(tmp_path / "r")
    flagged = [r for r in rows if r["status"] == "filtered"]
    assert flagged and all(r["status"] == "ok" for r in rows if r not in flagged), "one flagged item stops nothing"
    assert all(r["attempts"] == 1 for r in flagged), "a refusal is not retried"
    assert "content filter" in capsys.readouterr().err
    sent = len(log_rows(log))
    assert main(run_args(url, tmp_path, mirror, name="again", limit=12)) == 1
    assert len(log_rows(log)) == sent, "a flagged item is kept, not bought again"
    set_faults(url)
    assert main(run_args(url, tmp_path, mirror, "--resend-filtered", name="resent", limit=12)) == 0
    assert len(log_rows(log)) - sent == len(flagged), "--resend-filtered sends the flagged items and nothing else"
    assert all(r["status"] == "ok" for r in samples(tmp_path / "resent"))


def test_filtered_share_is_shown_beside_truncated_and_failed(sim, mirror: Path, tmp_path: Path):
    url, _ = sim
    set_faults(url, sensitive=0.5)
    main(run_args(url, tmp_path, mirror, limit=12)[:-1])  # with the report
    report = (tmp_path / "r" / "report" / "summary.md").read_text()
    assert "filtered %" in report
    import pandas as pd  # noqa: PLC0415

    figures = pd.read_csv(tmp_path / "r" / "report" / "figures.csv")
    rows = samples(tmp_path / "r")
    share = figures.loc[figures["task"] == "math500", "filtered_share"].dropna().iloc[0]
    assert share == pytest.approx(sum(r["status"] == "filtered" for r in rows) / len(rows))


def test_insufficient_balance_stops_the_run_at_once_with_what_to_do(sim, mirror: Path, tmp_path: Path, capsys):
    url, log = sim
    set_faults(url, zai_1113=1.0)
    assert main(run_args(url, tmp_path, mirror, "--concurrency", "4", limit=40)) == 1
    sent = log_rows(log)
    assert len(sent) <= 4, "no request is retried, and no new one is sent once the balance is out"
    err = capsys.readouterr().err
    assert "recharge the account" in err and "1113" in err
    rows = samples(tmp_path / "r")
    assert all(r["status"] == "failed" for r in rows)


@pytest.mark.parametrize("fault, cause", [("zai_1302", "rate limit"), ("zai_1303", "concurrency limit"), ("zai_1305", "overloaded")])
def test_rate_and_overload_codes_are_retried_and_the_final_message_names_the_cause(sim, mirror: Path, tmp_path: Path, fault: str, cause: str):
    url, log = sim
    set_faults(url, **{fault: 1.0})
    assert main(run_args(url, tmp_path, mirror, "--max-attempts", "2", limit=3)) == 1
    rows = samples(tmp_path / "r")
    assert all(r["status"] == "failed" and r["attempts"] == 2 and cause in r["error"] for r in rows)
    assert len(log_rows(log)) == 6


def test_model_not_found_code_says_check_models_and_is_not_retried(sim, mirror: Path, tmp_path: Path, capsys):
    url, log = sim
    set_faults(url, zai_1211=1.0)
    assert main(run_args(url, tmp_path, mirror, "--concurrency", "1", limit=5)) == 1
    err = capsys.readouterr().err
    assert "check --models" in err and "--max-tokens" not in err
    assert len(log_rows(log)) == 1


def test_cometapi_invalid_request_500_is_not_retried(sim, mirror: Path, tmp_path: Path, capsys):
    url, log = sim
    set_faults(url, cometapi_invalid_500=1.0)
    assert main(run_args(url, tmp_path, mirror, "--concurrency", "1", limit=5)) == 1
    assert len(log_rows(log)) == 1, "one answer says it: the request is invalid"
    assert "the request is invalid" in capsys.readouterr().err


def test_usage_is_asked_for_on_streams_and_recorded(mirror: Path, tmp_path: Path):
    log = tmp_path / "sim.jsonl"
    with simulator(["math500"], mirror, 0.001, "sim-key", log=log, options=["--stream-usage", "when_asked"]) as url:
        assert main(run_args(url, tmp_path, mirror, limit=4)) == 0
    rows = samples(tmp_path / "r")
    assert all(r["completion_tokens"] and r["prompt_tokens"] for r in rows)
    assert manifest(tmp_path / "r")["totals"]["completion_tokens"] == sum(r["completion_tokens"] for r in rows)


def test_usage_never_sent_is_unknown_never_zero(mirror: Path, tmp_path: Path, monkeypatch, capsys):
    presets = load_providers()
    presets["simulated"] = presets["simulated"].model_copy(update={"stream_usage": False})
    monkeypatch.setattr("harness.providers.load_providers", lambda: presets)
    with simulator(["math500"], mirror, 0.001, "sim-key", options=["--stream-usage", "when_asked"]) as url:
        assert main(run_args(url, tmp_path, mirror, limit=4)[:-1]) == 0
    totals = manifest(tmp_path / "r")["totals"]
    assert totals["completion_tokens"] is None and totals["prompt_tokens"] is None
    out = capsys.readouterr()
    assert "unknown" in out.err
    report = (tmp_path / "r" / "report" / "summary.md").read_text()
    assert "| unknown" in report or "unknown |" in report


def test_a_context_limit_is_read_first_and_max_tokens_capped_saying_so(mirror: Path, tmp_path: Path, monkeypatch, capsys):
    monkeypatch.setenv("GLM_EVAL_SIM_KEY", "sim-key")
    log = tmp_path / "sim.jsonl"
    with simulator(["math500"], mirror, 0.001, "sim-key", log=log, options=["--max-model-len", "4096"]) as url:
        args = ["run", "--base-url", url, "--api-key-env", "GLM_EVAL_SIM_KEY", "--models", "glm-4.5", "--tasks", "math500",
                "--limit", "4", "--samples", "1", "--data-dir", str(mirror), "--store", str(tmp_path / "s.sqlite"),
                "--out", str(tmp_path / "r"), "--no-report"]
        assert main(args) == 0
    note = capsys.readouterr().out
    assert "max_tokens capped from 81920" in note
    m = manifest(tmp_path / "r")
    assert m["sampling"]["max_tokens"] < 4096 and m["server"]["max_model_len"]["glm-4.5"] == 4096
    assert any("capped" in n for n in m["notes"])
    with sqlite3.connect(tmp_path / "s.sqlite") as db:
        sent = [json.loads(r[0])["max_tokens"] for r in db.execute("SELECT request FROM responses")]
    assert sent == [m["sampling"]["max_tokens"]] * 4 and all(r["status"] == "ok" for r in samples(tmp_path / "r"))


def test_a_too_large_max_tokens_400_without_preflight_stops_the_model_with_the_flag(mirror: Path, tmp_path: Path, capsys):
    log = tmp_path / "sim.jsonl"
    with simulator(["math500"], mirror, 0.001, "sim-key", log=log, options=["--max-model-len", "4096"]) as url:
        assert main(run_args(url, tmp_path, mirror, "--concurrency", "1", limit=4)) == 1
    assert "lower --max-tokens" in capsys.readouterr().err
    assert len(log_rows(log)) == 1


def test_a_model_the_server_does_not_serve_is_refused_before_sending(mirror: Path, tmp_path: Path, monkeypatch, capsys):
    monkeypatch.setenv("GLM_EVAL_SIM_KEY", "sim-key")
    log = tmp_path / "sim.jsonl"
    with simulator(["math500"], mirror, 0.001, "sim-key", log=log) as url:
        args = ["run", "--base-url", url, "--api-key-env", "GLM_EVAL_SIM_KEY", "--models", "tiny", "--tasks", "math500",
                "--limit", "2", "--data-dir", str(mirror), "--out", str(tmp_path / "r"), "--store", str(tmp_path / "s.sqlite")]
        assert main(args) == 2
    err = capsys.readouterr().err
    assert "does not serve tiny" in err and "glm-4.5" in err
    assert not log_rows(log)


@pytest.mark.parametrize("path", ["", "/api"])
def test_a_base_url_missing_its_path_is_refused_at_the_preflight(mirror: Path, tmp_path: Path, monkeypatch, capsys, path: str):
    monkeypatch.setenv("GLM_EVAL_SIM_KEY", "sim-key")
    log = tmp_path / "sim.jsonl"
    with simulator(["math500"], mirror, 0.001, "sim-key", log=log) as url:
        args = ["run", "--base-url", url.removesuffix("/v1") + path, "--api-key-env", "GLM_EVAL_SIM_KEY", "--models", "glm-4.5",
                "--tasks", "math500", "--limit", "2", "--data-dir", str(mirror), "--out", str(tmp_path / "r"), "--store", str(tmp_path / "s.sqlite")]
        assert main(args) == 2
    assert "missing its path" in capsys.readouterr().err
    assert not log_rows(log)


def test_a_web_page_from_a_preset_without_preflight_stops_the_run_after_one_answer(mirror: Path, tmp_path: Path, capsys):
    log = tmp_path / "sim.jsonl"
    with simulator(["math500"], mirror, 0.001, "sim-key", log=log) as url:
        assert main(run_args(url.removesuffix("/v1"), tmp_path, mirror, "--concurrency", "1", limit=6)) == 1
    err = capsys.readouterr().err
    assert "web page" in err and "--base-url" in err


def test_probe_reports_what_the_server_does(mirror: Path, tmp_path: Path, monkeypatch, capsys):
    monkeypatch.setenv("GLM_EVAL_SIM_KEY", "sim-key")
    out = tmp_path / "probe.json"
    with simulator(["math500"], mirror, 0.001, "sim-key", options=["--stream-usage", "when_asked", "--max-model-len", "8192",
                                                                  "--reasoning-format", "think_tags"]) as url:
        code = main(["probe", "--base-url", url, "--api-key-env", "GLM_EVAL_SIM_KEY", "--models", "glm-4.5,tiny", "--json", str(out)])
    assert code == 1, "a model id the server lacks is a failed probe"
    found = json.loads(out.read_text())
    good = found["glm-4.5"]["findings"]
    assert good["answers"] == "yes" and good["listed in /models"] == "yes" and good["context"] == "8,192"
    assert good["reasoning field"] == "<think> tags" and good["usage, streamed"] == "yes"
    assert good["reasoning tokens"] == "not counted", "think tags come with no reasoning-token breakdown"
    assert found["tiny"]["findings"]["answers"].startswith("no: HTTP 404")
    assert "glm-4.5" in capsys.readouterr().out


def test_probe_sees_usage_missing_from_streams_when_not_asked(mirror: Path, tmp_path: Path, monkeypatch):
    presets = load_providers()
    presets["simulated"] = presets["simulated"].model_copy(update={"stream_usage": False})
    monkeypatch.setattr("harness.providers.load_providers", lambda: presets)
    out = tmp_path / "probe.json"
    with simulator(["math500"], mirror, 0.001, "sim-key", options=["--stream-usage", "when_asked"]) as url:
        assert main(["probe", "--provider", "simulated", "--base-url", url, "--models", "glm-4.5", "--json", str(out)]) == 0
    findings = json.loads(out.read_text())["glm-4.5"]["findings"]
    assert findings["usage, streamed"] == "NO" and findings["usage, whole"] == "yes"
    assert findings["thinking on"] == "reasoning" and findings["thinking off"] == "no reasoning"


def test_a_run_that_probes_first_records_it_in_the_manifest(sim, mirror: Path, tmp_path: Path):
    url, log = sim
    assert main(run_args(url, tmp_path, mirror, "--probe", limit=2)) == 0
    probe = manifest(tmp_path / "r")["probe"]["glm-4.5"]
    assert probe["findings"]["answers"] == "yes" and probe["thinking_on"]["ok"]
    assert len(log_rows(log)) == 2 + 3, "three probe requests, then the run's two"


def test_a_simulator_reached_by_base_url_is_marked_simulated_from_what_it_says(sim, mirror: Path, tmp_path: Path, monkeypatch):
    url, _ = sim
    monkeypatch.setenv("GLM_EVAL_SIM_KEY", "sim-key")
    args = ["run", "--base-url", url, "--api-key-env", "GLM_EVAL_SIM_KEY", "--models", "glm-4.5", "--tasks", "math500",
            "--limit", "2", "--samples", "1", "--data-dir", str(mirror), "--store", str(tmp_path / "s.sqlite"), "--out", str(tmp_path / "r")]
    assert main(args) == 0
    m = manifest(tmp_path / "r")
    assert m["simulated"] is True and "X-GLM-Eval-Simulator" in m["simulated_because"]
    assert "SIMULATED" in (tmp_path / "r" / "report" / "summary.md").read_text()


def test_dry_run_needs_no_api_key(mirror: Path, monkeypatch, capsys):
    monkeypatch.delenv("ZAI_API_KEY", raising=False)
    assert main(["run", "--provider", "zai", "--models", "glm-4.5", "--tasks", "math500", "--limit", "2", "--data-dir", str(mirror), "--dry-run"]) == 0
    assert "ZAI_API_KEY" not in capsys.readouterr().err
