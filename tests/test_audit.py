"""The provider audit: one plan through several providers, each paired with the first.

End to end against the simulator's provider profiles (configs/simulator.yaml, `providers`), whose
differences are planted and known: a quantized host 10 points worse, a host that ignores the
thinking switch, one that drops usage. The audit must find what was planted and nothing else.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from harness.audit.analysis import verdict
from harness.cli import main
from harness.errors import UserError
from harness.plan import request_key
from harness.providers import Route, Sampling, resolve_provider
from harness.store import Store


def test_verdicts_say_what_the_interval_shows():
    assert verdict(-0.08, -0.12, -0.04, 0.02, 5) == "worse by at least 4.0 points"
    assert verdict(0.06, 0.02, 0.10, 0.02, 5) == "better by at least 2.0 points"
    assert verdict(0.0, -0.03, 0.03, 0.015, 5) == "indistinguishable (within ±5 points)"
    assert verdict(-0.02, -0.09, 0.05, 0.035, 5) == "too few items to tell (could be 9.0 points worse)"
    assert verdict(0.0, 0.0, 0.0, 0.0, 5).startswith("no difference seen")
    assert verdict(np.nan, np.nan, np.nan, np.nan, 5) == "too few items to tell"


def test_pinning_an_openrouter_host_routes_without_fallbacks_and_keys_apart():
    anywhere = resolve_provider("openrouter")
    pinned = resolve_provider("openrouter@deepinfra")
    assert pinned.preset == "openrouter" and pinned.host == "deepinfra"
    body = pinned.body("z-ai/glm-4.5-air", [{"role": "user", "content": "1+1?"}], Sampling(), seed=1)
    assert body["provider"] == {"order": ["deepinfra"], "allow_fallbacks": False}
    assert "provider" not in anywhere.body("z-ai/glm-4.5-air", [{"role": "user", "content": "1+1?"}], Sampling(), seed=1)
    assert request_key(pinned, body, 0, 0) != request_key(anywhere, {k: v for k, v in body.items() if k != "provider"}, 0, 0)
    fp8 = resolve_provider("openrouter", route=Route(quantizations=["fp8"], allow_fallbacks=False))
    assert fp8.route == {"allow_fallbacks": False, "quantizations": ["fp8"]}


def test_routing_is_refused_where_the_provider_does_not_route():
    with pytest.raises(UserError, match="routes to no other hosts"):
        resolve_provider("zai@deepinfra")
    with pytest.raises(UserError, match="routes to no other hosts"):
        resolve_provider("zai", route=Route(order=["x"]))
    with pytest.raises(UserError, match="name the host"):
        resolve_provider("openrouter@")


def test_a_store_written_before_the_served_columns_gains_them(tmp_path: Path):
    path = tmp_path / "old.sqlite"
    db = sqlite3.connect(path)
    db.execute("CREATE TABLE responses (key TEXT PRIMARY KEY, provider TEXT NOT NULL, model_id TEXT NOT NULL, request TEXT NOT NULL, "
               "status TEXT NOT NULL, content TEXT, reasoning TEXT, finish_reason TEXT, prompt_tokens INTEGER, completion_tokens INTEGER, "
               "reasoning_tokens INTEGER, latency_s REAL, ttft_s REAL, attempts INTEGER NOT NULL, error TEXT, created_at REAL NOT NULL)")
    db.execute("INSERT INTO responses VALUES ('k', 'zai', 'glm-4.5', '{}', 'ok', '42', '', 'stop', 1, 2, 0, 0.1, 0.05, 1, NULL, 0)")
    db.commit()
    db.close()
    with Store(path) as store:
        row = store.get("k")
    assert row is not None and row.content == "42" and row.served_by is None and row.served_model is None


def _audit(tmp_path: Path, mirror: Path, providers: str, *extra: str) -> int:
    return main([
        "audit", "--providers", providers, "--models", "glm-4.5-air", "--tasks", "math500", "--limit", "200", "--samples", "1",
        "--data-dir", str(mirror), "--out", str(tmp_path / "audit"), "--store", str(tmp_path / "store.sqlite"), *extra,
    ])


def test_an_audit_finds_the_planted_differences_and_nothing_else(tmp_path: Path, mirror: Path, capsys):
    providers = "simulated@faithful,simulated@int4,simulated@ignores-thinking,simulated@no-usage"
    assert _audit(tmp_path, mirror, providers) == 0
    out = capsys.readouterr().out
    audit = tmp_path / "audit"
    rows = {r["provider"]: r for r in pd.read_csv(audit / "report" / "providers.csv").to_dict("records")}
    assert rows["simulated@int4"]["verdict"].startswith("worse by at least"), "a host 10 points worse is found"
    for clean in ("simulated@ignores-thinking", "simulated@no-usage"):
        assert not rows[clean]["verdict"].startswith(("worse", "better")), f"{clean} answers as well as the reference"
    assert "simulated@ignores-thinking (glm-4.5-air) ignores the thinking switch" in out
    assert "simulated@no-usage (glm-4.5-air) sends no usage" in out
    samples = pd.read_json(audit / "simulated@int4" / "samples.jsonl", lines=True)
    assert set(samples["served_by"]) == {"Int4Host"} and set(samples["served_model"]) == {"glm-4.5-air"}
    quiet = pd.read_json(audit / "simulated@no-usage" / "samples.jsonl", lines=True)
    assert quiet["completion_tokens"].isna().all(), "a host that drops usage is unknown, never 0"
    report = (audit / "report" / "summary.md").read_text()
    assert "## Providers" in report and "(SIMULATED)" in report
    for chart in ("provider_differences", "provider_accuracy_latency"):
        assert (audit / "report" / "charts" / f"{chart}.png").stat().st_size > 10_000

    # Nothing is paid twice: the same audit again sends nothing, to any provider.
    assert _audit(tmp_path, mirror, providers) == 0
    for name in providers.split(","):
        manifest = json.loads((audit / name / "manifest.json").read_text())
        assert manifest["totals"]["requests_sent"] == 0
        assert manifest["provider"]["host"] == name.split("@")[1]

    # The gate: the quantized host is worse by more than 1 point, so the check fails; the others pass.
    assert main(["check", str(audit), "--tolerance", "1"]) == 1
    check = (audit / "check.md").read_text()
    assert "FAILED" in check and "glm-4.5-air @ simulated@int4" in check


def test_the_gate_passes_providers_that_match_the_reference(tmp_path: Path, mirror: Path):
    assert _audit(tmp_path, mirror, "simulated@faithful,simulated@slow") == 0
    assert main(["check", str(tmp_path / "audit"), "--tolerance", "5"]) == 0
    assert "passed" in (tmp_path / "audit" / "check.md").read_text()


def test_an_audit_checks_every_provider_before_sending_to_any(tmp_path: Path, mirror: Path, monkeypatch, capsys):
    monkeypatch.delenv("ZAI_API_KEY", raising=False)
    assert _audit(tmp_path, mirror, "simulated@faithful,zai") == 2
    err = capsys.readouterr().err
    assert "provider zai" in err and "ZAI_API_KEY" in err
    assert not (tmp_path / "store.sqlite").exists(), "nothing was sent to the first provider"


def test_check_of_a_run_folder_still_needs_a_baseline(tmp_path: Path, capsys):
    (tmp_path / "run").mkdir()
    assert main(["check", str(tmp_path / "run")]) == 2
    assert "--baseline" in capsys.readouterr().err


def test_a_simulated_aggregator_routes_by_the_request_and_the_report_breaks_it_down_by_host(tmp_path: Path, mirror: Path, capsys):
    common = ["--models", "glm-4.5-air", "--tasks", "math500", "--limit", "60", "--samples", "1", "--data-dir", str(mirror),
              "--store", str(tmp_path / "store.sqlite"), "--no-report"]
    assert main(["run", "--provider", "simulated@router", "--out", str(tmp_path / "any"), *common]) == 0
    assert set(pd.read_json(tmp_path / "any" / "samples.jsonl", lines=True)["served_by"]) == {"FaithfulHost", "Fp8Host", "Int4Host"}
    assert main(["run", "--provider", "simulated@router", "--route-order", "int4", "--no-fallbacks", "--out", str(tmp_path / "pinned"), *common]) == 0
    assert set(pd.read_json(tmp_path / "pinned" / "samples.jsonl", lines=True)["served_by"]) == {"Int4Host"}
    assert main(["run", "--provider", "simulated@router", "--quantizations", "fp8", "--out", str(tmp_path / "fp8"), *common]) == 0
    assert set(pd.read_json(tmp_path / "fp8" / "samples.jsonl", lines=True)["served_by"]) == {"Fp8Host"}
    capsys.readouterr()
    assert main(["run", "--provider", "simulated@router", "--route-order", "nowhere", "--no-fallbacks", "--out", str(tmp_path / "none"), *common]) == 1
    assert "the routing preferences leave no upstream host" in capsys.readouterr().err

    assert main(["report", str(tmp_path / "pinned"), str(tmp_path / "any"), "--out", str(tmp_path / "report")]) == 0
    summary = (tmp_path / "report" / "summary.md").read_text()
    hosts = summary[summary.index("### Accuracy by the upstream host"):]
    assert all(name in hosts for name in ("FaithfulHost", "Fp8Host", "Int4Host"))
