"""Shared fixtures. Tests talk only to loopback; the real benchmark sets come from the mirror
beside the repository (../shared/data), and tests that need it skip, saying why, when it is absent."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

# No test reaches the hub (loopback only). `datasets` reads this once, when it is first imported, so
# it is set here, before any test imports it: a test that sets it later would find `datasets`
# already online and waiting out its retries.
os.environ["HF_HUB_OFFLINE"] = "1"

REPO = Path(__file__).resolve().parent.parent
MIRROR = Path(os.environ.get("GLM_EVAL_TEST_MIRROR", REPO.parent / "shared" / "data"))

# End-to-end modules: they run glm-eval's commands, start the simulator or another server, or spawn
# processes (grading workers, a built wheel, a browser, a fresh interpreter). Every other test is a
# unit test: in one process, on data in memory or in a temporary folder (`pytest -m unit`).
E2E_MODULES = frozenset({
    "test_audit", "test_batch", "test_bench_probe", "test_boundaries", "test_budget", "test_cli", "test_client",
    "test_examples", "test_faults", "test_first_minutes", "test_gate", "test_gate_adaptive", "test_gate_history",
    "test_graders_labelled", "test_graders_pool", "test_graders_real_outputs", "test_judge", "test_provider_formats", "test_real_vllm",
    "test_regrade_second_opinion", "test_report_browser", "test_report_cli", "test_run_e2e", "test_simulator", "test_simulator_providers",
    "test_user_task", "test_wheel", "test_zaikit",
})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        item.add_marker(pytest.mark.e2e if item.path.stem in E2E_MODULES else pytest.mark.unit)


@pytest.fixture(scope="session")
def mirror() -> Path:
    if not (MIRROR / "HuggingFaceH4" / "MATH-500" / "test.jsonl").exists():
        pytest.skip(f"the real benchmark mirror is absent ({MIRROR}); set GLM_EVAL_TEST_MIRROR to a folder laid out <hub-id>/<file>")
    return MIRROR
