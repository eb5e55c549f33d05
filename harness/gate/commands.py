"""The gate's subcommands, registered on the `glm-eval` parser by `add_commands`.

Exit codes: 0 done (for `check`: nothing regressed); 1 `check` found a regression; 2 bad input or
a baseline that cannot be compared with the run (a UserError, printed as one line by the CLI);
3 `check --require-conclusive`: nothing regressed, but some cell could not rule a drop out.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.table import Table

from harness.errors import UserError

# The commands' own modules are imported when a command runs, not here: this module is imported
# to build the parser of every `glm-eval` command, and the report modules bring matplotlib
# (about 30 MB and half a second), which `glm-eval run` would otherwise hold while it sends.

SUMMARY_FILE = "check.md"
JUNIT_FILE = "check.junit.xml"
HISTORY_FILE = "history.csv"
HISTORY_SHOWN = 40  # rows printed; the CSV has them all


def add_commands(subparsers: argparse._SubParsersAction) -> None:
    baseline = subparsers.add_parser(
        "baseline", help="store a run's per-item scores as a baseline for `check`",
        description="Store, per model x task, the per-item counts, dataset fingerprints and settings of a complete run, "
                    "for `glm-eval check` to compare later runs with item by item. Commit the file.",
    )
    baseline.add_argument("run", type=Path, metavar="RUN", help="a run folder (results/<run>)")
    baseline.add_argument("--out", type=Path, required=True, metavar="PATH", help="the baseline file, e.g. results/baselines/smoke.json")
    baseline.set_defaults(func=cmd_baseline)

    check = subparsers.add_parser(
        "check", help="compare a run with a baseline; exit 1 on a regression",
        description="Per model x task: baseline, current, paired delta with interval and a verdict (ok, improved, regressed, "
                    "inconclusive). Exit 0 when nothing regressed, 1 when something did, 2 when the run cannot be compared.",
    )
    check.add_argument("run", type=Path, metavar="RUN", help="a run folder (results/<run>), or an audit folder (`glm-eval audit`): "
                                                          "then each provider is checked against the audit's reference")
    check.add_argument("--baseline", type=Path, metavar="PATH", help="a file written by `glm-eval baseline` (required for a run folder)")
    check.add_argument("--tolerance", type=float, default=1.0, metavar="POINTS",
                       help="accuracy points a score may drop before it counts as a regression (default 1.0)")
    check.add_argument("--alpha", type=float, default=0.05,
                       help="chance that noise alone fails the check, over all model x task cells together (default 0.05)")
    check.add_argument("--require-conclusive", dest="require_conclusive", action="store_true",
                       help="exit 3 when nothing regressed but some cell can neither show nor rule out a drop beyond the tolerance")
    check.add_argument("--summary", type=Path, metavar="PATH",
                       help=f"markdown summary (default RUN/{SUMMARY_FILE}); also appended to $GITHUB_STEP_SUMMARY when set")
    check.add_argument("--junit", type=Path, metavar="PATH", help=f"JUnit XML with one test case per model x task (default RUN/{JUNIT_FILE})")
    check.set_defaults(func=cmd_check)

    history = subparsers.add_parser(
        "history", help="every run's scores as one table and a trend chart per task",
        description="Gather every run folder under ROOT into one table (date, commit, provider, model, task, accuracy with its "
                    "interval, cost), written as CSV, and draw a trend chart per task beside it.",
    )
    history.add_argument("root", nargs="?", type=Path, default=Path("results"), metavar="ROOT", help="the folder holding run folders (default results/)")
    history.add_argument("--out", type=Path, metavar="PATH", help=f"the CSV (default ROOT/{HISTORY_FILE}); charts go beside it as <name>-<task>.png")
    history.set_defaults(func=cmd_history)


def cmd_baseline(args: argparse.Namespace, console: Console) -> int:
    from harness.formats import task_name
    from harness.gate.baseline import make_baseline, write_baseline
    from harness.runs import SIMULATED, load_run

    run = load_run(args.run)
    baseline = make_baseline(run)
    replaced = args.out.exists()
    write_baseline(baseline, args.out)
    mark = f" ({SIMULATED})" if baseline.simulated else ""
    cells = ", ".join(f"{c.model} x {task_name(c.task)} {100 * c.accuracy:.1f}% ({len(c.item_ids)} items)" for c in baseline.cells)
    console.print(f"{'replaced' if replaced else 'wrote'} baseline {args.out} from {run.path}{mark}: {cells}")
    return 0


def cmd_check(args: argparse.Namespace, console: Console) -> int:
    from harness.audit.run import AUDIT_FILE
    from harness.gate.check import check_run
    from harness.gate.junit import check_junit
    from harness.gate.summary import append_step_summary, check_markdown, print_check

    if (args.run / AUDIT_FILE).is_file():
        return _check_audit(args, console)
    if args.baseline is None:
        raise UserError(f"{args.run}: give the baseline to check the run against: --baseline PATH (written by `glm-eval baseline`)")
    check = check_run(args.run, args.baseline, args.tolerance, args.alpha)
    summary_path = args.summary or args.run / SUMMARY_FILE
    junit_path = args.junit or args.run / JUNIT_FILE
    markdown = check_markdown(check)
    for path, text in ((summary_path, markdown), (junit_path, check_junit(check))):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    written = [summary_path, junit_path]
    if (step_summary := append_step_summary(markdown)) is not None:
        written.append(step_summary)
    print_check(check, console, written)
    return check.exit_code(args.require_conclusive)


def _check_audit(args: argparse.Namespace, console: Console) -> int:
    """Every provider of an audit against its reference: exit 1 when one is worse by more than the tolerance."""
    from harness.audit.gate import check_audit, check_markdown
    from harness.formats import difference_cell, pct
    from harness.gate.summary import append_step_summary

    check = check_audit(args.run, args.tolerance, args.alpha)
    markdown = check_markdown(check)
    summary_path = args.summary or args.run / SUMMARY_FILE
    summary_path.write_text(markdown, encoding="utf-8")
    append_step_summary(markdown)
    view = Table(title=f"Providers against {check.reference}{' (SIMULATED)' if check.simulated else ''}: "
                       f"worse by more than {check.tolerance_pts:g} points fails ({100 * check.level:.1f}% intervals)", title_justify="left")
    for column in ("variant @ provider", "task", "reference %", "provider %", "Δ [interval]", "verdict"):
        view.add_column(column, justify="right" if "%" in column or "Δ" in column else "left")
    for c in check.cells:
        view.add_row(c.model, c.task, pct(c.baseline), pct(c.current), difference_cell(c.delta, c.low, c.high), c.verdict)
    console.print(view)
    for paragraph in markdown.rstrip().split("\n\n")[3:]:  # after the heading, the explanation and the table: the verdict
        console.print(paragraph.replace("**", ""))
    console.print(f"written: {summary_path}")
    return check.exit_code(args.require_conclusive)


def cmd_history(args: argparse.Namespace, console: Console) -> int:
    from harness.formats import accuracy_cell, money, task_name
    from harness.gate.history import gather
    from harness.gate.trend import trend_charts
    from harness.runs import SIMULATED

    found = gather(args.root)
    table = found.table
    out = args.out or args.root / HISTORY_FILE
    out.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(out, index=False)
    charts = trend_charts(table, out.parent, out.stem)
    shown = table.tail(HISTORY_SHOWN)
    part = f" (last {len(shown)} of {len(table)} rows)" if len(shown) < len(table) else ""
    view = Table(title=f"History of {table['run_id'].nunique()} runs under {args.root}{part}")
    for column in ("started", "run", "commit", "provider", "model", "task", "accuracy % [95% CI] (n×k)", "cost"):
        view.add_column(column, justify="right" if column in ("accuracy % [95% CI] (n×k)", "cost") else "left")
    for r in shown.itertuples():
        view.add_row(
            f"{r.started:%Y-%m-%d %H:%M}", str(r.run_id), str(r.git_commit or "-")[:10],
            SIMULATED if r.simulated else str(r.provider), str(r.model), task_name(str(r.task)),
            accuracy_cell(r.accuracy, r.ci_low, r.ci_high, r.n_items, r.k),
            money(r.cost, r.currency) if r.priced_as != "unpriced" else "unpriced",
        )
    console.print(view)
    for reason in found.skipped:
        console.print(f"skipped: {reason}")
    console.print(f"written: {out}, {', '.join(map(str, charts))}")
    return 0
