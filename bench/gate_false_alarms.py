"""False alarms of `glm-eval check`: how often an unchanged model fails the check from noise alone.

Runs the smoke suite (configs/suites/smoke.yaml) against the simulated endpoint with N sampling
seeds and unchanged profiles, makes a baseline of every run, and checks every later run against
every earlier baseline. No pair differs but for sampling noise, so every failed check is a false
alarm. Reported: the share of failed checks (the rate the gate promises to keep at or below
alpha), the same over disjoint pairs only (independent checks), the share of failed cells, what
the rate would be without splitting alpha over the cells, and at tolerance 0 (the worst case, every
cell on its null hypothesis's boundary); plus, per task, the median drop a check rules out (-L),
which is what the smoke suite can see.

    .venv/bin/python bench/gate_false_alarms.py                  # 40 seeds: 780 checks, 10-20 minutes
    .venv/bin/python bench/gate_false_alarms.py --runs 60 --alpha 0.05 --tolerance 1.0
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from common import DATA_DIR, append_result, machine, machine_line  # noqa: E402

from harness.cli import main  # noqa: E402
from harness.gate.baseline import make_baseline, write_baseline  # noqa: E402
from harness.gate.check import Check, check_run  # noqa: E402
from harness.runs import load_run  # noqa: E402
from harness.simproc import simulator  # noqa: E402

SUITE = ROOT / "configs" / "suites" / "smoke.yaml"
TASKS = ["math500", "gpqa_diamond", "aime24"]


def make_runs(n: int, folder: Path, data: Path) -> list[Path]:
    """The smoke suite with seeds 0..n-1, unchanged profiles, answered at once (time scale 0)."""
    runs = []
    with simulator(TASKS, data, 0.0, "sim-key") as url:
        for seed in range(n):
            out = folder / f"seed{seed:03d}"
            code = main(["run", str(SUITE), "--provider", "simulated", "--base-url", url, "--seed", str(seed), "--data-dir", str(data),
                         "--out", str(out), "--store", str(folder / "store.sqlite"), "--concurrency", "8", "--no-stream", "--no-report"])
            if code != 0:
                raise SystemExit(f"run with seed {seed} failed ({code})")
            runs.append(out)
    return runs


def tally(checks: list[Check], alpha: float) -> dict[str, Any]:
    cells = [cell for check in checks for cell in check.cells]
    tasks = sorted({cell.task for cell in cells})
    return {
        "checks": len(checks),
        "failed_checks": sum(check.exit_code() == 1 for check in checks),
        "check_rate": float(np.mean([check.exit_code() == 1 for check in checks])),
        "cell_rate": float(np.mean([cell.verdict == "regressed" for cell in cells])),
        "cell_rate_by_task": {t: float(np.mean([c.verdict == "regressed" for c in cells if c.task == t])) for t in tasks},
        "check_rate_unsplit": float(np.mean([any(c.p_value < alpha for c in check.cells) for check in checks])),
    }


def main_bench() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=40, help="seeds (runs); every pair is checked (default 40: 780 checks)")
    parser.add_argument("--alpha", type=float, default=0.05)
    parser.add_argument("--tolerance", type=float, default=1.0, help="points (default 1.0, the check's default)")
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    args = parser.parse_args()
    info = machine()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="gate-bench-") as tmp:
        folder = Path(tmp)
        runs = make_runs(args.runs, folder, args.data_dir)
        baselines = []
        for run in runs:
            path = folder / "baselines" / f"{run.name}.json"
            write_baseline(make_baseline(load_run(run)), path)
            baselines.append(path)
        pairs = list(combinations(range(len(runs)), 2))
        rows = {}
        for tolerance in (args.tolerance, 0.0):
            checks = {(i, j): check_run(runs[j], baselines[i], tolerance, args.alpha) for i, j in pairs}
            disjoint = [checks[(i, i + 1)] for i in range(0, len(runs) - 1, 2)]
            rows[f"tolerance {tolerance:g}"] = {"all pairs": tally(list(checks.values()), args.alpha),
                                                "disjoint pairs": tally(disjoint, args.alpha)}
            if tolerance == args.tolerance:
                ruled_out = {}
                for check in checks.values():
                    for cell in check.cells:
                        ruled_out.setdefault(cell.task, []).append(-100 * cell.low)
                medians = {task: float(np.median(values)) for task, values in ruled_out.items()}
                verdicts = {}
                for check in checks.values():
                    for cell in check.cells:
                        verdicts[cell.verdict] = verdicts.get(cell.verdict, 0) + 1
    wall = time.monotonic() - started
    print(f"{machine_line(info)}; {args.runs} runs of the smoke suite (simulated), {len(pairs)} checks, {wall:.0f} s")
    print(f"alpha {args.alpha}, split over {len(checks[pairs[0]].cells)} cells")
    for name, groups in rows.items():
        for group, t in groups.items():
            by_task = ", ".join(f"{task} {100 * rate:.2f}%" for task, rate in t["cell_rate_by_task"].items())
            print(f"{name}, {group}: {t['failed_checks']} of {t['checks']} checks failed ({100 * t['check_rate']:.2f}%); "
                  f"cells {100 * t['cell_rate']:.2f}% ({by_task}); without splitting alpha {100 * t['check_rate_unsplit']:.2f}% of checks")
    print(f"verdicts at tolerance {args.tolerance:g}: {verdicts}")
    print("median drop ruled out per check (points): " + ", ".join(f"{task} {value:.1f}" for task, value in medians.items()))
    append_result({"bench": "gate_false_alarms", "machine": info,
                   "params": {"runs": args.runs, "alpha": args.alpha, "tolerance": args.tolerance, "suite": "configs/suites/smoke.yaml"},
                   "rows": rows, "verdicts": verdicts, "median_ruled_out_points": medians, "wall_s": wall})


if __name__ == "__main__":
    main_bench()
