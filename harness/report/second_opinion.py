"""The report's Grading section: how often a second grading method (`regrade --second-opinion`)
disagrees with glm-eval's verdicts, per variant and task, and where the score would be under it."""

from __future__ import annotations

import pandas as pd

from harness.records import read_second_opinion
from harness.report.figures import Figures
from harness.report.tables import Table, display_label, pct, signed_pts, task_name
from harness.runs import SIMULATED
from harness.stats.agreement import RATE_COLUMNS, disagreement_rates

SECTION = "Grading"
NOTE = (
    "Each graded sample is graded again by a second method; a disagreement is a sample one method calls right and the "
    "other wrong. Accuracy is avg@k under each method over the same samples; the move is the second's minus glm-eval's, "
    "in points. Every sample, with what each method read, is in the run's second_opinion.csv."
)


def rates_table(rates: pd.DataFrame, labels: list[str], simulated: bool) -> Table:
    """`rates` (stats.agreement.disagreement_rates) as a table whose rows read `labels` for the models."""
    methods = ", ".join(dict.fromkeys(rates["method"]))
    frame = pd.DataFrame({
        "variant": labels,
        "task": [task_name(t) for t in rates["task"]],
        "graded samples": rates["n_samples"].astype(str),
        "disagreements": rates["disagreements"].astype(str),
        "disagreement %": [pct(v) for v in rates["disagreement_rate"]],
        "right only by glm-eval": rates["right_only_by_glm_eval"].astype(str),
        "right only by second": rates["right_only_by_second"].astype(str),
        "accuracy %": [pct(v) for v in rates["accuracy"]],
        "under second method %": [pct(v) for v in rates["accuracy_second"]],
        "move, pts": [signed_pts(v) for v in rates["accuracy_move"]],
    })
    title = f"Second opinion ({methods}): disagreement with glm-eval's grading"
    return Table("second_opinion", SECTION, f"{title} ({SIMULATED})" if simulated else title, frame, (NOTE,))


def second_opinion_rates(figures: Figures) -> pd.DataFrame:
    """Every run's disagreement rates, models relabelled as the report labels them; empty when no
    run of the report has a second opinion."""
    runs = figures.runs
    frames = []
    for run in runs.runs:
        samples = read_second_opinion(run.path)
        if samples is None or samples.empty:
            continue
        rates = disagreement_rates(samples)
        frames.append(rates.assign(model=[runs.label(run, v) if v in set(run.scores["model"]) else v for v in rates["model"]]))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=RATE_COLUMNS)


def second_opinion_tables(figures: Figures, rates: pd.DataFrame) -> list[Table]:
    if rates.empty:
        return []
    rank = {label: i for i, label in enumerate(figures.labels)}
    order = {task: i for i, task in enumerate(figures.tasks)}
    ordered = rates.iloc[sorted(range(len(rates)), key=lambda i: (rank.get(rates["model"].iloc[i], len(rank)),
                                                                  order.get(rates["task"].iloc[i], len(order))))]
    labels = [display_label(figures, m) if m in rank else m for m in ordered["model"]]
    return [rates_table(ordered.reset_index(drop=True), labels, figures.runs.simulated)]
