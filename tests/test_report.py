"""`glm-eval report`: the tables' figures against harness.stats and harness.cost recomputed from
the scores frame, the charts' files, the SIMULATED marks, several runs, and missing prices."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from rich.console import Console
from test_report_fixtures import make_run

from harness import cost, family, results, stats
from harness.canvas import DPI
from harness.palette import styles
from harness.report import default_folder, write_report
from harness.report.charts import HEATMAP_SIZE, SINGLE_SIZE, _pareto, panel_size
from harness.report.figures import collect
from harness.report.reference import load_reference
from harness.report.tables import Table, cost_totals_table, per_task_table
from harness.report.terminal import print_summary, rich_table
from harness.runs import load_runs

CELL = re.compile(r"^(?P<acc>\d+\.\d) \[(?P<low>\d+\.\d), (?P<high>\d+\.\d)\] \((?P<n>\d+)×(?P<k>\d+)\)$")
CHARTS = {
    "accuracy": SINGLE_SIZE,
    "accuracy_vs_cost": panel_size(3),
    "accuracy_vs_tokens": panel_size(3),
    "latency": panel_size(3),
    "math500_subjects": HEATMAP_SIZE,
    "token_budget": panel_size(3),
}
TASK_COLUMNS = {"math500": "MATH-500", "aime24": "AIME 2024", "gpqa_diamond": "GPQA-Diamond"}


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> tuple[Path, list[Path]]:
    run = make_run(tmp_path_factory.mktemp("runs"))
    return run, write_report([run])


def files(written: list[Path]) -> dict[str, Path]:
    return {p.stem if p.suffix == ".png" else p.name: p for p in written}


def test_writes_every_file_into_the_run_report_folder(report):
    run, written = report
    assert set(files(written)) == {"summary.md", "summary.csv", "figures.csv", "budget.csv", "report.html", *CHARTS}
    assert all(p.is_relative_to(run / "report") and p.stat().st_size > 0 for p in written)


def test_accuracy_cells_match_stats_summarize(report):
    run, written = report
    summary = stats.summarize(results.read_samples(run)).set_index(["model", "task"])
    table = pd.read_csv(files(written)["summary.csv"]).set_index("variant")
    assert list(table.index) == ["glm-4.5", "glm-4.5-air", "glm-4.5-flash"]
    for (model, task), row in summary.iterrows():
        cell = CELL.match(table.loc[model, TASK_COLUMNS[task]])
        assert cell, table.loc[model, TASK_COLUMNS[task]]
        assert float(cell["acc"]) == pytest.approx(100 * row.accuracy, abs=0.051)
        assert float(cell["low"]) == pytest.approx(100 * row.ci_low, abs=0.051)
        assert float(cell["high"]) == pytest.approx(100 * row.ci_high, abs=0.051)
        assert (int(cell["n"]), int(cell["k"])) == (row.n_items, row.k)
    assert table["simulated"].all()


def test_figures_csv_holds_stats_and_cost_figures_exactly(report):
    run, written = report
    scores = results.read_samples(run)
    figures = pd.read_csv(files(written)["figures.csv"])
    overall = figures[figures["breakdown"].isna()].set_index(["model", "task"]).sort_index()
    summary = stats.summarize(scores).set_index(["model", "task"]).sort_index()
    for column in stats.SUMMARY_COLUMNS:
        np.testing.assert_allclose(overall[column].to_numpy(float), summary[column].to_numpy(float), err_msg=column)
    usage = stats.usage_summary(scores).set_index(["model", "task"]).sort_index()
    for column in ["completion_tokens_mean", "reasoning_tokens_mean", "latency_s_p50", "latency_s_p90", "ttft_s_p50"]:
        np.testing.assert_allclose(overall[column].to_numpy(float), usage[column].to_numpy(float), err_msg=column)
    priced = cost.cost_summary(scores, cost.load_prices(), "cometapi").set_index(["model", "task"]).sort_index()
    for column in ["cost", "cost_per_request", "cost_per_correct"]:
        np.testing.assert_allclose(overall[column].to_numpy(float), priced[column].to_numpy(float), err_msg=column)
    subjects = figures[figures["breakdown"] == "subject"].set_index(["model", "group"]).sort_index()
    by_subject = stats.summarize(scores[scores["task"] == "math500"], by=("subject",)).set_index(["model", "subject"]).sort_index()
    np.testing.assert_allclose(subjects["accuracy"].to_numpy(float), by_subject["accuracy"].to_numpy(float))
    assert set(figures["breakdown"].dropna()) == {"subject", "level", "domain"}


def test_markdown_has_every_section_and_breakdown(report):
    _, written = report
    md = files(written)["summary.md"].read_text()
    for heading in ("## Accuracy", "## Published figures", "## Cost, tokens and latency", "## Breakdowns", "## Runs",
                    "MATH-500 by subject", "MATH-500 by difficulty level", "GPQA-Diamond by domain"):
        assert heading in md
    for chart in CHARTS:
        assert f"](charts/{chart}.png)" in md


def test_reference_comparison_against_published_figures(report):
    run, written = report
    md = files(written)["summary.md"].read_text()
    reference = load_reference()
    assert set(reference.models) == {"glm-4.5", "glm-4.5-air"} and reference.sources["report"].where == "arXiv 2508.06471, Table 4"
    assert {t: p.percent for t, p in reference.scores_for("glm-4.5").items()} == {"math500": 98.2, "aime24": 91.0, "gpqa_diamond": 79.1}
    assert {t: p.percent for t, p in reference.scores_for("glm-4.5-air").items()} == {"math500": 98.1, "aime24": 89.4, "gpqa_diamond": 75.0}
    assert 'technical report "GLM-4.5: Agentic, Reasoning, and Coding (ARC) Foundation Models" (arXiv 2508.06471, Table 4)' in md
    assert "measured under glm-simple-evals" in md
    summary = stats.summarize(results.read_samples(run)).set_index(["model", "task"])
    section = md.split("Measured vs published figures, each variant beside its own")[1].split("\n\n", 2)[1]
    rows = {(line.split(" | ")[0].strip("| "), line.split(" | ")[1]): line.split(" | ") for line in section.splitlines()[2:]}
    variants = {v for v, _ in rows}
    assert variants == set(reference.models) & set(summary.index.get_level_values("model")), "each variant beside its own figures"
    for variant in variants:
        for task, published in reference.scores_for(variant).items():
            row = summary.loc[(variant, task)]
            line = rows[(variant, f"{TASK_COLUMNS[task]} (published as {published.benchmark})")]
            inside = row.ci_low <= published.percent / 100 <= row.ci_high
            assert line[2] == f"{published.percent:.1f}" and line[3] == f"{100 * row.accuracy:.1f}"
            assert line[-1].rstrip(" |") == ("yes" if inside else "NO")


def test_cost_per_variant_priced_as_cometapi_for_a_simulated_run(report):
    run, written = report
    scores = results.read_samples(run)
    book = cost.load_prices()
    table = pd.read_csv(files(written)["summary.csv"]).set_index("variant")
    for variant in table.index:
        total = cost.run_cost(scores[scores["model"] == variant], book, "cometapi")
        assert table.loc[variant, "priced as"] == "cometapi"
        mark = " †" if book.presets["cometapi"].models[variant].unverified else ""  # marked as the price file marks it
        assert table.loc[variant, "cost, all tasks"] == f"{total.cost:.2f} USD{mark}"
    md = files(written)["summary.md"].read_text()
    assert "token counts are priced as cometapi" in md and "unverified" in md


def test_charts_have_150_dpi_expected_size_and_are_not_blank(report):
    _, written = report
    for name, (width_in, height_in) in CHARTS.items():
        image = Image.open(files(written)[name])
        assert image.size == (round(width_in * DPI), round(height_in * DPI)), name
        assert image.info["dpi"] == pytest.approx((DPI, DPI), abs=0.1), name
        pixels = np.asarray(image.convert("RGB")).reshape(-1, 3)
        non_white = np.mean(np.any(pixels < 245, axis=1))
        assert non_white > 0.05, f"{name} is nearly blank ({non_white:.1%} non-white)"
        colours = (pixels[:, 0] // 16).astype(int) * 256 + (pixels[:, 1] // 16) * 16 + pixels[:, 2] // 16
        assert len(np.unique(colours)) > 20, f"{name} has too few colours"
        assert "SIMULATED" in image.text["Title"], name


def test_every_variant_has_its_colour_in_the_accuracy_chart(report):
    _, written = report
    pixels = np.asarray(Image.open(files(written)["accuracy"]).convert("RGB")).reshape(-1, 3).astype(int)
    for variant in ("glm-4.5", "glm-4.5-air", "glm-4.5-flash"):
        rgb = np.array([int(family.colours()[variant][i : i + 2], 16) for i in (1, 3, 5)])
        assert (np.abs(pixels - rgb).max(axis=1) <= 6).sum() > 200, variant


def test_simulated_mark_on_every_table_and_the_page(report):
    _, written = report
    md = files(written)["summary.md"].read_text()
    titles = [line for line in md.splitlines() if line.startswith("### ")]
    assert len(titles) >= 9 and all("(SIMULATED)" in t for t in titles)
    assert md.splitlines()[2].startswith("> **SIMULATED")
    html = files(written)["report.html"].read_text()
    assert '<div class="banner" role="alert"><strong>SIMULATED</strong>' in html
    assert html.count("<caption>") == len(titles) and html.count('<span class="sim">(SIMULATED)</span>') == len(titles)


def test_html_is_self_contained(report):
    _, written = report
    html = files(written)["report.html"].read_text()
    assert html.count('src="data:image/png;base64,') == len(CHARTS)
    assert not re.search(r"""(src|href)=["']?(https?:|//|file:)""", html)
    assert "<script" not in html


