"""The CI gate end to end against the simulated endpoint: a variant whose accuracy profile drops
by 10 points fails the check and is named; a rerun with another sampling seed passes; a baseline
from other items, or missing a variant, is refused with exit 2; the JUnit file parses."""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing
import shutil
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from rich.console import Console

from harness.cli import main
from harness.errors import UserError
from harness.gate.commands import add_commands
from harness.simproc import answer_key_for
from harness.simulator import DEFAULT_PROFILES, SimOptions, serve

MODELS = "glm-4.5,glm-4.5-air"
# A 10-point drop of glm-4.5-air's MATH-500 profile is shown beyond the 1-point tolerance in about
# 997 of 1000 draws of 300 items x 1 sample (most MATH-500 items are easy, so the drop falls on a
# few hard ones); the other checks need fewer items.
BIG, SMALL = "300", "60"

def gate(*argv: str) -> int:
    """`glm-eval baseline|check|history`, in-process, with the CLI's handling of a UserError."""
    parser = argparse.ArgumentParser(prog="glm-eval")
    add_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args([str(a) for a in argv])
    try:
        return args.func(args, Console(highlight=False, width=200))
    except UserError as error:
        print(f"glm-eval: error: {error}", file=sys.stderr)
        return error.exit_code


@contextlib.contextmanager
def simulator(profiles: Path, mirror: Path) -> Iterator[str]:
    """The simulated endpoint with the given profiles (`glm-eval sim` takes no profiles file), in
    a child process so that it answers on the other core, and at once (time scale 0)."""
    options = SimOptions(profiles_path=profiles, time_scale=0.0)
    ports: multiprocessing.Queue[int] = multiprocessing.Queue()
    server = multiprocessing.Process(target=serve, args=(options, answer_key_for(["math500"], mirror)), kwargs={"ready": ports.put}, daemon=True)
    server.start()
    try:
        yield f"http://127.0.0.1:{ports.get(timeout=60)}/v1"
    finally:
        server.terminate()
        server.join(10)


