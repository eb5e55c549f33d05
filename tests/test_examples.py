"""The example GitHub Actions workflow does what its comments say (issue 14, item 7): its shell
steps run here with the shell GitHub uses (`bash --noprofile --norc -eo pipefail`), glm-eval
replaced by a stand-in that exits with the codes a test gives."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parent.parent
WORKFLOW = REPO / "examples" / "github-actions.yml"


def step(name: str) -> str:
    steps = yaml.safe_load(WORKFLOW.read_text())["jobs"]["smoke"]["steps"]
    return next(s["run"] for s in steps if s.get("name") == name)


def run_step(script: str, codes: list[int], tmp_path: Path) -> tuple[int, list[str]]:
    """Run `script` with a fake glm-eval that exits with codes[0], codes[1], ... in turn."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (tmp_path / "codes").write_text("\n".join(map(str, codes)) + "\n")
    fake = bin_dir / "glm-eval"
    fake.write_text(
        "#!/usr/bin/env bash\n"
        f'echo "$*" >> {tmp_path}/calls\n'
        f"code=$(head -n1 {tmp_path}/codes); sed -i 1d {tmp_path}/codes; exit ${{code:-0}}\n"
    )
    fake.chmod(0o755)
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "RUN": str(tmp_path / "run")}
    done = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script], env=env, capture_output=True, text=True)
    calls = (tmp_path / "calls").read_text().splitlines() if (tmp_path / "calls").exists() else []
    return done.returncode, calls


@pytest.mark.parametrize(
    "codes, status, runs",
    [([0], 0, 1), ([1, 0], 0, 2), ([1, 1], 1, 2), ([2], 2, 1), ([130], 130, 1)],
    ids=["complete", "retry-completes", "retry-still-incomplete", "bad-input-not-retried", "interrupted"],
)
def test_the_run_step_retries_an_incomplete_run_once(tmp_path: Path, codes: list[int], status: int, runs: int):
    code, calls = run_step(step("Run the smoke suite"), codes, tmp_path)
    assert (code, len(calls)) == (status, runs)
    assert all(c.startswith("run configs/suites/smoke.yaml") for c in calls)


@pytest.mark.parametrize("code", [0, 1, 2])
def test_the_check_step_passes_the_gates_exit_code_through(tmp_path: Path, code: int):
    got, calls = run_step(step("Check against the baseline"), [code], tmp_path)
    assert got == code and calls[0].startswith("check ")
