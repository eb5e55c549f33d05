"""What a new user meets first (issue 14): honest labels for the built-in sample, and a folder the
user named that does not exist is an error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli import main
from harness.simproc import simulator
from harness.tasks import SAMPLE_TASK, load_task


def test_the_built_in_sample_is_its_own_task_never_math500(tmp_path: Path, monkeypatch):
    monkeypatch.delenv("GLM_EVAL_DATA_DIR", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    task = load_task("math500", None, allow_builtin_sample=True)
    assert task.id == SAMPLE_TASK and task.provenance["instead_of"] == "math500" and len(task.items) == 20
    assert main(["demo", "--out", str(tmp_path / "demo")]) == 0
    summary = (tmp_path / "demo" / "report" / "summary.md").read_text()
    assert "MATH-style sample (built in)" in summary
    assert "| MATH-500" not in summary and "published 98.2" not in summary
    rows = [json.loads(line) for line in (tmp_path / "demo" / "samples.jsonl").read_text().splitlines()]
    assert {r["task"] for r in rows} == {SAMPLE_TASK}


@pytest.mark.parametrize("how", ["flag", "env"])
def test_a_misspelt_data_dir_is_an_error_not_a_fallback(tmp_path: Path, monkeypatch, capsys, how: str):
    missing = tmp_path / "no-such-mirror"
    args = ["demo", "--out", str(tmp_path / "demo")]
    if how == "flag":
        args += ["--data-dir", str(missing)]
    else:
        monkeypatch.setenv("GLM_EVAL_DATA_DIR", str(missing))
    assert main(args) == 2
    assert "no such folder" in capsys.readouterr().err


def test_sim_reads_the_mirror_from_glm_eval_data_dir(mirror: Path, monkeypatch):
    monkeypatch.setenv("GLM_EVAL_DATA_DIR", str(mirror))
    with simulator(["aime24"], None, 0.001, "sim-key") as url:  # no --data-dir: the environment names the mirror
        assert url.startswith("http://127.0.0.1:")


def test_a_grading_pool_that_cannot_start_fails_the_run(mirror: Path, tmp_path: Path):
    """A script without a `__main__` guard: the grading workers re-run it as they start, and fail.
    Before, every math verdict became an error scored wrong and the run exited 0."""
    import subprocess
    import sys

    script = tmp_path / "script.py"
    script.write_text(
        "import sys\nfrom harness.cli import main\n"
        f"sys.exit(main(['run', '--provider', 'simulated', '--models', 'glm-4.5', '--tasks', 'math500', '--limit', '3', "
        f"'--samples', '1', '--data-dir', {str(mirror)!r}, '--out', {str(tmp_path / 'r')!r}, '--store', {str(tmp_path / 's.sqlite')!r}, "
        f"'--no-report']))\n"
    )
    done = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1
    assert 'if __name__ == "__main__":' in done.stderr and "grading failed" in done.stderr


def test_unverified_prices_are_marked_in_the_tables(tmp_path: Path, monkeypatch):
    monkeypatch.delenv("GLM_EVAL_DATA_DIR", raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert main(["demo", "--out", str(tmp_path / "demo")]) == 0
    summary = (tmp_path / "demo" / "report" / "summary.md").read_text()
    marked = {line.split("|")[1].strip() for line in summary.splitlines() if line.startswith("| glm-") and "†" in line}
    assert marked == {"glm-4.5-airx", "glm-4.5-flash"}, "the two rows configs/prices.yaml calls unverified, and only they"
    assert "† the price is unverified" in summary