def test_a_real_provider_run_has_no_simulated_mark_and_its_own_prices(tmp_path):
    run = make_run(tmp_path, "real", simulated=False, provider="cometapi")
    written = files(write_report([run], tmp_path / "out"))
    text = written["summary.md"].read_text() + written["report.html"].read_text()
    assert "SIMULATED" not in text
    assert "SIMULATED" not in Image.open(written["accuracy"]).text["Title"]
    assert set(pd.read_csv(written["figures.csv"])["priced_as"].dropna()) == {"cometapi"}


def test_unpriced_provider_falls_back_to_tokens_and_says_so(tmp_path):
    run = make_run(tmp_path, "local-run", simulated=False, provider="local")
    written = files(write_report([run], tmp_path / "out"))
    md = written["summary.md"].read_text()
    assert "Cost unavailable. No preset in the price file prices provider(s) local" in md and "--price-as PRESET" in md
    assert "tokens stand in for cost" in Image.open(written["accuracy_vs_cost"]).text["Title"]


def test_a_missing_price_file_leaves_cost_out_and_says_why(tmp_path):
    figures = collect(load_runs([make_run(tmp_path)]), prices=tmp_path / "none.yaml")
    assert not figures.costs.available
    note = cost_totals_table(figures).frame.iloc[0, 0]
    assert note.startswith("Cost unavailable.") and "none.yaml: no such file" in note
    assert not any("cost" in column for column in per_task_table(figures).frame.columns)


