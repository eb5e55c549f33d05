"""`glm-eval run --until-decided`: the check in rounds, against the simulator, end to end."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.cli import main


@pytest.fixture(scope="module")
def baseline(tmp_path_factory, mirror: Path) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("adaptive")
    store = folder / "store.sqlite"
    assert main(["run", "--provider", "simulated", "--models", "glm-4.5,glm-4.5-air", "--tasks", "math500", "--limit", "400",
                 "--samples", "1", "--data-dir", str(mirror), "--out", str(folder / "base"), "--store", str(store), "--no-report"]) == 0
    assert main(["baseline", str(folder / "base"), "--out", str(folder / "b.json")]) == 0
    return folder, store


def _rounds(folder: Path, store: Path, mirror: Path, provider: str, name: str, *extra: str) -> int:
    return main(["run", "--provider", provider, "--models", "glm-4.5,glm-4.5-air", "--tasks", "math500", "--seed", "1",
                 "--until-decided", "--baseline", str(folder / "b.json"), "--data-dir", str(mirror), "--out", str(folder / name),
                 "--store", str(store), *extra])


def _sent(folder: Path) -> int:
    return sum(json.loads(m.read_text())["totals"]["requests_sent"] for m in folder.glob("rounds/*/*/manifest.json"))


def test_a_large_drop_fails_early_having_sent_half(baseline, mirror: Path):
    folder, store = baseline
    assert _rounds(folder, store, mirror, "simulated@int4", "int4", "--tolerance", "2") == 1
    check = (folder / "int4" / "check.md").read_text()
    assert check.startswith("## glm-eval check, in rounds: REGRESSED: glm-4.5 on MATH-500, glm-4.5-air on MATH-500")
    assert 0 < _sent(folder / "int4") < 800, "fewer requests than the fixed check's 2 x 400"
    assert not (folder / "int4" / "rounds" / "glm-4.5-math500" / "look4").exists(), "a decided cell is sent nothing more"


def test_an_unchanged_model_is_settled_before_the_end_and_passes(baseline, mirror: Path):
    folder, store = baseline
    assert _rounds(folder, store, mirror, "simulated", "same", "--tolerance", "5") == 0
    check = (folder / "same" / "check.md").read_text()
    assert "passed: a drop beyond 5 points is ruled out in every cell" in check
    assert _sent(folder / "same") < 800


def test_undecided_cells_do_not_pass_and_can_fail_the_build(baseline, mirror: Path):
    folder, store = baseline
    assert _rounds(folder, store, mirror, "simulated", "tight", "--tolerance", "0.5", "--require-conclusive") == 3
    assert "NOT DECIDED" in (folder / "tight" / "check.md").read_text()


def test_until_decided_needs_a_baseline(capsys):
    assert main(["run", "--provider", "simulated", "--models", "glm-4.5", "--tasks", "math500", "--until-decided"]) == 2
    assert "--baseline" in capsys.readouterr().err


def test_plan_sizes_a_check_for_the_drop_it_must_catch(tmp_path: Path, mirror: Path, capsys):
    run = tmp_path / "r"
    assert main(["run", "--provider", "simulated", "--models", "glm-4.5,glm-4.5-air", "--tasks", "math500", "--limit", "100", "--samples", "2",
                 "--data-dir", str(mirror), "--out", str(run), "--store", str(tmp_path / "s.sqlite"), "--no-report"]) == 0
    capsys.readouterr()
    def samples_for(drop: str) -> str:
        assert main(["plan", "--task", "math500", "--detect", drop, "--tolerance", "1", "--cells", "6", "--run", str(run), "--price-as", "zai"]) == 0
        return capsys.readouterr().out

    out = samples_for("8")
    assert "for `glm-eval check --tolerance 1 --alpha 0.05` over 6 cells to fail on a 8-point drop with power 80%" in out
    assert "glm-4.5: " in out and "USD (priced as zai" in out
    loose = int(out.split("power 80%: ")[2].split(" samples")[0])
    tight = int(samples_for("5").split("power 80%: ")[2].split(" samples")[0])
    assert tight > loose, "a smaller drop to catch needs more samples"
    assert "add items" in samples_for("3"), "100 items cannot catch 3 points at a 1-point tolerance, however many samples"
    assert main(["plan", "--task", "math500", "--detect", "1", "--tolerance", "2", "--run", str(run)]) == 2
