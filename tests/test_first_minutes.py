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
    task = load_task("math500", None, allow_builtin_sample=True)
    assert task.id == SAMPLE_TASK and task.provenance.instead_of == "math500" and len(task.items) == 20
    assert main(["demo", "--out", str(tmp_path / "demo"), "--limit", "5"]) == 0
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
    assert main(["demo", "--out", str(tmp_path / "demo"), "--limit", "5"]) == 0
    summary = (tmp_path / "demo" / "report" / "summary.md").read_text()
    marked = {line.split("|")[1].strip() for line in summary.splitlines() if line.startswith("| glm-") and "†" in line}
    assert marked == {"glm-4.5-airx", "glm-4.5-flash"}, "the two rows configs/prices.yaml calls unverified, and only they"
    assert "† the price is unverified" in summary


def _run(mirror: Path, out: Path, store: Path) -> list[str]:
    return ["run", "--provider", "simulated", "--models", "glm-4.5", "--tasks", "math500", "--limit", "2", "--samples", "1",
            "--data-dir", str(mirror), "--store", str(store), "--out", str(out), "--no-report"]


def test_an_empty_or_damaged_store_is_refused_with_how_to_recover(mirror: Path, tmp_path: Path, capsys):
    empty = tmp_path / "empty.sqlite"
    empty.touch()
    assert main(_run(mirror, tmp_path / "a", empty)) == 2
    assert "is empty (0 bytes)" in capsys.readouterr().err and empty.stat().st_size == 0, "refused, and left as it was"
    damaged = tmp_path / "damaged.sqlite"
    damaged.write_bytes(b"not a database, " * 400)
    assert main(_run(mirror, tmp_path / "b", damaged)) == 2
    assert ".recover" in capsys.readouterr().err


def test_an_unwritable_store_is_one_line(mirror: Path, tmp_path: Path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("a file where the store's folder should be")
    assert main(_run(mirror, tmp_path / "a", blocker / "s.sqlite")) == 2
    assert "give a writable --store" in capsys.readouterr().err


def test_regrade_grade_and_report_refuse_what_they_cannot_read(mirror: Path, tmp_path: Path, capsys):
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "manifest.json").write_text("{}")
    assert main(["regrade", str(folder)]) == 2 and "no samples.jsonl" in capsys.readouterr().err
    assert main(["grade", str(folder), "--grader", "math"]) == 2 and "a folder" in capsys.readouterr().err
    assert main(_run(mirror, tmp_path / "r", tmp_path / "s.sqlite")) == 0
    samples = tmp_path / "r" / "samples.jsonl"
    samples.write_text(samples.read_text().replace('"status": "ok"', '"status": "weird"'))
    capsys.readouterr()
    assert main(["report", str(tmp_path / "r")]) == 2 and "status weird" in capsys.readouterr().err


def test_sim_on_a_busy_port_or_with_broken_profiles_is_one_line(tmp_path: Path, mirror: Path, capsys):
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["sim", "--port", str(port), "--data-dir", str(mirror)]) == 2
    assert "give another --port" in capsys.readouterr().err
    profiles = tmp_path / "bad.yaml"
    profiles.write_text("variants: [\n")
    assert main(["sim", "--port", "0", "--profiles", str(profiles), "--data-dir", str(mirror)]) == 2
    assert "not valid YAML" in capsys.readouterr().err


def test_the_python_api_runs_an_evaluation_and_returns_its_tables(mirror: Path, tmp_path: Path):
    """The README's example, as written there (with the test's folders)."""
    from harness import api

    results = api.run(provider="simulated", models="glm-4.5,glm-4.5-air", tasks=["math500"], limit=6, samples=1,
                      data_dir=mirror, out=tmp_path / "r", store=tmp_path / "s.sqlite", report=False)
    assert results.complete and results.report is None and results.manifest.simulated is True
    assert len(results.samples) == 12 and set(results.summary["model"]) == {"glm-4.5", "glm-4.5-air"}
    assert results.summary["accuracy"].between(0, 1).all()
    with pytest.raises(TypeError, match="unknown setting"):
        api.run(provider="simulated", modles="glm-4.5", tasks=["math500"])
