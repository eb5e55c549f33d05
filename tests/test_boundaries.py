"""Which parts of the package may import which: checked in a fresh interpreter, where sys.modules
shows everything an import pulled in."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import harness

SIMULATOR = "harness.simulator"


def _imported_after(modules: list[str]) -> set[str]:
    code = f"import importlib, json, sys\nfor m in {modules!r}: importlib.import_module(m)\nprint(json.dumps(sorted(sys.modules)))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120)
    return set(json.loads(done.stdout))


def test_a_real_run_imports_no_simulator_module() -> None:
    """Everything outside the simulator (the cli, the run, the report, the gate, the audit) can be
    imported without it: a run against a real provider starts no part of the test double."""
    modules = [m.name for m in pkgutil.walk_packages(harness.__path__, "harness.") if not m.name.startswith(SIMULATOR) and m.name != "harness.__main__"]
    assert "harness.evaluate" in modules and "harness.report.build" in modules
    loaded = _imported_after(modules)
    assert not {m for m in loaded if m == SIMULATOR or m.startswith(SIMULATOR + ".")}


def test_the_simulator_does_not_grade_with_the_graders() -> None:
    """The simulator answers judge prompts by its own rules: a double that graded with the code
    under test could not catch that code's mistakes."""
    loaded = _imported_after([SIMULATOR, f"{SIMULATOR}.server"])
    assert not {m for m in loaded if m.startswith("harness.graders")}


def test_the_gate_reads_runs_without_the_report() -> None:
    """The gate and the report share the run records (harness.runs), not each other's internals."""
    loaded = _imported_after(["harness.gate.commands", "harness.gate.check", "harness.gate.trend", "harness.gate.summary"])
    assert not {m for m in loaded if m.startswith("harness.report")}