def profiles(folder: Path, name: str, lower: dict[tuple[str, str], float] | None = None) -> Path:
    """A copy of the simulator's profiles with short answers (the accuracy draw does not depend
    on length, and short answers keep the test fast) and, optionally, some accuracies lowered
    by the given points."""
    data = yaml.safe_load(DEFAULT_PROFILES.read_text(encoding="utf-8"))
    for variant in data["variants"].values():
        variant["reasoning_tokens"] = {"default": 40}
        variant["answer_tokens"] = 20
    for (variant, task), points in (lower or {}).items():
        data["variants"][variant]["accuracy"][task] -= points / 100
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def runs(mirror: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Run folders and their baselines. `base` (seed 0) is the baseline of `lowered` (seed 1,
    glm-4.5-air's MATH-500 accuracy 10 points lower); `small` (seed 0, a subset of `base`, so
    served from the store) is the baseline of `seed1`, `other_items` (another --limit) and
    `one_model` (glm-4.5 alone)."""
    root = tmp_path_factory.mktemp("gate")
    common = ["--provider", "simulated", "--tasks", "math500", "--samples", "1", "--data-dir", str(mirror), "--no-stream", "--concurrency", "8",
              "--no-report"]

    def run(name: str, url: str, store: str, limit: str, seed: str, models: str = MODELS) -> Path:
        out = root / name
        code = main(["run", *common, "--base-url", url, "--store", str(root / store), "--out", str(out), "--models", models,
                     "--limit", limit, "--seed", seed])
        assert code == 0, name
        return out

    made = {}
    with simulator(profiles(root, "unchanged"), mirror) as url:
        made["base"] = run("base", url, "store.sqlite", BIG, "0")
        made["small"] = run("small", url, "store.sqlite", SMALL, "0")
        made["seed1"] = run("seed1", url, "store.sqlite", SMALL, "1")
        made["other_items"] = run("other_items", url, "store.sqlite", "20", "1")
        made["one_model"] = run("one_model", url, "store.sqlite", SMALL, "1", "glm-4.5")
    # Another store: request keys do not include the server, and the lowered profile's answers
    # must not come from the unchanged one's store.
    with simulator(profiles(root, "lowered", {("glm-4.5-air", "math500"): 10}), mirror) as url:
        made["lowered"] = run("lowered", url, "lowered.sqlite", BIG, "1")
    for name in ("base", "small"):
        made[f"{name}.json"] = root / "baselines" / f"{name}.json"
        assert gate("baseline", made[name], "--out", made[f"{name}.json"]) == 0
    return made


def junit_cases(path: Path) -> dict[str, ET.Element]:
    root = ET.parse(path).getroot()
    assert root.tag == "testsuites"
    (suite,) = root.findall("testsuite")
    cases = {case.get("name"): case for case in suite.findall("testcase")}
    assert int(suite.get("tests")) == len(cases) and int(root.get("tests")) == len(cases)
    assert int(suite.get("failures")) == sum(case.find("failure") is not None for case in cases.values())
    assert all(case.find("system-out").text for case in cases.values())
    return cases


def test_baseline_holds_per_item_counts_and_settings(runs):
    baseline = json.loads(runs["base.json"].read_text())
    manifest = json.loads((runs["base"] / "manifest.json").read_text())
    assert baseline["simulated"] is True
    assert baseline["tasks"]["math500"]["fingerprint"] == manifest["tasks"]["math500"]["fingerprint"]
    assert [(c["model"], c["task"]) for c in baseline["cells"]] == [("glm-4.5", "math500"), ("glm-4.5-air", "math500")]
    for cell in baseline["cells"]:
        assert len(cell["item_ids"]) == int(BIG) and set(cell["n_samples"]) == {1}


def test_lowered_profile_fails_the_check_and_names_variant_and_task(runs, capsys):
    assert gate("check", runs["lowered"], "--baseline", runs["base.json"]) == 1
    out = capsys.readouterr().out
    assert "REGRESSED: glm-4.5-air on MATH-500" in out and "glm-4.5 on" not in out.split("REGRESSED:")[1]
    summary = (runs["lowered"] / "check.md").read_text()
    assert summary.startswith("## glm-eval check: REGRESSED: glm-4.5-air on MATH-500") and "SIMULATED" in summary
    assert "| glm-4.5-air | MATH-500 |" in summary and "**regressed**" in summary
    cases = junit_cases(runs["lowered"] / "check.junit.xml")
    assert set(cases) == {"glm-4.5 on math500", "glm-4.5-air on math500"}
    assert cases["glm-4.5-air on math500"].find("failure") is not None
    assert cases["glm-4.5 on math500"].find("failure") is None


def test_other_sampling_seed_does_not_fail_and_says_what_it_could_not_rule_out(runs, tmp_path, capsys):
    summary, junit = tmp_path / "out" / "check.md", tmp_path / "out" / "check.xml"
    assert gate("check", runs["seed1"], "--baseline", runs["small.json"], "--summary", summary, "--junit", junit) == 0
    out = capsys.readouterr().out
    assert "check: NOT DECIDED: no regression shown, but a drop beyond 1 point is not ruled out" in out and "passed" not in out
    assert summary.read_text().startswith("## glm-eval check: NOT DECIDED")
    assert gate("check", runs["seed1"], "--baseline", runs["small.json"], "--summary", summary, "--junit", junit, "--require-conclusive") == 3
    cases = junit_cases(junit)
    assert len(cases) == 2 and all(case.find("failure") is None for case in cases.values())


def test_baseline_from_other_items_is_refused(runs, capsys):
    assert gate("check", runs["other_items"], "--baseline", runs["small.json"]) == 2
    err = capsys.readouterr().err
    assert "MATH-500: the items differ" in err and "--limit" in err
    assert not (runs["other_items"] / "check.md").exists()


def test_a_cell_of_the_baseline_missing_from_the_run_is_refused(runs, capsys):
    assert gate("check", runs["one_model"], "--baseline", runs["small.json"]) == 2
    assert "no samples of glm-4.5-air x math500" in capsys.readouterr().err


def test_summary_is_appended_to_github_step_summary(runs, tmp_path, monkeypatch):
    step = tmp_path / "step.md"
    step.write_text("earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(step))
    gate("check", runs["seed1"], "--baseline", runs["small.json"], "--summary", tmp_path / "c.md", "--junit", tmp_path / "c.xml")
    assert step.read_text() == "earlier step\n" + (tmp_path / "c.md").read_text() + "\n"


def edited_copy(run: Path, folder: Path, edit) -> Path:
    copy = folder / f"{run.name}-edited"
    shutil.copytree(run, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    edit(manifest)
    (copy / "manifest.json").write_text(json.dumps(manifest))
    return copy


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        (lambda m: m["sampling"].update(temperature=1.0), "sampling differs (temperature 0.6 -> 1.0)"),
        (lambda m: m["sampling"].update(thinking=False), "sampling differs (thinking True -> False)"),
        (lambda m: m.update(simulated=False), "only the baseline is SIMULATED"),
        (lambda m: m["tasks"]["math500"].update(grader="exact"), "MATH-500: the grader differs (math in the baseline, exact in the run)"),
        (lambda m: m.update(judge={"model": "glm-4.5", "model_id": "glm-4.5", "fallback": True}),
         "the judge differs (none in the baseline, glm-4.5 with fallback in the run)"),
    ],
)
def test_other_protocol_is_refused_with_the_reason(runs, tmp_path, capsys, edit, reason):
    assert gate("check", edited_copy(runs["seed1"], tmp_path, edit), "--baseline", runs["small.json"]) == 2
    assert reason in capsys.readouterr().err


def test_what_a_check_tests_is_reported_not_refused(runs, tmp_path, capsys):
    def edit(m):
        m["tasks"]["math500"]["prompt_sha256"] = "0" * 64
        m["models"]["glm-4.5-air"] = "glm-4.5-air-0801"
        m["provider"]["name"] = "zai-mirror"
        m["samples_per_item"]["math500"] = 8
        m["sampling"]["stream"] = False

    run = edited_copy(runs["seed1"], tmp_path, edit)
    assert gate("check", run, "--baseline", runs["small.json"]) == 0
    summary = (run / "check.md").read_text()
    for note in ("MATH-500: the prompt changed", "glm-4.5-air: model id changed: glm-4.5-air -> glm-4.5-air-0801",
                 "provider changed: simulated -> zai-mirror", "MATH-500: 1 samples per item in the baseline, 8 in the run"):
        assert note in summary


def test_bad_flags_and_files_exit_2(runs, tmp_path, capsys):
    assert gate("check", runs["seed1"], "--baseline", tmp_path / "none.json") == 2
    assert gate("check", runs["seed1"], "--baseline", runs["small.json"], "--alpha", "0") == 2
    assert gate("check", runs["seed1"], "--baseline", runs["small.json"], "--tolerance", "-1") == 2
    assert gate("check", tmp_path, "--baseline", runs["small.json"]) == 2
    broken = tmp_path / "broken.json"
    broken.write_text(runs["small.json"].read_text().replace('"n_samples"', '"n_sample"'))
    assert gate("check", runs["seed1"], "--baseline", broken) == 2
    err = capsys.readouterr().err
    assert "no such baseline" in err and "--alpha 0" in err and "--tolerance -1" in err and "not a run folder" in err
    assert "n_sample" in err


def test_smoke_suite_plans_a_fixed_subset_with_a_cost_estimate(mirror: Path, tmp_path: Path, monkeypatch, capsys):
    monkeypatch.setenv("ZAI_API_KEY", "dummy")  # a dry run reads the key's presence, and sends nothing
    suite = Path(__file__).resolve().parent.parent / "configs" / "suites" / "smoke.yaml"
    assert main(["run", str(suite), "--data-dir", str(mirror), "--store", str(tmp_path / "s.sqlite"), "--dry-run"]) == 0
    out = capsys.readouterr().out
    rows = {tuple(cells[:3]): cells[3:6] for line in out.splitlines() if len(cells := [c.strip() for c in line.split("│") if c.strip()]) > 6}
    for model in ("glm-4.5", "glm-4.5-air"):
        assert rows[(model, model, "math500")] == ["50", "2", "100"]
        assert rows[(model, model, "gpqa_diamond")] == ["50", "2", "100"]
        assert rows[(model, model, "aime24")] == ["30", "1", "30"]
    assert "estimated cost:" in out and "priced as zai" in out
