"""`glm-eval compare`: the paired comparison per task against harness.stats.compare, the choice of
what to pair, the notes on what else differs between two runs, and both renderings."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.console import Console
from test_report_fixtures import make_run

from harness import results, stats
from harness.errors import UserError
from harness.report.comparison import compare, comparison_markdown, print_comparison


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("runs")
    return make_run(root, "base"), make_run(root, "worse", seed=1, shift=-1.5)


def test_two_variants_of_one_run_match_stats_compare(runs):
    base, _ = runs
    result = compare(base, None, "glm-4.5", "glm-4.5-flash")
    scores = results.read_samples(base)
    assert list(result.rows["task"]) == ["math500", "aime24", "gpqa_diamond"]
    for row in result.rows.itertuples():
        task = scores[scores["task"] == row.task]
        expected = stats.compare(task[task["model"] == "glm-4.5"], task[task["model"] == "glm-4.5-flash"])
        assert (row.delta, row.ci_low, row.ci_high, row.p_value) == pytest.approx(
            (expected.delta, expected.ci_low, expected.ci_high, expected.p_value))
        assert row.significant == expected.significant
        assert row.verdict == ("no significant difference" if not expected.significant else "B higher" if expected.delta > 0 else "B lower")
        flips = result.flips[result.flips["task"] == row.task]
        assert list(flips["item_id"]) == list(expected.flips["item_id"])
        assert (row.n_gained, row.n_lost) == ((expected.flips["change"] == "gained").sum(), (expected.flips["change"] == "lost").sum())
    assert result.simulated and result.a == "glm-4.5 (run base)" and result.b == "glm-4.5-flash"


def test_across_runs_pairs_every_common_variant_and_finds_the_drop(runs):
    base, worse = runs
    result = compare(base, worse)
    assert len(result.rows) == 9 and set(result.rows["a"]) == {"glm-4.5", "glm-4.5-air", "glm-4.5-flash"}
    assert (result.rows["delta"] < 0).mean() > 0.8, "run B was made worse on purpose"
    assert (result.rows["verdict"] == "B lower").any()
    assert result.a == "run base" and result.b == "run worse"


def test_a_run_of_three_variants_needs_the_two_named(runs):
    base, _ = runs
    with pytest.raises(UserError, match="name the two to compare"):
        compare(base)
    with pytest.raises(UserError, match="no variant 'glm-4.5-x'"):
        compare(base, None, "glm-4.5", "glm-4.5-x")


def test_two_variant_run_is_compared_without_naming_them(tmp_path):
    run = make_run(tmp_path, "pair", models=("glm-4.5", "glm-4.5-air"), tasks=("aime24",))
    result = compare(run)
    assert list(result.rows[["a", "b"]].itertuples(index=False, name=None)) == [("glm-4.5", "glm-4.5-air")]


def test_notes_say_what_else_differs_between_the_runs(tmp_path):
    a = make_run(tmp_path, "a", models=("glm-4.5",))
    b = make_run(tmp_path, "b", models=("glm-4.5",), simulated=False, provider="cometapi", n_items=25)
    manifest = json.loads((b / "manifest.json").read_text())
    manifest["tasks"]["math500"]["prompt_sha256"] = "b" * 64
    manifest["sampling"]["temperature"] = 1.0
    (b / "manifest.json").write_text(json.dumps(manifest))
    notes = " ".join(compare(a, b).notes)
    for expected in ("Providers differ", "Only A is SIMULATED", "Sampling differs", "MATH-500: the prompts differ",
                     "5 items only in A and 0 only in B"):
        assert expected in notes


def test_markdown_and_terminal_show_deltas_verdicts_and_flipped_items(runs):
    base, worse = runs
    result = compare(base, worse, "glm-4.5")
    md = comparison_markdown(result)
    assert md.startswith("# glm-eval compare: run worse vs run base") and "> **SIMULATED" in md
    for row in result.rows.itertuples():
        assert f"{100 * row.delta:+.1f}" in md and row.verdict in md
    for item in result.flips["item_id"]:
        assert f"| {item} |" in md
    console = Console(record=True, width=220)
    print_comparison(result, console)
    out = console.export_text()
    assert "Paired comparison, B = run worse vs A = run base (SIMULATED)" in out
    assert "Items that flipped" in out and result.flips["item_id"].iloc[0] in out