def test_two_runs_of_the_same_variants_are_told_apart(tmp_path):
    a = make_run(tmp_path, "run-a", models=("glm-4.5", "glm-4.5-air"))
    b = make_run(tmp_path, "run-b", models=("glm-4.5",), simulated=False, provider="cometapi", seed=3)
    runs = load_runs([a, b])
    assert runs.labels == ("glm-4.5 (run-a)", "glm-4.5 (run-b)", "glm-4.5-air")
    written = files(write_report([a, b]))
    assert written["summary.md"].parent == default_folder(runs) == tmp_path / "report-run-a+run-b"
    table = pd.read_csv(written["summary.csv"]).set_index("variant")
    assert list(table.index) == ["glm-4.5 (run-a) [SIMULATED]", "glm-4.5 (run-b)", "glm-4.5-air [SIMULATED]"]
    merged = stats.summarize(runs.scores).set_index(["model", "task"])
    cell = CELL.match(table.loc["glm-4.5 (run-b)", "MATH-500"])
    assert float(cell["acc"]) == pytest.approx(100 * merged.loc[("glm-4.5 (run-b)", "math500"), "accuracy"], abs=0.051)
    assert "SIMULATED (runs run-a)" in written["summary.md"].read_text()


def test_each_label_keeps_one_colour_and_two_runs_of_a_variant_get_two(tmp_path):
    a = make_run(tmp_path, "run-a", models=("glm-4.5", "glm-4.5-flash"), tasks=("aime24",))
    b = make_run(tmp_path, "run-b", models=("glm-4.5", "glm-4.5-air"), tasks=("aime24",))
    style = styles(load_runs([a, b]))
    assert style["glm-4.5 (run-a)"].colour == family.colours()["glm-4.5"]
    assert style["glm-4.5-air"].colour == family.colours()["glm-4.5-air"]
    assert style["glm-4.5-flash"].colour == family.colours()["glm-4.5-flash"]
    assert len({s.colour for s in style.values()}) == len(style) and len({s.marker for s in style.values()}) == len(style)


def test_pareto_frontier_keeps_only_variants_nothing_beats_on_both_axes():
    points = [(4.0, 70.0), (1.0, 50.0), (3.0, 55.0), (2.0, 60.0), (2.0, 58.0), (5.0, 70.0)]
    assert _pareto(points) == [(1.0, 50.0), (2.0, 60.0), (4.0, 70.0)]


def test_print_summary_shows_the_tables_and_the_report_path(report):
    run, _ = report
    console = Console(record=True, width=200)
    print_summary(collect(load_runs([run])), console, run / "report")
    out = console.export_text()
    summary = stats.summarize(results.read_samples(run)).set_index(["model", "task"])
    assert "SIMULATED" in out and f"report: {run / 'report' / 'report.html'}" in out
    assert f"{100 * summary.loc[('glm-4.5-air', 'aime24'), 'accuracy']:.1f} [" in out
    assert "Tokens, latency and cost per answer" in out


def test_a_folder_that_is_not_a_run_is_refused_with_the_reason(tmp_path):
    from harness.errors import UserError

    with pytest.raises(UserError, match="manifest.json is missing"):
        write_report([tmp_path])


def test_a_wide_table_keeps_its_labels_whole_on_the_terminal():
    """A table wider than the terminal gives up the figure columns' width first: "glm-4.5-air" and
    "GPQA-Diamond" are never broken over two lines (a CI log is 160 columns)."""
    frame = pd.DataFrame({"variant": ["glm-4.5-air"], "task": ["GPQA-Diamond"],
                          **{f"a long figure header {i}": ["+12.3"] for i in range(12)}})
    console = Console(width=160, record=True)
    console.print(rich_table(Table("t", "s", "title", frame)))
    lines = console.export_text().splitlines()
    assert any("glm-4.5-air" in line and "GPQA-Diamond" in line and "+12.3" in line for line in lines)
    assert max(map(len, lines)) <= 160
